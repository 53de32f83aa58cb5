import fc from 'fast-check';
import { propertyRuns } from '../property-runs';
import { completeNow, desiredValues, normaliseName, planChange, servingInstanceIds, sortAddresses, type CurrentRecord, type GroupMember, type Trigger } from '../../lambda/dns-registrar/logic';

// The registrar's decisions where a wrong answer leaves a dead instance's address in DNS or flips a name needlessly:
// overlapping address sets drawn from a small pool (so "same set" is tested on sets that share most members), every
// lifecycle state at the edge of "serving", the 400-value cap and numeric address order. Expected values written out.

const member = (instanceId: string, lifecycleState = 'InService', healthStatus = 'Healthy'): GroupMember => ({ instanceId, lifecycleState, healthStatus });
const round = { ttl: 60, singleHost: false, includePending: false };
const early = { ...round, includePending: true };

describe('planChange over overlapping address sets', () => {
  test('same size, one address swapped: the dead address is replaced, not kept', () => {
    const current: CurrentRecord = { ttl: 60, values: ['10.0.0.1', '10.0.0.2'] };
    expect(planChange(current, ['10.0.0.1', '10.0.0.3'], 60)).toEqual({
      action: 'REPLACE',
      from: { ttl: 60, values: ['10.0.0.1', '10.0.0.2'] },
      ttl: 60,
      values: ['10.0.0.1', '10.0.0.3'],
    });
  });
  test('the same set in another order needs no change', () => {
    expect(planChange({ ttl: 60, values: ['10.0.0.2', '10.0.0.1'] }, ['10.0.0.1', '10.0.0.2'], 60)).toEqual({ action: 'NONE' });
  });
  test('the same set with another TTL is replaced', () => {
    expect(planChange({ ttl: 300, values: ['10.0.0.1'] }, ['10.0.0.1'], 60)).toEqual({ action: 'REPLACE', from: { ttl: 300, values: ['10.0.0.1'] }, ttl: 60, values: ['10.0.0.1'] });
  });
  test('a subset or a superset is replaced', () => {
    expect(planChange({ ttl: 60, values: ['10.0.0.1', '10.0.0.2'] }, ['10.0.0.1'], 60)).toMatchObject({ action: 'REPLACE', values: ['10.0.0.1'] });
    expect(planChange({ ttl: 60, values: ['10.0.0.1'] }, ['10.0.0.2', '10.0.0.1'], 60)).toMatchObject({ action: 'REPLACE', values: ['10.0.0.1', '10.0.0.2'] });
  });
  test('no record and nothing serving: nothing to do; an empty record read back counts as none', () => {
    expect(planChange(undefined, [], 60)).toEqual({ action: 'NONE' });
    expect(planChange({ ttl: 60, values: [] }, [], 60)).toEqual({ action: 'NONE' });
    expect(planChange({ ttl: 60, values: [] }, ['10.0.0.1'], 60)).toEqual({ action: 'CREATE', ttl: 60, values: ['10.0.0.1'] });
  });
  test('nothing serving: the record is deleted exactly as read', () => {
    expect(planChange({ ttl: 30, values: ['10.0.0.2', '10.0.0.1'] }, [], 60)).toEqual({ action: 'DELETE', ttl: 30, values: ['10.0.0.2', '10.0.0.1'] });
  });

  test('for any two sets from a pool of four addresses: NONE exactly when they are equal as sets with the same TTL, and the change lands on the desired set (random seed)', () => {
    const pool = ['10.0.0.1', '10.0.0.2', '10.0.0.10', '10.0.1.1'];
    const set = fc.subarray(pool).chain((s) => fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }));
    fc.assert(
      fc.property(fc.option(fc.record({ ttl: fc.constantFrom(30, 60), values: set }), { nil: undefined }), set, fc.constantFrom(30, 60), (current, desired, ttl) => {
        const change = planChange(current, desired, ttl);
        const equal = current !== undefined && current.values.length > 0 && current.ttl === ttl && new Set(current.values).size === new Set(desired).size && desired.every((v) => current.values.includes(v));
        const emptyBoth = (current === undefined || current.values.length === 0) && desired.length === 0;
        expect(change.action === 'NONE').toBe(equal || emptyBoth);
        const after = change.action === 'NONE' ? current?.values ?? [] : change.action === 'DELETE' ? [] : change.values;
        expect([...after].sort()).toEqual([...desired].sort());
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});

describe('who serves: the edges of the lifecycle', () => {
  test.each([
    ['InService', 'Healthy', false, true],
    ['InService', 'Unhealthy', false, false],
    ['Pending', 'Healthy', false, false],
    ['Pending', 'Healthy', true, true],
    ['Pending:Wait', 'Healthy', true, true],
    ['Pending:Proceed', 'Healthy', true, true],
    ['Pending:Wait', 'Unhealthy', true, false],
    ['Terminating:Wait', 'Healthy', true, false],
    ['Standby', 'Healthy', true, false],
    ['Detaching', 'Healthy', true, false],
  ])('a %s %s member (includePending %s) serves: %s', (state, health, includePending, serves) => {
    expect(servingInstanceIds([member('i-1', state, health)], { kind: 'sweep' }, { ...round, includePending })).toEqual(serves ? ['i-1'] : []);
  });

  test('the launched instance joins though the group still reports it Pending', () => {
    expect(servingInstanceIds([member('i-2', 'Pending')], { kind: 'launched', instanceId: 'i-2' }, round)).toEqual(['i-2']);
    expect(servingInstanceIds([member('i-2', 'Pending:Proceed')], { kind: 'launched', instanceId: 'i-2' }, round)).toEqual(['i-2']);
  });
  test('a launched instance the group reports unhealthy, leaving, or not at all does not join', () => {
    expect(servingInstanceIds([member('i-2', 'Pending', 'Unhealthy')], { kind: 'launched', instanceId: 'i-2' }, round)).toEqual([]);
    expect(servingInstanceIds([member('i-2', 'Terminating:Wait')], { kind: 'launched', instanceId: 'i-2' }, round)).toEqual([]);
    expect(servingInstanceIds([member('i-1')], { kind: 'launched', instanceId: 'i-2' }, round)).toEqual(['i-1']);
  });
  test('a launching instance joins only when registration comes before InService', () => {
    expect(servingInstanceIds([member('i-2', 'Pending:Wait')], { kind: 'launching', instanceId: 'i-2' }, early)).toEqual(['i-2']);
    expect(servingInstanceIds([member('i-2', 'Pending:Wait')], { kind: 'launching', instanceId: 'i-2' }, round)).toEqual([]);
  });
  test.each<Trigger['kind']>(['terminating', 'terminated'])('a %s instance leaves though the group still reports it InService', (kind) => {
    expect(servingInstanceIds([member('i-1'), member('i-2')], { kind, instanceId: 'i-1' } as Trigger, round)).toEqual(['i-2']);
  });
  test('the serving ids come out sorted', () => {
    expect(servingInstanceIds([member('i-c'), member('i-a'), member('i-b')], { kind: 'sweep' }, round)).toEqual(['i-a', 'i-b', 'i-c']);
  });
});

describe('desired values', () => {
  const addr = new Map([
    ['i-1', '10.0.0.10'],
    ['i-2', '10.0.0.9'],
    ['i-3', '10.0.0.9'],
  ]);
  test('every serving address once, in numeric order; instances without an address yet are skipped', () => {
    // toStrictEqual: toEqual would accept an undefined left in an array.
    expect(desiredValues(['i-1', 'i-2', 'i-3', 'i-4'], addr, undefined, false)).toStrictEqual(['10.0.0.9', '10.0.0.10']);
  });
  test('a single-host name keeps its value while that host serves, else takes the lowest', () => {
    expect(desiredValues(['i-1', 'i-2'], addr, { ttl: 60, values: ['10.0.0.10'] }, true)).toEqual(['10.0.0.10']);
    expect(desiredValues(['i-1', 'i-2'], addr, { ttl: 60, values: ['10.0.0.77'] }, true)).toEqual(['10.0.0.9']);
    expect(desiredValues(['i-1', 'i-2'], addr, undefined, true)).toEqual(['10.0.0.9']);
    expect(desiredValues([], addr, { ttl: 60, values: ['10.0.0.10'] }, true)).toStrictEqual([]);
    expect(desiredValues(['i-4'], addr, undefined, true)).toStrictEqual([]);
  });
  test('at most 400 values: the 400 lowest', () => {
    const ids = Array.from({ length: 401 }, (_, i) => `i-${i}`);
    const many = new Map(ids.map((id, i) => [id, `10.0.${Math.floor(i / 256)}.${i % 256}`]));
    const values = desiredValues(ids, many, undefined, false);
    expect(values).toHaveLength(400);
    expect(values[399]).toBe('10.0.1.143');
    expect(desiredValues(ids.slice(0, 400), many, undefined, false)).toHaveLength(400);
  });
});

describe('address order and names', () => {
  test('IPv4 addresses sort by number, in any input order; other values come after, as text', () => {
    const sorted = ['10.0.0.9', '10.0.0.10', '10.0.1.2', '10.1.0.0', '192.168.0.1', 'a.example.com', 'b.example.com'];
    fc.assert(
      fc.property(fc.shuffledSubarray(sorted, { minLength: sorted.length, maxLength: sorted.length }), (shuffled) => {
        expect(sortAddresses([...shuffled])).toEqual(sorted);
      }),
      { numRuns: propertyRuns(300) },
    );
  });
  test('every octet is read whole, and only a whole address is one', () => {
    expect(sortAddresses(['11.1.0.1', '10.10.0.1'])).toStrictEqual(['10.10.0.1', '11.1.0.1']);
    expect(sortAddresses(['10.1.0.1', '10.0.10.1'])).toStrictEqual(['10.0.10.1', '10.1.0.1']);
    expect(sortAddresses(['10.0.0.2', '10.0.0.1x'])).toStrictEqual(['10.0.0.2', '10.0.0.1x']);
    expect(sortAddresses(['10.0.0.2', 'x10.0.0.1'])).toStrictEqual(['10.0.0.2', 'x10.0.0.1']);
  });
  test('a host name beginning with a digit still sorts after the addresses', () => {
    expect(sortAddresses(['9host.example.com', '10.0.0.1'])).toEqual(['10.0.0.1', '9host.example.com']);
  });
  test('names are compared lower case, without the trailing dot or spaces', () => {
    expect(normaliseName(' App.Example.COM. ')).toBe('app.example.com');
    expect(normaliseName('app.example.com')).toBe('app.example.com');
  });
});

describe('when a lifecycle action is completed at once', () => {
  test.each([
    [{ kind: 'launching', instanceId: 'i-1' }, 30, true],
    [{ kind: 'terminating', instanceId: 'i-1' }, 0, true],
    [{ kind: 'terminating', instanceId: 'i-1' }, -1, true],
    [{ kind: 'terminating', instanceId: 'i-1' }, 1, false],
    [{ kind: 'launched', instanceId: 'i-1' }, 0, false],
    [{ kind: 'terminated', instanceId: 'i-1' }, 0, false],
    [{ kind: 'sweep' }, 0, false],
  ] as Array<[Trigger, number, boolean]>)('%j with a drain of %d s: %s', (trigger, drain, now) => {
    expect(completeNow(trigger, drain)).toBe(now);
  });
});
