/**
 * The failover-pair agent at the wire: every EC2 and Auto Scaling call it makes (instance/failover-pair-agent/io.ts),
 * success and each error it handles, with the real SDK clients against the harness answering in the EC2 query and
 * Auto Scaling query protocols (bodies in the API references' example layouts; test/fixtures/events/SOURCES.md), and
 * the IMDSv2 reads against a fake IMDS. Retries run with an injected sleep, so no test waits on a clock.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import {
  completeDrain,
  describeGroupMembers,
  describePairInstances,
  disableSourceDestCheck,
  imds,
  moveElasticIp,
  moveRoute,
  type Clients,
  type RetryTuning,
} from '../../instance/failover-pair-agent/io';
import * as wire from './bodies';
import { thrown } from './clients';
import { FakeImds } from './fake-imds';
import { useWireServer } from './use-wire-server';

const SELF = { instanceId: 'i-0aaaaaaaaaaaaaaa1', networkInterfaceId: 'eni-0aaaaaaaaaaaaaaa1' };
const OTHER = { instanceId: 'i-0bbbbbbbbbbbbbbb2', networkInterfaceId: 'eni-0bbbbbbbbbbbbbbb2' };
const ALLOCATION = 'eipalloc-0123456789abcdef0';
const TABLE = 'rtb-0123456789abcdef0';
const VPN = '172.16.255.1/32';

const harness = useWireServer();
const { sleeps } = harness;
// Retries go through the agent's own retry loop with a recorded, instant sleep (the SDK's own retries are off: 1 attempt).
const tuning: RetryTuning = { sleep: harness.sleep, random: () => 0.5, deadlineMs: 60_000 };
let clients: Clients;
beforeAll(() => {
  clients = { ec2: harness.client(EC2Client), autoscaling: harness.client(AutoScalingClient) };
});

/** DescribeAutoScalingGroups, in the Auto Scaling API Reference's sample response layout. */
function asgGroup(name: string, instances: ReadonlyArray<{ id: string; state: string }>) {
  const members = instances
    .map((i) => `<member><InstanceId>${i.id}</InstanceId><InstanceType>t3.micro</InstanceType><AvailabilityZone>eu-west-1a</AvailabilityZone><LifecycleState>${i.state}</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`)
    .join('');
  return wire.queryOk(
    'autoscaling',
    'DescribeAutoScalingGroups',
    `<AutoScalingGroups><member><AutoScalingGroupName>${name}</AutoScalingGroupName><AutoScalingGroupARN>arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:930d940e-891e-4781-a11a-7b0acd480f03:autoScalingGroupName/${name}</AutoScalingGroupARN><MinSize>0</MinSize><MaxSize>4</MaxSize><DesiredCapacity>${instances.length}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>eu-west-1a</member></AvailabilityZones><HealthCheckType>EC2</HealthCheckType><HealthCheckGracePeriod>300</HealthCheckGracePeriod><Instances>${members}</Instances><CreatedTime>2026-11-30T10:00:00.000Z</CreatedTime></member></AutoScalingGroups>`,
  );
}

/** DescribeAddresses, in the EC2 API Reference's example response layout (one VPC address, associated or not). */
function describeAddress(at?: { instanceId: string; networkInterfaceId: string }) {
  const assoc = at
    ? `<instanceId>${at.instanceId}</instanceId><associationId>eipassoc-0fedcba9876543210</associationId><networkInterfaceId>${at.networkInterfaceId}</networkInterfaceId><networkInterfaceOwnerId>123456789012</networkInterfaceOwnerId><privateIpAddress>10.0.1.10</privateIpAddress>`
    : '';
  return wire.ec2Ok('DescribeAddresses', `<addressesSet><item><publicIp>198.51.100.7</publicIp><allocationId>${ALLOCATION}</allocationId><domain>vpc</domain>${assoc}<publicIpv4Pool>amazon</publicIpv4Pool><networkBorderGroup>eu-west-1</networkBorderGroup></item></addressesSet>`);
}

/** DescribeRouteTables, in the EC2 API Reference's example response layout: the local route, plus the VPN route when given. */
function describeRoutes(vpnTo?: { instanceId: string; networkInterfaceId: string }) {
  const vpn = vpnTo
    ? `<item><destinationCidrBlock>${VPN}</destinationCidrBlock><instanceId>${vpnTo.instanceId}</instanceId><instanceOwnerId>123456789012</instanceOwnerId><networkInterfaceId>${vpnTo.networkInterfaceId}</networkInterfaceId><state>active</state><origin>CreateRoute</origin></item>`
    : '';
  return wire.ec2Ok(
    'DescribeRouteTables',
    `<routeTableSet><item><routeTableId>${TABLE}</routeTableId><vpcId>vpc-0123456789abcdef0</vpcId><ownerId>123456789012</ownerId><routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin></item>${vpn}</routeSet><associationSet/><propagatingVgwSet/><tagSet/></item></routeTableSet>`,
  );
}

const associateOk = () => wire.ec2Ok('AssociateAddress', '<return>true</return><associationId>eipassoc-0123456789abcdef0</associationId>');

describe('describeGroupMembers: DescribeAutoScalingGroups then DescribeInstances by filter, paged', () => {
  test('members with their private addresses; one that EC2 no longer lists has none; throttling on either call is retried', async () => {
    harness.server.on('DescribeAutoScalingGroups', wire.autoscaling.throttling(), asgGroup('app-asg', [{ id: 'i-0app1', state: 'InService' }, { id: 'i-0app2', state: 'Terminating:Wait' }, { id: 'i-0gone', state: 'Terminating' }]));
    harness.server.on(
      'DescribeInstances',
      wire.ec2.requestLimitExceeded(),
      wire.ec2DescribeInstances([{ id: 'i-0app1', privateIp: '10.0.2.11' }], 'page-2'),
      wire.ec2DescribeInstances([{ id: 'i-0app2', privateIp: '10.0.3.12', state: 'running' }]),
    );
    expect(await describeGroupMembers(clients, 'app-asg', tuning)).toEqual([
      { instanceId: 'i-0app1', lifecycleState: 'InService', privateIp: '10.0.2.11' },
      { instanceId: 'i-0app2', lifecycleState: 'Terminating:Wait', privateIp: '10.0.3.12' },
      { instanceId: 'i-0gone', lifecycleState: 'Terminating', privateIp: undefined },
    ]);
    expect(sleeps).toHaveLength(2);
    const pages = harness.server.calls('DescribeInstances').slice(1).map((r) => Object.fromEntries(r.form));
    expect(pages[0]).toMatchObject({ 'Filter.1.Name': 'instance-id', 'Filter.1.Value.1': 'i-0app1', 'Filter.1.Value.2': 'i-0app2', 'Filter.1.Value.3': 'i-0gone' });
    expect(pages[0]).not.toHaveProperty('NextToken');
    expect(pages[1]).toMatchObject({ NextToken: 'page-2' });
    expect(Object.fromEntries(harness.server.calls('DescribeAutoScalingGroups')[1].form)).toMatchObject({ 'AutoScalingGroupNames.member.1': 'app-asg' });
  });

  test('an empty group makes no EC2 call', async () => {
    harness.server.on('DescribeAutoScalingGroups', asgGroup('app-asg', []));
    expect(await describeGroupMembers(clients, 'app-asg', tuning)).toEqual([]);
    expect(harness.server.calls('DescribeInstances')).toEqual([]);
  });

  test('access denied is not retried: it is a wrong policy, not a transient fault', async () => {
    harness.server.on('DescribeAutoScalingGroups', wire.autoscaling.accessDenied('DescribeAutoScalingGroups'));
    const err = await thrown(describeGroupMembers(clients, 'app-asg', tuning));
    expect(err).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(harness.server.calls('DescribeAutoScalingGroups')).toHaveLength(1);
  });
});

describe('describePairInstances: DescribeInstances by the pair tag, pending or running', () => {
  test('both nodes with state and launch time, across pages', async () => {
    harness.server.on(
      'DescribeInstances',
      wire.ec2DescribeInstances([{ id: SELF.instanceId, privateIp: '10.0.1.10', state: 'running' }], 'next'),
      wire.ec2DescribeInstances([{ id: OTHER.instanceId, state: 'pending' }]),
    );
    const pair = await describePairInstances(clients, 'resilient-fleet:pair', 'Edge', tuning);
    expect(pair).toEqual([
      { instanceId: SELF.instanceId, privateIp: '10.0.1.10', state: 'running', launchTimeMs: 0 },
      { instanceId: OTHER.instanceId, privateIp: undefined, state: 'pending', launchTimeMs: 0 },
    ]);
    expect(Object.fromEntries(harness.server.calls('DescribeInstances')[0].form)).toMatchObject({
      'Filter.1.Name': 'tag:resilient-fleet:pair',
      'Filter.1.Value.1': 'Edge',
      'Filter.2.Name': 'instance-state-name',
      'Filter.2.Value.1': 'pending',
      'Filter.2.Value.2': 'running',
    });
  });
});

describe('moveElasticIp: DescribeAddresses, then AssociateAddress with AllowReassociation', () => {
  test('takes the address from the other node in one call', async () => {
    harness.server.on('DescribeAddresses', describeAddress(OTHER));
    harness.server.on('AssociateAddress', associateOk());
    expect(await moveElasticIp(clients, ALLOCATION, SELF, () => true, tuning)).toBe('moved');
    expect(Object.fromEntries(harness.server.calls('AssociateAddress')[0].form)).toMatchObject({ AllocationId: ALLOCATION, InstanceId: SELF.instanceId, AllowReassociation: 'true' });
    expect(Object.fromEntries(harness.server.calls('DescribeAddresses')[0].form)).toMatchObject({ 'AllocationId.1': ALLOCATION });
  });

  test('an address already here (by instance, or by network interface) is not moved again', async () => {
    harness.server.on('DescribeAddresses', describeAddress(SELF));
    expect(await moveElasticIp(clients, ALLOCATION, SELF, () => true, tuning)).toBe('already-here');
    harness.server.on('DescribeAddresses', describeAddress({ instanceId: '', networkInterfaceId: SELF.networkInterfaceId }));
    expect(await moveElasticIp(clients, ALLOCATION, SELF, () => true, tuning)).toBe('already-here');
    expect(harness.server.calls('AssociateAddress')).toEqual([]);
  });

  test('an unassociated address is associated', async () => {
    harness.server.on('DescribeAddresses', describeAddress());
    harness.server.on('AssociateAddress', associateOk());
    expect(await moveElasticIp(clients, ALLOCATION, SELF, () => true, tuning)).toBe('moved');
  });

  test('throttled AssociateAddress is retried after a fresh read; a node that lost mastership meanwhile gives up', async () => {
    let master = true;
    harness.server.on('DescribeAddresses', describeAddress(OTHER));
    harness.server.on('AssociateAddress', () => {
      master = false; // keepalived stepped down while the call was throttled
      return wire.ec2.requestLimitExceeded();
    });
    expect(await moveElasticIp(clients, ALLOCATION, SELF, () => master, tuning)).toBe('abandoned');
    expect(harness.server.calls('AssociateAddress')).toHaveLength(1);
    expect(sleeps).toHaveLength(1);
  });

  test('a throttled read is retried and then moves', async () => {
    harness.server.on('DescribeAddresses', wire.ec2.requestLimitExceeded(), wire.ec2Error('InternalError', 'An internal error has occurred.', 500), describeAddress(OTHER));
    harness.server.on('AssociateAddress', associateOk());
    expect(await moveElasticIp(clients, ALLOCATION, SELF, () => true, tuning)).toBe('moved');
    expect(harness.server.calls('DescribeAddresses')).toHaveLength(3);
  });

  test('UnauthorizedOperation (a policy that does not allow this instance) fails at once, with EC2\'s code', async () => {
    harness.server.on('DescribeAddresses', describeAddress(OTHER));
    harness.server.on('AssociateAddress', wire.ec2.unauthorizedOperation());
    const err = await thrown(moveElasticIp(clients, ALLOCATION, SELF, () => true, tuning));
    expect(err).toMatchObject({ name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } });
    expect(harness.server.calls('AssociateAddress')).toHaveLength(1);
  });
});

describe('moveRoute: DescribeRouteTables, then ReplaceRoute or CreateRoute towards this node\'s interface', () => {
  test('replaces a route that points at the other node', async () => {
    harness.server.on('DescribeRouteTables', describeRoutes(OTHER));
    harness.server.on('ReplaceRoute', wire.ec2Return('ReplaceRoute'));
    expect(await moveRoute(clients, TABLE, VPN, SELF, () => true, tuning)).toBe('moved');
    expect(Object.fromEntries(harness.server.calls('ReplaceRoute')[0].form)).toMatchObject({ RouteTableId: TABLE, DestinationCidrBlock: VPN, NetworkInterfaceId: SELF.networkInterfaceId });
    expect(harness.server.calls('CreateRoute')).toEqual([]);
  });

  test('creates the route the first time; a route here already is left alone', async () => {
    harness.server.on('DescribeRouteTables', describeRoutes(), describeRoutes(SELF));
    harness.server.on('CreateRoute', wire.ec2Return('CreateRoute'));
    expect(await moveRoute(clients, TABLE, VPN, SELF, () => true, tuning)).toBe('moved');
    expect(await moveRoute(clients, TABLE, VPN, SELF, () => true, tuning)).toBe('already-here');
    expect(harness.server.calls('CreateRoute')).toHaveLength(1);
    expect(harness.server.calls('ReplaceRoute')).toEqual([]);
  });

  test('losing the create race (RouteAlreadyExists) is retried as a replace', async () => {
    harness.server.on('DescribeRouteTables', describeRoutes(), describeRoutes(OTHER));
    harness.server.on('CreateRoute', wire.ec2Error('RouteAlreadyExists', `The route identified by ${VPN} already exists.`));
    harness.server.on('ReplaceRoute', wire.ec2Return('ReplaceRoute'));
    expect(await moveRoute(clients, TABLE, VPN, SELF, () => true, tuning)).toBe('moved');
    expect(harness.server.calls('CreateRoute')).toHaveLength(1);
    expect(harness.server.calls('ReplaceRoute')).toHaveLength(1);
  });

  test('a route deleted between the read and the replace (InvalidRoute.NotFound) is re-read and created', async () => {
    harness.server.on('DescribeRouteTables', describeRoutes(OTHER), describeRoutes());
    harness.server.on('ReplaceRoute', wire.ec2Error('InvalidRoute.NotFound', `no route with destination-cidr-block ${VPN} in route table ${TABLE}`));
    harness.server.on('CreateRoute', wire.ec2Return('CreateRoute'));
    expect(await moveRoute(clients, TABLE, VPN, SELF, () => true, tuning)).toBe('moved');
    expect(harness.server.calls('CreateRoute')).toHaveLength(1);
  });

  test('a node that is no longer master makes no call at all', async () => {
    expect(await moveRoute(clients, TABLE, VPN, SELF, () => false, tuning)).toBe('abandoned');
    expect(harness.server.requests).toEqual([]);
  });
});

describe('disableSourceDestCheck: ModifyInstanceAttribute SourceDestCheck=false', () => {
  test('sends the one attribute, retrying a throttled call', async () => {
    harness.server.on('ModifyInstanceAttribute', wire.ec2.requestLimitExceeded(), wire.ec2Return('ModifyInstanceAttribute'));
    await disableSourceDestCheck(clients, SELF.instanceId, tuning);
    const calls = harness.server.calls('ModifyInstanceAttribute').map((r) => Object.fromEntries(r.form));
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatchObject({ InstanceId: SELF.instanceId, 'SourceDestCheck.Value': 'false' });
    expect(Object.keys(calls[1]).filter((k) => !['Action', 'Version'].includes(k)).sort()).toEqual(['InstanceId', 'SourceDestCheck.Value']);
  });

  test('an instance EC2 does not know yet (InvalidInstanceID.NotFound right after launch) is retried until it is known', async () => {
    harness.server.on('ModifyInstanceAttribute', wire.ec2.instanceNotFound(SELF.instanceId), wire.ec2.instanceNotFound(SELF.instanceId), wire.ec2Return('ModifyInstanceAttribute'));
    await disableSourceDestCheck(clients, SELF.instanceId, tuning);
    expect(harness.server.calls('ModifyInstanceAttribute')).toHaveLength(3);
  });

  test('gives up at the deadline and throws EC2\'s error', async () => {
    let clock = 0;
    harness.server.on('ModifyInstanceAttribute', wire.ec2.requestLimitExceeded());
    const err = await thrown(disableSourceDestCheck(clients, SELF.instanceId, { sleep: async (ms) => void (clock += ms), now: () => clock, random: () => 1, deadlineMs: 10_000, baseDelayMs: 200, maxDelayMs: 3_000 }));
    expect(err).toMatchObject({ name: 'RequestLimitExceeded' });
    expect(clock).toBeLessThanOrEqual(10_000);
    expect(harness.server.calls('ModifyInstanceAttribute').length).toBeGreaterThan(2);
  });
});

describe('completeDrain: CompleteLifecycleAction CONTINUE for a drained app instance', () => {
  test('completes the action', async () => {
    harness.server.on('CompleteLifecycleAction', wire.queryOk('autoscaling', 'CompleteLifecycleAction'));
    expect(await completeDrain(clients, 'app-asg', 'drain-hook', 'i-0app1', tuning)).toBe('completed');
    expect(Object.fromEntries(harness.server.calls('CompleteLifecycleAction')[0].form)).toMatchObject({ AutoScalingGroupName: 'app-asg', LifecycleHookName: 'drain-hook', InstanceId: 'i-0app1', LifecycleActionResult: 'CONTINUE' });
  });

  test('an instance that is no longer waiting (Auto Scaling\'s ValidationError) is a no-op; contention is retried first', async () => {
    harness.server.on('CompleteLifecycleAction', wire.autoscaling.resourceContention(), wire.autoscaling.noActiveLifecycleAction('i-0app1'));
    expect(await completeDrain(clients, 'app-asg', 'drain-hook', 'i-0app1', tuning)).toBe('not-waiting');
    expect(harness.server.calls('CompleteLifecycleAction')).toHaveLength(2);
  });

  test('any other error is thrown', async () => {
    harness.server.on('CompleteLifecycleAction', wire.autoscaling.accessDenied('CompleteLifecycleAction'));
    expect(await thrown(completeDrain(clients, 'app-asg', 'drain-hook', 'i-0app1', tuning))).toMatchObject({ name: 'AccessDenied' });
  });
});

describe('imds: IMDSv2 token, then the metadata path', () => {
  let fake: FakeImds;
  beforeAll(async () => {
    fake = await FakeImds.start({ 'instance-id': `${SELF.instanceId}\n`, mac: '0a:1b:2c:3d:4e:5f' });
  });
  afterAll(() => fake.close());

  test('reads a value with a session token, trimmed', async () => {
    expect(await imds('instance-id', fake.url)).toBe(SELF.instanceId);
    expect(fake.requests.slice(-2)).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/instance-id']);
  });

  test('a missing path or an IMDS error is an error naming the path and status', async () => {
    await expect(imds('placement/region', fake.url)).rejects.toThrow('IMDS placement/region: HTTP 404');
    fake.failNext(1, 503);
    await expect(imds('mac', fake.url)).rejects.toThrow('IMDS mac: HTTP 503');
    expect(await imds('mac', fake.url)).toBe('0a:1b:2c:3d:4e:5f');
  });

  test('honours the SDK\'s metadata endpoint override (AWS_EC2_METADATA_SERVICE_ENDPOINT)', async () => {
    const before = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `${fake.url}/`;
    try {
      expect(await imds('instance-id')).toBe(SELF.instanceId);
    } finally {
      if (before === undefined) delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
      else process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = before;
    }
  });
});
