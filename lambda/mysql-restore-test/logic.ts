/**
 * Pure decisions of the backup verification job: which snapshot to restore, the temporary instance's name, which
 * leftovers to delete, and the metric values. No SDK, no environment, no clock (time is a parameter).
 */

import type { DbInstance } from '../mysql-shared/instances';

/** The member tagged primary and standalone, when exactly one is. */
export function currentPrimary(members: readonly DbInstance[]): string | undefined {
  const tagged = members.filter((m) => m.role === 'primary' && !m.replicaSource);
  return tagged.length === 1 ? tagged[0].id : undefined;
}

export interface Snapshot {
  readonly id: string;
  readonly status: string;
  readonly createdAt?: Date;
  readonly instanceId: string;
}

/** The newest available snapshot, or undefined. */
export function latestSnapshot(snapshots: readonly Snapshot[]): Snapshot | undefined {
  return snapshots
    .filter((s) => s.status === 'available' && s.createdAt)
    .sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime() || a.id.localeCompare(b.id))[0];
}

/** Hours since the snapshot was taken; the job fails when backups stopped (the newest one is too old). */
export function snapshotAgeHours(snapshot: Snapshot, now: Date): number {
  return (now.getTime() - snapshot.createdAt!.getTime()) / 3_600_000;
}

/** The temporary instance's identifier: derived from the snapshot, so a re-run reuses the instance it started. */
export function tempInstanceId(cluster: string, snapshotId: string): string {
  let h = 0x811c9dc5;
  for (const ch of snapshotId) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const suffix = `-verify-${h.toString(36)}`;
  return `${cluster.slice(0, 63 - suffix.length)}${suffix}`.replace(/--+/g, '-');
}

/** Where the temporary copy comes from. */
export type RestoreSource = 'point-in-time' | 'snapshot';

/**
 * The key a point-in-time restore is named after: the source and the hour, so a retried start step within the hour
 * finds the instance it already started, and the next scheduled run makes a new one.
 */
export function pointInTimeKey(primaryId: string, now: Date): string {
  return `${primaryId}@${now.toISOString().slice(0, 13)}`;
}

/** Hours between `then` and `now`. */
export function hoursSince(then: Date, now: Date): number {
  return (now.getTime() - then.getTime()) / 3_600_000;
}

export interface Candidate {
  readonly id: string;
  readonly status: string;
  /** Value of the verify tag, when present. */
  readonly verifyTag?: string;
}

/**
 * Temporary instances to delete: every instance carrying this cluster's verify tag (this run's and any a crashed run
 * left), never one without the tag, and none already being deleted.
 */
export function toDelete(instances: readonly Candidate[], cluster: string): string[] {
  return instances
    .filter((i) => i.verifyTag === cluster && i.status !== 'deleting')
    .map((i) => i.id)
    .sort();
}

export interface MetricValues {
  readonly verified: 0 | 1;
  readonly failures: number;
  readonly ageHours?: number;
}

/** What the job reports: 1 when the restored copy passed every check, 0 otherwise (including when it never got that far). */
export function metricValues(passed: boolean, failures: number, ageHours?: number): MetricValues {
  return { verified: passed ? 1 : 0, failures: passed ? 0 : Math.max(1, failures), ageHours };
}
