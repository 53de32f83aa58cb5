/**
 * Decisions of the worker-drain hook: what to do when the group moves a worker to Terminating:Wait.
 *
 * The hook never decides to cut a job short. A worker that is protected from scale-in is running a job under
 * job-guard; job-guard completes the lifecycle action itself when the job ends (and records heartbeats while
 * it runs), and the lifecycle hook's heartbeat timeout (default result CONTINUE) bounds the wait if the worker
 * dies. An idle worker has nothing to wait for, so the hook lets its termination continue at once instead of
 * holding it for the whole heartbeat timeout. Pure: no SDK, no environment, no clock.
 */

export const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
export const TERMINATING_WAIT = 'Terminating:Wait';

/** The fields of an "EC2 Instance-terminate Lifecycle Action" event that the hook uses. */
export interface TerminateLifecycleAction {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  readonly lifecycleActionToken: string;
  readonly lifecycleTransition: string;
  /** "EC2" (terminate) or "WarmPool" (returned to a warm pool); absent on older events. */
  readonly destination?: string;
}

/** What the group says about the worker right now. */
export type WorkerView =
  | { readonly found: false }
  | { readonly found: true; readonly lifecycleState: string; readonly protectedFromScaleIn: boolean };

export type DrainDecision =
  | { readonly action: 'continue'; readonly reason: string }
  | { readonly action: 'wait'; readonly reason: string }
  | { readonly action: 'ignore'; readonly reason: string };

/** Thrown for an event that is not an EC2 Auto Scaling terminate lifecycle action. */
export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Validates the EventBridge event and returns the lifecycle action it carries. */
export function parseTerminateEvent(event: unknown): TerminateLifecycleAction {
  if (!event || typeof event !== 'object') throw new InvalidEventError('event is not an object');
  const e = event as { source?: unknown; 'detail-type'?: unknown; detail?: Record<string, unknown> };
  if (e.source !== 'aws.autoscaling') throw new InvalidEventError(`unexpected source ${JSON.stringify(e.source)}`);
  if (e['detail-type'] !== 'EC2 Instance-terminate Lifecycle Action') {
    throw new InvalidEventError(`unexpected detail-type ${JSON.stringify(e['detail-type'])}`);
  }
  const d = e.detail;
  if (!d || typeof d !== 'object') throw new InvalidEventError('event has no detail');
  const str = (key: string): string => {
    const v = d[key];
    if (typeof v !== 'string' || v.length === 0) throw new InvalidEventError(`detail.${key} is missing or empty`);
    return v;
  };
  const instanceId = str('EC2InstanceId');
  if (!INSTANCE_ID.test(instanceId)) throw new InvalidEventError(`detail.EC2InstanceId ${JSON.stringify(instanceId)} is not an instance id`);
  return {
    autoScalingGroupName: str('AutoScalingGroupName'),
    lifecycleHookName: str('LifecycleHookName'),
    instanceId,
    lifecycleActionToken: str('LifecycleActionToken'),
    lifecycleTransition: str('LifecycleTransition'),
    destination: typeof d.Destination === 'string' ? d.Destination : undefined,
  };
}

/**
 * Decides for one terminate lifecycle action:
 * - not a terminate transition, or the worker is gone or no longer waiting (a duplicate or late event): ignore;
 * - protected from scale-in (job-guard is running a job): wait, job-guard completes the action when the job ends;
 * - otherwise (idle): continue now.
 */
export function decide(action: TerminateLifecycleAction, worker: WorkerView): DrainDecision {
  if (action.lifecycleTransition !== TERMINATING) {
    return { action: 'ignore', reason: `transition ${action.lifecycleTransition} is not a termination` };
  }
  if (!worker.found) return { action: 'ignore', reason: 'the group no longer lists the instance' };
  if (worker.lifecycleState !== TERMINATING_WAIT) {
    return { action: 'ignore', reason: `instance is ${worker.lifecycleState}, not waiting (already completed or timed out)` };
  }
  if (worker.protectedFromScaleIn) {
    return { action: 'wait', reason: 'a job is running (job-guard set scale-in protection); job-guard completes the action when it ends' };
  }
  return { action: 'continue', reason: 'no job is running' };
}
