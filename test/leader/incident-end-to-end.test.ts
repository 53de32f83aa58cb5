import { leaderOnly, leaderStatus, type ToolDeps } from '../../instance/leader/cli';
import { handle, type HookConfig } from '../../lambda/leader/index';
import { startLedger, type Ledger } from '../dynalite';
import { FakeAws } from './fake-aws';

/**
 * The Beanstalk incident through the real code: the hook handler (lambda/leader) and leader-only /
 * leader-status (instance/leader), against a real DynamoDB (dynalite) that evaluates their conditional writes and
 * updates, with Auto Scaling and EC2 simulated in memory.
 */
const GROUP = 'app-blue-fleet';
const HOOK = 'leader-handover';
const config: HookConfig = { tableName: 'ledger', groupName: GROUP, hookName: HOOK, tagKey: 'resilient-fleet:leader', protectLeader: true, abandonGraceMs: 300_000 };
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('the Beanstalk incident, end to end (real hook and real leader-only)', () => {
  let clock = Date.parse('2026-11-23T07:00:00Z');
  const aws = new FakeAws(GROUP, HOOK);
  let ledger: Ledger;
  beforeAll(async () => {
    ledger = await startLedger({ hash: 'pk', range: 'sk' }, config.tableName);
    aws.ddb = ledger.ddb;
  });
  afterAll(async () => {
    await ledger.stop();
  });
  const hookDeps = { clients: aws.clients(), config, log: silent, timing: { now: () => clock, sleep: async (ms: number) => void (clock += ms), random: () => 0.5 } };
  const migrations: Array<{ deployment: string; instance: string }> = [];

  /** EventBridge delivers the queued events to the hook, one by one. */
  async function pump(): Promise<void> {
    for (let guard = 0; aws.events.length > 0; guard++) {
      if (guard > 100) throw new Error('events never settled');
      await handle(aws.events.shift()!, hookDeps);
    }
  }

  function toolDeps(instance: string, deployment: string): ToolDeps {
    return {
      ddb: aws.clients().ddb,
      config: { tableName: 'ledger', tagKey: config.tagKey },
      instanceId: async () => instance,
      groupName: async () => GROUP,
      metadataTag: async (k) => aws.find(instance)?.tags.get(k),
      bootId: () => `boot-${instance}`,
      pid: 1000,
      processAlive: () => true,
      exec: async () => {
        migrations.push({ deployment, instance });
        await new Promise((r) => setImmediate(r));
        return 0;
      },
      sleep: async (ms) => {
        clock += ms;
        await new Promise((r) => setImmediate(r));
      },
      now: () => clock,
      env: { DEPLOYMENT_ID: deployment },
      out: () => undefined,
      err: () => undefined,
    };
  }

  /** CodeDeploy runs the hook script (`leader-only -- rake db:migrate`) on every instance at once. */
  async function deploy(deployment: string): Promise<number[]> {
    return Promise.all(
      aws.inService().map((x) => leaderOnly({ wait: true, waitTimeoutS: 3600, pollS: 5, name: 'migrate', command: ['rake', 'db:migrate'] }, toolDeps(x.id, deployment))),
    );
  }

  async function leaderOf(): Promise<{ leader: string | null; term: number; tag: string | null }> {
    const x = aws.inService()[0];
    const out: string[] = [];
    await leaderStatus({ check: false, json: true }, { ...toolDeps(x.id, 'none'), out: (l) => out.push(l) });
    const r = JSON.parse(out[0]);
    const leaderInstance = r.leader ? aws.find(r.leader) : undefined;
    return { leader: r.leader, term: r.term, tag: leaderInstance?.tags.get(config.tagKey) ?? null };
  }

  test('two instances, deploy, zero at night, up in the morning, deploy again, for three days', async () => {
    const mornings: Array<{ leader: string | null; term: number; tag: string | null }> = [];
    aws.setDesired(2);
    await pump();
    mornings.push(await leaderOf());
    expect(await deploy('d-DAY0')).toEqual([0, 0]);

    for (let day = 1; day <= 3; day++) {
      // 20:00 the schedule sets desired capacity 0. The follower goes first; the leader is protected until the hook
      // sees desired 0, then it goes too and leadership becomes vacant (not pointing at a terminated instance).
      aws.setDesired(0);
      await pump();
      expect(aws.instances).toEqual([]);
      clock += 11 * 3600_000;

      // 07:00 two brand-new instances; their launch events elect a leader, with no sweep needed.
      aws.setDesired(2);
      await pump();
      const morning = await leaderOf();
      mornings.push(morning);
      expect(morning.leader).not.toBeNull();
      expect(aws.find(morning.leader!)?.protected).toBe(true);
      expect(await deploy(`d-DAY${day}`)).toEqual([0, 0]);
    }

    // The migration ran exactly once per deployment, although both instances ran leader-only each time.
    expect(migrations.map((m) => m.deployment)).toEqual(['d-DAY0', 'd-DAY1', 'd-DAY2', 'd-DAY3']);
    // A leader each morning, a new term each time (the fencing token only grows), tagged with its term.
    expect(mornings.map((m) => m.term)).toEqual([1, 2, 3, 4]);
    expect(mornings.map((m) => m.tag)).toEqual(['1', '2', '3', '4']);
    // Redeploying an old deployment id (a retried hook) does not run it again.
    expect(await deploy('d-DAY2')).toEqual([0, 0]);
    expect(migrations).toHaveLength(4);
  });

  test('a morning whose launch events were all lost gets its leader from the next sweep', async () => {
    aws.setDesired(0);
    await pump();
    aws.setDesired(2);
    aws.events.length = 0; // EventBridge events are best effort: lose them all
    expect((await leaderOf()).leader).toBeNull();
    await handle({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, hookDeps);
    const after = await leaderOf();
    expect(after.leader).not.toBeNull();
    expect(after.term).toBe(5);
    expect(after.tag).toBe('5');
  });
});
