/**
 * The AWS calls the MySQL name follower and promotion share (lambda/mysql-shared/aws.ts) at the wire: RDS
 * DescribeDBInstances (query/XML) and Route 53 ListResourceRecordSets / ChangeResourceRecordSets (REST/XML), with the
 * real clients against the harness, success and each handled error.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { describeInstance, describeMembers, MEMBER_TAG, readCname, ROLE_TAG, upsert, type Clients } from '../../lambda/mysql-shared/aws';
import * as wire from './bodies';
import { thrown } from './clients';
import { useWireServer } from './use-wire-server';

const ZONE = 'Z1D633PJN98FT9';
const harness = useWireServer();
const { sleeps } = harness;
const timing = { sleep: harness.sleep, random: () => 0.5 };
let clients: Clients;
beforeAll(() => {
  clients = { rds: harness.client(RDSClient), route53: harness.client(Route53Client) };
});

describe('describeInstance', () => {
  test('one instance, with role from its tags and its endpoint; throttling retried', async () => {
    harness.server.on('DescribeDBInstances', wire.rds.throttling(), wire.rdsDescribe([{ id: 'site-db-a', address: 'site-db-a.abc123.eu-west-1.rds.amazonaws.com', multiAz: true, tags: { [ROLE_TAG]: 'writer' } }]));
    expect(await describeInstance(clients, 'site-db-a', timing)).toEqual({
      id: 'site-db-a',
      status: 'available',
      address: 'site-db-a.abc123.eu-west-1.rds.amazonaws.com',
      port: 3306,
      replicaSource: undefined,
      role: 'writer',
      promotion: undefined,
      multiAz: true,
    });
    expect(Object.fromEntries(harness.server.calls('DescribeDBInstances')[1].form)).toMatchObject({ DBInstanceIdentifier: 'site-db-a' });
  });

  test('RDS\'s 404 DBInstanceNotFound (the SDK\'s DBInstanceNotFoundFault) is "no such instance", not retried', async () => {
    harness.server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound('site-db-gone'));
    expect(await describeInstance(clients, 'site-db-gone', timing)).toBeUndefined();
    expect(harness.server.calls('DescribeDBInstances')).toHaveLength(1);
  });

  test('access denied is thrown', async () => {
    harness.server.on('DescribeDBInstances', wire.rds.accessDenied('DescribeDBInstances'));
    expect(await thrown(describeInstance(clients, 'site-db-a', timing))).toMatchObject({ name: 'AccessDenied' });
  });
});

describe('describeMembers', () => {
  test('only instances tagged for this cluster (exactly), across pages', async () => {
    harness.server.on(
      'DescribeDBInstances',
      wire.rdsDescribe([{ id: 'site-db-a', tags: { [MEMBER_TAG]: 'site' } }, { id: 'other-db', tags: { [MEMBER_TAG]: 'site-2' } }], 'page-2'),
      wire.rds.internalFailure(),
      wire.rdsDescribe([{ id: 'site-db-b', replicaSource: 'site-db-a', tags: { [MEMBER_TAG]: 'site' } }, { id: 'untagged-db' }]),
    );
    const members = await describeMembers(clients, 'site', timing);
    expect(members.map((m) => [m.id, m.replicaSource])).toEqual([
      ['site-db-a', undefined],
      ['site-db-b', 'site-db-a'],
    ]);
    const forms = harness.server.calls('DescribeDBInstances').map((r) => Object.fromEntries(r.form));
    expect(forms[0]).toMatchObject({ MaxRecords: '100' });
    expect(forms[0]).not.toHaveProperty('Marker');
    expect(forms[2]).toMatchObject({ Marker: 'page-2' });
  });
});

describe('readCname', () => {
  test('the CNAME\'s value and TTL; a name that sorts after it is not it', async () => {
    harness.server.on('ListResourceRecordSets', wire.route53ListCnames([{ name: 'db-master.site.example.', value: 'site-db-a.abc123.eu-west-1.rds.amazonaws.com', ttl: 30 }]));
    expect(await readCname(clients, ZONE, 'db-master.site.example', timing)).toEqual({ value: 'site-db-a.abc123.eu-west-1.rds.amazonaws.com', ttl: 30 });
    const req = harness.server.calls('ListResourceRecordSets')[0];
    expect(req.path).toBe(`/2013-04-01/hostedzone/${ZONE}/rrset`);
    expect(Object.fromEntries(req.query)).toEqual({ name: 'db-master.site.example.', type: 'CNAME', maxitems: '1' });
    harness.server.on('ListResourceRecordSets', wire.route53ListCnames([{ name: 'db-replica.site.example.', value: 'x', ttl: 30 }]));
    expect(await readCname(clients, ZONE, 'db-master.site.example', timing)).toBeUndefined();
  });

  test('NoSuchHostedZone is thrown with Route 53\'s name', async () => {
    harness.server.on('ListResourceRecordSets', wire.route53.noSuchHostedZone(ZONE));
    expect(await thrown(readCname(clients, ZONE, 'db-master.site.example', timing))).toMatchObject({ name: 'NoSuchHostedZone', $metadata: { httpStatusCode: 404 } });
  });
});

describe('upsert', () => {
  test('one UPSERT batch of fully qualified CNAMEs; PriorRequestNotComplete and throttling are retried', async () => {
    harness.server.on('ChangeResourceRecordSets', wire.route53.priorRequestNotComplete(), wire.route53.throttling(), wire.route53ChangeOk());
    await upsert(clients, ZONE, [{ name: 'db-master.site.example', value: 'site-db-b.abc123.eu-west-1.rds.amazonaws.com', ttl: 30 }], 'promotion of site-db-b', timing);
    const calls = harness.server.calls('ChangeResourceRecordSets');
    expect(calls).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    const body = calls[2].body;
    expect(body).toContain('<Action>UPSERT</Action>');
    expect(body).toContain('<Name>db-master.site.example.</Name>');
    expect(body).toContain('<Type>CNAME</Type>');
    expect(body).toContain('<TTL>30</TTL>');
    expect(body).toContain('<Value>site-db-b.abc123.eu-west-1.rds.amazonaws.com</Value>');
    expect(body).toContain('<Comment>promotion of site-db-b</Comment>');
  });

  test('an invalid batch is thrown at once; no changes make no call', async () => {
    harness.server.on('ChangeResourceRecordSets', wire.route53.invalidChangeBatch('RRSet of type CNAME with DNS name db-master.site.example. is not permitted at apex in zone site.example.'));
    expect(await thrown(upsert(clients, ZONE, [{ name: 'db-master.site.example', value: 'x', ttl: 30 }], 'c', timing))).toMatchObject({ name: 'InvalidChangeBatch' });
    expect(harness.server.calls('ChangeResourceRecordSets')).toHaveLength(1);
    harness.server.reset();
    await upsert(clients, ZONE, [], 'nothing', timing);
    expect(harness.server.requests).toEqual([]);
  });
});
