import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DeleteTagsCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { configFromEnv, handle, parseEvent, type HookConfig, type HookEvent } from '../../lambda/leader/index';
import launchSample from '../fixtures/events/autoscaling-launch-successful.json';
import describeSample from '../fixtures/events/autoscaling-describe-auto-scaling-groups-response.json';
import scheduledSample from '../fixtures/events/eventbridge-scheduled-event.json';
import terminateSample from '../fixtures/events/autoscaling-terminate-lifecycle-action.json';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const GROUP = 'my-asg';
const HOOK = 'my-lifecycle-hook';
const config: HookConfig = {
  tableName: 'ledger',
  groupName: GROUP,
  hookName: HOOK,
  tagKey: 'resilient-fleet:leader',
  protectLeader: true,
  abandonGraceMs: 300_000,
};

const ddbMock = mockClient(DynamoDBDocumentClient);
const asgMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const clients = {
  ddb: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  autoscaling: new AutoScalingClient({}),
  ec2: new EC2Client({}),
};
const NOW = Date.parse('2026-11-22T07:00:00Z');
const sleeps: number[] = [];
const timing = { sleep: async (ms: number) => void sleeps.push(ms), now: () => NOW, random: () => 0.5 };
const logs: string[] = [];
const log = {
  debug: () => undefined,
  info: (m: string) => void logs.push(m),
  warn: (m: string) => void logs.push(m),
  error: (m: string) => void logs.push(m),
};
const deps = { clients, config, timing, log };

/** The documented launch event, for this group and instance. */
function launchEvent(instanceId: string): HookEvent {
  return { ...launchSample, detail: { ...launchSample.detail, AutoScalingGroupName: GROUP, EC2InstanceId: instanceId } };
}
/** The documented terminate lifecycle action (its group and hook names are already my-asg / my-lifecycle-hook). */
function terminateEvent(instanceId: string, extra: Record<string, unknown> = {}): HookEvent {
  return { ...terminateSample, detail: { ...terminateSample.detail, EC2InstanceId: instanceId, ...extra } };
}

type Inst = { id: string; state?: string; health?: string; protected?: boolean };
/** The documented DescribeAutoScalingGroups answer, with its instance entry copied per instance. */
function group(instances: Inst[], desired = instances.length) {
  const base = describeSample.AutoScalingGroups[0];
  return {
    AutoScalingGroups: [
      {
        ...base,
        DesiredCapacity: desired,
        Instances: instances.map((i) => ({
          ...base.Instances[0],
          InstanceId: i.id,
          LifecycleState: i.state ?? 'InService',
          HealthStatus: i.health ?? 'Healthy',
          ProtectedFromScaleIn: i.protected ?? false,
        })),
        CreatedTime: new Date(base.CreatedTime),
      },
    ],
  } as never;
}

function leaderItem(fields: Record<string, unknown>) {
  return { Item: { pk: `${GROUP}#leader`, sk: 'leader', group: GROUP, departed: [], ...fields } };
}

const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';
const C = 'i-0ccccccccccccccc3';

// Errors are the ones the real SDK clients parse from the documented wire bodies (test/wire), never typed by hand.
const ec2Error = (a: WireAnswer) => parsedError(EC2Client, new DescribeInstancesCommand({}), a);
const asgError = (a: WireAnswer) => parsedError(AutoScalingClient, new DescribeAutoScalingGroupsCommand({}), a);
const ddbError = (a: WireAnswer) => parsedError(DynamoDBClient, new GetItemCommand({ TableName: 'ledger', Key: {} }), a);
const ccf = () => ddbError(wire.dynamodb.conditionalCheckFailed());

beforeEach(() => {
  ddbMock.reset();
  asgMock.reset();
  ec2Mock.reset();
  sleeps.length = 0;
  logs.length = 0;
  ec2Mock.on(CreateTagsCommand).resolves({});
  ec2Mock.on(DeleteTagsCommand).resolves({});
  asgMock.on(SetInstanceProtectionCommand).resolves({});
  asgMock.on(CompleteLifecycleActionCommand).resolves({});
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(QueryCommand).resolves({ Items: [] });
});

describe('parseEvent (documented samples)', () => {
  test('reads the launch, terminate and scheduled samples', () => {
    expect(parseEvent(launchEvent(A), config)).toEqual({ trigger: { kind: 'launch', instanceId: A } });
    expect(parseEvent(terminateEvent(A), config)).toEqual({
      trigger: { kind: 'terminate', instanceId: A, final: true },
      token: '87654321-4321-4321-4321-210987654321',
      hookName: HOOK,
    });
    expect(parseEvent(scheduledSample, config)).toEqual({ trigger: { kind: 'sweep' } });
  });

  test('a terminate action into a warm pool is not final (the instance may come back with its id)', () => {
    expect(parseEvent(terminateEvent(A, { Destination: 'WarmPool' }), config)).toMatchObject({ trigger: { final: false } });
  });

  test('ignores other groups, other lifecycle hooks, other detail types and malformed instance ids', () => {
    expect(parseEvent({ ...launchSample }, config)).toMatchObject({ ignore: expect.stringMatching(/another group/) });
    expect(parseEvent(terminateEvent(A, { LifecycleHookName: 'someone-elses-hook' }), config)).toMatchObject({ ignore: expect.stringMatching(/another lifecycle hook/) });
    expect(parseEvent({ ...launchEvent(A), 'detail-type': 'EC2 Instance Terminate Successful' }, config)).toMatchObject({ ignore: expect.stringMatching(/detail-type/) });
    expect(parseEvent(launchEvent('i-$(reboot)'), config)).toMatchObject({ ignore: expect.stringMatching(/EC2InstanceId/) });
  });
});

describe('leader hook', () => {
  test('elects the first in-service instance after zero, tags it with its term and protects it', async () => {
    ddbMock.on(GetCommand).resolves({});
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A }, { id: B, state: 'Pending' }]));
    const r = await handle(launchEvent(A), deps);
    expect(r).toMatchObject({ trigger: 'launch', leader: A, term: 1, wrote: true });
    const put = ddbMock.commandCalls(PutCommand)[0].args[0].input;
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(put.Item).toMatchObject({ pk: `${GROUP}#leader`, sk: 'leader', leader: A, term: 1, version: 1, since: NOW });
    expect(ddbMock.commandCalls(GetCommand)[0].args[0].input.ConsistentRead).toBe(true);
    expect(ec2Mock.commandCalls(CreateTagsCommand)[0].args[0].input).toEqual({ Resources: [A], Tags: [{ Key: 'resilient-fleet:leader', Value: '1' }] });
    expect(asgMock.commandCalls(SetInstanceProtectionCommand)[0].args[0].input).toEqual({ AutoScalingGroupName: GROUP, InstanceIds: [A], ProtectedFromScaleIn: true });
  });

  test('keeps the term growing from zero capacity: the morning leader gets term + 1', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 7, version: 12, previous: B, departed: [B] }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: C }]));
    const r = await handle(launchEvent(C), deps);
    expect(r).toMatchObject({ leader: C, term: 8 });
    const put = ddbMock.commandCalls(PutCommand)[0].args[0].input;
    expect(put.ConditionExpression).toBe('#v = :expected');
    expect(put.ExpressionAttributeValues).toEqual({ ':expected': 12 });
  });

  test('retries an instance that is not listed (then Pending) just after launch, and a tag that hits NotFound', async () => {
    ddbMock.on(GetCommand).resolves({});
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(group([]))
      .resolvesOnce(group([{ id: A, state: 'Pending' }]))
      .resolves(group([{ id: A }]));
    ec2Mock
      .on(CreateTagsCommand)
      .rejectsOnce(await ec2Error(wire.ec2.instanceNotFound(A)))
      .resolves({});
    const r = await handle(launchEvent(A), deps);
    expect(r).toMatchObject({ leader: A, term: 1 });
    expect(asgMock.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(3);
    expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(2);
    expect(sleeps.length).toBeGreaterThanOrEqual(3);
  });

  test('rides out throttling of DynamoDB and Auto Scaling', async () => {
    ddbMock
      .on(GetCommand)
      .rejectsOnce(await ddbError(wire.dynamodb.provisionedThroughputExceeded()))
      .resolves({});
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .rejectsOnce(await asgError(wire.autoscaling.throttling()))
      .resolves(group([{ id: A }], 2));
    asgMock.on(SetInstanceProtectionCommand).rejectsOnce(await asgError(wire.autoscaling.throttling())).resolves({});
    const r = await handle(launchEvent(A), deps);
    expect(r).toMatchObject({ leader: A, term: 1 });
    expect(asgMock.commandCalls(SetInstanceProtectionCommand)).toHaveLength(2);
  });

  test('loses a race gracefully: on a conditional-check failure it reads again and keeps the winner', async () => {
    ddbMock
      .on(GetCommand)
      .resolvesOnce({})
      .resolves(leaderItem({ term: 1, leader: A, version: 1, since: NOW }));
    ddbMock.on(PutCommand).rejectsOnce(await ccf());
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A }, { id: B }]));
    const r = await handle(launchEvent(B), deps);
    expect(r).toMatchObject({ leader: A, term: 1, wrote: false });
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(CreateTagsCommand)[0].args[0].input.Resources).toEqual([A]);
  });

  test('hands leadership over before the leader terminates, then lets it go', async () => {
    const order: string[] = [];
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 3, leader: A, version: 5, since: NOW - 1000 }));
    ddbMock.on(PutCommand).callsFake(() => (order.push('ledger written'), {}));
    asgMock.on(CompleteLifecycleActionCommand).callsFake(() => (order.push('instance released'), {}));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A, state: 'Terminating:Wait', protected: true }, { id: B }, { id: C }]));
    const r = await handle(terminateEvent(A), deps);
    expect(r).toMatchObject({ trigger: 'terminate', leader: B, term: 4, wrote: true, lifecycle: 'completed' });
    const put = ddbMock.commandCalls(PutCommand)[0].args[0].input;
    expect(put.Item).toMatchObject({ leader: B, term: 4, version: 6, previous: A, departed: [A] });
    expect(asgMock.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: GROUP, InstanceIds: [B], ProtectedFromScaleIn: true },
    ]);
    const complete = asgMock.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input;
    expect(complete).toEqual({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: HOOK,
      InstanceId: A,
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      LifecycleActionResult: 'CONTINUE',
    });
    // The ledger is written before the instance is released.
    expect(order).toEqual(['ledger written', 'instance released']);
  });

  test('one leader tag at any time: the departing leader loses its tag before the new leader gets it', async () => {
    const order: string[] = [];
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 3, leader: A, version: 5, since: NOW - 1000 }));
    ec2Mock.on(DeleteTagsCommand).callsFake((i: { Resources: string[] }) => (order.push(`untag ${i.Resources.join()}`), {}));
    ec2Mock.on(CreateTagsCommand).callsFake((i: { Resources: string[] }) => (order.push(`tag ${i.Resources.join()}`), {}));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A, state: 'Terminating:Wait', protected: true }, { id: B }, { id: C }]));
    await handle(terminateEvent(A), deps);
    expect(order).toEqual([`untag ${A}`, `tag ${B}`]);
    expect(ec2Mock.commandCalls(DeleteTagsCommand)[0].args[0].input).toEqual({ Resources: [A], Tags: [{ Key: config.tagKey }] });
  });

  test('a departing leader the group no longer lists (already terminated) is untagged by id; NotFound counts as done', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 3, leader: A, version: 5, since: NOW - 1000 }));
    ec2Mock.on(DeleteTagsCommand).rejects(await ec2Error(wire.ec2.instanceNotFound(A)));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: B }]));
    const r = await handle(terminateEvent(A), deps);
    expect(r).toMatchObject({ leader: B, lifecycle: 'completed' });
    expect(ec2Mock.commandCalls(DeleteTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([[A]]);
    expect(ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input.Resources)).toEqual([[B]]);
  });

  test('a duplicated terminate event changes nothing and treats "no active lifecycle action" as done', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 4, leader: B, version: 6, previous: A, departed: [A] }));
    // A stale answer still lists A as in service: the ledger's departed list outranks it.
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A }, { id: B, protected: true }]));
    asgMock
      .on(CompleteLifecycleActionCommand)
      .rejects(await asgError(wire.autoscaling.noActiveLifecycleAction(A)));
    const r = await handle(terminateEvent(A), deps);
    expect(r).toMatchObject({ leader: B, term: 4, wrote: false, lifecycle: 'no-active-action' });
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
    expect(asgMock.commandCalls(SetInstanceProtectionCommand)).toHaveLength(0);
  });

  test('a late launch event of a departed instance never elects it, even when a stale read shows it in service', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 2, version: 4, previous: A, departed: [A] }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A }]));
    const r = await handle(launchEvent(A), deps);
    expect(r).toMatchObject({ wrote: false });
    expect(r.leader).toBeUndefined();
    expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(0);
  });

  test('re-elects when the leader becomes unhealthy, and moves the tag and the protection', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 2, leader: A, version: 2 }));
    ddbMock.on(QueryCommand).resolves({ Items: [] });
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A, health: 'Unhealthy', protected: true }, { id: B }]));
    const r = await handle(scheduledSample, deps);
    expect(r).toMatchObject({ trigger: 'sweep', leader: B, term: 3 });
    expect(ec2Mock.commandCalls(DeleteTagsCommand)[0].args[0].input).toEqual({ Resources: [A], Tags: [{ Key: 'resilient-fleet:leader' }] });
    expect(asgMock.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: GROUP, InstanceIds: [B], ProtectedFromScaleIn: true },
      { AutoScalingGroupName: GROUP, InstanceIds: [A], ProtectedFromScaleIn: false },
    ]);
  });

  test('at desired capacity zero the leader loses its protection so the nightly stop can terminate it', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 2, leader: A, version: 2 }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A, protected: true }, { id: B, state: 'Terminating:Wait' }], 0));
    await handle(terminateEvent(B), deps);
    expect(asgMock.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: GROUP, InstanceIds: [A], ProtectedFromScaleIn: false },
    ]);
  });

  test('the sweep abandons a run whose instance left the group, conditional on its attempt', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 1, leader: B, version: 1 }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: B, protected: true }]));
    ddbMock.on(QueryCommand).resolves({
      Items: [
        { pk: GROUP, sk: 'run#d-OLD#migrate', status: 'RUNNING', attempt: 2, owner: A, bootId: 'x', pid: 10, startedAt: NOW - 600_000 },
        { pk: GROUP, sk: 'run#d-NEW#migrate', status: 'RUNNING', attempt: 1, owner: C, bootId: 'y', pid: 11, startedAt: NOW - 10_000 },
      ],
    });
    ddbMock.on(UpdateCommand).resolves({});
    const r = await handle(scheduledSample, deps);
    expect(r.abandoned).toEqual(['d-OLD#migrate']);
    const update = ddbMock.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.Key).toEqual({ pk: GROUP, sk: 'run#d-OLD#migrate' });
    expect(update.ConditionExpression).toBe('attempt = :attempt AND #s = :running');
    expect(update.ExpressionAttributeValues).toMatchObject({ ':attempt': 2 });
  });

  test('when the election fails on a terminate action, it still releases the instance and then reports the failure', async () => {
    ddbMock.on(GetCommand).rejects(await ddbError(wire.dynamodb.accessDenied('GetItem')));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A }]));
    await expect(handle(terminateEvent(A), deps)).rejects.toThrow(/not authorized/);
    expect(asgMock.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
  });

  test('ignores events of other groups without calling AWS', async () => {
    const r = await handle({ ...launchSample }, deps);
    expect(r.trigger).toBe('ignored');
    expect(ddbMock.calls()).toHaveLength(0);
    expect(asgMock.calls()).toHaveLength(0);
  });

  test('an old leader that is already gone (NotFound on untag) or leaving (ValidationError on protection) is not an error', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 2, leader: A, version: 2 }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A, health: 'Unhealthy', protected: true }, { id: B }]));
    ec2Mock.on(DeleteTagsCommand).rejects(await ec2Error(wire.ec2.instanceNotFound(A)));
    asgMock
      .on(SetInstanceProtectionCommand, { InstanceIds: [A] })
      .rejects(await asgError(wire.queryError('ValidationError', `The instance ${A} is not in InService or EnteringStandby or Standby.`)));
    const r = await handle(scheduledSample, deps);
    expect(r).toMatchObject({ leader: B, term: 3 });
  });

  test('a real failure to tag the new leader fails the invocation (EventBridge retries it; the sweep repairs it)', async () => {
    ddbMock.on(GetCommand).resolves({});
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: A }]));
    ec2Mock.on(CreateTagsCommand).rejects(await ec2Error(wire.ec2.unauthorizedOperation()));
    await expect(handle(launchEvent(A), deps)).rejects.toThrow(/not authorized/);
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(1); // the ledger is the truth and was written first
  });
});

describe('stale answers never override the ledger', () => {
  test('a just-elected leader missing from a stale DescribeAutoScalingGroups answer is kept, not deposed', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 6, leader: B, version: 9, since: NOW - 5_000 }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: C }]));
    const r = await handle(launchEvent(C), { ...deps, timing: { ...timing, deadlineMs: 0 } });
    expect(r).toMatchObject({ leader: B, term: 6, wrote: false });
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(0);
  });

  test('the sweep does replace a leader the group no longer lists', async () => {
    ddbMock.on(GetCommand).resolves(leaderItem({ term: 6, leader: B, version: 9, since: NOW - 5_000 }));
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: C }]));
    const r = await handle(scheduledSample, deps);
    expect(r).toMatchObject({ leader: C, term: 7, wrote: true });
  });
});

describe('configFromEnv', () => {
  test('reads what the construct sets, and names a missing variable', () => {
    expect(
      configFromEnv({ TABLE_NAME: 't', GROUP_NAME: 'g', HOOK_NAME: 'h', TAG_KEY: 'k', PROTECT_LEADER: 'false', ABANDON_GRACE_MS: '60000' }),
    ).toEqual({ tableName: 't', groupName: 'g', hookName: 'h', tagKey: 'k', protectLeader: false, abandonGraceMs: 60_000 });
    expect(() => configFromEnv({ TABLE_NAME: 't' })).toThrow(/GROUP_NAME is not set/);
  });
});
