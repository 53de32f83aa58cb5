/**
 * The LeaderElection hook's AWS calls at the wire (lambda/leader/io.ts): DynamoDB through the document client, Auto
 * Scaling and EC2, each call's success and every error it handles, with the real clients against the harness.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as io from '../../lambda/leader/io';
import * as wire from './bodies';
import { thrown, wireClient } from './clients';
import { WireServer } from './server';

const GROUP = 'app-blue-asg';
const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';
const t = { sleep: async () => undefined, random: () => 0 };

let server: WireServer;
let clients: io.Clients;
beforeAll(async () => {
  server = await WireServer.start();
  clients = {
    ddb: DynamoDBDocumentClient.from(wireClient(DynamoDBClient, server), { marshallOptions: { removeUndefinedValues: true } }),
    autoscaling: wireClient(AutoScalingClient, server),
    ec2: wireClient(EC2Client, server),
  };
});
afterEach(() => {
  expect(server.unanswered.map((r) => r.operation)).toEqual([]);
  server.reset();
});
afterAll(async () => {
  clients.ddb.destroy();
  clients.autoscaling.destroy();
  clients.ec2.destroy();
  await server.close();
});

const record = { term: 4, leader: B, since: 1764572400000, version: 6, previous: A, departed: [A] };

describe('the ledger (DynamoDB)', () => {
  test('readLeader: a strongly consistent GetItem; no item is undefined; throttling retried', async () => {
    server.on(
      'GetItem',
      wire.dynamodb.provisionedThroughputExceeded(),
      wire.jsonOk({ Item: { pk: { S: `${GROUP}#leader` }, sk: { S: 'leader' }, term: { N: '4' }, leader: { S: B }, since: { N: '1764572400000' }, version: { N: '6' }, previous: { S: A }, departed: { L: [{ S: A }] } } }),
    );
    expect(await io.readLeader(clients, 'ledger', GROUP, t)).toMatchObject(record);
    expect(server.calls('dynamodb:GetItem')[1].json).toMatchObject({ ConsistentRead: true, Key: { pk: { S: `${GROUP}#leader` } } });
    server.on('GetItem', wire.jsonOk({}));
    expect(await io.readLeader(clients, 'ledger', GROUP, t)).toBeUndefined();
  });

  test('writeLeader: a conditional PutItem on the version; ConditionalCheckFailed means another writer won', async () => {
    server.on('PutItem', wire.jsonOk({}));
    expect(await io.writeLeader(clients, 'ledger', GROUP, record, 5, t)).toBe(true);
    expect(server.calls('PutItem')[0].json).toMatchObject({ ConditionExpression: '#v = :expected', ExpressionAttributeValues: { ':expected': { N: '5' } }, Item: { leader: { S: B }, version: { N: '6' } } });
    server.on('PutItem', wire.dynamodb.conditionalCheckFailed());
    expect(await io.writeLeader(clients, 'ledger', GROUP, record, 5, t)).toBe(false);
    expect(server.calls('PutItem')).toHaveLength(2); // not retried
    server.on('PutItem', wire.dynamodb.accessDenied('PutItem'));
    expect((await thrown(io.writeLeader(clients, 'ledger', GROUP, record, 0, t))).name).toBe('AccessDeniedException');
    expect(server.calls('PutItem').at(-1)!.json.ConditionExpression).toBe('attribute_not_exists(pk)');
  });

  test('queryRunningRuns: every page of RUNNING runs', async () => {
    const run = (sk: string) => ({ pk: { S: `${GROUP}#runs` }, sk: { S: sk }, status: { S: 'RUNNING' }, attempt: { N: '1' }, owner: { S: A }, bootId: { S: 'b' }, pid: { N: '7' }, startedAt: { N: '1' } });
    server.on(
      'Query',
      wire.jsonOk({ Items: [run('run#d-1#migrate')], Count: 1, ScannedCount: 1, LastEvaluatedKey: { pk: { S: `${GROUP}#runs` }, sk: { S: 'run#d-1#migrate' } } }),
      wire.jsonOk({ Items: [run('run#d-2#migrate')], Count: 1, ScannedCount: 1 }),
    );
    expect((await io.queryRunningRuns(clients, 'ledger', GROUP, t)).map((r) => r.key)).toEqual(['d-1#migrate', 'd-2#migrate']);
    expect(server.calls('Query')[1].json.ExclusiveStartKey).toEqual({ pk: { S: `${GROUP}#runs` }, sk: { S: 'run#d-1#migrate' } });
  });

  test('abandonRun: a conditional UpdateItem; ConditionalCheckFailed means the run moved on', async () => {
    server.on('UpdateItem', wire.jsonOk({}));
    expect(await io.abandonRun(clients, 'ledger', GROUP, 'd-1#migrate', 1, 1000, t)).toBe(true);
    server.on('UpdateItem', wire.dynamodb.conditionalCheckFailed());
    expect(await io.abandonRun(clients, 'ledger', GROUP, 'd-1#migrate', 1, 1000, t)).toBe(false);
  });
});

describe('the group (Auto Scaling)', () => {
  const groupXml = (instances: Array<{ id: string; state?: string; protectedFromScaleIn?: boolean }>) =>
    wire.queryOk(
      'autoscaling',
      'DescribeAutoScalingGroups',
      `<AutoScalingGroups><member><AutoScalingGroupName>${GROUP}</AutoScalingGroupName><MinSize>0</MinSize><MaxSize>3</MaxSize><DesiredCapacity>${instances.length}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><HealthCheckType>EC2</HealthCheckType><CreatedTime>2026-11-01T10:00:00.000Z</CreatedTime><Instances>${instances
        .map((i) => `<member><InstanceId>${i.id}</InstanceId><AvailabilityZone>eu-west-1a</AvailabilityZone><LifecycleState>${i.state ?? 'InService'}</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>${i.protectedFromScaleIn ? 'true' : 'false'}</ProtectedFromScaleIn></member>`)
        .join('')}</Instances></member></AutoScalingGroups>`,
    );

  test('describeGroup waits (bounded) for a just-launched instance to be listed in service', async () => {
    server.on('DescribeAutoScalingGroups', groupXml([{ id: A }]), groupXml([{ id: A }, { id: B, state: 'Pending' }]), groupXml([{ id: A, protectedFromScaleIn: true }, { id: B }]));
    const g = await io.describeGroup(clients, GROUP, B, t);
    expect(g).toEqual({
      desiredCapacity: 2,
      members: [
        { instanceId: A, lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: true },
        { instanceId: B, lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: false },
      ],
    });
    expect(server.calls('DescribeAutoScalingGroups')).toHaveLength(3);
  });

  test('describeGroup: a group that does not exist fails after the deadline, throttling is retried', async () => {
    server.on('DescribeAutoScalingGroups', wire.autoscaling.throttling(), groupXml([{ id: A }]));
    expect((await io.describeGroup(clients, GROUP, undefined, t)).members).toHaveLength(1);
    server.on('DescribeAutoScalingGroups', wire.queryOk('autoscaling', 'DescribeAutoScalingGroups', '<AutoScalingGroups/>'));
    let now = 0;
    await expect(io.describeGroup(clients, GROUP, undefined, { sleep: async (ms) => void (now += ms), now: () => now, random: () => 1, deadlineMs: 1000 })).rejects.toThrow(/not found/);
  });

  test('setProtection: one call for all ids; an instance already leaving (ValidationError) is skipped; throttling retried', async () => {
    server.on('SetInstanceProtection', wire.autoscaling.throttling(), wire.queryOk('autoscaling', 'SetInstanceProtection'));
    await io.setProtection(clients, GROUP, [A, B], true, t);
    expect(Object.fromEntries(server.calls('SetInstanceProtection')[1].form)).toMatchObject({ AutoScalingGroupName: GROUP, 'InstanceIds.member.1': A, 'InstanceIds.member.2': B, ProtectedFromScaleIn: 'true' });
    server.on('SetInstanceProtection', wire.autoscaling.notInGroup(A, GROUP));
    await expect(io.setProtection(clients, GROUP, [A], false, t)).resolves.toBeUndefined();
    await io.setProtection(clients, GROUP, [], false, t);
    expect(server.calls('SetInstanceProtection')).toHaveLength(3); // nothing sent for no ids
  });

  test('completeLifecycleAction: completed; a duplicate finds no active action', async () => {
    server.on('CompleteLifecycleAction', wire.queryOk('autoscaling', 'CompleteLifecycleAction'));
    expect(await io.completeLifecycleAction(clients, GROUP, 'leader-handover', A, 'tok', t)).toBe('completed');
    server.on('CompleteLifecycleAction', wire.autoscaling.noActiveLifecycleAction(A));
    expect(await io.completeLifecycleAction(clients, GROUP, 'leader-handover', A, 'tok', t)).toBe('no-active-action');
  });
});

describe('the leader tag (EC2)', () => {
  test('tagLeader retries a just-launched instance EC2 cannot see yet; untag treats a gone instance as done', async () => {
    server.on('CreateTags', wire.ec2.instanceNotFound(B), wire.ec2Return('CreateTags'));
    await io.tagLeader(clients, B, 'resilient-fleet:leader', 4, t);
    expect(Object.fromEntries(server.calls('ec2:CreateTags')[1].form)).toMatchObject({ 'ResourceId.1': B, 'Tag.1.Key': 'resilient-fleet:leader', 'Tag.1.Value': '4' });
    server.on('DeleteTags', wire.ec2Return('DeleteTags'), wire.ec2.instanceNotFound(A));
    await io.untag(clients, [A], 'resilient-fleet:leader', t);
    await io.untag(clients, [A], 'resilient-fleet:leader', t);
    expect(server.calls('ec2:DeleteTags').map((r) => [r.form.get('ResourceId.1'), r.form.get('Tag.1.Key')])).toEqual([
      [A, 'resilient-fleet:leader'],
      [A, 'resilient-fleet:leader'],
    ]);
  });

  test('untag does not swallow an access error', async () => {
    server.on('DeleteTags', wire.ec2.unauthorizedOperation());
    expect((await thrown(io.untag(clients, [A], 'resilient-fleet:leader', t))).name).toBe('UnauthorizedOperation');
  });
});
