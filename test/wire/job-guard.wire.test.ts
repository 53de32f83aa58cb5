/**
 * job-guard at the wire: every Auto Scaling and SQS call it makes, success and each error it handles, with the real
 * clients against the harness (the job itself is a real child process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { GuardConfig } from '../../instance/job-guard/args';
import { EX_TEMPFAIL, releaseProtection, runGuarded, type GuardDeps } from '../../instance/job-guard/guard';
import { receiveAndRun } from '../../instance/job-guard/queue';
import * as wire from './bodies';
import { thrown, wireClient } from './clients';
import { WireServer } from './server';

const ID = 'i-0abc1234def567890';
const GROUP = 'workers-asg';
const CONFIG: GuardConfig = { lifecycleHookName: 'resilient-fleet-job-drain', heartbeatIntervalSeconds: 0.01, maxTerminationWaitSeconds: 3600 };
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let server: WireServer;
let autoscaling: AutoScalingClient;
let sqs: SQSClient;
let stateDir: string;
let child: ChildProcess | undefined;
beforeAll(async () => {
  server = await WireServer.start();
  autoscaling = wireClient(AutoScalingClient, server);
  sqs = wireClient(SQSClient, server);
  stateDir = mkdtempSync(join(tmpdir(), 'job-guard-wire-'));
});
afterEach(() => {
  expect(server.unanswered.map((r) => r.operation)).toEqual([]);
  server.reset();
});
afterAll(async () => {
  autoscaling.destroy();
  sqs.destroy();
  await server.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const deps = (): GuardDeps => ({
  client: autoscaling,
  identity: async () => ({ instanceId: ID, region: 'eu-west-1' }),
  log: silent,
  retry: { sleep: async () => undefined, random: () => 0 },
  stateDir,
  spawn: (command, job) => {
    child = spawn(command[0], command.slice(1), { stdio: [job.stdin === undefined ? 'ignore' : 'pipe', 'ignore', 'inherit'], env: { ...process.env, ...job.env } });
    if (job.stdin !== undefined) child.stdin!.end(job.stdin);
    return child;
  },
});
const node = (code: string) => [process.execPath, '-e', code];
const self = (state = 'InService', protectedFromScaleIn = false) => wire.asgDescribeInstances([{ id: ID, group: GROUP, state, protectedFromScaleIn }]);
const ok = (action: string) => wire.queryOk('autoscaling', action);
const protections = () => server.calls('autoscaling:SetInstanceProtection').map((r) => r.form.get('ProtectedFromScaleIn'));

describe('job-guard Auto Scaling calls', () => {
  test('protects, runs the job, clears protection: DescribeAutoScalingInstances and SetInstanceProtection with throttling and ResourceContention retried', async () => {
    server.on('DescribeAutoScalingInstances', wire.autoscaling.throttling(), wire.asgDescribeInstances([]), self());
    server.on('SetInstanceProtection', wire.autoscaling.resourceContention(), ok('SetInstanceProtection'));
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(0);
    expect(protections()).toEqual(['true', 'true', 'false']);
    expect(Object.fromEntries(server.calls('SetInstanceProtection')[1].form)).toMatchObject({ AutoScalingGroupName: GROUP, 'InstanceIds.member.1': ID });
  });

  test('a job the group wants gone keeps the hook waiting with RecordLifecycleActionHeartbeat, then completes the action', async () => {
    server.on('DescribeAutoScalingInstances', self(), self(), self('Terminating:Wait', true));
    server.on('SetInstanceProtection', ok('SetInstanceProtection'));
    server.on('RecordLifecycleActionHeartbeat', () => {
      child?.kill('SIGTERM'); // the job ends once a heartbeat is recorded: no timing involved
      return ok('RecordLifecycleActionHeartbeat');
    });
    server.on('CompleteLifecycleAction', ok('CompleteLifecycleAction'));
    expect(await runGuarded(node('setInterval(() => {}, 1000)'), CONFIG, deps())).toBe(143);
    expect(Object.fromEntries(server.calls('RecordLifecycleActionHeartbeat')[0].form)).toMatchObject({ AutoScalingGroupName: GROUP, LifecycleHookName: CONFIG.lifecycleHookName, InstanceId: ID });
    expect(Object.fromEntries(server.calls('CompleteLifecycleAction')[0].form)).toMatchObject({ LifecycleActionResult: 'CONTINUE', InstanceId: ID });
  });

  test('a terminating instance stands down; "No active Lifecycle Action" (ValidationError) on the complete is fine', async () => {
    server.on('DescribeAutoScalingInstances', self('Terminating:Wait'));
    server.on('CompleteLifecycleAction', wire.autoscaling.noActiveLifecycleAction(ID));
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(EX_TEMPFAIL);
    expect(server.calls('SetInstanceProtection')).toHaveLength(0);
    expect(server.calls('CompleteLifecycleAction')).toHaveLength(1);
  });

  test('at boot the role grant may still be propagating: AccessDenied on the first describe is retried', async () => {
    server.on('DescribeAutoScalingInstances', wire.autoscaling.accessDenied('DescribeAutoScalingInstances'), self());
    server.on('SetInstanceProtection', ok('SetInstanceProtection'));
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(0);
    expect(protections()).toEqual(['true', 'false']);
  });

  test('protection that cannot be set (AccessDenied) fails closed: the job is not started', async () => {
    server.on('DescribeAutoScalingInstances', self());
    server.on('SetInstanceProtection', wire.autoscaling.accessDenied('SetInstanceProtection'));
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(EX_TEMPFAIL);
    expect(server.calls('SetInstanceProtection')).toHaveLength(1); // access denied is not retried
  });

  test('--release clears protection left behind; an instance leaving the group (ValidationError) is fine', async () => {
    server.on('DescribeAutoScalingInstances', self('InService', true));
    server.on('SetInstanceProtection', wire.autoscaling.notInGroup(ID, GROUP));
    expect(await releaseProtection(deps())).toBe(0);
    expect(protections()).toEqual(['false']);
  });
});

describe('job-guard SQS calls (--queue-url)', () => {
  const queueUrl = () => `${server.url}/123456789012/jobs`;
  const message = { MessageId: '5fea7756-0ea4-451a-a703-a558b933e274', ReceiptHandle: 'MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw', MD5OfBody: 'fafb00f5732ab283681e124bf8747ed1', Body: 'This is a test message' };

  beforeEach(() => {
    server.on('DescribeAutoScalingInstances', self());
    server.on('SetInstanceProtection', ok('SetInstanceProtection'));
  });

  test('ReceiveMessage then DeleteMessage once the job succeeded (RequestThrottled retried)', async () => {
    server.on('ReceiveMessage', wire.sqs.requestThrottled(), wire.jsonOk({ Messages: [message] }));
    server.on('DeleteMessage', wire.jsonOk({}));
    expect(await receiveAndRun(queueUrl(), node('let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.exit(s==="This is a test message"?0:9))'), CONFIG, { ...deps(), sqs, waitTimeSeconds: 0 })).toBe(0);
    expect(server.calls('sqs:ReceiveMessage')[1].json).toMatchObject({ QueueUrl: queueUrl(), MaxNumberOfMessages: 1, WaitTimeSeconds: 0 });
    expect(server.calls('sqs:DeleteMessage')[0].json).toEqual({ QueueUrl: queueUrl(), ReceiptHandle: message.ReceiptHandle });
  });

  test('a job not started hands the message back (ChangeMessageVisibility 0); a failed settle is logged, not thrown', async () => {
    server.on('DescribeAutoScalingInstances', self('Terminating:Wait'));
    server.on('CompleteLifecycleAction', ok('CompleteLifecycleAction'));
    server.on('ReceiveMessage', wire.jsonOk({ Messages: [message] }));
    server.on('ChangeMessageVisibility', wire.sqs.messageNotInflight());
    expect(await receiveAndRun(queueUrl(), node('process.exit(0)'), CONFIG, { ...deps(), sqs, waitTimeSeconds: 0 })).toBe(EX_TEMPFAIL);
    expect(server.calls('sqs:ChangeMessageVisibility')[0].json).toEqual({ QueueUrl: queueUrl(), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 });
  });

  test('an empty queue runs nothing; a queue that does not exist fails at once instead of being retried', async () => {
    server.reset();
    server.on('ReceiveMessage', wire.jsonOk({}));
    expect(await receiveAndRun(queueUrl(), node('process.exit(3)'), CONFIG, { ...deps(), sqs, waitTimeSeconds: 0 })).toBe(0);
    server.on('ReceiveMessage', wire.sqs.queueDoesNotExist());
    expect((await thrown(receiveAndRun(queueUrl(), node('process.exit(3)'), CONFIG, { ...deps(), sqs, waitTimeSeconds: 0 }))).name).toBe('QueueDoesNotExist');
    expect(server.calls('ReceiveMessage')).toHaveLength(2);
  });
});
