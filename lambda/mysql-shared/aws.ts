/**
 * AWS calls shared by the MySQL hooks (name follower, promotion): list the cluster's DB instances (by tag), describe one,
 * and read and UPSERT CNAMEs. RDS and Route 53 throttling (and Route 53's PriorRequestNotComplete) are retried with
 * backoff and a deadline; clients are injectable.
 */
import { DescribeDBInstancesCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { isNotFound, isThrottling, isTransient } from '../shared/errors';
import { retry, type RetryOptions } from '../shared/retry';
import type { DbInstance, RecordChange } from './instances';

export interface Clients {
  readonly rds: RDSClient;
  readonly route53: Route53Client;
}

let cached: Clients | undefined;
export function defaultClients(): Clients {
  cached ??= { rds: new RDSClient({}), route53: new Route53Client({}) };
  return cached;
}

export type Timing = Pick<RetryOptions, 'sleep' | 'now' | 'random' | 'onRetry'>;

const RETRY = { deadlineMs: 30_000, baseDelayMs: 200, maxDelayMs: 5_000 };

export const MEMBER_TAG = 'resilient-fleet:mysql-cluster';
export const ROLE_TAG = 'resilient-fleet:mysql-role';
export const PROMOTION_TAG = 'resilient-fleet:mysql-promotion';

export function toInstance(d: DBInstance): DbInstance {
  const role = d.TagList?.find((t) => t.Key === ROLE_TAG)?.Value;
  const promotion = d.TagList?.find((t) => t.Key === PROMOTION_TAG)?.Value;
  return {
    id: d.DBInstanceIdentifier ?? '',
    status: d.DBInstanceStatus ?? 'unknown',
    address: d.Endpoint?.Address,
    replicaSource: d.ReadReplicaSourceDBInstanceIdentifier || undefined,
    role,
    promotion,
    multiAz: d.MultiAZ,
    port: d.Endpoint?.Port,
  };
}

/** One DB instance, or undefined when RDS says it does not exist. */
export async function describeInstance(clients: Pick<Clients, 'rds'>, id: string, timing: Timing = {}): Promise<DbInstance | undefined> {
  try {
    const out = await retry(() => clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })), { retryable: (e) => isThrottling(e) || (isTransient(e) && !isNotFound(e)), ...RETRY, ...timing });
    const d = out.DBInstances?.[0];
    return d ? toInstance(d) : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Every DB instance tagged as a member of the cluster (all pages). */
export async function describeMembers(clients: Pick<Clients, 'rds'>, cluster: string, timing: Timing = {}): Promise<DbInstance[]> {
  const out: DbInstance[] = [];
  let marker: string | undefined;
  do {
    const page = await retry(() => clients.rds.send(new DescribeDBInstancesCommand({ Marker: marker, MaxRecords: 100 })), { retryable: isTransient, ...RETRY, ...timing });
    for (const d of page.DBInstances ?? []) {
      if (d.TagList?.some((t) => t.Key === MEMBER_TAG && t.Value === cluster)) out.push(toInstance(d));
    }
    marker = page.Marker;
  } while (marker);
  return out;
}

const fqdn = (name: string): string => (name.endsWith('.') ? name : `${name}.`);

/** The CNAME's value and TTL, or undefined when there is none. */
export async function readCname(clients: Clients, zoneId: string, name: string, timing: Timing = {}): Promise<{ value: string; ttl: number } | undefined> {
  const out = await retry(
    () => clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: fqdn(name), StartRecordType: 'CNAME', MaxItems: 1 })),
    { retryable: isTransient, ...RETRY, ...timing },
  );
  const rec = out.ResourceRecordSets?.[0];
  if (!rec || rec.Type !== 'CNAME' || rec.Name?.toLowerCase() !== fqdn(name).toLowerCase()) return undefined;
  return { value: rec.ResourceRecords?.[0]?.Value ?? '', ttl: rec.TTL ?? 0 };
}

/** UPSERTs the changes in one batch (UPSERT is idempotent: a repeated batch leaves the same records). */
export async function upsert(clients: Clients, zoneId: string, changes: readonly RecordChange[], comment: string, timing: Timing = {}): Promise<void> {
  if (changes.length === 0) return;
  await retry(
    () =>
      clients.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Comment: comment.slice(0, 256),
            Changes: changes.map((c) => ({ Action: 'UPSERT', ResourceRecordSet: { Name: fqdn(c.name), Type: 'CNAME', TTL: c.ttl, ResourceRecords: [{ Value: c.value }] } })),
          },
        }),
      ),
    { retryable: (e) => isThrottling(e) || isTransient(e), ...RETRY, ...timing },
  );
}
