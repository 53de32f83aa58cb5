/**
 * The synthesized state machine definitions, run against the real hook handlers and the fake RDS and Route 53:
 * proves the wiring (payloads, result paths, polling loops, catch-to-cleanup) and not only the steps.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Connection } from 'mysql2/promise';
import { createHandler as promotionHandler, type StepEvent as PromotionEvent } from '../../lambda/mysql-promotion/index';
import { replicaIdFor } from '../../lambda/mysql-promotion/logic';
import { createHandler as verifyHandler, type StepEvent as VerifyEvent } from '../../lambda/mysql-restore-test/index';
import type { Observation } from '../../lambda/mysql-shared/db';
import { ReplicatedMysql } from '../../lib';
import { importedVpc, testStack } from '../helpers';
import { definitions, run, type AslDefinition } from './asl';
import { addressOf, CLUSTER, FakeWorld, MASTER, noWait, REPLICA, silentLogger, ZONE } from './fake-rds';
import * as wire from '../wire/bodies';

const world = new FakeWorld();
const cw = mockClient(CloudWatchClient);
const sm = mockClient(SecretsManagerClient);

const stack = testStack();
new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: CLUSTER, sites: [{ name: 'shop' }] });
const defs = definitions(stack);
const byName = (part: string): AslDefinition => Object.entries(defs).find(([id]) => id.includes(part))![1];

const promote = promotionHandler({
  clients: () => ({ rds: new RDSClient({}), route53: new Route53Client({}) }),
  config: () => ({
    cluster: CLUSTER,
    zoneId: ZONE,
    masterName: MASTER,
    replicaName: REPLICA,
    ttl: 30,
    replicaClass: 'db.m6g.large',
    securityGroupIds: ['sg-1'],
    backupRetentionDays: 14,
    multiAz: true,
    where: { region: 'eu-west-1', account: '123456789012', partition: 'aws' },
  }),
  timing: noWait,
  logger: silentLogger,
});

let restoredView: Observation;
const healthy: Observation = { databasesFound: ['shop'], tables: [{ schema: 'shop', table: 'orders', engine: 'InnoDB', tableType: 'BASE TABLE' }], rowCounts: { 'shop.orders': 10 }, openErrors: {} };
let lastHost = '';
const verify = verifyHandler({
  clients: () => ({
    rds: new RDSClient({}),
    cloudwatch: new CloudWatchClient({}),
    secrets: new SecretsManagerClient({}),
    connect: async (o: { host: string }) => {
      lastHost = o.host;
      return { end: async () => undefined } as unknown as Connection;
    },
    observe: async () => (lastHost.includes('verify') ? restoredView : healthy),
    endpointOf: async (n: string) => n,
  }),
  config: () => ({
    cluster: CLUSTER,
    primaryId: 'shop-primary',
    databases: ['shop'],
    instanceClass: 'db.t4g.medium',
    subnetGroup: 'sg',
    securityGroupIds: ['sg-1'],
    masterSecretArn: 'arn:master',
    referenceHost: REPLICA,
    port: 3306,
    tolerancePercent: 10,
    toleranceRows: 5,
    maxSnapshotAgeHours: 36,
    source: 'point-in-time',
    maxRestorableAgeHours: 1,
  }),
  timing: noWait,
  logger: silentLogger,
  now: () => new Date('2026-11-22T06:00:00Z'),
});

beforeEach(() => {
  world.reset();
  world.standardSite();
  world.instances.get('shop-primary')!.latestRestorableTime = '2026-11-22T05:55:00Z';
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'admin', password: 'pw' }) });
  restoredView = healthy;
});

describe('promotion state machine (synthesized definition)', () => {
  const machine = byName('PromotionStateMachine');

  test('started with {} it promotes, moves both names and creates a fresh replica', async () => {
    const result = await run(machine, {}, (p) => promote(p as PromotionEvent));
    expect(result.status).toBe('SUCCEEDED');
    const fresh = replicaIdFor(CLUSTER, 'shop-replica-1');
    expect(world.records.get(MASTER)?.value).toBe(addressOf('shop-replica-1'));
    expect(world.records.get(REPLICA)?.value).toBe(addressOf(fresh));
    expect(result.path.filter((s) => s === 'PromoteAwaitPromotedWait').length).toBeGreaterThan(0);
  });

  test('(the interpreter fails a missing JSONPath as Step Functions does: the bug a default input without "replica" had)', async () => {
    const broken = JSON.parse(JSON.stringify(machine)) as AslDefinition;
    delete (broken.States.PromoteDefaultInput.Parameters as Record<string, unknown>).replica;
    const result = await run(broken, {}, (p) => promote(p as PromotionEvent));
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
  });

  test('started with a replica it promotes that one', async () => {
    world.add({ id: 'shop-replica-2', replicaSource: 'shop-primary', tags: { 'resilient-fleet:mysql-cluster': CLUSTER, 'resilient-fleet:mysql-role': 'replica' } });
    const result = await run(machine, { replica: 'shop-replica-2' }, (p) => promote(p as PromotionEvent));
    expect(result.status).toBe('SUCCEEDED');
    expect(world.records.get(MASTER)?.value).toBe(addressOf('shop-replica-2'));
  });

  test('a failure half-way fails the execution; a new execution with the same input finishes the promotion', async () => {
    // RDS's common InternalFailure (HTTP 500), as the real client parses it, on every attempt the execution makes.
    world.failOnce('CreateDBInstanceReadReplica', wire.rds.internalFailure());
    world.failOnce('CreateDBInstanceReadReplica', wire.rds.internalFailure());
    world.failOnce('CreateDBInstanceReadReplica', wire.rds.internalFailure());
    const first = await run(machine, {}, (p) => promote(p as PromotionEvent));
    expect(first.status).toBe('FAILED');
    expect(world.count('CreateDBInstanceReadReplica')).toBe(3);
    const second = await run(machine, {}, (p) => promote(p as PromotionEvent));
    expect(second.status).toBe('SUCCEEDED');
    expect(world.count('PromoteReadReplica')).toBe(1);
    expect(world.records.get(REPLICA)?.value).toBe(addressOf(replicaIdFor(CLUSTER, 'shop-replica-1')));
  });
});

describe('backup verification state machine (synthesized definition)', () => {
  const machine = byName('BackupVerification');
  const scheduled = { version: '0', id: 'x', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: '2026-11-22T06:00:00Z', region: 'eu-west-1', resources: [], detail: {} };
  const metric = () => cw.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData ?? []).filter((d) => d.MetricName === 'BackupVerified').map((d) => d.Value);

  test('a good backup: succeeded, metric 1, no temporary instance left', async () => {
    const result = await run(machine, scheduled, (p) => verify(p as VerifyEvent));
    expect(result.status).toBe('SUCCEEDED');
    expect(metric()).toEqual([1]);
    expect(world.instances.get([...world.instances.keys()].find((k) => k.includes('verify')) ?? '')?.status ?? 'gone').toMatch(/deleting|gone/);
  });

  test('a MyISAM table: the execution fails, the temporary instance is deleted, metric 0', async () => {
    restoredView = { ...healthy, tables: [...healthy.tables, { schema: 'shop', table: 'legacy', engine: 'MyISAM', tableType: 'BASE TABLE' }] };
    const result = await run(machine, scheduled, (p) => verify(p as VerifyEvent));
    expect(result).toMatchObject({ status: 'FAILED', error: 'BackupNotVerified' });
    expect(result.path).toContain('VerifyCleanup');
    expect(world.count('DeleteDBInstance')).toBe(1);
    expect(metric()).toEqual([0]);
  });

  test('a restore that cannot start still runs cleanup and reports 0', async () => {
    world.instances.get('shop-primary')!.latestRestorableTime = '2026-11-22T01:00:00Z';
    const result = await run(machine, scheduled, (p) => verify(p as VerifyEvent));
    expect(result.status).toBe('FAILED');
    expect(result.path).toEqual(expect.arrayContaining(['VerifyStart', 'VerifyCleanup', 'VerifyReport']));
    expect(metric()).toEqual([0]);
  });
});
