/**
 * EC2 helpers that treat the API as eventually consistent. Every hook uses these rather than raw calls:
 * - an instance just launched may be "not found" for a while: retried with backoff up to a deadline;
 * - an instance just terminated may still read "running": callers never treat DescribeInstances as the
 *   source of truth for membership (the Auto Scaling group or a ledger is);
 * - tags go on at creation (TagSpecifications), and tags added later are retried through NotFound.
 */
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import { isCapacityError, isNotFound, isTransient } from './errors';
import { retry, type RetryOptions } from './retry';

export type ConsistencyOptions = Partial<Omit<RetryOptions, 'retryable'>>;

const DEFAULT_DEADLINE_MS = 60_000;

function withDefaults(options: ConsistencyOptions | undefined, retryable: (e: unknown) => boolean): RetryOptions {
  return { deadlineMs: DEFAULT_DEADLINE_MS, baseDelayMs: 200, maxDelayMs: 5_000, ...options, retryable };
}

/**
 * Describes instances by id, retrying while EC2 says NotFound or throttles, and until every requested id
 * is present in the answer (a just-launched instance can be missing without an error).
 */
export async function describeInstancesConsistently(
  ec2: EC2Client,
  instanceIds: readonly string[],
  options?: ConsistencyOptions,
): Promise<Instance[]> {
  if (instanceIds.length === 0) return [];
  return retry(async () => {
    const found: Instance[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [...instanceIds], NextToken: nextToken }));
      for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    const missing = instanceIds.filter((id) => !found.some((i) => i.InstanceId === id));
    if (missing.length > 0) {
      throw Object.assign(new Error(`instances not visible yet: ${missing.join(', ')}`), {
        name: 'InvalidInstanceID.NotFound',
      });
    }
    return found;
  }, withDefaults(options, isTransient));
}

/** Adds tags to resources, retrying NotFound (a resource created moments ago) and throttling. Idempotent. */
export async function tagWithRetry(
  ec2: EC2Client,
  resourceIds: readonly string[],
  tags: Record<string, string>,
  options?: ConsistencyOptions,
): Promise<void> {
  const Tags: Tag[] = Object.entries(tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Key, Value]) => ({ Key, Value }));
  await retry(() => ec2.send(new CreateTagsCommand({ Resources: [...resourceIds], Tags })), withDefaults(options, isTransient));
}

/** Tag specifications for a create call, so the resource never exists untagged. */
export function tagSpecifications(resourceTypes: readonly string[], tags: Record<string, string>) {
  const Tags = Object.entries(tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Key, Value]) => ({ Key, Value }));
  return resourceTypes.map((ResourceType) => ({ ResourceType: ResourceType as never, Tags }));
}

/**
 * Tries each placement (instance type, subnet) in turn and returns the first that succeeds. A capacity error
 * moves on to the next placement instead of failing the whole request; any other error is thrown at once.
 */
export async function firstWithCapacity<P, T>(
  placements: readonly P[],
  attempt: (placement: P) => Promise<T>,
): Promise<{ placement: P; result: T; capacityErrors: Array<{ placement: P; error: unknown }> }> {
  const capacityErrors: Array<{ placement: P; error: unknown }> = [];
  for (const placement of placements) {
    try {
      return { placement, result: await attempt(placement), capacityErrors };
    } catch (error) {
      if (!isCapacityError(error)) throw error;
      capacityErrors.push({ placement, error });
    }
  }
  const summary = capacityErrors.map((c) => JSON.stringify(c.placement)).join('; ');
  throw Object.assign(new Error(`no capacity in any placement: ${summary}`), { name: 'InsufficientInstanceCapacity' });
}

export { isNotFound };
