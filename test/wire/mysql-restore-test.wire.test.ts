/**
 * mysql-restore-test and mysql-provisioner at the wire: every RDS, Secrets Manager and CloudWatch call, its success and
 * each error it handles, with the real clients against the harness.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHandler, MISSING_POLLS, type VerifyConfig } from '../../lambda/mysql-restore-test/index';
import * as io from '../../lambda/mysql-restore-test/io';
import * as provisioner from '../../lambda/mysql-provisioner/io';
import * as wire from './bodies';
import { thrown, wireClient } from './clients';
import { WireServer } from './server';

const noWait = { sleep: async () => undefined, random: () => 0.5 };
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const spec = { id: 'shop-verify-abc', cluster: 'shop', instanceClass: 'db.t4g.medium', subnetGroup: 'shop-isolated', securityGroupIds: ['sg-0123456789abcdef0'] };

let server: WireServer;
let clients: io.Clients;
beforeAll(async () => {
  server = await WireServer.start();
  clients = {
    rds: wireClient(RDSClient, server),
    cloudwatch: wireClient(CloudWatchClient, server),
    secrets: wireClient(SecretsManagerClient, server),
    connect: async () => {
      throw new Error('no database in wire tests');
    },
    observe: async () => {
      throw new Error('no database in wire tests');
    },
    endpointOf: async (n) => n,
  };
});
afterEach(() => {
  expect(server.unanswered.map((r) => r.operation)).toEqual([]);
  server.reset();
});
afterAll(async () => {
  clients.rds.destroy();
  clients.cloudwatch.destroy();
  clients.secrets.destroy();
  await server.close();
});

describe('restore verification RDS calls', () => {
  test('DescribeDBSnapshots: automated snapshots across pages', async () => {
    const snap = (id: string, created: string) =>
      `<DBSnapshot><DBSnapshotIdentifier>${id}</DBSnapshotIdentifier><DBInstanceIdentifier>shop-primary</DBInstanceIdentifier><SnapshotCreateTime>${created}</SnapshotCreateTime><Engine>mysql</Engine><Status>available</Status><SnapshotType>automated</SnapshotType></DBSnapshot>`;
    server.on(
      'DescribeDBSnapshots',
      wire.queryOk('rds', 'DescribeDBSnapshots', `<DBSnapshots>${snap('rds:shop-primary-2026-11-21-03-10', '2026-11-21T03:10:00Z')}</DBSnapshots><Marker>m2</Marker>`),
      wire.queryOk('rds', 'DescribeDBSnapshots', `<DBSnapshots>${snap('rds:shop-primary-2026-11-22-03-10', '2026-11-22T03:10:00Z')}</DBSnapshots>`),
    );
    const out = await io.automatedSnapshots(clients, 'shop-primary', noWait);
    expect(out).toEqual([
      { id: 'rds:shop-primary-2026-11-21-03-10', status: 'available', createdAt: new Date('2026-11-21T03:10:00Z'), instanceId: 'shop-primary' },
      { id: 'rds:shop-primary-2026-11-22-03-10', status: 'available', createdAt: new Date('2026-11-22T03:10:00Z'), instanceId: 'shop-primary' },
    ]);
    expect(server.calls('DescribeDBSnapshots').map((r) => [r.form.get('SnapshotType'), r.form.get('Marker')])).toEqual([
      ['automated', null],
      ['automated', 'm2'],
    ]);
  });

  test('RestoreDBInstanceFromDBSnapshot: requested; DBInstanceAlreadyExists (a re-run) is already; throttling retried', async () => {
    server.on('RestoreDBInstanceFromDBSnapshot', wire.rds.throttling(), wire.rdsInstanceResult('RestoreDBInstanceFromDBSnapshot', { id: spec.id, status: 'creating' }));
    expect(await io.restore(clients, { ...spec, snapshotId: 'rds:snap' }, noWait)).toBe('requested');
    const form = Object.fromEntries(server.calls('RestoreDBInstanceFromDBSnapshot')[1].form);
    expect(form).toMatchObject({ DBInstanceIdentifier: spec.id, DBSnapshotIdentifier: 'rds:snap', MultiAZ: 'false', PubliclyAccessible: 'false', DeletionProtection: 'false', 'Tags.Tag.1.Key': io.VERIFY_TAG, 'Tags.Tag.1.Value': 'shop' });
    server.on('RestoreDBInstanceFromDBSnapshot', wire.rds.dbInstanceAlreadyExists());
    expect(await io.restore(clients, { ...spec, snapshotId: 'rds:snap' }, noWait)).toBe('already');
    server.on('RestoreDBInstanceFromDBSnapshot', wire.rds.dbSnapshotNotFound('rds:snap'));
    expect((await thrown(io.restore(clients, { ...spec, snapshotId: 'rds:snap' }, noWait))).name).toBe('DBSnapshotNotFoundFault');
  });

  test('RestoreDBInstanceToPointInTime: requested with the latest restorable time; already; PointInTimeRestoreNotEnabled fails', async () => {
    server.on('RestoreDBInstanceToPointInTime', wire.rdsInstanceResult('RestoreDBInstanceToPointInTime', { id: spec.id, status: 'creating' }));
    expect(await io.restoreToPointInTime(clients, { ...spec, sourceId: 'shop-primary' }, noWait)).toBe('requested');
    expect(Object.fromEntries(server.calls('RestoreDBInstanceToPointInTime')[0].form)).toMatchObject({ SourceDBInstanceIdentifier: 'shop-primary', TargetDBInstanceIdentifier: spec.id, UseLatestRestorableTime: 'true' });
    server.on('RestoreDBInstanceToPointInTime', wire.rds.dbInstanceAlreadyExists());
    expect(await io.restoreToPointInTime(clients, { ...spec, sourceId: 'shop-primary' }, noWait)).toBe('already');
    server.on('RestoreDBInstanceToPointInTime', wire.rds.pointInTimeRestoreNotEnabled());
    await expect(io.restoreToPointInTime(clients, { ...spec, sourceId: 'shop-primary' }, noWait)).rejects.toThrow(/BackupRetentionPeriod equal to 0/);
  });

  test('DescribeDBInstances (one): status, endpoint and latest restorable time; 404 DBInstanceNotFound is undefined', async () => {
    server.on('DescribeDBInstances', wire.rdsDescribe([{ id: spec.id, status: 'available', address: 'shop-verify-abc.abcexample.eu-west-1.rds.amazonaws.com', latestRestorableTime: '2026-11-22T05:55:00Z' }]));
    expect(await io.describe(clients, spec.id, noWait)).toEqual({ status: 'available', address: 'shop-verify-abc.abcexample.eu-west-1.rds.amazonaws.com', port: 3306, latestRestorableTime: new Date('2026-11-22T05:55:00Z') });
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(spec.id));
    expect(await io.describe(clients, spec.id, noWait)).toBeUndefined();
  });

  test('the await step waits out RDS 404 DBInstanceNotFound (documented XML), then goes on once the instance is available', async () => {
    const config = { cluster: 'shop' } as VerifyConfig;
    const handler = createHandler({ clients: () => clients, config: () => config, timing: noWait, logger: silent });
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(spec.id), wire.rdsDescribe([{ id: spec.id, status: 'available', address: 'a.example' }]));
    let state = await handler({ step: 'await', state: { tempId: spec.id } });
    expect(state).toMatchObject({ ready: false, missingPolls: 1 });
    state = await handler({ step: 'await', state });
    expect(state).toMatchObject({ ready: true, missingPolls: undefined });
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound(spec.id));
    state = { tempId: spec.id, missingPolls: MISSING_POLLS - 1 };
    await expect(handler({ step: 'await', state })).rejects.toThrow(/disappeared/);
  });

  test('DescribeDBInstances (all): verify-tagged candidates across pages', async () => {
    server.on(
      'DescribeDBInstances',
      wire.rdsDescribe([{ id: 'shop-verify-1', tags: { [io.VERIFY_TAG]: 'shop' } }, { id: 'shop-primary' }], 'p2'),
      wire.rdsDescribe([{ id: 'blog-verify-1', status: 'deleting', tags: { [io.VERIFY_TAG]: 'blog' } }]),
    );
    expect(await io.verifyCandidates(clients, noWait)).toEqual([
      { id: 'shop-verify-1', status: 'available', verifyTag: 'shop' },
      { id: 'shop-primary', status: 'available', verifyTag: undefined },
      { id: 'blog-verify-1', status: 'deleting', verifyTag: 'blog' },
    ]);
  });

  test('DeleteDBInstance: requested without a final snapshot; 404 and InvalidDBInstanceState (already deleting) are gone', async () => {
    server.on('DeleteDBInstance', wire.rdsInstanceResult('DeleteDBInstance', { id: spec.id, status: 'deleting' }));
    expect(await io.deleteTemporary(clients, spec.id, noWait)).toBe('requested');
    expect(Object.fromEntries(server.calls('DeleteDBInstance')[0].form)).toMatchObject({ SkipFinalSnapshot: 'true', DeleteAutomatedBackups: 'true' });
    server.on('DeleteDBInstance', wire.rds.dbInstanceNotFound(spec.id));
    expect(await io.deleteTemporary(clients, spec.id, noWait)).toBe('gone');
    server.on('DeleteDBInstance', wire.rds.invalidDbInstanceState(spec.id));
    expect(await io.deleteTemporary(clients, spec.id, noWait)).toBe('gone');
    server.on('DeleteDBInstance', wire.rds.accessDenied('DeleteDBInstance'));
    await expect(io.deleteTemporary(clients, spec.id, noWait)).rejects.toThrow(/not authorized/);
  });
});

describe('Secrets Manager and CloudWatch calls', () => {
  const secret = (s: object) => wire.jsonOk({ ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db/master-a1b2c3', Name: 'db/master', VersionId: 'EXAMPLE1-90ab-cdef-fedc-ba987SECRET1', SecretString: JSON.stringify(s), VersionStages: ['AWSCURRENT'], CreatedDate: 1523477145.713 }, '1.1');

  test('GetSecretValue (verification): the master credentials; throttling retried; ResourceNotFound fails', async () => {
    server.on('GetSecretValue', wire.secretsManager.throttling(), secret({ username: 'admin', password: 'pw' }));
    expect(await io.masterCredentials(clients, 'db/master', noWait)).toEqual({ username: 'admin', password: 'pw' });
    expect(server.calls('secretsmanager:GetSecretValue')[1].json).toEqual({ SecretId: 'db/master' });
    server.on('GetSecretValue', wire.secretsManager.resourceNotFound());
    await expect(io.masterCredentials(clients, 'db/master', noWait)).rejects.toThrow(/can't find the specified secret/);
    expect(server.calls('GetSecretValue')).toHaveLength(3); // not retried: a missing secret is configuration
  });

  test('GetSecretValue (provisioner): a missing secret fails at once, DecryptionFailure is not retried either', async () => {
    const p = { secrets: clients.secrets } as provisioner.Clients;
    server.on('GetSecretValue', secret({ password: 'site-pw' }));
    expect(await provisioner.readSecret(p, 'db/shop', noWait)).toEqual({ username: undefined, password: 'site-pw' });
    server.on('GetSecretValue', wire.secretsManager.resourceNotFound());
    expect((await thrown(provisioner.readSecret(p, 'db/shop', noWait))).name).toBe('ResourceNotFoundException');
    expect(server.calls('GetSecretValue')).toHaveLength(2);
    server.on('GetSecretValue', wire.secretsManager.decryptionFailure());
    expect((await thrown(provisioner.readSecret(p, 'db/shop', noWait))).name).toBe('DecryptionFailure');
    expect(server.calls('GetSecretValue')).toHaveLength(3);
  });

  test('PutMetricData: the three metrics in one call, throttling retried', async () => {
    server.on('PutMetricData', wire.cloudwatch.throttling(), wire.jsonOk({}));
    await io.publish(clients, 'shop', { verified: 1, failures: 0, ageHours: 3 }, noWait);
    const calls = server.calls('monitoring:PutMetricData');
    expect(calls).toHaveLength(2);
    expect(calls[1].json.Namespace).toBe(io.NAMESPACE);
    expect(calls[1].json.MetricData.map((d: { MetricName: string; Value: number }) => [d.MetricName, d.Value])).toEqual([
      ['BackupVerified', 1],
      ['BackupVerificationFailures', 0],
      ['VerifiedBackupAgeHours', 3],
    ]);
    server.on('PutMetricData', wire.cloudwatch.invalidParameterValue());
    await expect(io.publish(clients, 'shop', { verified: 1, failures: 0 }, noWait)).rejects.toThrow(/is invalid/);
  });
});
