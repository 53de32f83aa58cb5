/**
 * Renders keepalived's configuration for HaproxyFailoverPair. Pure: plain values in, text out.
 *
 * One file serves both nodes: what differs per node (its own address, its priority, its interface) comes
 * from `node.conf`, a few `$NAME=value` definitions the agent writes at boot, and the peer's address from
 * `peers.conf`, included inside `unicast_peer` and rewritten when the other node is replaced. No address is
 * typed anywhere.
 *
 * Defaults follow what was measured (bench/failover-pair.bench.ts, /work notes on keepalived 2.2.7):
 * - HAProxy is tracked through a file that its supervisor writes the instant HAProxy exits (event driven,
 *   inotify), with `weight 0 reverse`: a missing, empty or "0" file puts the node in FAULT. FAULT outweighs
 *   any priority gap; a numeric weight is accepted only when it exceeds the gap (the lesson: a check whose
 *   weight cannot beat the gap never fails over, or never fails back).
 * - VRRPv3 with a short advert interval and priorities one apart, both nodes starting as BACKUP.
 * - Transitions go to ONE long-running agent, in order, through keepalived's notify FIFO (`vrrp_notify_fifo`):
 *   no notify script is forked per transition and no temporary state file is shared between runs. The FIFO also
 *   carries MASTER_RX_LOWER_PRI (a master heard a lower-priority master: after a freeze or a partition the peer
 *   took the address), on which the agent takes the address back; no `notify_master_rx_lower_pri` script is
 *   needed for that, keepalived writes the event to the FIFO whether or not one is configured.
 * - `vrrp_startup_delay $STARTUP_DELAY` (node.conf): the less preferred node waits before it joins, so that on a
 *   cold start of both nodes the preferred one becomes master first and the address moves once.
 */

export interface KeepalivedPaths {
  readonly configDir: string;
  readonly runDir: string;
}

/** How keepalived learns that HAProxy is down. */
export enum HaproxyTracking {
  /** A track file written by HAProxy's supervisor the instant it exits (event driven). */
  FILE = 'file',
  /** A check script polled every `checkIntervalSeconds` (what most guides do). */
  SCRIPT = 'script',
}

export interface KeepalivedConfigOptions {
  readonly paths: KeepalivedPaths;
  /** VRRP virtual router id, 1 to 255, the same on both nodes. */
  readonly virtualRouterId: number;
  /** Advert interval in milliseconds (VRRPv3: multiples of 10 ms). */
  readonly advertIntervalMs: number;
  /** Seconds a recovered higher-priority node waits before it takes the address back. */
  readonly preemptDelaySeconds: number;
  /** Priorities of the preferred node and of the other one. @default [254, 253] */
  readonly priorities?: readonly [number, number];
  /** VRRP version. @default 3 */
  readonly vrrpVersion?: 2 | 3;
  /**
   * Addresses keepalived adds on the master (as "a.b.c.d/32 dev <interface>"). keepalived needs at least one;
   * on AWS no address moves by itself (the clients' address moves by API call and both nodes accept the
   * VPN virtual IP), so the default is one link-local marker address on lo that only shows who is master.
   * @default - ["169.254.253.<virtualRouterId>/32 dev lo scope host"]
   */
  readonly virtualIpAddresses?: readonly string[];
  /** @default HaproxyTracking.FILE */
  readonly tracking?: HaproxyTracking;
  /**
   * Weight of the tracked check. 0 means FAULT on failure (the default). A non-zero weight must exceed the
   * gap between the two priorities, or the renderer throws.
   * @default 0
   */
  readonly checkWeight?: number;
  /** Interval of the check script (tracking SCRIPT), in seconds. @default 1 */
  readonly checkIntervalSeconds?: number;
}

export const DEFAULT_PRIORITIES: readonly [number, number] = [254, 253];

/** The file of the track file, check script, notify script and state file on a node. */
export function keepalivedFiles(paths: KeepalivedPaths) {
  return {
    config: `${paths.configDir}/keepalived.conf`,
    nodeConf: `${paths.configDir}/node.conf`,
    peersConf: `${paths.configDir}/peers.conf`,
    check: `${paths.configDir}/check-haproxy.sh`,
    trackFile: `${paths.runDir}/haproxy.up`,
    stateFile: `${paths.runDir}/vrrp.state`,
    fifo: `${paths.runDir}/vrrp.fifo`,
    pidFile: `${paths.runDir}/keepalived.pid`,
    vrrpPidFile: `${paths.runDir}/vrrp.pid`,
    checkersPidFile: `${paths.runDir}/checkers.pid`,
  };
}

/** Throws unless a check's weight can move the preferred node below the other one (or it is 0: FAULT). */
export function assertWeightOutweighsGap(weight: number, priorities: readonly [number, number]): void {
  const gap = Math.abs(priorities[0] - priorities[1]);
  if (weight !== 0 && Math.abs(weight) <= gap) {
    throw new Error(
      `keepalived: a check weight of ${weight} cannot outweigh the priority gap of ${gap} (${priorities[0]} vs ${priorities[1]}): ` +
        'a failed check would never move the address. Use weight 0 (FAULT) or a weight larger than the gap.',
    );
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2).replace(/\.?0+$/, '');
}

export function renderKeepalivedConfig(o: KeepalivedConfigOptions): string {
  const priorities = o.priorities ?? DEFAULT_PRIORITIES;
  const weight = o.checkWeight ?? 0;
  assertWeightOutweighsGap(weight, priorities);
  const tracking = o.tracking ?? HaproxyTracking.FILE;
  const f = keepalivedFiles(o.paths);
  const weightLine = weight === 0 ? (tracking === HaproxyTracking.FILE ? 'weight 0 reverse' : 'weight 0') : `weight ${weight}${tracking === HaproxyTracking.FILE ? ' reverse' : ''}`;
  const track =
    tracking === HaproxyTracking.FILE
      ? [
          '# HAProxy\'s supervisor writes 1 while HAProxy runs and 0 the instant it exits; missing or empty reads as down.',
          'track_file haproxy_up {',
          `  file ${f.trackFile}`,
          `  ${weightLine}`,
          '}',
        ]
      : [
          'vrrp_script haproxy_up {',
          `  script "${f.check}"`,
          `  interval ${o.checkIntervalSeconds ?? 1}`,
          ...(weight === 0 ? [] : [`  weight ${weight}`]),
          '  fall 1',
          '  rise 1',
          '}',
        ];
  const vips = o.virtualIpAddresses ?? [markerAddress(o.virtualRouterId)];
  return [
    '# Rendered by resilient-fleet HaproxyFailoverPair. node.conf (written at boot) defines $SRC_IP, $PRIORITY, $INTERFACE and $STARTUP_DELAY.',
    `include ${f.nodeConf}`,
    '',
    'global_defs {',
    '  enable_script_security',
    // Only the polled check (tracking SCRIPT) runs a script; it needs no more than to signal-check HAProxy.
    '  script_user root',
    `  vrrp_version ${o.vrrpVersion ?? 3}`,
    '  # Every transition, in order, to the one agent that reads this FIFO (STOP when keepalived stops).',
    `  vrrp_notify_fifo ${f.fifo}`,
    '  vrrp_startup_delay $STARTUP_DELAY',
    '  # Adverts every 50 ms must not wait behind a saturated CPU (a backup that misses three takes over).',
    '  vrrp_rt_priority 50',
    // A real-time process is killed past this much CPU between blocking calls; the 10 ms default killed a healthy VRRP
    // process starting on a loaded machine (keepalived: "may need to be increased for slower processors").
    '  vrrp_rlimit_rttime 500000',
    '}',
    '',
    ...track,
    '',
    'vrrp_instance edge {',
    '  # Both nodes start as BACKUP and let priority decide: two nodes starting at once never both claim the address.',
    '  state BACKUP',
    '  interface $INTERFACE',
    `  virtual_router_id ${o.virtualRouterId}`,
    '  priority $PRIORITY',
    `  advert_int ${seconds(o.advertIntervalMs)}`,
    `  preempt_delay ${o.preemptDelaySeconds}`,
    '  # No multicast on AWS: unicast to the peer, whose address the agent keeps current in peers.conf.',
    '  unicast_src_ip $SRC_IP',
    '  unicast_peer {',
    `    include ${f.peersConf}`,
    '  }',
    '  virtual_ipaddress {',
    ...vips.map((v) => `    ${v}`),
    '  }',
    tracking === HaproxyTracking.FILE ? '  track_file {' : '  track_script {',
    '    haproxy_up',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The link-local marker address keepalived holds on lo while master (default `virtual_ipaddress`). */
export function markerAddress(virtualRouterId: number): string {
  return `169.254.253.${virtualRouterId}/32 dev lo scope host`;
}

/**
 * Seconds the less preferred node waits after keepalived starts before it takes part (`vrrp_startup_delay`):
 * long enough for the preferred node's HAProxy to bind on a cold start of both, short against a lone restart.
 */
export const STANDBY_STARTUP_DELAY_SECONDS = 3;

/** node.conf: the per-node definitions keepalived.conf uses. */
export function renderNodeConf(n: { readonly sourceIp: string; readonly priority: number; readonly interfaceName: string; readonly startupDelaySeconds?: number }): string {
  // keepalived takes 0.001 s to 4294 s here (0 is refused with a warning): "no delay" is 10 ms.
  const delay = Math.max(n.startupDelaySeconds ?? 0, 0.01);
  return `$SRC_IP=${n.sourceIp}\n$PRIORITY=${n.priority}\n$INTERFACE=${n.interfaceName}\n$STARTUP_DELAY=${delay}\n`;
}
