/**
 * Backup verification: one step per invocation, called by the construct's Step Functions state machine on a schedule:
 *   start (restore the latest restorable time, or the newest automated snapshot, to a temporary instance) -> await
 *   -> check (the checks of checks.ts against the restored copy, row counts against db-replica) -> cleanup (delete every
 *   temporary instance, always, also after a failure) -> report (the BackupVerified metric, 1 or 0).
 */
import { createLogger, type Logger } from '../shared/log';
import { evaluate, type Failure } from './checks';
import * as io from './io';
import { describeMembers } from '../mysql-shared/aws';
import { currentPrimary, hoursSince, latestSnapshot, metricValues, pointInTimeKey, snapshotAgeHours, tempInstanceId, toDelete, type RestoreSource } from './logic';

export interface VerifyConfig {
  readonly cluster: string;
  readonly primaryId: string;
  readonly databases: readonly string[];
  readonly instanceClass: string;
  readonly subnetGroup: string;
  readonly securityGroupIds: readonly string[];
  readonly parameterGroup?: string;
  readonly masterSecretArn: string;
  /** db-replica's name: the live reference for row counts. */
  readonly referenceHost: string;
  readonly port: number;
  readonly tolerancePercent: number;
  readonly toleranceRows: number;
  readonly maxSnapshotAgeHours: number;
  /** Restore the latest restorable time (snapshot and transaction logs), or the newest automated snapshot. */
  readonly source: RestoreSource;
  /** Point in time: fail when the latest restorable time is older than this (transaction log backups stopped). */
  readonly maxRestorableAgeHours: number;
}

export type Step = 'start' | 'await' | 'check' | 'cleanup' | 'report';

/** Polls in a row that may find no temporary instance before the await step calls it gone (RDS shows a new one within seconds). */
export const MISSING_POLLS = 10;

export interface VerifyState {
  readonly snapshotId?: string;
  /** Point in time: the source and the time restored. */
  readonly restoredFrom?: string;
  readonly tempId?: string;
  readonly ageHours?: number;
  readonly ready?: boolean;
  /** The await step: how many polls in a row found no temporary instance. */
  readonly missingPolls?: number;
  readonly passed?: boolean;
  readonly failures?: readonly Failure[];
  readonly deleted?: readonly string[];
  /** Set by the state machine's Catch: the step that failed and why. */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

export interface StepEvent {
  readonly step: Step;
  readonly state?: VerifyState;
}

export interface Deps {
  readonly clients?: () => io.Clients;
  readonly config?: () => VerifyConfig;
  readonly timing?: io.Timing;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): VerifyConfig {
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`mysql-restore-test: environment variable ${k} is not set`);
    return v;
  };
  return {
    cluster: need('CLUSTER_NAME'),
    primaryId: need('PRIMARY_ID'),
    databases: need('DATABASES').split(',').filter(Boolean),
    instanceClass: need('INSTANCE_CLASS'),
    subnetGroup: need('SUBNET_GROUP'),
    securityGroupIds: need('SECURITY_GROUP_IDS').split(',').filter(Boolean),
    parameterGroup: env.PARAMETER_GROUP || undefined,
    masterSecretArn: need('MASTER_SECRET_ARN'),
    referenceHost: need('REFERENCE_HOST'),
    port: Number(env.DB_PORT ?? '3306'),
    tolerancePercent: Number(env.TOLERANCE_PERCENT ?? '10'),
    toleranceRows: Number(env.TOLERANCE_ROWS ?? '100'),
    maxSnapshotAgeHours: Number(env.MAX_SNAPSHOT_AGE_HOURS ?? '36'),
    source: env.RESTORE_SOURCE === 'snapshot' ? 'snapshot' : 'point-in-time',
    maxRestorableAgeHours: Number(env.MAX_RESTORABLE_AGE_HOURS ?? '1'),
  };
}

export function createHandler(deps: Deps = {}) {
  const logger = deps.logger ?? createLogger('mysql-restore-test');
  const clientsOf = deps.clients ?? io.defaultClients;
  const configOf = deps.config ?? (() => configFromEnv());
  const now = deps.now ?? (() => new Date());

  return async function handler(event: StepEvent): Promise<VerifyState> {
    const config = configOf();
    const clients = clientsOf();
    const timing = deps.timing ?? {};
    const state: VerifyState = event?.state ?? {};
    switch (event?.step) {
      case 'start': {
        // After a promotion the primary is another instance: the one tagged primary, else the one the stack created.
        const members = await describeMembers(clients, config.cluster, timing);
        const primaryId = currentPrimary(members) ?? config.primaryId;
        const target = { cluster: config.cluster, instanceClass: config.instanceClass, subnetGroup: config.subnetGroup, securityGroupIds: config.securityGroupIds, parameterGroup: config.parameterGroup };
        if (config.source === 'point-in-time') {
          const source = await io.describe(clients, primaryId, timing);
          if (!source?.latestRestorableTime) throw new Error(`mysql-restore-test: ${primaryId} reports no latest restorable time (automated backups off?)`);
          const ageHours = hoursSince(source.latestRestorableTime, now());
          if (ageHours > config.maxRestorableAgeHours) {
            throw new Error(`mysql-restore-test: latest restorable time of ${primaryId} is ${ageHours.toFixed(1)} h old (limit ${config.maxRestorableAgeHours} h): transaction log backups have stopped`);
          }
          const tempId = tempInstanceId(config.cluster, pointInTimeKey(primaryId, now()));
          const result = await io.restoreToPointInTime(clients, { ...target, id: tempId, sourceId: primaryId }, timing);
          const restoredFrom = `${primaryId} at ${source.latestRestorableTime.toISOString()}`;
          logger.info('point-in-time restore started', { restoredFrom, tempId, result, ageHours });
          return { restoredFrom, tempId, ageHours };
        }
        const snapshot = latestSnapshot(await io.automatedSnapshots(clients, primaryId, timing));
        if (!snapshot) throw new Error(`mysql-restore-test: no available automated snapshot of ${primaryId}`);
        const ageHours = snapshotAgeHours(snapshot, now());
        if (ageHours > config.maxSnapshotAgeHours) throw new Error(`mysql-restore-test: newest snapshot ${snapshot.id} is ${ageHours.toFixed(1)} h old (limit ${config.maxSnapshotAgeHours} h): backups have stopped`);
        const tempId = tempInstanceId(config.cluster, snapshot.id);
        const result = await io.restore(clients, { ...target, id: tempId, snapshotId: snapshot.id }, timing);
        logger.info('restore started', { snapshot: snapshot.id, tempId, result, ageHours });
        return { snapshotId: snapshot.id, tempId, ageHours };
      }
      case 'await': {
        if (!state.tempId) throw new Error('mysql-restore-test: await needs tempId');
        const d = await io.describe(clients, state.tempId, timing);
        if (!d) {
          // RDS answers 404 DBInstanceNotFound for a while after a restore request (eventual consistency): not ready yet.
          // Only an instance missing for MISSING_POLLS polls in a row is gone (deleted under us); then the step fails and
          // the machine's Catch cleans up and reports, so the next run starts over.
          const missingPolls = (state.missingPolls ?? 0) + 1;
          if (missingPolls >= MISSING_POLLS) throw new Error(`mysql-restore-test: temporary instance ${state.tempId} disappeared (not found ${missingPolls} polls in a row)`);
          logger.info('temporary instance not visible yet', { tempId: state.tempId, missingPolls });
          return { ...state, ready: false, missingPolls };
        }
        if (d.status === 'failed' || d.status === 'incompatible-restore' || d.status === 'incompatible-parameters') throw new Error(`mysql-restore-test: restore ended in status ${d.status}`);
        return { ...state, ready: d.status === 'available' && !!d.address, missingPolls: undefined };
      }
      case 'check': {
        if (!state.tempId) throw new Error('mysql-restore-test: check needs tempId');
        const d = await io.describe(clients, state.tempId, timing);
        if (!d?.address) throw new Error(`mysql-restore-test: ${state.tempId} has no endpoint`);
        const creds = await io.masterCredentials(clients, config.masterSecretArn, timing);
        const restoredConn = await clients.connect({ host: d.address, port: d.port ?? config.port, user: creds.username, password: creds.password, tls: true });
        let restored;
        try {
          restored = await clients.observe(restoredConn, config.databases);
        } finally {
          await restoredConn.end().catch(() => undefined);
        }
        const referenceHost = await clients.endpointOf(config.referenceHost);
        const referenceConn = await clients.connect({ host: referenceHost, port: config.port, user: creds.username, password: creds.password, tls: true });
        let reference;
        try {
          reference = await clients.observe(referenceConn, config.databases);
        } finally {
          await referenceConn.end().catch(() => undefined);
        }
        const verdict = evaluate({
          expectedDatabases: config.databases,
          ...restored,
          referenceCounts: reference.rowCounts,
          tolerancePercent: config.tolerancePercent,
          toleranceRows: config.toleranceRows,
        });
        logger.info(verdict.ok ? 'backup verified' : 'backup verification failed', { tempId: state.tempId, snapshot: state.snapshotId, ...verdict });
        return { ...state, passed: verdict.ok, failures: verdict.failures };
      }
      case 'cleanup': {
        const ids = toDelete(await io.verifyCandidates(clients, timing), config.cluster);
        for (const id of ids) await io.deleteTemporary(clients, id, timing);
        logger.info('temporary instances deleted', { ids });
        return { ...state, deleted: ids };
      }
      case 'report': {
        const passed = state.passed === true && !state.error;
        const failures = state.failures?.length ?? 0;
        await io.publish(clients, config.cluster, metricValues(passed, failures, state.ageHours), timing);
        if (!passed) logger.error('backup not verified', { error: state.error, failures: state.failures, snapshot: state.snapshotId });
        return { ...state, passed };
      }
      default:
        throw new Error(`mysql-restore-test: unknown step ${JSON.stringify((event as { step?: unknown })?.step)}`);
    }
  };
}

export const handler = createHandler();
