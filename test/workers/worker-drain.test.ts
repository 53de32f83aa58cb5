import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  type AutoScalingInstanceDetails,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { makeHandler } from '../../lambda/worker-drain';
import { decide, InvalidEventError, parseTerminateEvent, type TerminateLifecycleAction } from '../../lambda/worker-drain/logic';
import terminateEvent from '../fixtures/events/autoscaling-terminate-lifecycle-action.json';
import describeResponse from '../fixtures/events/autoscaling-describe-auto-scaling-instances-response.json';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const ID = terminateEvent.detail.EC2InstanceId;

function instance(overrides: Partial<AutoScalingInstanceDetails>): { AutoScalingInstances: AutoScalingInstanceDetails[] } {
  return { AutoScalingInstances: [{ ...describeResponse.AutoScalingInstances[0], InstanceId: ID, ...overrides }] };
}

/** The exception the real Auto Scaling client throws for a documented error body (test/wire/bodies.ts). */
const awsError = (answer: WireAnswer): Promise<Error> => parsedError(AutoScalingClient, new DescribeAutoScalingInstancesCommand({}), answer);

const asg = mockClient(AutoScalingClient);
const lines: string[] = [];
const handler = makeHandler(() => ({
  client: new AutoScalingClient({}),
  log: { debug: () => {}, info: (m, f) => lines.push(JSON.stringify({ m, ...f })), warn: () => {}, error: () => {} },
  retry: { sleep: async () => {}, baseDelayMs: 1 },
}));

beforeEach(() => {
  asg.reset();
  lines.length = 0;
});

describe('worker-drain logic', () => {
  // Parsed in a hook, not while jest collects the tests: a parser that throws fails these tests instead of the file.
  let action: TerminateLifecycleAction;
  beforeAll(() => {
    action = parseTerminateEvent(terminateEvent);
  });

  test('reads the documented terminate lifecycle event', () => {
    expect(action).toEqual<TerminateLifecycleAction>({
      autoScalingGroupName: 'my-asg',
      lifecycleHookName: 'my-lifecycle-hook',
      instanceId: 'i-1234567890abcdef0',
      lifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      destination: undefined,
    });
  });

  test.each([
    ['another source', { ...terminateEvent, source: 'aws.ec2' }, /unexpected source/],
    ['a launch lifecycle action', { ...terminateEvent, 'detail-type': 'EC2 Instance-launch Lifecycle Action' }, /unexpected detail-type/],
    ['no instance id', { ...terminateEvent, detail: { ...terminateEvent.detail, EC2InstanceId: '' } }, /EC2InstanceId is missing/],
    ['a malformed instance id', { ...terminateEvent, detail: { ...terminateEvent.detail, EC2InstanceId: 'i-xyz' } }, /not an instance id/],
    ['no token', { ...terminateEvent, detail: { ...terminateEvent.detail, LifecycleActionToken: undefined } }, /LifecycleActionToken is missing/],
    ['not an object', 'hello', /not an object/],
  ])('rejects %s', (_name, event, error) => {
    expect(() => parseTerminateEvent(event)).toThrow(error);
  });

  test.each([
    ['an id with a prefix', 'xi-1234567890abcdef0'],
    ['an id with a suffix', 'i-1234567890abcdef0x'],
    ['an id with capitals', 'i-1234567890ABCDEF0'],
    ['an id too short', 'i-1234567'],
  ])('rejects %s, whole id anchored', (_name, id) => {
    expect(() => parseTerminateEvent({ ...terminateEvent, detail: { ...terminateEvent.detail, EC2InstanceId: id } })).toThrow(
      `detail.EC2InstanceId ${JSON.stringify(id)} is not an instance id`,
    );
  });

  test('accepts the short (8 hex digit) instance ids of older instances', () => {
    expect(parseTerminateEvent({ ...terminateEvent, detail: { ...terminateEvent.detail, EC2InstanceId: 'i-0123abcd' } }).instanceId).toBe('i-0123abcd');
  });

  test('names what is wrong with the event, in an InvalidEventError', () => {
    const thrown = (event: unknown): Error => {
      try {
        parseTerminateEvent(event);
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    };
    const noDetail = thrown({ source: 'aws.autoscaling', 'detail-type': 'EC2 Instance-terminate Lifecycle Action' });
    expect(noDetail).toBeInstanceOf(InvalidEventError);
    expect(noDetail.name).toBe('InvalidEventError');
    expect(noDetail.message).toBe('event has no detail');
    expect(thrown({ ...terminateEvent, detail: 'i-1234567890abcdef0' }).message).toBe('event has no detail');
    expect(thrown({ ...terminateEvent, 'detail-type': 'EC2 Instance-launch Lifecycle Action' }).message).toBe('unexpected detail-type "EC2 Instance-launch Lifecycle Action"');
    expect(thrown({ ...terminateEvent, source: 'aws.ec2' }).message).toBe('unexpected source "aws.ec2"');
  });

  test('carries the destination when the event has one (a warm pool return), and only a string', () => {
    expect(parseTerminateEvent({ ...terminateEvent, detail: { ...terminateEvent.detail, Destination: 'WarmPool' } }).destination).toBe('WarmPool');
    expect(parseTerminateEvent({ ...terminateEvent, detail: { ...terminateEvent.detail, Destination: 7 } }).destination).toBeUndefined();
  });

  test('says why it decided (the reason is logged with the decision)', () => {
    const waiting = { found: true, lifecycleState: 'Terminating:Wait', protectedFromScaleIn: false } as const;
    expect(decide(action, waiting)).toEqual({ action: 'continue', reason: 'no job is running' });
    expect(decide(action, { found: false })).toEqual({ action: 'ignore', reason: 'the group no longer lists the instance' });
    expect(decide(action, { ...waiting, lifecycleState: 'Terminating:Proceed' })).toEqual({
      action: 'ignore',
      reason: 'instance is Terminating:Proceed, not waiting (already completed or timed out)',
    });
    expect(decide({ ...action, lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }, waiting)).toEqual({
      action: 'ignore',
      reason: 'transition autoscaling:EC2_INSTANCE_LAUNCHING is not a termination',
    });
  });

  test('lets an idle worker terminate at once', () => {
    expect(decide(action, { found: true, lifecycleState: 'Terminating:Wait', protectedFromScaleIn: false }).action).toBe('continue');
  });

  test('waits for a busy worker (protected by job-guard)', () => {
    expect(decide(action, { found: true, lifecycleState: 'Terminating:Wait', protectedFromScaleIn: true }).action).toBe('wait');
  });

  test('ignores workers that are gone or no longer waiting, and non-terminate transitions', () => {
    expect(decide(action, { found: false }).action).toBe('ignore');
    expect(decide(action, { found: true, lifecycleState: 'Terminating:Proceed', protectedFromScaleIn: false }).action).toBe('ignore');
    expect(decide(action, { found: true, lifecycleState: 'Terminated', protectedFromScaleIn: true }).action).toBe('ignore');
    expect(decide({ ...action, lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }, { found: true, lifecycleState: 'Terminating:Wait', protectedFromScaleIn: false }).action).toBe('ignore');
  });
});

describe('worker-drain never cuts a job short', () => {
  const states = ['Pending', 'Pending:Wait', 'InService', 'Terminating', 'Terminating:Wait', 'Terminating:Proceed', 'Terminated', 'Detaching', 'Standby'];
  test('it lets termination continue only for a waiting worker that no job-guard protects', () => {
    const action = parseTerminateEvent(terminateEvent);
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom(...states), fc.boolean(), fc.constantFrom('autoscaling:EC2_INSTANCE_TERMINATING', 'autoscaling:EC2_INSTANCE_LAUNCHING'), (found, lifecycleState, protectedFromScaleIn, lifecycleTransition) => {
        const d = decide({ ...action, lifecycleTransition }, found ? { found, lifecycleState, protectedFromScaleIn } : { found: false });
        const expectContinue = found && lifecycleState === 'Terminating:Wait' && !protectedFromScaleIn && lifecycleTransition === 'autoscaling:EC2_INSTANCE_TERMINATING';
        expect(d.action === 'continue').toBe(expectContinue);
        if (found && protectedFromScaleIn) expect(d.action).not.toBe('continue');
      }),
    );
  });
});

describe('worker-drain handler', () => {
  test('completes the lifecycle action with CONTINUE for an idle worker, with the event token', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ LifecycleState: 'Terminating:Wait', ProtectedFromScaleIn: false }));
    asg.on(CompleteLifecycleActionCommand).resolves({});
    const result = await handler(terminateEvent);
    expect(result).toMatchObject({ action: 'continue', completed: 'completed', instanceId: ID });
    expect(asg.commandCalls(DescribeAutoScalingInstancesCommand)[0].args[0].input).toEqual({ InstanceIds: [ID] });
    expect(asg.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: 'my-asg',
      LifecycleHookName: 'my-lifecycle-hook',
      InstanceId: ID,
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      LifecycleActionResult: 'CONTINUE',
    });
  });

  test('waits: does not complete the action while a job runs (job-guard completes it when the job ends)', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ LifecycleState: 'Terminating:Wait', ProtectedFromScaleIn: true }));
    const result = await handler(terminateEvent);
    expect(result.action).toBe('wait');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    expect(lines.join('\n')).toContain('a job is running');
  });

  test('a duplicate event after the action was completed changes nothing', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ LifecycleState: 'Terminating:Proceed' }));
    expect((await handler(terminateEvent)).action).toBe('ignore');
    asg.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    expect((await handler(terminateEvent)).action).toBe('ignore');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
  });

  test('a race with job-guard completing first is not an error ("No active Lifecycle Action found")', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ LifecycleState: 'Terminating:Wait' }));
    asg.on(CompleteLifecycleActionCommand).rejects(await awsError(wire.autoscaling.noActiveLifecycleAction(ID)));
    expect(await handler(terminateEvent)).toMatchObject({ action: 'continue', completed: 'already-done' });
  });

  test('retries throttling and server errors on both calls', async () => {
    asg
      .on(DescribeAutoScalingInstancesCommand)
      .rejectsOnce(await awsError(wire.autoscaling.throttling()))
      .rejectsOnce(await awsError(wire.autoscaling.internalFailure()))
      .resolves(instance({ LifecycleState: 'Terminating:Wait' }));
    asg.on(CompleteLifecycleActionCommand).rejectsOnce(await awsError(wire.autoscaling.throttling())).resolves({});
    expect(await handler(terminateEvent)).toMatchObject({ action: 'continue', completed: 'completed' });
    expect(asg.commandCalls(DescribeAutoScalingInstancesCommand)).toHaveLength(3);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(2);
  });

  test('other errors fail the invocation so EventBridge retries it', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ LifecycleState: 'Terminating:Wait' }));
    asg.on(CompleteLifecycleActionCommand).rejects(await awsError(wire.autoscaling.accessDenied('CompleteLifecycleAction')));
    await expect(handler(terminateEvent)).rejects.toThrow(/not authorized to perform: autoscaling:CompleteLifecycleAction/);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
  });

  test('rejects a malformed event before calling AWS', async () => {
    await expect(handler({ source: 'aws.autoscaling' })).rejects.toThrow(/detail-type/);
    expect(asg.calls()).toHaveLength(0);
  });
});
