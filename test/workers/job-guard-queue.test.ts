import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { parseArgs, type GuardConfig } from '../../instance/job-guard/args';
import { defaultSpawn } from '../../instance/job-guard/guard';
import { receiveAndRun, type QueueDeps } from '../../instance/job-guard/queue';
import describeResponse from '../fixtures/events/autoscaling-describe-auto-scaling-instances-response.json';
import receiveResponse from '../fixtures/events/sqs-receive-message-response.json';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';

const ID = 'i-0abc1234def567890';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs';
const CONFIG: GuardConfig = { lifecycleHookName: 'resilient-fleet-job-drain', heartbeatIntervalSeconds: 60, maxTerminationWaitSeconds: 3600 };
const MESSAGE = receiveResponse.Messages[0];
// Calls for parsedError (test/wire/parsed.ts): SQS errors as the real client parses the documented JSON answers.
const receiveCall = new ReceiveMessageCommand({ QueueUrl: QUEUE, MaxNumberOfMessages: 1 });
const deleteCall = new DeleteMessageCommand({ QueueUrl: QUEUE, ReceiptHandle: MESSAGE.ReceiptHandle });

const asg = mockClient(AutoScalingClient);
const sqs = mockClient(SQSClient);
let events: string[];
let dir: string;

const instance = (LifecycleState = 'InService') => ({
  AutoScalingInstances: [{ ...describeResponse.AutoScalingInstances[0], InstanceId: ID, AutoScalingGroupName: 'workers', LifecycleState }],
});

/** A real job: writes what it got (stdin | JOB_MESSAGE_ID) to $OUT and exits with $CODE. */
const JOB = [
  process.execPath,
  '-e',
  "let b='';process.stdin.on('data',(c)=>b+=c).on('end',()=>{require('fs').writeFileSync(process.env.OUT,b+'|'+process.env.JOB_MESSAGE_ID);process.exit(Number(process.env.CODE||0))})",
];

function deps(code = 0): QueueDeps {
  return {
    client: new AutoScalingClient({ region: 'eu-west-1' }),
    sqs: new SQSClient({ region: 'eu-west-1' }),
    identity: async () => ({ instanceId: ID, region: 'eu-west-1' }),
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    retry: { sleep: async () => {}, baseDelayMs: 1 },
    stateDir: path.join(dir, 'run'),
    spawn: (cmd, job) => {
      events.push('job started');
      return defaultSpawn(cmd, { ...job, env: { ...job.env, OUT: path.join(dir, 'out'), CODE: String(code) } });
    },
  };
}

beforeEach(() => {
  asg.reset();
  sqs.reset();
  events = [];
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'job-guard-queue-'));
  asg.on(DescribeAutoScalingInstancesCommand).resolves(instance());
  asg.on(SetInstanceProtectionCommand).callsFake((input) => {
    events.push(`protection ${input.ProtectedFromScaleIn ? 'on' : 'off'}`);
    return {};
  });
  sqs.on(ReceiveMessageCommand).callsFake(() => {
    events.push('received');
    return receiveResponse;
  });
  sqs.on(DeleteMessageCommand).callsFake(() => {
    events.push('deleted');
    return {};
  });
  sqs.on(ChangeMessageVisibilityCommand).callsFake(() => {
    events.push('handed back');
    return {};
  });
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('job-guard --queue-url', () => {
  test('receives unprotected, then protects, gives the job the body on stdin, clears, and deletes the message on success', async () => {
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(0))).toBe(0);
    expect(events).toEqual(['received', 'protection on', 'job started', 'protection off', 'deleted']);
    expect(fs.readFileSync(path.join(dir, 'out'), 'utf8')).toBe(`${MESSAGE.Body}|${MESSAGE.MessageId}`);
    expect(sqs.commandCalls(ReceiveMessageCommand)[0].args[0].input).toEqual({ QueueUrl: QUEUE, MaxNumberOfMessages: 1, WaitTimeSeconds: 20 });
    expect(sqs.commandCalls(DeleteMessageCommand)[0].args[0].input).toEqual({ QueueUrl: QUEUE, ReceiptHandle: MESSAGE.ReceiptHandle });
  });

  test('a failed job keeps its message (it comes back after the visibility timeout) and passes its exit code through', async () => {
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(4))).toBe(4);
    expect(events).toEqual(['received', 'protection on', 'job started', 'protection off']);
  });

  test('an empty queue: no protection, no job, exit 0', async () => {
    sqs.on(ReceiveMessageCommand).resolves({});
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(0))).toBe(0);
    expect(asg.calls()).toHaveLength(0);
    expect(events).toEqual([]);
  });

  test('a terminating worker does not start the job and hands the message back at once', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance('Terminating:Wait'));
    asg.on(CompleteLifecycleActionCommand).resolves({});
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(0))).toBe(75);
    expect(events).toEqual(['received', 'handed back']);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0].args[0].input).toEqual({ QueueUrl: QUEUE, ReceiptHandle: MESSAGE.ReceiptHandle, VisibilityTimeout: 0 });
  });

  test('a job that exits 75 itself is a failure of the job, not a stand-down: the message is not handed back early', async () => {
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(75))).toBe(75);
    expect(events).toEqual(['received', 'protection on', 'job started', 'protection off']);
  });

  test('retries throttled receives and deletes', async () => {
    sqs.on(ReceiveMessageCommand).rejectsOnce(await parsedError(SQSClient, receiveCall, wire.sqs.requestThrottled())).resolves(receiveResponse);
    sqs.on(DeleteMessageCommand).rejectsOnce(await parsedError(SQSClient, deleteCall, wire.sqs.requestThrottled())).resolves({});
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(0))).toBe(0);
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(2);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(2);
  });

  test('a delete that keeps failing is logged, not fatal: the job\'s exit code stands', async () => {
    sqs.on(DeleteMessageCommand).rejects(await parsedError(SQSClient, deleteCall, wire.sqs.accessDenied('DeleteMessage')));
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(0))).toBe(0);
  });

  test('protection cannot be set: the message is handed back, the job not started', async () => {
    const protect = new SetInstanceProtectionCommand({ AutoScalingGroupName: 'workers', InstanceIds: [ID], ProtectedFromScaleIn: true });
    asg.on(SetInstanceProtectionCommand).rejects(await parsedError(AutoScalingClient, protect, wire.autoscaling.accessDenied('SetInstanceProtection')));
    expect(await receiveAndRun(QUEUE, JOB, CONFIG, deps(0))).toBe(75);
    expect(events).toEqual(['received', 'handed back']);
  });

  test('parses --queue-url and rejects a queue URL that is not https', () => {
    expect(parseArgs(['--queue-url', QUEUE, '--', './job'])).toEqual({ kind: 'run', configFile: '/etc/job-guard.json', command: ['./job'], queueUrl: QUEUE });
    expect(parseArgs(['--queue-url', 'jobs', '--', './job'])).toEqual({ kind: 'usage', error: "--queue-url needs the queue's https URL" });
  });
});
