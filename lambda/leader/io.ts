/**
 * Small functions over SDK v3 clients for the LeaderElection hook. Clients are created once per container
 * and injectable for tests. The ledger (DynamoDB, strongly consistent reads, conditional writes) is the source
 * of truth; Auto Scaling's answer is treated as possibly stale and EC2 as eventually consistent.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { tagWithRetry } from '../shared/ec2';
import { errorName, isNotFound, isThrottling, isTransient } from '../shared/errors';
import { retry } from '../shared/retry';
import {
  LEADER_SK,
  RUN_SK_PREFIX,
  leaderPk,
  runsPk,
  type GroupView,
  type LeaderRecord,
  type Member,
  type RunRecord,
} from './logic';

export interface Clients {
  readonly ddb: DynamoDBDocumentClient;
  readonly autoscaling: AutoScalingClient;
  readonly ec2: EC2Client;
}

let cached: Clients | undefined;

/** The SDK clients, created once per container. */
export function defaultClients(): Clients {
  cached ??= {
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
    autoscaling: new AutoScalingClient({}),
    ec2: new EC2Client({}),
  };
  return cached;
}

/** Timing knobs, injectable so tests and the benchmark run on a simulated clock. */
export interface IoTiming {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Deadline of each retried operation. Default 20 s (the hook's timeout is 2 minutes). */
  readonly deadlineMs?: number;
}

function opts(t: IoTiming | undefined, retryable: (e: unknown) => boolean) {
  return {
    retryable,
    deadlineMs: t?.deadlineMs ?? 20_000,
    baseDelayMs: 200,
    maxDelayMs: 3_000,
    sleep: t?.sleep,
    now: t?.now,
    random: t?.random,
  };
}

export function isConditionalCheckFailed(err: unknown): boolean {
  return errorName(err) === 'ConditionalCheckFailedException';
}

// ------------------------------------------------------------------------------------------------- ledger

/** Reads the leader item with a strongly consistent read. */
export async function readLeader(c: Clients, table: string, group: string, t?: IoTiming): Promise<LeaderRecord | undefined> {
  const out = await retry(
    () => c.ddb.send(new GetCommand({ TableName: table, Key: { pk: leaderPk(group), sk: LEADER_SK }, ConsistentRead: true })),
    opts(t, isTransient),
  );
  const item = out.Item;
  if (!item) return undefined;
  return {
    term: Number(item.term ?? 0),
    leader: typeof item.leader === 'string' ? item.leader : undefined,
    since: item.since === undefined ? undefined : Number(item.since),
    version: Number(item.version ?? 0),
    previous: typeof item.previous === 'string' ? item.previous : undefined,
    departed: Array.isArray(item.departed) ? item.departed.map(String) : [],
  };
}

/**
 * Writes the leader item if nobody else wrote it since `expectedVersion` was read (0: the item must not exist).
 * Returns false when another invocation won the race; the caller reads again and decides again.
 */
export async function writeLeader(
  c: Clients,
  table: string,
  group: string,
  next: LeaderRecord,
  expectedVersion: number,
  t?: IoTiming,
): Promise<boolean> {
  const condition =
    expectedVersion === 0
      ? { ConditionExpression: 'attribute_not_exists(pk)' }
      : { ConditionExpression: '#v = :expected', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':expected': expectedVersion } };
  try {
    await retry(
      () =>
        c.ddb.send(
          new PutCommand({
            TableName: table,
            Item: {
              pk: leaderPk(group),
              sk: LEADER_SK,
              group,
              term: next.term,
              leader: next.leader,
              since: next.since,
              version: next.version,
              previous: next.previous,
              departed: [...next.departed],
            },
            ...condition,
          }),
        ),
      opts(t, (e) => isThrottling(e) || (isTransient(e) && !isConditionalCheckFailed(e))),
    );
    return true;
  } catch (err) {
    if (isConditionalCheckFailed(err)) return false;
    throw err;
  }
}

/** Runs of the group still marked RUNNING. */
export async function queryRunningRuns(c: Clients, table: string, group: string, t?: IoTiming): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await retry(
      () =>
        c.ddb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            FilterExpression: '#s = :running',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':pk': runsPk(group), ':prefix': RUN_SK_PREFIX, ':running': 'RUNNING' },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      opts(t, isTransient),
    );
    for (const item of page.Items ?? []) runs.push(toRunRecord(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return runs;
}

export function toRunRecord(item: Record<string, unknown>): RunRecord {
  return {
    key: String(item.sk).slice(RUN_SK_PREFIX.length),
    status: item.status as RunRecord['status'],
    attempt: Number(item.attempt ?? 0),
    owner: String(item.owner ?? ''),
    bootId: String(item.bootId ?? ''),
    pid: Number(item.pid ?? 0),
    startedAt: Number(item.startedAt ?? 0),
    finishedAt: item.finishedAt === undefined ? undefined : Number(item.finishedAt),
    exitCode: item.exitCode === undefined ? undefined : Number(item.exitCode),
  };
}

/** Marks a run ABANDONED if it is still the same attempt and still RUNNING. Returns false when it moved on. */
export async function abandonRun(c: Clients, table: string, group: string, key: string, attempt: number, now: number, t?: IoTiming): Promise<boolean> {
  try {
    await retry(
      () =>
        c.ddb.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: runsPk(group), sk: RUN_SK_PREFIX + key },
            UpdateExpression: 'SET #s = :abandoned, abandonedAt = :now',
            ConditionExpression: 'attempt = :attempt AND #s = :running',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':abandoned': 'ABANDONED', ':now': now, ':attempt': attempt, ':running': 'RUNNING' },
          }),
        ),
      opts(t, (e) => isTransient(e) && !isConditionalCheckFailed(e)),
    );
    return true;
  } catch (err) {
    if (isConditionalCheckFailed(err)) return false;
    throw err;
  }
}

// ----------------------------------------------------------------------------------------- Auto Scaling

/**
 * Describes the group. With `waitFor`, retries (backoff, deadline) while that instance is missing or still
 * Pending: a just-launched instance is often not listed yet. At the deadline it returns what it has.
 */
export async function describeGroup(c: Clients, group: string, waitFor?: string, t?: IoTiming): Promise<GroupView> {
  const read = async (): Promise<GroupView> => {
    const out = await c.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
    const g = out.AutoScalingGroups?.[0];
    if (!g) throw Object.assign(new Error(`Auto Scaling group ${group} not found`), { name: 'AutoScalingGroup.NotFound' });
    return {
      desiredCapacity: g.DesiredCapacity ?? 0,
      members: (g.Instances ?? []).map(
        (i): Member => ({
          instanceId: i.InstanceId ?? '',
          lifecycleState: String(i.LifecycleState ?? ''),
          healthStatus: i.HealthStatus ?? '',
          protectedFromScaleIn: i.ProtectedFromScaleIn === true,
        }),
      ),
    };
  };
  let last: GroupView | undefined;
  try {
    return await retry(async () => {
      last = await read();
      if (waitFor !== undefined) {
        const m = last.members.find((x) => x.instanceId === waitFor);
        if (!m || m.lifecycleState.startsWith('Pending')) {
          throw Object.assign(new Error(`${waitFor} not in service yet (${m?.lifecycleState ?? 'not listed'})`), { name: 'InstanceNotListed.NotFound' });
        }
      }
      return last;
    }, opts(t, isTransient));
  } catch (err) {
    if (last && errorName(err) === 'InstanceNotListed.NotFound') return last;
    throw err;
  }
}

/** Sets or removes scale-in protection. An instance already leaving the group is skipped, not an error. */
export async function setProtection(c: Clients, group: string, instanceIds: readonly string[], protect: boolean, t?: IoTiming): Promise<void> {
  if (instanceIds.length === 0) return;
  try {
    await retry(
      () =>
        c.autoscaling.send(
          new SetInstanceProtectionCommand({ AutoScalingGroupName: group, InstanceIds: [...instanceIds], ProtectedFromScaleIn: protect }),
        ),
      opts(t, isThrottling),
    );
  } catch (err) {
    // "The instance ... is not part of Auto Scaling group" / "is in a terminating state": nothing to protect any more.
    if (errorName(err) === 'ValidationError') return;
    throw err;
  }
}

/** Lets the terminating instance go. A duplicate event finds no active action: that is success, not an error. */
export async function completeLifecycleAction(
  c: Clients,
  group: string,
  hookName: string,
  instanceId: string,
  token: string | undefined,
  t?: IoTiming,
): Promise<'completed' | 'no-active-action'> {
  try {
    await retry(
      () =>
        c.autoscaling.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: group,
            LifecycleHookName: hookName,
            InstanceId: instanceId,
            LifecycleActionToken: token,
            LifecycleActionResult: 'CONTINUE',
          }),
        ),
      opts(t, isThrottling),
    );
    return 'completed';
  } catch (err) {
    if (errorName(err) === 'ValidationError') return 'no-active-action';
    throw err;
  }
}

// ------------------------------------------------------------------------------------------------- EC2

/** Tags the leader with its term: retried through NotFound (a just-launched instance) and throttling. */
export async function tagLeader(c: Clients, instanceId: string, tagKey: string, term: number, t?: IoTiming): Promise<void> {
  await tagWithRetry(c.ec2, [instanceId], { [tagKey]: String(term) }, {
    deadlineMs: t?.deadlineMs ?? 20_000,
    sleep: t?.sleep,
    now: t?.now,
    random: t?.random,
  });
}

/** Removes the leader tag. An instance that no longer exists has no tag: NotFound is success. */
export async function untag(c: Clients, instanceIds: readonly string[], tagKey: string, t?: IoTiming): Promise<void> {
  for (const id of instanceIds) {
    try {
      await retry(() => c.ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: tagKey }] })), opts(t, isThrottling));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
