/**
 * Renders HAProxy's configuration for HaproxyFailoverPair. Pure: plain values in, file contents out.
 *
 * Design (measured in bench/failover-pair.bench.ts): ONE frontend binds every client port (compressed into
 * port ranges) and routes by destination port through map files, into ONE backend whose servers have no
 * port, so each stream reaches the app instance on the port the client connected to (or on the client's
 * `backendPort`, through `set-dst-port`). One frontend and backend per client costs a parse, a listener
 * set and a server set per client on every reload; this layout reloads in roughly constant time.
 *
 * The app backend's servers are not known at synth time: the on-instance agent writes them after the
 * backend head rendered here (`appBackendHead`) into the second configuration file, and changes them at
 * run time through the runtime API (no reload).
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
  /** Port of the stats page, bound on 127.0.0.1 only. */
  readonly statsPort: number;
  /** How long an old worker may keep long-lived connections after a reload, in seconds. */
  readonly hardStopAfterSeconds: number;
  /** Idle timeout of a client or server stream, in seconds. @default 3600 */
  readonly idleTimeoutSeconds?: number;
  /** Health check interval, in milliseconds. @default 2000 */
  readonly checkIntervalMs?: number;
}

/** The files HAProxy reads, by file name (relative to `paths.configDir`). */
export interface HaproxyFiles {
  readonly 'haproxy.cfg': string;
  /** dst_port -> client name (for logs). */
  readonly 'clients.map': string;
  /** dst_port -> port on the app instance. */
  readonly 'backend-ports.map': string;
  /** The head of the app backend section; the agent appends the server lines. */
  readonly 'app-backend.head': string;
}

/** HAProxy's longest configuration line is 2048 characters; bind lines are split well below it. */
const RANGES_PER_BIND = 64;

/** Name of the app backend (the agent reads it from the head file). */
export const APP_BACKEND = 'app';

export function renderHaproxyConfig(o: HaproxyConfigOptions): HaproxyFiles {
  const clients = [...o.clients].sort((a, b) => a.port - b.port);
  const dir = o.paths.configDir;
  const run = o.paths.runDir;
  const idle = o.idleTimeoutSeconds ?? 3600;
  const ranges = portRanges(clients.map((c) => c.port));
  const binds: string[] = [];
  for (let i = 0; i < ranges.length; i += RANGES_PER_BIND) {
    const chunk = ranges.slice(i, i + RANGES_PER_BIND).map(([a, b]) => (a === b ? `:${a}` : `:${a}-${b}`));
    binds.push(`  bind ${chunk.join(',')}`);
  }
  const restricted = clients.filter((c) => c.allowFrom && c.allowFrom.length > 0);
  const acl = restricted.flatMap((c) => [
    `  acl from_${c.port} src ${c.allowFrom!.join(' ')}`,
    `  tcp-request connection reject if { dst_port ${c.port} } !from_${c.port}`,
  ]);

  const cfg = [
    '# Rendered by resilient-fleet HaproxyFailoverPair. Do not edit on the node: the stack owns it.',
    'global',
    '  master-worker',
    `  maxconn ${o.maxConnections}`,
    `  stats socket ${run}/haproxy.sock mode 600 level admin expose-fd listeners`,
    `  hard-stop-after ${o.hardStopAfterSeconds}s`,
    '  log stdout format short local0 info',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option dontlognull',
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
    '# Every client port, bound by one frontend; the destination port says which client it is.',
    'frontend clients',
    ...binds,
    '  log-format "%ci:%cp [%t] client=%[var(sess.client)] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc"',
    ...acl,
    `  tcp-request connection set-var(sess.client) dst_port,map_int(${dir}/clients.map,unknown)`,
    `  tcp-request connection set-dst-port dst_port,map_int_int(${dir}/backend-ports.map)`,
    `  default_backend ${APP_BACKEND}`,
    '',
  ].join('\n');

  const head = [
    '# The app instances: servers without a port receive each stream on its (mapped) destination port.',
    '# The agent writes the server lines below from the Auto Scaling group and changes them at run time.',
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
    'app-backend.head': head,
  };
}
