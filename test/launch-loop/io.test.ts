import * as fs from 'fs';
import * as path from 'path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { EC2Client, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { createIo, isGroupGone } from '../../lambda/launch-loop/io';
import { applyEvent, emptyState, type GroupState } from '../../lambda/launch-loop/logic';
import { startLedger, type Ledger } from '../dynalite';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const fixture = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'events', name), 'utf8')) as T;

// Errors as the real SDK clients parse the documented wire answers (test/wire/bodies.ts), never typed by hand.
const asgError = (a: WireAnswer) => parsedError(AutoScalingClient, new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'g' }), a);
const ec2Error = (a: WireAnswer) => parsedError(EC2Client, new GetConsoleOutputCommand({ InstanceId: 'i-1' }), a);
/** Auto Scaling's ValidationError for a group that does not exist (SuspendProcesses, DescribeScalingActivities: "Errors"). */
const groupGone = () => wire.queryError('ValidationError', 'AutoScalingGroup name not found - AutoScalingGroup g not found');

// The state table is dynalite behind the real DynamoDB client, so conditions and limits are DynamoDB's own.
let ledger: Ledger;
beforeAll(async () => {
  ledger = await startLedger({ hash: 'group' }, 'launch-loop-state');
});
afterAll(async () => {
  await ledger.stop();
});

function io() {
  const asg = mockClient(AutoScalingClient);
  const ec2 = mockClient(EC2Client);
  let clock = 0;
  const api = createIo(
    {
      ec2: new EC2Client({}),
      autoscaling: new AutoScalingClient({}),
      codedeploy: new CodeDeployClient({}),
      dynamo: ledger.ddb,
      cloudwatch: new CloudWatchClient({}),
      sns: new SNSClient({}),
    },
    { sleep: async (ms) => void (clock += ms), now: () => clock, random: () => 1, consoleDeadlineMs: 10_000, callDeadlineMs: 5_000 },
  );
  return { asg, ec2, api, elapsed: () => clock };
}

const activities = () => {
  const base = fixture<{ Activities: Array<Record<string, unknown>> }>('autoscaling-describe-scaling-activities-response.json').Activities[0];
  return [
    { ...base, ActivityId: 'a-new', Description: 'Launching a new EC2 instance: i-0new', StatusCode: 'Successful' },
    { ...base, ActivityId: 'a-dead', Description: 'Launching a new EC2 instance: i-0dead', StatusCode: 'Cancelled', StatusMessage: 'abandoned' },
    { ...base, ActivityId: 'a-old', Description: 'Launching a new EC2 instance: i-0old', StatusCode: 'Failed', StatusMessage: 'no capacity' },
  ];
};

afterEach(() => jest.restoreAllMocks());

describe('explainActivity', () => {
  test('picks the activity by id, else the failed one of the instance, else the latest failure', async () => {
    const h = io();
    h.asg.on(DescribeScalingActivitiesCommand).resolves({ Activities: activities() as never });
    expect(await h.api.explainActivity('g', undefined, 'a-old')).toMatchObject({ statusMessage: 'no capacity' });
    expect(await h.api.explainActivity('g', 'i-0dead')).toMatchObject({ statusCode: 'Cancelled', statusMessage: 'abandoned' });
    expect(await h.api.explainActivity('g', 'i-0unknown')).toMatchObject({ statusCode: 'Cancelled' });
    expect(h.asg.commandCalls(DescribeScalingActivitiesCommand)[0].args[0].input).toEqual({ AutoScalingGroupName: 'g', MaxRecords: 50 });
  });

  test('says nothing for a group that is gone, and says why when the call fails', async () => {
    const h = io();
    h.asg.on(DescribeScalingActivitiesCommand).rejectsOnce(await asgError(groupGone()));
    expect(await h.api.explainActivity('g')).toBeUndefined();
    h.asg.on(DescribeScalingActivitiesCommand).rejects(await asgError(wire.autoscaling.accessDenied('DescribeScalingActivities')));
    expect(await h.api.explainActivity('g')).toEqual({ cause: 'could not be read: AccessDenied: User is not authorized to perform: autoscaling:DescribeScalingActivities' });
  });
});

describe('holdCapacity', () => {
  test('a group that is gone is reported, not thrown', async () => {
    const h = io();
    h.asg.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    expect(await h.api.holdCapacity('g')).toEqual({ mode: 'HOLD_CAPACITY', result: 'group-gone' });
  });
});

describe('consoleOutput', () => {
  test('gives up at the deadline while throttled, without throwing', async () => {
    const h = io();
    h.ec2.on(GetConsoleOutputCommand).rejects(await ec2Error(wire.ec2.requestLimitExceeded()));
    const out = await h.api.consoleOutput('i-1', 5);
    expect(out).toEqual({ instanceId: 'i-1', unavailable: 'RequestLimitExceeded: Request limit exceeded.' });
    expect(h.elapsed()).toBeLessThanOrEqual(10_000);
    expect(h.ec2.commandCalls(GetConsoleOutputCommand).length).toBeGreaterThan(1);
  });

  test('decodes base64 output and keeps the last lines', async () => {
    const h = io();
    h.ec2.on(GetConsoleOutputCommand).resolves({ InstanceId: 'i-1', Output: Buffer.from('a\nb\nc\n').toString('base64') });
    expect(await h.api.consoleOutput('i-1', 2)).toEqual({ instanceId: 'i-1', lines: ['b', 'c'] });
  });
});

describe('saveState', () => {
  const s1 = applyEvent(emptyState(), 'e1', { kind: 'launching', instanceId: 'i-1', at: 1_000 }, { threshold: 3, windowMs: 1_800_000, shortLivedMs: 900_000 }).state;

  test('creates the item only if absent, then updates only the version it read', async () => {
    const h = io();
    expect(await h.api.saveState('launch-loop-state', 'g-save', s1, 0, 123)).toBe(true);
    expect(await h.api.saveState('launch-loop-state', 'g-save', emptyState(), 1, 456)).toBe(true);
    expect((await ledger.items()).find((i) => i.group === 'g-save')).toEqual({ group: 'g-save', version: 2, state: JSON.stringify(emptyState()), expiresAt: 456 });
  });

  test('reports a conflict (DynamoDB rejected the condition) as false and leaves the item as it was', async () => {
    const h = io();
    expect(await h.api.saveState('launch-loop-state', 'g-conflict', s1, 0, 1)).toBe(true);
    expect(await h.api.saveState('launch-loop-state', 'g-conflict', emptyState(), 0, 1)).toBe(false);
    expect(await h.api.saveState('launch-loop-state', 'g-conflict', emptyState(), 4, 1)).toBe(false);
    expect(await h.api.loadState('launch-loop-state', 'g-conflict')).toEqual({ state: s1, version: 1 });
  });

  test('rethrows anything else: an item over DynamoDB\'s 400 KB limit', async () => {
    const h = io();
    const huge: GroupState = { ...emptyState(), seenEventIds: Array.from({ length: 5_000 }, (_, n) => `event-${String(n).padStart(80, '0')}`) };
    await expect(h.api.saveState('launch-loop-state', 'g-huge', huge, 0, 1)).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/Item size has exceeded the maximum allowed size/) });
    expect(await h.api.loadState('launch-loop-state', 'g-huge')).toEqual({ state: emptyState(), version: 0 });
  });
});

test('isGroupGone reads Auto Scaling\'s answer for a missing group only', async () => {
  expect(isGroupGone(await asgError(groupGone()))).toBe(true);
  expect(isGroupGone(await asgError(wire.queryError('ValidationError', 'Invalid value for MinSize: must be between 0 and MaxSize')))).toBe(false);
  // An AccessDenied whose text happens to say "not found" is still AccessDenied.
  expect(isGroupGone(await asgError(wire.queryError('AccessDenied', 'AutoScalingGroup name not found', 403)))).toBe(false);
});
