/**
 * Renders the small shell programs of a HaproxyFailoverPair node. Pure: plain values in, text out.
 * - the HAProxy supervisor: runs HAProxy (master-worker) in the foreground, writes keepalived's track file
 *   the instant HAProxy exits (bash `wait` is waitpid: no polling), restarts it after a delay;
 * - (no notify script: keepalived writes every transition to its notify FIFO, read by the agent in order);
 * - the check script, for the polled tracking most guides use (kept for comparison and as a fallback).
 */

import { SYSTEMD_HARDENING } from '../private/systemd-hardening';

export interface ScriptPaths {
  readonly configDir: string;
  readonly runDir: string;
}

/** Quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface SupervisorOptions {
  readonly paths: ScriptPaths;
  /** HAProxy configuration files, in order. */
  readonly configFiles: readonly string[];
  /**
   * HAProxy's stats port on 127.0.0.1: HAProxy is ready once its stats (CSV) show the app backend UP, that is bound
   * AND with a server that passed its checks. Bound alone is not serving: in DNS mode a fresh HAProxy has empty slots
   * until its first answer and its checks (about 5 s), and a node marked up then took the address and refused clients.
   */
  readonly readinessPort: number;
  /** The backend that must be UP. @default 'app' */
  readonly readinessBackend?: string;
  /** Seconds to wait before restarting HAProxy after it exited. */
  readonly restartDelaySeconds: number;
  /** The haproxy program. @default 'haproxy' */
  readonly haproxyBinary?: string;
}

export function renderSupervisorScript(o: SupervisorOptions): string {
  const run = o.paths.runDir;
  const files = o.configFiles.map((f) => `-f ${shellQuote(f)}`).join(' ');
  return `#!/bin/bash
# Rendered by resilient-fleet HaproxyFailoverPair: runs HAProxy and tells keepalived, through its track file,
# the instant HAProxy stops. Reload HAProxy with: systemctl reload rfha-haproxy (saves the servers' state, then SIGUSR2)
set -u
up=${shellQuote(`${run}/haproxy.up`)}
pidfile=${shellQuote(`${run}/haproxy.pid`)}
# Down is written in place with shell builtins only (no fork, about 2 to 5 ms sooner on a busy node): keepalived
# reads the file on close-after-write, and a reader that catches it truncated sees empty, which also means down.
# Up goes through a rename, so keepalived never reads a half-written "1".
mark() { if [ "$1" = 0 ]; then printf '0\\n' > "$up"; else printf '%s\\n' "$1" > "$up.tmp" && mv -f "$up.tmp" "$up"; fi; }
# Serving: the stats CSV shows the app backend UP (bound, and a server passed its checks). Builtins only.
serving() {
  { printf 'GET /;csv HTTP/1.0\\r\\n\\r\\n' >&3
    while IFS= read -r line <&3; do
      case "$line" in ${o.readinessBackend ?? 'app'},BACKEND,*) case "$line" in *,UP,*) return 0 ;; esac; return 1 ;; esac
    done
    return 1
  } 3<>/dev/tcp/127.0.0.1/${o.readinessPort} 2>/dev/null
}
pid=0
stop() { mark 0; [ "$pid" -gt 0 ] && kill -USR1 "$pid" 2>/dev/null && wait "$pid"; exit 0; }
trap stop TERM INT
mkdir -p ${shellQuote(run)}
mark 0
# The servers' state a reload hands to the new worker (DNS mode loads it): "1" is an empty state of version 1, so a
# first start finds a valid file instead of warning that there is none.
[ -e ${shellQuote(`${run}/server-state`)} ] || printf '1\\n' > ${shellQuote(`${run}/server-state`)}
while true; do
  ${o.haproxyBinary ?? 'haproxy'} -W -db ${files} &
  pid=$!
  printf '%s\\n' "$pid" > "$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile"
  # Up once HAProxy serves, however long that takes: no give-up (a slow start that outlasted a bounded wait left
  # HAProxy serving while the track file said down). Only HAProxy exiting ends the wait.
  while kill -0 "$pid" 2>/dev/null; do
    if serving; then mark 1; break; fi
    sleep 0.05
  done
  wait "$pid"
  rc=$?
  mark 0
  echo "haproxy-supervisor: haproxy $pid exited ($rc); restarting in ${o.restartDelaySeconds}s" >&2
  sleep ${o.restartDelaySeconds}
done
`;
}

export function renderCheckScript(o: { readonly paths: ScriptPaths }): string {
  return `#!/bin/sh
# Rendered by resilient-fleet HaproxyFailoverPair: healthy while the HAProxy master in the pid file lives.
pid="$(cat ${shellQuote(`${o.paths.runDir}/haproxy.pid`)} 2>/dev/null)" || exit 1
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
`;
}

export interface SystemdUnitsOptions {
  readonly configDir: string;
  /** keepalived's, the agent's and the supervisor's run-time directory (a systemd RuntimeDirectory under /run). */
  readonly runDir: string;
  /** Directory of the agent bundle (index.mjs). */
  readonly agentDir: string;
  /** File descriptors HAProxy may open (about 2 x maxconn + bound ports + slack). */
  readonly haproxyFileLimit: number;
  /** The node executable the agent runs on (NODE_BIN: never plain `node`). */
  readonly nodeBinary: string;
  /**
   * The lowest port HAProxy binds (its stats and client listener ports; client ports are not bound, the kernel hands
   * them to the listener): below 1024 the unit keeps CAP_NET_BIND_SERVICE.
   */
  readonly lowestPort: number;
  /** The address keepalived holds on lo while master (removed when keepalived stops, however it stopped). */
  readonly markerAddress: string;
  /** The VPN virtual address, put on lo on every start by its own unit. @default - no VPN virtual address */
  readonly vpnVirtualIp?: string;
}


/** The /run directory every unit shares: created by systemd on each start, kept across restarts of any one unit. */
function runtimeDirectory(runDir: string): string {
  return `RuntimeDirectory=${runDir.replace(/^\/run\//, '')}
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes`;
}

/**
 * The services of a node: HAProxy under its supervisor, keepalived, the agent (and, with a VPN virtual address,
 * the unit that puts it on lo). What still runs as root, and why:
 * - the supervisor and HAProxy's master: the master binds the client listener, raises its file limit and re-reads
 *   its files on reload; its workers, which carry all client traffic, run as `haproxy` in a chroot (haproxy.cfg).
 *   Capabilities: CAP_SETUID/SETGID and CAP_SYS_CHROOT for that drop, CAP_SYS_RESOURCE for LimitNOFILE,
 *   CAP_NET_ADMIN for loading client-ports.nft (start and reload) and for the listener's IP_TRANSPARENT, which TPROXY
 *   requires, CAP_NET_BIND_SERVICE only when a port below 1024 is bound;
 * - keepalived: VRRP needs raw sockets (CAP_NET_RAW) and the marker address needs CAP_NET_ADMIN; its VRRP process
 *   runs at a real-time priority (vrrp_rt_priority, CAP_SYS_NICE) so that a saturated CPU does not delay adverts;
 * - the agent: it reads keepalived's FIFO (root, 0600) and HAProxy's admin socket and signals keepalived to
 *   reload (CAP_KILL); it holds no other capability and writes only /etc/rfha and the run directory.
 */
export function renderSystemdUnits(o: SystemdUnitsOptions): Record<string, string> {
  const run = o.runDir;
  // "169.254.253.51/32 dev lo scope host": the address with its prefix, and the device.
  const [markerIp, , markerDev] = o.markerAddress.split(' ');
  const bind = o.lowestPort < 1024 ? ' CAP_NET_BIND_SERVICE' : '';
  const units: Record<string, string> = {
    'rfha-haproxy.service': `[Unit]
Description=HAProxy under the resilient-fleet supervisor (writes keepalived's track file)
After=network-online.target${o.vpnVirtualIp ? ' rfha-vpn-address.service' : ''}
Wants=network-online.target${o.vpnVirtualIp ? ' rfha-vpn-address.service' : ''}

[Service]
# The kernel hands every client port to HAProxy's one listener (TPROXY); the rules are loaded on every start, so
# they hold after a reboot, and again on reload, before HAProxy reads the new client list.
ExecStartPre=/usr/sbin/nft -f ${o.configDir}/client-ports.nft
ExecStart=/bin/bash ${o.configDir}/haproxy-supervisor.sh
ExecReload=/usr/sbin/nft -f ${o.configDir}/client-ports.nft
# The servers' state is saved for the new worker, then the master is told to reload (SIGUSR2).
ExecReload=${o.nodeBinary} ${o.agentDir}/index.mjs reload
LimitNOFILE=${o.haproxyFileLimit}
Restart=always
RestartSec=1
${runtimeDirectory(run)}
ReadWritePaths=${run}
CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_SYS_RESOURCE${bind}
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictRealtime=yes
${SYSTEMD_HARDENING}

[Install]
WantedBy=multi-user.target
`,
    'rfha-keepalived.service': `[Unit]
Description=keepalived (unicast VRRP) for the resilient-fleet HAProxy pair
After=rfha-haproxy.service network-online.target
Wants=network-online.target

[Service]
# keepalived must find the track file when it starts: a file created after it started was followed by rename only,
# and HAProxy's death (written in place) went unnoticed. A missing file is written as down.
ExecStartPre=/bin/sh -c '[ -e ${run}/haproxy.up ] || echo 0 > ${run}/haproxy.up'
ExecStart=/usr/sbin/keepalived -n -l -D -f ${o.configDir}/keepalived.conf -p ${run}/keepalived.pid -r ${run}/vrrp.pid -c ${run}/checkers.pid
ExecReload=/bin/kill -HUP $MAINPID
# However keepalived ended (stopped, killed, crashed), it is no longer master: drop the marker address it held.
# The agent sees the same from keepalived's pid files and stops acting as master.
ExecStopPost=-/usr/sbin/ip addr del ${markerIp} dev ${markerDev}
Restart=always
RestartSec=1
${runtimeDirectory(run)}
ReadWritePaths=${run}
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID CAP_KILL CAP_SYS_NICE
RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_PACKET
${SYSTEMD_HARDENING}

[Install]
WantedBy=multi-user.target
`,
    'rfha-agent.service': `[Unit]
Description=resilient-fleet HAProxy pair agent (VRRP transitions in order, peer, app servers, address)
After=rfha-haproxy.service rfha-keepalived.service

[Service]
EnvironmentFile=${o.configDir}/node.env
ExecStart=${o.nodeBinary} ${o.agentDir}/index.mjs run
Restart=always
RestartSec=1
${runtimeDirectory(run)}
ReadWritePaths=${run} ${o.configDir}
CapabilityBoundingSet=CAP_KILL
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictRealtime=yes
${SYSTEMD_HARDENING}

[Install]
WantedBy=multi-user.target
`,
  };
  if (o.vpnVirtualIp) {
    units['rfha-vpn-address.service'] = `[Unit]
Description=The VPN virtual address of the resilient-fleet HAProxy pair, accepted on lo (both nodes; the route picks one)
Before=rfha-haproxy.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip addr replace ${o.vpnVirtualIp}/32 dev lo
ExecStop=-/usr/sbin/ip addr del ${o.vpnVirtualIp}/32 dev lo

[Install]
WantedBy=multi-user.target
`;
  }
  return units;
}
