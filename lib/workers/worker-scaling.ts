/**
 * The arithmetic of QueueWorkerFleet's scaling, as pure functions (no aws-cdk-lib), so it is tested directly.
 *
 * AWS's guidance for queue workers: scale on the backlog per worker, with the acceptable backlog per worker being
 * the latency you accept divided by the time a job takes (a worker clears `latency / duration` jobs in the time a
 * new message may wait). Backlog per worker is undefined at zero workers, so scaling from zero and to zero are
 * explicit step policies on the queue itself.
 */

/** Auto Scaling lifecycle hooks: heartbeat timeout 30 to 7200 s; the whole wait ends at 100 x heartbeat or 48 h. */
export const MIN_HEARTBEAT_TIMEOUT_S = 30;
export const MAX_HEARTBEAT_TIMEOUT_S = 7200;
export const MAX_LIFECYCLE_WAIT_S = 48 * 3600;
/** SQS visibility timeout limit. */
export const MAX_VISIBILITY_TIMEOUT_S = 12 * 3600;
/** Most exact-capacity steps the scale-from-zero policy gets (a step policy allows 20). */
export const MAX_FROM_ZERO_STEPS = 10;

/** Messages one worker may have waiting: jobs it clears within the accepted latency (at least 1). */
export function backlogPerWorkerTarget(acceptableLatencyS: number, averageJobDurationS: number, jobsPerWorker: number): number {
  return Math.max(1, Math.floor((acceptableLatencyS / averageJobDurationS) * jobsPerWorker));
}

/** One step of the scale-from-zero policy: `capacity` workers when lowerBound <= visible messages < upperBound. */
export interface ExactCapacityStep {
  readonly lowerBound: number;
  readonly upperBound?: number;
  readonly capacity: number;
}

/**
 * Exact capacities for a queue with no worker in service: about one worker per `target` waiting messages,
 * up to `maxCapacity` (and at most MAX_FROM_ZERO_STEPS steps; target tracking takes over once workers are in service).
 * Exact capacity (not "add N") makes the policy idempotent: while the first workers boot and the alarm keeps firing,
 * it sets the same desired capacity again instead of launching more, which is how the stateless scaler over-launched.
 */
export function scaleFromZeroSteps(target: number, maxCapacity: number): ExactCapacityStep[] {
  const n = Math.max(1, Math.min(maxCapacity, MAX_FROM_ZERO_STEPS));
  const steps: ExactCapacityStep[] = [];
  for (let k = 1; k <= n; k++) {
    steps.push({ lowerBound: (k - 1) * target, upperBound: k === n ? undefined : k * target, capacity: k });
  }
  return steps;
}

/**
 * Heartbeat timeout of the terminate lifecycle hook for a given job timeout. A running job keeps the instance
 * waiting by heartbeats (job-guard records one every third of this), so the timeout only bounds how long a dead
 * worker holds its termination: short (at most 5 minutes, or the job timeout if shorter), but long enough that
 * 50 heartbeats cover the whole job timeout within Auto Scaling's limit of 100 heartbeat timeouts.
 */
export function lifecycleHeartbeatTimeoutS(jobTimeoutS: number): number {
  const t = Math.min(jobTimeoutS, Math.max(300, Math.ceil(jobTimeoutS / 50)));
  return Math.min(MAX_HEARTBEAT_TIMEOUT_S, Math.max(MIN_HEARTBEAT_TIMEOUT_S, t));
}

/** How often job-guard checks for a pending termination and records a heartbeat. */
export function heartbeatIntervalS(heartbeatTimeoutS: number): number {
  return Math.max(10, Math.floor(heartbeatTimeoutS / 3));
}
