/**
 * decideNames and planChanges at every branch: which instance counts as a writer, which replica is kept, and what the
 * notes say when a name is left alone. Addresses are written out; nothing is read back from the module.
 */
import { decideNames, planChanges, type DbInstance } from '../../lambda/mysql-name-follower/logic';

const address = (id: string): string => `${id}.abcexample.eu-west-1.rds.amazonaws.com`;
const i = (id: string, extra: Partial<DbInstance> = {}): DbInstance => ({ id, status: 'available', address: address(id), ...extra });

describe('decideNames: who is the writer', () => {
  test('a lone untagged standalone instance is the master, its replica db-replica, and nothing is noted', () => {
    expect(decideNames([i('a'), i('b', { replicaSource: 'a' })], {})).toEqual({
      master: 'a.abcexample.eu-west-1.rds.amazonaws.com',
      masterId: 'a',
      replica: 'b.abcexample.eu-west-1.rds.amazonaws.com',
      replicaId: 'b',
      notes: [],
    });
  });

  test('an instance that is not serving does not count, even with an address', () => {
    const d = decideNames([i('a', { status: 'stopped' }), i('b'), i('c', { replicaSource: 'b' })], {});
    expect(d).toMatchObject({ masterId: 'b', replicaId: 'c', notes: [] });
  });

  test('a serving instance without an address yet does not count', () => {
    const d = decideNames([i('a', { address: undefined }), i('b'), i('c', { replicaSource: 'b' })], {});
    expect(d).toMatchObject({ masterId: 'b', replicaId: 'c', notes: [] });
  });

  test('a retired standalone instance (the old primary after a promotion) is not a writer', () => {
    const d = decideNames([i('old', { role: 'retired' }), i('new')], {});
    expect(d).toMatchObject({ masterId: 'new', replicaId: 'new' });
  });

  test('of two standalone writers the one tagged primary wins, whatever db-master names now', () => {
    const d = decideNames([i('a'), i('b', { role: 'primary' }), i('c', { replicaSource: 'b' })], { master: address('a') });
    expect(d).toMatchObject({ master: address('b'), masterId: 'b', replicaId: 'c', notes: [] });
  });

  test('of two untagged writers the one db-master names now is kept, and that is noted', () => {
    const d = decideNames([i('a'), i('b'), i('c', { replicaSource: 'b' })], { master: `${address('B').toUpperCase()}.` });
    expect(d).toEqual({
      master: address('b'),
      masterId: 'b',
      replica: address('c'),
      replicaId: 'c',
      notes: ['several standalone instances (a, b); kept the current master'],
    });
  });

  test('two tagged primaries are as ambiguous as none: db-master keeps its value', () => {
    const d = decideNames([i('a', { role: 'primary' }), i('b', { role: 'primary' })], { master: 'old.example', replica: 'old-r.example' });
    expect(d).toEqual({
      master: 'old.example',
      masterId: undefined,
      replica: 'old-r.example',
      replicaId: undefined,
      notes: ['several standalone instances (a, b) and none tagged primary; db-master left as it is'],
    });
  });

  test('no serving writer: both names stay, and the note says so', () => {
    const d = decideNames([i('r', { replicaSource: 'gone' })], { master: 'm.example', replica: 'r.example' });
    expect(d).toEqual({ master: 'm.example', masterId: undefined, replica: 'r.example', replicaId: undefined, notes: ['no serving primary; db-master left as it is'] });
  });
});

describe('decideNames: which replica', () => {
  test('only replicas of the writer count (a replica of another source does not)', () => {
    const d = decideNames([i('a', { role: 'primary' }), i('b', { replicaSource: 'elsewhere' })], {});
    expect(d).toEqual({
      master: address('a'),
      masterId: 'a',
      replica: address('a'),
      replicaId: 'a',
      notes: ['no serving replica of a; db-replica points at the master so reads still work'],
    });
  });

  test('of several replicas, the first by identifier, whatever order RDS lists them in', () => {
    const d = decideNames([i('a'), i('r2', { replicaSource: 'a' }), i('r1', { replicaSource: 'a' })], {});
    expect(d).toMatchObject({ replicaId: 'r1', notes: [] });
  });

  test('the writers in the note are listed by identifier', () => {
    const d = decideNames([i('b'), i('a')], {});
    expect(d.notes).toEqual(['several standalone instances (a, b) and none tagged primary; db-master left as it is']);
  });
});

describe('planChanges', () => {
  const names = { master: 'db-master.shop.db.internal', replica: 'db-replica.shop.db.internal' };

  test('a name with no answer is not written (never emptied)', () => {
    expect(planChanges(names, { master: { value: 'x.example', ttl: 30 } }, { replica: 'b.example', notes: [] }, 30)).toEqual([
      { name: 'db-replica.shop.db.internal', value: 'b.example', ttl: 30 },
    ]);
    expect(planChanges(names, {}, { notes: [] }, 30)).toEqual([]);
  });

  test('a name that does not exist yet is created', () => {
    expect(planChanges(names, {}, { master: 'a.example', replica: 'a.example', notes: [] }, 60)).toEqual([
      { name: 'db-master.shop.db.internal', value: 'a.example', ttl: 60 },
      { name: 'db-replica.shop.db.internal', value: 'a.example', ttl: 60 },
    ]);
  });
});
