/**
 * Backend discovery on the real HAProxy: the node agent's sync step (the same code as on the instance, run in this
 * process with a mocked Auto Scaling / EC2 answer) against the HAProxy of a lab node. A new InService app instance
 * takes traffic without a reload; a terminating one is drained (its established connections stay, new ones go
 * elsewhere); a gone one leaves the backend file, and a reload keeps all of that.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Settings, syncServers } from '../../instance/failover-pair-agent/agent';
import { parseAppBackend } from '../../instance/failover-pair-agent/logic';
import { APP_IPS, FailoverLab, ProbeLog, VIP, sleep, until } from '../failover-pair/lab/lab';
import { canUseNetns, requirePrograms } from './programs';

const PROBER = path.join(__dirname, '..', 'failover-pair', 'lab', 'prober.mjs');
const asgMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const clients = { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}) };

/** What DescribeAutoScalingGroups and DescribeInstances answer for the app group. */
function group(members: Array<{ id: string; ip: string; state: string }>) {
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'app-asg',
        MinSize: 0,
        MaxSize: 4,
        DesiredCapacity: members.length,
        DefaultCooldown: 300,
        AvailabilityZones: ['eu-west-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date('2026-01-01T00:00:00Z'),
        Instances: members.map((m) => ({ InstanceId: m.id, LifecycleState: m.state as never, HealthStatus: 'Healthy', AvailabilityZone: 'eu-west-1a', ProtectedFromScaleIn: false })),
      },
    ],
  });
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: members.map((m) => ({ InstanceId: m.id, PrivateIpAddress: m.ip })) }] });
}

describe('app instances found at run time, on the real HAProxy', () => {
  let lab: FailoverLab;
  let settings: Settings;
  let probe: ProbeLog;

  beforeAll(async () => {
    requirePrograms('haproxy', 'keepalived', 'nft', 'ip', 'node');
    if (!canUseNetns()) throw new Error('system test needs root and network namespaces (ip netns add)');
    lab = new FailoverLab({ clients: [{ name: 'acme', port: 20001 }], initialSlots: [{ state: 'maint' }, { state: 'maint' }, { state: 'maint' }, { state: 'maint' }] });
    lab.setUp();
    lab.startHaproxy('a');
    lab.startKeepalived('a');
    // No master yet: HAProxy counts as serving only once its app backend is UP, and every slot is in maintenance
    // until the first sync below finds an instance.
    const { configDir, runDir } = lab.nodeDir('a');
    settings = { configDir, runDir, priority: 254, pairTagKey: 'k', pairTagValue: 'v', backendGroup: 'app-asg', drainHook: 'drain-hook', routeTables: [], syncSeconds: 10 };
    await until('HAProxy socket', () => fs.existsSync(path.join(runDir, 'haproxy.sock')), 10_000);
  }, 60_000);

  afterAll(() => lab?.close());

  test('an InService instance takes traffic without a reload', async () => {
    expect(lab.routeVia()).not.toBe('a'); // nothing to serve yet: the node must not hold the address
    group([{ id: 'i-1', ip: APP_IPS[0], state: 'InService' }]);
    expect(await syncServers(settings, true, clients)).toEqual(['set server app/app1 addr 10.77.0.21', 'set server app/app1 state ready']);
    // The found instance passes its check, the app backend is UP, HAProxy is marked serving and the node takes over.
    await until('node A master', () => lab.routeVia() === 'a', 20_000);
    probe = new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, '20001', '10']));
    await probe.waitFor((r) => r.ok === true && r.app === 'app-1', 0, 20_000);

    const master = lab.haproxyPid('a');
    group([{ id: 'i-1', ip: APP_IPS[0], state: 'InService' }, { id: 'i-2', ip: APP_IPS[1], state: 'InService' }]);
    const appliedAt = Date.now();
    expect(await syncServers(settings, true, clients)).toEqual(['set server app/app2 addr 10.77.0.22', 'set server app/app2 state ready']);
    const first = await probe.waitFor((r) => r.ok === true && r.app === 'app-2', appliedAt, 30_000);
    console.log(`new app instance answered ${first.t - appliedAt} ms after the sync step (health checks every 500 ms, rise 2)`);
    expect(lab.haproxyPid('a')).toBe(master);
    expect(parseAppBackend(fs.readFileSync(path.join(settings.configDir, 'app-backend.cfg'), 'utf8')).slice(0, 2)).toEqual([
      { address: '10.77.0.21', instanceId: 'i-1', state: 'ready' },
      { address: '10.77.0.22', instanceId: 'i-2', state: 'ready' },
    ]);
  }, 60_000);

  test('a terminating instance is drained: its connections stay, new ones go elsewhere, its termination goes on once empty', async () => {
    asgMock.on(CompleteLifecycleActionCommand).resolves({});
    const holdChild = lab.spawnIn('c', 'node', [PROBER, 'hold', VIP, '20001', '20', '50']);
    const hold = new ProbeLog(holdChild);
    await until('20 long-lived connections', () => hold.records.filter((r) => r.event === 'open').length === 20, 15_000);
    expect(hold.records.some((r) => r.event === 'open' && r.app === 'app-2')).toBe(true);

    group([{ id: 'i-1', ip: APP_IPS[0], state: 'InService' }, { id: 'i-2', ip: APP_IPS[1], state: 'Terminating:Wait' }]);
    expect(await syncServers(settings, true, clients)).toEqual(['set server app/app2 state drain']);
    const drainedAt = Date.now();
    await sleep(1500);
    // Still holding connections: the termination waits (the lifecycle hook holds the instance).
    expect(lab.vrrpState('a')).toBe('MASTER');
    expect(await syncServers(settings, true, clients)).toEqual([]);
    expect(asgMock.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    expect(hold.records.filter((r) => r.event === 'drop')).toEqual([]);
    const newOnes = probe.records.filter((r) => (r.start as number) >= drainedAt + 100);
    expect(newOnes.length).toBeGreaterThan(0);
    expect(newOnes.filter((r) => r.ok !== true)).toEqual([]);
    expect(new Set(newOnes.map((r) => r.app))).toEqual(new Set(['app-1']));

    // The clients close their long-lived connections: app-2 holds no session, its termination may go on.
    holdChild.kill('SIGTERM');
    await until('hold summary', () => hold.records.some((r) => r.event === 'summary'), 5_000);
    await until('drain completed', async () => {
      await syncServers(settings, true, clients);
      return asgMock.commandCalls(CompleteLifecycleActionCommand).length > 0;
    }, 10_000, 200);
    expect(asgMock.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: 'app-asg',
      LifecycleHookName: 'drain-hook',
      InstanceId: 'i-2',
      LifecycleActionResult: 'CONTINUE',
    });

    // Gone from the group: out of the backend file too, and a reload keeps it out.
    group([{ id: 'i-1', ip: APP_IPS[0], state: 'InService' }]);
    expect(await syncServers(settings, true, clients)).toEqual(['set server app/app2 state maint']);
    const reloadAt = Date.now();
    process.kill(lab.haproxyPid('a'), 'SIGUSR2');
    await sleep(1500);
    const after = probe.records.filter((r) => (r.start as number) >= reloadAt);
    expect(after.filter((r) => r.ok !== true)).toEqual([]);
    expect(new Set(after.map((r) => r.app))).toEqual(new Set(['app-1']));
    expect(parseAppBackend(fs.readFileSync(path.join(settings.configDir, 'app-backend.cfg'), 'utf8'))[1]).toEqual({ state: 'maint' });
  }, 60_000);
});
