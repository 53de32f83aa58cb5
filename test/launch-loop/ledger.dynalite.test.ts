import * as fs from 'node:fs';
import * as path from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { makeHandler, type BridgeEvent, type HandlerConfig } from '../../lambda/launch-loop/index';
import { createIo, type Io } from '../../lambda/launch-loop/io';
import { applyEvent, emptyState } from '../../lambda/launch-loop/logic';
import { createLogger } from '../../lambda/shared/log';
import { startLedger, type Ledger } from '../dynalite';

// The launch-loop state table (partition key `group`, one item per group, written with a condition on `version`)
// against dynalite: DynamoDB's own evaluation of the condition, so a wrong ConditionExpression loses updates here.

const GROUP = 'App-blue-FleetAsg-1A2B3C';
const T0 = Date.UTC(2026, 10, 22, 3, 0, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'events');

const CONFIG: HandlerConfig = {
  tableName: 'state-table',
  topicArn: 'arn:aws:sns:eu-west-1:123456789012:launch-loops',
  groupName: GROUP,
  applicationName: 'App-blue-Application',
  deploymentGroupName: 'App-blue-DeploymentGroup',
  detector: { threshold: 3, windowMs: 30 * MIN, shortLivedMs: 15 * MIN },
  breaker: 'SUSPEND_LAUNCH',
  namespace: 'ResilientFleet/LaunchLoop',
  consoleLines: 5,
  region: 'eu-west-1',
  stateTtlDays: 30,
};

function launchFailed(n: number, at: number): BridgeEvent {
  const e = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'autoscaling-launch-unsuccessful.json'), 'utf8')) as BridgeEvent & { detail: Record<string, unknown> };
  return {
    ...e,
    id: `ev-lf-${n}`,
    time: iso(at),
    detail: { ...e.detail, AutoScalingGroupName: GROUP, StartTime: iso(at - MIN), EndTime: iso(at), EC2InstanceId: `i-0dead0000000000${n.toString(16).padStart(2, '0')}`, ActivityId: `act-${n}` },
  };
}

let ledger: Ledger;
beforeAll(async () => {
  ledger = await startLedger({ hash: 'group' }, CONFIG.tableName);
});
afterAll(async () => {
  await ledger.stop();
});

/** The real io over dynalite for the state table; the other AWS calls recorded (they are not what this file tests). */
function harness(group = GROUP) {
  const real = createIo(
    {
      dynamo: ledger.ddb,
      ec2: new EC2Client({}),
      autoscaling: new AutoScalingClient({}),
      codedeploy: new CodeDeployClient({}),
      cloudwatch: new CloudWatchClient({}),
      sns: new SNSClient({}),
    },
    { sleep: async () => undefined, random: () => 0.5 },
  );
  const calls: string[] = [];
  const io: Io = {
    ...real,
    putShortLivedMetric: async () => void calls.push('metric'),
    suspendLaunch: async () => (calls.push('suspend'), { mode: 'SUSPEND_LAUNCH', result: 'done' }),
    holdCapacity: async () => (calls.push('hold'), { mode: 'HOLD_CAPACITY', result: 'done' }),
    describeDeployment: async (id: string) => ({ id }),
    describeFailedLifecycleEvent: async () => undefined,
    consoleOutput: async (instanceId: string) => ({ instanceId, unavailable: 'not in this test' }),
    explainActivity: async () => undefined,
    publish: async () => void calls.push('publish'),
  };
  const logs: string[] = [];
  const handler = makeHandler({ io, config: { ...CONFIG, groupName: group }, log: createLogger('launch-loop', (l) => logs.push(l)) });
  return { io: real, handler, calls, logs };
}

describe('the state item under DynamoDB conditions', () => {
  test('the first write creates the item only if none exists; later writes only on the version read', async () => {
    const { io } = harness();
    const group = 'g-conditions';
    const s1 = applyEvent(emptyState(), 'e1', { kind: 'launching', instanceId: 'i-1', at: T0 }, CONFIG.detector).state;
    expect(await io.saveState(CONFIG.tableName, group, s1, 0, 1)).toBe(true);
    // A second "first write" (another invocation that also read nothing) is rejected.
    expect(await io.saveState(CONFIG.tableName, group, emptyState(), 0, 1)).toBe(false);
    expect(await io.loadState(CONFIG.tableName, group)).toEqual({ state: s1, version: 1 });
    // A write based on a version that is not the stored one is rejected: stale, and from the future.
    expect(await io.saveState(CONFIG.tableName, group, emptyState(), 2, 1)).toBe(false);
    expect(await io.saveState(CONFIG.tableName, group, emptyState(), 0, 1)).toBe(false);
    const s2 = applyEvent(s1, 'e2', { kind: 'launching', instanceId: 'i-2', at: T0 }, CONFIG.detector).state;
    expect(await io.saveState(CONFIG.tableName, group, s2, 1, 2)).toBe(true);
    expect(await io.saveState(CONFIG.tableName, group, s1, 1, 2)).toBe(false);
    expect(await io.loadState(CONFIG.tableName, group)).toEqual({ state: s2, version: 2 });
    const item = (await ledger.items()).find((i) => i.group === group);
    expect(item).toEqual({ group, version: 2, state: JSON.stringify(s2), expiresAt: 2 });
  });

  test('a group never written reads as an empty state at version 0', async () => {
    expect(await harness().io.loadState(CONFIG.tableName, 'g-never')).toEqual({ state: emptyState(), version: 0 });
  });
});

describe('concurrent invocations for one group', () => {
  test('six launch failures handled at once: none is lost, two loops are confirmed, each acted on once', async () => {
    const group = 'g-race';
    const h = harness(group);
    const events = [1, 2, 3, 4, 5, 6].map((n) => ({ ...launchFailed(n, T0 + n * MIN), detail: { ...launchFailed(n, T0 + n * MIN).detail, AutoScalingGroupName: group } }));
    const outcomes = await Promise.all(events.map((e) => h.handler(e)));
    expect(outcomes.every((o) => o.status === 'recorded' || o.status === 'loop-confirmed')).toBe(true);
    const { state, version } = await h.io.loadState(CONFIG.tableName, group);
    expect(state.shortLived.map((l) => l.key).sort()).toEqual(events.map((e) => String((e.detail as Record<string, unknown>).EC2InstanceId)).sort());
    expect(state.seenEventIds.sort()).toEqual(events.map((e) => e.id).sort());
    expect(state.incidents).toBe(2);
    expect(state.pending).toBeUndefined();
    expect(outcomes.filter((o) => o.status === 'loop-confirmed')).toHaveLength(2);
    expect(h.calls.filter((c) => c === 'suspend')).toHaveLength(2);
    expect(h.calls.filter((c) => c === 'publish')).toHaveLength(2);
    // Six event writes, plus the breaker outcome and completion of each incident still pending when its action ended
    // (an incident confirmed meanwhile takes over the pending slot): every write went through the version condition.
    expect(version).toBeGreaterThanOrEqual(6);
    expect(version).toBeLessThanOrEqual(10);
    // Concurrent writes were rejected by DynamoDB and decided again (not overwritten).
    expect(h.logs.some((l) => l.includes('state changed concurrently'))).toBe(true);
  });

  test('the same event delivered three times at once is counted once', async () => {
    const group = 'g-dup';
    const h = harness(group);
    const e = { ...launchFailed(1, T0), detail: { ...launchFailed(1, T0).detail, AutoScalingGroupName: group } };
    const outcomes = await Promise.all([h.handler(e), h.handler(e), h.handler(e)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['duplicate', 'duplicate', 'recorded']);
    const { state, version } = await h.io.loadState(CONFIG.tableName, group);
    expect(state.shortLived).toHaveLength(1);
    expect(version).toBe(1);
  });
});
