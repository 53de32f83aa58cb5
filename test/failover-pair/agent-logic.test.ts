import fc from 'fast-check';
import {
  addressIsHere,
  choosePeer,
  GroupMember,
  parseAppBackend,
  parseHead,
  parseShowStat,
  drainedInstances,
  planRoute,
  planSlots,
  renderAppBackend,
  renderPeers,
  ServerSlot,
} from '../../instance/failover-pair-agent/logic';

const HEAD = 'backend app\n  balance leastconn\n  # slots: 4\n';

describe('planSlots', () => {
  test('gives a new InService instance the first free slot, through the runtime API', () => {
    const plan = planSlots([{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }], [
      { instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.10' },
      { instanceId: 'i-2', lifecycleState: 'InService', privateIp: '10.0.2.10' },
    ], 'app', 4);
    expect(plan.commands).toEqual(['set server app/app2 addr 10.0.2.10', 'set server app/app2 state ready']);
    expect(plan.slots[1]).toEqual({ address: '10.0.2.10', instanceId: 'i-2', state: 'ready' });
  });

  test('drains a terminating instance before it goes, then frees its slot', () => {
    const slots: ServerSlot[] = [{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }];
    const draining = planSlots(slots, [{ instanceId: 'i-1', lifecycleState: 'Terminating:Wait', privateIp: '10.0.1.10' }], 'app', 2);
    expect(draining.commands).toEqual(['set server app/app1 state drain']);
    const gone = planSlots(draining.slots, [], 'app', 2);
    expect(gone.commands).toEqual(['set server app/app1 state maint']);
    expect(gone.slots).toEqual([{ state: 'maint' }, { state: 'maint' }]);
  });

  test('does not send traffic to an instance that is still launching', () => {
    const plan = planSlots([], [{ instanceId: 'i-1', lifecycleState: 'Pending:Wait', privateIp: '10.0.1.10' }], 'app', 2);
    expect(plan.commands).toEqual([]);
    expect(plan.changed).toBe(false);
    expect(plan.slots).toEqual([{ state: "maint" }, { state: "maint" }]);
  });

  test('reports instances that find no slot', () => {
    const plan = planSlots([], [
      { instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.1' },
      { instanceId: 'i-2', lifecycleState: 'InService', privateIp: '10.0.1.2' },
    ], 'app', 1);
    expect(plan.unplaced).toEqual(['i-2']);
  });

  test('gives one slot to one address, even when two InService members report it (a reused address, a stale description)', () => {
    const plan = planSlots([], [
      { instanceId: 'i-b', lifecycleState: 'InService', privateIp: '10.0.1.7' },
      { instanceId: 'i-a', lifecycleState: 'InService', privateIp: '10.0.1.7' },
    ], 'app', 3);
    expect(plan.slots).toEqual([{ address: '10.0.1.7', instanceId: 'i-a', state: 'ready' }, { state: 'maint' }, { state: 'maint' }]);
    expect(plan.commands).toEqual(['set server app/app1 addr 10.0.1.7', 'set server app/app1 state ready']);
    expect(plan.unplaced).toEqual([]);
  });

  test('keeps serving an address when a stale second member with it is not in service (no maint and back every sync)', () => {
    const current: ServerSlot[] = [{ address: '10.0.1.7', instanceId: 'i-a', state: 'ready' }];
    for (const members of [
      [{ instanceId: 'i-a', lifecycleState: 'InService', privateIp: '10.0.1.7' }, { instanceId: 'i-b', lifecycleState: 'Pending', privateIp: '10.0.1.7' }],
      [{ instanceId: 'i-b', lifecycleState: 'Terminated', privateIp: '10.0.1.7' }, { instanceId: 'i-a', lifecycleState: 'InService', privateIp: '10.0.1.7' }],
    ]) {
      const plan = planSlots(current, members, 'app', 1);
      expect(plan.commands).toEqual([]);
      expect(plan.changed).toBe(false);
      expect(plan.slots).toEqual(current);
    }
  });

  test('is a no-op when nothing changed', () => {
    const members: GroupMember[] = [{ instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.1' }];
    const first = planSlots([], members, 'app', 3);
    const second = planSlots(first.slots, members, 'app', 3);
    expect(second.changed).toBe(false);
    expect(second.commands).toEqual([]);
  });

  const member = fc.record({
    instanceId: fc.constantFrom('i-1', 'i-2', 'i-3', 'i-4', 'i-5', 'i-6'),
    lifecycleState: fc.constantFrom('Pending', 'InService', 'Terminating', 'Terminating:Wait', 'Standby', 'Terminated'),
    privateIp: fc.option(fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'), { nil: undefined }),
  });
  // Addresses may repeat across members (a reused address, a stale description): still one slot per address.
  const group = fc.uniqueArray(member, { selector: (m) => m.instanceId });

  test('over any sequence of group changes: no address twice, in-service instances served when slots allow, leaving ones never ready', () => {
    fc.assert(
      fc.property(fc.array(group, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 6 }), (history, slotCount) => {
        let slots: ServerSlot[] = [];
        for (const members of history) {
          const before = slots;
          const plan = planSlots(slots, members, 'app', slotCount);
          slots = plan.slots;
          // The agent applies commands only when the plan says it changed.
          if (plan.commands.length > 0) expect(plan.changed).toBe(true);
          expect(plan.changed).toBe(JSON.stringify(slots) !== JSON.stringify(Array.from({ length: slotCount }, (_, i) => before[i] ?? { state: 'maint' })));
          const addresses = slots.filter((s) => s.address).map((s) => s.address);
          expect(new Set(addresses).size).toBe(addresses.length);
          expect(slots).toHaveLength(slotCount);
          const inService = members.filter((m) => m.lifecycleState === 'InService' && m.privateIp);
          for (const m of inService) {
            const served = slots.some((s) => s.address === m.privateIp && s.state === 'ready');
            expect(served || plan.unplaced.includes(m.instanceId)).toBe(true);
          }
          for (const s of slots.filter((x) => x.state === 'ready')) {
            expect(members.some((m) => m.privateIp === s.address && m.lifecycleState === 'InService')).toBe(true);
          }
          // The file round-trips: a restarted agent sees the same slots.
          expect(parseAppBackend(renderAppBackend(HEAD, 'app', slots)).map((s) => s.address ?? null)).toEqual(slots.map((s) => (s.state === 'maint' ? null : s.address ?? null)));
        }
      }),
      { numRuns: 300 },
    );
  });
});

test('parseHead reads the backend name and slot count the renderer announces', () => {
  expect(parseHead(HEAD)).toEqual({ backend: 'app', slots: 4 });
  expect(() => parseHead('backend app\n')).toThrow(/slots/);
});

describe('choosePeer', () => {
  const inst = (instanceId: string, state: string, launchTimeMs: number, privateIp?: string) => ({ instanceId, state, launchTimeMs, privateIp });
  test('is the other node, not this one', () => {
    expect(choosePeer([inst('i-self', 'running', 1, '10.0.1.5'), inst('i-peer', 'running', 1, '10.0.2.7')], 'i-self')).toBe('10.0.2.7');
  });
  test('prefers a running node, then the newest (a replacement overlapping the old one)', () => {
    expect(choosePeer([inst('i-old', 'running', 1, '10.0.2.7'), inst('i-new', 'pending', 2, '10.0.2.8')], 'i-self')).toBe('10.0.2.7');
    expect(choosePeer([inst('i-old', 'running', 1, '10.0.2.7'), inst('i-new', 'running', 2, '10.0.2.8')], 'i-self')).toBe('10.0.2.8');
  });
  test('is undefined when the other node is gone', () => {
    expect(choosePeer([inst('i-self', 'running', 1, '10.0.1.5'), inst('i-x', 'shutting-down', 1, '10.0.2.7')], 'i-self')).toBeUndefined();
  });
});

test('addressIsHere and planRoute recognise this node by instance or interface', () => {
  const self = { instanceId: 'i-self', networkInterfaceId: 'eni-self' };
  expect(addressIsHere({ instanceId: 'i-self' }, self)).toBe(true);
  expect(addressIsHere({ networkInterfaceId: 'eni-self' }, self)).toBe(true);
  expect(addressIsHere({ instanceId: 'i-other', networkInterfaceId: 'eni-other' }, self)).toBe(false);
  expect(addressIsHere(undefined, self)).toBe(false);
  expect(planRoute([], '172.31.255.10/32', self)).toBe('create');
  expect(planRoute([{ destinationCidrBlock: '172.31.255.10/32', networkInterfaceId: 'eni-self' }], '172.31.255.10/32', self)).toBe('noop');
  expect(planRoute([{ destinationCidrBlock: '172.31.255.10/32', networkInterfaceId: 'eni-other' }], '172.31.255.10/32', self)).toBe('replace');
});

test('parseShowStat and drainedInstances: a draining slot with no session is done', () => {
  const csv = [
    '# pxname,svname,qcur,qmax,scur,smax,slim',
    'clients,FRONTEND,,,12,40,4000',
    'app,app1,0,0,9,20,',
    'app,app2,0,0,0,7,',
    'app,app3,0,0,3,5,',
    'app,BACKEND,0,0,12,30,400',
  ].join('\n');
  const sessions = parseShowStat(csv, 'app');
  expect([...sessions]).toEqual([['app1', 9], ['app2', 0], ['app3', 3]]);
  const slots: ServerSlot[] = [
    { address: '10.0.0.1', instanceId: 'i-1', state: 'ready' },
    { address: '10.0.0.2', instanceId: 'i-2', state: 'drain' },
    { address: '10.0.0.3', instanceId: 'i-3', state: 'drain' },
  ];
  expect(drainedInstances(slots, 'app', sessions)).toEqual(['i-2']);
  expect(parseShowStat('garbage', 'app').size).toBe(0);
});

// The head haproxy-config.ts renders, written out: a `default-server` line and comments that must not read as slots.
const RENDERED_HEAD = [
  '# The app instances: servers without a port receive each stream on its (mapped) destination port.',
  '# The agent writes the server lines below from the Auto Scaling group and changes them at run time.',
  'backend app',
  '  balance leastconn',
  '  default-server check port 8080 inter 2000ms fall 2 rise 2',
  '  # slots: 3',
  '',
].join('\n');

describe('planSlots, each lifecycle state of a slot holder', () => {
  const held: ServerSlot[] = [{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }];
  test.each([
    ['InService', { address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }, []],
    ['Terminating', { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }, ['set server app/app1 state drain']],
    ['Terminating:Wait', { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }, ['set server app/app1 state drain']],
    ['Terminating:Proceed', { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }, ['set server app/app1 state drain']],
    ['Detaching', { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }, ['set server app/app1 state drain']],
    ['EnteringStandby', { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }, ['set server app/app1 state drain']],
    ['Standby', { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }, ['set server app/app1 state drain']],
    ['Terminated', { state: 'maint' }, ['set server app/app1 state maint']],
    ['Detached', { state: 'maint' }, ['set server app/app1 state maint']],
    ['Pending:Wait', { state: 'maint' }, ['set server app/app1 state maint']],
    ['Warmed:Terminating', { state: 'maint' }, ['set server app/app1 state maint']],
  ])('%s', (lifecycleState, slot, commands) => {
    const plan = planSlots(held, [{ instanceId: 'i-1', lifecycleState, privateIp: '10.0.1.10' }], 'app', 1);
    expect(plan.slots).toEqual([slot]);
    expect(plan.commands).toEqual(commands);
  });

  test('a drained instance back in service is ready again; a slot already in maintenance is freed without a command', () => {
    const back = planSlots([{ address: '10.0.1.10', instanceId: 'i-1', state: 'drain' }], [{ instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.10' }], 'app', 1);
    expect(back.commands).toEqual(['set server app/app1 state ready']);
    const freed = planSlots([{ address: '10.0.1.10', instanceId: 'i-1', state: 'maint' }], [], 'app', 1);
    expect(freed.commands).toEqual([]);
    expect(freed.slots).toEqual([{ state: 'maint' }]);
    expect(freed.changed).toBe(true);
  });

  test('newcomers take free slots in instance-id order, whatever order the group lists them in', () => {
    const members: GroupMember[] = [
      { instanceId: 'i-c', lifecycleState: 'InService', privateIp: '10.0.0.3' },
      { instanceId: 'i-a', lifecycleState: 'InService', privateIp: '10.0.0.1' },
      { instanceId: 'i-b', lifecycleState: 'InService', privateIp: '10.0.0.2' },
    ];
    const plan = planSlots([], members, 'app', 2);
    expect(plan.slots).toEqual([
      { address: '10.0.0.1', instanceId: 'i-a', state: 'ready' },
      { address: '10.0.0.2', instanceId: 'i-b', state: 'ready' },
    ]);
    expect(plan.unplaced).toEqual(['i-c']);
  });

  test('learns an instance id the file lacks: changed (the file is rewritten) though no command is needed', () => {
    const current: ServerSlot[] = [{ address: '10.0.1.10', state: 'ready' }, { state: 'maint' }];
    const plan = planSlots(current, [{ instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.10' }], 'app', 2);
    expect(plan.commands).toEqual([]);
    expect(plan.changed).toBe(true);
    expect(plan.slots).toEqual([{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }, { state: 'maint' }]);
  });

  test('fewer slots than the file holds (the head\'s slot count lowered): a server in a dropped slot is put in maintenance, and the file is rewritten', () => {
    // HAProxy keeps app3 until its next reload: only a runtime command stops new connections to an instance that left.
    const current: ServerSlot[] = [
      { address: '10.0.1.10', instanceId: 'i-1', state: 'ready' },
      { state: 'maint' },
      { address: '10.0.3.10', instanceId: 'i-3', state: 'ready' },
    ];
    const plan = planSlots(current, [{ instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.10' }], 'app', 2);
    expect(plan).toEqual({
      slots: [{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }, { state: 'maint' }],
      commands: ['set server app/app3 state maint'],
      unplaced: [],
      changed: true,
    });
  });

  test('fewer slots than the file holds, the dropped ones free: no command, but changed (the file loses their lines)', () => {
    const current: ServerSlot[] = [{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }, { state: 'maint' }, { state: 'maint' }, { state: 'maint' }];
    const plan = planSlots(current, [{ instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.1.10' }], 'app', 2);
    expect(plan).toEqual({ slots: [{ address: '10.0.1.10', instanceId: 'i-1', state: 'ready' }, { state: 'maint' }], commands: [], unplaced: [], changed: true });
    expect(renderAppBackend(HEAD, 'app', plan.slots)).toBe('backend app\n  balance leastconn\n  # slots: 4\n  server app1 10.0.1.10 # i-1\n  server app2 0.0.0.0 disabled\n');
  });

  test('an instance in a dropped slot that is still in service moves to a free slot: out of the old one, into the new one', () => {
    const current: ServerSlot[] = [{ state: 'maint' }, { state: 'maint' }, { address: '10.0.3.10', instanceId: 'i-3', state: 'ready' }];
    const plan = planSlots(current, [{ instanceId: 'i-3', lifecycleState: 'InService', privateIp: '10.0.3.10' }], 'app', 1);
    expect(plan.commands).toEqual(['set server app/app3 state maint', 'set server app/app1 addr 10.0.3.10', 'set server app/app1 state ready']);
    expect(plan.slots).toEqual([{ address: '10.0.3.10', instanceId: 'i-3', state: 'ready' }]);
    // The dropped slot already in maintenance needs no command.
    expect(planSlots([{ state: 'maint' }, { address: '10.0.2.10', instanceId: 'i-2', state: 'maint' }], [], 'app', 1).commands).toEqual([]);
  });

  test('a member without an address is neither placed nor reported unplaced', () => {
    const plan = planSlots([], [{ instanceId: 'i-1', lifecycleState: 'InService' }], 'app', 1);
    expect(plan).toEqual({ slots: [{ state: 'maint' }], commands: [], unplaced: [], changed: false });
  });
});

describe('the app backend file', () => {
  const slots: ServerSlot[] = [
    { address: '10.0.1.10', instanceId: 'i-1', state: 'ready' },
    { address: '10.0.2.10', instanceId: 'i-2', state: 'drain' },
    { state: 'maint' },
    { address: '10.0.3.10', instanceId: 'i-3', state: 'maint' },
    { address: '10.0.3.11', state: 'ready' },
  ];
  const text = [
    RENDERED_HEAD + '  server app1 10.0.1.10 # i-1',
    '  server app2 10.0.2.10 weight 0 # i-2',
    '  server app3 0.0.0.0 disabled',
    '  server app4 0.0.0.0 disabled',
    '  server app5 10.0.3.11',
    '',
  ].join('\n');

  test('renders one numbered server line per slot: ready, draining (weight 0), free or out (disabled placeholder)', () => {
    expect(renderAppBackend(RENDERED_HEAD, 'app', slots)).toBe(text);
  });

  test('reads back every slot with its state and instance, and nothing from the head', () => {
    expect(parseAppBackend(text)).toEqual([slots[0], slots[1], { state: 'maint' }, { state: 'maint' }, { address: '10.0.3.11', instanceId: undefined, state: 'ready' }]);
  });

  test('reads lines an operator spaced differently', () => {
    expect(parseAppBackend('server  app1  10.0.1.10  weight 0  #i-1  \n\tserver app2 10.0.2.10 #  i-2\n  server app3 0.0.0.0\n')).toEqual([
      { address: '10.0.1.10', instanceId: 'i-1', state: 'drain' },
      { address: '10.0.2.10', instanceId: 'i-2', state: 'ready' },
      { state: 'maint' },
    ]);
  });

  test('reads a server an operator disabled as out, whatever its address', () => {
    expect(parseAppBackend('  server app1 10.0.1.10 disabled # i-1\n')).toEqual([{ state: 'maint' }]);
  });

  test('ignores commented-out and default-server lines', () => {
    expect(parseAppBackend('  # server app1 10.0.1.10 # i-1\n  default-server inter 2s\n  server-template x 3 10.0.0.1\n')).toEqual([]);
  });
});

describe('parseHead', () => {
  test('reads the rendered head', () => {
    expect(parseHead(RENDERED_HEAD)).toEqual({ backend: 'app', slots: 3 });
  });
  test.each([
    ['# the app backend: slot lines follow\nbackend  app\n  #slots:12\n', { backend: 'app', slots: 12 }],
    ['backend app\n#   slots:   1\n', { backend: 'app', slots: 1 }],
  ])('reads %j', (head, expected) => {
    expect(parseHead(head)).toEqual(expected);
  });
  test('reads the backend name from the backend line only, never from the next line', () => {
    // HAProxy refuses a `backend` without a name on its line; read across the newline, this head names "balance".
    expect(() => parseHead('backend\n  balance leastconn\n  # slots: 2\n')).toThrow('app backend head: missing "backend <name>" or "# slots: <n>"');
    expect(() => parseHead('backend  \napp\n  # slots: 2\n')).toThrow('app backend head: missing "backend <name>" or "# slots: <n>"');
    expect(parseHead('backend\t app \n  # slots: 2\n')).toEqual({ backend: 'app', slots: 2 });
  });
  test('reads the slot count from one comment line only', () => {
    // A comment ending in "#" and a line starting "slots:", or a "# slots:" comment with the number on the next line.
    expect(() => parseHead('backend app\n  #\n  slots: 2\n')).toThrow('app backend head: missing "backend <name>" or "# slots: <n>"');
    expect(() => parseHead('backend app\n  # slots:\n  3\n')).toThrow('app backend head: missing "backend <name>" or "# slots: <n>"');
    expect(parseHead('backend app\n  #\tslots:\t3\n')).toEqual({ backend: 'app', slots: 3 });
  });
  test.each(['backend app\n  # slots: 0\n', '  # slots: 4\n', 'backend app\n', 'use_backend app\n  # slots: 2\n'])('fails on %j, naming what is missing', (head) => {
    expect(() => parseHead(head)).toThrow('app backend head: missing "backend <name>" or "# slots: <n>"');
  });
});

describe('choosePeer, in either listing order', () => {
  const inst = (instanceId: string, state: string, launchTimeMs: number, privateIp?: string) => ({ instanceId, state, launchTimeMs, privateIp });
  const both = <T>(a: T, b: T) => [[a, b], [b, a]];
  test.each(both(inst('i-old', 'running', 1000, '10.0.2.7'), inst('i-new', 'running', 2000, '10.0.2.8')))('the newest running node (%#)', (a, b) => {
    expect(choosePeer([a, b], 'i-self')).toBe('10.0.2.8');
  });
  test.each(both(inst('i-run', 'running', 1000, '10.0.2.7'), inst('i-pend', 'pending', 2000, '10.0.2.8')))('a running node before a newer pending one (%#)', (a, b) => {
    expect(choosePeer([a, b], 'i-self')).toBe('10.0.2.7');
  });
  test.each(both(inst('i-old', 'pending', 1000, '10.0.2.7'), inst('i-new', 'pending', 3000, '10.0.2.8')))('the newest pending node when none runs (%#)', (a, b) => {
    expect(choosePeer([a, b], 'i-self')).toBe('10.0.2.8');
  });
  test('never this node, never one without an address, never one stopping or stopped', () => {
    expect(choosePeer([inst('i-self', 'running', 9000, '10.0.1.5'), inst('i-peer', 'pending', 1000, '10.0.2.7')], 'i-self')).toBe('10.0.2.7');
    expect(choosePeer([inst('i-a', 'running', 9000), inst('i-b', 'pending', 1000, '10.0.2.7')], 'i-self')).toBe('10.0.2.7');
    expect(choosePeer([inst('i-a', 'stopping', 9000, '10.0.2.6'), inst('i-b', 'stopped', 9000, '10.0.2.8')], 'i-self')).toBeUndefined();
  });
});

test('renderPeers: one address a line, and an empty block for a lone node', () => {
  expect(renderPeers(['10.0.2.7', '10.0.3.9'])).toBe('10.0.2.7\n10.0.3.9\n');
  expect(renderPeers([])).toBe('');
});

describe('parseShowStat', () => {
  test('reads only the servers of the named backend, whatever the column order and header spacing', () => {
    const csv = [
      '',
      '#svname,scur,pxname,smax',
      'FRONTEND,12,app,40',
      'app1,4,app,20',
      'BACKEND,4,app,30',
      'other1,7,other,9',
      'app2,,app,3',
      '',
    ].join('\n');
    expect([...parseShowStat(csv, 'app')]).toEqual([['app1', 4], ['app2', 0]]);
  });
  test('scur first', () => {
    expect([...parseShowStat('# scur,pxname,svname\n5,app,app1\n', 'app')]).toEqual([['app1', 5]]);
  });
  test.each(['', '# pxname,svname,smax\napp,app1,3\n', '# pxname,scur\napp,3\n', '# svname,scur\napp1,3\n'])('reads nothing without the columns it needs: %j', (csv) => {
    expect(parseShowStat(csv, 'app').size).toBe(0);
  });
});

test('drainedInstances: only a draining slot that is known, has an instance and holds no session', () => {
  const slots: ServerSlot[] = [
    { address: '10.0.0.1', instanceId: 'i-1', state: 'ready' },
    { address: '10.0.0.2', instanceId: 'i-2', state: 'drain' },
    { address: '10.0.0.3', state: 'drain' },
    { address: '10.0.0.4', instanceId: 'i-4', state: 'drain' },
    { state: 'maint' },
  ];
  const sessions = new Map([['app1', 0], ['app2', 0], ['app3', 0], ['app5', 0]]);
  expect(drainedInstances(slots, 'app', sessions)).toStrictEqual(['i-2']);
});
