import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { clientProblems, loadClientsFile, portRanges } from '../../lib/failover-pair/clients';
import { renderHaproxyConfig } from '../../lib/failover-pair/haproxy-config';
import { assertWeightOutweighsGap, HaproxyTracking, renderKeepalivedConfig } from '../../lib/failover-pair/keepalived-config';
import { renderSupervisorScript, shellQuote } from '../../lib/failover-pair/scripts-config';

const paths = { configDir: '/etc/rfha', runDir: '/run/rfha' };
const rules = { minPort: 1024, maxPort: 65535, reserved: [{ prop: 'statsPort', port: 8404 }] };
const base = { paths, maxConnections: 50000, backendCheckPort: 80, backendSlots: 64, statsPort: 8404, hardStopAfterSeconds: 3600 };

describe('client list validation', () => {
  test('accepts a valid list', () => {
    expect(clientProblems([{ name: 'acme', port: 9001 }, { name: 'globex', port: 9002, backendPort: 7000, allowFrom: ['203.0.113.0/24'] }], rules)).toEqual([]);
  });
  test.each([
    ['an empty list', [], /clients: got \[\]; allowed: at least one client/],
    ['a duplicate name', [{ name: 'acme', port: 9001 }, { name: 'acme', port: 9002 }], /clients\[1\]\.name: got "acme"; allowed: a name used once \(also used by clients\[0\]\)/],
    ['a duplicate port', [{ name: 'a', port: 9001 }, { name: 'b', port: 9001 }], /clients\[1\]\.port: got 9001; allowed: a port used once/],
    ['a port below the range', [{ name: 'a', port: 80 }], /clients\[0\]\.port: got 80; allowed: an integer from 1024 to 65535/],
    ['a port above the range', [{ name: 'a', port: 70000 }], /clients\[0\]\.port: got 70000/],
    ['a port that is not an integer', [{ name: 'a', port: 9001.5 }], /clients\[0\]\.port: got 9001.5/],
    ["a port that collides with the pair's own", [{ name: 'a', port: 8404 }], /clients\[0\]\.port: got 8404; allowed: a port other than the pair's own \(statsPort is 8404\)/],
    ['a bad name', [{ name: 'acme corp', port: 9001 }], /clients\[0\]\.name: got "acme corp"/],
    ['a bad backendPort', [{ name: 'a', port: 9001, backendPort: 0 }], /clients\[0\]\.backendPort: got 0/],
    ['a bad allowFrom', [{ name: 'a', port: 9001, allowFrom: ['10.0.0.0/33'] }], /clients\[0\]\.allowFrom\[0\]: got "10.0.0.0\/33"/],
    ['an empty allowFrom', [{ name: 'a', port: 9001, allowFrom: [] }], /clients\[0\]\.allowFrom: got \[\]/],
  ])('reports %s', (_what, clients, message) => {
    const problems = clientProblems(clients as never, rules);
    expect(problems.join('\n')).toMatch(message);
    expect(problems.every((p) => /Fix: /.test(p))).toBe(true);
  });

  test('reads a JSON file as an array or as { clients }', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-clients-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify([{ name: 'a', port: 9001 }]));
      fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify({ clients: [{ name: 'b', port: 9002 }] }));
      fs.writeFileSync(path.join(dir, 'c.json'), '{ nope');
      expect(loadClientsFile(path.join(dir, 'a.json'))).toEqual([{ name: 'a', port: 9001 }]);
      expect(loadClientsFile(path.join(dir, 'b.json'))).toEqual([{ name: 'b', port: 9002 }]);
      expect(() => loadClientsFile(path.join(dir, 'c.json'))).toThrow(/clientsFile: .* is not valid JSON/);
      expect(() => loadClientsFile(path.join(dir, 'missing.json'))).toThrow(/clientsFile: cannot read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('portRanges', () => {
  test('compresses consecutive ports', () => {
    expect(portRanges([9003, 9001, 9002, 9010])).toEqual([[9001, 9003], [9010, 9010]]);
  });
  test('covers exactly the given ports', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 300 }), (ports) => {
        const covered = portRanges(ports).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
        expect(covered).toEqual([...ports].sort((x, y) => x - y));
      }),
    );
  });
});

describe('renderHaproxyConfig', () => {
  const clients = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, port: 9001 + i + (i >= 500 ? 10 : 0) }));

  test('binds every client port in one frontend, as ranges, routed by destination port', () => {
    const files = renderHaproxyConfig({ ...base, clients });
    const cfg = files['haproxy.cfg'];
    expect(cfg.match(/^frontend /gm)).toEqual(['frontend ', 'frontend ']); // clients + local stats
    expect(cfg).toContain('  bind :9001-9500,:9511-10010');
    expect(cfg).toContain('set-dst-port dst_port,map_int_int(/etc/rfha/backend-ports.map)');
    expect(cfg).toContain('set-var(sess.client) dst_port,map_int(/etc/rfha/clients.map,unknown)');
    expect(cfg).toContain('  master-worker');
    expect(cfg).toContain('expose-fd listeners');
    expect(cfg).toContain('bind 127.0.0.1:8404');
    expect(files['clients.map'].split('\n').filter(Boolean)).toHaveLength(1000);
    expect(cfg.split('\n').every((l) => l.length < 2048)).toBe(true);
  });

  test('splits very fragmented port lists over bind lines under the line limit', () => {
    const sparse = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, port: 2000 + i * 3 }));
    const cfg = renderHaproxyConfig({ ...base, clients: sparse })['haproxy.cfg'];
    expect(cfg.match(/^ {2}bind :/gm)!.length).toBe(Math.ceil(1000 / 64));
    expect(cfg.split('\n').every((l) => l.length < 2048)).toBe(true);
  });

  test('maps backendPort and restricts allowFrom per client', () => {
    const files = renderHaproxyConfig({ ...base, clients: [{ name: 'a', port: 9001, backendPort: 7001, allowFrom: ['203.0.113.0/24', '198.51.100.7/32'] }, { name: 'b', port: 9002 }] });
    expect(files['backend-ports.map']).toBe('9001 7001\n9002 9002\n');
    // One lookup of the port, one longest-prefix lookup of (port, source): no rule per client.
    expect(files['restricted-ports.map']).toBe('9001 1\n');
    expect(files['allow-from.map']).toBe('::0:9001:203.0.113.0/120 1\n::0:9001:198.51.100.7/128 1\n');
    expect(files['haproxy.cfg']).not.toMatch(/^\s*acl /m);
    expect(files['haproxy.cfg']).toContain('tcp-request connection set-var(sess.rf_lo) dst_port,mod(10000) if { dst_port,map_int(/etc/rfha/restricted-ports.map,0) -m int 1 }');
    expect(files['haproxy.cfg']).toContain('tcp-request connection set-var(sess.rf_hi) dst_port,div(10000) if { var(sess.rf_lo) -m found }');
    expect(files['haproxy.cfg']).toContain('tcp-request connection set-var(sess.rf_src) src if { var(sess.rf_lo) -m found }');
    expect(files['haproxy.cfg']).toContain('tcp-request connection set-var(sess.rf_key) str(::),concat(,sess.rf_hi,:),concat(,sess.rf_lo,:),concat(,sess.rf_src,) if { var(sess.rf_lo) -m found }');
    expect(files['haproxy.cfg']).toContain('tcp-request connection reject if { var(sess.rf_lo) -m found } !{ var(sess.rf_key),map_ip(/etc/rfha/allow-from.map,0) -m int 1 }');
    expect(files['app-backend.head']).toMatch(/^backend app$/m);
    expect(files['app-backend.head']).toContain('default-server check port 80');
    expect(files['app-backend.head']).toContain('# slots: 64');
  });

  test('is deterministic whatever the order of the client list', () => {
    const a = renderHaproxyConfig({ ...base, clients: [{ name: 'a', port: 9001 }, { name: 'b', port: 9002 }] });
    const b = renderHaproxyConfig({ ...base, clients: [{ name: 'b', port: 9002 }, { name: 'a', port: 9001 }] });
    expect(a).toEqual(b);
  });
});

describe('renderHaproxyConfig in DNS mode (backendName)', () => {
  const clients = [{ name: 'a', port: 9001, backendPort: 7001 }, { name: 'b', port: 9002 }];
  const dns = renderHaproxyConfig({ ...base, clients, backendName: 'app-cluster3.example.com' });

  test('resolves through the node\'s own resolvers, re-resolving often and keeping the last good answer through errors', () => {
    const section = dns['haproxy.cfg'].split('\n\n').find((s) => s.includes('resolvers vpc'))!;
    expect(section).toMatch(/^resolvers vpc$/m);
    expect(section).toContain('  parse-resolv-conf');
    expect(section).toContain('  accepted_payload_size 8192');
    expect(section).toContain('  hold valid 5s');
    for (const status of ['other', 'refused', 'nx', 'timeout']) expect(section).toContain(`  hold ${status} 30s`);
    expect(section).toContain('  hold obsolete 10s');
    expect(section).toMatch(/timeout resolve 1s/);
  });

  test('fills maxBackendServers slots from the name, without ports, from the last worker\'s state or else empty so HAProxy starts before the name resolves', () => {
    const backend = dns['app-backend.cfg']!;
    expect(backend.startsWith(dns['app-backend.head'])).toBe(true);
    expect(backend).toMatch(/^ {2}server-template app 64 app-cluster3\.example\.com resolvers vpc resolve-prefer ipv4 init-addr last,none check$/m);
    expect(backend.match(/^ {2}server/gm)).toHaveLength(1);
    expect(backend).toContain('default-server check port 80');
    expect(renderHaproxyConfig({ ...base, clients, backendSlots: 8, backendName: 'x.example.com' })['app-backend.cfg']).toContain('server-template app 8 x.example.com ');
  });

  test('keeps the frontend, port maps and head of the group mode; the group mode has no resolvers and no complete backend', () => {
    const group = renderHaproxyConfig({ ...base, clients });
    expect(dns['backend-ports.map']).toBe(group['backend-ports.map']);
    expect(dns['clients.map']).toBe(group['clients.map']);
    // The same defaults and frontends, except that DNS mode loads the servers' state a reload saved.
    expect(dns['haproxy.cfg'].slice(dns['haproxy.cfg'].indexOf('defaults')).replace('  load-server-state-from-file global\n', '')).toBe(group['haproxy.cfg'].slice(group['haproxy.cfg'].indexOf('defaults')));
    expect(group['haproxy.cfg']).not.toContain('resolvers');
    expect(group['app-backend.cfg']).toBeUndefined();
  });

  test('hold obsolete follows dnsHoldObsoleteSeconds', () => {
    expect(renderHaproxyConfig({ ...base, clients, backendName: 'x.example.com', dnsHoldObsoleteSeconds: 3 })['haproxy.cfg']).toContain('  hold obsolete 3s');
  });
});

describe('renderKeepalivedConfig', () => {
  const k = { paths, virtualRouterId: 51, advertIntervalMs: 50, preemptDelaySeconds: 10 };
  test('tracks HAProxy through a fail-closed track file, VRRPv3, both nodes BACKUP, unicast peers from peers.conf', () => {
    const conf = renderKeepalivedConfig(k);
    expect(conf).toContain('track_file haproxy_up {\n  file /run/rfha/haproxy.up\n  weight 0 reverse\n}');
    expect(conf).toContain('vrrp_version 3');
    expect(conf).toContain('state BACKUP');
    expect(conf).toContain('advert_int 0.05');
    expect(conf).toContain('preempt_delay 10');
    expect(conf).toContain('unicast_peer {\n    include /etc/rfha/peers.conf\n  }');
    expect(conf).toContain('priority $PRIORITY');
    expect(conf).toContain('include /etc/rfha/node.conf');
    expect(conf).toContain('vrrp_notify_fifo /run/rfha/vrrp.fifo');
    expect(conf).not.toMatch(/^\s*notify /m); // no script forked per transition
    expect(conf).not.toMatch(/unicast_src_ip \d/); // no address typed: node.conf says it
  });
  test('renders the guides\' polled check script for comparison', () => {
    const conf = renderKeepalivedConfig({ ...k, advertIntervalMs: 1000, vrrpVersion: 2, priorities: [101, 100], tracking: HaproxyTracking.SCRIPT, checkWeight: 2 });
    expect(conf).toContain('vrrp_script haproxy_up {\n  script "/etc/rfha/check-haproxy.sh"\n  interval 1\n  weight 2');
    expect(conf).toContain('advert_int 1\n');
    expect(conf).toContain('track_script {');
  });
  test('refuses a check weight that cannot outweigh the priority gap', () => {
    expect(() => renderKeepalivedConfig({ ...k, priorities: [150, 100], tracking: HaproxyTracking.SCRIPT, checkWeight: 2 })).toThrow(/weight of 2 cannot outweigh the priority gap of 50/);
    expect(() => assertWeightOutweighsGap(-1, [254, 253])).toThrow(/gap of 1/);
    expect(() => assertWeightOutweighsGap(-2, [254, 253])).not.toThrow();
    expect(() => assertWeightOutweighsGap(0, [254, 253])).not.toThrow();
  });
});

describe('scripts', () => {
  test('the supervisor waits on HAProxy and marks the track file on exit', () => {
    const s = renderSupervisorScript({ paths, configFiles: ['/etc/rfha/haproxy.cfg', '/etc/rfha/app-backend.cfg'], readinessPort: 8404, restartDelaySeconds: 2 });
    expect(s).toContain("haproxy -W -db -f '/etc/rfha/haproxy.cfg' -f '/etc/rfha/app-backend.cfg' &");
    expect(s).toMatch(/wait "\$pid"\n {2}rc=\$\?\n {2}mark 0/);
    expect(s).toContain('/dev/tcp/127.0.0.1/8404');
  });
  test('the supervisor marks HAProxy down with builtins only (no fork on the failover path)', () => {
    const s = renderSupervisorScript({ paths, configFiles: ['/etc/rfha/haproxy.cfg'], readinessPort: 8404, restartDelaySeconds: 2 });
    expect(s).toContain(`if [ "$1" = 0 ]; then printf '0\\n' > "$up";`);
  });
  test('shellQuote survives quotes', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});
