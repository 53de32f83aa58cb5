/**
 * renderHaproxyConfig, every line: the complete files at the construct's defaults (the texts staged-files.test.ts
 * finds in the construct's asset), then each option as the exact lines it changes. Issue 15's hand mutants of
 * haproxy-config.ts (maxconn, hard-stop-after, option redispatch, timeout connect, the idle timeout default, balance
 * leastconn, fall 2 -> fall 20, inter) change a line of these texts; this file runs in the mutation run, which leaves
 * the synth tests out.
 */
import { HaproxyConfigOptions, allowFromKey, renderHaproxyConfig, serverStateFile } from '../../lib/failover-pair/haproxy-config';
import { APP_BACKEND_HEAD, CLIENT_PORTS_NFT, HAPROXY_CFG, edited } from './expected-files';

/** What the construct passes at its defaults (lib/failover-pair/haproxy-failover-pair.ts), for the clients of HAPROXY_CFG. */
const defaults: HaproxyConfigOptions = {
  clients: [
    { name: 'acme', port: 9001 },
    { name: 'globex', port: 9002, backendPort: 7002 },
    { name: 'initech', port: 9003, allowFrom: ['203.0.113.0/24'] },
  ],
  paths: { configDir: '/etc/rfha', runDir: '/run/rfha' },
  maxConnections: 50000,
  backendCheckPort: 80,
  backendSlots: 64,
  statsPort: 8404,
  listenerPort: 8405,
  hardStopAfterSeconds: 3600,
};

/** The five rules of allowFrom in the clients frontend (present while one client has allowFrom). */
const ALLOW_FROM_RULES = `  tcp-request connection set-var(sess.rf_lo) dst_port,mod(10000) if { dst_port,map_int(/etc/rfha/restricted-ports.map,0) -m int 1 }
  tcp-request connection set-var(sess.rf_hi) dst_port,div(10000) if { var(sess.rf_lo) -m found }
  tcp-request connection set-var(sess.rf_src) src if { var(sess.rf_lo) -m found }
  tcp-request connection set-var(sess.rf_key) str(::),concat(,sess.rf_hi,:),concat(,sess.rf_lo,:),concat(,sess.rf_src,) if { var(sess.rf_lo) -m found }
  tcp-request connection reject if { var(sess.rf_lo) -m found } !{ var(sess.rf_key),map_ip(/etc/rfha/allow-from.map,0) -m int 1 }
`;

describe('renderHaproxyConfig at the construct\'s defaults', () => {
  const files = renderHaproxyConfig(defaults);

  test('renders exactly the files of Auto Scaling group mode (no complete backend: the agent writes the servers)', () => {
    expect(Object.keys(files).sort()).toEqual(['allow-from.map', 'app-backend.head', 'backend-ports.map', 'client-ports.nft', 'clients.map', 'haproxy.cfg', 'restricted-ports.map']);
  });

  test('client-ports.nft, every line: the client ports as one set, handed to the listener port by TPROXY', () => {
    expect(files['client-ports.nft']).toBe(CLIENT_PORTS_NFT);
  });

  test('haproxy.cfg, every line (maxconn, hard-stop-after, option redispatch, retries, timeout connect 5s, idle timeouts of an hour)', () => {
    expect(files['haproxy.cfg']).toBe(HAPROXY_CFG);
  });

  test('the backend head, every line (balance leastconn, checks every 2000 ms, fall 2 rise 2)', () => {
    expect(files['app-backend.head']).toBe(APP_BACKEND_HEAD);
  });

  test('the maps: client names, backend ports, the restricted port and its networks', () => {
    expect(files['clients.map']).toBe('9001 acme\n9002 globex\n9003 initech\n');
    expect(files['backend-ports.map']).toBe('9001 9001\n9002 7002\n9003 9003\n');
    expect(files['restricted-ports.map']).toBe('9003 1\n');
    expect(files['allow-from.map']).toBe('::0:9003:203.0.113.0/120 1\n');
  });
});

describe('each option changes exactly its lines of haproxy.cfg', () => {
  test.each<[string, Partial<HaproxyConfigOptions>, Array<[string, string]>]>([
    ['maxConnections', { maxConnections: 2000 }, [['\n  maxconn 50000\n', '\n  maxconn 2000\n']]],
    ['hardStopAfterSeconds', { hardStopAfterSeconds: 30 }, [['\n  hard-stop-after 3600s\n', '\n  hard-stop-after 30s\n']]],
    [
      'idleTimeoutSeconds (client and server streams)',
      { idleTimeoutSeconds: 120 },
      [
        ['\n  timeout client 3600s\n', '\n  timeout client 120s\n'],
        ['\n  timeout server 3600s\n', '\n  timeout server 120s\n'],
      ],
    ],
    ['statsPort', { statsPort: 9999 }, [['\n  bind 127.0.0.1:8404\n', '\n  bind 127.0.0.1:9999\n']]],
    ['listenerPort', { listenerPort: 7777 }, [['\n  bind 127.0.0.1:8405 transparent\n', '\n  bind 127.0.0.1:7777 transparent\n']]],
    [
      'user (the group follows it)',
      { user: 'proxy' },
      [
        ['\n  user haproxy\n', '\n  user proxy\n'],
        ['\n  group haproxy\n', '\n  group proxy\n'],
      ],
    ],
    ['group alone', { group: 'nogroup' }, [['\n  group haproxy\n', '\n  group nogroup\n']]],
    [
      'user and group',
      { user: 'proxy', group: 'nogroup' },
      [
        ['\n  user haproxy\n', '\n  user proxy\n'],
        ['\n  group haproxy\n', '\n  group nogroup\n'],
      ],
    ],
    ['chrootDir', { chrootDir: '/srv/empty' }, [['\n  chroot /var/lib/haproxy\n', '\n  chroot /srv/empty\n']]],
    [
      'paths (the socket in runDir, every map in configDir)',
      { paths: { configDir: '/etc/edge', runDir: '/run/edge' } },
      [
        ['stats socket /run/rfha/haproxy.sock ', 'stats socket /run/edge/haproxy.sock '],
        ['map_int(/etc/rfha/restricted-ports.map,0)', 'map_int(/etc/edge/restricted-ports.map,0)'],
        ['map_ip(/etc/rfha/allow-from.map,0)', 'map_ip(/etc/edge/allow-from.map,0)'],
        ['map_int(/etc/rfha/clients.map)', 'map_int(/etc/edge/clients.map)'],
        ['map_int_int(/etc/rfha/backend-ports.map)', 'map_int_int(/etc/edge/backend-ports.map)'],
      ],
    ],
  ])('%s', (_option, option, edits) => {
    const files = renderHaproxyConfig({ ...defaults, ...option });
    expect(files['haproxy.cfg']).toBe(edited(HAPROXY_CFG, edits));
    expect(files['app-backend.head']).toBe(APP_BACKEND_HEAD);
  });

  test('options of the backend head change only the head', () => {
    const files = renderHaproxyConfig({ ...defaults, backendCheckPort: 8080, backendSlots: 16, checkIntervalMs: 500 });
    expect(files['haproxy.cfg']).toBe(HAPROXY_CFG);
    expect(files['app-backend.head']).toBe(
      edited(APP_BACKEND_HEAD, [
        ['\n  default-server check port 80 inter 2000ms fall 2 rise 2\n', '\n  default-server check port 8080 inter 500ms fall 2 rise 2\n'],
        ['\n  # slots: 64\n', '\n  # slots: 16\n'],
      ]),
    );
  });
});

describe('the clients frontend', () => {
  test('without allowFrom: no allowFrom rule and empty restriction maps, the rest unchanged', () => {
    const files = renderHaproxyConfig({ ...defaults, clients: defaults.clients.map(({ allowFrom: _, ...c }) => c) });
    expect(files['haproxy.cfg']).toBe(edited(HAPROXY_CFG, [[ALLOW_FROM_RULES, '']]));
    expect(files['restricted-ports.map']).toBe('');
    expect(files['allow-from.map']).toBe('');
    expect(files['clients.map']).toBe('9001 acme\n9002 globex\n9003 initech\n');
  });

  test('listenerPort reaches the TPROXY rule and nothing else of client-ports.nft', () => {
    expect(renderHaproxyConfig({ ...defaults, listenerPort: 7777 })['client-ports.nft']).toBe(
      edited(CLIENT_PORTS_NFT, [
        ['\n# 127.0.0.1:8405 (TPROXY', '\n# 127.0.0.1:7777 (TPROXY'],
        [' tproxy to 127.0.0.1:8405\n', ' tproxy to 127.0.0.1:7777\n'],
      ]),
    );
  });

  test('clients in any order are written by port: the port set, every map, the restricted ports and networks', () => {
    const files = renderHaproxyConfig({
      ...defaults,
      clients: [
        { name: 'umbrella', port: 9010, allowFrom: ['10.0.0.0/8'] },
        { name: 'initech', port: 9003, allowFrom: ['203.0.113.0/24'] },
        { name: 'acme', port: 9001 },
        { name: 'hooli', port: 9005, backendPort: 80 },
        { name: 'globex', port: 9002, backendPort: 7002 },
      ],
    });
    expect(files['haproxy.cfg']).toBe(HAPROXY_CFG);
    expect(files['client-ports.nft']).toBe(edited(CLIENT_PORTS_NFT, [['\n      9001-9003\n', '\n      9001-9003, 9005, 9010\n']]));
    expect(files['clients.map']).toBe('9001 acme\n9002 globex\n9003 initech\n9005 hooli\n9010 umbrella\n');
    expect(files['backend-ports.map']).toBe('9001 9001\n9002 7002\n9003 9003\n9005 80\n9010 9010\n');
    expect(files['restricted-ports.map']).toBe('9003 1\n9010 1\n');
    expect(files['allow-from.map']).toBe('::0:9003:203.0.113.0/120 1\n::0:9010:10.0.0.0/104 1\n');
  });

  /** `count` single ports two apart from 2000, so each is a range of its own. */
  const sparse = (count: number) => Array.from({ length: count }, (_, i) => ({ name: `c${i}`, port: 2000 + 2 * i }));
  /** The lines of the port set's elements in client-ports.nft. */
  const elementLines = (count: number) => {
    const nft = renderHaproxyConfig({ ...defaults, clients: sparse(count) })['client-ports.nft'];
    return nft.slice(nft.indexOf('    elements = {\n') + '    elements = {\n'.length, nft.indexOf('\n    }\n  }\n  chain ')).split('\n');
  };
  const ports = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${2000 + 2 * (from + i)}`).join(', ');

  test.each([
    [1, [`      ${ports(0, 1)}`]],
    [15, [`      ${ports(0, 15)}`]],
    [16, [`      ${ports(0, 16)}`]],
    [17, [`      ${ports(0, 16)},`, '      2032']],
    [32, [`      ${ports(0, 16)},`, `      ${ports(16, 32)}`]],
    [33, [`      ${ports(0, 16)},`, `      ${ports(16, 32)},`, '      2064']],
  ])('%i separate port ranges are written 16 to a line, in port order, a comma between lines', (count, lines) => {
    expect(elementLines(count)).toEqual(lines);
  });

  test('however many clients, haproxy.cfg has one client listener and no other bind than it and the stats page', () => {
    const cfg = renderHaproxyConfig({ ...defaults, clients: sparse(300) })['haproxy.cfg'];
    expect(cfg.split('\n').filter((l) => l.trimStart().startsWith('bind '))).toEqual(['  bind 127.0.0.1:8404', '  bind 127.0.0.1:8405 transparent']);
  });
});

describe('allowFromKey: the port split in decimal into the 5th and 6th groups, the network in the last 32 bits', () => {
  test.each([
    [9001, '203.0.113.0/24', '::0:9001:203.0.113.0/120'],
    [1024, '198.51.100.7/32', '::0:1024:198.51.100.7/128'],
    [9999, '10.0.0.0/8', '::0:9999:10.0.0.0/104'],
    [10000, '10.0.0.0/8', '::1:0:10.0.0.0/104'],
    [12345, '10.1.0.0/16', '::1:2345:10.1.0.0/112'],
    [65535, '0.0.0.0/0', '::6:5535:0.0.0.0/96'],
  ])('port %i, %s is %s', (port, cidr, key) => {
    expect(allowFromKey(port, cidr)).toBe(key);
  });

  test('a client port above 9999 reaches allow-from.map in that form', () => {
    const files = renderHaproxyConfig({ ...defaults, clients: [{ name: 'wide', port: 20443, allowFrom: ['192.0.2.0/25'] }] });
    expect(files['restricted-ports.map']).toBe('20443 1\n');
    expect(files['allow-from.map']).toBe('::2:443:192.0.2.0/121 1\n');
  });
});

describe('DNS mode (backendName)', () => {
  const RESOLVERS = `# DNS mode: the app servers come from DNS, resolved at run time (no reload when the name changes).
resolvers vpc
  parse-resolv-conf
  accepted_payload_size 8192
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 5s
  hold other 30s
  hold refused 30s
  hold nx 30s
  hold timeout 30s
  hold obsolete 10s

`;
  const DNS_CFG = edited(HAPROXY_CFG, [
    ['  log stdout format short local0 info\n\n', `  log stdout format short local0 info\n  server-state-file /run/rfha/server-state\n\n${RESOLVERS}`],
    ['  option dontlognull\n', '  option dontlognull\n  load-server-state-from-file global\n'],
  ]);
  const DNS_HEAD = edited(APP_BACKEND_HEAD, [
    [
      '# The agent writes the server lines below from the Auto Scaling group and changes them at run time.\n',
      '# DNS mode: HAProxy resolves app.example.com (resolvers vpc) and fills the slots itself, without a reload.\n',
    ],
  ]);
  const files = renderHaproxyConfig({ ...defaults, backendName: 'app.example.com' });

  test('haproxy.cfg: the servers\' state file a reload leaves, the resolvers section, loading the state; every other line as in group mode', () => {
    expect(files['haproxy.cfg']).toBe(DNS_CFG);
    expect(serverStateFile('/run/edge')).toBe('/run/edge/server-state');
  });

  test('the head names the resolved name; app-backend.cfg is the head and one server-template of backendSlots slots', () => {
    expect(files['app-backend.head']).toBe(DNS_HEAD);
    expect(files['app-backend.cfg']).toBe(`${DNS_HEAD}  server-template app 64 app.example.com resolvers vpc resolve-prefer ipv4 init-addr last,none check\n`);
  });

  test('the maps are those of group mode', () => {
    expect(files['clients.map']).toBe('9001 acme\n9002 globex\n9003 initech\n');
    expect(files['backend-ports.map']).toBe('9001 9001\n9002 7002\n9003 9003\n');
    expect(files['restricted-ports.map']).toBe('9003 1\n');
    expect(files['allow-from.map']).toBe('::0:9003:203.0.113.0/120 1\n');
  });

  test('dnsHoldObsoleteSeconds, runDir and backendSlots reach their lines', () => {
    const other = renderHaproxyConfig({ ...defaults, backendName: 'app.example.com', dnsHoldObsoleteSeconds: 3, backendSlots: 8, paths: { configDir: '/etc/rfha', runDir: '/run/edge' } });
    expect(other['haproxy.cfg']).toBe(
      edited(DNS_CFG, [
        ['  hold obsolete 10s\n', '  hold obsolete 3s\n'],
        ['  server-state-file /run/rfha/server-state\n', '  server-state-file /run/edge/server-state\n'],
        ['stats socket /run/rfha/haproxy.sock ', 'stats socket /run/edge/haproxy.sock '],
      ]),
    );
    expect(other['app-backend.cfg']).toBe(
      `${edited(DNS_HEAD, [['\n  # slots: 64\n', '\n  # slots: 8\n']])}  server-template app 8 app.example.com resolvers vpc resolve-prefer ipv4 init-addr last,none check\n`,
    );
  });
});
