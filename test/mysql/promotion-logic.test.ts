/**
 * The promotion runbook's pure decisions at every branch: which standalone instance is the current primary (so only its
 * replicas are candidates), resuming an in-flight promotion, and each step's "nothing left to do" test.
 */
import { choosePlan, createReplicaAction, isReady, promoteAction, replicaIdFor } from '../../lambda/mysql-promotion/logic';
import type { DbInstance } from '../../lambda/mysql-shared/instances';

const i = (id: string, extra: Partial<DbInstance> = {}): DbInstance => ({ id, status: 'available', address: `${id}.abcexample.eu-west-1.rds.amazonaws.com`, ...extra });

describe('choosePlan: only replicas of the current primary are candidates', () => {
  test('a lone untagged standalone instance is the primary: a replica of another source is passed over', () => {
    // 'a-stray' sorts first, but replicates from an instance outside the cluster.
    const members = [i('p'), i('a-stray', { replicaSource: 'outside' }), i('r', { replicaSource: 'p' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r', oldPrimary: 'p' } });
  });

  test('the instance tagged primary is the primary even beside another standalone instance', () => {
    const members = [i('q'), i('p', { role: 'primary' }), i('a-of-q', { replicaSource: 'q' }), i('b-of-p', { replicaSource: 'arn:aws:rds:eu-west-1:123456789012:db:p' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'b-of-p', oldPrimary: 'p' } });
  });

  test('a retired old primary is not the primary: its leftover replica is passed over', () => {
    const members = [i('old', { role: 'retired' }), i('p'), i('a-of-old', { replicaSource: 'old' }), i('b-of-p', { replicaSource: 'p' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'b-of-p', oldPrimary: 'p' } });
  });

  test('a primary whose promotion tag was emptied by hand still counts as the primary', () => {
    const members = [i('p', { promotion: '' }), i('a-stray', { replicaSource: 'outside' }), i('r', { replicaSource: 'p' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r', oldPrimary: 'p' } });
  });

  test('two untagged standalone instances: no primary is assumed, every serving replica is a candidate (first by id)', () => {
    const members = [i('q'), i('p'), i('r-of-q', { replicaSource: 'q' }), i('r-of-p', { replicaSource: 'p' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r-of-p', oldPrimary: 'p' } });
  });

  test('a replica that is not serving is no candidate', () => {
    const members = [i('p'), i('r1', { replicaSource: 'p', status: 'creating' }), i('r2', { replicaSource: 'p', status: 'backing-up' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r2', oldPrimary: 'p' } });
  });
});

describe('choosePlan: a promotion in flight', () => {
  test('two instances marked promoting: refuses, naming both', () => {
    const members = [i('p'), i('r1', { replicaSource: 'p', promotion: 'in-progress' }), i('r2', { replicaSource: 'p', promotion: 'in-progress' })];
    expect(choosePlan('c', members)).toEqual({ ok: false, reason: 'several instances are marked promoting (r1, r2); fix the tags by hand' });
  });

  test('asked for the replica that is already being promoted: continues it', () => {
    const members = [i('p', { role: 'primary' }), i('r1', { replicaSource: 'p', promotion: 'in-progress' })];
    expect(choosePlan('c', members, 'r1')).toEqual({ ok: true, plan: { cluster: 'c', target: 'r1', oldPrimary: 'p' } });
  });

  test('the target already promoted but not yet retagged: the old primary is the other one tagged primary', () => {
    const members = [i('p', { role: 'primary' }), i('r1', { promotion: 'in-progress' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r1', oldPrimary: 'p' } });
  });

  test('the target already promoted and tagged primary itself: it is not its own old primary', () => {
    const members = [i('p', { role: 'retired' }), i('r1', { role: 'primary', promotion: 'in-progress' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r1', oldPrimary: undefined } });
  });
});

describe('step decisions', () => {
  test('a replica that is rebooting after PromoteReadReplica is in progress, not promoted again', () => {
    expect(promoteAction(i('r', { replicaSource: 'p', status: 'rebooting' }))).toBe('in-progress');
  });

  test('ready means available: a modifying instance with an address is not ready', () => {
    expect(isReady(i('r', { status: 'modifying' }), false)).toBe(false);
    expect(isReady(i('r', { address: undefined }), false)).toBe(false);
    expect(isReady(undefined, false)).toBe(false);
    expect(isReady(i('r', { replicaSource: 'p' }), false)).toBe(true);
  });

  test('an instance at the replica id that replicates from another source is a conflict, not ours', () => {
    expect(createReplicaAction(i('n', { replicaSource: 'someone-else' }), 'p')).toBe('conflict');
    expect(createReplicaAction(i('n', { replicaSource: 'p' }), 'p')).toBe('exists');
  });
});

describe('replicaIdFor', () => {
  test('is a fixed FNV-1a of the primary (a changed hash would make a re-run after an upgrade create a second replica)', () => {
    expect(replicaIdFor('shop', 'shop-replica-1')).toBe(replicaIdFor('shop', 'shop-replica-1'));
    expect(replicaIdFor('shop', 'a')).toBe('shop-r-1r9wi7g');
  });

  test('collapses any run of hyphens where the cluster name ends in some', () => {
    expect(replicaIdFor('shop--', 'a')).toBe('shop-r-1r9wi7g');
    expect(replicaIdFor('shop---', 'a')).toBe('shop-r-1r9wi7g');
  });

  test('a long cluster name is cut so the id is exactly 63 characters', () => {
    const id = replicaIdFor('c'.repeat(80), 'a');
    expect(id).toBe(`${'c'.repeat(53)}-r-1r9wi7g`);
    expect(id).toHaveLength(63);
  });
});
