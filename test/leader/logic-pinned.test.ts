import { commandName, decideAbandon, decideClaim, decideElection, deriveEffects, runKey, type GroupView, type LeaderRecord, type Member, type RunRecord } from '../../lambda/leader/logic';

// The leader's thresholds and names pinned to the values users and stored ledgers depend on. Expected values are
// written out here, never read from the module: a changed constant must fail a test.

const m = (instanceId: string, lifecycleState = 'InService', healthStatus = 'Healthy', protectedFromScaleIn = false): Member => ({
  instanceId,
  lifecycleState,
  healthStatus,
  protectedFromScaleIn,
});
const view = (members: Member[], desiredCapacity = members.length): GroupView => ({ desiredCapacity, members });
const rec = (r: Partial<LeaderRecord>): LeaderRecord => ({ term: 0, version: 0, departed: [], ...r });

describe('the grace for a just-elected leader a stale answer does not list: 2 minutes', () => {
  const SINCE = 1_700_000_000_000;
  const r = rec({ term: 3, leader: 'i-new', version: 4, since: SINCE });
  const launch = { kind: 'launch', instanceId: 'i-b' } as const;
  const at = (now: number) => decideElection({ record: r, group: view([m('i-b')]), trigger: launch, now });

  test('119,999 ms after the election the ledger outranks the answer', () => {
    expect(at(SINCE + 119_999).next).toBeUndefined();
    expect(at(SINCE + 119_999).reason).toBe('leader i-new (term 3, elected 119999 ms ago) is not listed yet: the ledger outranks a stale answer');
  });
  test('at exactly 120,000 ms the leader is replaced', () => {
    expect(at(SINCE + 120_000).next).toEqual({ term: 4, leader: 'i-b', since: SINCE + 120_000, version: 5, previous: 'i-new', departed: [] });
  });
  test('right after the election, too: a sweep never applies the grace', () => {
    const d = decideElection({ record: r, group: view([m('i-b')]), trigger: { kind: 'sweep' }, now: SINCE + 1 });
    expect(d.next).toMatchObject({ term: 4, leader: 'i-b' });
    expect(d.reason).toBe('leader i-new is not in the group: elected i-b for term 4');
  });
  test('a leader whose election time is unknown gets no grace', () => {
    const d = decideElection({ record: rec({ term: 3, leader: 'i-new', version: 4 }), group: view([m('i-b')]), trigger: launch, now: SINCE });
    expect(d.next).toMatchObject({ term: 4, leader: 'i-b' });
  });
  test('a leader seen leaving gets no grace', () => {
    const d = decideElection({ record: { ...r, departed: ['i-new'] }, group: view([m('i-b')]), trigger: launch, now: SINCE + 1 });
    expect(d.next).toMatchObject({ term: 4, leader: 'i-b', departed: ['i-new'] });
    expect(d.reason).toBe('leader i-new is not in the group: elected i-b for term 4');
    const listed = decideElection({ record: { ...r, departed: ['i-new'] }, group: view([m('i-new'), m('i-b')]), trigger: launch, now: SINCE + 1 });
    expect(listed.reason).toBe('leader i-new is leaving the group: elected i-b for term 4');
  });
  test('the grace also covers a departure recorded meanwhile: the leader stays and the departure is written', () => {
    const d = decideElection({ record: r, group: view([m('i-b')]), trigger: { kind: 'terminate', instanceId: 'i-b' }, now: SINCE + 1 });
    expect(d.next).toEqual({ ...r, version: 5, departed: ['i-b'] });
    expect(d.reason).toBe('recorded departure of i-b; leader i-new stays');
  });
});

describe('departed instances remembered: 100', () => {
  const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `i-${String(i + from).padStart(3, '0')}`);
  const leave = (departed: string[], id: string) =>
    decideElection({ record: rec({ term: 1, leader: 'i-l', version: 1, departed }), group: view([m('i-l')]), trigger: { kind: 'terminate', instanceId: id }, now: 1 });

  test('the 100th departure is kept with all 99 before it', () => {
    const d = leave(ids(99), 'i-new');
    expect(d.next!.departed).toEqual([...ids(99), 'i-new']);
    expect(d.next!.departed).toHaveLength(100);
  });
  test('the 101st forgets the oldest one', () => {
    const d = leave(ids(100), 'i-new');
    expect(d.next!.departed).toEqual([...ids(99, 1), 'i-new']);
  });
  test('a departure seen twice is recorded once and writes nothing', () => {
    const d = leave(['i-a', 'i-b'], 'i-a');
    expect(d.next).toBeUndefined();
    expect(d.reason).toBe('leader i-l (term 1) is in service');
  });
  test('a warm-pool stop (final: false) is not a departure, but the instance cannot lead meanwhile', () => {
    const d = decideElection({
      record: rec({ term: 1, leader: 'i-a', version: 1 }),
      group: view([m('i-a'), m('i-b')]),
      trigger: { kind: 'terminate', instanceId: 'i-a', final: false },
      now: 1,
    });
    expect(d.next).toEqual({ term: 2, leader: 'i-b', since: 1, version: 2, previous: 'i-a', departed: [] });
  });
  test('an explicit final termination is a departure', () => {
    const d = leave([], 'i-x');
    expect(d.next!.departed).toEqual(['i-x']);
  });
});

describe('elections and vacancies, written out', () => {
  test('the lowest eligible instance id wins, whatever the order the group lists them in', () => {
    const d = decideElection({ record: undefined, group: view([m('i-c'), m('i-b', 'Pending'), m('i-d'), m('i-a', 'InService', 'Unhealthy')]), trigger: { kind: 'sweep' }, now: 5 });
    expect(d.next).toEqual({ term: 1, leader: 'i-c', since: 5, version: 1, previous: undefined, departed: [] });
    expect(d.reason).toBe('no leader: elected i-c for term 1');
  });
  test('no leader and no eligible instance: nothing to write', () => {
    const d = decideElection({ record: rec({ term: 7, version: 9, previous: 'i-old' }), group: view([m('i-a', 'Pending')]), trigger: { kind: 'sweep' }, now: 5 });
    expect(d).toEqual({ reason: 'no leader and no eligible instance' });
  });
  test('a vacancy keeps the term and the earlier previous leader', () => {
    const d = decideElection({ record: rec({ term: 7, version: 9, previous: 'i-old' }), group: view([]), trigger: { kind: 'terminate', instanceId: 'i-z' }, now: 5 });
    expect(d.next).toEqual({ term: 7, version: 10, previous: 'i-old', departed: ['i-z'] });
    expect(d.reason).toBe('no leader; no eligible instance: leadership vacant until one is in service');
  });
  test('an unhealthy leader is described by its state when replaced', () => {
    const d = decideElection({ record: rec({ term: 2, leader: 'i-a', version: 2 }), group: view([m('i-a', 'InService', 'Unhealthy'), m('i-b')]), trigger: { kind: 'sweep' }, now: 5 });
    expect(d.reason).toBe('leader i-a is InService/Unhealthy: elected i-b for term 3');
  });
  test('a new election remembers the earlier previous leader when there was no current one', () => {
    const d = decideElection({ record: rec({ term: 7, version: 9, previous: 'i-old' }), group: view([m('i-a')]), trigger: { kind: 'launch', instanceId: 'i-a' }, now: 5 });
    expect(d.next).toEqual({ term: 8, leader: 'i-a', since: 5, version: 10, previous: 'i-old', departed: [] });
  });
});

describe('effects at the protection threshold: desired capacity 2', () => {
  const r = rec({ term: 2, leader: 'i-a', version: 2 });
  test('at 2 the leader is protected; at 1 it is not', () => {
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a'), m('i-b')], 2), trigger: { kind: 'sweep' }, protectLeader: true }).protect).toEqual(['i-a']);
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a'), m('i-b')], 1), trigger: { kind: 'sweep' }, protectLeader: true }).protect).toEqual([]);
  });
  test('an already protected leader is not protected twice', () => {
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a', 'InService', 'Healthy', true), m('i-b')], 2), trigger: { kind: 'sweep' }, protectLeader: true })).toEqual({
      tag: { instanceId: 'i-a', term: 2 },
      untag: [],
      protect: [],
      unprotect: [],
    });
  });
  test('a leader that is terminating is released, not protected', () => {
    const e = deriveEffects({ record: r, before: 'i-a', group: view([m('i-a', 'Terminating:Wait', 'Healthy', true), m('i-b')], 3), trigger: { kind: 'terminate', instanceId: 'i-a' }, protectLeader: true });
    expect(e).toEqual({ tag: { instanceId: 'i-a', term: 2 }, untag: [], protect: [], unprotect: ['i-a'] });
  });
  test('a leader the answer does not list gets no tag yet', () => {
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-b')], 2), trigger: { kind: 'sweep' }, protectLeader: true })).toEqual({ tag: undefined, untag: [], protect: [], unprotect: [] });
  });
  test('a previous leader that was never protected is untagged but not unprotected', () => {
    const e = deriveEffects({ record: rec({ term: 3, leader: 'i-b', version: 3, previous: 'i-a' }), before: 'i-b', group: view([m('i-a'), m('i-b')], 2), trigger: { kind: 'sweep' }, protectLeader: false });
    expect(e).toEqual({ tag: { instanceId: 'i-b', term: 3 }, untag: ['i-a'], protect: [], unprotect: [] });
  });
});

describe('abandoning runs at the grace boundary', () => {
  const run = (startedAt: number, owner = 'i-gone', status: RunRecord['status'] = 'RUNNING'): RunRecord => ({ key: `k-${startedAt}-${status}`, status, attempt: 3, owner, bootId: 'b', pid: 1, startedAt });
  const NOW = 1_000_000;
  const GRACE = 60_000;
  test('a run exactly the grace old is abandoned; 1 ms younger it is not', () => {
    const runs = [run(NOW - GRACE), run(NOW - GRACE + 1), run(NOW - GRACE - 1)];
    expect(decideAbandon({ runs, members: new Set(), now: NOW, graceMs: GRACE })).toEqual([
      { key: `k-${NOW - GRACE}-RUNNING`, attempt: 3, owner: 'i-gone' },
      { key: `k-${NOW - GRACE - 1}-RUNNING`, attempt: 3, owner: 'i-gone' },
    ]);
  });
  test('finished, failed and abandoned runs are left alone, and so are runs of members', () => {
    const runs = [run(0, 'i-gone', 'DONE'), run(0, 'i-gone', 'FAILED'), run(0, 'i-gone', 'ABANDONED'), run(0, 'i-here')];
    expect(decideAbandon({ runs, members: new Set(['i-here']), now: NOW, graceMs: GRACE })).toEqual([]);
  });
});

describe('claims, written out', () => {
  const me = { instanceId: 'i-me', bootId: 'boot-1', pid: 42 };
  const run = (r: Partial<RunRecord>): RunRecord => ({ key: 'd-1#m', status: 'RUNNING', attempt: 1, owner: 'i-other', bootId: 'boot-x', pid: 7, startedAt: 0, ...r });
  test('our own process still running the attempt: wait, without asking whether it is alive', () => {
    const asked: number[] = [];
    const d = decideClaim({ record: run({ owner: 'i-me', bootId: 'boot-1', pid: 42 }), me, firstLook: true, localProcessAlive: (pid) => (asked.push(pid), false) });
    expect(d).toEqual({ action: 'wait', reason: 'attempt 1 is running on i-me' });
    expect(asked).toEqual([]);
  });
  test('reasons name the attempt, the owner and the exit code', () => {
    expect(decideClaim({ record: run({ status: 'FAILED', attempt: 2, exitCode: 3 }), me, firstLook: false, localProcessAlive: () => true })).toEqual({
      action: 'fail',
      reason: 'attempt 2 by i-other failed (exit code 3)',
    });
    expect(decideClaim({ record: run({ status: 'DONE', attempt: 2 }), me, firstLook: true, localProcessAlive: () => true })).toEqual({ action: 'skip', reason: 'already done by i-other (attempt 2)' });
    expect(decideClaim({ record: run({ owner: 'i-me', bootId: 'boot-1', pid: 9 }), me, firstLook: true, localProcessAlive: () => false })).toEqual({
      action: 'claim',
      attempt: 2,
      expectedAttempt: 1,
      reason: 'attempt 1 died with its process 9 on this instance',
    });
  });
});

describe('run keys: stable across versions, so a command run once per deployment is never run again after an upgrade', () => {
  // FNV-1a (32 bit, offset basis 0x811c9dc5, prime 0x01000193) over the arguments joined by NUL, computed independently.
  test.each([
    [['rake', 'db:migrate'], 'cmd-c4d2a5ad'],
    [['rake', 'db:seed'], 'cmd-b1c1b5b5'],
    [['a b'], 'cmd-10a3f9f2'],
    [['a', 'b'], 'cmd-10f3abd2'],
    [['x'], 'cmd-fd0c5087'],
    [[''], 'cmd-811c9dc5'],
    [['bin/rails', 'db:migrate', '--trace'], 'cmd-b26de37a'],
    [['é€😀'], 'cmd-bffcfd28'],
  ])('%j is %s', (argv, name) => {
    expect(commandName(argv)).toBe(name);
  });
  test('a run key is the deployment and the name', () => {
    expect(runKey('d-ABC123', 'cmd-c4d2a5ad')).toBe('d-ABC123#cmd-c4d2a5ad');
  });
});

describe('the grace covers only a leader the answer does not list', () => {
  const SINCE = 1_700_000_000_000;
  const r = rec({ term: 3, leader: 'i-new', version: 4, since: SINCE });
  test('a just-elected leader the answer lists as unhealthy or in standby is replaced at once, by an event too', () => {
    for (const [state, health] of [['InService', 'Unhealthy'], ['Standby', 'Healthy']]) {
      const d = decideElection({ record: r, group: view([m('i-new', state, health), m('i-b')]), trigger: { kind: 'launch', instanceId: 'i-b' }, now: SINCE + 1 });
      expect(d.next).toEqual({ term: 4, leader: 'i-b', since: SINCE + 1, version: 5, previous: 'i-new', departed: [] });
      expect(d.reason).toBe(`leader i-new is ${state}/${health}: elected i-b for term 4`);
    }
  });
});

describe('a leader that can no longer lead, with nobody to take over', () => {
  test('is removed from the ledger (vacant, term kept), not left in place', () => {
    const d = decideElection({ record: rec({ term: 2, leader: 'i-a', version: 3, since: 10 }), group: view([m('i-a', 'InService', 'Unhealthy'), m('i-b', 'Pending')]), trigger: { kind: 'sweep' }, now: 5_000_000 });
    expect(d.next).toEqual({ term: 2, version: 4, previous: 'i-a', departed: [] });
    expect(d.reason).toBe('leader i-a is InService/Unhealthy; no eligible instance: leadership vacant until one is in service');
  });
});

describe('no tag calls for an instance the group no longer lists, except the one this terminate event is about (it still runs)', () => {
  const r = rec({ term: 6, leader: 'i-b', version: 8, previous: 'i-z' });
  const group = view([m('i-b'), m('i-c')], 2);
  test('a previous leader the group no longer lists is neither untagged nor unprotected, whatever the trigger', () => {
    const none = { tag: { instanceId: 'i-b', term: 6 }, untag: [], protect: [], unprotect: [] };
    expect(deriveEffects({ record: r, before: 'i-z', group, trigger: { kind: 'sweep' }, protectLeader: false })).toEqual(none);
    expect(deriveEffects({ record: r, before: 'i-z', group, trigger: { kind: 'terminate', instanceId: 'i-c' }, protectLeader: false })).toEqual(none);
    // A warm-pool instance coming back that the answer does not list yet: it lost its tag when it left.
    expect(deriveEffects({ record: r, before: 'i-z', group, trigger: { kind: 'launch', instanceId: 'i-z' }, protectLeader: false })).toEqual(none);
  });
  test('the leader this terminate event is about is untagged though the answer no longer lists it (it still runs)', () => {
    expect(deriveEffects({ record: r, before: 'i-z', group, trigger: { kind: 'terminate', instanceId: 'i-z' }, protectLeader: false }).untag).toEqual(['i-z']);
  });
});

describe('effects come out sorted, so the same ledger always gives the same calls', () => {
  test('untag', () => {
    const e = deriveEffects({ record: rec({ term: 4, leader: 'i-a', version: 5, previous: 'i-b' }), before: 'i-c', group: view([m('i-a'), m('i-b'), m('i-c')], 3), trigger: { kind: 'sweep' }, protectLeader: false });
    expect(e.untag).toEqual(['i-b', 'i-c']);
  });
  test('unprotect', () => {
    const e = deriveEffects({
      record: rec({ term: 4, leader: 'i-a', version: 5, previous: 'i-c' }),
      before: 'i-c',
      group: view([m('i-a', 'InService', 'Healthy', true), m('i-c', 'InService', 'Healthy', true)], 1),
      trigger: { kind: 'sweep' },
      protectLeader: true,
    });
    expect(e.unprotect).toEqual(['i-a', 'i-c']);
  });
});

describe('claim reasons, written out (they are the log a failed deployment is read from)', () => {
  const me = { instanceId: 'i-me', bootId: 'boot-1', pid: 42 };
  const run = (r: Partial<RunRecord>): RunRecord => ({ key: 'd-1#m', status: 'RUNNING', attempt: 1, owner: 'i-other', bootId: 'boot-x', pid: 7, startedAt: 0, ...r });
  const alive = () => true;
  test.each([
    ['no run yet', undefined, true, { action: 'claim', attempt: 1, expectedAttempt: undefined, reason: 'first claim' }],
    ['abandoned', run({ status: 'ABANDONED', attempt: 4 }), false, { action: 'claim', attempt: 5, expectedAttempt: 4, reason: 'attempt 4 by i-other was abandoned (its instance left the group)' }],
    ['failed, fresh look', run({ status: 'FAILED', attempt: 2 }), true, { action: 'claim', attempt: 3, expectedAttempt: 2, reason: 'attempt 2 by i-other failed; trying again' }],
    ['failed without an exit code', run({ status: 'FAILED', attempt: 2 }), false, { action: 'fail', reason: 'attempt 2 by i-other failed (exit code unknown)' }],
    ['ours, before a reboot', run({ owner: 'i-me', bootId: 'boot-0', attempt: 6 }), true, { action: 'claim', attempt: 7, expectedAttempt: 6, reason: 'attempt 6 was cut short by a reboot of this instance' }],
  ] as const)('%s', (_name, record, firstLook, expected) => {
    expect(decideClaim({ record, me, firstLook, localProcessAlive: alive })).toEqual(expected);
  });
});

describe('run names keep their leading zeros', () => {
  // FNV-1a computed independently: these command lines hash below 0x01000000.
  test.each([
    [['migrate', '35'], 'cmd-003cb35a'],
    [['bin/rails', '31'], 'cmd-00c0e4f8'],
  ])('%j is %s', (argv, name) => {
    expect(commandName(argv)).toBe(name);
  });
});
