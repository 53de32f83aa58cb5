/**
 * A pure model of a group, its events and the LeaderElection ledger, driven by logic.ts: the same decisions
 * the hook and leader-only make, with the ledger's conditional writes modelled exactly (version for the leader
 * item, attempt for runs). Used by the property test (random schedules) and the Beanstalk incident replay.
 *
 * Adversities it can produce: lost, duplicated and reordered events; stale views of the group (a snapshot
 * taken several steps earlier); invocations that read, then write later, interleaved with others; instances
 * that fail health checks, vanish, reboot, or are scaled to zero; concurrent leader-only invocations.
 */
import {
  decideAbandon,
  decideClaim,
  decideElection,
  deriveEffects,
  type GroupView,
  type LeaderRecord,
  type RunRecord,
  type Trigger,
} from '../../lambda/leader/logic';

type State = 'pending' | 'inService' | 'terminating' | 'terminated';

interface Inst {
  readonly id: string;
  state: State;
  healthy: boolean;
  protected: boolean;
  boot: number;
  tag?: number;
}

interface Inflight {
  readonly trigger: Trigger;
  readonly view: GroupView;
  readonly record: LeaderRecord | undefined;
}

interface Proc {
  readonly inst: string;
  readonly boot: number;
  readonly pid: number;
  readonly key: string;
  phase: 'look' | 'claim' | 'run';
  firstLook: boolean;
  attempt?: number;
  expected?: number;
  /** false: the command fails when it runs */
  succeeds: boolean;
}

export class Violation extends Error {}

export interface ModelOptions {
  /** Grace before a dead owner's run is abandoned (model time units). */
  readonly abandonGrace?: number;
  readonly protectLeader?: boolean;
}

const STATE_NAME: Record<State, string> = { pending: 'Pending', inService: 'InService', terminating: 'Terminating:Wait', terminated: '' };

export class FleetModel {
  readonly instances: Inst[] = [];
  desired = 0;
  now = 0;
  leader: LeaderRecord | undefined;
  readonly runs = new Map<string, RunRecord>();
  readonly events: Trigger[] = [];
  readonly inflight: Inflight[] = [];
  readonly procs: Proc[] = [];
  readonly views: GroupView[] = [];
  /** term -> leader, for every term ever written */
  readonly terms = new Map<number, string>();
  maxTerm = 0;
  /** deployment key -> successful executions */
  readonly successes = new Map<string, number>();
  readonly deployments: string[] = [];
  private nextInstance = 0;
  private nextPid = 100;
  readonly abandonGrace: number;
  readonly protectLeader: boolean;

  constructor(options: ModelOptions = {}) {
    this.abandonGrace = options.abandonGrace ?? 5;
    this.protectLeader = options.protectLeader ?? true;
  }

  // ------------------------------------------------------------------------------------------- the group

  live(): Inst[] {
    return this.instances.filter((i) => i.state === 'pending' || i.state === 'inService');
  }

  present(): Inst[] {
    return this.instances.filter((i) => i.state !== 'terminated');
  }

  find(id: string): Inst | undefined {
    return this.instances.find((i) => i.id === id);
  }

  view(): GroupView {
    return {
      desiredCapacity: this.desired,
      members: this.present().map((i) => ({
        instanceId: i.id,
        lifecycleState: STATE_NAME[i.state],
        healthStatus: i.healthy ? 'Healthy' : 'Unhealthy',
        protectedFromScaleIn: i.protected,
      })),
    };
  }

  /** Remembers the current view so that later invocations can be given a stale one. */
  snapshot(): void {
    this.views.push(this.view());
    if (this.views.length > 8) this.views.shift();
  }

  launch(): Inst {
    const id = `i-${(this.nextInstance++).toString(16).padStart(8, '0')}`;
    const inst: Inst = { id, state: 'pending', healthy: true, protected: false, boot: 0 };
    this.instances.push(inst);
    this.events.push({ kind: 'launch', instanceId: id });
    return inst;
  }

  beginTerminate(inst: Inst): void {
    if (inst.state === 'terminating' || inst.state === 'terminated') return;
    inst.state = 'terminating';
    this.events.push({ kind: 'terminate', instanceId: inst.id });
  }

  finishTerminate(inst: Inst): void {
    if (inst.state === 'terminated') return;
    inst.state = 'terminated';
    inst.tag = undefined;
    this.killProcs(inst.id);
  }

  /** What the Auto Scaling group does on its own: replace unhealthy instances, then move toward the desired capacity. */
  reconcile(pick = 0): void {
    for (const i of this.live()) if (!i.healthy) this.beginTerminate(i);
    let live = this.live();
    while (live.length > this.desired) {
      const candidates = live.filter((i) => !i.protected);
      if (candidates.length === 0) break; // protected instances stay: desired capacity drops, they do not
      this.beginTerminate(candidates[pick % candidates.length]);
      live = this.live();
    }
    while (live.length < this.desired) {
      this.launch();
      live = this.live();
    }
  }

  setDesired(n: number, pick = 0): void {
    this.desired = n;
    this.reconcile(pick);
  }

  /** Pending instances finish booting. */
  settle(): void {
    for (const i of this.instances) if (i.state === 'pending') i.state = 'inService';
  }

  /** Lifecycle heartbeat timeouts: terminating instances go, whether or not the hook ran. */
  timeoutLifecycle(): void {
    for (const i of this.instances) if (i.state === 'terminating') this.finishTerminate(i);
  }

  reboot(inst: Inst): void {
    inst.boot++;
    this.killProcs(inst.id);
  }

  private killProcs(instanceId: string): void {
    for (let k = this.procs.length - 1; k >= 0; k--) if (this.procs[k].inst === instanceId) this.procs.splice(k, 1);
  }

  // ------------------------------------------------------------------------------------------- the hook

  /** Delivers an event: the hook reads the ledger and a view of the group now, and writes later (`step`). */
  deliver(index: number, mode: 'normal' | 'drop' | 'duplicate', staleness: number, waitForLaunch: boolean): void {
    if (this.events.length === 0) return;
    const k = index % this.events.length;
    const trigger = this.events[k];
    if (mode !== 'duplicate') this.events.splice(k, 1);
    if (mode === 'drop') return;
    if (trigger.kind === 'launch' && waitForLaunch) {
      // The hook retries DescribeAutoScalingGroups until the new instance is in service.
      const inst = this.find(trigger.instanceId);
      if (inst?.state === 'pending') inst.state = 'inService';
    }
    const view = staleness === 0 || this.views.length === 0 ? this.view() : this.views[Math.max(0, this.views.length - staleness)];
    this.inflight.push({ trigger, view, record: this.leader });
  }

  /** Finishes an in-flight invocation: conditional write (re-read and re-decide on conflict), effects, lifecycle. */
  step(index: number): void {
    if (this.inflight.length === 0) return;
    const [inv] = this.inflight.splice(index % this.inflight.length, 1);
    this.invoke(inv.trigger, inv.view, inv.record);
  }

  /** The scheduled sweep, with a current view. */
  sweep(): void {
    this.invoke({ kind: 'sweep' }, this.view(), this.leader);
    const members = new Set(this.present().map((i) => i.id));
    for (const a of decideAbandon({ runs: [...this.runs.values()], members, now: this.now, graceMs: this.abandonGrace })) {
      const r = this.runs.get(a.key)!;
      if (r.attempt === a.attempt && r.status === 'RUNNING') this.runs.set(a.key, { ...r, status: 'ABANDONED' });
    }
  }

  private invoke(trigger: Trigger, view: GroupView, firstRead: LeaderRecord | undefined): void {
    let record = firstRead;
    for (let round = 0; round < 8; round++) {
      const decision = decideElection({ record, group: view, trigger, now: this.now });
      let after = record;
      if (decision.next) {
        if (!this.writeLeader(decision.next, record?.version ?? 0)) {
          record = this.leader; // ConditionalCheckFailed: read again, decide again
          continue;
        }
        after = decision.next;
      }
      this.applyEffects(deriveEffects({ record: after, before: record?.leader, group: view, trigger, protectLeader: this.protectLeader }));
      break;
    }
    if (trigger.kind === 'terminate') {
      const inst = this.find(trigger.instanceId);
      if (inst?.state === 'terminating') this.finishTerminate(inst);
    }
  }

  private writeLeader(next: LeaderRecord, expectedVersion: number): boolean {
    if ((this.leader?.version ?? 0) !== expectedVersion) return false;
    const prev = this.leader;
    if (next.leader !== undefined && next.term !== (prev?.term ?? 0)) {
      if (next.term <= this.maxTerm) throw new Violation(`term ${next.term} written after term ${this.maxTerm}: terms must strictly increase`);
      if (this.terms.has(next.term)) throw new Violation(`two leaders in term ${next.term}`);
      this.terms.set(next.term, next.leader);
      this.maxTerm = next.term;
    } else if (next.leader !== undefined && this.terms.get(next.term) !== next.leader) {
      throw new Violation(`term ${next.term} now names ${next.leader}, was ${this.terms.get(next.term)}`);
    }
    if (next.term < (prev?.term ?? 0)) throw new Violation(`term went down from ${prev?.term} to ${next.term}`);
    this.leader = next;
    return true;
  }

  private applyEffects(e: ReturnType<typeof deriveEffects>): void {
    const alive = (id: string) => {
      const i = this.find(id);
      return i && i.state !== 'terminated' ? i : undefined;
    };
    if (e.tag) {
      const i = alive(e.tag.instanceId);
      if (i) i.tag = e.tag.term;
    }
    for (const id of e.untag) {
      const i = alive(id);
      if (i) i.tag = undefined;
    }
    for (const id of e.protect) {
      const i = alive(id);
      if (i && i.state !== 'terminating') i.protected = true; // SetInstanceProtection refuses terminating instances
    }
    for (const id of e.unprotect) {
      const i = alive(id);
      if (i) i.protected = false;
    }
  }

  // ---------------------------------------------------------------------------------------- leader-only

  /** A new deployment: leader-only starts on some in-service instances at once. */
  deploy(mask: number, failMask = 0): string {
    const key = `d-${this.deployments.length + 1}#migrate`;
    this.deployments.push(key);
    this.successes.set(key, 0);
    const targets = this.instances.filter((i) => i.state === 'inService');
    targets.forEach((inst, n) => {
      if (n === 0 || (mask >> n) & 1) this.startProc(inst, key, ((failMask >> n) & 1) === 0);
    });
    return key;
  }

  startProc(inst: Inst, key: string, succeeds: boolean): void {
    this.procs.push({ inst: inst.id, boot: inst.boot, pid: this.nextPid++, key, phase: 'look', firstLook: true, succeeds });
  }

  /** Kills one leader-only process (the instance stays, same boot). */
  killProc(index: number): void {
    if (this.procs.length > 0) this.procs.splice(index % this.procs.length, 1);
  }

  /** Advances one leader-only process by one step; returns false when it has ended. */
  procStep(index: number): boolean {
    if (this.procs.length === 0) return false;
    const k = index % this.procs.length;
    const p = this.procs[k];
    const end = () => {
      this.procs.splice(k, 1);
      return false;
    };
    const record = this.runs.get(p.key);
    if (p.phase === 'look') {
      const d = decideClaim({
        record,
        me: { instanceId: p.inst, bootId: `boot-${p.boot}`, pid: p.pid },
        firstLook: p.firstLook,
        localProcessAlive: (pid) => this.procs.some((q) => q.inst === p.inst && q.pid === pid),
      });
      if (d.action === 'skip' || d.action === 'fail') return end();
      if (d.action === 'wait') {
        p.firstLook = false;
        return true;
      }
      p.phase = 'claim';
      p.attempt = d.attempt;
      p.expected = d.expectedAttempt;
      return true;
    }
    if (p.phase === 'claim') {
      const ok = p.expected === undefined ? record === undefined : record !== undefined && record.attempt === p.expected && record.status !== 'DONE';
      if (!ok) {
        p.phase = 'look';
        return true;
      }
      // The claim is written; the command starts. Nobody else may be running it on a live instance.
      for (const q of this.procs) {
        if (q !== p && q.key === p.key && q.phase === 'run') throw new Violation(`${p.key} started on ${p.inst} while running on ${q.inst}`);
      }
      if ((this.successes.get(p.key) ?? 0) > 0) throw new Violation(`${p.key} started again after it finished`);
      this.runs.set(p.key, { key: p.key, status: 'RUNNING', attempt: p.attempt!, owner: p.inst, bootId: `boot-${p.boot}`, pid: p.pid, startedAt: this.now });
      p.phase = 'run';
      return true;
    }
    // run -> finished
    const r = this.runs.get(p.key)!;
    if (r.attempt !== p.attempt || r.owner !== p.inst) throw new Violation(`${p.key} attempt ${p.attempt} on ${p.inst} was taken over while it ran`);
    this.runs.set(p.key, { ...r, status: p.succeeds ? 'DONE' : 'FAILED', finishedAt: this.now, exitCode: p.succeeds ? 0 : 1 });
    if (p.succeeds) this.successes.set(p.key, (this.successes.get(p.key) ?? 0) + 1);
    return end();
  }

  // --------------------------------------------------------------------------------------------- checks

  /** Whenever an instance is in service and healthy, the ledger names an in-service, healthy leader. */
  checkLeaderAfterSweep(): void {
    const eligible = this.instances.filter((i) => i.state === 'inService' && i.healthy);
    if (eligible.length === 0) return;
    const l = this.leader?.leader;
    const inst = l === undefined ? undefined : this.find(l);
    if (!inst || inst.state !== 'inService' || !inst.healthy) {
      throw new Violation(`after a sweep, ${eligible.length} instance(s) in service but the leader is ${l ?? 'none'} (${inst?.state ?? 'absent'})`);
    }
    if (inst.tag !== this.leader!.term) throw new Violation(`leader ${l} is tagged ${inst.tag}, ledger term ${this.leader!.term}`);
  }

  /** No two live instances carry the tag of the same term. */
  checkTags(): void {
    const seen = new Map<number, string>();
    for (const i of this.present()) {
      if (i.tag === undefined) continue;
      if (seen.has(i.tag)) throw new Violation(`${seen.get(i.tag)} and ${i.id} are both tagged leader of term ${i.tag}`);
      seen.set(i.tag, i.id);
    }
  }

  /**
   * Brings every deployment to its end the way operations would: lifecycle timeouts pass, the group has an
   * instance, the sweep abandons runs of departed instances, and leader-only is run again on the instances
   * until each deployment is done. Then every deployment must have run exactly once.
   */
  drain(): void {
    this.timeoutLifecycle();
    if (this.desired === 0) this.setDesired(1);
    this.reconcile();
    this.settle();
    this.now += this.abandonGrace + 1;
    this.sweep();
    // Processes still going finish or, when they only wait, time out (leader-only --wait-timeout).
    for (let guard = 0; this.procs.length > 0 && guard < 200; guard++) this.procStep(guard);
    this.procs.length = 0;
    for (const key of this.deployments) {
      for (let round = 0; this.runs.get(key)?.status !== 'DONE'; round++) {
        if (round > 20) throw new Violation(`${key} could not be brought to done: ${JSON.stringify(this.runs.get(key))}`);
        for (const inst of this.instances.filter((i) => i.state === 'inService')) {
          this.startProc(inst, key, true);
          for (let g = 0; this.procs.length > 0 && g < 10; g++) this.procStep(this.procs.length - 1);
          this.procs.length = 0;
          if (this.runs.get(key)?.status === 'DONE') break;
        }
      }
    }
    for (const key of this.deployments) {
      const n = this.successes.get(key) ?? 0;
      if (n !== 1) throw new Violation(`${key} ran ${n} times`);
    }
  }
}
