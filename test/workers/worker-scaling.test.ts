import fc from 'fast-check';
import {
  MAX_FROM_ZERO_STEPS,
  MAX_HEARTBEAT_TIMEOUT_S,
  MAX_LIFECYCLE_WAIT_S,
  MIN_HEARTBEAT_TIMEOUT_S,
  backlogPerWorkerTarget,
  heartbeatIntervalS,
  lifecycleHeartbeatTimeoutS,
  scaleFromZeroSteps,
} from '../../lib/workers/worker-scaling';

describe('backlog per worker target', () => {
  test.each([
    [300, 60, 1, 5],
    [600, 60, 1, 10],
    [300, 60, 4, 20],
    [60, 60, 1, 1],
    [90, 60, 1, 1],
    [3600, 7, 1, 514],
  ])('latency %ss, job %ss, %s jobs per worker: %s messages per worker', (latency, job, per, expected) => {
    expect(backlogPerWorkerTarget(latency, job, per)).toBe(expected);
  });

  test('a worker clears its target backlog within the accepted latency', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3600 }), fc.integer({ min: 1, max: 86400 }), fc.integer({ min: 1, max: 64 }), (job, extra, per) => {
        const latency = job + extra;
        const target = backlogPerWorkerTarget(latency, job, per);
        expect(target).toBeGreaterThanOrEqual(1);
        expect((target / per) * job).toBeLessThanOrEqual(latency);
      }),
    );
  });
});

describe('scale-from-zero steps', () => {
  test('one worker per target backlog, the last step open-ended', () => {
    expect(scaleFromZeroSteps(5, 3)).toEqual([
      { lowerBound: 0, upperBound: 5, capacity: 1 },
      { lowerBound: 5, upperBound: 10, capacity: 2 },
      { lowerBound: 10, upperBound: undefined, capacity: 3 },
    ]);
    expect(scaleFromZeroSteps(5, 1)).toEqual([{ lowerBound: 0, upperBound: undefined, capacity: 1 }]);
  });

  test('steps are contiguous, cover every backlog from 0, and never exceed maxCapacity or the step limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (target, max) => {
        const steps = scaleFromZeroSteps(target, max);
        expect(steps[0].lowerBound).toBe(0);
        expect(steps.at(-1)!.upperBound).toBeUndefined();
        expect(steps.length).toBeLessThanOrEqual(Math.min(max, MAX_FROM_ZERO_STEPS));
        steps.forEach((s, i) => {
          expect(s.capacity).toBe(i + 1);
          if (i > 0) expect(s.lowerBound).toBe(steps[i - 1].upperBound);
        });
      }),
    );
  });
});

describe('terminate lifecycle hook timing', () => {
  test.each([
    [60, 60],
    [120, 120],
    [300, 300],
    [3600, 300],
    [86400, 1728],
    [MAX_LIFECYCLE_WAIT_S, 3456],
  ])('job timeout %ss: heartbeat timeout %ss', (job, hb) => {
    expect(lifecycleHeartbeatTimeoutS(job)).toBe(hb);
  });

  test('heartbeats can cover every job timeout within the 100-heartbeat / 48-hour limit, and a dead worker is held at most 5 minutes (or longer only for very long jobs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: MAX_LIFECYCLE_WAIT_S }), (job) => {
        const hb = lifecycleHeartbeatTimeoutS(job);
        expect(hb).toBeGreaterThanOrEqual(MIN_HEARTBEAT_TIMEOUT_S);
        expect(hb).toBeLessThanOrEqual(MAX_HEARTBEAT_TIMEOUT_S);
        expect(Math.min(100 * hb, MAX_LIFECYCLE_WAIT_S)).toBeGreaterThanOrEqual(job);
        expect(hb).toBeLessThanOrEqual(Math.max(300, Math.ceil(job / 50)));
        // job-guard beats at least twice per timeout
        expect(heartbeatIntervalS(hb) * 2).toBeLessThan(hb);
      }),
    );
  });
});
