import {
  applyEvent,
  deploymentToExplain,
  emptyState,
  isHealthCheckCause,
  judge,
  lastLines,
  MAX_INSTANCE_RECORDS,
  maxInWindowAround,
  resumeCommand,
  type InstanceRecord,
} from '../../lambda/launch-loop/logic';
import { CONFIG, incidentOf, MIN, notify, T } from './helpers';

describe('judge: what counts as a short-lived launch', () => {
  const cases: Array<[string, InstanceRecord, string | undefined]> = [
    ['a launch that failed outright', { lastSeen: T, launchFailed: { at: T, statusMessage: 'We currently do not have sufficient t3.small capacity', cause: 'c', activityId: 'a' } }, 'launch-failed'],
    ['a launch deployment that failed (created by Auto Scaling)', { lastSeen: T, deployFailed: { at: T, deploymentId: 'd-1', launchDeployment: true } }, 'deployment-failed'],
    ['a deployment failure on an instance that never went InService (creator unknown)', { lastSeen: T, launchedAt: T - MIN, deployFailed: { at: T, deploymentId: 'd-1' } }, 'deployment-failed'],
    ['a regular deployment that failed on a serving instance', { lastSeen: T, inServiceAt: T - 60 * MIN, deployFailed: { at: T, deploymentId: 'd-1' } }, undefined],
    ['a regular deployment (created by a user) on an instance whose InService event was missed', { lastSeen: T, deployFailed: { at: T, deploymentId: 'd-1', launchDeployment: false } }, undefined],
    ['a health-check termination 10 minutes after launch', { lastSeen: T, launchedAt: T - 10 * MIN, terminatedAt: T, terminateCause: 'an instance was taken out of service in response to an ELB system health check failure.' }, 'unhealthy-after-launch'],
    ['a health-check termination 2 hours after launch (it served)', { lastSeen: T, launchedAt: T - 120 * MIN, terminatedAt: T, terminateCause: 'in response to an EC2 health check indicating it has been terminated or stopped.' }, undefined],
    ['a scale-in 1 minute after launch', { lastSeen: T, launchedAt: T - MIN, terminatedAt: T, terminateCause: 'shrinking the capacity from 20 to 0.' }, undefined],
    ['an instance refresh right after launch', { lastSeen: T, launchedAt: T - 2 * MIN, inServiceAt: T - MIN, terminatedAt: T, terminateCause: 'in response to an instance refresh.' }, undefined],
    ['a health-check termination whose launch time was never seen', { lastSeen: T, terminatedAt: T, terminateCause: 'ELB system health check failure' }, undefined],
  ];
  test.each(cases)('%s', (_name, record, reason) => {
    expect(judge('i-1', record, CONFIG)?.reason).toBe(reason);
  });

  test('reads health-check causes, not scale-in causes', () => {
    expect(isHealthCheckCause('an instance was taken out of service in response to an ELB system health check failure.')).toBe(true);
    expect(isHealthCheckCause('shrinking the capacity from 3 to 2.')).toBe(false);
    expect(isHealthCheckCause(undefined)).toBe(false);
    expect(isHealthCheckCause('')).toBe(false);
  });

  const causes: Array<[string, boolean]> = [
    ['At 2026-11-22T03:10:00Z an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.', true],
    ['At 2026-11-22T03:10:00Z an instance was taken out of service in response to a user health-check.', true],
    ['At 2026-11-22T03:10:00Z instance i-0a was marked Unhealthy by a custom health check script.', true],
    ['At 2026-11-22T03:10:00Z an instance was taken out of service because it was UNHEALTHY.', true],
    ['At 2026-11-22T03:10:00Z an instance was taken out of service in response to an instance refresh.', false],
    ['At 2026-11-22T03:10:00Z instance i-0a was taken out of service in response to a user request.', false],
  ];
  test.each(causes)('the cause "%s" is a health-check termination: %s', (cause, expected) => {
    expect(isHealthCheckCause(cause)).toBe(expected);
  });
});

describe('applyEvent', () => {
  test('confirms at the third short-lived launch within the window, not before', () => {
    let state = emptyState();
    const results = [1, 2, 3].map((n) => {
      const d = applyEvent(state, `e${n}`, { kind: 'launch-failed', instanceId: `i-${n}`, activityId: `a${n}`, at: T + n * 10 * MIN, statusMessage: 'x', cause: 'y' }, CONFIG);
      state = d.state;
      return d;
    });
    expect(results.map((r) => r.confirmed?.number)).toEqual([undefined, undefined, 1]);
    expect(results.map((r) => r.inWindow)).toEqual([1, 2, 3]);
    expect(results[2].confirmed?.launches.map((l) => l.key)).toEqual(['i-1', 'i-2', 'i-3']);
    expect(state.pending?.number).toBe(1);
  });

  test('does not confirm three short-lived launches spread over more than the window', () => {
    let state = emptyState();
    for (const n of [0, 20, 40]) {
      const d = applyEvent(state, `e${n}`, { kind: 'launch-failed', instanceId: `i-${n}`, activityId: `a${n}`, at: T + n * MIN, statusMessage: 'x', cause: 'y' }, CONFIG);
      expect(d.confirmed).toBeUndefined();
      state = d.state;
    }
    expect(state.shortLived).toHaveLength(3);
  });

  test('an event id seen before changes nothing', () => {
    const first = applyEvent(emptyState(), 'e1', { kind: 'launch-failed', instanceId: 'i-1', activityId: 'a', at: T, statusMessage: 'x', cause: 'y' }, CONFIG);
    const again = applyEvent(first.state, 'e1', { kind: 'launch-failed', instanceId: 'i-1', activityId: 'a', at: T, statusMessage: 'x', cause: 'y' }, CONFIG);
    expect(again.duplicate).toBe(true);
    expect(again.state).toBe(first.state);
  });

  test('remembers as many event ids as maxEventIds says, the latest ones', () => {
    let state = emptyState();
    for (const n of [1, 2, 3]) {
      state = applyEvent(state, `e${n}`, { kind: 'launching', instanceId: `i-${n}`, at: T + n * MIN }, { ...CONFIG, maxEventIds: 2 }).state;
    }
    expect(state.seenEventIds).toEqual(['e2', 'e3']);
  });

  test('remembers the last failed deployment of the group for the evidence', () => {
    const d = applyEvent(emptyState(), 'e1', { kind: 'deployment-failed', deploymentId: 'd-9', at: T }, CONFIG);
    expect(d.state.lastFailedDeploymentId).toBe('d-9');
  });

  test('keeps the state bounded: old instances and event ids are dropped', () => {
    let state = emptyState();
    for (let n = 0; n < 700; n++) {
      state = applyEvent(state, `e${n}`, { kind: 'in-service', instanceId: `i-${n}`, at: T + n * MIN }, CONFIG).state;
    }
    expect(state.seenEventIds).toHaveLength(500);
    expect(Object.keys(state.instances).length).toBeLessThan(300);
    expect(JSON.stringify(state).length).toBeLessThan(100_000); // well under DynamoDB's 400 KB item limit
  });

  test('keeps the newest instance records, and counted ones, once a busy group passes the cap', () => {
    let state = emptyState();
    const config = { ...CONFIG, maxInstanceRecords: 50 };
    state = applyEvent(state, 'dead', { kind: 'launch-failed', instanceId: 'i-dead', activityId: 'a', at: T, statusMessage: 'x', cause: 'y' }, config).state;
    for (let n = 0; n < 200; n++) {
      state = applyEvent(state, `s${n}`, { kind: 'in-service', instanceId: `i-${n}`, at: T + n * 1_000 }, config).state;
    }
    expect(Object.keys(state.instances)).toHaveLength(50);
    expect(Object.keys(state.instances)).toEqual(expect.arrayContaining(['i-dead', 'i-199']));
    expect(Object.keys(state.instances)).not.toContain('i-100');
    // The counted record still stops a late duplicate about the same instance from counting again.
    const again = applyEvent(state, 'late', { kind: 'terminated', instanceId: 'i-dead', at: T + 300_000, cause: 'health check' }, config);
    expect(again.counted).toHaveLength(0);
  });

  test('stays within one DynamoDB item at the default cap of instance records', () => {
    let state = emptyState();
    for (let n = 0; n < MAX_INSTANCE_RECORDS + 10; n++) {
      const id = `i-0${String(n).padStart(16, '0')}`;
      state = applyEvent(state, `l${n}`, { kind: 'launching', instanceId: id, at: T + n * 1_000 }, CONFIG).state;
      state = applyEvent(state, `s${n}`, { kind: 'in-service', instanceId: id, at: T + n * 1_000 + 500, launchedAt: T + n * 1_000 }, CONFIG).state;
    }
    expect(Object.keys(state.instances)).toHaveLength(MAX_INSTANCE_RECORDS);
    expect(Buffer.byteLength(JSON.stringify(state))).toBeLessThan(300_000); // DynamoDB's item limit is 400 KB
  });
});

describe('the notification', () => {
  const incident = incidentOf([
    { key: 'i-1', instanceId: 'i-1', at: T - 20 * MIN, reason: 'deployment-failed', detail: 'deployment d-1 failed on the new instance', deploymentId: 'd-1' },
    { key: 'activity:a2', at: T - 10 * MIN, reason: 'launch-failed', detail: 'We currently do not have sufficient capacity', activityId: 'a2' },
    { key: 'i-3', instanceId: 'i-3', at: T, reason: 'unhealthy-after-launch', detail: 'ELB system health check failure' },
  ]);
  test('names the group, count, window, instances, and the one resume command', () => {
    const { subject, message } = notify(incident, { mode: 'SUSPEND_LAUNCH', result: 'done' }, { consoleOutput: { instanceId: 'i-3', lines: ['a', 'b'] } });
    expect(subject).toBe('Launch loop stopped in my-asg: 3 short-lived launches in 30 min');
    expect(message).toContain('3 launches in 30 minutes never served (threshold 3)');
    expect(message).toContain('i-1  deployment-failed');
    expect(message).toContain('(no instance; activity a2)  launch-failed: We currently do not have sufficient capacity');
    expect(message).toContain('aws autoscaling resume-processes --region eu-west-1 --auto-scaling-group-name my-asg --scaling-processes Launch');
    expect(message).toContain('  | b');
  });

  test('shows the failed lifecycle event and the tail of its script log', () => {
    const { message } = notify(incident, { mode: 'SUSPEND_LAUNCH', result: 'done' }, {
      deployment: {
        id: 'd-1',
        status: 'Failed',
        creator: 'autoscaling',
        errorCode: 'HEALTH_CONSTRAINTS',
        failedEvent: { instanceId: 'i-1', lifecycleEvent: 'AfterInstall', errorCode: 'ScriptFailed', scriptName: 'migrate.sh', message: 'exit code 1', logTail: 'line a\nERROR: relation "users" does not exist\n' },
      },
    });
    expect(message).toContain('on i-1: lifecycle event AfterInstall failed (ScriptFailed, script migrate.sh): exit code 1');
    expect(message).toContain('  | ERROR: relation "users" does not exist');
  });

  test('explains the latest launch deployment, else the group\'s last failed deployment', () => {
    expect(deploymentToExplain(incident)).toEqual({ deploymentId: 'd-1', instanceId: 'i-1' });
    expect(deploymentToExplain({ ...incident, launches: incident.launches.slice(1), lastFailedDeploymentId: 'd-9' })).toEqual({ deploymentId: 'd-9' });
    expect(deploymentToExplain({ ...incident, launches: [] })).toBeUndefined();
  });

  test('keeps the SNS subject ASCII and under 100 characters', () => {
    const { subject } = notify(incident, { mode: 'OFF', result: 'off' }, {}, `grüße-${'x'.repeat(200)}`);
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  test('quotes a group name the shell would split', () => {
    expect(resumeCommand("my group's", 'eu-west-1', { mode: 'SUSPEND_LAUNCH', result: 'done' })).toContain(`--auto-scaling-group-name 'my group'\\''s'`);
    expect(resumeCommand('g', 'eu-west-1', { mode: 'OFF', result: 'off' })).toBeUndefined();
  });

  test('keeps the last lines of console output', () => {
    expect(lastLines('a\r\nb\nc\n\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('a', 0)).toEqual([]);
  });

  test('counts the most launches in one window around a time', () => {
    expect(maxInWindowAround([{ at: 0 }, { at: 10 }, { at: 25 }, { at: 40 }], 25, 20)).toBe(2);
  });
});
