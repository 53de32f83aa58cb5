import {
  applyEvent,
  completeIncident,
  emptyState,
  judge,
  lastLines,
  latestDeadInstance,
  maxInWindowAround,
  renderNotification,
  resumeCommand,
  type Fact,
  type GroupState,
  type Incident,
} from '../../lambda/launch-loop/logic';
import { CONFIG, failed, feed, HEALTH, HOUR, incidentOf, launching, MIN, notify, SCALE_IN, T } from './helpers';

// The detector's remaining edges (ties between two facts of one kind, pruning by age and by count, a decision that
// counts nothing) and the notification as people read it, written out in full. Expected values are literals.

test('an empty state holds nothing', () => {
  expect(emptyState()).toEqual({ seenEventIds: [], instances: {}, shortLived: [], incidents: 0 });
});

describe('two facts of one kind at the same instant: the first one reported stands', () => {
  test('two launch failures of one instance at one time keep the first report as the evidence', () => {
    const { state } = feed([
      ['f1', { kind: 'launch-failed', instanceId: 'i-1', activityId: 'act-1', at: T, statusMessage: 'first report', cause: 'c1' }],
      ['f2', { kind: 'launch-failed', instanceId: 'i-1', activityId: 'act-2', at: T, statusMessage: 'second report', cause: 'c2' }],
    ]);
    expect(state.instances['i-1'].launchFailed).toEqual({ at: T, statusMessage: 'first report', cause: 'c1', activityId: 'act-1' });
  });

  test('a scale-in and a health-check termination reported for the same instant: the first one decides', () => {
    const first = feed([
      ['l', launching('i-1', T)],
      ['t1', { kind: 'terminated', instanceId: 'i-1', at: T + 5 * MIN, cause: SCALE_IN, activityId: 'act-scale' }],
      ['t2', { kind: 'terminated', instanceId: 'i-1', at: T + 5 * MIN, cause: HEALTH, activityId: 'act-health' }],
    ]);
    expect(first.state.instances['i-1']).toMatchObject({ terminatedAt: T + 5 * MIN, terminateCause: SCALE_IN, terminateActivityId: 'act-scale' });
    expect(first.state.shortLived).toEqual([]);
  });

  test('two deployment failures of one instance at one time keep the first deployment', () => {
    const { state } = feed([
      ['s', { kind: 'in-service', instanceId: 'i-1', at: T }],
      ['d1', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-REGULAR', at: T + MIN, launchDeployment: false }],
      ['d2', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-LAUNCH', at: T + MIN, launchDeployment: true }],
    ]);
    expect(state.instances['i-1'].deployFailed).toEqual({ at: T + MIN, deploymentId: 'd-REGULAR', launchDeployment: false });
    expect(state.shortLived).toEqual([]);
  });
});

test('a failed deployment of the group creates no instance record, whatever else its fact carries', () => {
  // The deployment-level fact names no instance; even one that arrives with an instance id is the group's, not an instance's.
  const fact = { kind: 'deployment-failed', deploymentId: 'd-9', at: T, instanceId: 'i-1' } as unknown as Fact;
  const d = applyEvent(emptyState(), 'e1', fact, CONFIG);
  expect(d.state.instances).toEqual({});
  expect(d.state.lastFailedDeploymentId).toBe('d-9');
});

describe('judge: the evidence of each kind of short-lived launch', () => {
  test('a launch failure names its status message, else its cause, else says the launch failed', () => {
    const r = (statusMessage: string, cause: string) => ({ lastSeen: T, launchFailed: { at: T, statusMessage, cause, activityId: 'act-1' } });
    expect(judge('i-1', r('no capacity', 'scale-out'), CONFIG)?.detail).toBe('no capacity');
    expect(judge('i-1', r('', 'scale-out'), CONFIG)?.detail).toBe('scale-out');
    expect(judge('activity:act-1', r('', ''), CONFIG)).toEqual({ key: 'activity:act-1', instanceId: undefined, at: T, reason: 'launch-failed', detail: 'launch failed', activityId: 'act-1', deploymentId: undefined });
  });

  test('a failed launch deployment names the deployment', () => {
    expect(judge('i-1', { lastSeen: T, deployFailed: { at: T, deploymentId: 'd-7', launchDeployment: true } }, CONFIG)).toEqual({
      key: 'i-1',
      instanceId: 'i-1',
      at: T,
      reason: 'deployment-failed',
      detail: 'deployment d-7 failed on the new instance',
      deploymentId: 'd-7',
    });
  });
});

describe('maxInWindowAround: only windows that contain the time', () => {
  test('a busier window that starts after the time is not counted', () => {
    // Around T only [T, T+30] qualifies: T and T+20. [T+20, T+50] holds four but does not contain T.
    const launches = [T, T + 20 * MIN, T + 40 * MIN, T + 45 * MIN, T + 50 * MIN].map((at) => ({ at }));
    expect(maxInWindowAround(launches, T, 30 * MIN)).toBe(2);
  });

  test('an out-of-order launch counted before later ones reports its own window', () => {
    // Launches at T+40, T+45, T+50 arrive first; the one at T arrives last: its window holds only itself.
    const { decisions } = feed([['e1', failed(40, T + 40 * MIN)], ['e2', failed(45, T + 45 * MIN)], ['e0', failed(0, T)]], { ...CONFIG, threshold: 5 });
    expect(decisions.map((d) => d.inWindow)).toEqual([1, 2, 1]);
  });
});

test('an event that counts nothing reports nothing in the window and confirms nothing', () => {
  const { decisions } = feed([['e1', failed(1, T)], ['e2', failed(2, T + MIN)], ['l', launching('i-9', T + 2 * MIN)]]);
  expect(decisions[2]).toMatchObject({ duplicate: false, counted: [], inWindow: 0, confirmed: undefined });
});

describe('completeIncident', () => {
  const pending: Incident = { number: 2, confirmedAt: T, launches: [] };
  test('clears the pending incident and the breaker outcome of that incident', () => {
    const state: GroupState = { ...emptyState(), incidents: 2, pending, pendingBreaker: { mode: 'SUSPEND_LAUNCH', result: 'done' } };
    expect(completeIncident(state, 2)).toEqual({ seenEventIds: [], instances: {}, shortLived: [], incidents: 2 });
  });
  test('leaves a different pending incident alone', () => {
    const state: GroupState = { ...emptyState(), incidents: 2, pending };
    expect(completeIncident(state, 1)).toBe(state);
  });
  test('a state with nothing pending is returned as it is', () => {
    const state = emptyState();
    expect(completeIncident(state, 1)).toBe(state);
  });
});

describe("the group's last failed deployment", () => {
  test('only a failed deployment of the group replaces it: instance facts, a deployment that failed on one instance, leave it', () => {
    const { state, decisions } = feed([
      ['g', { kind: 'deployment-failed', deploymentId: 'd-GROUP', at: T }],
      ['l', launching('i-1', T + MIN)],
      ['d', { kind: 'deploy-failed', instanceId: 'i-1', deploymentId: 'd-INSTANCE', at: T + 2 * MIN, launchDeployment: false }],
    ]);
    expect(decisions.map((d) => d.state.lastFailedDeploymentId)).toEqual(['d-GROUP', 'd-GROUP', 'd-GROUP']);
    expect(feed([['l', launching('i-1', T)]]).state.lastFailedDeploymentId).toBeUndefined();
    const later = feed([['g2', { kind: 'deployment-failed', deploymentId: 'd-LATER', at: T + 3 * MIN }]], CONFIG, state).state;
    expect(later.lastFailedDeploymentId).toBe('d-LATER');
  });

  test('an incident carries it as evidence', () => {
    const { decisions } = feed([
      ['g', { kind: 'deployment-failed', deploymentId: 'd-GROUP', at: T }],
      ['e1', failed(1, T + MIN)],
      ['e2', failed(2, T + 2 * MIN)],
      ['e3', failed(3, T + 3 * MIN)],
    ]);
    expect(decisions[3].confirmed?.lastFailedDeploymentId).toBe('d-GROUP');
    expect(decisions[3].state.pending?.lastFailedDeploymentId).toBe('d-GROUP');
  });
});

test('confirming an incident leaves the state it was given as it was', () => {
  const before = feed([['e1', failed(1, T)], ['e2', failed(2, T + MIN)]]).state;
  const copy = JSON.parse(JSON.stringify(before));
  const d = applyEvent(before, 'e3', failed(3, T + 2 * MIN), CONFIG);
  expect(d.confirmed?.number).toBe(1);
  expect(d.state.shortLived.map((l) => l.incident)).toEqual([1, 1, 1]);
  expect(before).toEqual(copy);
  expect(before.shortLived.map((l) => l.incident)).toEqual([undefined, undefined]);
});

test('a new incident confirmed while an older one is pending drops the older breaker outcome, so its actions run again', () => {
  // Incident 1 is pending with its launches suspended; three more launches confirm incident 2 before the actions of 1 completed.
  const start: GroupState = {
    ...emptyState(),
    incidents: 1,
    pending: { number: 1, confirmedAt: T - HOUR, launches: [] },
    pendingBreaker: { mode: 'SUSPEND_LAUNCH', result: 'done' },
  };
  const { state, decisions } = feed([['e1', failed(1, T)], ['e2', failed(2, T + MIN)], ['e3', failed(3, T + 2 * MIN)]], CONFIG, start);
  expect(decisions[1].state.pendingBreaker).toEqual({ mode: 'SUSPEND_LAUNCH', result: 'done' });
  expect(decisions[2].confirmed?.number).toBe(2);
  expect(state.pending?.number).toBe(2);
  expect(state.pendingBreaker).toBeUndefined();
  expect('pendingBreaker' in state).toBe(false);
});

describe('pruning by age: records and launches older than the retention', () => {
  // Default retention: the larger of the window (30 min) and shortLivedMs (15 min), plus 3 hours: 3 h 30 min.
  test('an instance last seen exactly 3 h 30 min before the latest event is kept; 1 ms more and it is dropped', () => {
    const kept = feed([['a', launching('i-old', T)], ['b', launching('i-new', T + 3 * HOUR + 30 * MIN)]]);
    expect(Object.keys(kept.state.instances)).toEqual(['i-old', 'i-new']);
    const dropped = feed([['a', launching('i-old', T)], ['b', launching('i-new', T + 3 * HOUR + 30 * MIN + 1)]]);
    expect(Object.keys(dropped.state.instances)).toEqual(['i-new']);
  });

  test('the default retention follows shortLivedMs when it is the longer of the two', () => {
    const config = { threshold: 3, windowMs: 10 * MIN, shortLivedMs: 60 * MIN };
    const kept = feed([['a', launching('i-old', T)], ['b', launching('i-new', T + 4 * HOUR)]], config);
    expect(Object.keys(kept.state.instances)).toEqual(['i-old', 'i-new']);
    const dropped = feed([['a', launching('i-old', T)], ['b', launching('i-new', T + 4 * HOUR + 1)]], config);
    expect(Object.keys(dropped.state.instances)).toEqual(['i-new']);
  });

  test('a short-lived launch exactly one retention old is kept; 1 ms older it is dropped', () => {
    const config = { ...CONFIG, retentionMs: HOUR };
    const kept = feed([['e1', failed(1, T)], ['l', launching('i-9', T + HOUR)]], config);
    expect(kept.state.shortLived.map((l) => l.key)).toEqual(['i-1']);
    const dropped = feed([['e1', failed(1, T)], ['l', launching('i-9', T + HOUR + 1)]], config);
    expect(dropped.state.shortLived).toEqual([]);
  });
});

describe('pruning by count', () => {
  test('keeps the 200 newest short-lived launches', () => {
    const events: Array<[string, Fact]> = Array.from({ length: 205 }, (_, n) => [`e${n}`, failed(n, T + n * 1_000)]);
    const { state } = feed(events);
    expect(state.shortLived).toHaveLength(200);
    expect(state.shortLived[0].key).toBe('i-5');
    expect(state.shortLived[199].key).toBe('i-204');
  });

  test('past the cap, drops the record seen longest ago, not the one created first', () => {
    const config = { ...CONFIG, maxInstanceRecords: 3 };
    const { state } = feed(
      [
        ['a', launching('i-a', T)],
        ['b', launching('i-b', T + 1_000)],
        ['c', launching('i-c', T + 2_000)],
        ['a2', { kind: 'in-service', instanceId: 'i-a', at: T + 3_000 }],
        ['d', launching('i-d', T + 4_000)],
      ],
      config,
    );
    expect(Object.keys(state.instances).sort()).toEqual(['i-a', 'i-c', 'i-d']);
  });

  test('among records seen at the same time, the first one found is dropped, never the one just added', () => {
    const config = { ...CONFIG, maxInstanceRecords: 2 };
    const { state } = feed([['a', launching('i-a', T)], ['b', launching('i-b', T)], ['c', launching('i-c', T)]], config);
    expect(Object.keys(state.instances).sort()).toEqual(['i-b', 'i-c']);
  });
});

describe('resumeCommand', () => {
  test('HOLD_CAPACITY restores the minimum and the desired capacity it held', () => {
    expect(resumeCommand('g', 'eu-west-1', { mode: 'HOLD_CAPACITY', result: 'done', previousMin: 2, previousDesired: 3, heldAt: 1 })).toBe(
      'aws autoscaling update-auto-scaling-group --region eu-west-1 --auto-scaling-group-name g --min-size 2 --desired-capacity 3',
    );
  });
  test('HOLD_CAPACITY without a known minimum restores the desired capacity only', () => {
    expect(resumeCommand('g', 'eu-west-1', { mode: 'HOLD_CAPACITY', result: 'done', previousDesired: 3, heldAt: 1 })).toBe(
      'aws autoscaling update-auto-scaling-group --region eu-west-1 --auto-scaling-group-name g --desired-capacity 3',
    );
  });
  test('no command when the hold never read the capacity', () => {
    expect(resumeCommand('g', 'eu-west-1', { mode: 'HOLD_CAPACITY', result: 'failed', error: 'AccessDenied' })).toBeUndefined();
  });
  test('no command for a breaker that is off, whatever capacity it reports', () => {
    expect(resumeCommand('g', 'eu-west-1', { mode: 'OFF', result: 'off', previousMin: 1, previousDesired: 3 })).toBeUndefined();
  });
});

test('latestDeadInstance: the latest launch that had an instance, skipping later launches without one', () => {
  const incident = incidentOf([
    { key: 'i-1', instanceId: 'i-1', at: T - 2 * MIN, reason: 'launch-failed', detail: 'x' },
    { key: 'i-2', instanceId: 'i-2', at: T - MIN, reason: 'launch-failed', detail: 'x' },
    { key: 'activity:a3', at: T, reason: 'launch-failed', detail: 'x', activityId: 'a3' },
  ]);
  expect(latestDeadInstance(incident)).toBe('i-2');
});

describe('lastLines', () => {
  test('a lone carriage return ends a line too', () => {
    expect(lastLines('a\rb\rc', 2)).toEqual(['b', 'c']);
  });
  test('trailing blank lines, spaces only included, are not lines of output', () => {
    expect(lastLines('a\nb\n   \n\t\n', 2)).toEqual(['a', 'b']);
  });
  test('output of blank lines only has no lines', () => {
    expect(lastLines('\n \n\n', 3)).toEqual([]);
    expect(lastLines('', 3)).toEqual([]);
  });
});

describe('the notification, in full', () => {
  const incident = incidentOf([
    { key: 'i-0a', instanceId: 'i-0a', at: T - 20 * MIN, reason: 'deployment-failed', detail: 'deployment d-1 failed on the new instance', deploymentId: 'd-1' },
    { key: 'activity:a2', at: T - 10 * MIN, reason: 'launch-failed', detail: '  We currently do not have\n  sufficient   capacity  ', activityId: 'a2' },
    { key: 'activity:?', at: T, reason: 'launch-failed', detail: 'no activity id' },
  ]);

  test('a suspended group with a deployment, its failed event, the activity and the console output', () => {
    const { subject, message } = notify(incident, { mode: 'SUSPEND_LAUNCH', result: 'done' }, {
      deployment: {
        id: 'd-1',
        status: 'Failed',
        creator: 'autoscaling',
        failedEvent: { instanceId: 'i-0a', lifecycleEvent: 'ValidateService', logTail: 'one\ntwo\n\n' },
      },
      activity: { description: 'Launching a new EC2 instance: i-0a.', statusCode: 'Cancelled', statusMessage: 'abandoned' },
      consoleOutput: { instanceId: 'i-0a', lines: ['boot', 'failed'] },
    });
    expect(subject).toBe('Launch loop stopped in my-asg: 3 short-lived launches in 30 min');
    expect(message).toBe(
      [
        'A launch loop was confirmed in Auto Scaling group my-asg (eu-west-1).',
        '3 launches in 30 minutes never served (threshold 3); each one was paid for.',
        '',
        'Circuit breaker:',
        "  The group's Launch process is SUSPENDED: no new instance will start until you resume it.",
        '  When the cause is fixed, resume launches with:',
        '    aws autoscaling resume-processes --region eu-west-1 --auto-scaling-group-name my-asg --scaling-processes Launch',
        '',
        'Short-lived launches:',
        '  2026-11-22T02:40:00.000Z  i-0a  deployment-failed: deployment d-1 failed on the new instance',
        '  2026-11-22T02:50:00.000Z  (no instance; activity a2)  launch-failed: We currently do not have sufficient capacity',
        '  2026-11-22T03:00:00.000Z  (no instance; activity unknown)  launch-failed: no activity id',
        '',
        'CodeDeploy deployment d-1 (Failed, created by autoscaling):',
        '  error code: none reported',
        '  error message: none reported',
        '  on i-0a: lifecycle event ValidateService failed (no error code)',
        '  deployment log tail:',
        '  | one',
        '  | two',
        '',
        'Auto Scaling activity:',
        '  Launching a new EC2 instance: i-0a.',
        '  cause: unknown',
        '  status: Cancelled: abandoned',
        '',
        'Console output of i-0a (last 2 lines):',
        '  | boot',
        '  | failed',
        '',
        'Diagnose: the CodeDeploy deployment log (/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log),',
        "the console output above, and the group's activity history (aws autoscaling describe-scaling-activities).",
      ].join('\n'),
    );
  });

  test('a hold that failed, a deployment without status, a blank log tail, an activity without description or status', () => {
    const { subject, message } = notify(incident, { mode: 'HOLD_CAPACITY', result: 'failed' }, {
      deployment: {
        id: 'd-2',
        errorCode: 'HEALTH_CONSTRAINTS',
        errorMessage: 'too many\n failed',
        failedEvent: { instanceId: 'i-0a', lifecycleEvent: 'AfterInstall', errorCode: 'ScriptFailed', scriptName: 'migrate.sh', message: 'exit\ncode 1', logTail: '\n  \n' },
      },
      activity: { cause: 'At 2026-11-22T02:59:00Z an instance was started' },
      consoleOutput: { instanceId: 'i-0a', unavailable: 'the instance is gone' },
    });
    expect(subject).toBe('Launch loop in my-asg: 3 short-lived launches in 30 min');
    expect(message).toBe(
      [
        'A launch loop was confirmed in Auto Scaling group my-asg (eu-west-1).',
        '3 launches in 30 minutes never served (threshold 3); each one was paid for.',
        '',
        'Circuit breaker:',
        '  FAILED to stop launches (unknown error): the loop may still be running. Stop it by hand:',
        '    aws autoscaling suspend-processes --region eu-west-1 --auto-scaling-group-name my-asg --scaling-processes Launch',
        '',
        'Short-lived launches:',
        '  2026-11-22T02:40:00.000Z  i-0a  deployment-failed: deployment d-1 failed on the new instance',
        '  2026-11-22T02:50:00.000Z  (no instance; activity a2)  launch-failed: We currently do not have sufficient capacity',
        '  2026-11-22T03:00:00.000Z  (no instance; activity unknown)  launch-failed: no activity id',
        '',
        'CodeDeploy deployment d-2:',
        '  error code: HEALTH_CONSTRAINTS',
        '  error message: too many failed',
        '  on i-0a: lifecycle event AfterInstall failed (ScriptFailed, script migrate.sh): exit code 1',
        '',
        'Auto Scaling activity:',
        '  cause: At 2026-11-22T02:59:00Z an instance was started',
        '',
        'Console output of i-0a: unavailable (the instance is gone).',
        '',
        'Diagnose: the CodeDeploy deployment log (/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log),',
        "the console output above, and the group's activity history (aws autoscaling describe-scaling-activities).",
      ].join('\n'),
    );
  });

  test('a suspension that failed still names the resume command for later', () => {
    const { message } = notify(incident, { mode: 'SUSPEND_LAUNCH', result: 'failed', error: 'AccessDenied: not authorized' });
    expect(message.split('\n').slice(3, 7)).toEqual([
      'Circuit breaker:',
      '  FAILED to stop launches (AccessDenied: not authorized): the loop may still be running. Stop it by hand:',
      '    (to resume later: aws autoscaling resume-processes --region eu-west-1 --auto-scaling-group-name my-asg --scaling-processes Launch)',
      '    aws autoscaling suspend-processes --region eu-west-1 --auto-scaling-group-name my-asg --scaling-processes Launch',
    ]);
  });

  test('a hold with no capacity to restore prints no resume command', () => {
    const { message } = notify(incident, { mode: 'HOLD_CAPACITY', result: 'done', heldAt: 2 });
    expect(message).not.toContain('When the cause is fixed');
    expect(message.split('\n')[5]).toBe('');
  });

  test('a failed event without a log tail, an activity status without a message, a hold that held', () => {
    const { message } = notify(incident, { mode: 'HOLD_CAPACITY', result: 'done', previousMin: 2, previousDesired: 4, heldAt: 1 }, {
      deployment: { id: 'd-3', status: 'Failed', failedEvent: { instanceId: 'i-0a', lifecycleEvent: 'ApplicationStart', scriptName: 'start.sh' } },
      activity: { description: 'Launching a new EC2 instance: i-0a.', cause: 'scale-out', statusCode: 'Failed' },
    });
    expect(message.split('\n').slice(3, 8)).toEqual([
      'Circuit breaker:',
      '  Desired capacity is HELD at 1 (the instances in service); it was 4.',
      '  When the cause is fixed, resume launches with:',
      '    aws autoscaling update-auto-scaling-group --region eu-west-1 --auto-scaling-group-name my-asg --min-size 2 --desired-capacity 4',
      '',
    ]);
    expect(message.split('\n').slice(13, 25)).toEqual([
      'CodeDeploy deployment d-3 (Failed):',
      '  error code: none reported',
      '  error message: none reported',
      '  on i-0a: lifecycle event ApplicationStart failed (no error code, script start.sh)',
      '',
      'Auto Scaling activity:',
      '  Launching a new EC2 instance: i-0a.',
      '  cause: scale-out',
      '  status: Failed',
      '',
      'Diagnose: the CodeDeploy deployment log (/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log),',
      "the console output above, and the group's activity history (aws autoscaling describe-scaling-activities).",
    ]);
  });

  test('a group that no longer exists, and a breaker off by configuration', () => {
    expect(notify(incident, { mode: 'SUSPEND_LAUNCH', result: 'group-gone' }).message.split('\n').slice(3, 6)).toEqual([
      'Circuit breaker:',
      '  The group no longer exists: nothing to stop.',
      '',
    ]);
    const off = notify(incident, { mode: 'OFF', result: 'off' });
    expect(off.subject).toBe('Launch loop in my-asg: 3 short-lived launches in 30 min');
    expect(off.message.split('\n').slice(3, 6)).toEqual([
      'Circuit breaker:',
      '  Off by configuration: the group keeps launching (and paying) until someone acts.',
      '',
    ]);
  });

  test('the window is named in whole minutes, rounded', () => {
    const config = { ...CONFIG, windowMs: 90_000 };
    const { subject, message } = renderNotification({ groupName: 'g', region: 'eu-west-1', incident, config, breaker: { mode: 'OFF', result: 'off' }, evidence: {} });
    expect(subject).toBe('Launch loop in g: 3 short-lived launches in 2 min');
    expect(message.split('\n')[1]).toBe('3 launches in 2 minutes never served (threshold 3); each one was paid for.');
  });

  test('a breaker that is off never reads as stopped', () => {
    const { subject } = notify(incident, { mode: 'OFF', result: 'done' });
    expect(subject).toBe('Launch loop in my-asg: 3 short-lived launches in 30 min');
  });

  test('the subject: non-ASCII characters become "?", 99 characters fit, 100 are cut to 96 and "..."', () => {
    const off = { mode: 'OFF', result: 'off' } as const;
    expect(notify(incident, off, {}, 'grüße').subject).toBe('Launch loop in gr??e: 3 short-lived launches in 30 min');
    // "Launch loop in " (15) + name + ": 3 short-lived launches in 30 min" (34): a 50-character name makes 99.
    const fits = notify(incident, off, {}, 'g'.repeat(50)).subject;
    expect(fits).toBe(`Launch loop in ${'g'.repeat(50)}: 3 short-lived launches in 30 min`);
    expect(fits).toHaveLength(99);
    const cut = notify(incident, off, {}, 'g'.repeat(51)).subject;
    expect(cut).toBe(`Launch loop in ${'g'.repeat(51)}: 3 short-lived launches in 30...`);
    expect(cut).toHaveLength(99);
  });
});
