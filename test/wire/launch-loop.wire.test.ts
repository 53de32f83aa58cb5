/**
 * LaunchLoopGuard's hook at the wire (lambda/launch-loop/io.ts): DynamoDB, CodeDeploy, CloudWatch, Auto Scaling, EC2 and
 * SNS, each call's success and every error it handles, with the real clients against the harness.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createIo, type Clients } from '../../lambda/launch-loop/io';
import { emptyState } from '../../lambda/launch-loop/logic';
import * as wire from './bodies';
import { thrown, wireClient } from './clients';
import { WireServer } from './server';

const GROUP = 'app-blue-asg';
const ID = 'i-0598c7d356eba48d7';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:launch-loop';

let server: WireServer;
let clients: Clients;
let io: ReturnType<typeof createIo>;
beforeAll(async () => {
  server = await WireServer.start();
  clients = {
    ec2: wireClient(EC2Client, server),
    autoscaling: wireClient(AutoScalingClient, server),
    codedeploy: wireClient(CodeDeployClient, server),
    dynamo: DynamoDBDocumentClient.from(wireClient(DynamoDBClient, server)),
    cloudwatch: wireClient(CloudWatchClient, server),
    sns: wireClient(SNSClient, server),
  };
  io = createIo(clients, { sleep: async () => undefined, random: () => 0 });
});
afterEach(() => {
  expect(server.unanswered.map((r) => r.operation)).toEqual([]);
  server.reset();
});
afterAll(async () => {
  for (const c of Object.values(clients)) c.destroy();
  await server.close();
});

const asgGone = () => wire.queryError('ValidationError', `AutoScalingGroup name not found - AutoScalingGroup ${GROUP} not found`);

describe('state (DynamoDB)', () => {
  test('loadState: the stored state, or an empty one; throttling retried', async () => {
    const state = emptyState();
    server.on('GetItem', wire.dynamodb.provisionedThroughputExceeded(), wire.jsonOk({ Item: { group: { S: GROUP }, version: { N: '3' }, state: { S: JSON.stringify(state) } } }));
    expect(await io.loadState('guard', GROUP)).toEqual({ state, version: 3 });
    server.on('GetItem', wire.jsonOk({}));
    expect(await io.loadState('guard', GROUP)).toEqual({ state: emptyState(), version: 0 });
  });

  test('saveState: a conditional put; ConditionalCheckFailed is a conflict (false), not an error', async () => {
    server.on('PutItem', wire.jsonOk({}));
    expect(await io.saveState('guard', GROUP, emptyState(), 3, 1_800_000_000)).toBe(true);
    expect(server.calls('PutItem')[0].json).toMatchObject({ ConditionExpression: '#v = :expected', ExpressionAttributeValues: { ':expected': { N: '3' } } });
    server.on('PutItem', wire.dynamodb.conditionalCheckFailed());
    expect(await io.saveState('guard', GROUP, emptyState(), 0, 1_800_000_000)).toBe(false);
    expect(server.calls('PutItem').at(-1)!.json.ConditionExpression).toBe('attribute_not_exists(#g)');
  });
});

describe('evidence (CodeDeploy, EC2, Auto Scaling)', () => {
  test('GetDeployment: status, creator and error; a deployment that does not exist fails at once', async () => {
    server.on('GetDeployment', wire.codedeploy.throttling(), wire.jsonOk({ deploymentInfo: { deploymentId: 'd-ABCDEF123', status: 'Failed', creator: 'autoscaling', errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'The overall deployment failed because too many individual instances failed deployment' } } }, '1.1'));
    expect(await io.describeDeployment('d-ABCDEF123')).toEqual({ id: 'd-ABCDEF123', status: 'Failed', creator: 'autoscaling', errorCode: 'HEALTH_CONSTRAINTS', errorMessage: 'The overall deployment failed because too many individual instances failed deployment' });
    server.on('GetDeployment', wire.codedeploy.deploymentDoesNotExist('d-GONE'));
    expect((await thrown(io.describeDeployment('d-GONE'))).name).toBe('DeploymentDoesNotExistException');
    expect(server.calls('GetDeployment')).toHaveLength(3);
  });

  test('GetDeploymentTarget: the failed lifecycle event with diagnostics; a target that does not exist is undefined', async () => {
    server.on('GetDeploymentTarget', wire.jsonOk({ deploymentTarget: { deploymentTargetType: 'InstanceTarget', instanceTarget: { deploymentId: 'd-ABCDEF123', targetId: ID, status: 'Failed', lifecycleEvents: [{ lifecycleEventName: 'BeforeInstall', status: 'Succeeded' }, { lifecycleEventName: 'ApplicationStart', status: 'Failed', diagnostics: { errorCode: 'ScriptFailed', scriptName: 'scripts/start.sh', message: 'Script at specified location: scripts/start.sh run as user root failed with exit code 1', logTail: 'port 8080 already in use' } }] } } }, '1.1'));
    expect(await io.describeFailedLifecycleEvent('d-ABCDEF123', ID)).toEqual({ instanceId: ID, lifecycleEvent: 'ApplicationStart', errorCode: 'ScriptFailed', scriptName: 'scripts/start.sh', message: 'Script at specified location: scripts/start.sh run as user root failed with exit code 1', logTail: 'port 8080 already in use' });
    server.on('GetDeploymentTarget', wire.codedeploy.deploymentTargetDoesNotExist(ID));
    expect(await io.describeFailedLifecycleEvent('d-ABCDEF123', ID)).toBeUndefined();
    expect(server.calls('GetDeploymentTarget')).toHaveLength(2); // not retried
  });

  test('GetConsoleOutput: the last lines; empty output retried until it appears; a gone instance says so', async () => {
    const out = (text?: string) => wire.ec2Ok('GetConsoleOutput', `<instanceId>${ID}</instanceId><timestamp>2026-11-22T07:00:00.000Z</timestamp>${text === undefined ? '' : `<output>${Buffer.from(text).toString('base64')}</output>`}`);
    server.on('GetConsoleOutput', out(), wire.ec2.instanceNotFound(ID), out('line 1\nline 2\ncloud-init: failed\n'));
    expect(await io.consoleOutput(ID, 2)).toMatchObject({ instanceId: ID, lines: expect.arrayContaining(['cloud-init: failed']) });
    expect(server.calls('GetConsoleOutput')).toHaveLength(3);
    let t = 0;
    const gone = createIo(clients, { sleep: async (ms) => void (t += ms), now: () => t, random: () => 1, consoleDeadlineMs: 5000 });
    server.on('GetConsoleOutput', wire.ec2.instanceNotFound(ID));
    expect(await gone.consoleOutput(ID, 2)).toEqual({ instanceId: ID, unavailable: 'the instance is gone' });
  });

  test('DescribeScalingActivities: the activity that explains the launch; a gone group is undefined', async () => {
    server.on('DescribeScalingActivities', wire.queryOk('autoscaling', 'DescribeScalingActivities', `<Activities><member><ActivityId>f9f2d65b-f1f2-43e7-b46d-d86756459699</ActivityId><AutoScalingGroupName>${GROUP}</AutoScalingGroupName><Description>Terminating EC2 instance: ${ID}</Description><Cause>At 2026-11-22T06:59:00Z an instance was taken out of service in response to an ELB system health check failure.</Cause><StartTime>2026-11-22T06:59:00Z</StartTime><StatusCode>InProgress</StatusCode><Progress>50</Progress></member></Activities>`));
    expect(await io.explainActivity(GROUP, ID)).toEqual({ cause: expect.stringMatching(/ELB system health check failure/), statusCode: 'InProgress', statusMessage: undefined, description: `Terminating EC2 instance: ${ID}` });
    expect(Object.fromEntries(server.calls('DescribeScalingActivities')[0].form)).toMatchObject({ AutoScalingGroupName: GROUP, MaxRecords: '50' });
    server.on('DescribeScalingActivities', asgGone());
    expect(await io.explainActivity(GROUP, ID)).toBeUndefined();
  });
});

describe('the breaker, the metric and the alert', () => {
  test('SuspendProcesses: done; a gone group; a failure is reported, not thrown', async () => {
    server.on('SuspendProcesses', wire.autoscaling.resourceContention(), wire.queryOk('autoscaling', 'SuspendProcesses'));
    expect(await io.suspendLaunch(GROUP)).toEqual({ mode: 'SUSPEND_LAUNCH', result: 'done' });
    expect(server.calls('SuspendProcesses')[1].form.get('ScalingProcesses.member.1')).toBe('Launch');
    server.on('SuspendProcesses', asgGone());
    expect(await io.suspendLaunch(GROUP)).toEqual({ mode: 'SUSPEND_LAUNCH', result: 'group-gone' });
    server.on('SuspendProcesses', wire.autoscaling.accessDenied('SuspendProcesses'));
    expect(await io.suspendLaunch(GROUP)).toMatchObject({ mode: 'SUSPEND_LAUNCH', result: 'failed', error: expect.stringMatching(/^AccessDenied: /) });
  });

  test('DescribeAutoScalingGroups + UpdateAutoScalingGroup: desired held at the instances in service', async () => {
    server.on('DescribeAutoScalingGroups', wire.queryOk('autoscaling', 'DescribeAutoScalingGroups', `<AutoScalingGroups><member><AutoScalingGroupName>${GROUP}</AutoScalingGroupName><MinSize>2</MinSize><MaxSize>6</MaxSize><DesiredCapacity>4</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><HealthCheckType>EC2</HealthCheckType><CreatedTime>2026-11-01T10:00:00.000Z</CreatedTime><Instances><member><InstanceId>${ID}</InstanceId><AvailabilityZone>eu-west-1a</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member><member><InstanceId>i-0b</InstanceId><AvailabilityZone>eu-west-1b</AvailabilityZone><LifecycleState>Pending</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member></Instances></member></AutoScalingGroups>`));
    server.on('UpdateAutoScalingGroup', wire.autoscaling.scalingActivityInProgress());
    expect(await io.holdCapacity(GROUP)).toMatchObject({ mode: 'HOLD_CAPACITY', result: 'failed', error: expect.stringMatching(/ScalingActivityInProgress/) });
    server.on('UpdateAutoScalingGroup', wire.queryOk('autoscaling', 'UpdateAutoScalingGroup'));
    expect(await io.holdCapacity(GROUP)).toEqual({ mode: 'HOLD_CAPACITY', result: 'done', previousMin: 2, previousDesired: 4, heldAt: 1 });
    expect(Object.fromEntries(server.calls('UpdateAutoScalingGroup').at(-1)!.form)).toMatchObject({ MinSize: '1', DesiredCapacity: '1' });
    server.on('DescribeAutoScalingGroups', wire.queryOk('autoscaling', 'DescribeAutoScalingGroups', '<AutoScalingGroups/>'));
    expect(await io.holdCapacity(GROUP)).toEqual({ mode: 'HOLD_CAPACITY', result: 'group-gone' });
  });

  test('PutMetricData: both data points in one call, throttling retried', async () => {
    server.on('PutMetricData', wire.cloudwatch.throttling(), wire.jsonOk({}));
    await io.putShortLivedMetric('ResilientFleet/LaunchLoop', GROUP, 1, 3, new Date('2026-11-22T07:00:00Z'));
    const req = server.calls('monitoring:PutMetricData')[1].json;
    expect(req.MetricData.map((d: { MetricName: string; Value: number }) => [d.MetricName, d.Value])).toEqual([
      ['ShortLivedLaunches', 1],
      ['ShortLivedLaunchesInWindow', 3],
    ]);
  });

  test('Publish: sent; throttling retried; a topic that does not exist (NotFound) or a key SNS cannot use fails at once', async () => {
    server.on('Publish', wire.sns.throttled(), wire.queryOk('sns', 'Publish', '<MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>'));
    await io.publish(TOPIC, 'launch loop', 'body');
    expect(Object.fromEntries(server.calls('sns:Publish')[1].form)).toMatchObject({ TopicArn: TOPIC, Subject: 'launch loop', Message: 'body' });
    server.on('Publish', wire.sns.notFound());
    expect((await thrown(io.publish(TOPIC, 's', 'm'))).name).toBe('NotFoundException');
    server.on('Publish', wire.sns.kmsAccessDenied());
    expect((await thrown(io.publish(TOPIC, 's', 'm'))).name).toBe('KMSAccessDeniedException');
    expect(server.calls('Publish')).toHaveLength(4);
  });
});
