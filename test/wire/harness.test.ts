import { DescribeAutoScalingGroupsCommand, AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { SQSClient, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import * as wire from './bodies';
import { thrown, wireClient } from './clients';
import { WireServer } from './server';

let server: WireServer;
beforeAll(async () => {
  server = await WireServer.start();
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe('the wire harness', () => {
  test('listens on loopback with a kernel-chosen port', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
  });

  test('answers a scripted sequence: 404 DBInstanceNotFound once, then the 200 body, which repeats', async () => {
    const rds = wireClient(RDSClient, server);
    server.on('DescribeDBInstances', wire.rds.dbInstanceNotFound('shop-b'), wire.queryOk('rds', 'DescribeDBInstances', '<DBInstances><DBInstance><DBInstanceIdentifier>shop-b</DBInstanceIdentifier></DBInstance></DBInstances>'));
    const err = await thrown(rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'shop-b' })));
    expect(err.name).toBe('DBInstanceNotFoundFault');
    expect(err.Code).toBe('DBInstanceNotFound');
    expect(err.$metadata.httpStatusCode).toBe(404);
    for (let i = 0; i < 2; i++) {
      const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'shop-b' }));
      expect(out.DBInstances?.[0]?.DBInstanceIdentifier).toBe('shop-b');
    }
    expect(server.calls('rds:DescribeDBInstances').map((r) => r.form.get('DBInstanceIdentifier'))).toEqual(['shop-b', 'shop-b', 'shop-b']);
    rds.destroy();
  });

  test('routes query, EC2 query, JSON and REST/XML requests to their operation and signing service', async () => {
    const asg = wireClient(AutoScalingClient, server);
    const ec2 = wireClient(EC2Client, server);
    const ddb = wireClient(DynamoDBClient, server);
    const r53 = wireClient(Route53Client, server);
    server
      .on('autoscaling:DescribeAutoScalingGroups', wire.queryOk('autoscaling', 'DescribeAutoScalingGroups', '<AutoScalingGroups/>'))
      .on('DescribeInstances', wire.ec2Ok('DescribeInstances', '<reservationSet/>'))
      .on('GetItem', wire.jsonOk({}))
      .on('ChangeResourceRecordSets', wire.route53Ok('ChangeResourceRecordSetsResponse', '<ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>2017-02-10T01:36:41.958Z</SubmittedAt></ChangeInfo>'));
    await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web'] }));
    await ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-1'] }));
    await ddb.send(new GetItemCommand({ TableName: 'ledger', Key: { pk: { S: 'leader' } } }));
    const change = await r53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: 'Z1', ChangeBatch: { Changes: [] } }));
    expect(change.ChangeInfo?.Status).toBe('PENDING');
    expect(server.requests.map((r) => `${r.service}:${r.operation}`)).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'ec2:DescribeInstances',
      'dynamodb:GetItem',
      'route53:ChangeResourceRecordSets',
    ]);
    expect(server.requests[2].json).toEqual({ TableName: 'ledger', Key: { pk: { S: 'leader' } } });
    expect(server.requests[3].path).toBe('/2013-04-01/hostedzone/Z1/rrset');
    for (const c of [asg, ec2, ddb, r53]) c.destroy();
  });

  test('a service-qualified script answers only that service', async () => {
    const rds = wireClient(RDSClient, server);
    server.on('ec2:DescribeDBInstances', wire.queryOk('rds', 'DescribeDBInstances', '<DBInstances/>'));
    const err = await thrown(rds.send(new DescribeDBInstancesCommand({})));
    expect(err.name).toBe('WireHarnessNoAnswer');
    expect(server.unanswered.map((r) => r.operation)).toEqual(['DescribeDBInstances']);
    rds.destroy();
  });

  test('the client helper sets the SDK attempt count; retries have no delay', async () => {
    const cw = wireClient(CloudWatchClient, server, { maxAttempts: 3 });
    server.on('PutMetricData', wire.cloudwatch.throttling(), wire.cloudwatch.throttling(), wire.jsonOk({}));
    const out = await cw.send(new PutMetricDataCommand({ Namespace: 'ResilientFleet', MetricData: [{ MetricName: 'm', Value: 1 }] }));
    expect(out.$metadata.attempts).toBe(3);
    expect(out.$metadata.totalRetryDelay).toBe(0);
    expect(server.calls('monitoring:PutMetricData')).toHaveLength(3);
    cw.destroy();
  });

  test('query-compatible JSON services surface the query-era code (SQS NonExistentQueue)', async () => {
    const sqs = wireClient(SQSClient, server);
    server.on('ReceiveMessage', wire.sqs.queueDoesNotExist());
    const err = await thrown(sqs.send(new ReceiveMessageCommand({ QueueUrl: `${server.url}/123456789012/jobs` })));
    expect(err.name).toBe('QueueDoesNotExist');
    expect(err.Code).toBe('AWS.SimpleQueueService.NonExistentQueue');
    sqs.destroy();
  });

  test('a hang-up is a network fault the SDK reports as such', async () => {
    const ec2 = wireClient(EC2Client, server);
    server.on('DescribeInstances', { status: 0, body: '', hangUp: true });
    const err = await thrown(ec2.send(new DescribeInstancesCommand({})));
    expect(err.$metadata?.httpStatusCode).toBeUndefined();
    expect(String(err.code ?? err.name)).toMatch(/ECONNRESET|socket hang up|Error/);
    ec2.destroy();
  });
});
