import { leaderOnly, type ToolDeps } from '../../instance/leader/cli';
import { handle, type HookConfig } from '../../lambda/leader/index';
import { abandonRun, queryRunningRuns, readLeader, writeLeader } from '../../lambda/leader/io';
import type { LeaderRecord } from '../../lambda/leader/logic';
import { startLedger, type Ledger } from '../dynalite';
import { FakeAws } from './fake-aws';

// The LeaderElection ledger (pk/sk, leader item and run items) against dynalite: every condition, update and query
// expression evaluated by DynamoDB's rules through the real SDK. Races are real concurrent requests.

const GROUP = 'app-blue-fleet';
const HOOK = 'leader-handover';
const config: HookConfig = { tableName: 'ledger', groupName: GROUP, hookName: HOOK, tagKey: 'resilient-fleet:leader', protectLeader: true, abandonGraceMs: 300_000 };
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const NOW = Date.parse('2026-11-23T07:00:00Z');

let ledger: Ledger;
beforeAll(async () => {
  ledger = await startLedger({ hash: 'pk', range: 'sk' }, config.tableName);
});
afterAll(async () => {
  await ledger.stop();
});

const clients = () => {
  const aws = new FakeAws(GROUP, HOOK);
  aws.ddb = ledger.ddb;
  return aws.clients();
};
const record = (r: Partial<LeaderRecord>): LeaderRecord => ({ term: 1, version: 1, departed: [], ...r });

describe('the leader item', () => {
  test('created only when absent, then written only on the version read (neither older nor newer)', async () => {
    const c = clients();
    const group = 'g-leader-versions';
    expect(await writeLeader(c, config.tableName, group, record({ leader: 'i-a', since: NOW }), 0)).toBe(true);
    expect(await writeLeader(c, config.tableName, group, record({ leader: 'i-b', since: NOW }), 0)).toBe(false);
    expect(await writeLeader(c, config.tableName, group, record({ term: 2, version: 2, leader: 'i-b' }), 2)).toBe(false);
    expect(await writeLeader(c, config.tableName, group, record({ term: 2, version: 2, leader: 'i-b', previous: 'i-a', departed: ['i-a'] }), 1)).toBe(true);
    expect(await writeLeader(c, config.tableName, group, record({ term: 3, version: 3, leader: 'i-c' }), 1)).toBe(false);
    expect(await readLeader(c, config.tableName, group)).toEqual({ term: 2, version: 2, leader: 'i-b', since: undefined, previous: 'i-a', departed: ['i-a'] });
    const item = (await ledger.items()).find((i) => i.pk === `${group}#leader`);
    expect(item).toEqual({ pk: `${group}#leader`, sk: 'leader', group, term: 2, version: 2, leader: 'i-b', previous: 'i-a', departed: ['i-a'] });
  });

  test('a vacant leader item (no leader, departures recorded) is not overwritten by a write that read no item', async () => {
    const c = clients();
    const group = 'g-leader-vacant';
    expect(await writeLeader(c, config.tableName, group, { term: 0, version: 1, departed: ['i-z'] }, 0)).toBe(true);
    expect(await writeLeader(c, config.tableName, group, record({ leader: 'i-z', since: NOW }), 0)).toBe(false);
    expect(await readLeader(c, config.tableName, group)).toMatchObject({ term: 0, version: 1, leader: undefined, departed: ['i-z'] });
  });

  test('five launch events handled at once elect one leader for term 1, and every handler agrees', async () => {
    const group = 'g-leader-race';
    const aws = new FakeAws(group, HOOK);
    aws.ddb = ledger.ddb;
    aws.setDesired(5);
    const events = aws.events.splice(0);
    expect(events).toHaveLength(5);
    const deps = { clients: aws.clients(), config: { ...config, groupName: group }, log: silent, timing: { now: () => NOW, sleep: async () => undefined, random: () => 0.5 } };
    await Promise.all(events.map((e) => handle(e, deps)));
    const leader = await readLeader(aws.clients(), config.tableName, group);
    const lowest = aws.instances.map((x) => x.id).sort()[0];
    expect(leader).toMatchObject({ term: 1, leader: lowest, version: 1 });
    expect(aws.instances.filter((x) => x.tags.has(config.tagKey)).map((x) => x.id)).toEqual([lowest]);
  });
});

describe('run items', () => {
  function tool(ddb: ToolDeps['ddb'], instance: string, ran: string[], clock: { t: number }): ToolDeps {
    return {
      ddb,
      config: { tableName: config.tableName, tagKey: config.tagKey },
      instanceId: async () => instance,
      groupName: async () => GROUP,
      metadataTag: async () => undefined,
      bootId: () => `boot-${instance}`,
      pid: 1000,
      processAlive: () => true,
      exec: async () => {
        ran.push(instance);
        await new Promise((r) => setImmediate(r));
        return 0;
      },
      sleep: async (ms) => {
        clock.t += ms;
        await new Promise((r) => setImmediate(r));
      },
      now: () => clock.t,
      env: { DEPLOYMENT_ID: 'd-RACE' },
      out: () => undefined,
      err: () => undefined,
    };
  }

  test('six instances racing to run one migration: it runs once, and every instance returns success', async () => {
    const ran: string[] = [];
    const clock = { t: NOW };
    const ids = ['i-01', 'i-02', 'i-03', 'i-04', 'i-05', 'i-06'];
    const codes = await Promise.all(ids.map((id) => leaderOnly({ wait: true, waitTimeoutS: 3600, pollS: 5, name: 'migrate', command: ['rake', 'db:migrate'] }, tool(ledger.ddb, id, ran, clock))));
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    expect(ran).toHaveLength(1);
    const item = (await ledger.items()).find((i) => i.sk === 'run#d-RACE#migrate');
    expect(item).toMatchObject({ pk: GROUP, status: 'DONE', attempt: 1, owner: ran[0], exitCode: 0 });
  });

  test('an abandoned run is abandoned once, only while RUNNING at the attempt read; the query lists RUNNING runs only', async () => {
    const c = clients();
    const base = { pk: GROUP, bootId: 'b', pid: 1, startedAt: NOW };
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    for (const [key, status, attempt] of [['d-1#a', 'RUNNING', 2], ['d-1#b', 'DONE', 1], ['d-1#c', 'RUNNING', 1]] as const) {
      await ledger.ddb.send(new PutCommand({ TableName: config.tableName, Item: { ...base, sk: `run#${key}`, status, attempt, owner: 'i-gone' } }));
    }
    // Another group's run and the leader item share the table but not the partition or the prefix.
    await ledger.ddb.send(new PutCommand({ TableName: config.tableName, Item: { ...base, pk: 'other-group', sk: 'run#d-1#a', status: 'RUNNING', attempt: 1, owner: 'i-x' } }));
    expect((await queryRunningRuns(c, config.tableName, GROUP)).map((r) => r.key).sort()).toEqual(['d-1#a', 'd-1#c']);
    expect(await abandonRun(c, config.tableName, GROUP, 'd-1#a', 1, NOW + 1)).toBe(false); // attempt moved on
    expect(await abandonRun(c, config.tableName, GROUP, 'd-1#b', 1, NOW + 1)).toBe(false); // finished
    expect(await abandonRun(c, config.tableName, GROUP, 'd-1#a', 2, NOW + 1)).toBe(true);
    expect(await abandonRun(c, config.tableName, GROUP, 'd-1#a', 2, NOW + 2)).toBe(false); // already abandoned
    expect((await queryRunningRuns(c, config.tableName, GROUP)).map((r) => r.key)).toEqual(['d-1#c']);
    const item = (await ledger.items()).find((i) => i.pk === GROUP && i.sk === 'run#d-1#a');
    expect(item).toMatchObject({ status: 'ABANDONED', abandonedAt: NOW + 1, attempt: 2 });
  });
});
