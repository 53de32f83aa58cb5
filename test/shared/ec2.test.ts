/** The EC2 consistency helpers, with the real EC2 client against the wire harness (test/wire): errors are the SDK's own. */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describeInstancesConsistently, firstWithCapacity, tagSpecifications, tagWithRetry } from '../../lambda/shared/ec2';
import * as wire from '../wire/bodies';
import { thrown, wireClient } from '../wire/clients';
import { WireServer, type WireAnswer } from '../wire/server';

const fast = { sleep: async () => undefined, random: () => 0 };
const ID = 'i-1234567890abcdef0';

let server: WireServer;
let client: EC2Client;
beforeAll(async () => {
  server = await WireServer.start();
  client = wireClient(EC2Client, server);
});
afterEach(() => server.reset());
afterAll(async () => {
  client.destroy();
  await server.close();
});

describe('describeInstancesConsistently', () => {
  test('retries an instance that EC2 says is not found just after launch, and throttling', async () => {
    server.on('DescribeInstances', wire.ec2.instanceNotFound(ID), wire.ec2.requestLimitExceeded(), wire.ec2DescribeInstances([{ id: ID, privateIp: '10.0.0.157' }]));
    const instances = await describeInstancesConsistently(client, [ID], fast);
    expect(instances.map((i) => [i.InstanceId, i.State?.Name, i.PrivateIpAddress])).toEqual([[ID, 'running', '10.0.0.157']]);
    expect(server.calls('ec2:DescribeInstances').map((r) => r.form.get('InstanceId.1'))).toEqual([ID, ID, ID]);
  });

  test('retries while an instance is missing from an answer without an error', async () => {
    server.on('DescribeInstances', wire.ec2DescribeInstances([]), wire.ec2DescribeInstances([{ id: ID }]));
    await expect(describeInstancesConsistently(client, [ID], fast)).resolves.toHaveLength(1);
    expect(server.calls('DescribeInstances')).toHaveLength(2);
  });

  test('gives up at the deadline', async () => {
    server.on('DescribeInstances', wire.ec2.instanceNotFound(ID));
    let t = 0;
    const err = await thrown(describeInstancesConsistently(client, [ID], { deadlineMs: 1000, sleep: async (ms) => void (t += ms), now: () => t, random: () => 1 }));
    expect(err.name).toBe('InvalidInstanceID.NotFound');
    expect(t).toBeLessThanOrEqual(1000);
  });

  test('follows NextToken pages', async () => {
    server.on('DescribeInstances', wire.ec2DescribeInstances([{ id: 'i-0a' }], 't1'), wire.ec2DescribeInstances([{ id: 'i-0b' }]));
    const got = await describeInstancesConsistently(client, ['i-0a', 'i-0b'], fast);
    expect(got.map((i) => i.InstanceId)).toEqual(['i-0a', 'i-0b']);
    expect(server.calls('DescribeInstances').map((r) => r.form.get('NextToken'))).toEqual([null, 't1']);
  });

  test('asks nothing for no ids', async () => {
    await expect(describeInstancesConsistently(client, [], fast)).resolves.toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  test('does not retry an authorisation error', async () => {
    server.on('DescribeInstances', wire.ec2.unauthorizedOperation());
    expect((await thrown(describeInstancesConsistently(client, [ID], fast))).name).toBe('UnauthorizedOperation');
    expect(server.calls('DescribeInstances')).toHaveLength(1);
  });
});

describe('tagWithRetry', () => {
  test('retries NotFound and sends the tags in a stable order', async () => {
    server.on('CreateTags', wire.ec2.instanceNotFound(ID), wire.ec2Return('CreateTags'));
    await tagWithRetry(client, [ID], { b: '2', a: '1' }, fast);
    const calls = server.calls('ec2:CreateTags');
    expect(calls).toHaveLength(2);
    expect(Object.fromEntries(calls[1].form)).toMatchObject({ 'ResourceId.1': ID, 'Tag.1.Key': 'a', 'Tag.1.Value': '1', 'Tag.2.Key': 'b', 'Tag.2.Value': '2' });
  });

  test('an access error (UnauthorizedOperation) is not retried', async () => {
    server.on('CreateTags', wire.ec2.unauthorizedOperation());
    await expect(tagWithRetry(client, [ID], { a: '1' }, fast)).rejects.toThrow(/not authorized/);
    expect(server.calls('CreateTags')).toHaveLength(1);
  });
});

test('tagSpecifications tags every resource type at creation', () => {
  expect(tagSpecifications(['instance', 'volume'], { team: 'x' })).toEqual([
    { ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'x' }] },
    { ResourceType: 'volume', Tags: [{ Key: 'team', Value: 'x' }] },
  ]);
});

describe('firstWithCapacity', () => {
  /** A launch attempt the harness answers: capacity errors for the placements listed, success for the others. */
  const attemptWith = (noCapacity: readonly string[], tried: string[], other?: () => WireAnswer) => async (p: string) => {
    tried.push(p);
    server.on('DescribeInstances', other?.() ?? (noCapacity.includes(p) ? wire.ec2.insufficientInstanceCapacity() : wire.ec2DescribeInstances([{ id: 'i-0new' }])));
    const out = await client.send(new DescribeInstancesCommand({}));
    return out.Reservations?.[0]?.Instances?.[0]?.InstanceId;
  };

  test('moves past capacity errors to the next placement', async () => {
    const tried: string[] = [];
    const out = await firstWithCapacity(['c7g.large@a', 'm7g.large@a', 'c7g.large@b'], attemptWith(['c7g.large@a', 'm7g.large@a'], tried));
    expect(out.result).toBe('i-0new');
    expect(out.placement).toBe('c7g.large@b');
    expect(out.capacityErrors.map((c) => (c.error as Error).name)).toEqual(['InsufficientInstanceCapacity', 'InsufficientInstanceCapacity']);
    expect(tried).toEqual(['c7g.large@a', 'm7g.large@a', 'c7g.large@b']);
  });

  test('throws any other error at once', async () => {
    const tried: string[] = [];
    await expect(firstWithCapacity(['a', 'b'], attemptWith([], tried, () => wire.ec2Error('InvalidAMIID.NotFound', "The image id '[ami-0abc]' does not exist")))).rejects.toThrow(/does not exist/);
    expect(tried).toEqual(['a']);
  });

  test('reports every placement when none has capacity', async () => {
    await expect(firstWithCapacity(['a', 'b'], attemptWith(['a', 'b'], []))).rejects.toThrow(/no capacity in any placement/);
  });
});
