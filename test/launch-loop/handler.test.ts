import * as fs from 'fs';
import * as path from 'path';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, GetDeploymentCommand, GetDeploymentTargetCommand } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { EC2Client, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { configFromEnv, makeHandler, parseEvent, type BridgeEvent, type HandlerConfig } from '../../lambda/launch-loop/index';
import { createIo } from '../../lambda/launch-loop/io';
import { createLogger } from '../../lambda/shared/log';
import { startLedger, type Ledger } from '../dynalite';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'events');
const fixture = <T = Record<string, unknown>>(name: string): T => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;

const GROUP = 'App-blue-FleetAsg-1A2B3C';
const APP = 'App-blue-Application';
const DG = 'App-blue-DeploymentGroup';
const T0 = Date.UTC(2026, 10, 22, 3, 0, 0);
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const CONFIG: HandlerConfig = {
  tableName: 'state-table',
  topicArn: 'arn:aws:sns:eu-west-1:123456789012:launch-loops',
  groupName: GROUP,
  applicationName: APP,
  deploymentGroupName: DG,
  detector: { threshold: 3, windowMs: 30 * MIN, shortLivedMs: 15 * MIN },
  breaker: 'SUSPEND_LAUNCH',
  namespace: 'ResilientFleet/LaunchLoop',
  consoleLines: 5,
  region: 'eu-west-1',
  stateTtlDays: 30,
};

const ABANDONED =
  "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token 3d1f4e2a-58c6-4b4e-9c1e-5b0e2a7f6d11 was abandoned: Lifecycle Action Completed with ABANDON Result";

/** The documented Auto Scaling sample, with this test's group, ids and time. */
function asgEvent(file: string, id: string, at: number, detail: Record<string, unknown>): BridgeEvent {
  const e = fixture<BridgeEvent & { detail: Record<string, unknown> }>(file);
  return { ...e, id, time: iso(at), detail: { ...e.detail, AutoScalingGroupName: GROUP, StartTime: iso(at - MIN), EndTime: iso(at), ...detail } };
}
function codeDeployEvent(file: string, id: string, at: number, detail: Record<string, unknown>): BridgeEvent {
  const e = fixture<BridgeEvent & { detail: Record<string, unknown> }>(file);
  return { ...e, id, time: iso(at), detail: { ...e.detail, application: APP, deploymentGroup: DG, ...detail } };
}
const launchFailed = (n: number, at: number) =>
  asgEvent('autoscaling-launch-unsuccessful.json', `ev-lf-${n}`, at, {
    EC2InstanceId: `i-0dead00000000000${n}`,
    ActivityId: `act-${n}`,
    StatusMessage: ABANDONED,
    Cause: `At ${iso(at - 10 * MIN)} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 2 to 3.`,
  });
const instanceFailed = (n: number, at: number) =>
  codeDeployEvent('codedeploy-instance-state-change.json', `ev-if-${n}`, at, { instanceId: `i-0dead00000000000${n}`, deploymentId: `d-LAUNCH${n}`, state: 'FAILURE' });

// Errors as the real SDK clients parse the documented wire answers (test/wire/bodies.ts), never typed by hand.
const asgError = (a: WireAnswer) => parsedError(AutoScalingClient, new SuspendProcessesCommand({ AutoScalingGroupName: GROUP, ScalingProcesses: ['Launch'] }), a);
const ec2Error = (a: WireAnswer) => parsedError(EC2Client, new GetConsoleOutputCommand({ InstanceId: 'i-0dead000000000003' }), a);
const ddbError = (a: WireAnswer) => parsedError(DynamoDBClient, new GetItemCommand({ TableName: CONFIG.tableName, Key: { group: { S: GROUP } } }), a);
/** Auto Scaling's ValidationError for a group that does not exist (SuspendProcesses, DescribeScalingActivities: "Errors"). */
const groupGone = () => wire.queryError('ValidationError', `AutoScalingGroup name not found - AutoScalingGroup ${GROUP} not found`);

// The state table is dynalite behind the real DynamoDB client: its conditions are DynamoDB's own (see ledger.dynalite.test.ts).
let ledger: Ledger;
beforeAll(async () => {
  ledger = await startLedger({ hash: 'group' }, CONFIG.tableName);
});
afterAll(async () => {
  await ledger.stop();
});
beforeEach(async () => {
  await ledger.ddb.send(new DeleteCommand({ TableName: CONFIG.tableName, Key: { group: GROUP } }));
});

/** What the table holds for the group. */
async function stored(): Promise<Record<string, any> | undefined> {
  return (await ledger.items()).find((i) => i.group === GROUP);
}

/**
 * `beforeDynamo` runs before each state-table call of the handler under test (by command name, e.g. GetCommand): it may
 * throw an error the SDK parsed, or let another invocation write first.
 */
function harness(config: HandlerConfig = CONFIG, beforeDynamo?: (command: string) => Promise<void> | void) {
  const ec2 = mockClient(EC2Client);
  const asg = mockClient(AutoScalingClient);
  const cd = mockClient(CodeDeployClient);
  const cw = mockClient(CloudWatchClient);
  const sns = mockClient(SNSClient);
  const dynamo = beforeDynamo
    ? (Object.assign(Object.create(ledger.ddb), {
        send: async (command: { constructor: { name: string } }) => {
          await beforeDynamo(command.constructor.name);
          return ledger.ddb.send(command as never);
        },
      }) as DynamoDBDocumentClient)
    : ledger.ddb;
  cd.on(GetDeploymentCommand).callsFake((input: { deploymentId: string }) => {
    const r = fixture<{ deploymentInfo: Record<string, unknown> }>('codedeploy-get-deployment-response.json');
    return {
      deploymentInfo: {
        ...r.deploymentInfo,
        deploymentId: input.deploymentId,
        applicationName: APP,
        deploymentGroupName: DG,
        creator: input.deploymentId.startsWith('d-LAUNCH') ? 'autoscaling' : 'user',
        status: 'Failed',
        errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'The overall deployment failed because too many individual instances failed deployment' },
      },
    };
  });
  cd.on(GetDeploymentTargetCommand).callsFake((input: { deploymentId: string; targetId: string }) => {
    const r = fixture<{ deploymentTarget: { instanceTarget: { lifecycleEvents: Array<Record<string, unknown>> } & Record<string, unknown> } }>(
      'codedeploy-get-deployment-target-response.json',
    );
    const events = r.deploymentTarget.instanceTarget.lifecycleEvents.map((e) =>
      e.lifecycleEventName === 'ValidateService'
        ? {
            ...e,
            status: 'Failed',
            diagnostics: {
              errorCode: 'ScriptFailed',
              scriptName: 'scripts/validate.sh',
              message: 'Script at specified location: scripts/validate.sh run as user root failed with exit code 7',
              logTail: '[stdout]checking http://localhost/health\n[stderr]curl: (7) Failed to connect to localhost port 80: Connection refused\n',
            },
          }
        : e,
    );
    return {
      deploymentTarget: {
        ...r.deploymentTarget,
        instanceTarget: { ...r.deploymentTarget.instanceTarget, deploymentId: input.deploymentId, targetId: input.targetId, status: 'Failed', lifecycleEvents: events },
      },
    };
  });
  const consoleText = ['[  OK  ] Started nginx.service.', 'cloud-init: Cloud-init v. 22.2.2 finished', 'codedeploy-agent: ValidateService failed: curl: (7) Failed to connect to localhost port 80', ''].join('\n');
  ec2.on(GetConsoleOutputCommand).callsFake((input: { InstanceId: string }) => ({
    ...fixture('ec2-get-console-output-response.json'),
    InstanceId: input.InstanceId,
    Output: Buffer.from(consoleText).toString('base64'),
  }));
  asg.on(DescribeScalingActivitiesCommand).callsFake(() => {
    const r = fixture<{ Activities: Array<Record<string, unknown>> }>('autoscaling-describe-scaling-activities-response.json');
    return {
      Activities: [
        {
          ...r.Activities[0],
          ActivityId: 'act-3',
          AutoScalingGroupName: GROUP,
          Description: 'Launching a new EC2 instance: i-0dead000000000003.  Status Reason: Instance failed to complete user\'s Lifecycle Action',
          StatusCode: 'Cancelled',
          StatusMessage: ABANDONED,
        },
        ...r.Activities,
      ],
    };
  });
  asg.on(SuspendProcessesCommand).resolves({});
  cw.on(PutMetricDataCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });

  let clock = T0 + 60 * MIN;
  const clients = (state: DynamoDBDocumentClient) => ({
    ec2: new EC2Client({}),
    autoscaling: new AutoScalingClient({}),
    codedeploy: new CodeDeployClient({}),
    dynamo: state,
    cloudwatch: new CloudWatchClient({}),
    sns: new SNSClient({}),
  });
  const timing = { sleep: async (ms: number) => void (clock += ms), now: () => clock, random: () => 0.5, consoleDeadlineMs: 30_000 };
  const io = createIo(clients(dynamo), timing);
  const logs: string[] = [];
  const handler = makeHandler({ io, config, log: createLogger('launch-loop', (l) => logs.push(l)) });
  /** Another invocation of the hook for the same group (another Lambda instance), straight on the table. */
  const other = makeHandler({ io: createIo(clients(ledger.ddb), timing), config, log: createLogger('launch-loop', () => undefined) });
  const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
  return { ec2, asg, cd, cw, sns, handler, other, logs, published };
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('parseEvent', () => {
  test('reads every documented event type into a fact', () => {
    const at = T0;
    expect(parseEvent(asgEvent('autoscaling-launch-lifecycle-action.json', 'a', at, {}), CONFIG)).toEqual({
      eventId: 'a',
      fact: { kind: 'launching', instanceId: 'i-1234567890abcdef0', at },
    });
    expect(parseEvent(asgEvent('autoscaling-launch-successful.json', 'b', at, {}), CONFIG)).toEqual({
      eventId: 'b',
      fact: { kind: 'in-service', instanceId: 'i-1234567890abcdef0', at, launchedAt: at - MIN },
    });
    expect(parseEvent(asgEvent('autoscaling-launch-unsuccessful.json', 'c', at, {}), CONFIG)).toEqual({
      eventId: 'c',
      fact: { kind: 'launch-failed', instanceId: 'i-1234567890abcdef0', activityId: '87654321-4321-4321-4321-210987654321', at, statusMessage: 'message-text', cause: 'description-text' },
    });
    expect(parseEvent(asgEvent('autoscaling-terminate-successful.json', 'd', at, {}), CONFIG)).toEqual({
      eventId: 'd',
      fact: { kind: 'terminated', instanceId: 'i-1234567890abcdef0', at, cause: 'description-text', activityId: '87654321-4321-4321-4321-210987654321' },
    });
    expect(parseEvent(codeDeployEvent('codedeploy-deployment-state-change.json', 'e', at, { state: 'FAILURE' }), CONFIG)).toEqual({
      eventId: 'e',
      fact: { kind: 'deployment-failed', deploymentId: 'd-123456789', at },
    });
    expect(parseEvent(codeDeployEvent('codedeploy-instance-state-change.json', 'f', at, { state: 'FAILURE' }), CONFIG)).toEqual({
      eventId: 'f',
      fact: { kind: 'deploy-failed', instanceId: 'i-0000000aaaaaaaaaa', deploymentId: 'd-123456789', at },
    });
  });

  test('reads the documented CodeDeploy samples verbatim, for the deployment group they name', () => {
    const config = { ...CONFIG, applicationName: 'myApplication', deploymentGroupName: 'myDeploymentGroup' };
    expect(parseEvent(fixture('codedeploy-instance-state-change.json'), config)).toEqual({
      eventId: 'fb1d3015-c091-4bf9-95e2-d98521ab2ecb',
      fact: { kind: 'deploy-succeeded', instanceId: 'i-0000000aaaaaaaaaa', deploymentId: 'd-123456789', at: Date.parse('2016-06-30T23:18:50Z') },
    });
    expect(parseEvent(fixture('codedeploy-deployment-state-change.json'), config)).toEqual({ ignore: 'deployment state SUCCESS' });
  });

  test('ignores the verbatim Auto Scaling samples (placeholder time), other groups and other deployment groups', () => {
    expect(parseEvent(fixture('autoscaling-launch-unsuccessful.json'), CONFIG)).toHaveProperty('ignore');
    expect(parseEvent({ ...asgEvent('autoscaling-launch-unsuccessful.json', 'x', T0, {}), detail: { AutoScalingGroupName: 'other' } }, CONFIG)).toEqual({
      ignore: `event for group other, not ${GROUP}`,
    });
    expect(parseEvent(fixture('codedeploy-instance-state-change.json'), CONFIG)).toEqual({ ignore: 'event for deployment group myApplication/myDeploymentGroup' });
    expect(parseEvent(codeDeployEvent('codedeploy-instance-state-change.json', 'y', T0, {}), { ...CONFIG, deploymentGroupName: undefined })).toEqual({
      ignore: 'no deployment group is guarded',
    });
  });

  test('names the launch failure when Auto Scaling could not start an instance at all', () => {
    const e = asgEvent('autoscaling-launch-unsuccessful.json', 'z', T0, {
      EC2InstanceId: '',
      StatusMessage: "The image id '[ami-0a1b2c3d4e5f67890]' does not exist. Launching EC2 instance failed.",
    });
    expect(parseEvent(e, CONFIG)).toMatchObject({ fact: { kind: 'launch-failed', instanceId: undefined, statusMessage: expect.stringContaining('does not exist') } });
  });
});

describe('configFromEnv', () => {
  const env = {
    TABLE_NAME: 't',
    TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:x',
    GROUP_NAME: 'g',
    THRESHOLD: '3',
    WINDOW_SECONDS: '1800',
    SHORT_LIVED_SECONDS: '900',
    CIRCUIT_BREAKER: 'SUSPEND_LAUNCH',
    METRIC_NAMESPACE: 'ResilientFleet/LaunchLoop',
    CONSOLE_OUTPUT_LINES: '40',
    AWS_REGION: 'eu-west-1',
  };
  test('reads what the construct sets', () => {
    expect(configFromEnv(env)).toMatchObject({ groupName: 'g', detector: { threshold: 3, windowMs: 1_800_000, shortLivedMs: 900_000 }, deploymentGroupName: undefined });
  });
  test('fails loudly on a missing or wrong setting', () => {
    expect(() => configFromEnv({ ...env, TABLE_NAME: '' })).toThrow(/TABLE_NAME is not set/);
    expect(() => configFromEnv({ ...env, CIRCUIT_BREAKER: 'MAYBE' })).toThrow(/CIRCUIT_BREAKER must be/);
    expect(() => configFromEnv({ ...env, THRESHOLD: 'three' })).toThrow(/THRESHOLD is not a number/);
  });
});

describe('the launch-loop hook', () => {
  test('confirms a CodeDeploy launch loop at the third short-lived launch, suspends Launch and publishes the evidence', async () => {
    const h = harness();
    const results = [];
    for (let n = 1; n <= 3; n++) {
      const at = T0 + n * 7 * MIN;
      results.push(await h.handler(codeDeployEvent('codedeploy-instance-state-change.json', `ev-ok-${n}`, at - 2 * MIN, { instanceId: 'i-0healthy', deploymentId: 'd-OK', state: 'SUCCESS' })));
      results.push(await h.handler(instanceFailed(n, at)));
      results.push(await h.handler(launchFailed(n, at + 30_000)));
    }
    expect(results.map((r) => r.status)).toEqual(['recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'loop-confirmed', 'recorded']);
    expect(results.map((r) => r.counted ?? 0)).toEqual([0, 1, 0, 0, 1, 0, 0, 1, 0]);

    // The metric: one data point per short-lived launch, and the in-window count the alarm watches.
    const metrics = h.cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
    expect(metrics).toHaveLength(3);
    expect(metrics.map((m) => m.MetricData?.find((d) => d.MetricName === 'ShortLivedLaunchesInWindow')?.Value)).toEqual([1, 2, 3]);
    expect(metrics[0]).toMatchObject({ Namespace: 'ResilientFleet/LaunchLoop', MetricData: [{ MetricName: 'ShortLivedLaunches', Value: 1, Dimensions: [{ Name: 'AutoScalingGroupName', Value: GROUP }] }, {}] });

    // The circuit breaker, once.
    expect(h.asg.commandCalls(SuspendProcessesCommand).map((c) => c.args[0].input)).toEqual([{ AutoScalingGroupName: GROUP, ScalingProcesses: ['Launch'] }]);

    // The notification carries the evidence and the resume command.
    const [note] = h.published();
    expect(h.published()).toHaveLength(1);
    expect(note.TopicArn).toBe(CONFIG.topicArn);
    expect(note.Subject).toBe(`Launch loop stopped in ${GROUP}: 3 short-lived launches in 30 min`);
    const m = note.Message!;
    for (const expected of [
      'i-0dead000000000001',
      'i-0dead000000000002',
      'i-0dead000000000003',
      'CodeDeploy deployment d-LAUNCH3 (Failed, created by autoscaling)',
      'error code: HEALTH_CONSTRAINTS',
      'too many individual instances failed deployment',
      'Console output of i-0dead000000000003',
      '| codedeploy-agent: ValidateService failed: curl: (7) Failed to connect to localhost port 80',
      `cause: At 2020-10-30T19:35:51Z a user request update`,
      'status: Cancelled: Instance failed to complete user\'s Lifecycle Action',
      'on i-0dead000000000003: lifecycle event ValidateService failed (ScriptFailed, script scripts/validate.sh): Script at specified location: scripts/validate.sh run as user root failed with exit code 7',
      '| [stderr]curl: (7) Failed to connect to localhost port 80: Connection refused',
      'Launch process is SUSPENDED',
      `aws autoscaling resume-processes --region eu-west-1 --auto-scaling-group-name ${GROUP} --scaling-processes Launch`,
    ]) {
      expect(m).toContain(expected);
    }
    // State is written with a TTL and no pending incident is left.
    const item = (await stored())!;
    expect(Number(item.expiresAt)).toBeGreaterThan(T0 / 1000 + 29 * 86_400);
    expect(JSON.parse(String(item.state)).pending).toBeUndefined();
  });

  test('confirms a health-check loop without CodeDeploy from lifecycle, launch and terminate events', async () => {
    const h = harness({ ...CONFIG, deploymentGroupName: undefined, applicationName: undefined });
    const statuses: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const start = T0 + n * 9 * MIN;
      const id = `i-0sick00000000000${n}`;
      statuses.push((await h.handler(asgEvent('autoscaling-launch-lifecycle-action.json', `lc-${n}`, start, { EC2InstanceId: id, AutoScalingGroupName: GROUP }))).status);
      statuses.push((await h.handler(asgEvent('autoscaling-launch-successful.json', `ls-${n}`, start + 2 * MIN, { EC2InstanceId: id }))).status);
      statuses.push(
        (
          await h.handler(
            asgEvent('autoscaling-terminate-successful.json', `ts-${n}`, start + 8 * MIN, {
              EC2InstanceId: id,
              Cause: `At ${iso(start + 8 * MIN)} an instance was taken out of service in response to an ELB system health check failure.`,
            }),
          )
        ).status,
      );
    }
    expect(statuses).toEqual(['recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'recorded', 'loop-confirmed']);
    const m = h.published()[0].Message!;
    expect(m).toContain('i-0sick000000000003  unhealthy-after-launch: At');
    expect(m).toContain('ELB system health check failure');
    expect(h.cd.commandCalls(GetDeploymentCommand)).toHaveLength(0);
  });

  test('a healthy scale-out and scale-in through the handler counts nothing', async () => {
    const h = harness();
    for (let n = 1; n <= 6; n++) {
      const id = `i-0fine00000000000${n}`;
      await h.handler(asgEvent('autoscaling-launch-lifecycle-action.json', `lc-${n}`, T0, { EC2InstanceId: id }));
      await h.handler(codeDeployEvent('codedeploy-instance-state-change.json', `cd-${n}`, T0 + 5 * MIN, { instanceId: id, deploymentId: 'd-LAUNCHOK', state: 'SUCCESS' }));
      await h.handler(asgEvent('autoscaling-launch-successful.json', `ls-${n}`, T0 + 5 * MIN, { EC2InstanceId: id }));
      const r = await h.handler(
        asgEvent('autoscaling-terminate-successful.json', `ts-${n}`, T0 + 7 * MIN, {
          EC2InstanceId: id,
          Cause: 'At 2026-11-22T03:07:00Z a user request explicitly set group desired capacity changing the desired capacity from 6 to 0.  At 2026-11-22T03:07:01Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 6 to 0.',
        }),
      );
      expect(r).toEqual({ status: 'recorded', counted: 0 });
    }
    expect(h.cw.commandCalls(PutMetricDataCommand)).toHaveLength(0);
    expect(h.published()).toHaveLength(0);
  });

  test('names the group\'s failed deployment when the launches themselves carry none', async () => {
    const h = harness();
    await h.handler(codeDeployEvent('codedeploy-deployment-state-change.json', 'dep-1', T0, { deploymentId: 'd-ROLLOUT7', state: 'FAILURE' }));
    for (let n = 1; n <= 3; n++) await h.handler(launchFailed(n, T0 + n * MIN));
    const m = h.published()[0].Message!;
    expect(m).toContain('CodeDeploy deployment d-ROLLOUT7 (Failed, created by user)');
    expect(h.cd.commandCalls(GetDeploymentTargetCommand)).toHaveLength(0);
  });

  test('a deployment target CodeDeploy no longer knows leaves the rest of the evidence intact', async () => {
    const h = harness();
    h.cd
      .on(GetDeploymentTargetCommand)
      .rejects(
        await parsedError(CodeDeployClient, new GetDeploymentTargetCommand({ deploymentId: 'd-LAUNCH3', targetId: 'i-0dead000000000003' }), wire.codedeploy.deploymentTargetDoesNotExist('i-0dead000000000003')),
      );
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    const m = h.published()[0].Message!;
    expect(m).toContain('error code: HEALTH_CONSTRAINTS');
    expect(m).not.toContain('lifecycle event');
  });

  test('counts launches that fail outright (a missing AMI) and names their status message', async () => {
    const h = harness({ ...CONFIG, deploymentGroupName: undefined, applicationName: undefined });
    for (let n = 1; n <= 3; n++) {
      await h.handler(
        asgEvent('autoscaling-launch-unsuccessful.json', `ev-ami-${n}`, T0 + n * MIN, {
          EC2InstanceId: '',
          ActivityId: `act-ami-${n}`,
          StatusMessage: "The image id '[ami-0a1b2c3d4e5f67890]' does not exist. Launching EC2 instance failed.",
        }),
      );
    }
    const [note] = h.published();
    expect(note.Message).toContain("launch-failed: The image id '[ami-0a1b2c3d4e5f67890]' does not exist.");
    expect(note.Message).toContain('(no instance; activity act-ami-3)');
    expect(h.ec2.commandCalls(GetConsoleOutputCommand)).toHaveLength(0);
  });

  test('a failed regular deployment to serving instances is not a launch loop', async () => {
    const h = harness();
    for (let n = 1; n <= 4; n++) {
      const r = await h.handler(codeDeployEvent('codedeploy-instance-state-change.json', `ev-reg-${n}`, T0 + n * MIN, { instanceId: `i-0serving${n}`, deploymentId: 'd-REGULAR', state: 'FAILURE' }));
      expect(r).toEqual({ status: 'recorded', counted: 0 });
    }
    expect(h.published()).toHaveLength(0);
  });

  test('a retried or duplicated event never counts twice', async () => {
    const h = harness();
    await h.handler(instanceFailed(1, T0));
    expect(await h.handler(instanceFailed(1, T0))).toEqual({ status: 'duplicate' });
    await h.handler(launchFailed(1, T0 + 30_000)); // another event about the same dead instance
    await h.handler(instanceFailed(2, T0 + 5 * MIN));
    expect(h.published()).toHaveLength(0);
    expect(h.cw.commandCalls(PutMetricDataCommand)).toHaveLength(2);
  });

  test('a retry after a failed notification finishes the incident without acting twice', async () => {
    const h = harness();
    const kms = await parsedError(SNSClient, new PublishCommand({ TopicArn: CONFIG.topicArn, Message: 'm' }), wire.sns.kmsAccessDenied());
    h.sns.on(PublishCommand).rejectsOnce(kms).resolves({ MessageId: 'm-2' });
    await h.handler(instanceFailed(1, T0));
    await h.handler(instanceFailed(2, T0 + MIN));
    await expect(h.handler(instanceFailed(3, T0 + 2 * MIN))).rejects.toMatchObject({ name: 'KMSAccessDeniedException' });
    const retried = await h.handler(instanceFailed(3, T0 + 2 * MIN));
    expect(retried).toEqual({ status: 'duplicate', incident: 1 });
    expect(h.asg.commandCalls(SuspendProcessesCommand)).toHaveLength(1);
    expect(h.published()).toHaveLength(2); // the failed attempt and the delivered one
    expect(JSON.parse(String((await stored())!.state)).pending).toBeUndefined();
    expect(await h.handler(instanceFailed(3, T0 + 2 * MIN))).toEqual({ status: 'duplicate' });
    expect(h.published()).toHaveLength(2);
  });

  test('rides out throttling of DynamoDB, Auto Scaling and EC2', async () => {
    const throughput = await ddbError(wire.dynamodb.provisionedThroughputExceeded());
    let reads = 0;
    const h = harness(CONFIG, (command) => {
      if (command === 'GetCommand' && ++reads === 1) throw throughput;
    });
    h.asg.on(SuspendProcessesCommand).rejectsOnce(await asgError(wire.autoscaling.throttling())).resolves({});
    h.ec2
      .on(GetConsoleOutputCommand)
      .rejectsOnce(await ec2Error(wire.ec2.requestLimitExceeded()))
      .resolves({ InstanceId: 'i-0dead000000000003', Output: Buffer.from('boot ok\nagent failed\n').toString('base64') });
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    // The first read was throttled and retried: every event is in the state.
    expect(JSON.parse(String((await stored())!.state)).seenEventIds).toEqual(['ev-if-1', 'ev-if-2', 'ev-if-3']);
    expect(h.asg.commandCalls(SuspendProcessesCommand)).toHaveLength(2);
    expect(h.published()[0].Message).toContain('| agent failed');
    expect(h.published()[0].Message).toContain('Launch process is SUSPENDED');
  });

  test('GetConsoleOutput NotFound is retried until the deadline, then reported as unavailable', async () => {
    const h = harness();
    h.ec2.on(GetConsoleOutputCommand).rejects(await ec2Error(wire.ec2.instanceNotFound('i-0dead000000000003')));
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    expect(h.ec2.commandCalls(GetConsoleOutputCommand).length).toBeGreaterThan(2);
    expect(h.published()[0].Message).toContain('Console output of i-0dead000000000003: unavailable (the instance is gone).');
  });

  test('GetConsoleOutput NotFound or empty output just after termination is retried until the output appears', async () => {
    const h = harness();
    h.ec2
      .on(GetConsoleOutputCommand)
      .rejectsOnce(await ec2Error(wire.ec2.instanceNotFound('i-0dead000000000003')))
      .resolvesOnce({ InstanceId: 'i-0dead000000000003' })
      .resolves({ InstanceId: 'i-0dead000000000003', Output: Buffer.from('line 1\nline 2\nlast words\n').toString('base64') });
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    expect(h.ec2.commandCalls(GetConsoleOutputCommand)).toHaveLength(3);
    expect(h.published()[0].Message).toContain('| last words');
  });

  test('a group that no longer exists: says so and does not fail', async () => {
    const h = harness();
    h.asg.on(SuspendProcessesCommand).rejects(await asgError(groupGone()));
    h.asg.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
    let last;
    for (let n = 1; n <= 3; n++) last = await h.handler(instanceFailed(n, T0 + n * MIN));
    expect(last).toMatchObject({ status: 'loop-confirmed' });
    expect(h.published()[0].Subject).toBe(`Launch loop in ${GROUP}: 3 short-lived launches in 30 min`);
    expect(h.published()[0].Message).toContain('The group no longer exists: nothing to stop.');
  });

  test('a circuit breaker that fails says so and gives the command that stops launches by hand', async () => {
    const h = harness();
    h.asg.on(SuspendProcessesCommand).rejects(await asgError(wire.autoscaling.accessDenied('SuspendProcesses')));
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    expect(h.published()[0].Message).toContain('FAILED to stop launches (AccessDenied: User is not authorized to perform: autoscaling:SuspendProcesses)');
    expect(h.published()[0].Message).toContain(`aws autoscaling suspend-processes --region eu-west-1 --auto-scaling-group-name ${GROUP} --scaling-processes Launch`);
  });

  test('HOLD_CAPACITY holds desired capacity at the instances in service and names the command that restores it', async () => {
    const h = harness({ ...CONFIG, breaker: 'HOLD_CAPACITY' });
    const groups = fixture<{ AutoScalingGroups: Array<Record<string, unknown> & { Instances: Array<Record<string, unknown>> }> }>(
      'autoscaling-describe-auto-scaling-groups-response.json',
    );
    const g = groups.AutoScalingGroups[0];
    h.asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          ...g,
          AutoScalingGroupName: GROUP,
          MinSize: 3,
          DesiredCapacity: 3,
          CreatedTime: new Date(String(g.CreatedTime)),
          Instances: [
            { ...g.Instances[0], InstanceId: 'i-0a', LifecycleState: 'InService' },
            { ...g.Instances[0], InstanceId: 'i-0b', LifecycleState: 'InService' },
            { ...g.Instances[0], InstanceId: 'i-0c', LifecycleState: 'Pending:Wait' },
          ],
        } as never,
      ],
    });
    h.asg.on(UpdateAutoScalingGroupCommand).resolves({});
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    expect(h.asg.commandCalls(UpdateAutoScalingGroupCommand).map((c) => c.args[0].input)).toEqual([{ AutoScalingGroupName: GROUP, MinSize: 2, DesiredCapacity: 2 }]);
    expect(h.asg.commandCalls(SuspendProcessesCommand)).toHaveLength(0);
    expect(h.published()[0].Message).toContain('Desired capacity is HELD at 2 (the instances in service); it was 3.');
    expect(h.published()[0].Message).toContain(`aws autoscaling update-auto-scaling-group --region eu-west-1 --auto-scaling-group-name ${GROUP} --min-size 3 --desired-capacity 3`);
  });

  test('OFF only notifies', async () => {
    const h = harness({ ...CONFIG, breaker: 'OFF' });
    for (let n = 1; n <= 3; n++) await h.handler(instanceFailed(n, T0 + n * MIN));
    expect(h.asg.commandCalls(SuspendProcessesCommand)).toHaveLength(0);
    expect(h.published()[0].Message).toContain('Off by configuration');
  });

  test('two invocations racing on the same group: the loser re-reads and decides again, and no event is lost', async () => {
    let racing = false;
    let raced = false;
    const calls: string[] = [];
    const h = harness(CONFIG, async (command) => {
      if (!racing) return;
      calls.push(command);
      if (command === 'PutCommand' && !raced) {
        raced = true; // another invocation reads and writes between this one's read and its write
        await h.other(asgEvent('autoscaling-launch-lifecycle-action.json', 'lc-other', T0 + 30_000, { EC2InstanceId: 'i-0other0000000000' }));
      }
    });
    await h.handler(instanceFailed(1, T0));
    racing = true;
    expect(await h.handler(instanceFailed(2, T0 + MIN))).toEqual({ status: 'recorded', counted: 1 });
    expect(h.logs.some((l) => l.includes('state changed concurrently'))).toBe(true);
    // Read, write (rejected by DynamoDB's condition), read again, write.
    expect(calls).toEqual(['GetCommand', 'PutCommand', 'GetCommand', 'PutCommand']);
    const item = (await stored())!;
    expect(item.version).toBe(3);
    const state = JSON.parse(String(item.state));
    expect(state.seenEventIds).toEqual(['ev-if-1', 'lc-other', 'ev-if-2']);
    expect(Object.keys(state.instances).sort()).toEqual(['i-0dead000000000001', 'i-0dead000000000002', 'i-0other0000000000']);
  });

  test('ignores events of other groups without touching state', async () => {
    const calls: string[] = [];
    const h = harness(CONFIG, (command) => void calls.push(command));
    const r = await h.handler({ ...launchFailed(1, T0), detail: { AutoScalingGroupName: 'someone-else' } });
    expect(r).toEqual({ status: 'ignored' });
    expect(calls).toEqual([]);
    expect(await stored()).toBeUndefined();
  });
});
