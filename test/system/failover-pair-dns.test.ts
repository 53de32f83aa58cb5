/**
 * DNS backend mode on the real HAProxy: the files rendered with `backendName` (resolvers with parse-resolv-conf,
 * server-template with init-addr none), HAProxy in a lab node whose /etc/resolv.conf names a tiny DNS server in the
 * same namespace (`ip netns exec` mounts /etc/netns/<ns>/resolv.conf over it). The records change the way DnsRegistrar
 * and an AddressStack blue/green swap change them in Route 53; HAProxy must follow without a reload:
 * an instance that enters app-blue takes traffic, one that leaves it gets no new streams but keeps its open ones,
 * and moving the app-cluster3 CNAME to app-green moves new streams there.
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderHaproxyConfig } from '../../lib/failover-pair/haproxy-config';
import { APP_IPS, CHECK_PORT, FailoverLab, LISTENER_PORT, NODE_PATHS, ProbeLog, STATS_PORT, sleep, until } from '../failover-pair/lab/lab';
import { canUseNetns, requirePrograms } from './programs';

const LAB = path.join(__dirname, '..', 'failover-pair', 'lab');
const NAME = 'app-cluster3.example.com';
const CLIENT_PORT = 20001;

describe('DNS backend mode on the real HAProxy', () => {
  let lab: FailoverLab;
  let zoneFile: string;
  let netnsEtc: string | undefined;
  let probe: ProbeLog;

  /** Rewrites the zone as the registrar (app-blue / app-green A records) and the address stack (the CNAME) would. */
  const zone = (active: 'app-blue' | 'app-green', blue: string[], green: string[]) =>
    fs.writeFileSync(zoneFile, JSON.stringify({ ttl: 1, [NAME]: { cname: `${active}.example.com` }, 'app-blue.example.com': { a: blue }, 'app-green.example.com': { a: green } }));
  /** Which app instances answered the short probes since `since`. */
  const answeredSince = (since: number) => new Set(probe.records.filter((r) => r.t >= since && r.ok === true).map((r) => r.app));

  beforeAll(async () => {
    requirePrograms('haproxy', 'nft', 'ip', 'node');
    if (!canUseNetns()) throw new Error('system test needs root and network namespaces (ip netns add)');
    lab = new FailoverLab({
      clients: [{ name: 'acme', port: CLIENT_PORT }],
      haproxyFiles: (configDir) => ({
        ...renderHaproxyConfig({
          clients: [{ name: 'acme', port: CLIENT_PORT }],
          paths: { configDir, runDir: NODE_PATHS.runDir },
          maxConnections: 4000,
          backendCheckPort: CHECK_PORT,
          backendSlots: 4,
          statsPort: STATS_PORT,
          listenerPort: LISTENER_PORT,
          hardStopAfterSeconds: 120,
          checkIntervalMs: 500,
          backendName: NAME,
          dnsHoldObsoleteSeconds: 2,
        }),
      }),
    });
    zoneFile = path.join(lab.dir, 'zone.json');
    zone('app-blue', [APP_IPS[0]], [APP_IPS[1]]);
    // The node's resolver: `ip netns exec` mounts this file over /etc/resolv.conf for HAProxy (parse-resolv-conf).
    netnsEtc = path.join('/etc/netns', lab.ns('a'));
    fs.mkdirSync(netnsEtc, { recursive: true });
    fs.writeFileSync(path.join(netnsEtc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    lab.setUp();
    lab.spawnIn('a', 'node', [path.join(LAB, 'dns-server.mjs'), '127.0.0.1', '53', zoneFile], 'dns.log');
    await sleep(300);
    lab.startHaproxy('a');
    await until('HAProxy socket', () => fs.existsSync(path.join(lab.nodeDir('a').runDir, 'haproxy.sock')), 10_000);
    // Short connections from inside the node (HAProxy binds the client port on every address).
    probe = new ProbeLog(lab.spawnIn('a', 'node', [path.join(LAB, 'prober.mjs'), 'probe', '127.0.0.1', String(CLIENT_PORT), '20']));
  }, 60_000);

  afterAll(() => {
    lab?.close();
    if (netnsEtc) fs.rmSync(netnsEtc, { recursive: true, force: true });
  });

  test('starts empty and fills its slots from the name (CNAME app-cluster3 -> app-blue)', async () => {
    const first = await probe.waitFor((r) => r.ok === true, 0, 20_000);
    expect(first.app).toBe('app-1');
    const pid = lab.haproxyPid('a');
    const servers = await lab.runtime('a', 'show servers state app');
    expect(servers).toContain(APP_IPS[0]);
    expect(lab.haproxyPid('a')).toBe(pid);
  }, 30_000);

  test('an instance that enters the name takes traffic without a reload', async () => {
    const pid = lab.haproxyPid('a');
    const at = Date.now();
    zone('app-blue', [APP_IPS[0], APP_IPS[1]], [APP_IPS[1]]);
    const hit = await probe.waitFor((r) => r.ok === true && r.app === 'app-2', at, 20_000);
    console.log(`an instance added to app-blue answered ${hit.t - at} ms after the record changed (timeout resolve 1 s, TTL 1 s)`);
    await sleep(500);
    expect(answeredSince(Date.now() - 400)).toEqual(new Set(['app-1', 'app-2']));
    expect(lab.haproxyPid('a')).toBe(pid);
  }, 30_000);

  test('an instance that leaves the name gets no new streams, and its open streams are not cut', async () => {
    const holdChild = lab.spawnIn('a', 'node', [path.join(LAB, 'prober.mjs'), 'hold', '127.0.0.1', String(CLIENT_PORT), '10', '50']);
    const hold = new ProbeLog(holdChild);
    await until('10 long-lived connections', () => hold.records.filter((r) => r.event === 'open').length === 10, 15_000);
    expect(hold.records.some((r) => r.event === 'open' && r.app === 'app-2')).toBe(true);
    // Both still take new streams while the long-lived ones are open (so what follows is the name, not leastconn).
    const before = Date.now();
    await sleep(1000);
    expect(answeredSince(before)).toEqual(new Set(['app-1', 'app-2']));

    const at = Date.now();
    zone('app-blue', [APP_IPS[0]], [APP_IPS[1]]); // the registrar removed app-2 at its terminate hook
    await until('only app-1 answers new streams', () => {
      const recent = probe.records.filter((r) => r.t >= Date.now() - 1000 && r.ok === true);
      return recent.length > 10 && recent.every((r) => r.app === 'app-1');
    }, 30_000, 100);
    console.log(`new streams stopped reaching the removed instance about ${Date.now() - 1000 - at} ms after the record changed (hold obsolete 2 s at most)`);
    expect(probe.records.filter((r) => r.t >= at && r.ok !== true)).toEqual([]);
    expect(hold.records.filter((r) => r.event === 'drop')).toEqual([]);
    holdChild.kill('SIGTERM');
  }, 45_000);

  test('a blue/green swap of the CNAME moves new streams to app-green without a reload', async () => {
    const pid = lab.haproxyPid('a');
    const at = Date.now();
    zone('app-green', [APP_IPS[0]], [APP_IPS[1]]); // the Addresses stack moved app-cluster3 to app-green
    await until('only app-2 (green) answers', () => {
      const recent = probe.records.filter((r) => r.t >= Date.now() - 1000 && r.ok === true);
      return recent.length > 10 && recent.every((r) => r.app === 'app-2');
    }, 30_000, 100);
    console.log(`the swap reached HAProxy about ${Date.now() - 1000 - at} ms after the CNAME changed`);
    expect(probe.records.filter((r) => r.t >= at && r.ok !== true)).toEqual([]);
    expect(lab.haproxyPid('a')).toBe(pid);
  }, 45_000);
});
