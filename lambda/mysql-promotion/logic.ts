/**
 * Pure decisions of the promotion runbook, one function per step. No SDK, no environment, no clock.
 *
 * The runbook (a Step Functions state machine calls the hook once per step):
 *   plan -> promote -> awaitPromoted -> retag -> moveMaster -> makeMultiAz -> awaitAvailable -> createReplica
 *   -> awaitReplica -> moveReplica
 * Every step reads the world first and acts only when the world is not already as the step wants it, so the whole
 * state machine can be started again after a failure half-way and continues where it stopped. Progress lives in RDS
 * itself (tags and replication state), not in the execution: the promotion tag `in-progress` marks the instance chosen
 * until the last step sets it to `done`, so a new execution finishes that promotion instead of starting another.
 */
import { idOf, SERVING, type DbInstance } from '../mysql-shared/instances';

export interface Plan {
  readonly cluster: string;
  /** The instance being promoted to primary. */
  readonly target: string;
  /** The primary it replaces, when there is one (it is retired, never deleted). */
  readonly oldPrimary?: string;
}

export type PlanResult = { readonly ok: true; readonly plan: Plan } | { readonly ok: false; readonly reason: string };

/**
 * Chooses what to promote: an instance whose promotion is `in-progress` (a re-run), else the requested replica, else the first
 * serving replica of the current primary (by identifier, for a deterministic choice).
 */
export function choosePlan(cluster: string, members: readonly DbInstance[], requested?: string): PlanResult {
  const inFlight = members.filter((m) => m.promotion === 'in-progress');
  const primaries = members.filter((m) => !m.replicaSource && m.role !== 'retired' && m.promotion !== 'in-progress');
  const primary = primaries.find((p) => p.role === 'primary') ?? (primaries.length === 1 ? primaries[0] : undefined);
  if (inFlight.length > 1) return { ok: false, reason: `several instances are marked promoting (${inFlight.map((m) => m.id).join(', ')}); fix the tags by hand` };
  if (inFlight.length === 1) {
    if (requested && requested !== inFlight[0].id) {
      return { ok: false, reason: `a promotion of ${inFlight[0].id} is under way; finish it (start again without a replica) before promoting ${requested}` };
    }
    const target = inFlight[0];
    const old = target.replicaSource ? idOf(target.replicaSource) : members.find((m) => m.role === 'primary' && m.id !== target.id)?.id;
    return { ok: true, plan: { cluster, target: target.id, oldPrimary: old } };
  }
  if (requested) {
    const r = members.find((m) => m.id === requested);
    if (!r) return { ok: false, reason: `replica ${requested} is not a member of cluster ${cluster}` };
    if (!r.replicaSource) return { ok: false, reason: `${requested} is not a read replica (it is already standalone)` };
    return { ok: true, plan: { cluster, target: r.id, oldPrimary: idOf(r.replicaSource) } };
  }
  const candidates = members
    .filter((m) => m.replicaSource && SERVING.has(m.status) && (!primary || idOf(m.replicaSource) === primary.id))
    .sort((a, b) => a.id.localeCompare(b.id));
  if (candidates.length === 0) return { ok: false, reason: `cluster ${cluster} has no serving read replica to promote` };
  return { ok: true, plan: { cluster, target: candidates[0].id, oldPrimary: idOf(candidates[0].replicaSource!) } };
}

export type PromoteAction = 'promote' | 'already-promoted' | 'in-progress' | 'not-yet' | 'missing';

/**
 * Whether PromoteReadReplica is still needed for the target. RDS refuses to promote a replica that is backing up
 * (PromoteReadReplica API Reference), so any status but `available` means "not yet": the await step issues the
 * promotion as soon as the replica is available again.
 */
export function promoteAction(target: DbInstance | undefined): PromoteAction {
  if (!target) return 'missing';
  if (!target.replicaSource) return 'already-promoted';
  // After PromoteReadReplica a replica is "modifying" (then "rebooting") and still reports its source until done.
  if (target.status === 'modifying' || target.status === 'rebooting') return 'in-progress';
  if (target.status !== 'available') return 'not-yet';
  return 'promote';
}

/** Ready for the next step: available, and (for a promotion) no longer a replica. */
export function isReady(instance: DbInstance | undefined, wantStandalone: boolean): boolean {
  return !!instance && instance.status === 'available' && !!instance.address && (!wantStandalone || !instance.replicaSource);
}

/** Whether the new primary still needs Multi-AZ turned on (a promoted replica is Single-AZ). */
export function needsMultiAz(instance: DbInstance | undefined, wanted: boolean): boolean {
  return wanted && !!instance && instance.multiAz === false;
}

/**
 * The new replica's identifier: derived from the new primary, so a re-run finds the replica it created before instead of
 * creating a second one. At most 63 characters, as RDS allows.
 */
export function replicaIdFor(cluster: string, primaryId: string): string {
  let h = 0x811c9dc5;
  for (const ch of primaryId) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const suffix = `-r-${h.toString(36)}`;
  return `${cluster.slice(0, 63 - suffix.length)}${suffix}`.replace(/--+/g, '-');
}

export type CreateAction = 'create' | 'exists' | 'conflict';

/** Create the replica unless an instance of that id exists (ours, from an earlier run) or belongs to something else. */
export function createReplicaAction(existing: DbInstance | undefined, primaryId: string): CreateAction {
  if (!existing) return 'create';
  if (existing.replicaSource && idOf(existing.replicaSource) === primaryId) return 'exists';
  return 'conflict';
}
