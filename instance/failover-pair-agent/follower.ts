/**
 * The agent's long-running half: reads keepalived's notify FIFO (every transition, in order, in one process: no
 * fork per transition, no shared temporary file), watches that keepalived runs, keeps the state file, and puts the
 * clients' address on this node whenever keepalived's view says it belongs here.
 *
 * - MASTER                 -> take the address (the failover path: one FIFO read, then the move)
 * - MASTER_RX_LOWER_PRI    -> take it back (after a freeze or a partition the peer took it; keepalived stayed MASTER)
 * - BACKUP / FAULT / STOP  -> record it; the new master's move takes the address (the moves are exclusive)
 * - keepalived dead or frozen (pid files, /proc state) -> STOP: a killed master leaves no MASTER state behind,
 *   and a frozen one that wakes up takes the address back at once
 * - every `recheckMs` while master -> the address is checked and taken back if it is elsewhere
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { INITIAL_VIEW, nextView, parseFifoLine, VrrpInput, VrrpState, VrrpView } from './logic';

/** Which keepalived runs, from its pid files and /proc: `running` is false when it is gone, a zombie or stopped. */
export interface KeepalivedProbe {
  readonly keepalived?: string;
  readonly running: boolean;
}

function procStat(pid: number, proc: string): { state: string; start: string } | undefined {
  try {
    const stat = fs.readFileSync(path.join(proc, String(pid), 'stat'), 'utf8');
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

/** keepalived's main process and its VRRP child, both alive and not stopped. */
export function probeKeepalived(pidFiles: readonly string[], proc = '/proc'): KeepalivedProbe {
  const parts: string[] = [];
  let running = true;
  for (const file of pidFiles) {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      return { running: false };
    }
    const stat = Number.isInteger(pid) && pid > 0 ? procStat(pid, proc) : undefined;
    if (!stat) return { running: false };
    if (/^[TtZXx]/.test(stat.state)) running = false;
    parts.push(`${pid}@${stat.start}`);
  }
  return { keepalived: parts.join('/'), running };
}

export interface FollowerOptions {
  /** keepalived's notify FIFO (created here when missing; keepalived uses an existing one). */
  readonly fifo: string;
  /** The state file other programs read (written atomically, by this process only). */
  readonly stateFile: string;
  readonly probe: () => KeepalivedProbe;
  /** Puts the clients' address on this node (a no-op when it is already here). `stillMaster` is re-checked inside. */
  readonly takeAddress: (stillMaster: () => boolean) => Promise<unknown>;
  /** How often keepalived's liveness is checked. @default 100 */
  readonly probeMs?: number;
  /** How often a master re-checks where the address is. @default 10000 */
  readonly recheckMs?: number;
  /**
   * A woken or reconnected master hears the peer's queued adverts one by one, each a MASTER_RX_LOWER_PRI: after
   * the first take-back, more within this many ms start no new move (each would be an EC2 call). @default 1000
   */
  readonly rxLowerGapMs?: number;
  /** Told of every input and outcome (structured log). */
  readonly onEvent?: (e: Record<string, unknown>) => void;
}

export class VrrpFollower {
  private view: VrrpView = INITIAL_VIEW;
  private current: VrrpState = 'STOP';
  private moving = false;
  private again = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private socket?: net.Socket;
  private closed = false;
  private lastRxLower = -Infinity;

  constructor(private readonly o: FollowerOptions) {}

  public get state(): VrrpState {
    return this.current;
  }

  /** Opens the FIFO and starts the liveness and re-check timers. */
  public start(): void {
    this.openFifo();
    this.apply({ kind: 'probe', ...this.o.probe() });
    this.timers.push(
      setInterval(() => {
        this.followFifo();
        this.apply({ kind: 'probe', ...this.o.probe() });
      }, this.o.probeMs ?? 100),
    );
    this.timers.push(
      setInterval(() => {
        if (this.current === 'MASTER') this.take('recheck');
      }, this.o.recheckMs ?? 10_000),
    );
  }

  private inode?: number;

  /**
   * keepalived deletes a FIFO it created when it ends and creates a new one when it starts: the reader follows the
   * path to the new FIFO (keepalived opens it read-write, so lines written before the reader came are kept).
   */
  private followFifo(): void {
    let inode: number | undefined;
    try {
      inode = fs.statSync(this.o.fifo).ino;
    } catch {
      inode = undefined;
    }
    if (inode !== this.inode) this.openFifo();
  }

  private openFifo(): void {
    if (!fs.existsSync(this.o.fifo)) {
      fs.mkdirSync(path.dirname(this.o.fifo), { recursive: true });
      try {
        execFileSync('mkfifo', ['-m', '600', this.o.fifo]);
      } catch {
        /* created meanwhile by keepalived */
      }
    }
    this.socket?.destroy();
    // Read-write, so the FIFO never reaches end-of-file when keepalived closes or restarts; non-blocking, so
    // libuv reads it from its event loop (epoll), not from a thread-pool thread.
    const fd = fs.openSync(this.o.fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    this.inode = fs.fstatSync(fd).ino;
    const socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket = socket;
    socket.setEncoding('utf8');
    let buf = '';
    socket.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const parsed = parseFifoLine(line);
        if (parsed) this.apply({ kind: 'fifo', event: parsed.event, keepalived: this.o.probe().keepalived });
      }
    });
    socket.on('error', (e) => this.o.onEvent?.({ level: 'error', msg: 'notify FIFO', error: e.message }));
  }

  public stop(): void {
    this.closed = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.socket?.destroy();
  }

  /** Applies one input: exported for the tests, which drive the follower without keepalived. */
  public apply(input: VrrpInput): void {
    if (this.closed) return;
    const next = nextView(this.view, input);
    this.view = next.view;
    const changed = next.state !== this.current;
    this.current = next.state;
    // The move first: the state file and the log are not on the failover path.
    const rxLower = input.kind === 'fifo' && input.event === 'MASTER_RX_LOWER_PRI' && !changed;
    if (next.takeAddress && rxLower) {
      const now = Date.now();
      if (now - this.lastRxLower >= (this.o.rxLowerGapMs ?? 1000)) {
        this.lastRxLower = now;
        this.take('MASTER_RX_LOWER_PRI');
      }
    } else if (next.takeAddress) {
      this.take(input.kind === 'fifo' ? input.event : 'running again');
    }
    if (changed) {
      this.writeState(next.state);
      this.o.onEvent?.({ msg: 'vrrp state', state: next.state, input });
    } else if (input.kind === 'fifo') {
      this.o.onEvent?.({ msg: 'vrrp event', state: next.state, event: input.event });
    }
  }

  private writeState(state: VrrpState): void {
    try {
      fs.writeFileSync(`${this.o.stateFile}.tmp`, `${state}\n`);
      fs.renameSync(`${this.o.stateFile}.tmp`, this.o.stateFile);
    } catch (e) {
      this.o.onEvent?.({ level: 'error', msg: 'state file', error: (e as Error).message });
    }
  }

  /** One move at a time; events that arrive during a move are folded into one more move after it. */
  private take(why: string): void {
    if (this.moving) {
      this.again = true;
      return;
    }
    this.moving = true;
    const started = Date.now();
    this.o
      .takeAddress(() => this.current === 'MASTER')
      .then(
        (result) => this.o.onEvent?.({ msg: 'address', why, result, ms: Date.now() - started }),
        (e) => this.o.onEvent?.({ level: 'error', msg: 'address move failed', why, error: (e as Error).message }),
      )
      .finally(() => {
        this.moving = false;
        if (this.again && !this.closed) {
          this.again = false;
          if (this.current === 'MASTER') this.take('folded');
        }
      });
  }
}
