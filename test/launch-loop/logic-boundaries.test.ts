import { judge, maxInWindowAround } from '../../lambda/launch-loop/logic';
import { CONFIG, failed, feed, HEALTH, MIN, SCALE_IN, T } from './helpers';

// Every threshold of the detector, exactly at it, one millisecond below and one above; out-of-order and duplicated
// event streams; two facts of one kind about one instance. Expected values are written out, not read from the module.

describe('short-lived threshold: a health-check termination shortLivedMs (15 min) after launch', () => {
  const record = (lifeMs: number) => ({ lastSeen: T + lifeMs, launchedAt: T, terminatedAt: T + lifeMs, terminateCause: HEALTH });

  test('exactly 15 minutes after launch counts', () => {
    expect(judge('i-1', record(15 * MIN), CONFIG)?.reason).toBe('unhealthy-after-launch');
  });
  test('one millisecond under counts', () => {
    expect(judge('i-1', record(15 * MIN - 1), CONFIG)?.reason).toBe('unhealthy-after-launch');
  });
  test('one millisecond over does not count: the instance served', () => {
    expect(judge('i-1', record(15 * MIN + 1), CONFIG)).toBeUndefined();
  });
  test('the launch time is the InService time when no launch event was seen', () => {
    const r = { lastSeen: T + 15 * MIN, inServiceAt: T, terminatedAt: T + 15 * MIN, terminateCause: HEALTH };
    expect(judge('i-1', r, CONFIG)?.at).toBe(T + 15 * MIN);
    expect(judge('i-1', { ...r, terminatedAt: T + 15 * MIN + 1 }, CONFIG)).toBeUndefined();
  });
  test('the judgement carries the termination as evidence', () => {
    const r = { ...record(MIN), terminateActivityId: 'act-t' };
    expect(judge('i-1', r, CONFIG)).toEqual({
      key: 'i-1',
      instanceId: 'i-1',
      at: T + MIN,
      reason: 'unhealthy-after-launch',
      detail: HEALTH,
      activityId: 'act-t',
    });
  });
});

describe('maxInWindowAround: launches within windowMs of each other, edges included', () => {
  const W = 30 * MIN;
  test('two launches exactly one window apart share a window, seen from either end', () => {
    const launches = [{ at: T }, { at: T + W }];
    expect(maxInWindowAround(launches, T, W)).toBe(2);
    expect(maxInWindowAround(launches, T + W, W)).toBe(2);
  });
  test('one millisecond more than a window apart they do not', () => {
    const launches = [{ at: T }, { at: T + W + 1 }];
    expect(maxInWindowAround(launches, T, W)).toBe(1);
    expect(maxInWindowAround(launches, T + W + 1, W)).toBe(1);
  });
  test('one millisecond less than a window apart they do', () => {
    const launches = [{ at: T }, { at: T + W - 1 }];
    expect(maxInWindowAround(launches, T + W - 1, W)).toBe(2);
  });
  test('a window must contain the launch it is counted around', () => {
    // T-W, T and T+W: around T+W only [T, T+W] qualifies (two); around T, [T-W, T] and [T, T+W] both hold two.
    const launches = [{ at: T - W }, { at: T }, { at: T + W }];
    expect(maxInWindowAround(launches, T + W, W)).toBe(2);
    expect(maxInWindowAround(launches, T, W)).toBe(2);
    expect(maxInWindowAround([{ at: T }, { at: T + 1 }, { at: T + 2 }], T + 2, W)).toBe(3);
  });
  test('nothing in the window around a time with no launch near it', () => {
    expect(maxInWindowAround([{ at: T }], T + W + 1, W)).toBe(0);
  });
});

describe('loop confirmation at the window edge: threshold 3 within 30 minutes', () => {
  test('three launches spanning exactly 30 minutes confirm a loop', () => {
    const { decisions } = feed([['e1', failed(1, T)], ['e2', failed(2, T + 15 * MIN)], ['e3', failed(3, T + 30 * MIN)]]);
    expect(decisions.map((d) => d.confirmed?.number)).toEqual([undefined, undefined, 1]);
    expect(decisions.map((d) => d.inWindow)).toEqual([1, 2, 3]);
  });
  test('three launches spanning 30 minutes and 1 ms do not', () => {
    const { decisions, state } = feed([['e1', failed(1, T)], ['e2', failed(2, T + 15 * MIN)], ['e3', failed(3, T + 30 * MIN + 1)]]);
    expect(decisions.map((d) => d.confirmed)).toEqual([undefined, undefined, undefined]);
    expect(decisions.map((d) => d.inWindow)).toEqual([1, 2, 2]);
    expect(state.incidents).toBe(0);
  });
  test('two launches never confirm, however close', () => {
    const { state } = feed([['e1', failed(1, T)], ['e2', failed(2, T)]]);
    expect(state.incidents).toBe(0);
    expect(state.pending).toBeUndefined();
  });
});

describe('out-of-order event streams', () => {
  test('launches delivered latest first, spread over 100 minutes, do not confirm a loop', () => {
    // Arrival order T+100, T, T+50 (each more than a window from the others): sorted, no window holds three.
    const { decisions, state } = feed([['e1', failed('late', T + 100 * MIN)], ['e2', failed('early', T)], ['e3', failed('middle', T + 50 * MIN)]]);
    expect(decisions.map((d) => d.confirmed)).toEqual([undefined, undefined, undefined]);
    expect(state.incidents).toBe(0);
    expect(state.shortLived.map((l) => l.key)).toEqual(['i-late', 'i-early', 'i-middle']);
  });

  test('launches delivered out of order within one window confirm one loop listing them in time order', () => {
    const { decisions } = feed([['e1', failed('c', T + 20 * MIN)], ['e2', failed('a', T)], ['e3', failed('b', T + 10 * MIN)]]);
    const confirmed = decisions[2].confirmed;
    expect(confirmed?.number).toBe(1);
    expect(confirmed?.confirmedAt).toBe(T + 10 * MIN);
    expect(confirmed?.launches.map((l) => l.key)).toEqual(['i-a', 'i-b', 'i-c']);
  });

  test('the earliest full window is the one confirmed when a late event completes an older window', () => {
    // T+40, T and T+10 arrive first (no 30-minute window holds three); T+5 arrives last and completes [T, T+10].
    const { decisions, state } = feed([
      ['e1', failed(40, T + 40 * MIN)],
      ['e2', failed(0, T)],
      ['e3', failed(10, T + 10 * MIN)],
      ['e4', failed(5, T + 5 * MIN)],
    ]);
    expect(decisions.map((d) => d.confirmed?.number)).toEqual([undefined, undefined, undefined, 1]);
    expect(decisions[3].confirmed?.launches.map((l) => l.key)).toEqual(['i-0', 'i-5', 'i-10']);
    // The launch outside that window is not consumed: it is left for the next incident.
    expect(state.shortLived.find((l) => l.key === 'i-40')?.incident).toBeUndefined();
  });
});

describe('an incident consumes only the launches of its window', () => {
  test('a short-lived launch an hour before the loop stays unconsumed, and launches of an earlier incident keep their number', () => {
    const { decisions, state } = feed([
      ['e0', failed('old', T)],
      ['e1', failed(1, T + 60 * MIN)],
      ['e2', failed(2, T + 65 * MIN)],
      ['e3', failed(3, T + 70 * MIN)],
      ['e4', failed(4, T + 71 * MIN)],
      ['e5', failed(5, T + 72 * MIN)],
      ['e6', failed(6, T + 73 * MIN)],
    ]);
    expect(decisions.map((d) => d.confirmed?.number)).toEqual([undefined, undefined, undefined, 1, undefined, undefined, 2]);
    expect(decisions[3].confirmed?.launches.map((l) => l.key)).toEqual(['i-1', 'i-2', 'i-3']);
    expect(decisions[6].confirmed?.launches.map((l) => l.key)).toEqual(['i-4', 'i-5', 'i-6']);
    expect(Object.fromEntries(state.shortLived.map((l) => [l.key, l.incident]))).toEqual({
      'i-old': undefined,
      'i-1': 1,
      'i-2': 1,
      'i-3': 1,
      'i-4': 2,
      'i-5': 2,
      'i-6': 2,
    });
    expect(state.incidents).toBe(2);
    expect(state.pending?.number).toBe(2);
  });
});

describe('duplicated events and two facts of one kind about one instance', () => {
  test('the same failure under three event ids counts once', () => {
    const { decisions, state } = feed([['e1', failed(1, T)], ['e1-retry', failed(1, T)], ['e1-again', failed(1, T + MIN)]]);
    expect(decisions.map((d) => d.counted.length)).toEqual([1, 0, 0]);
    expect(state.shortLived).toHaveLength(1);
    expect(state.instances['i-1'].launchFailed?.at).toBe(T);
    expect(state.instances['i-1'].lastSeen).toBe(T + MIN);
  });

  test('two launch events for one instance: the earliest is its launch time', () => {
    // Launched at T-20 (redelivered late), also reported at T+5; terminated for health at T+10: 30 minutes of life, it served.
    const { state, decisions } = feed([
      ['l1', { kind: 'launching', instanceId: 'i-1', at: T + 5 * MIN }],
      ['l2', { kind: 'launching', instanceId: 'i-1', at: T - 20 * MIN }],
      ['t', { kind: 'terminated', instanceId: 'i-1', at: T + 10 * MIN, cause: HEALTH }],
    ]);
    expect(state.instances['i-1'].launchedAt).toBe(T - 20 * MIN);
    // The late redelivery of an older event does not move the record's last sighting back.
    expect(decisions[1].state.instances['i-1'].lastSeen).toBe(T + 5 * MIN);
    expect(state.instances['i-1'].lastSeen).toBe(T + 10 * MIN);
    expect(decisions[2].counted).toEqual([]);
  });

  test('the earlier of two launch events wins in either arrival order', () => {
    const { state } = feed([
      ['l1', { kind: 'launching', instanceId: 'i-1', at: T - 20 * MIN }],
      ['l2', { kind: 'launching', instanceId: 'i-1', at: T + 5 * MIN }],
    ]);
    expect(state.instances['i-1'].launchedAt).toBe(T - 20 * MIN);
    expect(state.instances['i-1'].lastSeen).toBe(T + 5 * MIN);
  });

  test('two InService events: the earliest service time and the earliest launch time they report', () => {
    const { state } = feed([
      ['s1', { kind: 'in-service', instanceId: 'i-1', at: T + 3 * MIN, launchedAt: T + MIN }],
      ['s2', { kind: 'in-service', instanceId: 'i-1', at: T + 2 * MIN, launchedAt: T }],
      ['s3', { kind: 'in-service', instanceId: 'i-1', at: T + 4 * MIN }],
    ]);
    expect(state.instances['i-1']).toMatchObject({ inServiceAt: T + 2 * MIN, launchedAt: T, lastSeen: T + 4 * MIN });
  });

  test('two terminations of one instance: the earlier one decides, so a scale-in reported later cannot hide a health-check kill', () => {
    const { state, decisions } = feed([
      ['l', { kind: 'launching', instanceId: 'i-1', at: T }],
      ['t1', { kind: 'terminated', instanceId: 'i-1', at: T + 10 * MIN, cause: SCALE_IN, activityId: 'act-late' }],
      ['t2', { kind: 'terminated', instanceId: 'i-1', at: T + 5 * MIN, cause: HEALTH, activityId: 'act-early' }],
      ['t3', { kind: 'terminated', instanceId: 'i-1', at: T + 12 * MIN, cause: SCALE_IN, activityId: 'act-later' }],
    ]);
    expect(decisions.map((d) => d.counted.length)).toEqual([0, 0, 1, 0]);
    expect(state.instances['i-1']).toMatchObject({ terminatedAt: T + 5 * MIN, terminateCause: HEALTH, terminateActivityId: 'act-early' });
    expect(state.shortLived[0]).toMatchObject({ key: 'i-1', at: T + 5 * MIN, activityId: 'act-early' });
  });

  test('two launch failures of one activity: the earlier one is the evidence', () => {
    const { state } = feed([
      ['f1', { kind: 'launch-failed', activityId: 'act-9', at: T + MIN, statusMessage: 'second report', cause: 'c2' }],
      ['f2', { kind: 'launch-failed', activityId: 'act-9', at: T, statusMessage: 'first report', cause: 'c1' }],
      ['f3', { kind: 'launch-failed', activityId: 'act-9', at: T + 2 * MIN, statusMessage: 'third report', cause: 'c3' }],
    ]);
    expect(Object.keys(state.instances)).toEqual(['activity:act-9']);
    expect(state.instances['activity:act-9'].launchFailed).toEqual({ at: T, statusMessage: 'first report', cause: 'c1', activityId: 'act-9' });
    expect(state.shortLived).toHaveLength(1);
    expect(state.shortLived[0]).toMatchObject({ key: 'activity:act-9', instanceId: undefined, detail: 'second report' });
  });

  test('two deployment failures of one instance: the earlier is kept, and a later report of the same deployment fills in who created it', () => {
    const { state, decisions } = feed([
      ['s', { kind: 'in-service', instanceId: 'i-1', at: T }],
      ['d1', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-1', at: T + 2 * MIN }],
      ['d0', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-0', at: T + MIN }],
      ['d1b', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-0', at: T + 3 * MIN, launchDeployment: true }],
    ]);
    // d-0 failed first; its second report says Auto Scaling created it: a launch deployment after all.
    expect(state.instances['i-1'].deployFailed).toEqual({ at: T + MIN, deploymentId: 'd-0', launchDeployment: true });
    expect(decisions.map((d) => d.counted.map((c) => c.reason))).toEqual([[], [], [], ['deployment-failed']]);
  });

  test('a later report of a different deployment does not fill in the creator of the first', () => {
    const { state } = feed([
      ['s', { kind: 'in-service', instanceId: 'i-1', at: T }],
      ['d0', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-0', at: T + MIN }],
      ['d1', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-1', at: T + 2 * MIN, launchDeployment: true }],
    ]);
    expect(state.instances['i-1'].deployFailed).toEqual({ at: T + MIN, deploymentId: 'd-0' });
    expect(state.shortLived).toEqual([]);
  });

  test('a creator already known is not overwritten by a later report', () => {
    const { state } = feed([
      ['s', { kind: 'in-service', instanceId: 'i-1', at: T }],
      ['d0', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-0', at: T + MIN, launchDeployment: false }],
      ['d0b', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-0', at: T + 2 * MIN, launchDeployment: true }],
    ]);
    expect(state.instances['i-1'].deployFailed).toEqual({ at: T + MIN, deploymentId: 'd-0', launchDeployment: false });
    expect(state.shortLived).toEqual([]);
  });
});
