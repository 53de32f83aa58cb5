/**
 * mysql-promotion and lambda/mysql-shared at the wire: every AWS call the hook makes, its success and each error it
 * handles, with the real RDS and Route 53 clients against the harness answering in the documented XML.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { createHandler, type PromotionConfig, type PromotionState } from '../../lambda/mysql-promotion/index';
import * as io from '../../lambda/mysql-promotion/io';
import { replicaIdFor } from '../../lambda/mysql-promotion/logic';
import * as wire from './bodies';
import { thrown, wireClient } from './clients';
import { WireServer } from './server';

const CLUSTER = 'shop';
const ZONE = 'Z0123456789ABCDEFGHIJ';
const MASTER = 'db-master.shop.db.internal';
const REPLICA = 'db-replica.shop.db.internal';
const where = { region: 'eu-west-1', account: '123456789012', partition: 'aws' };
const config: PromotionConfig = {
  cluster: CLUSTER,
  zoneId: ZONE,
  masterName: MASTER,
  replicaName: REPLICA,
  ttl: 30,
  replicaClass: 'db.m6g.large',
  securityGroupIds: ['sg-0123456789abcdef0'],
  backupRetentionDays: 14,
  multiAz: true,
  where,
};
const noWait = { sleep: async () => undefined, random: () => 0.5 };
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const member = { 'resilient-fleet:mysql-cluster': CLUSTER };
const addr = (id: string) => `${id}.abcexample.eu-west-1.rds.amazonaws.com`;
const NEW_REPLICA = replicaIdFor(CLUSTER, 'shop-replica-1');
const plan = { cluster: CLUSTER, target: 'shop-replica-1', oldPrimary: 'shop-primary' };

let server: WireServer;
let clients: io.Clients;
let handler: ReturnType<typeof createHandler>;
beforeAll(async () => {
  server = await WireServer.start();
  clients = { rds: wireClient(RDSClient, server), route53: wireClient(Route53Client, server) };
  handler = createHandler({ clients: () => clients, config: () => config, timing: noWait, logger: silent });
});
afterEach(() => {
  expect(server.unanswered.map((r) => r.operation)).toEqual([]);
  server.reset();
});
afterAll(async () => {
  clients.rds.destroy();
  clients.route53.destroy();
  await server.close();
});

describe('createReplica step at the wire', () => {
  test('creates the replica when RDS answers 404 DBInstanceNotFound for its name (the defect the SDK-shaped fakes hid)', async () => {
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(NEW_REPLICA));
    server.on('CreateDBInstanceReadReplica', wire.rdsInstanceResult('CreateDBInstanceReadReplica', { id: NEW_REPLICA, status: 'creating', replicaSource: 'shop-replica-1' }));
    const out: PromotionState = await handler({ step: 'createReplica', state: { plan } });
    expect(out.newReplica).toBe(NEW_REPLICA);
    expect(out.done?.at(-1)).toBe('createReplica: requested');
    const [create] = server.calls('rds:CreateDBInstanceReadReplica');
    expect(Object.fromEntries(create.form)).toMatchObject({
      DBInstanceIdentifier: NEW_REPLICA,
      SourceDBInstanceIdentifier: 'shop-replica-1',
      DBInstanceClass: 'db.m6g.large',
      MultiAZ: 'false',
      PubliclyAccessible: 'false',
      DeletionProtection: 'true',
      'VpcSecurityGroupIds.VpcSecurityGroupId.1': 'sg-0123456789abcdef0',
      'Tags.Tag.1.Key': 'resilient-fleet:mysql-cluster',
      'Tags.Tag.1.Value': CLUSTER,
      'Tags.Tag.2.Key': 'resilient-fleet:mysql-role',
      'Tags.Tag.2.Value': 'replica',
    });
  });

  test('a re-run whose describe still says 404 (RDS not consistent yet) accepts DBInstanceAlreadyExists as done', async () => {
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(NEW_REPLICA));
    server.on('CreateDBInstanceReadReplica', wire.rds.dbInstanceAlreadyExists());
    const out = await handler({ step: 'createReplica', state: { plan } });
    expect(out).toMatchObject({ newReplica: NEW_REPLICA, done: ['createReplica: already'] });
  });

  test('an existing replica of the new primary is kept: no create call', async () => {
    server.on('DescribeDBInstances', wire.rdsDescribe([{ id: NEW_REPLICA, status: 'creating', replicaSource: 'shop-replica-1', tags: member }]));
    const out = await handler({ step: 'createReplica', state: { plan } });
    expect(out.done?.at(-1)).toBe('createReplica: exists');
    expect(server.calls('CreateDBInstanceReadReplica')).toHaveLength(0);
  });

  test('awaitReplica reads 404 right after the create as not ready', async () => {
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(NEW_REPLICA));
    expect((await handler({ step: 'awaitReplica', state: { plan, newReplica: NEW_REPLICA } })).ready).toBe(false);
  });

  test('RDS throttling on the create is retried by the hook, then the replica is requested', async () => {
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(NEW_REPLICA));
    server.on('CreateDBInstanceReadReplica', wire.rds.throttling(), wire.rdsInstanceResult('CreateDBInstanceReadReplica', { id: NEW_REPLICA, status: 'creating' }));
    expect((await handler({ step: 'createReplica', state: { plan } })).done?.at(-1)).toBe('createReplica: requested');
    expect(server.calls('CreateDBInstanceReadReplica')).toHaveLength(2);
  });

  test('capacity (InsufficientDBInstanceCapacity) is not swallowed: the step fails and says why', async () => {
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(NEW_REPLICA));
    server.on('CreateDBInstanceReadReplica', wire.rds.insufficientCapacity());
    await expect(handler({ step: 'createReplica', state: { plan } })).rejects.toThrow(/not available in the specified Availability Zone/);
  });
});

describe('retag step at the wire', () => {
  test('tags the new primary and retires the old one', async () => {
    server.on('DescribeDBInstances', wire.rdsDescribe([{ id: 'shop-primary', tags: { ...member, 'resilient-fleet:mysql-role': 'primary' } }]));
    server.on('AddTagsToResource', wire.queryOkEmpty('rds', 'AddTagsToResource'));
    const out = await handler({ step: 'retag', state: { plan } });
    expect(out.done?.at(-1)).toBe('retag: tagged shop-replica-1 primary, shop-primary retired');
    expect(server.calls('AddTagsToResource').map((r) => [r.form.get('ResourceName'), r.form.get('Tags.Tag.2.Value')])).toEqual([
      ['arn:aws:rds:eu-west-1:123456789012:db:shop-replica-1', 'primary'],
      ['arn:aws:rds:eu-west-1:123456789012:db:shop-primary', 'retired'],
    ]);
  });

  test('an old primary that RDS no longer knows (404 on describe) is skipped', async () => {
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound('shop-primary'));
    server.on('AddTagsToResource', wire.queryOkEmpty('rds', 'AddTagsToResource'));
    const out = await handler({ step: 'retag', state: { plan } });
    expect(out.done?.at(-1)).toBe('retag: tagged shop-replica-1 primary, shop-primary gone');
    expect(server.calls('AddTagsToResource')).toHaveLength(1);
  });

  test('an old primary deleted between the describe and its tag (AddTagsToResource 404) converges', async () => {
    server.on('DescribeDBInstances', wire.rdsDescribe([{ id: 'shop-primary', status: 'deleting' }]));
    server.on('AddTagsToResource', wire.queryOkEmpty('rds', 'AddTagsToResource'), wire.rds.dbInstanceNotFound('shop-primary'));
    const out = await handler({ step: 'retag', state: { plan } });
    expect(out.done?.at(-1)).toBe('retag: tagged shop-replica-1 primary, shop-primary gone');
  });

  test('a 404 on the new primary itself is a failure (it must exist), and AccessDenied is not retried', async () => {
    server.on('AddTagsToResource', wire.rds.dbInstanceNotFound('shop-replica-1'));
    await expect(handler({ step: 'retag', state: { plan } })).rejects.toThrow(/shop-replica-1 not found/);
    server.reset();
    server.on('AddTagsToResource', wire.rds.accessDenied('AddTagsToResource'));
    await expect(handler({ step: 'retag', state: { plan } })).rejects.toThrow(/not authorized/);
    expect(server.calls('AddTagsToResource')).toHaveLength(1);
  });
});

describe('promote, Multi-AZ and the shared RDS calls at the wire', () => {
  test('PromoteReadReplica: success is requested, InvalidDBInstanceState (already promoting) is already', async () => {
    server.on('PromoteReadReplica', wire.rdsInstanceResult('PromoteReadReplica', { id: 'shop-replica-1', status: 'modifying', replicaSource: 'shop-primary' }));
    expect(await io.promote(clients, 'shop-replica-1', 14, noWait)).toBe('requested');
    expect(server.calls('PromoteReadReplica')[0].form.get('BackupRetentionPeriod')).toBe('14');
    server.on('PromoteReadReplica', wire.rds.invalidDbInstanceState('shop-replica-1'));
    expect(await io.promote(clients, 'shop-replica-1', 14, noWait)).toBe('already');
  });

  test('ModifyDBInstance: success is requested (Multi-AZ, applied now), InvalidDBInstanceState is busy', async () => {
    server.on('ModifyDBInstance', wire.rdsInstanceResult('ModifyDBInstance', { id: 'shop-replica-1', status: 'modifying' }));
    expect(await io.enableMultiAz(clients, 'shop-replica-1', noWait)).toBe('requested');
    expect(Object.fromEntries(server.calls('ModifyDBInstance')[0].form)).toMatchObject({ MultiAZ: 'true', ApplyImmediately: 'true', DeletionProtection: 'true' });
    server.on('ModifyDBInstance', wire.rds.invalidDbInstanceState('shop-replica-1'));
    expect(await io.enableMultiAz(clients, 'shop-replica-1', noWait)).toBe('busy');
  });

  test('describeInstance: the instance, undefined for 404, throttling retried', async () => {
    server.on('DescribeDBInstances', wire.rds.throttling(), wire.rdsDescribe([{ id: 'shop-replica-1', address: addr('shop-replica-1'), replicaSource: 'shop-primary', tags: { ...member, 'resilient-fleet:mysql-role': 'replica' } }]));
    expect(await io.describeInstance(clients, 'shop-replica-1', noWait)).toMatchObject({ id: 'shop-replica-1', status: 'available', address: addr('shop-replica-1'), port: 3306, replicaSource: 'shop-primary', role: 'replica', multiAz: false });
    expect(server.calls('DescribeDBInstances')).toHaveLength(2);
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound('nope'));
    expect(await io.describeInstance(clients, 'nope', noWait)).toBeUndefined();
  });

  test('describeMembers follows the Marker across pages and keeps only this cluster', async () => {
    server.on(
      'DescribeDBInstances',
      wire.rdsDescribe([{ id: 'shop-primary', tags: member }, { id: 'other', tags: { 'resilient-fleet:mysql-cluster': 'blog' } }], 'page-2'),
      wire.rdsDescribe([{ id: 'shop-replica-1', replicaSource: 'shop-primary', tags: member }]),
    );
    expect((await io.describeMembers(clients, CLUSTER, noWait)).map((m) => m.id)).toEqual(['shop-primary', 'shop-replica-1']);
    expect(server.calls('DescribeDBInstances').map((r) => r.form.get('Marker'))).toEqual([null, 'page-2']);
  });
});

describe('the names (Route 53) at the wire', () => {
  test('readCname reads the CNAME, and nothing for another name or type', async () => {
    server.on('ListResourceRecordSets', wire.route53ListCnames([{ name: `${MASTER}.`, value: addr('shop-primary'), ttl: 30 }]));
    expect(await io.readCname(clients, ZONE, MASTER, noWait)).toEqual({ value: addr('shop-primary'), ttl: 30 });
    const [req] = server.calls('route53:ListResourceRecordSets');
    expect(req.path).toBe(`/2013-04-01/hostedzone/${ZONE}/rrset`);
    expect(Object.fromEntries(req.query)).toEqual({ name: `${MASTER}.`, type: 'CNAME', maxitems: '1' });
    server.on('ListResourceRecordSets', wire.route53ListCnames([{ name: `${REPLICA}.`, value: addr('x'), ttl: 30 }]));
    expect(await io.readCname(clients, ZONE, MASTER, noWait)).toBeUndefined();
  });

  test('upsert retries Throttling and PriorRequestNotComplete, then sends one UPSERT batch', async () => {
    server.on('ChangeResourceRecordSets', wire.route53.throttling(), wire.route53.priorRequestNotComplete(), wire.route53ChangeOk());
    await io.upsert(clients, ZONE, [{ name: MASTER, value: addr('shop-replica-1'), ttl: 30 }], 'promotion', noWait);
    const calls = server.calls('route53:ChangeResourceRecordSets');
    expect(calls).toHaveLength(3);
    expect(calls[2].body).toContain('<Action>UPSERT</Action>');
    expect(calls[2].body).toContain(`<Name>${MASTER}.</Name>`);
    expect(calls[2].body).toContain(`<Value>${addr('shop-replica-1')}</Value>`);
  });

  test('a missing hosted zone (NoSuchHostedZone) fails at once: a wrong configuration is not retried', async () => {
    server.on('ChangeResourceRecordSets', wire.route53.noSuchHostedZone(ZONE));
    const err = await thrown(io.upsert(clients, ZONE, [{ name: MASTER, value: 'x', ttl: 30 }], 'promotion', noWait));
    expect(err.name).toBe('NoSuchHostedZone');
    expect(server.calls('ChangeResourceRecordSets')).toHaveLength(1);
  });
});
