/**
 * Renders HAProxy's configuration for HaproxyFailoverPair. Pure: plain values in, file contents out.
 *
 * Design (measured in bench/failover-pair.bench.ts): ONE frontend with ONE listener receives every client port and
 * routes by destination port through map files, into ONE backend whose servers have no port, so each stream
 * reaches the app instance on the port the client connected to (or on the client's `backendPort`, through
 * `set-dst-port`). One frontend and backend per client costs a parse, a listener set and a server set per client
 * on every reload. One socket per client port still costs a reload about 35 us per port (passing the sockets to
 * the new worker and HAProxy's search of them): at 5000 sparse ports, 245 ms of a reload. So the client ports are
 * not bound at all: the kernel hands each new connection to a client port to HAProxy's one listener on the
 * loopback address (nftables TPROXY, client-ports.nft), keeping its destination address and port, which HAProxy's
 * `dst_port` reads as before. TPROXY needs no connection tracking (no NAT table to fill under a SYN flood) and
 * leaves the packets' addresses alone; only connections to a local address are taken, never forwarded ones.
 *
 * The app backend's servers are not known at synth time. Two ways to find them:
 * - Auto Scaling group mode: the on-instance agent writes them after the backend head rendered here into the
 *   second configuration file (app-backend.cfg), and changes them at run time through the runtime API (no reload).
 * - DNS mode (`backendName`): HAProxy resolves the name itself (a `resolvers` section reading the node's
 *   /etc/resolv.conf, and `server-template` slots), so instances that enter or leave the name, or a CNAME that moves
 *   to another target (a blue/green swap), are followed without a reload and without the agent. app-backend.cfg is
 *   rendered complete here.
 */
import { HaproxyClient, portRanges } from './clients';

/** Where the files live on a node. */
export interface HaproxyPaths {
  /** Directory of haproxy.cfg and its map files. */
  readonly configDir: string;
  /** Directory of sockets and pid files. */
  readonly runDir: string;
}

export interface HaproxyConfigOptions {
  readonly clients: readonly HaproxyClient[];
  readonly paths: HaproxyPaths;
  /** Largest number of concurrent client connections (global maxconn). */
  readonly maxConnections: number;
  /** Port on the app instances that HAProxy health-checks. */
  readonly backendCheckPort: number;
  /** Server slots in the app backend (the agent fills them at run time). */
  readonly backendSlots: number;
  /** The user HAProxy's workers run as. @default 'haproxy' */
  readonly user?: string;
  /** The workers' group. @default - the same as `user` */
  readonly group?: string;
  /** The empty directory the workers are chrooted into. @default '/var/lib/haproxy' */
  readonly chrootDir?: string;
  /** Port of the stats page, bound on 127.0.0.1 only. */
  readonly statsPort: number;
  /**
   * Port of HAProxy's one client listener, bound on 127.0.0.1 (transparent): client-ports.nft hands it every
   * connection to a client port. Not reachable from the network by itself. Must differ from `statsPort`.
   */
  readonly listenerPort: number;
  /** How long an old worker may keep long-lived connections after a reload, in seconds. */
  readonly hardStopAfterSeconds: number;
  /** Idle timeout of a client or server stream, in seconds. @default 3600 */
  readonly idleTimeoutSeconds?: number;
  /** Health check interval, in milliseconds. @default 2000 */
  readonly checkIntervalMs?: number;
  /**
   * DNS mode: the name HAProxy resolves at run time for the app servers (A records, possibly behind CNAMEs), in
   * `backendSlots` server-template slots. @default - Auto Scaling group mode: the agent writes the servers
   */
  readonly backendName?: string;
  /**
   * DNS mode: how long HAProxy keeps an address that has left the name (resolvers `hold obsolete`), in seconds.
   * Covers one lost or truncated answer; keep it well below the registrar's drain time. @default 10
   */
  readonly dnsHoldObsoleteSeconds?: number;
}

/** The files HAProxy reads, by file name (relative to `paths.configDir`). */
export interface HaproxyFiles {
  readonly 'haproxy.cfg': string;
  /** dst_port -> client name (for logs). */
  readonly 'clients.map': string;
  /** dst_port -> port on the app instance. */
  readonly 'backend-ports.map': string;
  /** dst_port -> 1 for every client with allowFrom. */
  readonly 'restricted-ports.map': string;
  /** allowFromKey networks of every restricted client -> 1 (longest-prefix match on the port and source). */
  readonly 'allow-from.map': string;
  /** The head of the app backend section; the agent appends the server lines (Auto Scaling group mode). */
  readonly 'app-backend.head': string;
  /** DNS mode only: the complete app backend (servers from `server-template`); the agent leaves it alone. */
  readonly 'app-backend.cfg'?: string;
  /** nftables rules (`nft -f`, one transaction) handing every client port to HAProxy's listener. */
  readonly 'client-ports.nft': string;
}

/** Port ranges per line of the nftables set (lines stay short and readable; nft has no line limit). */
const RANGES_PER_LINE = 16;

/** The nftables table client-ports.nft owns (replaced whole on every load). */
export const NFT_TABLE = 'rfha_clients';

/** Name of the app backend (the agent reads it from the head file). */
export const APP_BACKEND = 'app';

/** Name of the resolvers section in DNS mode. */
export const RESOLVERS = 'vpc';

export function renderHaproxyConfig(o: HaproxyConfigOptions): HaproxyFiles {
  const clients = [...o.clients].sort((a, b) => a.port - b.port);
  const dir = o.paths.configDir;
  const run = o.paths.runDir;
  const idle = o.idleTimeoutSeconds ?? 3600;
  const ranges = portRanges(clients.map((c) => c.port)).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  const elements: string[] = [];
  for (let i = 0; i < ranges.length; i += RANGES_PER_LINE) elements.push(ranges.slice(i, i + RANGES_PER_LINE).join(', '));
  const restricted = clients.filter((c) => c.allowFrom && c.allowFrom.length > 0);
  // allowFrom in constant time per connection, whatever the number of clients: one exact lookup says whether the
  // destination port is restricted; for those, one longest-prefix lookup of (port, source) in allow-from.map
  // (see allowFromKey). No ACL per client: at 5000 restricted clients that was 5000 rules per connection.
  const acl =
    restricted.length === 0
      ? []
      : [
          `  tcp-request connection set-var(sess.rf_lo) dst_port,mod(10000) if { dst_port,map_int(${dir}/restricted-ports.map,0) -m int 1 }`,
          '  tcp-request connection set-var(sess.rf_hi) dst_port,div(10000) if { var(sess.rf_lo) -m found }',
          '  tcp-request connection set-var(sess.rf_src) src if { var(sess.rf_lo) -m found }',
          '  tcp-request connection set-var(sess.rf_key) str(::),concat(,sess.rf_hi,:),concat(,sess.rf_lo,:),concat(,sess.rf_src,) if { var(sess.rf_lo) -m found }',
          `  tcp-request connection reject if { var(sess.rf_lo) -m found } !{ var(sess.rf_key),map_ip(${dir}/allow-from.map,0) -m int 1 }`,
        ];

  const cfg = [
    '# Rendered by resilient-fleet HaproxyFailoverPair. Do not edit on the node: the stack owns it.',
    'global',
    '  master-worker',
    `  maxconn ${o.maxConnections}`,
    `  stats socket ${run}/haproxy.sock mode 600 level admin expose-fd listeners`,
    // The master stays root (it re-reads these files and rebinds on reload); the workers, which carry the
    // internet's traffic, drop to HAProxy's own user inside an empty chroot.
    `  user ${o.user ?? 'haproxy'}`,
    `  group ${o.group ?? o.user ?? 'haproxy'}`,
    `  chroot ${o.chrootDir ?? '/var/lib/haproxy'}`,
    `  hard-stop-after ${o.hardStopAfterSeconds}s`,
    '  log stdout format short local0 info',
    // DNS mode: a reload starts a new worker whose slots would be empty until its first answer (connections in
    // between were closed). The agent's `reload` dumps the slots here first; the new worker starts from them.
    ...(o.backendName ? [`  server-state-file ${serverStateFile(run)}`] : []),
    '',
    ...(o.backendName ? renderResolvers(o.dnsHoldObsoleteSeconds ?? 10) : []),
    'defaults',
    '  mode tcp',
    '  log global',
    '  option dontlognull',
    ...(o.backendName ? ['  load-server-state-from-file global'] : []),
    '  option redispatch',
    '  retries 3',
    '  timeout connect 5s',
    `  timeout client ${idle}s`,
    `  timeout server ${idle}s`,
    '',
    'frontend stats',
    '  mode http',
    `  bind 127.0.0.1:${o.statsPort}`,
    '  stats enable',
    '  stats uri /',
    '  stats refresh 10s',
    '',
    '# Every client port, received by one listener (client-ports.nft hands it each connection, destination kept);',
    '# the destination port says which client it is. A port that is no client\'s (a connection made to the listener',
    '# itself, or in the moment of a reload that removed a client) is refused.',
    'frontend clients',
    `  bind 127.0.0.1:${o.listenerPort} transparent`,
    '  log-format "%ci:%cp [%t] client=%[var(sess.client)] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc"',
    `  tcp-request connection set-var(sess.client) dst_port,map_int(${dir}/clients.map)`,
    '  tcp-request connection reject unless { var(sess.client) -m found }',
    ...acl,
    `  tcp-request connection set-dst-port dst_port,map_int_int(${dir}/backend-ports.map)`,
    `  default_backend ${APP_BACKEND}`,
    '',
  ].join('\n');

  const head = [
    '# The app instances: servers without a port receive each stream on its (mapped) destination port.',
    o.backendName
      ? `# DNS mode: HAProxy resolves ${o.backendName} (resolvers ${RESOLVERS}) and fills the slots itself, without a reload.`
      : '# The agent writes the server lines below from the Auto Scaling group and changes them at run time.',
    `backend ${APP_BACKEND}`,
    '  balance leastconn',
    `  default-server check port ${o.backendCheckPort} inter ${o.checkIntervalMs ?? 2000}ms fall 2 rise 2`,
    `  # slots: ${o.backendSlots}`,
    '',
  ].join('\n');

  return {
    'haproxy.cfg': cfg,
    'clients.map': clients.map((c) => `${c.port} ${c.name}`).join('\n') + '\n',
    'backend-ports.map': clients.map((c) => `${c.port} ${c.backendPort ?? c.port}`).join('\n') + '\n',
    'restricted-ports.map': restricted.map((c) => `${c.port} 1\n`).join(''),
    'allow-from.map': restricted.flatMap((c) => c.allowFrom!.map((cidr) => `${allowFromKey(c.port, cidr)} 1\n`)).join(''),
    'app-backend.head': head,
    'client-ports.nft': [
      '# Rendered by resilient-fleet HaproxyFailoverPair. Loaded with `nft -f` by rfha-haproxy.service (start and reload),',
      '# as one transaction: the table is replaced whole, and no connection meets a half-loaded set.',
      `# Every TCP connection to a client port on an address of this instance is handed to HAProxy's listener on`,
      `# 127.0.0.1:${o.listenerPort} (TPROXY: its destination address and port are kept, no connection tracking). Traffic`,
      '# the instance forwards (to another destination) is left alone.',
      `table ip ${NFT_TABLE}`,
      `delete table ip ${NFT_TABLE}`,
      `table ip ${NFT_TABLE} {`,
      '  set client_ports {',
      '    type inet_service',
      '    flags interval',
      '    elements = {',
      ...elements.map((e, i) => `      ${e}${i < elements.length - 1 ? ',' : ''}`),
      '    }',
      '  }',
      '  chain prerouting {',
      '    type filter hook prerouting priority mangle; policy accept;',
      `    meta l4proto tcp fib daddr type local tcp dport @client_ports tproxy to 127.0.0.1:${o.listenerPort}`,
      '  }',
      '}',
      '',
    ].join('\n'),
    ...(o.backendName
      ? {
          'app-backend.cfg':
            head +
            // No port: each stream keeps its (mapped) destination port. init-addr last,none: a reloaded worker starts
            // from the slots the old one had (server-state-file); a first start begins empty and fills them from the
            // first answer, so HAProxy starts even when the name does not resolve yet.
            `  server-template ${APP_BACKEND} ${o.backendSlots} ${o.backendName} resolvers ${RESOLVERS} resolve-prefer ipv4 init-addr last,none check\n`,
        }
      : {}),
  };
}

/** Where the agent's `reload` dumps the servers' state for the next worker (DNS mode). */
export function serverStateFile(runDir: string): string {
  return `${runDir}/server-state`;
}

/**
 * The allow-from.map entry of one (client port, source network): an IPv6 network whose last 32 bits are the
 * IPv4 source and whose 5th and 6th groups are the port split in decimal (port / 10000, port % 10000, each
 * written in decimal digits, which are valid and unambiguous hex digits below 10000). HAProxy builds the same
 * key per connection from dst_port and src with a few converters, and map_ip finds the longest matching prefix
 * in a tree: constant work per connection whatever the client count. "203.0.113.0/24" for port 9001 is
 * "::0:9001:203.0.113.0/120".
 */
export function allowFromKey(port: number, cidr: string): string {
  const [address, bits] = cidr.split('/');
  return `::${Math.floor(port / 10000)}:${port % 10000}:${address}/${96 + Number(bits)}`;
}

/**
 * The resolvers section of DNS mode: the node's own resolvers (in a VPC, the Route 53 Resolver, which answers for
 * private hosted zones), queried every `timeout resolve` (1 s). The resolver caches an answer for at most the
 * record's TTL, so a change of the name reaches HAProxy within about TTL + 1 s (measured in the lab with TTL 1 s:
 * about 1 s, test/system/failover-pair-dns.test.ts).
 */
function renderResolvers(holdObsoleteSeconds: number): string[] {
  return [
    '# DNS mode: the app servers come from DNS, resolved at run time (no reload when the name changes).',
    `resolvers ${RESOLVERS}`,
    '  parse-resolv-conf',
    // Room for a large round-robin set (Route 53 answers over EDNS0 up to this size; TCP is not used).
    '  accepted_payload_size 8192',
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    // A failed answer (error, refused, NXDOMAIN, timeout) empties no slot while a valid one came within 30 s.
    '  hold valid 5s',
    '  hold other 30s',
    '  hold refused 30s',
    '  hold nx 30s',
    '  hold timeout 30s',
    // An address that left the answer gets new streams for at most this long (rides out one lost or partial answer);
    // its open streams are never cut by leaving the name.
    `  hold obsolete ${holdObsoleteSeconds}s`,
    '',
  ];
}
