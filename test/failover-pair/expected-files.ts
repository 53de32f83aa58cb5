/**
 * Files HaproxyFailoverPair renders, written out once for the tests that read them: staged-files.test.ts compares
 * them with what the construct stages for its asset (a synth test, left out of the mutation run), and the renderer
 * tests with what the renderers return for the same values (haproxy-config.test.ts, renderers.test.ts; these run in
 * the mutation run). Each option's effect is then written out as edits of these texts (`edited`), so a test names
 * the lines an option changes and every other line is still compared.
 */

/**
 * haproxy.cfg at the construct's defaults (Auto Scaling group mode) for the clients acme 9001, globex 9002 (backendPort
 * 7002) and initech 9003 (allowFrom 203.0.113.0/24): configDir /etc/rfha, runDir /run/rfha, maxconn 50000, stats port
 * 8404, client listener 8405, hard-stop-after 3600 s.
 */
export const HAPROXY_CFG = `# Rendered by resilient-fleet HaproxyFailoverPair. Do not edit on the node: the stack owns it.
global
  master-worker
  maxconn 50000
  stats socket /run/rfha/haproxy.sock mode 600 level admin expose-fd listeners
  user haproxy
  group haproxy
  chroot /var/lib/haproxy
  hard-stop-after 3600s
  log stdout format short local0 info

defaults
  mode tcp
  log global
  option dontlognull
  option redispatch
  retries 3
  timeout connect 5s
  timeout client 3600s
  timeout server 3600s

frontend stats
  mode http
  bind 127.0.0.1:8404
  stats enable
  stats uri /
  stats refresh 10s

# Every client port, received by one listener (client-ports.nft hands it each connection, destination kept);
# the destination port says which client it is. A port that is no client's (a connection made to the listener
# itself, or in the moment of a reload that removed a client) is refused.
frontend clients
  bind 127.0.0.1:8405 transparent
  log-format "%ci:%cp [%t] client=%[var(sess.client)] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc"
  tcp-request connection set-var(sess.client) dst_port,map_int(/etc/rfha/clients.map)
  tcp-request connection reject unless { var(sess.client) -m found }
  tcp-request connection set-var(sess.rf_lo) dst_port,mod(10000) if { dst_port,map_int(/etc/rfha/restricted-ports.map,0) -m int 1 }
  tcp-request connection set-var(sess.rf_hi) dst_port,div(10000) if { var(sess.rf_lo) -m found }
  tcp-request connection set-var(sess.rf_src) src if { var(sess.rf_lo) -m found }
  tcp-request connection set-var(sess.rf_key) str(::),concat(,sess.rf_hi,:),concat(,sess.rf_lo,:),concat(,sess.rf_src,) if { var(sess.rf_lo) -m found }
  tcp-request connection reject if { var(sess.rf_lo) -m found } !{ var(sess.rf_key),map_ip(/etc/rfha/allow-from.map,0) -m int 1 }
  tcp-request connection set-dst-port dst_port,map_int_int(/etc/rfha/backend-ports.map)
  default_backend app
`;

/** client-ports.nft for the same clients (9001 to 9003, one range) and the listener on 127.0.0.1:8405. */
export const CLIENT_PORTS_NFT = `# Rendered by resilient-fleet HaproxyFailoverPair. Loaded with \`nft -f\` by rfha-haproxy.service (start and reload),
# as one transaction: the table is replaced whole, and no connection meets a half-loaded set.
# Every TCP connection to a client port on an address of this instance is handed to HAProxy's listener on
# 127.0.0.1:8405 (TPROXY: its destination address and port are kept, no connection tracking). Traffic
# the instance forwards (to another destination) is left alone.
table ip rfha_clients
delete table ip rfha_clients
table ip rfha_clients {
  set client_ports {
    type inet_service
    flags interval
    elements = {
      9001-9003
    }
  }
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    meta l4proto tcp fib daddr type local tcp dport @client_ports tproxy to 127.0.0.1:8405
  }
}
`;

/** The head of the app backend at the construct's defaults: check port 80, 64 slots, checks every 2 s, fall 2 rise 2. */
export const APP_BACKEND_HEAD = `# The app instances: servers without a port receive each stream on its (mapped) destination port.
# The agent writes the server lines below from the Auto Scaling group and changes them at run time.
backend app
  balance leastconn
  default-server check port 80 inter 2000ms fall 2 rise 2
  # slots: 64
`;

/**
 * The HAProxy supervisor at the construct's defaults: runDir /run/rfha, haproxy.cfg then app-backend.cfg from
 * /etc/rfha, readiness from the stats port 8404 and the backend app, haproxy from the PATH, restarted after 2 s.
 */
export const SUPERVISOR = `#!/bin/bash
# Rendered by resilient-fleet HaproxyFailoverPair: runs HAProxy and tells keepalived, through its track file,
# the instant HAProxy stops. Reload HAProxy with: systemctl reload rfha-haproxy (saves the servers' state, then SIGUSR2)
set -u
up='/run/rfha/haproxy.up'
pidfile='/run/rfha/haproxy.pid'
# Down is written in place with shell builtins only (no fork, about 2 to 5 ms sooner on a busy node): keepalived
# reads the file on close-after-write, and a reader that catches it truncated sees empty, which also means down.
# Up goes through a rename, so keepalived never reads a half-written "1".
mark() { if [ "$1" = 0 ]; then printf '0\\n' > "$up"; else printf '%s\\n' "$1" > "$up.tmp" && mv -f "$up.tmp" "$up"; fi; }
# Serving: the stats CSV shows the app backend UP (bound, and a server passed its checks). Builtins only.
serving() {
  { printf 'GET /;csv HTTP/1.0\\r\\n\\r\\n' >&3
    while IFS= read -r line <&3; do
      case "$line" in app,BACKEND,*) case "$line" in *,UP,*) return 0 ;; esac; return 1 ;; esac
    done
    return 1
  } 3<>/dev/tcp/127.0.0.1/8404 2>/dev/null
}
pid=0
stop() { mark 0; [ "$pid" -gt 0 ] && kill -USR1 "$pid" 2>/dev/null && wait "$pid"; exit 0; }
trap stop TERM INT
mkdir -p '/run/rfha'
mark 0
# The servers' state a reload hands to the new worker (DNS mode loads it): "1" is an empty state of version 1, so a
# first start finds a valid file instead of warning that there is none.
[ -e '/run/rfha/server-state' ] || printf '1\\n' > '/run/rfha/server-state'
while true; do
  haproxy -W -db -f '/etc/rfha/haproxy.cfg' -f '/etc/rfha/app-backend.cfg' &
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
  echo "haproxy-supervisor: haproxy $pid exited ($rc); restarting in 2s" >&2
  sleep 2
done
`;

/**
 * `text` with each [from, to] replaced. Each `from` must occur exactly once (in the text as edited so far), so an
 * edit that no longer matches fails instead of leaving the expectation unchanged.
 */
export function edited(text: string, edits: ReadonlyArray<readonly [string, string]>): string {
  return edits.reduce((t, [from, to]) => {
    const at = t.indexOf(from);
    if (at < 0 || t.indexOf(from, at + 1) >= 0) {
      throw new Error(`edited: ${JSON.stringify(from)} occurs ${at < 0 ? 'nowhere' : 'more than once'} in the text`);
    }
    return t.slice(0, at) + to + t.slice(at + from.length);
  }, text);
}
