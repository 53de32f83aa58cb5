/** Small functions over the Auto Scaling client. The client is created once per container and injectable. */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { errorName, isTransient } from '../shared/errors';
import { retry, type RetryOptions } from '../shared/retry';
import type { WorkerView } from './logic';

let cached: AutoScalingClient | undefined;

/** The container's Auto Scaling client (standard SDK retries for throttling inside each call). */
export function autoScalingClient(): AutoScalingClient {
  cached ??= new AutoScalingClient({});
  return cached;
}

export type IoRetryOptions = Partial<Omit<RetryOptions, 'retryable'>>;

const DEFAULTS = { deadlineMs: 20_000, baseDelayMs: 200, maxDelayMs: 3_000 };

/** Lifecycle state and scale-in protection of one instance, as the group sees it. Throttling and 5xx are retried. */
export async function describeWorker(client: AutoScalingClient, instanceId: string, options?: IoRetryOptions): Promise<WorkerView> {
  const out = await retry(
    () => client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] })),
    { ...DEFAULTS, ...options, retryable: isTransient },
  );
  const found = (out.AutoScalingInstances ?? []).find((i) => i.InstanceId === instanceId);
  if (!found) return { found: false };
  return { found: true, lifecycleState: found.LifecycleState ?? 'Unknown', protectedFromScaleIn: found.ProtectedFromScaleIn === true };
}

/**
 * Completes the lifecycle action with CONTINUE. Idempotent: when the action is no longer active (job-guard or a
 * duplicate event completed it, or the heartbeat timed out), Auto Scaling answers ValidationError, and this
 * returns 'already-done'.
 */
export async function continueTermination(
  client: AutoScalingClient,
  action: { autoScalingGroupName: string; lifecycleHookName: string; instanceId: string; lifecycleActionToken: string },
  options?: IoRetryOptions,
): Promise<'completed' | 'already-done'> {
  try {
    await retry(
      () =>
        client.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: action.autoScalingGroupName,
            LifecycleHookName: action.lifecycleHookName,
            InstanceId: action.instanceId,
            LifecycleActionToken: action.lifecycleActionToken,
            LifecycleActionResult: 'CONTINUE',
          }),
        ),
      { ...DEFAULTS, ...options, retryable: isTransient },
    );
    return 'completed';
  } catch (err) {
    if (isNoActiveLifecycleAction(err)) return 'already-done';
    throw err;
  }
}

/** Auto Scaling's answer when the lifecycle action was already completed or has timed out. */
export function isNoActiveLifecycleAction(err: unknown): boolean {
  const message = (err as { message?: unknown } | undefined)?.message;
  return errorName(err) === 'ValidationError' && typeof message === 'string' && /No active Lifecycle Action found/i.test(message);
}
