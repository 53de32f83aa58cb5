import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  AssociateAddressCommand,
  CreateRouteCommand,
  DescribeAddressesCommand,
  type Address,
  type DescribeAddressesCommandOutput,
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  ReplaceRouteCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { completeDrain, describeGroupMembers, describePairInstances, moveElasticIp, moveRoute } from '../../instance/failover-pair-agent/io';
import addressesFixture from '../fixtures/events/ec2-describe-addresses-response.json';
import groupsFixture from '../fixtures/events/autoscaling-describe-auto-scaling-groups-response.json';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const ec2Mock = mockClient(EC2Client);
const asgMock = mockClient(AutoScalingClient);
const clients = { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}) };
const self = { instanceId: 'i-0self000000000001', networkInterfaceId: 'eni-0self0001' };
const fast = { sleep: async () => {}, random: () => 0.5, deadlineMs: 60_000 };
const ALLOC = 'eipalloc-282d9641';

// Errors as the real clients parse the documented answers (test/wire/bodies.ts), one call of the operation that fails.
const ec2Error = (command: unknown, answer: WireAnswer) => parsedError(EC2Client, command, answer);
const asgError = (answer: WireAnswer) =>
  parsedError(AutoScalingClient, new CompleteLifecycleActionCommand({ AutoScalingGroupName: 'app-asg', LifecycleHookName: 'drain-hook', InstanceId: 'i-2', LifecycleActionResult: 'CONTINUE' }), answer);
const describeAddresses = new DescribeAddressesCommand({ AllocationIds: [ALLOC] });
const associate = new AssociateAddressCommand({ AllocationId: ALLOC, InstanceId: self.instanceId, AllowReassociation: true });

/** The documented DescribeAddresses answer, pointing at `instanceId`. */
function addressAt(instanceId?: string): DescribeAddressesCommandOutput {
  const a = { ...addressesFixture.Addresses[0], InstanceId: instanceId, NetworkInterfaceId: instanceId === self.instanceId ? self.networkInterfaceId : 'eni-1a2b3c4d' };
  return { Addresses: [a as Address], $metadata: {} };
}

beforeEach(() => {
  ec2Mock.reset();
  asgMock.reset();
});

describe('moveElasticIp', () => {
  test('takes the address from the other node with AllowReassociation', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves(addressAt('i-1234567890abcdef0'));
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-new' });
    await expect(moveElasticIp(clients, ALLOC, self, () => true, fast)).resolves.toBe('moved');
    expect(ec2Mock.commandCalls(AssociateAddressCommand)[0].args[0].input).toEqual({ AllocationId: ALLOC, InstanceId: self.instanceId, AllowReassociation: true });
  });

  test('a second call is a no-op once the address points here', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolvesOnce(addressAt('i-1234567890abcdef0')).resolves(addressAt(self.instanceId));
    ec2Mock.on(AssociateAddressCommand).resolves({});
    await moveElasticIp(clients, ALLOC, self, () => true, fast);
    await expect(moveElasticIp(clients, ALLOC, self, () => true, fast)).resolves.toBe('already-here');
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(1);
  });

  test('associates an address that points nowhere yet', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: ALLOC, Domain: 'vpc', PublicIp: '203.0.113.25' }] });
    ec2Mock.on(AssociateAddressCommand).resolves({});
    await expect(moveElasticIp(clients, ALLOC, self, () => true, fast)).resolves.toBe('moved');
  });

  test('retries while EC2 does not see this just-launched instance yet (NotFound)', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves(addressAt('i-1234567890abcdef0'));
    const notYet = await ec2Error(associate, wire.ec2.instanceNotFound(self.instanceId));
    ec2Mock.on(AssociateAddressCommand).rejectsOnce(notYet).rejectsOnce(notYet).resolves({});
    await expect(moveElasticIp(clients, ALLOC, self, () => true, fast)).resolves.toBe('moved');
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(3);
  });

  test('retries through throttling and server errors', async () => {
    ec2Mock.on(DescribeAddressesCommand).rejectsOnce(await ec2Error(describeAddresses, wire.ec2.requestLimitExceeded())).resolves(addressAt('i-1234567890abcdef0'));
    ec2Mock.on(AssociateAddressCommand).rejectsOnce(await ec2Error(associate, wire.ec2.internalError())).resolves({});
    await expect(moveElasticIp(clients, ALLOC, self, () => true, fast)).resolves.toBe('moved');
  });

  test('fails at once on an error a retry cannot fix', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves(addressAt('i-1234567890abcdef0'));
    ec2Mock.on(AssociateAddressCommand).rejects(await ec2Error(associate, wire.ec2.unauthorizedOperation()));
    await expect(moveElasticIp(clients, ALLOC, self, () => true, fast)).rejects.toMatchObject({ name: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.' });
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(1);
  });

  test('gives up, without associating, once this node is no longer MASTER (no split brain)', async () => {
    let master = true;
    const throttled = await ec2Error(associate, wire.ec2.requestLimitExceeded());
    ec2Mock.on(DescribeAddressesCommand).resolves(addressAt('i-1234567890abcdef0'));
    ec2Mock.on(AssociateAddressCommand).callsFake(() => {
      master = false; // a higher-priority node took over while this call was failing
      throw throttled;
    });
    await expect(moveElasticIp(clients, ALLOC, self, () => master, fast)).resolves.toBe('abandoned');
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(1);
  });

  test('stops at the deadline', async () => {
    let now = 0;
    ec2Mock.on(DescribeAddressesCommand).rejects(await ec2Error(describeAddresses, wire.ec2.requestLimitExceeded()));
    await expect(
      moveElasticIp(clients, ALLOC, self, () => true, { sleep: async (ms) => void (now += ms), now: () => now, random: () => 1, deadlineMs: 10_000 }),
    ).rejects.toMatchObject({ name: 'RequestLimitExceeded', $metadata: expect.objectContaining({ httpStatusCode: 503 }) });
  });
});

describe('moveRoute', () => {
  const TABLE = 'rtb-0vpn0001';
  const CIDR = '172.31.255.10/32';
  const table = (routes: object[]) => ({ RouteTables: [{ RouteTableId: TABLE, Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }, ...routes] }] });

  test('replaces a route that points at the other node', async () => {
    ec2Mock.on(DescribeRouteTablesCommand).resolves(table([{ DestinationCidrBlock: CIDR, NetworkInterfaceId: 'eni-0other', InstanceId: 'i-0other' }]));
    ec2Mock.on(ReplaceRouteCommand).resolves({});
    await expect(moveRoute(clients, TABLE, CIDR, self, () => true, fast)).resolves.toBe('moved');
    expect(ec2Mock.commandCalls(ReplaceRouteCommand)[0].args[0].input).toEqual({ RouteTableId: TABLE, DestinationCidrBlock: CIDR, NetworkInterfaceId: self.networkInterfaceId });
  });

  test('creates the route the first time, and is a no-op when it already points here', async () => {
    ec2Mock.on(DescribeRouteTablesCommand).resolvesOnce(table([])).resolves(table([{ DestinationCidrBlock: CIDR, NetworkInterfaceId: self.networkInterfaceId }]));
    ec2Mock.on(CreateRouteCommand).resolves({ Return: true });
    await expect(moveRoute(clients, TABLE, CIDR, self, () => true, fast)).resolves.toBe('moved');
    await expect(moveRoute(clients, TABLE, CIDR, self, () => true, fast)).resolves.toBe('already-here');
    expect(ec2Mock.commandCalls(CreateRouteCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(ReplaceRouteCommand)).toHaveLength(0);
  });

  test('a create that races the other node turns into a replace', async () => {
    ec2Mock
      .on(DescribeRouteTablesCommand)
      .resolvesOnce(table([]))
      .resolves(table([{ DestinationCidrBlock: CIDR, NetworkInterfaceId: 'eni-0other' }]));
    ec2Mock.on(CreateRouteCommand).rejects(await ec2Error(new CreateRouteCommand({ RouteTableId: TABLE, DestinationCidrBlock: CIDR, NetworkInterfaceId: self.networkInterfaceId }), wire.ec2.routeAlreadyExists(CIDR)));
    ec2Mock.on(ReplaceRouteCommand).resolves({});
    await expect(moveRoute(clients, TABLE, CIDR, self, () => true, fast)).resolves.toBe('moved');
    expect(ec2Mock.commandCalls(ReplaceRouteCommand)).toHaveLength(1);
  });

  test('retries a route table that EC2 cannot see yet', async () => {
    ec2Mock.on(DescribeRouteTablesCommand).rejectsOnce(await ec2Error(new DescribeRouteTablesCommand({ RouteTableIds: [TABLE] }), wire.ec2.routeTableNotFound(TABLE))).resolves(table([]));
    ec2Mock.on(CreateRouteCommand).resolves({});
    await expect(moveRoute(clients, TABLE, CIDR, self, () => true, fast)).resolves.toBe('moved');
  });
});

describe('discovery', () => {
  test('reads the app group members and their private addresses, ignoring instances EC2 no longer lists', async () => {
    const group = groupsFixture.AutoScalingGroups[0];
    const base = group.Instances[0];
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          ...group,
          CreatedTime: new Date(group.CreatedTime as unknown as string),
          Instances: [
            { ...base, InstanceId: 'i-0a', LifecycleState: 'InService' },
            { ...base, InstanceId: 'i-0b', LifecycleState: 'Terminating:Wait' },
            { ...base, InstanceId: 'i-0gone', LifecycleState: 'Terminating:Proceed' },
          ],
        },
      ] as never,
    });
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-0a', PrivateIpAddress: '10.0.1.10' }, { InstanceId: 'i-0b', PrivateIpAddress: '10.0.2.10' }] }],
    });
    const members = await describeGroupMembers(clients, 'my-asg', fast);
    expect(members).toEqual([
      { instanceId: 'i-0a', lifecycleState: 'InService', privateIp: '10.0.1.10' },
      { instanceId: 'i-0b', lifecycleState: 'Terminating:Wait', privateIp: '10.0.2.10' },
      { instanceId: 'i-0gone', lifecycleState: 'Terminating:Proceed', privateIp: undefined },
    ]);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters).toEqual([{ Name: 'instance-id', Values: ['i-0a', 'i-0b', 'i-0gone'] }]);
  });

  test('finds the pair by its tag, throttling retried', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .rejectsOnce(await ec2Error(new DescribeInstancesCommand({}), wire.ec2.requestLimitExceeded()))
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0peer', PrivateIpAddress: '10.0.2.7', State: { Name: 'running', Code: 16 }, LaunchTime: new Date('2026-01-01T00:00:00Z') }] }] });
    const found = await describePairInstances(clients, 'resilient-fleet:failover-pair', 'Edge/Pair', fast);
    expect(found).toEqual([{ instanceId: 'i-0peer', privateIp: '10.0.2.7', state: 'running', launchTimeMs: Date.parse('2026-01-01T00:00:00Z') }]);
  });
});

describe('completeDrain', () => {
  test('lets the termination go on, and treats "no active lifecycle action" as already done', async () => {
    asgMock.on(CompleteLifecycleActionCommand).resolvesOnce({}).rejects(await asgError(wire.autoscaling.noActiveLifecycleAction('i-2')));
    await expect(completeDrain(clients, 'app-asg', 'drain-hook', 'i-2', fast)).resolves.toBe('completed');
    await expect(completeDrain(clients, 'app-asg', 'drain-hook', 'i-2', fast)).resolves.toBe('not-waiting');
    expect(asgMock.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({ AutoScalingGroupName: 'app-asg', LifecycleHookName: 'drain-hook', InstanceId: 'i-2', LifecycleActionResult: 'CONTINUE' });
  });
  test('retries throttling', async () => {
    asgMock.on(CompleteLifecycleActionCommand).rejectsOnce(await asgError(wire.autoscaling.throttling())).resolves({});
    await expect(completeDrain(clients, 'app-asg', 'drain-hook', 'i-2', fast)).resolves.toBe('completed');
  });
});
