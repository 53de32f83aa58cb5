import fc from 'fast-check';
import { propertyRuns } from '../property-runs';
import { applyEvent, emptyState, type DetectorConfig, type Fact, type GroupState } from '../../lambda/launch-loop/logic';

const T0 = Date.UTC(2026, 10, 22, 6, 0, 0);
const MIN = 60_000;
const WINDOW = 30 * MIN;
const SHORT = 15 * MIN;

interface Ev {
  id: string;
  fact: Fact;
}

const SCALE_IN_CAUSES = [
  'At 2026-11-22T06:10:00Z a user request update of AutoScalingGroup constraints to min: 0, max: 6, desired: 2 changing the desired capacity from 6 to 2.  At 2026-11-22T06:10:05Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 6 to 2.',
  'At 2026-11-22T06:10:00Z a monitor alarm CPU-low in state ALARM triggered policy scale-in changing the desired capacity from 20 to 19.  At 2026-11-22T06:10:07Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 20 to 19.',
  'At 2026-11-22T06:10:00Z an instance was taken out of service in response to an instance refresh.  At 2026-11-22T06:10:00Z instance i-x was selected for termination.',
  'At 2026-11-22T06:10:00Z instance i-x was taken out of service in response to a user request.',
];
const HEALTH_CAUSES = [
  'At 2026-11-22T06:10:00Z an instance was taken out of service in response to an ELB system health check failure.',
  'At 2026-11-22T06:10:00Z an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.',
];
const ABANDONED =
  'Instance failed to complete user\'s Lifecycle Action: Lifecycle Action with token 0a1b2c3d was abandoned: Lifecycle Action Completed with ABANDON Result';

/** A healthy instance: launched, in service, maybe deployed to (even a failed regular deployment), maybe scaled in at any time. */
const healthyInstance = (n: number) =>
  fc
    .record({
      launch: fc.integer({ min: 0, max: 6 * 60 * MIN }),
      boot: fc.integer({ min: 30_000, max: 12 * MIN }),
      lifecycleEvent: fc.boolean(),
      deploySucceeded: fc.boolean(),
      regularDeployFailed: fc.boolean(),
      terminateAfter: fc.option(fc.integer({ min: 1_000, max: 3 * 60 * MIN }), { nil: undefined }),
      cause: fc.constantFrom(...SCALE_IN_CAUSES),
    })
    .map((h): Ev[] => {
      const id = `i-healthy${n}`;
      const at = T0 + h.launch;
      const evs: Ev[] = [];
      if (h.lifecycleEvent) evs.push({ id: `${id}-lc`, fact: { kind: 'launching', instanceId: id, at } });
      if (h.deploySucceeded) evs.push({ id: `${id}-ds`, fact: { kind: 'deploy-succeeded', instanceId: id, deploymentId: 'd-LAUNCH', at: at + h.boot - 1_000 } });
      evs.push({ id: `${id}-is`, fact: { kind: 'in-service', instanceId: id, at: at + h.boot, launchedAt: at } });
      if (h.regularDeployFailed) {
        evs.push({ id: `${id}-df`, fact: { kind: 'deploy-failed', instanceId: id, deploymentId: 'd-REGULAR', at: at + h.boot + 5 * MIN, launchDeployment: false } });
      }
      if (h.terminateAfter !== undefined) {
        evs.push({ id: `${id}-t`, fact: { kind: 'terminated', instanceId: id, at: at + h.terminateAfter, cause: h.cause } });
      }
      return evs;
    });

const healthyFleet = fc
  .integer({ min: 0, max: 25 })
  .chain((count) => (count === 0 ? fc.constant([] as Ev[][]) : fc.tuple(...Array.from({ length: count }, (_, i) => healthyInstance(i)))))
  .map((xs) => xs.flat());

/** A short-lived launch whose counting time falls at `at`. */
function shortLived(n: number, at: number, kind: number, withInstance: boolean, launchDeployment: boolean | undefined, cause: string): Ev[] {
  const id = `i-dead${n}`;
  switch (kind) {
    case 0: // launch failed outright (capacity, AMI, quota)
      return [
        {
          id: `${id}-lf`,
          fact: {
            kind: 'launch-failed',
            instanceId: withInstance ? id : undefined,
            activityId: `act-${n}`,
            at,
            statusMessage: 'The image id \'[ami-0a1b2c3d4e5f67890]\' does not exist. Launching EC2 instance failed.',
            cause: 'At 2026-11-22T06:00:00Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 3.',
          },
        },
      ];
    case 1: // CodeDeploy failed the launch: deployment failure, abandoned lifecycle action, termination
      return [
        { id: `${id}-lc`, fact: { kind: 'launching', instanceId: id, at: at - 5 * MIN } },
        { id: `${id}-df`, fact: { kind: 'deploy-failed', instanceId: id, deploymentId: `d-${n}`, at, launchDeployment } },
        { id: `${id}-lf`, fact: { kind: 'launch-failed', instanceId: id, activityId: `act-${n}`, at: at + 30_000, statusMessage: ABANDONED, cause: 'launch' } },
        { id: `${id}-t`, fact: { kind: 'terminated', instanceId: id, at: at + 60_000, cause: 'At ... an instance was taken out of service in response to a launch failure.' } },
      ];
    default: // served briefly, then failed its health check
      return [
        { id: `${id}-is`, fact: { kind: 'in-service', instanceId: id, at: at - 4 * MIN, launchedAt: at - 10 * MIN } },
        { id: `${id}-t`, fact: { kind: 'terminated', instanceId: id, at, cause } },
      ];
  }
}

const deadLaunches = (count: number, start: number, spacing: (i: number) => fc.Arbitrary<number>) =>
  count === 0
    ? fc.constant([] as Ev[])
    : fc
        .tuple(
          ...Array.from({ length: count }, (_, i) =>
            fc.record({
              offset: spacing(i),
              kind: fc.integer({ min: 0, max: 2 }),
              withInstance: fc.boolean(),
              launchDeployment: fc.constantFrom(true, undefined),
              cause: fc.constantFrom(...HEALTH_CAUSES),
            }),
          ),
        )
        .map((ds) => ds.flatMap((d, i) => shortLived(i, start + d.offset, d.kind, d.withInstance, d.launchDeployment, d.cause)));

/**
 * Delivers events the way EventBridge does: each one late by up to 20 minutes (so out of order), and some twice
 * (same id, a retry) up to 90 minutes late.
 */
function deliver(events: Ev[]) {
  return fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: 20 * MIN }), { minLength: 400, maxLength: 400 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 90 * MIN })), { maxLength: 10 }),
    )
    .map(([delays, dups]) => {
      const delivered = events.map((e, i) => ({ e, t: e.fact.at + delays[i % delays.length] + i * 1e-6 }));
      if (events.length > 0) {
        for (const [i, delay] of dups) delivered.push({ e: events[i % events.length], t: events[i % events.length].fact.at + delay + 0.5 });
      }
      return delivered.sort((a, b) => a.t - b.t).map((x) => x.e);
    });
}

function run(events: Ev[], config: DetectorConfig) {
  let state: GroupState = emptyState();
  const steps: Array<{ countedSoFar: number; countedNow: number; confirmed: boolean }> = [];
  const countedKeys = new Set<string>();
  for (const ev of events) {
    const d = applyEvent(state, ev.id, ev.fact, config);
    for (const c of d.counted) {
      expect(countedKeys.has(c.key)).toBe(false); // never counted twice
      countedKeys.add(c.key);
    }
    steps.push({ countedSoFar: countedKeys.size, countedNow: d.counted.length, confirmed: d.confirmed !== undefined });
    state = JSON.parse(JSON.stringify(d.state)); // a round trip through DynamoDB
  }
  return { steps, countedKeys, state };
}

describe('launch-loop detector, over random event streams', () => {
  test('never counts or confirms anything in healthy scale-outs, scale-ins and instance refreshes, whatever the order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), healthyFleet.chain((evs) => deliver(evs)), (threshold, events) => {
        const { steps, countedKeys } = run(events, { threshold, windowMs: WINDOW, shortLivedMs: SHORT });
        expect(countedKeys.size).toBe(0);
        expect(steps.some((s) => s.confirmed)).toBe(false);
      }),
      { numRuns: propertyRuns(150) },
    );
  });

  test('confirms a loop at exactly the Nth short-lived launch, with healthy activity, duplicates and reordering mixed in', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }).chain((threshold) =>
          fc.tuple(
            fc.constant(threshold),
            fc.integer({ min: 0, max: 2 * threshold + 1 }).chain((k) =>
              fc.tuple(fc.constant(k), deadLaunches(k, T0 + 60 * MIN, () => fc.integer({ min: MIN, max: WINDOW - 2 * MIN }))),
            ),
            healthyFleet,
          ),
        ).chain(([threshold, [k, dead], healthy]) => fc.tuple(fc.constant(threshold), fc.constant(k), deliver([...dead, ...healthy]))),
        ([threshold, k, events]) => {
          const { steps, countedKeys, state } = run(events, { threshold, windowMs: WINDOW, shortLivedMs: SHORT });
          expect(countedKeys.size).toBe(k);
          const confirmations = steps.filter((s) => s.confirmed);
          expect(confirmations).toHaveLength(Math.floor(k / threshold));
          for (const s of steps) {
            // A confirmation happens exactly when the count reaches a multiple of the threshold, and only then.
            const reached = s.countedNow > 0 && s.countedSoFar % threshold === 0;
            expect(s.confirmed).toBe(reached);
          }
          const first = steps.findIndex((s) => s.confirmed);
          if (k >= threshold) expect(steps[first].countedSoFar).toBe(threshold);
          expect(state.incidents).toBe(Math.floor(k / threshold));
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });

  test('never confirms short-lived launches that are further apart than the window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }).chain((threshold) =>
          fc.tuple(fc.constant(threshold), deadLaunches(2 * threshold, T0, (i) => fc.constant(i * (WINDOW + 3 * MIN)))),
        ).chain(([threshold, dead]) => fc.tuple(fc.constant(threshold), deliver(dead))),
        ([threshold, events]) => {
          const { steps, countedKeys } = run(events, { threshold, windowMs: WINDOW, shortLivedMs: SHORT });
          expect(countedKeys.size).toBe(2 * threshold);
          expect(steps.some((s) => s.confirmed)).toBe(false);
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });
});
