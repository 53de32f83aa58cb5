/**
 * Promotion hook: one step of the promotion runbook per invocation, called by the construct's Step Functions state
 * machine with `{ step, state }`. Each step is idempotent (see logic.ts): starting the state machine again after a
 * failure half-way repeats nothing that already happened.
 */
import { createLogger, type Logger } from '../shared/log';
import * as io from './io';
import { choosePlan, createReplicaAction, isReady, needsMultiAz, promoteAction, replicaIdFor, type Plan } from './logic';

export interface PromotionConfig {
  readonly cluster: string;
  readonly zoneId: string;
  readonly masterName: string;
  readonly replicaName: string;
  readonly ttl: number;
  readonly replicaClass: string;
  readonly securityGroupIds: readonly string[];
  readonly parameterGroup?: string;
  readonly backupRetentionDays: number;
  readonly multiAz: boolean;
  readonly where: io.Where;
}

export type Step =
  | 'plan'
  | 'promote'
  | 'awaitPromoted'
  | 'retag'
  | 'moveMaster'
  | 'makeMultiAz'
  | 'awaitAvailable'
  | 'createReplica'
  | 'awaitReplica'
  | 'moveReplica';

export interface PromotionState {
  readonly plan?: Plan;
  readonly newReplica?: string;
  /** For the await steps: true when the state machine may go on. */
  readonly ready?: boolean;
  readonly done?: string[];
}

export interface StepEvent {
  readonly step: Step;
  /** Optional: the replica to promote (first call only). */
  readonly replica?: string;
  readonly state?: PromotionState;
}

export interface Deps {
  readonly clients?: () => io.Clients;
  readonly config?: () => PromotionConfig;
  readonly timing?: io.Timing;
  readonly logger?: Logger;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): PromotionConfig {
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`mysql-promotion: environment variable ${k} is not set`);
    return v;
  };
  return {
    cluster: need('CLUSTER_NAME'),
    zoneId: need('HOSTED_ZONE_ID').replace(/^\/?hostedzone\//, ''),
    masterName: need('MASTER_NAME'),
    replicaName: need('REPLICA_NAME'),
    ttl: Number(need('RECORD_TTL')),
    replicaClass: need('REPLICA_CLASS'),
    securityGroupIds: need('SECURITY_GROUP_IDS').split(',').filter(Boolean),
    parameterGroup: env.PARAMETER_GROUP || undefined,
    backupRetentionDays: Number(need('BACKUP_RETENTION_DAYS')),
    multiAz: env.MULTI_AZ !== 'false',
    where: { region: need('AWS_REGION'), account: need('ACCOUNT_ID'), partition: env.PARTITION ?? 'aws' },
  };
}

const STEPS: readonly Step[] = ['plan', 'promote', 'awaitPromoted', 'retag', 'moveMaster', 'makeMultiAz', 'awaitAvailable', 'createReplica', 'awaitReplica', 'moveReplica'];

export function createHandler(deps: Deps = {}) {
  const logger = deps.logger ?? createLogger('mysql-promotion');
  const clientsOf = deps.clients ?? io.defaultClients;
  const configOf = deps.config ?? (() => configFromEnv());

  return async function handler(event: StepEvent): Promise<PromotionState> {
    if (!event || !STEPS.includes(event.step)) throw new Error(`mysql-promotion: unknown step ${JSON.stringify(event?.step)}; one of ${STEPS.join(', ')}`);
    const config = configOf();
    const clients = clientsOf();
    const timing = deps.timing ?? {};
    const state: PromotionState = event.state ?? {};
    const done = [...(state.done ?? [])];
    const mark = (note: string): PromotionState => {
      logger.info(note, { step: event.step, plan: state.plan });
      return { ...state, ready: undefined, done: [...done, `${event.step}: ${note}`] };
    };
    const plan = (): Plan => {
      if (!state.plan) throw new Error(`mysql-promotion: step ${event.step} needs the plan from step "plan"`);
      return state.plan;
    };

    switch (event.step) {
      case 'plan': {
        const members = await io.describeMembers(clients, config.cluster, timing);
        const chosen = choosePlan(config.cluster, members, event.replica);
        if (!chosen.ok) throw new Error(`mysql-promotion: ${chosen.reason}`);
        // Mark the choice in RDS itself, so a re-run (a new execution) continues with the same instance.
        await io.tagPromotion(clients, config.where, chosen.plan.target, config.cluster, 'in-progress', timing);
        return { ...state, plan: chosen.plan, done: [...done, `plan: promote ${chosen.plan.target}${chosen.plan.oldPrimary ? ` in place of ${chosen.plan.oldPrimary}` : ''}`] };
      }
      case 'promote': {
        const target = await io.describeInstance(clients, plan().target, timing);
        const action = promoteAction(target);
        if (action === 'missing') throw new Error(`mysql-promotion: ${plan().target} does not exist`);
        if (action !== 'promote') return mark(action);
        return mark(await io.promote(clients, plan().target, config.backupRetentionDays, timing));
      }
      case 'awaitPromoted': {
        const target = await io.describeInstance(clients, plan().target, timing);
        // A replica that was backing up (or busy otherwise) when the promote step ran is promoted once it is available.
        if (promoteAction(target) === 'promote') {
          await io.promote(clients, plan().target, config.backupRetentionDays, timing);
          return { ...state, ready: false, done: [...done, 'awaitPromoted: promotion requested now that the replica is available'] };
        }
        return { ...state, ready: isReady(target, true) };
      }
      case 'retag': {
        await io.tagRole(clients, config.where, plan().target, config.cluster, 'primary', timing);
        const old = plan().oldPrimary;
        // The old primary may be gone (deleted, or deleted between the describe and the tag): nothing left to retire.
        const retired = old && (await io.describeInstance(clients, old, timing)) ? await io.tagRoleIfExists(clients, config.where, old, config.cluster, 'retired', timing) : 'gone';
        return mark(`tagged ${plan().target} primary${old ? (retired === 'tagged' ? `, ${old} retired` : `, ${old} gone`) : ''}`);
      }
      case 'moveMaster': {
        const target = await io.describeInstance(clients, plan().target, timing);
        if (!target?.address) throw new Error(`mysql-promotion: ${plan().target} has no endpoint yet`);
        const current = await io.readCname(clients, config.zoneId, config.masterName, timing);
        const replicaNow = await io.readCname(clients, config.zoneId, config.replicaName, timing);
        const changes = [];
        if (current?.value.replace(/\.$/, '') !== target.address || current.ttl !== config.ttl) changes.push({ name: config.masterName, value: target.address, ttl: config.ttl });
        // Until the fresh replica is up, reads go to the new primary rather than to the promoted (gone) replica name.
        if (replicaNow?.value.replace(/\.$/, '') !== target.address && !state.newReplica) changes.push({ name: config.replicaName, value: target.address, ttl: config.ttl });
        await io.upsert(clients, config.zoneId, changes, `resilient-fleet promotion: db-master -> ${plan().target}`, timing);
        return mark(changes.length ? `moved ${changes.map((c) => c.name).join(', ')} to ${target.address}` : 'names already right');
      }
      case 'makeMultiAz': {
        const target = await io.describeInstance(clients, plan().target, timing);
        if (!needsMultiAz(target, config.multiAz)) return mark('already as wanted');
        return mark(await io.enableMultiAz(clients, plan().target, timing));
      }
      case 'awaitAvailable':
        return { ...state, ready: isReady(await io.describeInstance(clients, plan().target, timing), true) };
      case 'createReplica': {
        const id = replicaIdFor(config.cluster, plan().target);
        const action = createReplicaAction(await io.describeInstance(clients, id, timing), plan().target);
        if (action === 'conflict') throw new Error(`mysql-promotion: an instance named ${id} exists and is not a replica of ${plan().target}`);
        if (action === 'exists') return { ...mark('exists'), newReplica: id };
        const result = await io.createReplica(
          clients,
          { id, sourceId: plan().target, cluster: config.cluster, instanceClass: config.replicaClass, securityGroupIds: config.securityGroupIds, parameterGroup: config.parameterGroup },
          timing,
        );
        return { ...mark(result), newReplica: id };
      }
      case 'awaitReplica': {
        if (!state.newReplica) throw new Error('mysql-promotion: awaitReplica needs newReplica from createReplica');
        return { ...state, ready: isReady(await io.describeInstance(clients, state.newReplica, timing), false) };
      }
      case 'moveReplica': {
        if (!state.newReplica) throw new Error('mysql-promotion: moveReplica needs newReplica from createReplica');
        const replica = await io.describeInstance(clients, state.newReplica, timing);
        if (!replica?.address) throw new Error(`mysql-promotion: ${state.newReplica} has no endpoint yet`);
        const current = await io.readCname(clients, config.zoneId, config.replicaName, timing);
        const right = current?.value.replace(/\.$/, '') === replica.address && current.ttl === config.ttl;
        if (!right) {
          await io.upsert(clients, config.zoneId, [{ name: config.replicaName, value: replica.address, ttl: config.ttl }], `resilient-fleet promotion: db-replica -> ${state.newReplica}`, timing);
        }
        // Last: the promotion is finished, so a later execution starts a new one instead of resuming this one.
        await io.tagPromotion(clients, config.where, plan().target, config.cluster, 'done', timing);
        return mark(right ? 'db-replica already right; promotion done' : `moved db-replica to ${replica.address}; promotion done`);
      }
    }
  };
}

export const handler = createHandler();
