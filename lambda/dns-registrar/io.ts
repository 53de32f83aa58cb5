/**
 * The registrar's AWS calls, each small and retried where AWS asks for patience:
 * Route 53 throttling and PriorRequestNotComplete, Auto Scaling and EC2 throttling, and EC2's eventual
 * consistency (an instance that just launched may not be visible yet). Clients are created once per container
 * and can be replaced in tests.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { describeInstancesConsistently } from '../shared/ec2';
import { errorName, isThrottling, isTransient } from '../shared/errors';
import { retry, type RetryOptions } from '../shared/retry';
import type { Change, CurrentRecord, GroupMember } from './logic';
import { normaliseName } from './logic';

export interface Clients {
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly route53: Route53Client;
}

let cached: Clients | undefined;

/** The clients of this container, created on first use. */
export function defaultClients(): Clients {
  cached ??= { autoScaling: new AutoScalingClient({}), ec2: new EC2Client({}), route53: new Route53Client({}) };
  return cached;
}

/** Retry timing; tests pass a sleep that does not wait. */
export type Timing = Pick<RetryOptions, 'sleep' | 'now' | 'random' | 'onRetry'>;

const THROTTLE_RETRY = { deadlineMs: 30_000, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Members of the group, or undefined when the group does not exist (then nothing is changed). */
export async function describeGroup(clients: Clients, groupName: string, timing: Timing = {}): Promise<GroupMember[] | undefined> {
  const out = await retry(
    () => clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
    { ...THROTTLE_RETRY, ...timing, retryable: isTransient },
  );
  const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
  if (!group) return undefined;
  return (group.Instances ?? []).map((i) => ({
    instanceId: i.InstanceId ?? '',
    lifecycleState: i.LifecycleState ?? 'Unknown',
    healthStatus: i.HealthStatus ?? 'Unknown',
  }));
}

/**
 * The IPv4 address of each instance (private or public). EC2 is eventually consistent: an instance that
 * just launched may be "not found"; it is retried up to a deadline, after which the visible ones are used
 * and the rest wait for the next event or sweep.
 */
export async function instanceAddresses(
  clients: Clients,
  instanceIds: readonly string[],
  kind: 'private' | 'public',
  timing: Timing = {},
  deadlineMs = 20_000,
): Promise<Map<string, string>> {
  let instances: Instance[];
  try {
    instances = await describeInstancesConsistently(clients.ec2, instanceIds, { deadlineMs, ...timing });
  } catch (err) {
    if (!isTransient(err)) throw err;
    // Some ids are still not visible: a filter never fails on unknown ids, so take what EC2 can see.
    const page = await retry(
      () => clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [...instanceIds] }] })),
      { ...THROTTLE_RETRY, ...timing, retryable: isThrottling },
    );
    instances = (page.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  }
  const map = new Map<string, string>();
  for (const i of instances) {
    const state = i.State?.Name;
    if (state !== 'pending' && state !== 'running') continue;
    const address = kind === 'public' ? i.PublicIpAddress : i.PrivateIpAddress;
    if (i.InstanceId && address) map.set(i.InstanceId, address);
  }
  return map;
}

/** The simple (non-weighted) A record of that name, if it exists. */
export async function readRecord(clients: Clients, zoneId: string, recordName: string, timing: Timing = {}): Promise<CurrentRecord | undefined> {
  const out = await retry(
    () =>
      clients.route53.send(
        new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: recordName, StartRecordType: 'A', MaxItems: 1 }),
      ),
    { ...THROTTLE_RETRY, ...timing, retryable: isThrottling },
  );
  const set = out.ResourceRecordSets?.[0];
  if (!set || set.Type !== 'A' || set.SetIdentifier || normaliseName(set.Name ?? '') !== normaliseName(recordName)) return undefined;
  return { ttl: set.TTL ?? 0, values: (set.ResourceRecords ?? []).map((r) => r.Value ?? '').filter((v) => v !== '') };
}

/** Thrown when Route 53 rejects a change because the record moved under us: read again and re-plan. */
export class RecordChangedError extends Error {
  public readonly name = 'RecordChanged';
}

// Route 53's answers when a record is not as the batch said it was (the compare of the compare-and-swap failed).
const CONFLICT = /(but it was not found|but it already exists|values provided do not match)/i;

/**
 * Applies one planned change as one atomic change batch (see `Change`). Throttling and PriorRequestNotComplete (Route 53
 * is still applying an earlier change to the zone) are retried with backoff. A DELETE of a record that is already gone
 * is success (idempotent). A batch rejected because the record changed since it was read raises RecordChangedError.
 * Returns whether anything was changed.
 */
export async function applyChange(clients: Clients, zoneId: string, recordName: string, change: Change, timing: Timing = {}): Promise<boolean> {
  if (change.action === 'NONE') return false;
  const set = (ttl: number, values: readonly string[]) => ({
    Name: recordName,
    Type: 'A' as const,
    TTL: ttl,
    ResourceRecords: values.map((Value) => ({ Value })),
  });
  const changes =
    change.action === 'CREATE'
      ? [{ Action: 'CREATE' as const, ResourceRecordSet: set(change.ttl, change.values) }]
      : change.action === 'DELETE'
        ? [{ Action: 'DELETE' as const, ResourceRecordSet: set(change.ttl, change.values) }]
        : [
            { Action: 'DELETE' as const, ResourceRecordSet: set(change.from.ttl, change.from.values) },
            { Action: 'CREATE' as const, ResourceRecordSet: set(change.ttl, change.values) },
          ];
  const command = new ChangeResourceRecordSetsCommand({
    HostedZoneId: zoneId,
    ChangeBatch: { Comment: 'resilient-fleet DnsRegistrar: record equals the in-service instances of the group', Changes: changes },
  });
  try {
    await retry(() => clients.route53.send(command), { ...THROTTLE_RETRY, deadlineMs: 60_000, ...timing, retryable: isThrottling });
    return true;
  } catch (err) {
    const message = invalidChangeBatchMessage(err);
    if (message === undefined) throw err;
    if (change.action === 'DELETE' && /but it was not found/i.test(message)) return false;
    if (CONFLICT.test(message)) throw new RecordChangedError(message);
    throw err;
  }
}

/**
 * The text of an InvalidChangeBatch rejection, or undefined for any other error. Route 53 sends it either in the
 * ErrorResponse envelope (the SDK names it InvalidChangeBatch) or as `<InvalidChangeBatch><Messages><Message>..`, a root the
 * SDK does not recognise: it throws name "Unknown" and keeps the parsed `Messages`, which are read here.
 */
export function invalidChangeBatchMessage(err: unknown): string | undefined {
  if (errorName(err) === 'InvalidChangeBatch') return String((err as Error).message ?? '');
  const raw = (err as { Messages?: { Message?: unknown } } | undefined)?.Messages?.Message;
  if (raw === undefined) return undefined;
  return (Array.isArray(raw) ? raw : [raw]).map(String).join('; ');
}

/**
 * Lets the instance go on (CONTINUE). A duplicated or late event finds no active action: that is success.
 */
export async function completeLifecycleAction(
  clients: Clients,
  action: { groupName: string; hookName: string; instanceId: string; token?: string },
  timing: Timing = {},
): Promise<boolean> {
  try {
    await retry(
      () =>
        clients.autoScaling.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: action.groupName,
            LifecycleHookName: action.hookName,
            InstanceId: action.instanceId,
            LifecycleActionToken: action.token,
            LifecycleActionResult: 'CONTINUE',
          }),
        ),
      { ...THROTTLE_RETRY, ...timing, retryable: isThrottling },
    );
    return true;
  } catch (err) {
    if (errorName(err) === 'ValidationError' && /no active lifecycle action/i.test(String((err as Error).message))) return false;
    throw err;
  }
}
