import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { AssociateAddressCommand, DescribeAddressesCommand, DescribeInstancesCommand, DescribeRouteTablesCommand, EC2Client, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { move, Settings, settings, syncPeer, syncServers } from '../../instance/failover-pair-agent/agent';

const ec2Mock = mockClient(EC2Client);
const clients = { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}) };
const self = { instanceId: 'i-0self', networkInterfaceId: 'eni-0self', privateIp: '10.0.1.5', interfaceName: 'ens5' };
let dir: string;
let s: Settings;

beforeEach(() => {
  ec2Mock.reset();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-agent-'));
  s = settings({
    RFHA_CONFIG_DIR: dir,
    RFHA_RUN_DIR: dir,
    RFHA_PRIORITY: '254',
    RFHA_PAIR_TAG_KEY: 'resilient-fleet:failover-pair',
    RFHA_PAIR_TAG_VALUE: 'EdgePair',
    RFHA_BACKEND_GROUP: 'app-asg',
    RFHA_ALLOCATION_ID: 'eipalloc-0123456789abcdef0',
    RFHA_VPN_CIDR: '172.31.255.10/32',
    RFHA_ROUTE_TABLES: 'rtb-01,rtb-02',
  });
  fs.writeFileSync(path.join(dir, 'identity.json'), JSON.stringify(self)); // what boot caches from IMDS
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const peers = () => fs.readFileSync(path.join(dir, 'peers.conf'), 'utf8');
const pairAnswer = (instances: Array<{ id: string; ip: string; state: string }>) =>
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [{ Instances: instances.map((i) => ({ InstanceId: i.id, PrivateIpAddress: i.ip, State: { Name: i.state as never }, LaunchTime: new Date('2026-01-01T00:00:00Z') })) }],
  });

describe('syncPeer', () => {
  test('writes the other node\'s address, and reports a change only when it changes', async () => {
    pairAnswer([{ id: 'i-0self', ip: '10.0.1.5', state: 'running' }, { id: 'i-0peer', ip: '10.0.2.7', state: 'running' }]);
    expect(await syncPeer(s, self, clients)).toBe(true);
    expect(peers()).toBe('10.0.2.7\n');
    expect(await syncPeer(s, self, clients)).toBe(false);
  });

  test('follows a replaced peer, and keeps the last one while there is none', async () => {
    pairAnswer([{ id: 'i-0peer', ip: '10.0.2.7', state: 'running' }]);
    await syncPeer(s, self, clients);
    pairAnswer([{ id: 'i-0self', ip: '10.0.1.5', state: 'running' }]);
    expect(await syncPeer(s, self, clients)).toBe(false);
    expect(peers()).toBe('10.0.2.7\n');
    pairAnswer([{ id: 'i-0new', ip: '10.0.2.99', state: 'pending' }]);
    expect(await syncPeer(s, self, clients)).toBe(true);
    expect(peers()).toBe('10.0.2.99\n');
  });
});

describe('syncServers (Auto Scaling group mode)', () => {
  test('a head whose slot count was lowered: the file is rewritten with its slots only, and the server of a dropped slot is put in maintenance', async () => {
    const asMock = mockClient(AutoScalingClient);
    try {
      // i-3 left the group while the head went from 3 slots to 2.
      asMock.on(DescribeAutoScalingGroupsCommand).resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: 'app-asg',
            MinSize: 1,
            MaxSize: 2,
            DesiredCapacity: 1,
            DefaultCooldown: 300,
            AvailabilityZones: ['eu-west-1a'],
            HealthCheckType: 'EC2',
            CreatedTime: new Date('2026-01-01T00:00:00Z'),
            Instances: [{ InstanceId: 'i-1', LifecycleState: 'InService', HealthStatus: 'Healthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false }],
          },
        ],
      });
      ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', PrivateIpAddress: '10.0.1.10' }] }] });
      const head = 'backend app\n  balance leastconn\n  # slots: 2\n';
      fs.writeFileSync(path.join(dir, 'app-backend.head'), head);
      fs.writeFileSync(path.join(dir, 'app-backend.cfg'), head + '  server app1 10.0.1.10 # i-1\n  server app2 0.0.0.0 disabled\n  server app3 10.0.3.10 # i-3\n');
      expect(await syncServers(s, false, clients)).toEqual(['set server app/app3 state maint']);
      expect(fs.readFileSync(path.join(dir, 'app-backend.cfg'), 'utf8')).toBe('backend app\n  balance leastconn\n  # slots: 2\n  server app1 10.0.1.10 # i-1\n  server app2 0.0.0.0 disabled\n');
      // Written once: the next round finds nothing to do.
      expect(await syncServers(s, false, clients)).toEqual([]);
    } finally {
      asMock.restore();
    }
  });
});

describe('move', () => {
  test('as MASTER: the Elastic IP and the VPN route of every table come here', async () => {
    fs.writeFileSync(path.join(dir, 'vrrp.state'), 'MASTER\n');
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-0123456789abcdef0', InstanceId: 'i-0peer' }] });
    ec2Mock.on(AssociateAddressCommand).resolves({});
    ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [{ Routes: [{ DestinationCidrBlock: '172.31.255.10/32', NetworkInterfaceId: 'eni-0peer' }] }] });
    ec2Mock.on(ReplaceRouteCommand).resolves({});
    expect(await move(s, clients)).toEqual({ 'eipalloc-0123456789abcdef0': 'moved', 'rtb-01': 'moved', 'rtb-02': 'moved' });
    expect(ec2Mock.commandCalls(ReplaceRouteCommand).map((c) => c.args[0].input.RouteTableId)).toEqual(['rtb-01', 'rtb-02']);
  });

  test('as BACKUP (a higher-priority master exists): touches nothing', async () => {
    fs.writeFileSync(path.join(dir, 'vrrp.state'), 'BACKUP\n');
    expect(await move(s, clients)).toEqual({ 'eipalloc-0123456789abcdef0': 'abandoned', 'rtb-01': 'abandoned', 'rtb-02': 'abandoned' });
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(DescribeAddressesCommand)).toHaveLength(0);
  });
});

test('settings fail on a missing variable, naming it', () => {
  expect(() => settings({})).toThrow(/missing environment variable RFHA_PRIORITY/);
});

describe('DNS mode (RFHA_BACKEND_NAME)', () => {
  const dnsEnv = (extra: Record<string, string> = {}) =>
    settings({ RFHA_CONFIG_DIR: dir, RFHA_RUN_DIR: dir, RFHA_PRIORITY: '253', RFHA_PAIR_TAG_KEY: 'k', RFHA_PAIR_TAG_VALUE: 'v', RFHA_BACKEND_NAME: 'app-cluster3.example.com', ...extra });

  test('needs no app group and no drain hook', () => {
    const d = dnsEnv();
    expect(d.backendName).toBe('app-cluster3.example.com');
    expect(d.backendGroup).toBeUndefined();
    expect(d.drainHook).toBeUndefined();
    expect(() => settings({ RFHA_PRIORITY: '254', RFHA_PAIR_TAG_KEY: 'k', RFHA_PAIR_TAG_VALUE: 'v' })).toThrow(/missing environment variable RFHA_BACKEND_GROUP/);
  });

  test('leaves the app servers to HAProxy: no Auto Scaling or EC2 call, no file written, the shipped backend kept', async () => {
    const asMock = mockClient(AutoScalingClient);
    try {
      const shipped = 'backend app\n  server-template app 4 app-cluster3.example.com resolvers vpc init-addr none check\n';
      fs.writeFileSync(path.join(dir, 'app-backend.cfg'), shipped);
      fs.writeFileSync(path.join(dir, 'vrrp.state'), 'MASTER\n');
      expect(await syncServers(dnsEnv(), true, clients)).toEqual([]);
      expect(asMock.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(0);
      expect(ec2Mock.calls()).toHaveLength(0);
      expect(fs.readFileSync(path.join(dir, 'app-backend.cfg'), 'utf8')).toBe(shipped);
    } finally {
      asMock.restore();
    }
  });

  test('still moves the address as MASTER', async () => {
    fs.writeFileSync(path.join(dir, 'vrrp.state'), 'MASTER\n');
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-0123456789abcdef0', InstanceId: 'i-0peer' }] });
    ec2Mock.on(AssociateAddressCommand).resolves({});
    expect(await move(dnsEnv({ RFHA_ALLOCATION_ID: 'eipalloc-0123456789abcdef0' }), clients)).toEqual({ 'eipalloc-0123456789abcdef0': 'moved' });
  });
});
