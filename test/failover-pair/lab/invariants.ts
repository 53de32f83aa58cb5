/**
 * The chaos suite's invariants, watched continuously and event-driven (no polling of state):
 * - keepalived's own view of who is master: its marker address on lo, followed with `ip monitor address` in each
 *   node's namespace (keepalived adds it on MASTER and deletes it on leaving MASTER; ExecStopPost deletes it when
 *   keepalived ends any other way);
 * - where the clients' address points: the route in the client namespace, followed with `ip monitor route`;
 * - a serving node: short connections from the client namespace every few milliseconds (prober.mjs).
 * The invariant holds at a moment when exactly one node is master, the address is on that node and a connection
 * started then was answered by that node. `windows()` returns the intervals where it did not hold.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as path from 'path';
import { FailoverLab, NODE_IPS, NodeName, ProbeLog, VIP } from './lab';

const PROBER = path.join(__dirname, 'prober.mjs');

interface Change {
  readonly t: number;
  readonly kind: 'master' | 'route';
  readonly node?: NodeName;
  readonly value: boolean | NodeName | undefined;
}

export interface Window {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
  /** What was wrong at its start. */
  readonly why: string;
}

const nodeOf = (ip: string | undefined): NodeName | undefined => (ip === NODE_IPS.a ? 'a' : ip === NODE_IPS.b ? 'b' : undefined);

export class InvariantMonitor {
  public readonly changes: Change[] = [];
  public probe!: ProbeLog;
  private readonly children: ChildProcess[] = [];

  constructor(
    private readonly lab: FailoverLab,
    private readonly marker: string,
    private readonly port: number,
    private readonly probeEveryMs = 10,
  ) {}

  public async start(): Promise<void> {
    for (const node of ['a', 'b'] as const) {
      this.watch(['-o', '-n', this.lab.ns(node), 'monitor', 'address'], (line, t) => {
        if (!line.includes(` ${this.marker}/`)) return;
        this.changes.push({ t, kind: 'master', node, value: !line.startsWith('Deleted') });
      });
    }
    this.watch(['-o', '-n', this.lab.ns('c'), 'monitor', 'route'], (line, t) => {
      if (!line.includes(`${VIP} `)) return;
      this.changes.push({ t, kind: 'route', value: line.startsWith('Deleted') ? undefined : nodeOf(/ via (\S+)/.exec(line)?.[1]) });
    });
    // The starting point is read once the monitors listen (a change before they did would be lost): from here on
    // every change is an event.
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    for (const node of ['a', 'b'] as const) {
      const now = execFileSync('ip', ['-o', '-n', this.lab.ns(node), 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
      this.changes.push({ t: t0, kind: 'master', node, value: now.includes(` ${this.marker}/`) });
    }
    this.changes.push({ t: t0, kind: 'route', value: this.lab.routeVia() });
    this.probe = new ProbeLog(this.lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, String(this.port), String(this.probeEveryMs)]));
  }

  private watch(args: string[], onLine: (line: string, t: number) => void): void {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.children.push(child);
    // `ip -n` joins the namespace: a node's power cut (lab.stopNode) must not end its observer.
    if (child.pid) this.lab.observers.add(child.pid);
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const t = Date.now();
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl), t);
        buf = buf.slice(nl + 1);
      }
    });
  }

  public stop(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }

  /** Number of times the clients' address moved to another node in [from, to]. */
  public moves(from: number, to: number): number {
    let last: NodeName | undefined;
    let moves = 0;
    for (const c of this.changes.filter((x) => x.kind === 'route').sort((x, y) => x.t - y.t)) {
      if (c.t >= from && c.t <= to && c.value !== undefined && last !== undefined && c.value !== last) moves++;
      if (c.value !== undefined) last = c.value as NodeName;
    }
    return moves;
  }

  /** Who keepalived says is master at `t`, and where the address points. */
  public stateAt(t: number): { masters: NodeName[]; route?: NodeName } {
    const master = { a: false, b: false };
    let route: NodeName | undefined;
    for (const c of this.changes) {
      if (c.t > t) continue;
      if (c.kind === 'master') master[c.node!] = c.value as boolean;
      else route = c.value as NodeName | undefined;
    }
    return { masters: (['a', 'b'] as const).filter((n) => master[n]), route };
  }

  /** Intervals in [from, to] where the invariant did not hold, judged at every probe's start. */
  public windows(from: number, to: number): Window[] {
    const samples = this.probe.records.filter((r) => typeof r.start === 'number' && (r.start as number) >= from && (r.start as number) <= to).sort((x, y) => (x.start as number) - (y.start as number));
    const out: Window[] = [];
    let open: { from: number; why: string } | undefined;
    for (const r of samples) {
      const t = r.start as number;
      const { masters, route } = this.stateAt(t);
      const servedBy = r.ok === true ? nodeOf(r.via as string) : undefined;
      const why =
        masters.length !== 1
          ? `${masters.length} keepalived masters`
          : route !== masters[0]
            ? `address on ${route ?? 'no node'}, master ${masters[0]}`
            : servedBy !== masters[0]
              ? `connection ${r.ok === true ? `served by ${servedBy}` : `failed (${String(r.err)})`}, master ${masters[0]}`
              : undefined;
      if (why && !open) open = { from: t, why };
      if (!why && open) {
        out.push({ from: open.from, to: t, ms: t - open.from, why: open.why });
        open = undefined;
      }
    }
    if (open) out.push({ from: open.from, to, ms: to - open.from, why: `${open.why} (still at the end)` });
    return out;
  }
}
