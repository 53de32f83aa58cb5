import { CreateTagsCommand, DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describeInstancesConsistently, firstWithCapacity, tagSpecifications, tagWithRetry } from '../../lambda/shared/ec2';
import documented from '../fixtures/events/ec2-describe-instances-response.json';

const ec2Mock = mockClient(EC2Client);
const client = new EC2Client({});
const fast = { sleep: async () => undefined, random: () => 0 };
const ID = 'i-1234567890abcdef0';

function awsError(name: string) {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: name });
}

beforeEach(() => ec2Mock.reset());

describe('describeInstancesConsistently', () => {
  test('retries an instance that EC2 says is not found just after launch', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .rejectsOnce(awsError('InvalidInstanceID.NotFound'))
      .rejectsOnce(awsError('RequestLimitExceeded'))
      .resolves(documented as never);
    const instances = await describeInstancesConsistently(client, [ID], fast);
    expect(instances.map((i) => i.InstanceId)).toEqual([ID]);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(3);
  });

  test('retries while an instance is missing from an answer without an error', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolvesOnce({ Reservations: [] }).resolves(documented as never);
    await expect(describeInstancesConsistently(client, [ID], fast)).resolves.toHaveLength(1);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(2);
  });

  test('gives up at the deadline', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    let t = 0;
    await expect(
      describeInstancesConsistently(client, [ID], { deadlineMs: 1000, sleep: async (ms) => { t += ms; }, now: () => t, random: () => 1 }),
    ).rejects.toThrow();
    expect(t).toBeLessThanOrEqual(1000);
  });

  test('follows NextToken pages', async () => {
    const page1 = { Reservations: [{ Instances: [{ InstanceId: 'i-a' }] }], NextToken: 't1' };
    const page2 = { Reservations: [{ Instances: [{ InstanceId: 'i-b' }] }] };
    ec2Mock.on(DescribeInstancesCommand, { NextToken: undefined }).resolves(page1).on(DescribeInstancesCommand, { NextToken: 't1' }).resolves(page2);
    const got = await describeInstancesConsistently(client, ['i-a', 'i-b'], fast);
    expect(got.map((i) => i.InstanceId)).toEqual(['i-a', 'i-b']);
  });

  test('asks nothing for no ids', async () => {
    await expect(describeInstancesConsistently(client, [], fast)).resolves.toEqual([]);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('does not retry an authorisation error', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation'));
    await expect(describeInstancesConsistently(client, [ID], fast)).rejects.toThrow('UnauthorizedOperation');
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
  });
});

describe('tagWithRetry', () => {
  test('retries NotFound and sends the tags in a stable order', async () => {
    ec2Mock.on(CreateTagsCommand).rejectsOnce(awsError('InvalidInstanceID.NotFound')).resolves({});
    await tagWithRetry(client, [ID], { b: '2', a: '1' }, fast);
    const calls = ec2Mock.commandCalls(CreateTagsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input).toEqual({ Resources: [ID], Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] });
  });
});

test('tagSpecifications tags every resource type at creation', () => {
  expect(tagSpecifications(['instance', 'volume'], { team: 'x' })).toEqual([
    { ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'x' }] },
    { ResourceType: 'volume', Tags: [{ Key: 'team', Value: 'x' }] },
  ]);
});

describe('firstWithCapacity', () => {
  test('moves past capacity errors to the next placement', async () => {
    const tried: string[] = [];
    const out = await firstWithCapacity(['c7g.large@a', 'm7g.large@a', 'c7g.large@b'], async (p) => {
      tried.push(p);
      if (p !== 'c7g.large@b') throw awsError('InsufficientInstanceCapacity');
      return 'i-new';
    });
    expect(out.result).toBe('i-new');
    expect(out.placement).toBe('c7g.large@b');
    expect(out.capacityErrors).toHaveLength(2);
    expect(tried).toEqual(['c7g.large@a', 'm7g.large@a', 'c7g.large@b']);
  });

  test('throws any other error at once', async () => {
    const tried: string[] = [];
    await expect(
      firstWithCapacity(['a', 'b'], async (p) => {
        tried.push(p);
        throw awsError('InvalidAMIID.NotFound');
      }),
    ).rejects.toThrow('InvalidAMIID.NotFound');
    expect(tried).toEqual(['a']);
  });

  test('reports every placement when none has capacity', async () => {
    await expect(firstWithCapacity(['a', 'b'], async () => { throw awsError('InsufficientInstanceCapacity'); })).rejects.toThrow(/no capacity in any placement/);
  });
});
