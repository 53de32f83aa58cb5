/**
 * HaproxyFailoverPair on the real programs: two namespaces run haproxy (under the rendered supervisor) and
 * keepalived with the rendered files, a third sends TCP traffic to the virtual address through client
 * ports, two app instances answer. The EC2 address move is replaced by a local route change (the notify
 * script's move command), as the EIP association and the VPN route are on AWS.
 *
 * Timings are measured and printed, never asserted tightly: the bounds below only say "it happened".
 */
import * as fs from 'fs';
import * as path from 'path';
import { FailoverLab, NODE_IPS, ProbeLog, VIP, sleep, until } from '../failover-pair/lab/lab';
import { renderAppBackend } from '../../instance/failover-pair-agent/logic';
import { canUseNetns, requirePrograms } from './programs';

const PROBER = path.join(__dirname, '..', 'failover-pair', 'lab', 'prober.mjs');
const CLIENTS = [
  { name: 'acme', port: 20001 },
  { name: 'globex', port: 20002, backendPort: 20102 },
  { name: 'initech', port: 20003, allowFrom: ['192.0.2.0/24'] },
];

describe('HaproxyFailoverPair in network namespaces', () => {
  let lab: FailoverLab;
  let probe: ProbeLog;

  beforeAll(async () => {
    requirePrograms('haproxy', 'keepalived', 'nft', 'ip', 'node');
    if (!canUseNetns()) throw new Error('system test needs root and network namespaces (ip netns add)');
    lab = new FailoverLab({ clients: CLIENTS, preemptDelaySeconds: 1, restartDelaySeconds: 3 });
    lab.setUp();
    for (const n of ['a', 'b'] as const) {
      lab.startHaproxy(n);
      lab.startKeepalived(n);
    }
    await until('node A to become master and move the address', () => lab.routeVia() === 'a', 20_000);
    probe = new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, '20001', '5']));
    await probe.waitFor((r) => r.ok === true, 0, 10_000);
  }, 60_000);

  afterAll(() => {
    lab?.close();
  });

  test('sends each client port to the app instances, on the client port or its backendPort', async () => {
    const seen = await Promise.all(
      [20001, 20002].map(async (port) => {
        const child = lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, String(port), '20']);
        const log = new ProbeLog(child);
        await until(`answers from both apps on ${port}`, () => new Set(log.records.filter((r) => r.ok).map((r) => r.app)).size === 2, 15_000);
        child.kill('SIGTERM');
        return log.records.find((r) => r.ok)!;
      }),
    );
    expect(seen[0]).toMatchObject({ via: NODE_IPS.a, appPort: 20001 });
    expect(seen[1]).toMatchObject({ via: NODE_IPS.a, appPort: 20102 });
  });

  test('refuses a client port from a source outside its allowFrom', async () => {
    const child = lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, '20003', '50']);
    const log = new ProbeLog(child);
    await until('three attempts', () => log.records.length >= 3, 10_000);
    child.kill('SIGTERM');
    expect(log.records.every((r) => r.ok === false)).toBe(true);
  });

  test('killing HAProxy on the master moves traffic to the backup, and its restart moves it back', async () => {
    const killedAt = Date.now();
    process.kill(lab.haproxyPid('a'), 'SIGKILL');
    const failover = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.b, killedAt, 15_000);
    expect(lab.routeVia()).toBe('b');
    // The supervisor restarts HAProxy after 3 s; keepalived then preempts after its 1 s delay.
    const failback = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.a, failover.t, 30_000);
    expect(lab.routeVia()).toBe('a');
    expect(lab.vrrpState('a')).toBe('MASTER');
    expect(lab.vrrpState('b')).toBe('BACKUP');
    console.log(`failover ${failover.t - killedAt} ms after the kill; back on the master ${failback.t - killedAt} ms after the kill`);
  }, 60_000);

  test("killing the master's keepalived moves traffic to the backup, and its restart moves it back", async () => {
    const run = lab.nodeDir('a').runDir;
    const pids = ['keepalived.pid', 'vrrp.pid'].map((f) => Number(fs.readFileSync(path.join(run, f), 'utf8').trim()));
    const killedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const failover = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.b, killedAt, 15_000);
    expect(lab.routeVia()).toBe('b');
    const restartedAt = Date.now();
    lab.startKeepalived('a');
    const failback = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.a, restartedAt, 30_000);
    expect(lab.routeVia()).toBe('a');
    // B saw the higher-priority master and gave the address up: one master, the route with it.
    await until('B back to BACKUP', () => lab.vrrpState('b') === 'BACKUP', 10_000);
    await sleep(500);
    expect(lab.routeVia()).toBe('a');
    console.log(`keepalived killed: failover ${failover.t - killedAt} ms; restarted: back ${failback.t - restartedAt} ms after restart`);
  }, 60_000);

  test('removing an app instance and reloading under steady load drops no established connection', async () => {
    await until('node A master', () => lab.routeVia() === 'a' && lab.vrrpState('a') === 'MASTER', 20_000);
    const holdChild = lab.spawnIn('c', 'node', [PROBER, 'hold', VIP, '20001', '40', '50']);
    const hold = new ProbeLog(holdChild);
    await until('40 long-lived connections', () => hold.records.filter((r) => r.event === 'open').length === 40, 15_000);
    const onApp2 = hold.records.filter((r) => r.event === 'open' && r.app === 'app-2').length;
    expect(onApp2).toBeGreaterThan(0);
    const loadStart = Date.now();

    // What the agent does when an instance leaves: drain it at run time, write the file, (here) reload.
    const { configDir } = lab.nodeDir('a');
    const head = fs.readFileSync(path.join(configDir, 'app-backend.head'), 'utf8');
    const slots = lab.initialSlots();
    slots[1] = { state: 'maint' };
    fs.writeFileSync(path.join(configDir, 'app-backend.cfg'), renderAppBackend(head, 'app', slots));
    expect(await lab.runtime('a', 'set server app/app2 state drain')).toBe('\n');
    const master = lab.haproxyPid('a');
    for (let i = 0; i < 5; i++) {
      process.kill(master, 'SIGUSR2');
      await sleep(600);
    }
    const reloadedAt = Date.now();
    await sleep(1000);
    const errors = probe.records.filter((r) => r.t >= loadStart && r.ok === false);
    const drops = hold.records.filter((r) => r.event === 'drop');
    const after = probe.records.filter((r) => (r.start as number) >= reloadedAt && r.ok === true);
    holdChild.kill('SIGTERM');
    await until('hold summary', () => hold.records.some((r) => r.event === 'summary'), 5_000);
    const summary = hold.records.find((r) => r.event === 'summary')!;
    console.log(`5 reloads under load: ${probe.records.filter((r) => r.t >= loadStart).length} short connections, ${errors.length} errors; held ${JSON.stringify(summary)}`);
    expect(drops).toEqual([]);
    expect(errors).toEqual([]);
    expect(summary.echoes as number).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((r) => r.app))).toEqual(new Set(['app-1']));
    expect(lab.haproxyPid('a')).toBe(master);
  }, 60_000);
});
