/**
 * The backup verification job's pure decisions at their edges: the primary it restores from, the temporary instance's
 * name (stable, at most 63 characters), and the order it deletes leftovers in. Expected values are written out.
 */
import { currentPrimary, tempInstanceId, toDelete } from '../../lambda/mysql-restore-test/logic';

describe('currentPrimary', () => {
  test('exactly one standalone member tagged primary, else none (never a guess between two)', () => {
    const p = (id: string, extra: object = {}) => ({ id, status: 'available', role: 'primary', ...extra });
    expect(currentPrimary([p('a'), { id: 'b', status: 'available', replicaSource: 'a' }])).toBe('a');
    expect(currentPrimary([p('a'), p('b')])).toBeUndefined();
    expect(currentPrimary([p('a', { replicaSource: 'x' })])).toBeUndefined();
    expect(currentPrimary([])).toBeUndefined();
  });
});

describe('tempInstanceId', () => {
  // FNV-1a (32 bit) of "a" is 0xe40c292c, "1r9wi7g" in base 36.
  test('is the cluster and a fixed hash of the snapshot', () => {
    expect(tempInstanceId('shop', 'a')).toBe('shop-verify-1r9wi7g');
  });

  test('collapses any run of hyphens where the cluster name ends in some', () => {
    expect(tempInstanceId('shop--', 'a')).toBe('shop-verify-1r9wi7g');
  });

  test('a long cluster name is cut so the id is exactly 63 characters', () => {
    const id = tempInstanceId('c'.repeat(80), 'a');
    expect(id).toBe(`${'c'.repeat(48)}-verify-1r9wi7g`);
    expect(id).toHaveLength(63);
  });
});

describe('toDelete', () => {
  test('lists the leftovers by identifier, whatever order RDS answers in', () => {
    const tagged = (id: string) => ({ id, status: 'available', verifyTag: 'shop' });
    expect(toDelete([tagged('shop-verify-c'), tagged('shop-verify-a'), tagged('shop-verify-b')], 'shop')).toEqual(['shop-verify-a', 'shop-verify-b', 'shop-verify-c']);
  });
});
