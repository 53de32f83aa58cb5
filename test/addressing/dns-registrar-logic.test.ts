import fc from 'fast-check';
import { propertyRuns } from '../property-runs';
import {
  completeNow,
  desiredValues,
  normaliseName,
  planChange,
  servingInstanceIds,
  sortAddresses,
  type CurrentRecord,
  type GroupMember,
  type Trigger,
} from '../../lambda/dns-registrar/logic';

const config = { ttl: 60, singleHost: false, includePending: false };
const member = (instanceId: string, lifecycleState = 'InService', healthStatus = 'Healthy'): GroupMember => ({ instanceId, lifecycleState, healthStatus });
const sweep: Trigger = { kind: 'sweep' };

describe('servingInstanceIds', () => {
  test('counts healthy InService members only', () => {
    const members = [
      member('i-a'),
      member('i-b', 'Pending:Wait'),
      member('i-c', 'Terminating:Wait'),
      member('i-d', 'Standby'),
      member('i-e', 'InService', 'Unhealthy'),
      member('i-f', 'Terminating'),
    ];
    expect(servingInstanceIds(members, sweep, config)).toEqual(['i-a']);
  });

  test('counts pending members when registering before InService', () => {
    const members = [member('i-a'), member('i-b', 'Pending:Wait'), member('i-c', 'Pending:Proceed')];
    expect(servingInstanceIds(members, sweep, { ...config, includePending: true })).toEqual(['i-a', 'i-b', 'i-c']);
  });

  test('adds the launched instance even when the group still reads Pending:Proceed', () => {
    const members = [member('i-a'), member('i-b', 'Pending:Proceed')];
    expect(servingInstanceIds(members, { kind: 'launched', instanceId: 'i-b' }, config)).toEqual(['i-a', 'i-b']);
  });

  test('a launching hook adds the instance only when registering before InService', () => {
    const members = [member('i-a', 'Pending:Wait')];
    expect(servingInstanceIds(members, { kind: 'launching', instanceId: 'i-a' }, config)).toEqual([]);
    expect(servingInstanceIds(members, { kind: 'launching', instanceId: 'i-a' }, { ...config, includePending: true })).toEqual(['i-a']);
  });

  test('a late launch event does not bring back an instance that is already leaving or gone', () => {
    expect(servingInstanceIds([member('i-a', 'Terminating:Wait')], { kind: 'launched', instanceId: 'i-a' }, config)).toEqual([]);
    expect(servingInstanceIds([], { kind: 'launched', instanceId: 'i-a' }, config)).toEqual([]);
  });

  test('removes the leaving instance even while the group still reads InService', () => {
    const members = [member('i-a'), member('i-b')];
    expect(servingInstanceIds(members, { kind: 'terminating', instanceId: 'i-b' }, config)).toEqual(['i-a']);
    expect(servingInstanceIds(members, { kind: 'terminated', instanceId: 'i-a' }, config)).toEqual(['i-b']);
  });

  test('property: never includes the leaving instance nor anything outside the group', () => {
    const states = fc.constantFrom('InService', 'Pending:Wait', 'Pending:Proceed', 'Terminating:Wait', 'Standby', 'Detaching');
    const arbMember = fc.record({
      instanceId: fc.constantFrom('i-1', 'i-2', 'i-3', 'i-4', 'i-5'),
      lifecycleState: states,
      healthStatus: fc.constantFrom('Healthy', 'Unhealthy'),
    });
    const arbTrigger: fc.Arbitrary<Trigger> = fc.oneof(
      fc.constant<Trigger>({ kind: 'sweep' }),
      fc.record({ kind: fc.constantFrom('launching', 'launched', 'terminating', 'terminated'), instanceId: fc.constantFrom('i-1', 'i-2', 'i-9') }) as fc.Arbitrary<Trigger>,
    );
    fc.assert(
      fc.property(fc.array(arbMember, { maxLength: 8 }), arbTrigger, fc.boolean(), (members, trigger, includePending) => {
        const ids = servingInstanceIds(members, trigger, { ...config, includePending });
        for (const id of ids) expect(members.some((m) => m.instanceId === id)).toBe(true);
        if (trigger.kind === 'terminating' || trigger.kind === 'terminated') expect(ids).not.toContain(trigger.instanceId);
        expect(new Set(ids).size).toBe(ids.length);
      }),
    );
  });
});

describe('desiredValues', () => {
  const addresses = new Map([
    ['i-a', '10.0.0.10'],
    ['i-b', '10.0.0.9'],
    ['i-c', '10.0.1.2'],
  ]);

  test('round robin: every serving instance with an address, sorted numerically', () => {
    expect(desiredValues(['i-a', 'i-b', 'i-c', 'i-no-address'], addresses, undefined, false)).toEqual(['10.0.0.9', '10.0.0.10', '10.0.1.2']);
  });

  test('single host keeps the current host while it still serves', () => {
    const current: CurrentRecord = { ttl: 60, values: ['10.0.1.2'] };
    expect(desiredValues(['i-a', 'i-b', 'i-c'], addresses, current, true)).toEqual(['10.0.1.2']);
  });

  test('single host moves to the lowest address when its host left', () => {
    const current: CurrentRecord = { ttl: 60, values: ['10.9.9.9'] };
    expect(desiredValues(['i-a', 'i-c'], addresses, current, true)).toEqual(['10.0.0.10']);
    expect(desiredValues([], addresses, current, true)).toEqual([]);
  });

  test('caps a round-robin set at the Route 53 limit of 400 values', () => {
    const many = new Map(Array.from({ length: 450 }, (_, i) => [`i-${i}`, `10.0.${Math.floor(i / 250)}.${i % 250}`] as [string, string]));
    expect(desiredValues([...many.keys()], many, undefined, false)).toHaveLength(400);
  });
});

describe('planChange', () => {
  test('creates the record when instances serve and it does not exist', () => {
    expect(planChange(undefined, ['10.0.0.1'], 60)).toEqual({ action: 'CREATE', ttl: 60, values: ['10.0.0.1'] });
  });

  test('changes nothing when the record already holds exactly those values (any order)', () => {
    expect(planChange({ ttl: 60, values: ['10.0.0.2', '10.0.0.1'] }, ['10.0.0.1', '10.0.0.2'], 60)).toEqual({ action: 'NONE' });
  });

  test('replaces the record as read (compare-and-swap) when its values differ', () => {
    expect(planChange({ ttl: 60, values: ['10.0.0.1'] }, ['10.0.0.2', '10.0.0.1'], 60)).toEqual({
      action: 'REPLACE',
      from: { ttl: 60, values: ['10.0.0.1'] },
      ttl: 60,
      values: ['10.0.0.1', '10.0.0.2'],
    });
  });

  test('rewrites the record when only the TTL differs', () => {
    expect(planChange({ ttl: 300, values: ['10.0.0.1'] }, ['10.0.0.1'], 60)).toMatchObject({ action: 'REPLACE', from: { ttl: 300 }, ttl: 60 });
  });

  test('deletes the record, naming its exact current TTL and values, when nothing serves', () => {
    expect(planChange({ ttl: 300, values: ['10.0.0.1'] }, [], 60)).toEqual({ action: 'DELETE', ttl: 300, values: ['10.0.0.1'] });
    expect(planChange(undefined, [], 60)).toEqual({ action: 'NONE' });
  });

  test('property: the plan names the record as read, reaches the desired set, and planning again changes nothing (random seed)', () => {
    // A small pool, so the current and desired sets overlap most of the time (same size, one address swapped, equal
    // in another order): drawn from 65,536 addresses they almost never share one, and "same set" would go untested.
    const ip = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.9', '10.0.0.10', '10.0.1.1');
    const record = fc.option(fc.record({ ttl: fc.constantFrom(30, 60, 300), values: fc.uniqueArray(ip, { minLength: 1, maxLength: 5 }) }), { nil: undefined });
    fc.assert(
      fc.property(record, fc.uniqueArray(ip, { maxLength: 5 }), (current, desired) => {
        const change = planChange(current, desired, 60);
        if (change.action === 'REPLACE' || change.action === 'DELETE') {
          // The batch names the record exactly as it was read, or Route 53 would reject it.
          const named = change.action === 'REPLACE' ? change.from : change;
          expect({ ttl: named.ttl, values: named.values }).toEqual({ ttl: current!.ttl, values: current!.values });
        }
        if (change.action === 'CREATE') expect(current).toBeUndefined();
        const after: CurrentRecord | undefined =
          change.action === 'NONE' ? current : change.action === 'DELETE' ? undefined : { ttl: change.ttl, values: change.values };
        expect(sortAddresses([...(after?.values ?? [])])).toEqual(sortAddresses([...desired]));
        expect(planChange(after, desired, 60)).toEqual({ action: 'NONE' });
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});

describe('helpers', () => {
  test('normaliseName lower-cases and drops the trailing dot, as IAM condition keys expect', () => {
    expect(normaliseName('WWW-Cluster3.Example.com.')).toBe('www-cluster3.example.com');
  });

  test('completeNow: launch at once; leave at once only without a drain time', () => {
    expect(completeNow({ kind: 'launching', instanceId: 'i-a' }, 60)).toBe(true);
    expect(completeNow({ kind: 'terminating', instanceId: 'i-a' }, 0)).toBe(true);
    expect(completeNow({ kind: 'terminating', instanceId: 'i-a' }, 60)).toBe(false);
    expect(completeNow({ kind: 'sweep' }, 0)).toBe(false);
  });
});
