/**
 * Pure decisions of LeaderElection: no SDK, no environment, no clock (time is a parameter).
 *
 * Two things live in one DynamoDB ledger table (partition key `pk`, sort key `sk`):
 *
 * 1. The continuous leader of a group: one item at (pk = `<group>#leader`, sk = `leader`). Only the hook
 *    writes it, always with a condition on its `version`, so concurrent or duplicated invocations cannot both
 *    win. Its `term` grows by one each time a new leader is elected and never otherwise: it is the fencing
 *    token that other systems compare. The EC2 tag and scale-in protection are derived from this item, never
 *    the other way round.
 * 2. Once-per-deployment runs: one item per key at (pk = `<group>`, sk = `run#<key>`), claimed by
 *    instances with conditional writes. A finished run is never repeated; a failed or abandoned one can be
 *    claimed again by a later attempt.
 *
 * The instance role may use only this group's ledger table and may write no partition ending in `#leader`
 * (dynamodb:LeadingKeys), so an instance can claim runs but cannot make itself leader.
 */

/** The sort key of the leader item. */
export const LEADER_SK = 'leader';
/** Prefix of the sort key of run items. */
export const RUN_SK_PREFIX = 'run#';
/** How many departed instance ids the leader item remembers (instance ids never come back). */
export const DEPARTED_LIMIT = 100;
/**
 * A leader elected this recently that an event-driven invocation's DescribeAutoScalingGroups does not list at all
 * is kept: the answer is older than the ledger (a just-launched instance is often missing). The sweep does not
 * apply this grace, so a leader that really vanished is replaced at the next sweep at the latest.
 */
export const ABSENT_LEADER_GRACE_MS = 120_000;

/** Partition key of a group's leader item. */
export function leaderPk(group: string): string {
  return `${group}#leader`;
}

/** Partition key of a group's run items (the group name itself). */
export function runsPk(group: string): string {
  return group;
}

// ---------------------------------------------------------------------------------------------------------
// Continuous leader
// ---------------------------------------------------------------------------------------------------------

/** The ledger's leader item. */
export interface LeaderRecord {
  /** Fencing token: grows by one with every newly elected leader; 0 before the first election. */
  readonly term: number;
  /** The leading instance, absent while the group has no eligible instance. */
  readonly leader?: string;
  /** When the current leader was elected (ms since epoch). */
  readonly since?: number;
  /** Grows with every write; the condition of every write. */
  readonly version: number;
  /** The leader before the current one, whose tag and protection may need removing. */
  readonly previous?: string;
  /** Instances seen leaving the group (terminate lifecycle action): never elected again, whatever a stale read says. */
  readonly departed: readonly string[];
}

/** One instance as the Auto Scaling group reports it. */
export interface Member {
  readonly instanceId: string;
  /** Auto Scaling lifecycle state: Pending, InService, Terminating:Wait, Standby, ... */
  readonly lifecycleState: string;
  /** 'Healthy' or 'Unhealthy'. */
  readonly healthStatus: string;
  readonly protectedFromScaleIn: boolean;
}

/** What DescribeAutoScalingGroups says about the group (possibly stale). */
export interface GroupView {
  readonly desiredCapacity: number;
  readonly members: readonly Member[];
}

export type Trigger =
  | { readonly kind: 'launch'; readonly instanceId: string }
  /** `final: false` when the instance goes to a warm pool and may come back with the same id. */
  | { readonly kind: 'terminate'; readonly instanceId: string; readonly final?: boolean }
  | { readonly kind: 'sweep' };

export interface ElectionInput {
  /** The ledger's leader item, undefined when it was never written. */
  readonly record: LeaderRecord | undefined;
  readonly group: GroupView;
  readonly trigger: Trigger;
  /** ms since epoch */
  readonly now: number;
}

export interface ElectionDecision {
  /** The leader item to write (conditional on `record.version`), or undefined when nothing changes. */
  readonly next?: LeaderRecord;
  /** Why, for the log. */
  readonly reason: string;
}

export const EMPTY_RECORD: LeaderRecord = { term: 0, version: 0, departed: [] };

/** Whether an instance may lead: in service, healthy, not leaving. */
export function isEligible(member: Member | undefined, departed: ReadonlySet<string>): boolean {
  return (
    member !== undefined &&
    member.lifecycleState === 'InService' &&
    member.healthStatus === 'Healthy' &&
    !departed.has(member.instanceId)
  );
}

/** The candidate a new election picks: deterministic (lowest instance id) so that racing hooks agree. */
export function pickCandidate(group: GroupView, departed: ReadonlySet<string>): string | undefined {
  return group.members
    .filter((m) => isEligible(m, departed))
    .map((m) => m.instanceId)
    .sort()[0];
}

/**
 * Decides the leader item after an event.
 *
 * - The current leader stays while the group reports it in service and healthy, and no terminate lifecycle
 *   action has been seen for it (the ledger's `departed` list outranks a stale DescribeAutoScalingGroups).
 * - Otherwise the lowest-id eligible instance is elected with term + 1; with none eligible the item is left
 *   vacant (term unchanged, so the next leader still gets a larger term).
 * - A terminate lifecycle action adds the instance to `departed` even when it is not the leader, so a late or
 *   duplicated launch event for it can never elect it.
 */
export function decideElection(input: ElectionInput): ElectionDecision {
  const record = input.record ?? EMPTY_RECORD;
  const departedList = [...record.departed];
  let departedChanged = false;
  if (input.trigger.kind === 'terminate' && input.trigger.final !== false && !departedList.includes(input.trigger.instanceId)) {
    departedList.push(input.trigger.instanceId);
    departedChanged = true;
  }
  while (departedList.length > DEPARTED_LIMIT) departedList.shift();
  const departed = new Set(departedList);
  if (input.trigger.kind === 'terminate') departed.add(input.trigger.instanceId);

  const byId = new Map(input.group.members.map((m) => [m.instanceId, m]));
  const current = record.leader;
  const listed = current === undefined ? undefined : byId.get(current);
  const staleAnswer =
    current !== undefined &&
    listed === undefined &&
    input.trigger.kind !== 'sweep' &&
    !departed.has(current) &&
    record.since !== undefined &&
    input.now - record.since < ABSENT_LEADER_GRACE_MS;
  if (current !== undefined && (isEligible(listed, departed) || staleAnswer)) {
    if (!departedChanged) {
      return {
        reason: staleAnswer
          ? `leader ${current} (term ${record.term}, elected ${input.now - record.since!} ms ago) is not listed yet: the ledger outranks a stale answer`
          : `leader ${current} (term ${record.term}) is in service`,
      };
    }
    return {
      next: { ...record, departed: departedList, version: record.version + 1 },
      reason: `recorded departure of ${(input.trigger as { instanceId: string }).instanceId}; leader ${current} stays`,
    };
  }

  const candidate = pickCandidate(input.group, departed);
  const why = current === undefined ? 'no leader' : `leader ${current} is ${describeMember(byId.get(current), departed)}`;
  if (candidate !== undefined) {
    return {
      next: {
        term: record.term + 1,
        leader: candidate,
        since: input.now,
        version: record.version + 1,
        previous: current ?? record.previous,
        departed: departedList,
      },
      reason: `${why}: elected ${candidate} for term ${record.term + 1}`,
    };
  }
  if (current === undefined && !departedChanged) return { reason: 'no leader and no eligible instance' };
  return {
    next: {
      term: record.term,
      version: record.version + 1,
      previous: current ?? record.previous,
      departed: departedList,
    },
    reason: `${why}; no eligible instance: leadership vacant until one is in service`,
  };
}

function describeMember(member: Member | undefined, departed: ReadonlySet<string>): string {
  if (!member) return 'not in the group';
  if (departed.has(member.instanceId)) return 'leaving the group';
  return `${member.lifecycleState}/${member.healthStatus}`;
}

/** The side effects that make EC2 and Auto Scaling reflect the ledger. */
export interface Effects {
  /** Tag the leader with its term. */
  readonly tag?: { readonly instanceId: string; readonly term: number };
  /** Remove the leader tag from these instances. */
  readonly untag: readonly string[];
  /** Protect from scale-in. */
  readonly protect: readonly string[];
  /** Remove scale-in protection. */
  readonly unprotect: readonly string[];
}

export interface EffectsInput {
  /** The ledger after this invocation's write (or as read, when nothing was written). */
  readonly record: LeaderRecord | undefined;
  /** The leader before this invocation's write. */
  readonly before: string | undefined;
  readonly group: GroupView;
  readonly trigger: Trigger;
  /** Whether the construct protects the leader from scale-in. */
  readonly protectLeader: boolean;
}

/**
 * Derives tags and scale-in protection from the ledger. Idempotent: applying the effects twice changes nothing.
 *
 * The leader is protected while the group's desired capacity is at least two, so scaling in picks a follower.
 * Below two there is no follower to pick: at one the leader is the instance the group keeps anyway, and at zero
 * (the nightly stop) it must be free to go. So when the followers' terminate actions show desired capacity 1
 * or 0, the protection is lifted, and a later scale-in to zero never waits on it. Its terminate lifecycle
 * action then leaves leadership vacant until the morning's first instance is in service.
 * Only instances this construct protected (the current and previous leader) are ever unprotected.
 */
export function deriveEffects(input: EffectsInput): Effects {
  const record = input.record ?? EMPTY_RECORD;
  const byId = new Map(input.group.members.map((m) => [m.instanceId, m]));
  const leaving = new Set(record.departed);
  if (input.trigger.kind === 'terminate') leaving.add(input.trigger.instanceId);
  const present = (id: string | undefined): id is string => id !== undefined && byId.has(id) && !leaving.has(id);

  const untag = new Set<string>();
  const protect: string[] = [];
  const unprotect = new Set<string>();
  for (const old of [input.before, record.previous]) {
    if (old === undefined || old === record.leader) continue;
    // A departing leader (Terminating:Wait, or the instance this terminate event is about) still runs and still carries
    // the tag: remove it at hand-over, so only one instance is tagged. Protection matters only for one that stays.
    const departingNow = input.trigger.kind === 'terminate' && old === input.trigger.instanceId;
    if (byId.has(old) || departingNow) untag.add(old);
    if (present(old) && byId.get(old)!.protectedFromScaleIn) unprotect.add(old);
  }
  const leader = record.leader;
  let tag: Effects['tag'];
  if (leader !== undefined && byId.has(leader)) {
    tag = { instanceId: leader, term: record.term };
    const wantProtected = input.protectLeader && input.group.desiredCapacity >= 2 && !leaving.has(leader);
    const isProtected = byId.get(leader)!.protectedFromScaleIn;
    if (wantProtected && !isProtected) protect.push(leader);
    if (!wantProtected && isProtected) unprotect.add(leader);
  }
  // A leader the (stale) answer does not list gets its tag and protection from a later event or the sweep.
  return { tag, untag: [...untag].sort(), protect, unprotect: [...unprotect].sort() };
}

// ---------------------------------------------------------------------------------------------------------
// Once-per-deployment runs
// ---------------------------------------------------------------------------------------------------------

export type RunStatus = 'RUNNING' | 'DONE' | 'FAILED' | 'ABANDONED';

/** A run item of the ledger. */
export interface RunRecord {
  readonly key: string;
  readonly status: RunStatus;
  /** Grows with every claim; the fencing token of the run. */
  readonly attempt: number;
  readonly owner: string;
  readonly bootId: string;
  readonly pid: number;
  /** ms since epoch */
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly exitCode?: number;
}

/** The process that wants to run the command. */
export interface Claimant {
  readonly instanceId: string;
  /** /proc/sys/kernel/random/boot_id: changes with every boot, so a run cut short by a reboot can be reclaimed. */
  readonly bootId: string;
  readonly pid: number;
}

export type ClaimDecision =
  /** Claim the run with this attempt number; the write is conditional on `expectedAttempt` (undefined: item absent). */
  | { readonly action: 'claim'; readonly attempt: number; readonly expectedAttempt: number | undefined; readonly reason: string }
  /** Someone finished it: do not run again. */
  | { readonly action: 'skip'; readonly reason: string }
  /** Someone is running it now: wait and look again. */
  | { readonly action: 'wait'; readonly reason: string }
  /** The run this process waited for failed: stop with an error (a later invocation may claim it again). */
  | { readonly action: 'fail'; readonly reason: string };

export interface ClaimInput {
  readonly record: RunRecord | undefined;
  readonly me: Claimant;
  /**
   * Whether this is the invocation's first look. A fresh invocation may claim a FAILED run again; a process
   * that waited on another instance's attempt stops when that attempt fails, so one bad migration is not
   * retried by every instance of the deployment.
   */
  readonly firstLook: boolean;
  /** For runs owned by this instance in this boot: whether the owning process is still alive. */
  readonly localProcessAlive: (pid: number) => boolean;
}

/** Decides what a leader-only invocation does, given the run item it read. */
export function decideClaim(input: ClaimInput): ClaimDecision {
  const r = input.record;
  if (r === undefined) return { action: 'claim', attempt: 1, expectedAttempt: undefined, reason: 'first claim' };
  const again = { action: 'claim' as const, attempt: r.attempt + 1, expectedAttempt: r.attempt };
  switch (r.status) {
    case 'DONE':
      return { action: 'skip', reason: `already done by ${r.owner} (attempt ${r.attempt})` };
    case 'ABANDONED':
      return { ...again, reason: `attempt ${r.attempt} by ${r.owner} was abandoned (its instance left the group)` };
    case 'FAILED':
      return input.firstLook
        ? { ...again, reason: `attempt ${r.attempt} by ${r.owner} failed; trying again` }
        : { action: 'fail', reason: `attempt ${r.attempt} by ${r.owner} failed (exit code ${r.exitCode ?? 'unknown'})` };
    case 'RUNNING':
      if (r.owner === input.me.instanceId) {
        if (r.bootId !== input.me.bootId) {
          return { ...again, reason: `attempt ${r.attempt} was cut short by a reboot of this instance` };
        }
        if (r.pid !== input.me.pid && !input.localProcessAlive(r.pid)) {
          return { ...again, reason: `attempt ${r.attempt} died with its process ${r.pid} on this instance` };
        }
      }
      return { action: 'wait', reason: `attempt ${r.attempt} is running on ${r.owner}` };
  }
}

export interface AbandonInput {
  readonly runs: readonly RunRecord[];
  /** Every instance the group lists, in any lifecycle state (a Terminating:Wait instance may still be running it). */
  readonly members: ReadonlySet<string>;
  readonly now: number;
  /** A run younger than this is never abandoned (its owner may be too new for the group's answer). */
  readonly graceMs: number;
}

/** Runs whose owner has left the group: marked ABANDONED (conditional on their attempt) so a later attempt may claim them. */
export function decideAbandon(input: AbandonInput): Array<{ key: string; attempt: number; owner: string }> {
  return input.runs
    .filter((r) => r.status === 'RUNNING' && !input.members.has(r.owner) && input.now - r.startedAt >= input.graceMs)
    .map((r) => ({ key: r.key, attempt: r.attempt, owner: r.owner }));
}

/** The run key of a command: the deployment (or revision) and a name that tells commands of one deployment apart. */
export function runKey(deployment: string, name: string): string {
  return `${deployment}#${name}`;
}

/** A short, stable name for a command line (FNV-1a, hex), used when no --name is given. */
export function commandName(argv: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const ch of argv.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `cmd-${h.toString(16).padStart(8, '0')}`;
}
