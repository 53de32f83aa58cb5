/**
 * LeaderElection hook. Invoked by EventBridge for the group's "EC2 Instance Launch Successful" and
 * "EC2 Instance-terminate Lifecycle Action" events and by a schedule (the sweep, which repairs anything a
 * lost event left behind). Parses the event, reads the ledger and the group (io), decides (logic), writes the
 * ledger conditionally and makes EC2 and Auto Scaling reflect it (io).
 */
import { createLogger, type Logger } from '../shared/log';
import {
  abandonRun,
  completeLifecycleAction,
  defaultClients,
  describeGroup,
  queryRunningRuns,
  readLeader,
  setProtection,
  tagLeader,
  untag,
  writeLeader,
  type Clients,
  type IoTiming,
} from './io';
import { decideAbandon, decideElection, deriveEffects, type LeaderRecord, type Trigger } from './logic';

export interface HookConfig {
  readonly tableName: string;
  readonly groupName: string;
  readonly hookName: string;
  readonly tagKey: string;
  readonly protectLeader: boolean;
  /** A RUNNING run whose owner left the group is abandoned after this long. */
  readonly abandonGraceMs: number;
}

export interface Deps {
  readonly clients: Clients;
  readonly config: HookConfig;
  readonly timing?: IoTiming;
  readonly log?: Logger;
}

/** The parts of an EventBridge event this hook reads. */
export interface HookEvent {
  readonly source?: string;
  readonly 'detail-type'?: string;
  readonly detail?: Record<string, unknown>;
}

export interface HookResult {
  readonly trigger: Trigger['kind'] | 'ignored';
  readonly leader?: string;
  readonly term?: number;
  readonly wrote: boolean;
  readonly reason: string;
  readonly lifecycle?: 'completed' | 'no-active-action';
  readonly abandoned?: string[];
}

const MAX_ROUNDS = 8;

type Parsed =
  | { readonly trigger: Trigger; readonly token?: string; readonly hookName?: string }
  | { readonly ignore: string };

/** Validates the event and turns it into a trigger; anything else is ignored with a reason. */
export function parseEvent(event: HookEvent, config: HookConfig): Parsed {
  const type = event['detail-type'];
  if (event.source === 'aws.events' && type === 'Scheduled Event') return { trigger: { kind: 'sweep' } };
  if (event.source !== 'aws.autoscaling') return { ignore: `unexpected source ${String(event.source)}` };
  const detail = event.detail ?? {};
  const group = detail.AutoScalingGroupName;
  if (group !== config.groupName) return { ignore: `event for another group (${String(group)})` };
  const instanceId = detail.EC2InstanceId;
  if (typeof instanceId !== 'string' || !/^i-[0-9a-f]+$/.test(instanceId)) return { ignore: `no valid EC2InstanceId (${String(instanceId)})` };
  if (type === 'EC2 Instance Launch Successful') return { trigger: { kind: 'launch', instanceId } };
  if (type === 'EC2 Instance-terminate Lifecycle Action') {
    const hookName = typeof detail.LifecycleHookName === 'string' ? detail.LifecycleHookName : undefined;
    if (hookName !== config.hookName) return { ignore: `another lifecycle hook (${String(hookName)})` };
    return {
      trigger: { kind: 'terminate', instanceId, final: detail.Destination !== 'WarmPool' },
      token: typeof detail.LifecycleActionToken === 'string' ? detail.LifecycleActionToken : undefined,
      hookName,
    };
  }
  return { ignore: `unexpected detail-type ${String(type)}` };
}

/** Handles one event; safe to run twice, and concurrently with other invocations. */
export async function handle(event: HookEvent, deps: Deps): Promise<HookResult> {
  const { clients: c, config, timing: t } = deps;
  const log = deps.log ?? createLogger('leader');
  const now = t?.now ?? Date.now;
  const parsed = parseEvent(event, config);
  if ('ignore' in parsed) {
    log.warn('ignored event', { reason: parsed.ignore, detailType: event['detail-type'] });
    return { trigger: 'ignored', wrote: false, reason: parsed.ignore };
  }
  const trigger = parsed.trigger;
  let lifecycle: HookResult['lifecycle'];
  let failure: unknown;
  let result: Omit<HookResult, 'lifecycle' | 'abandoned'> = { trigger: trigger.kind, wrote: false, reason: 'not decided' };
  try {
    result = await elect(trigger, deps, log, now);
  } catch (err) {
    failure = err;
    log.error('election failed; the sweep or an EventBridge retry repairs it', { error: err as Error, trigger });
  }
  if (trigger.kind === 'terminate') {
    // Always let the instance go, even when the handover failed: the sweep elects a leader later.
    try {
      lifecycle = await completeLifecycleAction(c, config.groupName, config.hookName, trigger.instanceId, parsed.token, t);
      log.info('lifecycle action completed', { instanceId: trigger.instanceId, lifecycle });
    } catch (err) {
      failure ??= err;
      log.error('could not complete the lifecycle action; it continues at its heartbeat timeout', { error: err as Error });
    }
  }
  let abandoned: string[] | undefined;
  if (trigger.kind === 'sweep' && failure === undefined) {
    abandoned = await sweepRuns(deps, log, now());
  }
  if (failure !== undefined) throw failure;
  return { ...result, lifecycle, abandoned };
}

async function elect(trigger: Trigger, deps: Deps, log: Logger, now: () => number): Promise<Omit<HookResult, 'lifecycle' | 'abandoned'>> {
  const { clients: c, config, timing: t } = deps;
  const waitFor = trigger.kind === 'launch' ? trigger.instanceId : undefined;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const record = await readLeader(c, config.tableName, config.groupName, t);
    const group = await describeGroup(c, config.groupName, round === 1 ? waitFor : undefined, t);
    const decision = decideElection({ record, group, trigger, now: now() });
    let after: LeaderRecord | undefined = record;
    if (decision.next) {
      const won = await writeLeader(c, config.tableName, config.groupName, decision.next, record?.version ?? 0, t);
      if (!won) {
        log.info('ledger changed under us; reading again', { round });
        continue;
      }
      after = decision.next;
      log.info('ledger written', { reason: decision.reason, term: after.term, leader: after.leader ?? null, version: after.version });
    } else {
      log.info('ledger unchanged', { reason: decision.reason });
    }
    const effects = deriveEffects({ record: after, before: record?.leader, group, trigger, protectLeader: config.protectLeader });
    // Untag the departing leader before tagging the new one: for a moment no instance carries the tag, never two.
    await untag(c, effects.untag, config.tagKey, t);
    if (effects.tag) await tagLeader(c, effects.tag.instanceId, config.tagKey, effects.tag.term, t);
    await setProtection(c, config.groupName, effects.protect, true, t);
    await setProtection(c, config.groupName, effects.unprotect, false, t);
    if (effects.protect.length + effects.unprotect.length + effects.untag.length > 0) log.info('effects applied', { ...effects });
    return { trigger: trigger.kind, leader: after?.leader, term: after?.term, wrote: decision.next !== undefined, reason: decision.reason };
  }
  throw new Error(`the ledger kept changing for ${MAX_ROUNDS} rounds; giving up this invocation`);
}

async function sweepRuns(deps: Deps, log: Logger, now: number): Promise<string[]> {
  const { clients: c, config, timing: t } = deps;
  const runs = await queryRunningRuns(c, config.tableName, config.groupName, t);
  if (runs.length === 0) return [];
  const group = await describeGroup(c, config.groupName, undefined, t);
  const members = new Set(group.members.map((m) => m.instanceId));
  const abandoned: string[] = [];
  for (const a of decideAbandon({ runs, members, now, graceMs: config.abandonGraceMs })) {
    if (await abandonRun(c, config.tableName, config.groupName, a.key, a.attempt, now, t)) {
      abandoned.push(a.key);
      log.warn('run abandoned: its instance left the group; a later attempt may claim it', { ...a });
    }
  }
  return abandoned;
}

/** Reads the configuration the construct puts in the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HookConfig {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`environment variable ${name} is not set`);
    return v;
  };
  return {
    tableName: need('TABLE_NAME'),
    groupName: need('GROUP_NAME'),
    hookName: need('HOOK_NAME'),
    tagKey: need('TAG_KEY'),
    protectLeader: env.PROTECT_LEADER !== 'false',
    abandonGraceMs: Number(env.ABANDON_GRACE_MS ?? 300_000),
  };
}

export const handler = async (event: HookEvent): Promise<HookResult> =>
  handle(event, { clients: defaultClients(), config: configFromEnv() });
