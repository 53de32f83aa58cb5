/**
 * Name follower: keeps db-master.<cluster> and db-replica.<cluster> (CNAMEs in a private hosted zone) pointing at the
 * current writer and a serving replica. Woken by RDS DB instance events (failover, creation, deletion, read replica,
 * availability, recovery, notification) and by a schedule; every wake-up recomputes both names from DescribeDBInstances,
 * so duplicated, late or lost events change nothing twice and are repaired by the next one.
 */
import { createLogger, type Logger } from '../shared/log';
import * as io from './io';
import { decideNames, planChanges } from './logic';

export interface FollowerConfig {
  readonly cluster: string;
  readonly zoneId: string;
  readonly masterName: string;
  readonly replicaName: string;
  readonly ttl: number;
}

export interface Deps {
  readonly clients?: () => io.Clients;
  readonly config?: () => FollowerConfig;
  readonly timing?: io.Timing;
  readonly logger?: Logger;
}

export interface Outcome {
  readonly trigger: string;
  readonly changed: readonly string[];
  readonly master?: string;
  readonly replica?: string;
  readonly notes: readonly string[];
}

/** Event categories that can move a name. Backups, parameter changes and the like are ignored. */
export const RELEVANT_CATEGORIES = ['failover', 'creation', 'deletion', 'read replica', 'availability', 'recovery', 'notification', 'restoration', 'maintenance'];

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): FollowerConfig {
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`mysql-name-follower: environment variable ${k} is not set`);
    return v;
  };
  const ttl = Number(need('RECORD_TTL'));
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 60) throw new Error(`mysql-name-follower: RECORD_TTL must be 0 to 60 seconds, got ${env.RECORD_TTL}`);
  return { cluster: need('CLUSTER_NAME'), zoneId: need('HOSTED_ZONE_ID').replace(/^\/?hostedzone\//, ''), masterName: need('MASTER_NAME'), replicaName: need('REPLICA_NAME'), ttl };
}

/** The trigger: 'sweep', an RDS event's id and source, or undefined for events this hook ignores. */
export function parseTrigger(event: unknown): string | undefined {
  const e = (event ?? {}) as { source?: string; 'detail-type'?: string; detail?: { EventCategories?: unknown; EventID?: unknown; SourceIdentifier?: unknown } };
  if (e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event') return 'sweep';
  if (e.source === 'resilient-fleet.mysql' || (event as { trigger?: string })?.trigger === 'manual') return 'manual';
  if (e.source !== 'aws.rds' || e['detail-type'] !== 'RDS DB Instance Event') return undefined;
  const categories = Array.isArray(e.detail?.EventCategories) ? (e.detail!.EventCategories as unknown[]).map(String) : [];
  if (!categories.some((c) => RELEVANT_CATEGORIES.includes(c))) return undefined;
  const source = String(e.detail?.SourceIdentifier ?? '').replace(/^rds:/, '');
  return `${String(e.detail?.EventID ?? 'RDS event')} ${source}`.trim();
}

export function createHandler(deps: Deps = {}) {
  const logger = deps.logger ?? createLogger('mysql-name-follower');
  const clientsOf = deps.clients ?? io.defaultClients;
  const configOf = deps.config ?? (() => configFromEnv());
  return async function handler(event: unknown): Promise<Outcome> {
    const config = configOf();
    const trigger = parseTrigger(event);
    if (!trigger) return { trigger: 'ignored', changed: [], notes: ['event not relevant to the names'] };
    const clients = clientsOf();
    const timing = deps.timing ?? {};
    const members = await io.describeMembers(clients, config.cluster, timing);
    const current = {
      master: await io.readCname(clients, config.zoneId, config.masterName, timing),
      replica: await io.readCname(clients, config.zoneId, config.replicaName, timing),
    };
    const desired = decideNames(members, { master: current.master?.value, replica: current.replica?.value });
    const changes = planChanges({ master: config.masterName, replica: config.replicaName }, current, desired, config.ttl);
    await io.upsert(clients, config.zoneId, changes, `resilient-fleet mysql-name-follower: ${trigger}`, timing);
    const outcome: Outcome = { trigger, changed: changes.map((c) => c.name), master: desired.master, replica: desired.replica, notes: desired.notes };
    logger.info(changes.length ? 'names changed' : 'names already right', { ...outcome, masterId: desired.masterId, replicaId: desired.replicaId, members: members.length });
    return outcome;
  };
}

export const handler = createHandler();
