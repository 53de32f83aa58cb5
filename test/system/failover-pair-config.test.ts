/**
 * The rendered files, checked by the real programs: `haproxy -c` for 1, 100 and 1000 clients (the app
 * backend file written the way the agent writes it), `nft -f` of the client ports' rules (loaded twice in a
 * namespace: the second load replaces the first in one transaction), `keepalived -t` inside a namespace that has the
 * interface, for the event-driven default and for the polled check script.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HaproxyClient } from '../../lib/failover-pair/clients';
import { renderHaproxyConfig } from '../../lib/failover-pair/haproxy-config';
import { HaproxyTracking, renderKeepalivedConfig, renderNodeConf } from '../../lib/failover-pair/keepalived-config';
import { renderCheckScript, renderSupervisorScript } from '../../lib/failover-pair/scripts-config';
import { renderAppBackend, renderPeers } from '../../instance/failover-pair-agent/logic';
import { canUseNetns, requirePrograms } from './programs';

function clients(n: number): HaproxyClient[] {
  // Realistic: mostly contiguous ports, some gaps, a few per-client settings.
  return Array.from({ length: n }, (_, i) => ({
    name: `customer-${String(i + 1).padStart(4, '0')}`,
    port: 9001 + i + Math.floor(i / 97) * 3,
    ...(i % 50 === 7 ? { backendPort: 30000 + i } : {}),
    ...(i % 40 === 3 ? { allowFrom: ['203.0.113.0/24', '198.51.100.17/32'] } : {}),
  }));
}

describe('rendered files accepted by the real programs', () => {
  let dir: string;
  const ns = `rfha-${process.pid}-cfg`;

  beforeAll(() => {
    requirePrograms('haproxy', 'keepalived', 'nft', 'ip');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-cfg-'));
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each([1, 100, 1000])('haproxy -c accepts the configuration for %i clients', (n) => {
    const configDir = path.join(dir, `h${n}`);
    fs.mkdirSync(configDir);
    const files = renderHaproxyConfig({
      clients: clients(n),
      paths: { configDir, runDir: configDir },
      maxConnections: 20000,
      backendCheckPort: 80,
      backendSlots: 64,
      statsPort: 8404,
      listenerPort: 8405,
      hardStopAfterSeconds: 3600,
    });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(configDir, name), text);
    const backend = renderAppBackend(files['app-backend.head'], 'app', [
      { address: '10.0.1.10', instanceId: 'i-0aaaaaaaaaaaaaaa1', state: 'ready' },
      { address: '10.0.2.10', instanceId: 'i-0aaaaaaaaaaaaaaa2', state: 'drain' },
      ...Array.from({ length: 62 }, () => ({ state: 'maint' as const })),
    ]);
    fs.writeFileSync(path.join(configDir, 'app-backend.cfg'), backend);
    const r = spawnSync('haproxy', ['-c', '-f', path.join(configDir, 'haproxy.cfg'), '-f', path.join(configDir, 'app-backend.cfg')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('Configuration file is valid');
    expect(r.stderr).not.toMatch(/ALERT/);
    expect(r.status).toBe(0);
  });

  test.each([1, 1000, 5000])('nft loads the client ports of %i sparse clients, and a second load replaces the first whole', (n) => {
    if (!canUseNetns()) throw new Error('needs root and network namespaces');
    const sparse = Array.from({ length: n }, (_, i) => ({ name: `c${i}`, port: 10000 + 3 * i }));
    const file = path.join(dir, `client-ports-${n}.nft`);
    const render = (list: HaproxyClient[]) =>
      renderHaproxyConfig({ clients: list, paths: { configDir: dir, runDir: dir }, maxConnections: 20000, backendCheckPort: 80, backendSlots: 64, statsPort: 8404, listenerPort: 8405, hardStopAfterSeconds: 3600 })['client-ports.nft'];
    spawnSync('ip', ['netns', 'del', ns]);
    execFileSync('ip', ['netns', 'add', ns]);
    const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], { encoding: 'utf8' });
    fs.writeFileSync(file, render(sparse));
    nft('-f', file);
    nft('-f', file); // the unit's ExecReload on an unchanged list
    const listed = nft('-j', 'list', 'set', 'ip', 'rfha_clients', 'client_ports');
    const elems = (JSON.parse(listed).nftables.find((o: { set?: unknown }) => o.set).set.elem ?? []) as number[];
    expect(elems).toEqual(sparse.map((c) => c.port));
    // A reload that drops every client but the last: the old ports are gone, not merged.
    fs.writeFileSync(file, render(sparse.slice(-1)));
    nft('-f', file);
    expect(JSON.parse(nft('-j', 'list', 'set', 'ip', 'rfha_clients', 'client_ports')).nftables.find((o: { set?: unknown }) => o.set).set.elem).toEqual([sparse[n - 1].port]);
    expect(nft('list', 'chain', 'ip', 'rfha_clients', 'prerouting')).toMatch(/type filter hook prerouting priority mangle; policy accept;\n\s+fib daddr type local tcp dport @client_ports tproxy to 127\.0\.0\.1:8405\n/);
  });

  test('haproxy -c accepts the DNS-mode configuration (resolvers, server-template over a name) for 300 clients', () => {
    const configDir = path.join(dir, 'dns');
    fs.mkdirSync(configDir);
    const files = renderHaproxyConfig({
      clients: clients(300),
      paths: { configDir, runDir: configDir },
      maxConnections: 20000,
      backendCheckPort: 80,
      backendSlots: 64,
      statsPort: 8404,
      listenerPort: 8405,
      hardStopAfterSeconds: 3600,
      backendName: 'app-cluster3.example.com',
    });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(configDir, name), text);
    // The files exactly as shipped: the agent writes nothing in DNS mode. The supervisor puts an empty servers' state
    // (version line only) in the run directory before the first start.
    fs.writeFileSync(path.join(configDir, 'server-state'), '1\n');
    const r = spawnSync('haproxy', ['-c', '-f', path.join(configDir, 'haproxy.cfg'), '-f', path.join(configDir, 'app-backend.cfg')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('Configuration file is valid');
    expect(r.stderr).not.toMatch(/ALERT|WARNING/);
    expect(r.status).toBe(0);
  });

  test.each([
    ['the event-driven track file (default)', HaproxyTracking.FILE, 0],
    ['a polled check script with a weight above the gap', HaproxyTracking.SCRIPT, -5],
  ] as const)('keepalived -t accepts the configuration with %s', (_what, tracking, checkWeight) => {
    if (!canUseNetns()) throw new Error('needs root and network namespaces');
    spawnSync('ip', ['netns', 'del', ns]);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.0.1.5/24', 'dev', 'eth0']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    const configDir = path.join(dir, `k-${tracking}`);
    fs.mkdirSync(configDir, { mode: 0o755 });
    const paths = { configDir, runDir: path.join(configDir, 'run') };
    fs.writeFileSync(path.join(configDir, 'keepalived.conf'), renderKeepalivedConfig({ paths, virtualRouterId: 51, advertIntervalMs: 50, preemptDelaySeconds: 10, tracking, checkWeight }));
    fs.writeFileSync(path.join(configDir, 'node.conf'), renderNodeConf({ sourceIp: '10.0.1.5', priority: 254, interfaceName: 'eth0' }));
    fs.writeFileSync(path.join(configDir, 'peers.conf'), renderPeers(['10.0.2.7']));
    fs.writeFileSync(path.join(configDir, 'check-haproxy.sh'), renderCheckScript({ paths }), { mode: 0o755 });
    const r = spawnSync('ip', ['netns', 'exec', ns, 'keepalived', '-t', '-l', '-n', '-f', path.join(configDir, 'keepalived.conf')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('the rendered shell scripts parse (bash -n / sh -n)', () => {
    const paths = { configDir: dir, runDir: path.join(dir, 'run') };
    const scripts: Array<[string, string]> = [
      ['bash', renderSupervisorScript({ paths, configFiles: ['/etc/a.cfg', "/etc/it's.cfg"], readinessPort: 8404, restartDelaySeconds: 2 })],
      ['sh', renderCheckScript({ paths })],
    ];
    for (const [shell, text] of scripts) {
      const file = path.join(dir, `s-${shell}-${text.length}`);
      fs.writeFileSync(file, text);
      const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
