/**
 * The worker-drain hook at the wire: DescribeAutoScalingInstances and CompleteLifecycleAction with the real Auto
 * Scaling client against the harness (query/XML, the API Reference's sample layouts), success and each handled error.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { continueTermination, describeWorker, isNoActiveLifecycleAction } from '../../lambda/worker-drain/io';
import * as wire from './bodies';
import { thrown } from './clients';
import { useWireServer } from './use-wire-server';

const ID = 'i-0abc1234def567890';
const ACTION = { autoScalingGroupName: 'workers-asg', lifecycleHookName: 'resilient-fleet-job-drain', instanceId: ID, lifecycleActionToken: 'c613620e-07e2-4ed2-a9e2-ef8258911ade' };
const harness = useWireServer();
const { sleeps } = harness;
const options = { sleep: harness.sleep, random: () => 0.5 };
let client: AutoScalingClient;
beforeAll(() => {
  client = harness.client(AutoScalingClient);
});

describe('describeWorker', () => {
  test('reads the lifecycle state and scale-in protection; throttling and a 500 are retried', async () => {
    harness.server.on('DescribeAutoScalingInstances', wire.autoscaling.throttling(), wire.autoscaling.internalFailure(), wire.asgDescribeInstances([{ id: ID, group: 'workers-asg', state: 'Terminating:Wait', protectedFromScaleIn: true }]));
    expect(await describeWorker(client, ID, options)).toEqual({ found: true, lifecycleState: 'Terminating:Wait', protectedFromScaleIn: true });
    expect(sleeps).toHaveLength(2);
    expect(Object.fromEntries(harness.server.calls('DescribeAutoScalingInstances')[2].form)).toMatchObject({ 'InstanceIds.member.1': ID });
  });

  test('an instance the group no longer lists is not found', async () => {
    harness.server.on('DescribeAutoScalingInstances', wire.asgDescribeInstances([]));
    expect(await describeWorker(client, ID, options)).toEqual({ found: false });
  });

  test('access denied is thrown at once', async () => {
    harness.server.on('DescribeAutoScalingInstances', wire.autoscaling.accessDenied('DescribeAutoScalingInstances'));
    expect(await thrown(describeWorker(client, ID, options))).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(harness.server.calls('DescribeAutoScalingInstances')).toHaveLength(1);
  });
});

describe('continueTermination', () => {
  test('completes the action with CONTINUE and the token; contention is retried', async () => {
    harness.server.on('CompleteLifecycleAction', wire.autoscaling.resourceContention(), wire.queryOk('autoscaling', 'CompleteLifecycleAction'));
    expect(await continueTermination(client, ACTION, options)).toBe('completed');
    expect(Object.fromEntries(harness.server.calls('CompleteLifecycleAction')[1].form)).toMatchObject({
      AutoScalingGroupName: 'workers-asg',
      LifecycleHookName: 'resilient-fleet-job-drain',
      InstanceId: ID,
      LifecycleActionToken: ACTION.lifecycleActionToken,
      LifecycleActionResult: 'CONTINUE',
    });
  });

  test('an action that is no longer active (completed by job-guard, or timed out) is already done', async () => {
    harness.server.on('CompleteLifecycleAction', wire.autoscaling.noActiveLifecycleAction(ID));
    expect(await continueTermination(client, ACTION, options)).toBe('already-done');
    expect(harness.server.calls('CompleteLifecycleAction')).toHaveLength(1);
  });

  test('any other ValidationError is thrown, not taken for done', async () => {
    harness.server.on('CompleteLifecycleAction', wire.queryError('ValidationError', '1 validation error detected: Value at \'lifecycleHookName\' failed to satisfy constraint'));
    const err = await thrown(continueTermination(client, ACTION, options));
    expect(err).toMatchObject({ name: 'ValidationError' });
    expect(isNoActiveLifecycleAction(err)).toBe(false);
  });
});
