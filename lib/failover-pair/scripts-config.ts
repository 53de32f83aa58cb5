/**
 * Renders the small shell programs of a HaproxyFailoverPair node. Pure: plain values in, text out.
 * - the HAProxy supervisor: runs HAProxy (master-worker) in the foreground, writes keepalived's track file
 *   the instant HAProxy exits (bash `wait` is waitpid: no polling), restarts it after a delay;
 * - the notify script: records the VRRP state and, on MASTER, runs the address move;
 * - the check script, for the polled tracking most guides use (kept for comparison and as a fallback).
 */

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
  /** A port HAProxy binds on 127.0.0.1 (the stats port): bound means started. */
  readonly readinessPort: number;
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
# the instant HAProxy stops. Reload HAProxy with: kill -USR2 "$(cat ${run}/haproxy.pid)"
set -u
up=${shellQuote(`${run}/haproxy.up`)}
pidfile=${shellQuote(`${run}/haproxy.pid`)}
# Down is written in place with shell builtins only (no fork, about 2 to 5 ms sooner on a busy node): keepalived
# reads the file on close-after-write, and a reader that catches it truncated sees empty, which also means down.
# Up goes through a rename, so keepalived never reads a half-written "1".
mark() { if [ "$1" = 0 ]; then printf '0\\n' > "$up"; else printf '%s\\n' "$1" > "$up.tmp" && mv -f "$up.tmp" "$up"; fi; }
pid=0
stop() { mark 0; [ "$pid" -gt 0 ] && kill -USR1 "$pid" 2>/dev/null && wait "$pid"; exit 0; }
trap stop TERM INT
mkdir -p ${shellQuote(run)}
mark 0
while true; do
  ${o.haproxyBinary ?? 'haproxy'} -W -db ${files} &
  pid=$!
  printf '%s\\n' "$pid" > "$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile"
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    if (exec 3<>/dev/tcp/127.0.0.1/${o.readinessPort}) 2>/dev/null; then mark 1; break; fi
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

export interface NotifyOptions {
  readonly paths: ScriptPaths;
  /** Shell command run (in the background) when the node becomes MASTER: moves the clients' address here. */
  readonly moveCommand: string;
}

export function renderNotifyScript(o: NotifyOptions): string {
  const run = o.paths.runDir;
  return `#!/bin/sh
# Rendered by resilient-fleet HaproxyFailoverPair. keepalived calls: notify.sh INSTANCE <name> <state> <priority>
# Records the state (the move command re-reads it and stops if this node is no longer MASTER), and on MASTER
# moves the clients' address to this node. A node that becomes BACKUP or FAULT gives up the address by
# doing nothing: the new master's move takes it (EIP reassociation and route replacement are exclusive).
# The move starts right after the state is recorded, before the log line: every program this script runs
# (mkdir, mv, date) costs a fork and exec, a few milliseconds each on a busy node, all on the failover path.
state="$3"
[ -d ${shellQuote(run)} ] || mkdir -p ${shellQuote(run)}
printf '%s\\n' "$state" > ${shellQuote(`${run}/vrrp.state.tmp`)} && mv -f ${shellQuote(`${run}/vrrp.state.tmp`)} ${shellQuote(`${run}/vrrp.state`)}
if [ "$state" = MASTER ]; then
  ( ${o.moveCommand} ) >> ${shellQuote(`${run}/move.log`)} 2>&1 &
fi
echo "$(date -u +%FT%T.%NZ) $state" >> ${shellQuote(`${run}/vrrp.log`)}
exit 0
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
  /** Directory of the agent bundle (index.mjs). */
  readonly agentDir: string;
  /** File descriptors HAProxy may open (about 2 x maxconn + bound ports + slack). */
  readonly haproxyFileLimit: number;
}

/** The three services of a node: HAProxy under its supervisor, keepalived, the agent's sync loop. */
export function renderSystemdUnits(o: SystemdUnitsOptions): Record<string, string> {
  return {
    'rfha-haproxy.service': `[Unit]
Description=HAProxy under the resilient-fleet supervisor (writes keepalived's track file)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/bin/bash ${o.configDir}/haproxy-supervisor.sh
ExecReload=/bin/sh -c 'kill -USR2 "$(cat /run/rfha/haproxy.pid)"'
LimitNOFILE=${o.haproxyFileLimit}
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
`,
    'rfha-keepalived.service': `[Unit]
Description=keepalived (unicast VRRP) for the resilient-fleet HAProxy pair
After=rfha-haproxy.service network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/sbin/keepalived -n -l -D -f ${o.configDir}/keepalived.conf
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
`,
    'rfha-agent.service': `[Unit]
Description=resilient-fleet HAProxy pair agent (peer, app servers, address)
After=rfha-haproxy.service rfha-keepalived.service

[Service]
EnvironmentFile=${o.configDir}/node.env
ExecStart=/usr/bin/node ${o.agentDir}/index.mjs sync
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`,
  };
}
