import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { clientProblems, loadClientsFile, portRanges } from '../../lib/failover-pair/clients';
import { renderHaproxyConfig } from '../../lib/failover-pair/haproxy-config';
import {
  assertWeightOutweighsGap,
  HaproxyTracking,
  keepalivedFiles,
  markerAddress,
  renderKeepalivedConfig,
  renderNodeConf,
} from '../../lib/failover-pair/keepalived-config';
import { renderCheckScript, renderSupervisorScript, renderSystemdUnits, shellQuote } from '../../lib/failover-pair/scripts-config';
import { SYSTEMD_HARDENING } from '../../lib/private/systemd-hardening';
import { SUPERVISOR, edited } from './expected-files';

const paths = { configDir: '/etc/rfha', runDir: '/run/rfha' };
const rules = { minPort: 1024, maxPort: 65535, reserved: [{ prop: 'statsPort', port: 8404 }] };
const base = { paths, maxConnections: 50000, backendCheckPort: 80, backendSlots: 64, statsPort: 8404, listenerPort: 8405, hardStopAfterSeconds: 3600 };

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

  test('receives every client port on one listener, routed by destination port; the port set holds the ranges', () => {
    const files = renderHaproxyConfig({ ...base, clients });
    const cfg = files['haproxy.cfg'];
    expect(cfg.match(/^frontend /gm)).toEqual(['frontend ', 'frontend ']); // clients + local stats
    expect(cfg.match(/^ {2}bind .*$/gm)).toEqual(['  bind 127.0.0.1:8404', '  bind 127.0.0.1:8405 transparent']);
    expect(files['client-ports.nft']).toContain('\n    elements = {\n      9001-9500, 9511-10010\n    }\n');
    expect(cfg).toContain('set-dst-port dst_port,map_int_int(/etc/rfha/backend-ports.map)');
    expect(cfg).toContain('set-var(sess.client) dst_port,map_int(/etc/rfha/clients.map)\n  tcp-request connection reject unless { var(sess.client) -m found }\n');
    expect(cfg).toContain('  master-worker');
    expect(cfg).toContain('expose-fd listeners');
    expect(files['clients.map'].split('\n').filter(Boolean)).toHaveLength(1000);
    expect(cfg.split('\n').every((l) => l.length < 2048)).toBe(true);
  });

  test('a very fragmented port list: one listener still, the set 16 ranges to a line', () => {
    const sparse = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, port: 2000 + i * 3 }));
    const files = renderHaproxyConfig({ ...base, clients: sparse });
    expect(files['haproxy.cfg'].match(/^ {2}bind /gm)!.length).toBe(2);
    const elements = files['client-ports.nft'].split('\n').filter((l) => /^ {6}\d/.test(l));
    expect(elements).toHaveLength(Math.ceil(1000 / 16));
    expect(elements.join(' ').split(/,? /).filter(Boolean)).toEqual(sparse.map((c) => String(c.port)));
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

// Paths other than the construct's own, so that every path in a file is seen to come from them.
const edge = { configDir: '/etc/edge', runDir: '/run/edge' };

describe('renderKeepalivedConfig, every line', () => {
  const k = { paths: edge, virtualRouterId: 7, advertIntervalMs: 1500, preemptDelaySeconds: 2.5 };

  test('at its defaults: the whole file (track file with weight 0 reverse, VRRPv3, the marker address of the router id)', () => {
    expect(renderKeepalivedConfig(k)).toBe(`# Rendered by resilient-fleet HaproxyFailoverPair. node.conf (written at boot) defines $SRC_IP, $PRIORITY, $INTERFACE and $STARTUP_DELAY.
include /etc/edge/node.conf

global_defs {
  enable_script_security
  script_user root
  vrrp_version 3
  # Every transition, in order, to the one agent that reads this FIFO (STOP when keepalived stops).
  vrrp_notify_fifo /run/edge/vrrp.fifo
  vrrp_startup_delay $STARTUP_DELAY
  # Adverts every 50 ms must not wait behind a saturated CPU (a backup that misses three takes over).
  vrrp_rt_priority 50
  vrrp_rlimit_rttime 500000
}

# HAProxy's supervisor writes 1 while HAProxy runs and 0 the instant it exits; missing or empty reads as down.
track_file haproxy_up {
  file /run/edge/haproxy.up
  weight 0 reverse
}

vrrp_instance edge {
  # Both nodes start as BACKUP and let priority decide: two nodes starting at once never both claim the address.
  state BACKUP
  interface $INTERFACE
  virtual_router_id 7
  priority $PRIORITY
  advert_int 1.5
  preempt_delay 2.5
  # No multicast on AWS: unicast to the peer, whose address the agent keeps current in peers.conf.
  unicast_src_ip $SRC_IP
  unicast_peer {
    include /etc/edge/peers.conf
  }
  virtual_ipaddress {
    169.254.253.7/32 dev lo scope host
  }
  track_file {
    haproxy_up
  }
}
`);
  });

  test('the polled check script: interval, no weight line at weight 0 (FAULT), fall 1 rise 1, tracked by track_script', () => {
    const conf = renderKeepalivedConfig({ ...k, tracking: HaproxyTracking.SCRIPT, checkIntervalSeconds: 3 });
    expect(conf).toContain(`
}

vrrp_script haproxy_up {
  script "/etc/edge/check-haproxy.sh"
  interval 3
  fall 1
  rise 1
}

vrrp_instance edge {
`);
    expect(conf).toContain(`
  }
  track_script {
    haproxy_up
  }
}
`);
    expect(conf).not.toContain('track_file');
    expect(conf).not.toContain('weight');
  });

  test('the polled check script polls every second by default and carries a weight that outweighs the gap', () => {
    const conf = renderKeepalivedConfig({ ...k, tracking: HaproxyTracking.SCRIPT, priorities: [101, 100], checkWeight: 2 });
    expect(conf).toContain('vrrp_script haproxy_up {\n  script "/etc/edge/check-haproxy.sh"\n  interval 1\n  weight 2\n  fall 1\n  rise 1\n}\n');
    expect(conf).not.toContain('reverse');
  });

  test('a track file with a weight that outweighs the gap keeps reverse', () => {
    const conf = renderKeepalivedConfig({ ...k, priorities: [200, 150], checkWeight: -60 });
    expect(conf).toContain('track_file haproxy_up {\n  file /run/edge/haproxy.up\n  weight -60 reverse\n}\n');
  });

  test('vrrpVersion 2 and explicit virtual addresses, one per line, replace the marker', () => {
    const conf = renderKeepalivedConfig({ ...k, vrrpVersion: 2, virtualIpAddresses: ['10.0.0.9/32 dev eth0', '169.254.1.1/32 dev lo scope host'] });
    expect(conf).toContain('\n  vrrp_version 2\n');
    expect(conf).toContain('  virtual_ipaddress {\n    10.0.0.9/32 dev eth0\n    169.254.1.1/32 dev lo scope host\n  }\n');
    expect(conf).not.toContain('169.254.253.');
  });

  test.each([
    [50, '0.05'],
    [10, '0.01'],
    [100, '0.1'],
    [1000, '1'],
    [1500, '1.5'],
    [2000, '2'],
    [10000, '10'],
    [1230, '1.23'],
  ])('advert interval of %i ms is advert_int %s', (ms, text) => {
    expect(renderKeepalivedConfig({ ...k, advertIntervalMs: ms })).toContain(`\n  advert_int ${text}\n`);
  });

  test('the virtual router id reaches virtual_router_id and the marker address', () => {
    const conf = renderKeepalivedConfig({ ...k, virtualRouterId: 200 });
    expect(conf).toContain('\n  virtual_router_id 200\n');
    expect(conf).toContain('\n    169.254.253.200/32 dev lo scope host\n');
    expect(markerAddress(1)).toBe('169.254.253.1/32 dev lo scope host');
  });
});

describe('the check weight against the priority gap', () => {
  test('refuses a weight equal to the gap, accepts one above it, in either direction and either order', () => {
    expect(() => assertWeightOutweighsGap(50, [150, 100])).toThrow(
      'keepalived: a check weight of 50 cannot outweigh the priority gap of 50 (150 vs 100): a failed check would never move the address. Use weight 0 (FAULT) or a weight larger than the gap.',
    );
    expect(() => assertWeightOutweighsGap(-50, [100, 150])).toThrow(/^keepalived: a check weight of -50 cannot outweigh the priority gap of 50 \(100 vs 150\)/);
    expect(() => assertWeightOutweighsGap(49, [100, 150])).toThrow(/gap of 50/);
    expect(() => assertWeightOutweighsGap(51, [150, 100])).not.toThrow();
    expect(() => assertWeightOutweighsGap(-51, [100, 150])).not.toThrow();
    expect(() => assertWeightOutweighsGap(0, [150, 100])).not.toThrow();
  });

  test('the renderer checks the weight against the default priorities 254 and 253', () => {
    const k = { paths: edge, virtualRouterId: 7, advertIntervalMs: 50, preemptDelaySeconds: 10, tracking: HaproxyTracking.SCRIPT };
    expect(() => renderKeepalivedConfig({ ...k, checkWeight: 1 })).toThrow(/weight of 1 cannot outweigh the priority gap of 1 \(254 vs 253\)/);
    expect(renderKeepalivedConfig({ ...k, checkWeight: 2 })).toContain('  weight 2\n');
    expect(() => renderKeepalivedConfig({ ...k, tracking: HaproxyTracking.FILE, checkWeight: -1 })).toThrow(/gap of 1/);
  });
});

describe('keepalived files and node.conf', () => {
  test('every file keepalived and the agent share, under the config and run directories', () => {
    expect(keepalivedFiles(edge)).toEqual({
      config: '/etc/edge/keepalived.conf',
      nodeConf: '/etc/edge/node.conf',
      peersConf: '/etc/edge/peers.conf',
      check: '/etc/edge/check-haproxy.sh',
      trackFile: '/run/edge/haproxy.up',
      stateFile: '/run/edge/vrrp.state',
      fifo: '/run/edge/vrrp.fifo',
      pidFile: '/run/edge/keepalived.pid',
      vrrpPidFile: '/run/edge/vrrp.pid',
      checkersPidFile: '/run/edge/checkers.pid',
    });
  });

  test('node.conf defines the four names keepalived.conf uses', () => {
    expect(renderNodeConf({ sourceIp: '10.0.1.5', priority: 253, interfaceName: 'ens5', startupDelaySeconds: 3 })).toBe(
      '$SRC_IP=10.0.1.5\n$PRIORITY=253\n$INTERFACE=ens5\n$STARTUP_DELAY=3\n',
    );
  });

  test.each([
    [undefined, '0.01'],
    [0, '0.01'],
    [-5, '0.01'],
    [0.005, '0.01'],
    [0.01, '0.01'],
    [0.02, '0.02'],
  ])('a startup delay of %p seconds is written as %s (keepalived refuses 0)', (delay, text) => {
    expect(renderNodeConf({ sourceIp: '10.0.1.5', priority: 254, interfaceName: 'ens5', startupDelaySeconds: delay })).toBe(
      `$SRC_IP=10.0.1.5\n$PRIORITY=254\n$INTERFACE=ens5\n$STARTUP_DELAY=${text}\n`,
    );
  });
});

describe('shellQuote', () => {
  test.each([
    ['plain', `'plain'`],
    ['', `''`],
    ["it's", `'it'\\''s'`],
    ["a'b'c", `'a'\\''b'\\''c'`],
    ['$HOME `x` "y"', `'$HOME \`x\` "y"'`],
  ])('%p is %s', (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });
});

describe('the HAProxy supervisor, every line', () => {
  test('at the construct\'s values: the whole script (track file marks, readiness from the stats CSV of the app backend, restart after the delay)', () => {
    const rfha = { configDir: '/etc/rfha', runDir: '/run/rfha' };
    expect(renderSupervisorScript({ paths: rfha, configFiles: ['/etc/rfha/haproxy.cfg', '/etc/rfha/app-backend.cfg'], readinessPort: 8404, restartDelaySeconds: 2 })).toBe(SUPERVISOR);
  });

  test('every option changes exactly its lines: run directory, config files (quoted), readiness port and backend, binary, restart delay', () => {
    const o = { paths: edge, configFiles: ['/etc/edge/a b.cfg', "/etc/edge/it's.cfg"], readinessPort: 9000, readinessBackend: 'web', restartDelaySeconds: 5, haproxyBinary: '/usr/sbin/haproxy' };
    expect(renderSupervisorScript(o)).toBe(
      edited(SUPERVISOR, [
        ["\nup='/run/rfha/haproxy.up'\n", "\nup='/run/edge/haproxy.up'\n"],
        ["\npidfile='/run/rfha/haproxy.pid'\n", "\npidfile='/run/edge/haproxy.pid'\n"],
        ['case "$line" in app,BACKEND,*)', 'case "$line" in web,BACKEND,*)'],
        ['} 3<>/dev/tcp/127.0.0.1/8404 2>/dev/null', '} 3<>/dev/tcp/127.0.0.1/9000 2>/dev/null'],
        ["\nmkdir -p '/run/rfha'\n", "\nmkdir -p '/run/edge'\n"],
        ["[ -e '/run/rfha/server-state' ] || printf '1\\n' > '/run/rfha/server-state'", "[ -e '/run/edge/server-state' ] || printf '1\\n' > '/run/edge/server-state'"],
        ["\n  haproxy -W -db -f '/etc/rfha/haproxy.cfg' -f '/etc/rfha/app-backend.cfg' &\n", "\n  /usr/sbin/haproxy -W -db -f '/etc/edge/a b.cfg' -f '/etc/edge/it'\\''s.cfg' &\n"],
        ['restarting in 2s" >&2\n  sleep 2\n', 'restarting in 5s" >&2\n  sleep 5\n'],
      ]),
    );
  });

  test('by default it runs haproxy from the PATH and waits for the backend named app', () => {
    const s = renderSupervisorScript({ paths: edge, configFiles: ['/etc/edge/haproxy.cfg'], readinessPort: 8404, restartDelaySeconds: 2 });
    expect(s).toContain("\n  haproxy -W -db -f '/etc/edge/haproxy.cfg' &\n");
    expect(s).toContain('\n      case "$line" in app,BACKEND,*) case "$line" in *,UP,*) return 0 ;; esac; return 1 ;; esac\n');
  });
});

describe('the check script', () => {
  test('healthy while the HAProxy master in the pid file lives', () => {
    expect(renderCheckScript({ paths: edge })).toBe(`#!/bin/sh
# Rendered by resilient-fleet HaproxyFailoverPair: healthy while the HAProxy master in the pid file lives.
pid="$(cat '/run/edge/haproxy.pid' 2>/dev/null)" || exit 1
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
`);
  });
});

// The blocks the units share, for runDir /run/edge. The hardening itself is pinned, written out, where the construct
// ships it (staged-files.test.ts); here it is the module's text, at its place in each unit.
const RESTART_IN_RUN_DIR = `Restart=always
RestartSec=1
RuntimeDirectory=edge
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes`;
const INET_NO_REALTIME = `RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictRealtime=yes`;
const HARDENED_INSTALL = `${SYSTEMD_HARDENING}

[Install]
WantedBy=multi-user.target
`;

describe('renderSystemdUnits, every setting', () => {
  const u = {
    configDir: '/etc/edge',
    runDir: '/run/edge',
    agentDir: '/opt/edge/agent',
    haproxyFileLimit: 4242,
    nodeBinary: '/usr/local/bin/node',
    lowestPort: 443,
    markerAddress: '169.254.253.7/32 dev lo scope host',
    vpnVirtualIp: '172.31.255.10',
  };
  const units = renderSystemdUnits(u);

  test('four units with a VPN virtual address', () => {
    expect(Object.keys(units)).toEqual(['rfha-haproxy.service', 'rfha-keepalived.service', 'rfha-agent.service', 'rfha-vpn-address.service']);
  });

  test('HAProxy: the supervisor, reload through the agent, the file limit, after and wanting the VPN address unit, the capabilities it needs below port 1024', () => {
    expect(units['rfha-haproxy.service']).toBe(`[Unit]
Description=HAProxy under the resilient-fleet supervisor (writes keepalived's track file)
After=network-online.target rfha-vpn-address.service
Wants=network-online.target rfha-vpn-address.service

[Service]
# The kernel hands every client port to HAProxy's one listener (TPROXY); the rules are loaded on every start, so
# they hold after a reboot, and again on reload, before HAProxy reads the new client list.
ExecStartPre=/usr/sbin/nft -f /etc/edge/client-ports.nft
ExecStart=/bin/bash /etc/edge/haproxy-supervisor.sh
ExecReload=/usr/sbin/nft -f /etc/edge/client-ports.nft
# The servers' state is saved for the new worker, then the master is told to reload (SIGUSR2).
ExecReload=/usr/local/bin/node /opt/edge/agent/index.mjs reload
LimitNOFILE=4242
${RESTART_IN_RUN_DIR}
ReadWritePaths=/run/edge
CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_SYS_RESOURCE CAP_NET_BIND_SERVICE
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictRealtime=yes
${HARDENED_INSTALL}`);
  });

  test('keepalived: the track file exists before it starts, its pid files, the marker address dropped however it stops', () => {
    expect(units['rfha-keepalived.service']).toBe(`[Unit]
Description=keepalived (unicast VRRP) for the resilient-fleet HAProxy pair
After=rfha-haproxy.service network-online.target
Wants=network-online.target

[Service]
# keepalived must find the track file when it starts: a file created after it started was followed by rename only,
# and HAProxy's death (written in place) went unnoticed. A missing file is written as down.
ExecStartPre=/bin/sh -c '[ -e /run/edge/haproxy.up ] || echo 0 > /run/edge/haproxy.up'
ExecStart=/usr/sbin/keepalived -n -l -D -f /etc/edge/keepalived.conf -p /run/edge/keepalived.pid -r /run/edge/vrrp.pid -c /run/edge/checkers.pid
ExecReload=/bin/kill -HUP $MAINPID
# However keepalived ended (stopped, killed, crashed), it is no longer master: drop the marker address it held.
# The agent sees the same from keepalived's pid files and stops acting as master.
ExecStopPost=-/usr/sbin/ip addr del 169.254.253.7/32 dev lo
${RESTART_IN_RUN_DIR}
ReadWritePaths=/run/edge
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID CAP_KILL CAP_SYS_NICE
RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_PACKET
${HARDENED_INSTALL}`);
  });

  test('the agent: its environment file, on the given node binary, writing only the run and config directories, CAP_KILL only', () => {
    expect(units['rfha-agent.service']).toBe(`[Unit]
Description=resilient-fleet HAProxy pair agent (VRRP transitions in order, peer, app servers, address)
After=rfha-haproxy.service rfha-keepalived.service

[Service]
EnvironmentFile=/etc/edge/node.env
ExecStart=/usr/local/bin/node /opt/edge/agent/index.mjs run
${RESTART_IN_RUN_DIR}
ReadWritePaths=/run/edge /etc/edge
CapabilityBoundingSet=CAP_KILL
${INET_NO_REALTIME}
${HARDENED_INSTALL}`);
  });

  test('the VPN virtual address: on lo before HAProxy starts, removed when stopped', () => {
    expect(units['rfha-vpn-address.service']).toBe(`[Unit]
Description=The VPN virtual address of the resilient-fleet HAProxy pair, accepted on lo (both nodes; the route picks one)
Before=rfha-haproxy.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip addr replace 172.31.255.10/32 dev lo
ExecStop=-/usr/sbin/ip addr del 172.31.255.10/32 dev lo

[Install]
WantedBy=multi-user.target
`);
  });

  test('without a VPN virtual address: three units, and HAProxy waits only for the network', () => {
    const plain = renderSystemdUnits({ ...u, vpnVirtualIp: undefined });
    expect(Object.keys(plain)).toEqual(['rfha-haproxy.service', 'rfha-keepalived.service', 'rfha-agent.service']);
    expect(plain['rfha-haproxy.service']).toContain('\nAfter=network-online.target\nWants=network-online.target\n\n[Service]\n');
    expect(plain['rfha-keepalived.service']).toBe(units['rfha-keepalived.service']);
    expect(plain['rfha-agent.service']).toBe(units['rfha-agent.service']);
  });

  test.each([
    [1, true],
    [1023, true],
    [1024, false],
    [8404, false],
  ])('lowest port %i: CAP_NET_BIND_SERVICE kept %p', (lowestPort, kept) => {
    const line = renderSystemdUnits({ ...u, lowestPort })['rfha-haproxy.service'].split('\n').find((l) => l.startsWith('CapabilityBoundingSet='));
    expect(line).toBe(`CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_SYS_RESOURCE${kept ? ' CAP_NET_BIND_SERVICE' : ''}`);
  });

  test('the marker address to drop follows the one keepalived holds (address with prefix, and its device)', () => {
    const other = renderSystemdUnits({ ...u, markerAddress: '169.254.253.200/32 dev lo0 scope host' });
    expect(other['rfha-keepalived.service']).toContain('\nExecStopPost=-/usr/sbin/ip addr del 169.254.253.200/32 dev lo0\n');
  });

  test('RuntimeDirectory is the run directory relative to /run; one outside /run is left as given (systemd refuses it rather than using another directory)', () => {
    const nested = renderSystemdUnits({ ...u, runDir: '/run/rf/edge' });
    expect(nested['rfha-agent.service']).toContain('\nRuntimeDirectory=rf/edge\n');
    const outside = renderSystemdUnits({ ...u, runDir: '/var/run/edge' });
    expect(outside['rfha-agent.service']).toContain('\nRuntimeDirectory=/var/run/edge\n');
  });
});
