/**
 * A two-node HaproxyFailoverPair in network namespaces, for the system test and the benchmark.
 *
 *   ns <prefix>c  : the clients and the "VPC router": bridge 10.77.0.1/24, a route to the virtual address
 *                   10.99.0.10 via whichever node last ran its move command (this replaces the EC2 call)
 *   ns <prefix>a  : node A, 10.77.0.11, HAProxy under its supervisor + keepalived (priority 254)
 *   ns <prefix>b  : node B, 10.77.0.12, the same (priority 253)
 *   ns <prefix>s  : two app instances, 10.77.0.21 and 10.77.0.22
 *
 * Every file is rendered by the library's own renderers (or taken as the construct staged them for its asset,
 * `staged`), at the paths a node uses: each node program runs in its own network namespace with its node's
 * directories bind-mounted on /etc/rfha and /run/rfha (`ip netns exec` gives every program a private mount
 * namespace; the two empty mount points are created on this machine if missing). The agent's follower runs as on
 * a node (lab-agent.ts); only its address move is local: a route change in the client namespace instead of the
 * EC2 call. Traffic never leaves the namespaces. `close()` kills every process in them and deletes them.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HaproxyClient } from '../../../lib/failover-pair/clients';
import { renderHaproxyConfig } from '../../../lib/failover-pair/haproxy-config';
import { HaproxyTracking, keepalivedFiles, renderKeepalivedConfig, renderNodeConf, STANDBY_STARTUP_DELAY_SECONDS } from '../../../lib/failover-pair/keepalived-config';
import { renderCheckScript, renderSupervisorScript } from '../../../lib/failover-pair/scripts-config';
import { renderAppBackend, renderPeers, ServerSlot } from '../../../instance/failover-pair-agent/logic';
import { runtimeCommand } from '../../../instance/failover-pair-agent/haproxy-runtime';

export const VIP = '10.99.0.10';
export const NODE_IPS = { a: '10.77.0.11', b: '10.77.0.12' } as const;
export const APP_IPS = ['10.77.0.21', '10.77.0.22'] as const;
export const CHECK_PORT = 18080;
export const STATS_PORT = 18404;
/** HAProxy's one client listener on 127.0.0.1 (client-ports.nft hands it every client port). */
export const LISTENER_PORT = 18405;
export type NodeName = 'a' | 'b';
/** Where a node's programs see their files (the paths the construct renders). */
export const NODE_PATHS = { configDir: '/etc/rfha', runDir: '/run/rfha' } as const;
const TSX = path.join(__dirname, '..', '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');

export interface LabOptions {
  readonly clients: readonly HaproxyClient[];
  readonly advertIntervalMs?: number;
  readonly preemptDelaySeconds?: number;
  readonly restartDelaySeconds?: number;
  /** Polled check script (with `checkWeight`), VRRPv2 and priorities 101/100: the guides' setup. */
  readonly baseline?: boolean;
  /** Render the HAProxy configuration some other way (the benchmark's one-frontend-per-client baseline). */
  readonly haproxyFiles?: (dir: string) => Record<string, string>;
  /** The app backend's slots at start. @default both app instances ready, two free slots */
  readonly initialSlots?: ServerSlot[];
  /**
   * The files exactly as a construct staged them for its asset (file name -> content), used on both nodes instead
   * of rendering; the lab adds only what a node's boot writes (node.conf, peers.conf). @default - rendered here
   */
  readonly staged?: Record<string, string>;
  /** How often a master's agent re-checks where the address is, in ms. @default 2000 */
  readonly recheckMs?: number;
  /** The port the app instances answer health checks on. @default CHECK_PORT */
  readonly checkPort?: number;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class FailoverLab {
  public readonly prefix: string;
  public readonly dir: string;
  private readonly children: ChildProcess[] = [];
  private readonly namespaces: string[] = [];

  constructor(private readonly options: LabOptions) {
    this.prefix = `rfha-${process.pid}-${Math.floor(Math.random() * 1e4)}-`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-lab-'));
  }

  public ns(name: 'a' | 'b' | 'c' | 's'): string {
    return this.prefix + name;
  }

  public nodeDir(node: NodeName) {
    const base = path.join(this.dir, node);
    return { configDir: path.join(base, 'etc'), runDir: path.join(base, 'run') };
  }

  /** Builds the network, writes every file, starts the app instances (not the nodes). */
  public setUp(): void {
    for (const n of ['c', 'a', 'b', 's'] as const) {
      ip('netns', 'add', this.ns(n));
      this.namespaces.push(this.ns(n));
      ip('-n', this.ns(n), 'link', 'set', 'lo', 'up');
    }
    const c = this.ns('c');
    ip('-n', c, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', c, 'addr', 'add', '10.77.0.1/24', 'dev', 'br0');
    ip('-n', c, 'link', 'set', 'br0', 'up');
    const plug = (n: 'a' | 'b' | 's', addrs: string[]) => {
      ip('-n', c, 'link', 'add', `v${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns(n));
      ip('-n', c, 'link', 'set', `v${n}`, 'master', 'br0', 'up');
      for (const a of addrs) ip('-n', this.ns(n), 'addr', 'add', `${a}/24`, 'dev', 'eth0');
      ip('-n', this.ns(n), 'link', 'set', 'eth0', 'up');
    };
    plug('a', [NODE_IPS.a]);
    plug('b', [NODE_IPS.b]);
    plug('s', [...APP_IPS]);
    // As on AWS (route to the ENI, source/destination check off): both nodes accept the virtual address,
    // the route decides which one receives it. A node whose HAProxy died answers with a reset, not silence.
    for (const n of ['a', 'b'] as const) ip('-n', this.ns(n), 'addr', 'add', `${VIP}/32`, 'dev', 'lo');

    const ports = [...new Set(this.options.clients.flatMap((cl) => [cl.port, cl.backendPort ?? cl.port]))];
    APP_IPS.forEach((addr, i) => {
      this.spawnIn('s', 'node', [path.join(__dirname, 'backend-server.mjs'), `app-${i + 1}`, addr, [...ports, this.options.checkPort ?? CHECK_PORT].join(',')], `app-${i + 1}.log`);
    });
    for (const node of ['a', 'b'] as const) this.writeNodeFiles(node);
    for (const dir of Object.values(NODE_PATHS)) fs.mkdirSync(dir, { recursive: true });
  }

  private writeNodeFiles(node: NodeName): void {
    const host = this.nodeDir(node);
    fs.mkdirSync(host.configDir, { recursive: true, mode: 0o755 });
    fs.mkdirSync(host.runDir, { recursive: true, mode: 0o755 });
    const paths = NODE_PATHS;
    const o = this.options;
    const priority = o.baseline ? (node === 'a' ? 101 : 100) : node === 'a' ? 254 : 253;
    if (o.staged) {
      const files = { ...o.staged };
      files['node.conf'] = renderNodeConf({ sourceIp: NODE_IPS[node], priority, interfaceName: 'eth0', startupDelaySeconds: node === 'a' ? 0 : STANDBY_STARTUP_DELAY_SECONDS });
      files['peers.conf'] = renderPeers([NODE_IPS[node === 'a' ? 'b' : 'a']]);
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(host.configDir, name), text, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
      return;
    }
    const files: Record<string, string> = o.haproxyFiles
      ? o.haproxyFiles(paths.configDir)
      : { ...renderHaproxyConfig({
          clients: o.clients,
          paths,
          maxConnections: 4000,
          backendCheckPort: CHECK_PORT,
          backendSlots: 4,
          statsPort: STATS_PORT,
          listenerPort: LISTENER_PORT,
          hardStopAfterSeconds: 120,
          checkIntervalMs: 500,
        }) };
    if (files['app-backend.head'] && !files['app-backend.cfg']) {
      files['app-backend.cfg'] = renderAppBackend(files['app-backend.head'], 'app', o.initialSlots ?? this.initialSlots());
    }
    const baseline = o.baseline === true;
    files['keepalived.conf'] = renderKeepalivedConfig({
      paths,
      virtualRouterId: 51,
      advertIntervalMs: o.advertIntervalMs ?? (baseline ? 1000 : 50),
      preemptDelaySeconds: o.preemptDelaySeconds ?? 1,
      vrrpVersion: baseline ? 2 : 3,
      priorities: baseline ? [101, 100] : [254, 253],
      tracking: baseline ? HaproxyTracking.SCRIPT : HaproxyTracking.FILE,
      checkWeight: baseline ? 2 : 0,
      checkIntervalSeconds: 1,
    });
    files['node.conf'] = renderNodeConf({ sourceIp: NODE_IPS[node], priority, interfaceName: 'eth0', startupDelaySeconds: node === 'a' ? 0 : STANDBY_STARTUP_DELAY_SECONDS });
    files['peers.conf'] = renderPeers([NODE_IPS[node === 'a' ? 'b' : 'a']]);
    files['check-haproxy.sh'] = renderCheckScript({ paths });
    files['haproxy-supervisor.sh'] = renderSupervisorScript({
      paths,
      configFiles: ['haproxy.cfg', 'app-backend.cfg'].filter((f) => f in files).map((f) => path.join(paths.configDir, f)),
      readinessPort: STATS_PORT,
      restartDelaySeconds: o.restartDelaySeconds ?? 2,
    });
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(host.configDir, name);
      fs.writeFileSync(file, text, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
    }
  }

  public initialSlots(): ServerSlot[] {
    return [...APP_IPS.map((address) => ({ address, state: 'ready' as const })), { state: 'maint' }, { state: 'maint' }];
  }

  public spawnIn(n: 'a' | 'b' | 'c' | 's', cmd: string, args: string[], log?: string): ChildProcess {
    // A node's programs see its own directories at the paths the construct renders.
    const mounted =
      n === 'a' || n === 'b'
        ? ['sh', '-c', `mount --bind "$1" ${NODE_PATHS.configDir} && mount --bind "$2" ${NODE_PATHS.runDir} && shift 2 && exec "$@"`, 'sh', this.nodeDir(n).configDir, this.nodeDir(n).runDir, cmd, ...args]
        : [cmd, ...args];
    const child = spawn('ip', ['netns', 'exec', this.ns(n), ...mounted], {
      stdio: ['ignore', log ? fs.openSync(path.join(this.dir, log), 'a') : 'pipe', log ? fs.openSync(path.join(this.dir, log), 'a') : 'pipe'],
    });
    this.children.push(child);
    return child;
  }

  public startHaproxy(node: NodeName): ChildProcess {
    // rfha-haproxy.service's ExecStartPre: the client ports' rules, loaded by the real nft from the node's file.
    if (fs.existsSync(path.join(this.nodeDir(node).configDir, 'client-ports.nft'))) this.loadClientPorts(node);
    return this.spawnIn(node, 'bash', [path.join(NODE_PATHS.configDir, 'haproxy-supervisor.sh')], `${node}-haproxy.log`);
  }

  /** `nft -f /etc/rfha/client-ports.nft` in the node's namespace, as the unit runs it on start and reload. */
  public loadClientPorts(node: NodeName): void {
    execFileSync('ip', ['netns', 'exec', this.ns(node), 'nft', '-f', path.join(this.nodeDir(node).configDir, 'client-ports.nft')], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  private readonly agents = new Map<NodeName, ChildProcess>();

  /** keepalived as its unit runs it, and (once per node) the agent that follows it. */
  public startKeepalived(node: NodeName, withAgent = true): ChildProcess {
    const { runDir } = this.nodeDir(node);
    const f = keepalivedFiles(NODE_PATHS);
    // A SIGKILLed keepalived leaves its pid files behind (and its VRRP child a zombie that pid 1 may not reap
    // here); systemd's restart would start clean, so does this.
    for (const file of ['keepalived.pid', 'vrrp.pid', 'checkers.pid']) fs.rmSync(path.join(runDir, file), { force: true });
    // The unit's ExecStartPre lines (staged), as systemd runs them before keepalived; else the same effect.
    const unit = this.options.staged?.['rfha-keepalived.service'];
    const pre = unit ? [...unit.matchAll(/^ExecStartPre=-?\/bin\/sh -c '(.*)'$/gm)].map((m) => m[1]) : [`[ -e ${NODE_PATHS.runDir}/haproxy.up ] || echo 0 > ${NODE_PATHS.runDir}/haproxy.up`];
    for (const line of pre) {
      execFileSync('ip', ['netns', 'exec', this.ns(node), 'sh', '-c', `mount --bind "$1" ${NODE_PATHS.configDir} && mount --bind "$2" ${NODE_PATHS.runDir} && ${line}`, 'sh', this.nodeDir(node).configDir, runDir]);
    }
    const child = this.spawnIn(node, 'keepalived', ['-n', '-l', '-D', '-P', '-f', f.config, '-p', f.pidFile, '-r', f.vrrpPidFile, '-c', f.checkersPidFile], `${node}-keepalived.log`);
    if (withAgent && !this.agents.has(node)) this.startAgent(node);
    return child;
  }

  /** The agent's follower (notify FIFO, liveness, take-back) with the lab's local address move. */
  public startAgent(node: NodeName): ChildProcess {
    const child = this.spawnIn(
      node,
      process.execPath,
      [TSX, path.join(__dirname, 'lab-agent.ts'), this.ns('c'), `${VIP}/32`, NODE_IPS[node], String(this.options.recheckMs ?? 2000)],
      `${node}-agent.log`,
    );
    this.agents.set(node, child);
    return child;
  }

  /**
   * What systemd does when keepalived's main process ends, however: the unit's remaining processes get SIGTERM,
   * then the unit's ExecStopPost lines run (read from the staged rfha-keepalived.service, or the marker address
   * removed when the lab rendered its own files).
   */
  public keepalivedStopped(node: NodeName): void {
    try {
      process.kill(Number(fs.readFileSync(path.join(this.nodeDir(node).runDir, 'vrrp.pid'), 'utf8').trim()), 'SIGTERM');
    } catch {
      /* gone already */
    }
    const unit = this.options.staged?.['rfha-keepalived.service'];
    const lines = unit ? [...unit.matchAll(/^ExecStopPost=-?(.*)$/gm)].map((m) => m[1]) : ['/usr/sbin/ip addr del 169.254.253.51/32 dev lo'];
    for (const line of lines) {
      const [cmd, ...args] = line.split(' ');
      try {
        execFileSync('ip', ['netns', 'exec', this.ns(node), path.basename(cmd), ...args], { stdio: 'ignore' });
      } catch {
        /* "-" lines may fail */
      }
    }
  }

  /** Processes that watch a node from inside its namespace (`ip -n <ns> monitor`): not the node's, never stopped with it. */
  public readonly observers = new Set<number>();

  /** Every process of a node ends at once (a power cut); its run directory is emptied (tmpfs). */
  public stopNode(node: NodeName): void {
    const pids = ip('netns', 'pids', this.ns(node)).split('\n').filter(Boolean).map(Number).filter((pid) => !this.observers.has(pid));
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.agents.delete(node);
    const run = this.nodeDir(node).runDir;
    for (const f of fs.readdirSync(run)) fs.rmSync(path.join(run, f), { recursive: true, force: true });
    for (const a of ip('-n', this.ns(node), '-o', 'addr', 'show', 'dev', 'lo').matchAll(/inet (169\.254\.253\.\d+\/32)/g)) ip('-n', this.ns(node), 'addr', 'del', a[1], 'dev', 'lo');
  }

  /** The agent's log lines (JSON), for timings. */
  public agentLog(node: NodeName): Array<Record<string, unknown> & { t: number }> {
    try {
      return fs
        .readFileSync(path.join(this.dir, `${node}-agent.log`), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  }

  /** The HAProxy master's pid, from the supervisor's pid file. */
  public haproxyPid(node: NodeName): number {
    return Number(fs.readFileSync(path.join(this.nodeDir(node).runDir, 'haproxy.pid'), 'utf8').trim());
  }

  public keepalivedPid(node: NodeName): number {
    return Number(fs.readFileSync(path.join(this.nodeDir(node).runDir, 'keepalived.pid'), 'utf8').trim());
  }

  public vrrpState(node: NodeName): string {
    try {
      return fs.readFileSync(path.join(this.nodeDir(node).runDir, 'vrrp.state'), 'utf8').trim();
    } catch {
      return 'UNKNOWN';
    }
  }

  public runtime(node: NodeName, commands: string | string[]): Promise<string> {
    return runtimeCommand(path.join(this.nodeDir(node).runDir, 'haproxy.sock'), commands);
  }

  /** Which node the clients' route points at now. */
  public routeVia(): NodeName | undefined {
    const out = ip('-n', this.ns('c'), 'route', 'show', `${VIP}/32`);
    if (out.includes(NODE_IPS.a)) return 'a';
    if (out.includes(NODE_IPS.b)) return 'b';
    return undefined;
  }

  /** Kills everything in the namespaces, deletes them and the files. Safe to call twice. */
  public close(): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      try {
        const pids = ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      } catch {
        /* no such namespace */
      }
      try {
        ip('netns', 'del', ns);
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A line-by-line JSON reader of a prober's output. */
export class ProbeLog {
  public readonly records: Array<Record<string, unknown> & { t: number }> = [];
  private buf = '';

  constructor(child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          this.records.push(JSON.parse(line));
        } catch {
          /* partial */
        }
      }
    });
  }

  /** Resolves with the first record at or after `since` that matches, or rejects after `timeoutMs`. */
  public waitFor(match: (r: Record<string, unknown>) => boolean, since: number, timeoutMs: number): Promise<Record<string, unknown> & { t: number }> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const tick = () => {
        const hit = this.records.find((r) => r.t >= since && match(r));
        if (hit) return resolve(hit);
        if (Date.now() > deadline) return reject(new Error(`no matching probe within ${timeoutMs} ms; last: ${JSON.stringify(this.records.slice(-3))}`));
        setTimeout(tick, 5);
      };
      tick();
    });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `fn` returns true, polling, or throws after `timeoutMs`. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
