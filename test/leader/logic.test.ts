import {
  commandName,
  decideAbandon,
  decideClaim,
  decideElection,
  deriveEffects,
  type GroupView,
  type LeaderRecord,
  type Member,
  type RunRecord,
} from '../../lambda/leader/logic';

const m = (instanceId: string, lifecycleState = 'InService', healthStatus = 'Healthy', protectedFromScaleIn = false): Member => ({
  instanceId,
  lifecycleState,
  healthStatus,
  protectedFromScaleIn,
});
const view = (members: Member[], desiredCapacity = members.length): GroupView => ({ desiredCapacity, members });
const rec = (r: Partial<LeaderRecord>): LeaderRecord => ({ term: 0, version: 0, departed: [], ...r });

describe('decideElection', () => {
  test.each([
    ['no record, one in service', undefined, [m('i-b'), m('i-a')], { kind: 'sweep' }, { leader: 'i-a', term: 1, version: 1 }],
    ['leader in service stays', rec({ term: 4, leader: 'i-b', version: 9 }), [m('i-a'), m('i-b')], { kind: 'sweep' }, undefined],
    ['pending instances are not eligible', undefined, [m('i-a', 'Pending')], { kind: 'launch', instanceId: 'i-a' }, undefined],
    ['standby is not eligible', rec({ term: 1, leader: 'i-a', version: 1 }), [m('i-a', 'Standby'), m('i-b')], { kind: 'sweep' }, { leader: 'i-b', term: 2 }],
    ['unhealthy leader is replaced', rec({ term: 1, leader: 'i-a', version: 1 }), [m('i-a', 'InService', 'Unhealthy'), m('i-b')], { kind: 'sweep' }, { leader: 'i-b', term: 2 }],
    ['vanished leader is replaced', rec({ term: 5, leader: 'i-z', version: 7 }), [m('i-b')], { kind: 'sweep' }, { leader: 'i-b', term: 6, previous: 'i-z' }],
    ['terminating leader hands over', rec({ term: 2, leader: 'i-a', version: 3 }), [m('i-a'), m('i-b')], { kind: 'terminate', instanceId: 'i-a' }, { leader: 'i-b', term: 3, departed: ['i-a'] }],
    ['last instance leaves: vacant, term kept', rec({ term: 2, leader: 'i-a', version: 3 }), [m('i-a', 'Terminating:Wait')], { kind: 'terminate', instanceId: 'i-a' }, { term: 2, version: 4, previous: 'i-a', departed: ['i-a'] }],
    ['follower leaves: only the departure is recorded', rec({ term: 2, leader: 'i-a', version: 3 }), [m('i-a'), m('i-b')], { kind: 'terminate', instanceId: 'i-b' }, { leader: 'i-a', term: 2, version: 4, departed: ['i-b'] }],
    ['warm pool departure is not remembered', rec({ term: 2, leader: 'i-a', version: 3 }), [m('i-a'), m('i-b')], { kind: 'terminate', instanceId: 'i-b', final: false }, undefined],
  ] as const)('%s', (_name, record, members, trigger, expected) => {
    const d = decideElection({ record: record as LeaderRecord | undefined, group: view([...members]), trigger: trigger as never, now: 1000 });
    if (expected === undefined) expect(d.next).toBeUndefined();
    else expect(d.next).toMatchObject(expected);
    if (expected !== undefined && !('leader' in expected)) expect(d.next!.leader).toBeUndefined();
    expect(d.reason).toEqual(expect.any(String));
  });

  test('an event keeps a recently elected leader that a stale view does not list; after the grace, or in a sweep, it is replaced', () => {
    const r = rec({ term: 3, leader: 'i-new', version: 4, since: 1_000 });
    const launch = { kind: 'launch', instanceId: 'i-b' } as const;
    expect(decideElection({ record: r, group: view([m('i-b')]), trigger: launch, now: 1_000 + 120_000 - 1 }).next).toBeUndefined();
    expect(decideElection({ record: r, group: view([m('i-b')]), trigger: launch, now: 1_000 + 120_000 }).next).toMatchObject({ leader: 'i-b', term: 4 });
    expect(decideElection({ record: r, group: view([m('i-b')]), trigger: { kind: 'sweep' }, now: 1_001 }).next).toMatchObject({ leader: 'i-b', term: 4 });
  });

  test('a departed instance is never elected again, whatever a stale view says', () => {
    const d = decideElection({ record: rec({ term: 3, version: 4, departed: ['i-a'] }), group: view([m('i-a')]), trigger: { kind: 'launch', instanceId: 'i-a' }, now: 1 });
    expect(d.next).toBeUndefined();
  });

  test('remembers at most 100 departures, oldest forgotten first', () => {
    const departed = Array.from({ length: 100 }, (_, i) => `i-${i}`);
    const d = decideElection({ record: rec({ term: 1, leader: 'i-l', version: 1, departed }), group: view([m('i-l')]), trigger: { kind: 'terminate', instanceId: 'i-new' }, now: 1 });
    expect(d.next!.departed).toHaveLength(100);
    expect(d.next!.departed[0]).toBe('i-1');
    expect(d.next!.departed.at(-1)).toBe('i-new');
  });
});

describe('deriveEffects', () => {
  test('protects the leader while desired capacity is at least two, releases it below (nothing else to pick, or the nightly stop)', () => {
    const r = rec({ term: 2, leader: 'i-a', version: 2 });
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a'), m('i-b')], 2), trigger: { kind: 'sweep' }, protectLeader: true })).toEqual({
      tag: { instanceId: 'i-a', term: 2 },
      untag: [],
      protect: ['i-a'],
      unprotect: [],
    });
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a', 'InService', 'Healthy', true)], 1), trigger: { kind: 'sweep' }, protectLeader: true }).unprotect).toEqual(['i-a']);
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a', 'InService', 'Healthy', true)], 0), trigger: { kind: 'sweep' }, protectLeader: true }).unprotect).toEqual(['i-a']);
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a')], 1), trigger: { kind: 'sweep' }, protectLeader: true }).protect).toEqual([]);
  });

  test('with protectLeader off it never protects', () => {
    const r = rec({ term: 2, leader: 'i-a', version: 2 });
    expect(deriveEffects({ record: r, before: 'i-a', group: view([m('i-a')]), trigger: { kind: 'sweep' }, protectLeader: false }).protect).toEqual([]);
  });

  test('untags the previous leader, a terminating one too (one leader tag at any time), and unprotects only one that stays', () => {
    const r = rec({ term: 3, leader: 'i-b', version: 3, previous: 'i-a' });
    const e = deriveEffects({ record: r, before: 'i-a', group: view([m('i-a', 'InService', 'Unhealthy', true), m('i-b')]), trigger: { kind: 'sweep' }, protectLeader: true });
    expect(e).toEqual({ tag: { instanceId: 'i-b', term: 3 }, untag: ['i-a'], protect: ['i-b'], unprotect: ['i-a'] });
    const t = deriveEffects({ record: { ...r, departed: ['i-a'] }, before: 'i-a', group: view([m('i-a', 'Terminating:Wait', 'Healthy', true), m('i-b')]), trigger: { kind: 'terminate', instanceId: 'i-a' }, protectLeader: true });
    expect(t.untag).toEqual(['i-a']);
    expect(t.unprotect).toEqual([]);
  });
});

describe('decideClaim', () => {
  const me = { instanceId: 'i-me', bootId: 'boot-1', pid: 42 };
  const run = (r: Partial<RunRecord>): RunRecord => ({ key: 'd-1#m', status: 'RUNNING', attempt: 1, owner: 'i-other', bootId: 'boot-x', pid: 7, startedAt: 0, ...r });
  const alive = () => true;
  const dead = () => false;
  test.each([
    ['nothing yet: claim attempt 1', undefined, true, alive, { action: 'claim', attempt: 1, expectedAttempt: undefined }],
    ['done: skip', run({ status: 'DONE' }), true, alive, { action: 'skip' }],
    ['running elsewhere: wait', run({}), true, alive, { action: 'wait' }],
    ['failed, fresh invocation: claim again', run({ status: 'FAILED', attempt: 2 }), true, alive, { action: 'claim', attempt: 3, expectedAttempt: 2 }],
    ['failed while we waited: fail', run({ status: 'FAILED', attempt: 2 }), false, alive, { action: 'fail' }],
    ['abandoned: claim again', run({ status: 'ABANDONED', attempt: 4 }), false, alive, { action: 'claim', attempt: 5, expectedAttempt: 4 }],
    ['ours, before a reboot: claim again', run({ owner: 'i-me', bootId: 'boot-0' }), true, alive, { action: 'claim', attempt: 2 }],
    ['ours, same boot, process dead: claim again', run({ owner: 'i-me', bootId: 'boot-1', pid: 9 }), true, dead, { action: 'claim', attempt: 2 }],
    ['ours, same boot, process alive: wait', run({ owner: 'i-me', bootId: 'boot-1', pid: 9 }), true, alive, { action: 'wait' }],
  ] as const)('%s', (_name, record, firstLook, localProcessAlive, expected) => {
    expect(decideClaim({ record, me, firstLook, localProcessAlive })).toMatchObject(expected);
  });
});

describe('decideAbandon', () => {
  test('abandons only RUNNING runs whose owner left the group and that are older than the grace', () => {
    const base = { bootId: 'b', pid: 1, attempt: 1 };
    const runs: RunRecord[] = [
      { ...base, key: 'gone-old', status: 'RUNNING', owner: 'i-gone', startedAt: 0 },
      { ...base, key: 'gone-young', status: 'RUNNING', owner: 'i-gone', startedAt: 950 },
      { ...base, key: 'present', status: 'RUNNING', owner: 'i-here', startedAt: 0 },
      { ...base, key: 'done', status: 'DONE', owner: 'i-gone', startedAt: 0 },
    ];
    expect(decideAbandon({ runs, members: new Set(['i-here']), now: 1000, graceMs: 100 }).map((a) => a.key)).toEqual(['gone-old']);
  });
});

describe('commandName', () => {
  test('is stable and tells different command lines apart', () => {
    expect(commandName(['rake', 'db:migrate'])).toBe(commandName(['rake', 'db:migrate']));
    expect(commandName(['rake', 'db:migrate'])).not.toBe(commandName(['rake', 'db:seed']));
    expect(commandName(['a b'])).not.toBe(commandName(['a', 'b']));
    expect(commandName(['x'])).toMatch(/^cmd-[0-9a-f]{8}$/);
  });
});
