import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { leaderOnly, leaderStatus, parseArgs, type OnlyOptions, type ToolDeps } from '../../instance/leader/cli';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';

/** What the real DynamoDB client throws when a condition fails (parsed from the documented wire body). */
const conditionFailed = () => parsedError(DynamoDBClient, new PutItemCommand({ TableName: 'ledger', Item: {} }), wire.dynamodb.conditionalCheckFailed());

/**
 * An in-memory stand-in for the ledger table that evaluates exactly the condition expressions the tool uses,
 * atomically per request (as DynamoDB does), with a yield before each request so concurrent callers interleave.
 */
class FakeTable {
  readonly items = new Map<string, Record<string, any>>();
  readonly requests: Array<{ name: string; input: any }> = [];

  async send(command: { constructor: { name: string }; input: any }): Promise<any> {
    await new Promise((r) => setImmediate(r));
    const name = command.constructor.name;
    const input = command.input;
    this.requests.push({ name, input });
    const k = (key: { pk: string; sk: string }) => `${key.pk}|${key.sk}`;
    if (command instanceof GetCommand) {
      const item = this.items.get(k(input.Key));
      return item ? { Item: { ...item } } : {};
    }
    if (command instanceof PutCommand) {
      const current = this.items.get(k(input.Item));
      const v = input.ExpressionAttributeValues ?? {};
      const ok =
        input.ConditionExpression === 'attribute_not_exists(pk)'
          ? current === undefined
          : input.ConditionExpression === 'attempt = :expected AND #s <> :done'
            ? current !== undefined && current.attempt === v[':expected'] && current.status !== v[':done']
            : (() => {
                throw new Error(`unexpected condition ${input.ConditionExpression}`);
              })();
      if (!ok) throw await conditionFailed();
      this.items.set(k(input.Item), { ...input.Item });
      return {};
    }
    if (command instanceof UpdateCommand) {
      const current = this.items.get(k(input.Key));
      const v = input.ExpressionAttributeValues;
      if (input.ConditionExpression !== 'attempt = :attempt AND #o = :me') throw new Error(`unexpected condition ${input.ConditionExpression}`);
      if (!current || current.attempt !== v[':attempt'] || current.owner !== v[':me']) {
        throw await conditionFailed();
      }
      this.items.set(k(input.Key), { ...current, status: v[':status'], finishedAt: v[':now'], exitCode: v[':code'] });
      return {};
    }
    throw new Error(`unexpected command ${name}`);
  }
}

const GROUP = 'my-asg';
let clock = 0;

function deps(table: FakeTable, over: Partial<ToolDeps> & { instance?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const executed: string[][] = [];
  const d: ToolDeps = {
    ddb: table as never,
    config: { tableName: 'ledger', tagKey: 'resilient-fleet:leader', groupName: undefined },
    instanceId: async () => over.instance ?? 'i-0aaaaaaaaaaaaaaa1',
    groupName: async () => GROUP,
    metadataTag: async () => undefined,
    bootId: () => 'boot-1',
    pid: 4242,
    processAlive: () => true,
    exec: async (argv) => {
      executed.push([...argv]);
      return 0;
    },
    sleep: async (ms) => {
      clock += ms;
      await new Promise((r) => setImmediate(r));
    },
    now: () => clock,
    env: { DEPLOYMENT_ID: 'd-ABCDEF123' },
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    ...over,
  };
  return { d, out, err, executed };
}

const only = (o: Partial<OnlyOptions> = {}): OnlyOptions => ({ wait: true, waitTimeoutS: 600, pollS: 5, command: ['rake', 'db:migrate'], name: 'migrate', ...o });
const runKey = `${GROUP}|run#d-ABCDEF123#migrate`;

beforeEach(() => {
  clock = 1_000_000;
});

describe('parseArgs', () => {
  test('leader-only options and the command after --', () => {
    expect(parseArgs(['only', '--revision', 'v42', '--name', 'migrate', '--wait-timeout', '90', '--', 'bundle', 'exec', 'rake', 'db:migrate'])).toEqual({
      sub: 'only',
      options: { revision: 'v42', name: 'migrate', wait: true, waitTimeoutS: 90, pollS: 5, command: ['bundle', 'exec', 'rake', 'db:migrate'] },
    });
    expect(parseArgs(['only', '--no-wait', 'make', '--flag'])).toMatchObject({ sub: 'only', options: { wait: false, command: ['make', '--flag'] } });
  });
  test.each([
    [['only'], /no command/],
    [['only', '--bogus', '--', 'x'], /unknown option --bogus/],
    [['only', '--wait-timeout', 'soon', '--', 'x'], /positive number/],
    [['only', '--revision', 'a b', '--', 'x'], /--revision/],
    [['only', '--name'], /needs a value/],
    [['status', '--verbose'], /unknown option/],
    [['frobnicate'], /unknown subcommand/],
  ])('rejects %j', (argv, message) => {
    const p = parseArgs(argv);
    expect(p.sub).toBe('help');
    expect((p as { error: string }).error).toMatch(message);
  });
  test('leader-status flags', () => {
    expect(parseArgs(['status', '--check', '--json'])).toEqual({ sub: 'status', options: { check: true, json: true } });
  });
});

describe('leader-only', () => {
  test('runs the command once and records it done', async () => {
    const t = new FakeTable();
    const { d, executed } = deps(t);
    expect(await leaderOnly(only(), d)).toBe(0);
    expect(executed).toEqual([['rake', 'db:migrate']]);
    expect(t.items.get(runKey)).toMatchObject({ status: 'DONE', attempt: 1, owner: 'i-0aaaaaaaaaaaaaaa1', exitCode: 0, deployment: 'd-ABCDEF123' });
    expect(t.requests.find((r) => r.name === 'GetCommand')!.input.ConsistentRead).toBe(true);
  });

  test('ten instances starting at once: exactly one runs it, the others wait and then skip', async () => {
    const t = new FakeTable();
    let running = 0;
    const ran: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) => {
        const instance = `i-0${String(n).padStart(16, '0')}`;
        const { d } = deps(t, {
          instance,
          exec: async () => {
            running++;
            if (running > 1) throw new Error('two instances ran the command at once');
            ran.push(instance);
            for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
            running--;
            return 0;
          },
        });
        return leaderOnly(only(), d);
      }),
    );
    expect(ran).toHaveLength(1);
    expect(results).toEqual(Array(10).fill(0));
    expect(t.items.get(runKey)).toMatchObject({ status: 'DONE', attempt: 1 });
  });

  test('a finished run is never repeated (next morning, new instance, same deployment)', async () => {
    const t = new FakeTable();
    await leaderOnly(only(), deps(t).d);
    const { d, executed, out } = deps(t, { instance: 'i-0bbbbbbbbbbbbbbb2' });
    expect(await leaderOnly(only(), d)).toBe(0);
    expect(executed).toEqual([]);
    expect(out.join('\n')).toMatch(/already done by i-0aaaaaaaaaaaaaaa1/);
  });

  test('a failed run returns its exit code and lets a later attempt claim it again', async () => {
    const t = new FakeTable();
    const first = deps(t, { exec: async () => 3 });
    expect(await leaderOnly(only(), first.d)).toBe(3);
    expect(t.items.get(runKey)).toMatchObject({ status: 'FAILED', exitCode: 3, attempt: 1 });
    const second = deps(t, { instance: 'i-0bbbbbbbbbbbbbbb2' });
    expect(await leaderOnly(only(), second.d)).toBe(0);
    expect(second.executed).toHaveLength(1);
    expect(t.items.get(runKey)).toMatchObject({ status: 'DONE', attempt: 2, owner: 'i-0bbbbbbbbbbbbbbb2' });
  });

  test('an instance that waited on a failing run stops with an error instead of running it again', async () => {
    const t = new FakeTable();
    t.items.set(runKey, { pk: GROUP, sk: 'run#d-ABCDEF123#migrate', status: 'RUNNING', attempt: 1, owner: 'i-0ccccccccccccccc3', bootId: 'b', pid: 1, startedAt: 0 });
    const { d, executed, err } = deps(t, {
      sleep: async () => {
        t.items.set(runKey, { ...t.items.get(runKey)!, status: 'FAILED', exitCode: 1 });
      },
    });
    expect(await leaderOnly(only(), d)).toBe(1);
    expect(executed).toEqual([]);
    expect(err.join('\n')).toMatch(/failed/);
  });

  test('a run cut short by a reboot of its own instance is claimed again by that instance', async () => {
    const t = new FakeTable();
    t.items.set(runKey, { pk: GROUP, sk: 'run#d-ABCDEF123#migrate', status: 'RUNNING', attempt: 1, owner: 'i-0aaaaaaaaaaaaaaa1', bootId: 'boot-0', pid: 1, startedAt: 0 });
    const { d, executed } = deps(t);
    expect(await leaderOnly(only(), d)).toBe(0);
    expect(executed).toHaveLength(1);
    expect(t.items.get(runKey)).toMatchObject({ status: 'DONE', attempt: 2, bootId: 'boot-1' });
  });

  test('gives up waiting after --wait-timeout, and --no-wait does not wait at all', async () => {
    const t = new FakeTable();
    t.items.set(runKey, { pk: GROUP, sk: 'run#d-ABCDEF123#migrate', status: 'RUNNING', attempt: 1, owner: 'i-0ccccccccccccccc3', bootId: 'b', pid: 1, startedAt: 0 });
    const waiting = deps(t);
    expect(await leaderOnly(only({ waitTimeoutS: 30 }), waiting.d)).toBe(1);
    expect(waiting.err.join('\n')).toMatch(/gave up waiting after 30 s/);
    const noWait = deps(t);
    expect(await leaderOnly(only({ wait: false }), noWait.d)).toBe(0);
    expect(noWait.executed).toEqual([]);
  });

  test('uses --revision when given, and fails clearly without a deployment id', async () => {
    const t = new FakeTable();
    expect(await leaderOnly(only({ revision: 'v7' }), deps(t).d)).toBe(0);
    expect(t.items.has(`${GROUP}|run#v7#migrate`)).toBe(true);
    const none = deps(t, { env: {} });
    expect(await leaderOnly(only(), none.d)).toBe(2);
    expect(none.err.join('\n')).toMatch(/no deployment id/);
  });

  test('reports a run that was taken over while it ran', async () => {
    const t = new FakeTable();
    const { d, err } = deps(t, {
      exec: async () => {
        t.items.set(runKey, { ...t.items.get(runKey)!, status: 'RUNNING', attempt: 2, owner: 'i-0ccccccccccccccc3' });
        return 0;
      },
    });
    expect(await leaderOnly(only(), d)).toBe(1);
    expect(err.join('\n')).toMatch(/taken over/);
  });
});

describe('leader-status', () => {
  const leaderAt = (t: FakeTable, leader: string, term: number) =>
    t.items.set(`${GROUP}#leader|leader`, { pk: `${GROUP}#leader`, sk: 'leader', leader, term, version: term, since: Date.parse('2026-11-22T07:00:00Z') });

  test('--check exits 0 on the leader and 1 elsewhere', async () => {
    const t = new FakeTable();
    leaderAt(t, 'i-0aaaaaaaaaaaaaaa1', 5);
    expect(await leaderStatus({ check: true, json: false }, deps(t).d)).toBe(0);
    expect(await leaderStatus({ check: true, json: false }, deps(t, { instance: 'i-0bbbbbbbbbbbbbbb2' }).d)).toBe(1);
  });

  test('--json shows leader, term (fencing token) and the metadata tag', async () => {
    const t = new FakeTable();
    leaderAt(t, 'i-0aaaaaaaaaaaaaaa1', 5);
    const { d, out } = deps(t, { metadataTag: async () => '5' });
    expect(await leaderStatus({ check: false, json: true }, d)).toBe(0);
    expect(JSON.parse(out[0])).toEqual({
      group: GROUP,
      instanceId: 'i-0aaaaaaaaaaaaaaa1',
      leader: 'i-0aaaaaaaaaaaaaaa1',
      term: 5,
      since: '2026-11-22T07:00:00.000Z',
      isLeader: true,
      metadataTag: '5',
    });
  });

  test('says so when there is no leader', async () => {
    const { d, out } = deps(new FakeTable());
    expect(await leaderStatus({ check: false, json: false }, d)).toBe(0);
    expect(out.join('\n')).toMatch(/leader:\s+\(none/);
  });
});

describe('the bundled tool (assets/instance/leader/index.mjs)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require('node:path') as typeof import('node:path');
  const bundle = path.join(__dirname, '..', '..', 'assets', 'instance', 'leader', 'index.mjs');
  const run = (...args: string[]) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, LEADER_CONFIG: '/nonexistent' } });

  test('starts and prints its usage', () => {
    const r = run('help');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('usage: leader-only');
  });

  test('refuses a leader-only call without a command before touching AWS', () => {
    const r = run('only', '--revision', 'v1');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no command given');
  });
});
