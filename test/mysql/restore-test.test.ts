import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Connection } from 'mysql2/promise';
import { evaluate, type CheckInput } from '../../lambda/mysql-restore-test/checks';
import { createHandler, MISSING_POLLS, type Step, type VerifyConfig, type VerifyState } from '../../lambda/mysql-restore-test/index';
import { latestSnapshot, metricValues, tempInstanceId, toDelete } from '../../lambda/mysql-restore-test/logic';
import type { Observation } from '../../lambda/mysql-shared/db';
import * as wire from '../wire/bodies';
import { CLUSTER, FakeWorld, noWait, silentLogger } from './fake-rds';

const world = new FakeWorld();
const cw = mockClient(CloudWatchClient);
const sm = mockClient(SecretsManagerClient);
const NOW = new Date('2026-11-22T06:00:00Z');

const config: VerifyConfig = {
  cluster: CLUSTER,
  primaryId: 'shop-primary',
  databases: ['shop', 'blog'],
  instanceClass: 'db.t4g.medium',
  subnetGroup: 'shop-subnets',
  securityGroupIds: ['sg-0123456789abcdef0'],
  masterSecretArn: 'arn:master',
  referenceHost: 'db-replica.shop.db.internal',
  port: 3306,
  tolerancePercent: 10,
  toleranceRows: 5,
  maxSnapshotAgeHours: 36,
  source: 'snapshot',
  maxRestorableAgeHours: 1,
};

const healthy: Observation = {
  databasesFound: ['blog', 'shop'],
  tables: [
    { schema: 'shop', table: 'orders', engine: 'InnoDB', tableType: 'BASE TABLE' },
    { schema: 'blog', table: 'posts', engine: 'InnoDB', tableType: 'BASE TABLE' },
  ],
  rowCounts: { 'shop.orders': 1000, 'blog.posts': 40 },
  openErrors: {},
};
let restoredView: Observation;
let connected: string[];

const clients = () => ({
    rds: new RDSClient({}),
    cloudwatch: new CloudWatchClient({}),
    secrets: new SecretsManagerClient({}),
    connect: async (o: { user: string; host: string; tls: boolean }) => {
      connected.push(`${o.user}@${o.host} tls=${o.tls}`);
      return { end: async () => undefined } as unknown as Connection;
    },
    observe: async () => (connected.at(-1)!.includes('verify') ? restoredView : healthy),
    endpointOf: async (name: string) => (name === 'db-replica.shop.db.internal' ? 'shop-replica-1.abcexample.eu-west-1.rds.amazonaws.com' : name),
});
const handler = createHandler({ clients, config: () => config, timing: noWait, logger: silentLogger, now: () => NOW });
let clock = NOW;
const pitr = createHandler({ clients, config: () => ({ ...config, source: 'point-in-time' }), timing: noWait, logger: silentLogger, now: () => clock });

/** The state machine: start, await until ready, check, and always cleanup and report (Catch routes errors there). */
async function runMachine(): Promise<VerifyState> {
  let state: VerifyState = {};
  try {
    state = await handler({ step: 'start', state });
    for (let i = 0; !state.ready; i++) {
      if (i > 10) throw new Error('never ready');
      state = await handler({ step: 'await', state });
    }
    state = await handler({ step: 'check', state });
  } catch (err) {
    state = { ...state, error: { Error: 'Error', Cause: String(err) } };
  }
  state = await handler({ step: 'cleanup', state });
  for (let i = 0; i < 3; i++) await handler({ step: 'await' as Step, state: { tempId: 'nothing' } }).catch(() => undefined); // time passes
  return handler({ step: 'report', state });
}

const metric = (name: string) =>
  cw.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData ?? []).filter((d) => d.MetricName === name).map((d) => d.Value);

beforeEach(() => {
  world.reset();
  world.standardSite();
  world.snapshots = [
    { id: 'rds:shop-primary-2026-11-21-03-10', instanceId: 'shop-primary', status: 'available', created: '2026-11-21T03:10:00Z' },
    { id: 'rds:shop-primary-2026-11-22-03-10', instanceId: 'shop-primary', status: 'available', created: '2026-11-22T03:10:00Z' },
    { id: 'rds:shop-primary-2026-11-23-03-10', instanceId: 'shop-primary', status: 'creating', created: '2026-11-22T05:59:00Z' },
  ];
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'master-pw' }) });
  restoredView = { ...healthy, rowCounts: { 'shop.orders': 990, 'blog.posts': 40 } };
  connected = [];
});

describe('verification logic', () => {
  test('restores the newest available snapshot, under a name derived from it', () => {
    expect(latestSnapshot(world.snapshots.map((s) => ({ id: s.id, status: s.status, createdAt: new Date(s.created), instanceId: s.instanceId })))?.id).toBe('rds:shop-primary-2026-11-22-03-10');
    expect(tempInstanceId('shop', 'a')).toMatch(/^shop-verify-[0-9a-z]+$/);
    expect(tempInstanceId('shop', 'a')).toBe(tempInstanceId('shop', 'a'));
  });

  test('deletes only instances carrying this cluster verify tag', () => {
    expect(toDelete([{ id: 'a', status: 'available', verifyTag: 'shop' }, { id: 'b', status: 'available', verifyTag: 'other' }, { id: 'c', status: 'available' }, { id: 'd', status: 'deleting', verifyTag: 'shop' }], 'shop')).toEqual(['a']);
  });

  test('reports 0 with at least one failure whenever the run did not pass', () => {
    expect(metricValues(true, 0, 3)).toEqual({ verified: 1, failures: 0, ageHours: 3 });
    expect(metricValues(false, 0)).toEqual({ verified: 0, failures: 1, ageHours: undefined });
  });

  const input = (over: Partial<CheckInput>): CheckInput => ({
    expectedDatabases: ['a'],
    databasesFound: ['a'],
    tables: [{ schema: 'a', table: 't', engine: 'InnoDB', tableType: 'BASE TABLE' }, { schema: 'a', table: 'v', engine: null, tableType: 'VIEW' }],
    rowCounts: { 'a.t': 100 },
    openErrors: {},
    referenceCounts: { 'a.t': 105 },
    tolerancePercent: 10,
    toleranceRows: 0,
    ...over,
  });

  test.each([
    ['passes within the tolerance and ignores views', {}, []],
    ['a row count beyond the tolerance', { referenceCounts: { 'a.t': 200 } }, ['row-count a.t']],
    ['the absolute tolerance covers small tables', { rowCounts: { 'a.t': 1 }, referenceCounts: { 'a.t': 4 }, toleranceRows: 5 }, []],
    ['an Aria table', { tables: [{ schema: 'a', table: 't', engine: 'Aria', tableType: 'BASE TABLE' }] }, ['not-innodb a.t']],
    ['a table that does not open', { openErrors: { 'a.t': 'Incorrect key file' } }, ['table-does-not-open a.t']],
    ['a missing database', { databasesFound: [], tables: [], rowCounts: {} }, ['missing-database a']],
  ])('checks: %s', (_name, over, expected) => {
    expect(evaluate(input(over as Partial<CheckInput>)).failures.map((f) => `${f.kind} ${f.object}`)).toEqual(expected);
  });
});

describe('verification steps', () => {
  test('a good backup: restored, checked against db-replica, deleted, metric 1', async () => {
    const state = await runMachine();
    expect(state.passed).toBe(true);
    expect(world.count('RestoreDBInstanceFromDBSnapshot')).toBe(1);
    const restore = world.rds.commandCalls((await import('@aws-sdk/client-rds')).RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input;
    expect(restore).toMatchObject({ DBSnapshotIdentifier: 'rds:shop-primary-2026-11-22-03-10', MultiAZ: false, PubliclyAccessible: false, DeletionProtection: false, DBSubnetGroupName: 'shop-subnets' });
    // db-replica is followed to the RDS endpoint, whose name the TLS certificate carries.
    expect(connected).toEqual([expect.stringMatching(/^admin@shop-verify-.* tls=true$/), 'admin@shop-replica-1.abcexample.eu-west-1.rds.amazonaws.com tls=true']);
    expect(state.deleted).toEqual([tempInstanceId(CLUSTER, 'rds:shop-primary-2026-11-22-03-10')]);
    expect([...world.instances.keys()].some((id) => id.includes('verify'))).toBe(false);
    expect(metric('BackupVerified')).toEqual([1]);
    expect(metric('VerifiedBackupAgeHours')[0]).toBeCloseTo(2.833, 2);
  });

  test('a MyISAM table fails the run, and the temporary instance is still deleted', async () => {
    restoredView = { ...healthy, tables: [...healthy.tables, { schema: 'shop', table: 'legacy', engine: 'MyISAM', tableType: 'BASE TABLE' }], rowCounts: { ...healthy.rowCounts, 'shop.legacy': 3 } };
    const state = await runMachine();
    expect(state.passed).toBe(false);
    expect(state.failures).toEqual([expect.objectContaining({ kind: 'not-innodb', object: 'shop.legacy' })]);
    expect(world.count('DeleteDBInstance')).toBe(1);
    expect(metric('BackupVerified')).toEqual([0]);
    expect(metric('BackupVerificationFailures')).toEqual([1]);
  });

  test('a failure before the check (restore fails) still cleans up and reports 0', async () => {
    world.failOnce('RestoreDBInstanceFromDBSnapshot', wire.queryError('StorageQuotaExceeded', 'Cannot restore: storage quota exceeded'));
    const state = await runMachine();
    expect(state.error?.Cause).toMatch(/storage quota/);
    expect(metric('BackupVerified')).toEqual([0]);
  });

  test('the await step reads RDS 404 DBInstanceNotFound right after the restore as "not ready yet", and the run still verifies', async () => {
    let state = await handler({ step: 'start', state: {} });
    world.failOnce('DescribeDBInstances', wire.rds.dbInstanceNotFound(state.tempId!));
    world.failOnce('DescribeDBInstances', wire.rds.dbInstanceNotFound(state.tempId!));
    state = await handler({ step: 'await', state });
    expect(state).toMatchObject({ ready: false, missingPolls: 1 });
    state = await handler({ step: 'await', state });
    expect(state).toMatchObject({ ready: false, missingPolls: 2 });
    for (let i = 0; i < 5 && !state.ready; i++) state = await handler({ step: 'await', state });
    expect(state).toMatchObject({ ready: true, missingPolls: undefined });
    state = await handler({ step: 'check', state });
    expect(state.passed).toBe(true);
  });

  test('a temporary instance missing for MISSING_POLLS polls in a row fails the await step (the Catch then cleans up and reports)', async () => {
    let state: VerifyState = { tempId: 'shop-verify-gone' };
    for (let i = 1; i < MISSING_POLLS; i++) {
      state = await handler({ step: 'await', state });
      expect(state).toMatchObject({ ready: false, missingPolls: i });
    }
    await expect(handler({ step: 'await', state })).rejects.toThrow(/shop-verify-gone disappeared \(not found 10 polls in a row\)/);
  });

  test('stopped backups (newest snapshot too old) fail the run', async () => {
    world.snapshots = [{ id: 'rds:old', instanceId: 'shop-primary', status: 'available', created: '2026-11-19T03:10:00Z' }];
    const state = await runMachine();
    expect(state.error?.Cause).toMatch(/backups have stopped/);
    expect(world.count('RestoreDBInstanceFromDBSnapshot')).toBe(0);
    expect(metric('BackupVerified')).toEqual([0]);
  });

  test('cleanup also removes what a crashed earlier run left, and nothing else', async () => {
    world.add({ id: 'shop-verify-leftover', tags: { 'resilient-fleet:mysql-verify': CLUSTER } });
    world.add({ id: 'other-verify-x', tags: { 'resilient-fleet:mysql-verify': 'other' } });
    const state = await handler({ step: 'cleanup', state: {} });
    expect(state.deleted).toEqual(['shop-verify-leftover']);
    expect(world.instances.get('other-verify-x')?.status).toBe('available');
    expect(world.instances.get('shop-primary')?.status).toBe('available');
  });

  test('a re-run of start reuses the temporary instance it started', async () => {
    await handler({ step: 'start' });
    await handler({ step: 'start' });
    expect([...world.instances.keys()].filter((id) => id.includes('verify'))).toHaveLength(1);
  });

  test('after a promotion, the snapshot comes from the instance tagged primary', async () => {
    world.instances.get('shop-primary')!.tags['resilient-fleet:mysql-role'] = 'retired';
    const r = world.instances.get('shop-replica-1')!;
    r.replicaSource = undefined;
    r.tags['resilient-fleet:mysql-role'] = 'primary';
    world.snapshots.push({ id: 'rds:shop-replica-1-2026-11-22-04-00', instanceId: 'shop-replica-1', status: 'available', created: '2026-11-22T04:00:00Z' });
    const state = await handler({ step: 'start' });
    expect(state.snapshotId).toBe('rds:shop-replica-1-2026-11-22-04-00');
  });

  describe('point-in-time (the default): snapshot and transaction logs', () => {
    beforeEach(() => {
      clock = NOW;
      world.instances.get('shop-primary')!.latestRestorableTime = '2026-11-22T05:55:00Z';
    });

    test('restores the primary at its latest restorable time to a temporary instance named after the hour', async () => {
      const state = await pitr({ step: 'start' });
      expect(state.restoredFrom).toBe('shop-primary at 2026-11-22T05:55:00.000Z');
      expect(state.tempId).toBe(tempInstanceId(CLUSTER, 'shop-primary@2026-11-22T06'));
      const call = world.rds.commandCalls((await import('@aws-sdk/client-rds')).RestoreDBInstanceToPointInTimeCommand)[0].args[0].input;
      expect(call).toMatchObject({ SourceDBInstanceIdentifier: 'shop-primary', UseLatestRestorableTime: true, MultiAZ: false, DeletionProtection: false, Tags: [{ Key: 'resilient-fleet:mysql-verify', Value: CLUSTER }] });
      expect(state.ageHours).toBeCloseTo(5 / 60, 3);
    });

    test('a retried start within the hour reuses the instance; the next hour makes a new one', async () => {
      await pitr({ step: 'start' });
      await pitr({ step: 'start' });
      expect([...world.instances.keys()].filter((id) => id.includes('verify'))).toHaveLength(1);
      clock = new Date('2026-11-22T07:00:00Z');
      world.instances.get('shop-primary')!.latestRestorableTime = '2026-11-22T06:58:00Z';
      await pitr({ step: 'start' });
      expect([...world.instances.keys()].filter((id) => id.includes('verify'))).toHaveLength(2);
    });

    test('fails when transaction log backups stopped (latest restorable time too old), restoring nothing', async () => {
      world.instances.get('shop-primary')!.latestRestorableTime = '2026-11-22T03:00:00Z';
      await expect(pitr({ step: 'start' })).rejects.toThrow(/3\.0 h old \(limit 1 h\): transaction log backups have stopped/);
      expect(world.count('RestoreDBInstanceToPointInTime')).toBe(0);
    });
  });
});
