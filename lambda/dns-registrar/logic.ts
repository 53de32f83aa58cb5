/**
 * Pure decisions of the DNS registrar: which instances belong in the record set, which addresses it should
 * hold, and which Route 53 change (if any) brings it there. No SDK, no environment, no clock.
 *
 * The source of truth is the Auto Scaling group (its members and their lifecycle states), never the record
 * itself and never DescribeInstances alone: the record is recomputed in full on every event and every sweep,
 * so a lost, late or duplicated event is repaired by the next one.
 */

/** What woke the registrar. */
export type Trigger =
  /** A launch lifecycle hook holds the instance in Pending:Wait (only with registerBeforeInService). */
  | { readonly kind: 'launching'; readonly instanceId: string }
  /** The group reports the launch successful: the instance is (about to be) InService. */
  | { readonly kind: 'launched'; readonly instanceId: string }
  /** A termination lifecycle hook holds the instance in Terminating:Wait: take it out of the name first. */
  | { readonly kind: 'terminating'; readonly instanceId: string }
  /** The group reports the instance terminated. */
  | { readonly kind: 'terminated'; readonly instanceId: string }
  /** The periodic sweep: repair whatever drifted. */
  | { readonly kind: 'sweep' };

/** One member of the Auto Scaling group, as DescribeAutoScalingGroups reports it. */
export interface GroupMember {
  readonly instanceId: string;
  /** For example InService, Pending:Wait, Terminating:Wait, Standby. */
  readonly lifecycleState: string;
  /** Healthy or Unhealthy. */
  readonly healthStatus: string;
}

/** The record set as Route 53 holds it now. */
export interface CurrentRecord {
  readonly ttl: number;
  readonly values: readonly string[];
}

export interface RegistrarConfig {
  /** Seconds. */
  readonly ttl: number;
  /** One value only (a single host name such as db-master), instead of every serving instance (round robin). */
  readonly singleHost: boolean;
  /** Count instances in Pending:Wait / Pending:Proceed as serving (registration before InService). */
  readonly includePending: boolean;
}

/**
 * A change as one atomic Route 53 change batch. Every change names the record as it was read (DELETE needs the exact
 * TTL and values, CREATE fails if the name exists), so the batch is a compare-and-swap: if another invocation changed
 * the record in between, Route 53 rejects the whole batch and the registrar reads again, instead of overwriting a newer
 * record with an older view of the group (which UPSERT, last writer wins, would do).
 */
export type Change =
  | { readonly action: 'NONE' }
  /** No record yet: CREATE it. */
  | { readonly action: 'CREATE'; readonly ttl: number; readonly values: readonly string[] }
  /** DELETE the record as read, and CREATE it with the new values, in one batch. */
  | { readonly action: 'REPLACE'; readonly from: CurrentRecord; readonly ttl: number; readonly values: readonly string[] }
  /** Nothing serves: DELETE the record as read. */
  | { readonly action: 'DELETE'; readonly ttl: number; readonly values: readonly string[] };

/** Route 53 accepts at most 400 values in one record set. */
export const MAX_VALUES = 400;

const PENDING = new Set(['Pending', 'Pending:Wait', 'Pending:Proceed']);

/**
 * Instance ids that belong in the name, in a stable order: healthy InService members (and pending ones when
 * `includePending`), plus the instance that the trigger says is launching or launched (the group's own view may
 * lag behind the event), minus the instance that the trigger says is leaving (its state may still read InService).
 */
export function servingInstanceIds(members: readonly GroupMember[], trigger: Trigger, config: RegistrarConfig): string[] {
  const serving = new Set<string>();
  for (const m of members) {
    if (m.healthStatus !== 'Healthy') continue;
    if (m.lifecycleState === 'InService' || (config.includePending && PENDING.has(m.lifecycleState))) {
      serving.add(m.instanceId);
    }
  }
  if (trigger.kind === 'launching' || trigger.kind === 'launched') {
    const member = members.find((m) => m.instanceId === trigger.instanceId);
    // Only if the group still counts it and it is not on its way out (a late event must not resurrect it).
    const joinable = member !== undefined && member.healthStatus === 'Healthy' && (member.lifecycleState === 'InService' || PENDING.has(member.lifecycleState));
    const allowed = trigger.kind === 'launched' || config.includePending;
    if (joinable && allowed) serving.add(trigger.instanceId);
  }
  if (trigger.kind === 'terminating' || trigger.kind === 'terminated') {
    serving.delete(trigger.instanceId);
  }
  return [...serving].sort();
}

/**
 * The values the record should hold. Instances without an address yet are skipped (the next event or sweep
 * adds them). A single-host name keeps its current value while that host still serves (no needless flip),
 * otherwise takes the lowest address.
 */
export function desiredValues(
  servingIds: readonly string[],
  addresses: ReadonlyMap<string, string>,
  current: CurrentRecord | undefined,
  singleHost: boolean,
): string[] {
  const values = sortAddresses([...new Set(servingIds.map((id) => addresses.get(id)).filter((a): a is string => !!a))]);
  if (!singleHost) return values.slice(0, MAX_VALUES);
  if (values.length === 0) return [];
  const sticky = current?.values.find((v) => values.includes(v));
  return [sticky ?? values[0]];
}

/** The change that makes the record equal to `desired`: nothing when it already is (idempotent). */
export function planChange(current: CurrentRecord | undefined, desired: readonly string[], ttl: number): Change {
  const hasCurrent = current !== undefined && current.values.length > 0;
  if (desired.length === 0) {
    return hasCurrent ? { action: 'DELETE', ttl: current.ttl, values: [...current.values] } : { action: 'NONE' };
  }
  if (hasCurrent && current.ttl === ttl && sameSet(current.values, desired)) return { action: 'NONE' };
  const values = sortAddresses([...desired]);
  return hasCurrent ? { action: 'REPLACE', from: { ttl: current.ttl, values: [...current.values] }, ttl, values } : { action: 'CREATE', ttl, values };
}

/** Route 53's normalised form of a name: lower case, no trailing dot. */
export function normaliseName(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

/** Whether a lifecycle action should be completed right away (CONTINUE) after the record is right. */
export function completeNow(trigger: Trigger, drainSeconds: number): boolean {
  if (trigger.kind === 'launching') return true;
  // Leaving: let cached answers (TTL) expire first. With a drain time the hook's heartbeat timeout
  // (default result CONTINUE) ends the wait, so no function has to sleep through it.
  if (trigger.kind === 'terminating') return drainSeconds <= 0;
  return false;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((v) => set.has(v));
}

/** Sorts IPv4 addresses numerically (10.0.0.9 before 10.0.0.10); anything else after, as text. */
export function sortAddresses(values: string[]): string[] {
  const key = (v: string) => {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(v);
    return m ? m.slice(1).map((o) => o.padStart(3, '0')).join('.') : `~${v}`;
  };
  return values.sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
}
