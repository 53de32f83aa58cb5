import fc from 'fast-check';
import { propertyRuns } from '../property-runs';
import { drainedInstances, parseAppBackend, planSlots, renderAppBackend, type GroupMember, type ServerSlot } from '../../instance/failover-pair-agent/logic';

// The agent writes the app backend file and reads it back after a restart: every slot must come back as it was
// (address, instance and state, not only the address), under the server name the runtime API commands use.
// Only the module's exported functions are used: its internals are the failover-pair owner's to change.

const HEAD = 'backend app\n  balance leastconn\n  # slots: 4\n';

/** What a slot looks like after a round trip: a slot in maintenance (or without an address) keeps nothing else. */
const normal = (s: ServerSlot): ServerSlot => (s.state === 'maint' || !s.address ? { state: 'maint' } : { address: s.address, instanceId: s.instanceId, state: s.state });

const slotArb: fc.Arbitrary<ServerSlot> = fc.oneof(
  fc.constant<ServerSlot>({ state: 'maint' }),
  fc.record({
    address: fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.0.${a}.${b}`),
    instanceId: fc.option(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 8, maxLength: 17 }).map((h) => `i-${h}`), { nil: undefined }),
    state: fc.constantFrom<'ready' | 'drain' | 'maint'>('ready', 'drain', 'maint'),
  }),
);

describe('the app backend file', () => {
  test('renders each state as HAProxy reads it, one server line per slot named app1..appN', () => {
    const text = renderAppBackend(HEAD, 'app', [
      { address: '10.0.1.10', instanceId: 'i-1', state: 'ready' },
      { address: '10.0.2.10', instanceId: 'i-2', state: 'drain' },
      { state: 'maint' },
      { address: '10.0.3.10', state: 'ready' },
    ]);
    expect(text).toBe(
      'backend app\n  balance leastconn\n  # slots: 4\n' +
        '  server app1 10.0.1.10 # i-1\n' +
        '  server app2 10.0.2.10 weight 0 # i-2\n' +
        '  server app3 0.0.0.0 disabled\n' +
        '  server app4 10.0.3.10\n',
    );
  });

  test('a slot in maintenance that still names an address is rendered disabled, without it', () => {
    expect(renderAppBackend('', 'web', [{ address: '10.0.9.9', instanceId: 'i-9', state: 'maint' }])).toBe('  server web1 0.0.0.0 disabled\n');
  });

  test('reads back a draining slot as draining and a ready one as ready, with their instances', () => {
    const slots: ServerSlot[] = [
      { address: '10.0.2.10', instanceId: 'i-2', state: 'drain' },
      { address: '10.0.1.10', instanceId: 'i-1', state: 'ready' },
    ];
    expect(parseAppBackend(renderAppBackend(HEAD, 'app', slots))).toEqual(slots);
  });

  test('any slots survive a round trip with address, instance and state (random seed, printed on failure)', () => {
    fc.assert(
      fc.property(fc.array(slotArb, { maxLength: 12 }), (slots) => {
        const text = renderAppBackend(HEAD, 'app', slots);
        expect(parseAppBackend(text)).toEqual(slots.map(normal));
        // Server i (0-based) is named app<i+1>: the name the runtime API commands and the session counts use.
        const names = text.split('\n').filter((l) => l.startsWith('  server ')).map((l) => l.split(/\s+/)[2]);
        expect(names).toEqual(slots.map((_, i) => `app${i + 1}`));
      }),
      { numRuns: propertyRuns(200) },
    );
  });

  test('the slot the file names appN is the slot the drain check reads the sessions of', () => {
    const slots: ServerSlot[] = [
      { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' },
      { address: '10.0.2.10', instanceId: 'i-2', state: 'drain' },
      { address: '10.0.3.10', instanceId: 'i-3', state: 'ready' },
    ];
    const sessions = new Map([
      ['app1', 4],
      ['app2', 0],
      ['app3', 0],
    ]);
    expect(drainedInstances(parseAppBackend(renderAppBackend(HEAD, 'app', slots)), 'app', sessions)).toEqual(['i-2']);
  });
});

describe('planSlots says when the file must be written', () => {
  const members: GroupMember[] = [
    { instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.10' },
    { instanceId: 'i-2', lifecycleState: 'Terminating:Wait', privateIp: '10.0.2.10' },
  ];

  test('a new instance placed: changed', () => {
    const plan = planSlots([], members.slice(0, 1), 'app', 2);
    expect(plan.changed).toBe(true);
    expect(plan.commands).toEqual(['set server app/app1 addr 10.0.1.10', 'set server app/app1 state ready']);
  });

  test('an instance leaving: changed (the drain must survive a restart of the agent)', () => {
    const plan = planSlots([{ address: '10.0.2.10', instanceId: 'i-2', state: 'ready' }], members.slice(1), 'app', 2);
    expect(plan.changed).toBe(true);
    expect(plan.commands).toEqual(['set server app/app1 state drain']);
  });

  test('a slot read back without its instance id gets it filled in: changed, with no runtime command', () => {
    const plan = planSlots([{ address: '10.0.1.10', state: 'ready' }], members.slice(0, 1), 'app', 1);
    expect(plan.commands).toEqual([]);
    expect(plan.changed).toBe(true);
    expect(plan.slots).toEqual([{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }]);
  });

  test('a stale address in a slot already in maintenance is cleared: changed, with no runtime command', () => {
    const plan = planSlots([{ address: '10.0.7.7', state: 'maint' }], [], 'app', 1);
    expect(plan.commands).toEqual([]);
    expect(plan.changed).toBe(true);
    expect(plan.slots).toEqual([{ state: 'maint' }]);
  });

  test('more slots than the file had: changed', () => {
    const plan = planSlots([{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }], members.slice(0, 1), 'app', 2);
    expect(plan.commands).toEqual([]);
    expect(plan.slots).toEqual([{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }, { state: 'maint' }]);
    // Slot 2 was absent from the file and is now an explicit placeholder; the same content as before: not changed.
    expect(plan.changed).toBe(false);
  });

  test('nothing different: not changed, so the agent does not rewrite the file or reload', () => {
    const slots: ServerSlot[] = [
      { address: '10.0.1.10', instanceId: 'i-1', state: 'ready' },
      { address: '10.0.2.10', instanceId: 'i-2', state: 'drain' },
    ];
    const plan = planSlots(slots, members, 'app', 2);
    expect(plan).toEqual({ slots, commands: [], unplaced: [], changed: false });
  });

  test('the plan applied and planned again is stable, for any group (random seed)', () => {
    const memberArb = fc.record({
      instanceId: fc.integer({ min: 1, max: 6 }).map((n) => `i-${n}`),
      lifecycleState: fc.constantFrom('InService', 'Pending', 'Terminating:Wait', 'Standby', 'Detaching'),
      // A small pool of addresses, so slots and members overlap often.
      privateIp: fc.option(fc.integer({ min: 1, max: 5 }).map((n) => `10.0.0.${n}`), { nil: undefined }),
    });
    fc.assert(
      // One address per instance at a time, as in a VPC (two InService members sharing one is not modelled here).
      fc.property(fc.array(slotArb, { maxLength: 4 }), fc.uniqueArray(memberArb, { selector: (m) => m.instanceId, maxLength: 6 }), (current, drawn) => {
        const group = drawn.filter((m, i) => m.privateIp === undefined || drawn.findIndex((o) => o.privateIp === m.privateIp) === i);
        const first = planSlots(current, group, 'app', 4);
        const written = parseAppBackend(renderAppBackend(HEAD, 'app', first.slots));
        const again = planSlots(written, group, 'app', 4);
        expect(again.commands).toEqual([]);
        expect(again.changed).toBe(false);
        expect(again.slots).toEqual(first.slots.map(normal));
        if (first.commands.length > 0) expect(first.changed).toBe(true);
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});
