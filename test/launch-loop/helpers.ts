import {
  applyEvent,
  emptyState,
  renderNotification,
  type BreakerOutcome,
  type DetectorConfig,
  type Evidence,
  type Fact,
  type GroupState,
  type Incident,
  type ShortLivedLaunch,
} from '../../lambda/launch-loop/logic';

// What the launch-loop detector's unit tests share: the clock, one configuration, the termination causes Auto Scaling
// writes, fact builders, and a way to feed a stream of events. Values are literals, never read from the module.

export const MIN = 60_000;
export const HOUR = 60 * MIN;
/** 2026-11-22T03:00:00Z: the time every test's events are placed around. */
export const T = Date.UTC(2026, 10, 22, 3, 0, 0);
/** Three short-lived launches within 30 minutes confirm a loop; a health-check termination within 15 minutes of launch counts. */
export const CONFIG: DetectorConfig = { threshold: 3, windowMs: 30 * MIN, shortLivedMs: 15 * MIN };

export const HEALTH = 'At 2026-11-22T03:10:00Z an instance was taken out of service in response to an ELB system health check failure.';
export const SCALE_IN =
  'At 2026-11-22T03:10:00Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 3 to 2.';

/** Instance `i-<n>`'s launch failed at `at` (activity `act-<n>`). */
export const failed = (n: number | string, at: number): Fact => ({
  kind: 'launch-failed',
  instanceId: `i-${n}`,
  activityId: `act-${n}`,
  at,
  statusMessage: `launch ${n} failed`,
  cause: 'capacity',
});

/** Instance `id` started launching at `at`. */
export const launching = (id: string, at: number): Fact => ({ kind: 'launching', instanceId: id, at });

/** Feeds events in order; returns every decision and the final state. */
export function feed(events: Array<[string, Fact]>, config: DetectorConfig = CONFIG, start: GroupState = emptyState()) {
  let state = start;
  const decisions = events.map(([id, fact]) => {
    const d = applyEvent(state, id, fact, config);
    state = d.state;
    return d;
  });
  return { state, decisions };
}

/** Incident 1, confirmed at T, of these launches. */
export const incidentOf = (launches: ShortLivedLaunch[], extra: Partial<Incident> = {}): Incident => ({ number: 1, confirmedAt: T, launches, ...extra });

/** The notification for group my-asg in eu-west-1 under CONFIG. */
export const notify = (incident: Incident, breaker: BreakerOutcome, evidence: Evidence = {}, groupName = 'my-asg') =>
  renderNotification({ groupName, region: 'eu-west-1', incident, config: CONFIG, breaker, evidence });
