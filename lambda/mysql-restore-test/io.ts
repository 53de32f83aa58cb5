/**
 * The verification job's AWS calls: find snapshots, restore one to a temporary instance, delete temporary instances,
 * read the master secret, and publish the metric. Clients are created once and injectable.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Connection } from 'mysql2/promise';
import { isAlreadyExists, isConflict, isNotFound, isThrottling, isTransient } from '../shared/errors';
import { retry, type RetryOptions } from '../shared/retry';
import * as db from '../mysql-shared/db';
import { endpointOf } from '../mysql-shared/endpoint';
import type { Candidate, MetricValues, Snapshot } from './logic';

export interface Clients {
  readonly rds: RDSClient;
  readonly cloudwatch: CloudWatchClient;
  readonly secrets: SecretsManagerClient;
  /** Opens a MySQL connection (replaced in tests). */
  readonly connect: (options: db.ConnectOptions) => Promise<Connection>;
  readonly observe: (conn: Connection, databases: readonly string[]) => Promise<db.Observation>;
  /** Follows db-replica to the RDS endpoint name, so TLS verification matches the certificate. */
  readonly endpointOf: (name: string) => Promise<string>;
}

let cached: Clients | undefined;
export function defaultClients(): Clients {
  cached ??= { rds: new RDSClient({}), cloudwatch: new CloudWatchClient({}), secrets: new SecretsManagerClient({}), connect: db.connect, observe: db.observe, endpointOf: (n) => endpointOf(n, undefined) };
  return cached;
}

export type Timing = Pick<RetryOptions, 'sleep' | 'now' | 'random'>;
const RETRY = { deadlineMs: 30_000, baseDelayMs: 200, maxDelayMs: 5_000 };
export const VERIFY_TAG = 'resilient-fleet:mysql-verify';

export async function automatedSnapshots(clients: Clients, instanceId: string, timing: Timing = {}): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  let marker: string | undefined;
  do {
    const page = await retry(() => clients.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: instanceId, SnapshotType: 'automated', Marker: marker })), {
      retryable: isTransient,
      ...RETRY,
      ...timing,
    });
    for (const s of page.DBSnapshots ?? []) {
      out.push({ id: s.DBSnapshotIdentifier ?? '', status: s.Status ?? 'unknown', createdAt: s.SnapshotCreateTime ? new Date(s.SnapshotCreateTime) : undefined, instanceId });
    }
    marker = page.Marker;
  } while (marker);
  return out;
}

export interface RestoreSpec {
  readonly id: string;
  readonly snapshotId: string;
  readonly cluster: string;
  readonly instanceClass: string;
  readonly subnetGroup: string;
  readonly securityGroupIds: readonly string[];
  readonly parameterGroup?: string;
}

/** What every restore of a verification copy sets: a throw-away, private, Single-AZ instance tagged for cleanup. */
function temporaryInstance(spec: Omit<RestoreSpec, 'id' | 'snapshotId'>) {
  return {
    DBInstanceClass: spec.instanceClass,
    DBSubnetGroupName: spec.subnetGroup,
    VpcSecurityGroupIds: [...spec.securityGroupIds],
    DBParameterGroupName: spec.parameterGroup,
    MultiAZ: false,
    PubliclyAccessible: false,
    DeletionProtection: false,
    AutoMinorVersionUpgrade: false,
    Tags: [{ Key: VERIFY_TAG, Value: spec.cluster }],
  };
}

/** Sends a restore request with throttling retries; an instance of that id already existing means a re-run. */
async function requestRestore(send: () => Promise<unknown>, timing: Timing): Promise<'requested' | 'already'> {
  try {
    await retry(send, { retryable: isThrottling, ...RETRY, ...timing });
    return 'requested';
  } catch (err) {
    if (isAlreadyExists(err)) return 'already';
    throw err;
  }
}

/** Restores the snapshot to a temporary Single-AZ instance. */
export async function restore(clients: Clients, spec: RestoreSpec, timing: Timing = {}): Promise<'requested' | 'already'> {
  return requestRestore(
    () =>
      clients.rds.send(
        new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: spec.id, DBSnapshotIdentifier: spec.snapshotId, ...temporaryInstance(spec) }),
      ),
    timing,
  );
}

/** Restores the source's latest restorable time (snapshot plus transaction logs) to a temporary Single-AZ instance. */
export async function restoreToPointInTime(clients: Clients, spec: Omit<RestoreSpec, 'snapshotId'> & { readonly sourceId: string }, timing: Timing = {}): Promise<'requested' | 'already'> {
  return requestRestore(
    () =>
      clients.rds.send(
        new RestoreDBInstanceToPointInTimeCommand({
          SourceDBInstanceIdentifier: spec.sourceId,
          TargetDBInstanceIdentifier: spec.id,
          UseLatestRestorableTime: true,
          ...temporaryInstance(spec),
        }),
      ),
    timing,
  );
}

export interface Described {
  readonly status: string;
  readonly address?: string;
  readonly port?: number;
  /** The newest moment a point-in-time restore can reach (transaction logs backed up until then). */
  readonly latestRestorableTime?: Date;
}

export async function describe(clients: Clients, id: string, timing: Timing = {}): Promise<Described | undefined> {
  try {
    const out = await retry(() => clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })), { retryable: isThrottling, ...RETRY, ...timing });
    const d = out.DBInstances?.[0];
    return d
      ? { status: d.DBInstanceStatus ?? 'unknown', address: d.Endpoint?.Address, port: d.Endpoint?.Port, latestRestorableTime: d.LatestRestorableTime ? new Date(d.LatestRestorableTime) : undefined }
      : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Every instance with its verify tag (for the cleanup sweep). */
export async function verifyCandidates(clients: Clients, timing: Timing = {}): Promise<Candidate[]> {
  const out: Candidate[] = [];
  let marker: string | undefined;
  do {
    const page = await retry(() => clients.rds.send(new DescribeDBInstancesCommand({ Marker: marker, MaxRecords: 100 })), { retryable: isTransient, ...RETRY, ...timing });
    for (const d of page.DBInstances ?? []) {
      out.push({ id: d.DBInstanceIdentifier ?? '', status: d.DBInstanceStatus ?? 'unknown', verifyTag: d.TagList?.find((t) => t.Key === VERIFY_TAG)?.Value });
    }
    marker = page.Marker;
  } while (marker);
  return out;
}

/** Deletes a temporary instance without a final snapshot; gone or already deleting counts as done. */
export async function deleteTemporary(clients: Clients, id: string, timing: Timing = {}): Promise<'requested' | 'gone'> {
  try {
    await retry(() => clients.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true })), {
      retryable: isThrottling,
      ...RETRY,
      ...timing,
    });
    return 'requested';
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) return 'gone';
    throw err;
  }
}

export async function masterCredentials(clients: Clients, secretId: string, timing: Timing = {}): Promise<{ username: string; password: string }> {
  // A missing secret is a wrong configuration, not a consistency delay: not retried.
  const out = await retry(() => clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId })), { retryable: (e) => isTransient(e) && !isNotFound(e), ...RETRY, ...timing });
  const parsed = JSON.parse(out.SecretString ?? '{}') as { username?: string; password?: string };
  if (!parsed.username || !parsed.password) throw new Error(`secret ${secretId} lacks username or password`);
  return { username: parsed.username, password: parsed.password };
}

export const NAMESPACE = 'ResilientFleet/MySQL';

export async function publish(clients: Clients, cluster: string, values: MetricValues, timing: Timing = {}): Promise<void> {
  const dims = [{ Name: 'Cluster', Value: cluster }];
  const data = [
    { MetricName: 'BackupVerified', Dimensions: dims, Value: values.verified, Unit: 'Count' as const },
    { MetricName: 'BackupVerificationFailures', Dimensions: dims, Value: values.failures, Unit: 'Count' as const },
    ...(values.ageHours !== undefined ? [{ MetricName: 'VerifiedBackupAgeHours', Dimensions: dims, Value: values.ageHours, Unit: 'None' as const }] : []),
  ];
  await retry(() => clients.cloudwatch.send(new PutMetricDataCommand({ Namespace: NAMESPACE, MetricData: data })), { retryable: isTransient, ...RETRY, ...timing });
}
