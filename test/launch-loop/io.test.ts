import * as fs from 'fs';
import * as path from 'path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createIo, isGroupGone } from '../../lambda/launch-loop/io';
import { emptyState } from '../../lambda/launch-loop/logic';

const fixture = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'events', name), 'utf8')) as T;

function io() {
  const asg = mockClient(AutoScalingClient);
  const ec2 = mockClient(EC2Client);
  const ddb = mockClient(DynamoDBDocumentClient);
  let clock = 0;
  const api = createIo(
    {
      ec2: new EC2Client({}),
      autoscaling: new AutoScalingClient({}),
      codedeploy: new CodeDeployClient({}),
      dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({})),
      cloudwatch: new CloudWatchClient({}),
      sns: new SNSClient({}),
    },
    { sleep: async (ms) => void (clock += ms), now: () => clock, random: () => 1, consoleDeadlineMs: 10_000, callDeadlineMs: 5_000 },
  );
  return { asg, ec2, ddb, api, elapsed: () => clock };
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
    h.asg.on(DescribeScalingActivitiesCommand).rejectsOnce(Object.assign(new Error('AutoScalingGroup name not found - g'), { name: 'ValidationError' }));
    expect(await h.api.explainActivity('g')).toBeUndefined();
    h.asg.on(DescribeScalingActivitiesCommand).rejects(Object.assign(new Error('not allowed'), { name: 'AccessDenied' }));
    expect(await h.api.explainActivity('g')).toEqual({ cause: 'could not be read: AccessDenied: not allowed' });
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
    h.ec2.on(GetConsoleOutputCommand).rejects(Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' }));
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
  test('creates the item only if absent, then updates only the version it read', async () => {
    const h = io();
    h.ddb.on(PutCommand).resolves({});
    await h.api.saveState('t', 'g', emptyState(), 0, 123);
    await h.api.saveState('t', 'g', emptyState(), 4, 123);
    const [first, second] = h.ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(first).toMatchObject({ ConditionExpression: 'attribute_not_exists(#g)', Item: { group: 'g', version: 1, expiresAt: 123 } });
    expect(second).toMatchObject({ ConditionExpression: '#v = :expected', ExpressionAttributeValues: { ':expected': 4 }, Item: { version: 5 } });
  });

  test('reports a conflict as false and rethrows anything else', async () => {
    const h = io();
    h.ddb.on(PutCommand).rejectsOnce(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
    expect(await h.api.saveState('t', 'g', emptyState(), 1, 1)).toBe(false);
    h.ddb.on(PutCommand).rejects(Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' }));
    await expect(h.api.saveState('t', 'g', emptyState(), 1, 1)).rejects.toThrow(/maximum allowed size/);
  });
});

test('isGroupGone reads Auto Scaling\'s answer for a missing group only', () => {
  expect(isGroupGone(Object.assign(new Error('AutoScalingGroup name not found - null'), { name: 'ValidationError' }))).toBe(true);
  expect(isGroupGone(Object.assign(new Error('Invalid value for MinSize'), { name: 'ValidationError' }))).toBe(false);
  expect(isGroupGone(Object.assign(new Error('not found'), { name: 'AccessDenied' }))).toBe(false);
});
