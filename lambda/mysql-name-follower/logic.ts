/**
 * Pure decisions of the name follower: which DB instance db-master and db-replica should name, given what RDS reports.
 * No SDK, no environment, no clock.
 *
 * RDS events are best effort and may come late, twice or never, so an event is only a prompt: the answer is always
 * recomputed in full from DescribeDBInstances. A name is never emptied (a CNAME to a gone instance fails the same way as
 * no name, and an empty one hides which instance it was); when nothing qualifies the name stays as it is.
 */

import { idOf, SERVING, type CurrentNames, type DbInstance, type Desired, type RecordChange } from '../mysql-shared/instances';

export { idOf, SERVING, type CurrentNames, type DbInstance, type Desired, type RecordChange };

const norm = (host: string | undefined): string | undefined => (host ? host.toLowerCase().replace(/\.$/, '') : undefined);

/** Which instance each name should point at. */
export function decideNames(instances: readonly DbInstance[], current: CurrentNames): Desired {
  const notes: string[] = [];
  const serving = instances.filter((i) => SERVING.has(i.status) && i.address).sort((a, b) => a.id.localeCompare(b.id));
  const writers = serving.filter((i) => !i.replicaSource && i.role !== 'retired');
  let writer: DbInstance | undefined;
  if (writers.length === 1) {
    writer = writers[0];
  } else if (writers.length > 1) {
    const tagged = writers.filter((w) => w.role === 'primary');
    const keep = writers.find((w) => norm(w.address) === norm(current.master));
    if (tagged.length === 1) writer = tagged[0];
    else if (keep) {
      writer = keep;
      notes.push(`several standalone instances (${writers.map((w) => w.id).join(', ')}); kept the current master`);
    } else {
      notes.push(`several standalone instances (${writers.map((w) => w.id).join(', ')}) and none tagged primary; db-master left as it is`);
    }
  } else {
    notes.push('no serving primary; db-master left as it is');
  }
  let replica: DbInstance | undefined;
  if (writer) {
    const replicas = serving.filter((i) => i.replicaSource && idOf(i.replicaSource) === writer!.id);
    replica = replicas.find((r) => norm(r.address) === norm(current.replica)) ?? replicas[0];
    if (!replica) notes.push(`no serving replica of ${writer.id}; db-replica points at the master so reads still work`);
  }
  const replicaTarget = replica ?? writer;
  return {
    master: writer ? norm(writer.address) : norm(current.master),
    masterId: writer?.id,
    replica: replicaTarget ? norm(replicaTarget.address) : norm(current.replica),
    replicaId: replicaTarget?.id,
    notes,
  };
}

/** UPSERTs for names whose value or TTL differs; nothing when both already hold the answer. */
export function planChanges(
  names: { readonly master: string; readonly replica: string },
  current: { readonly master?: { value: string; ttl: number }; readonly replica?: { value: string; ttl: number } },
  desired: Desired,
  ttl: number,
): RecordChange[] {
  const out: RecordChange[] = [];
  const consider = (name: string, now: { value: string; ttl: number } | undefined, want: string | undefined) => {
    if (!want) return;
    if (now && norm(now.value) === want && now.ttl === ttl) return;
    out.push({ name, value: want, ttl });
  };
  consider(names.master, current.master, desired.master);
  consider(names.replica, current.replica, desired.replica);
  return out;
}
