import { Duration, Size, Stack, Validations, aws_ec2 as ec2, aws_events as events, aws_kms as kms, aws_rds as rds, aws_route53 as route53, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AddressStack, BackupVerificationSource, MysqlDeployment, MysqlUserRole, NameVisibility, ReplicatedMysql, type ReplicatedMysqlProps } from '../../lib';
import { importedVpc, testApp, testStack } from '../helpers';

function build(extra: Partial<ReplicatedMysqlProps> = {}, opts: { nag?: boolean } = {}) {
  const app = testApp();
  const stack = testStack(app);
  const vpc = importedVpc(stack);
  const db = new ReplicatedMysql(stack, 'Db', { vpc, clusterName: 'shop', ...extra });
  if (opts.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, vpc, db, template: () => Template.fromStack(stack) };
}

const SITES = [{ name: 'shop' }, { name: 'blog-eu', users: [MysqlUserRole.APP, MysqlUserRole.READ_ONLY], dropDatabaseOnDelete: true }];

function envOf(t: Template, hookDescription: RegExp): Record<string, unknown> {
  const fns = Object.values(t.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Description: string; Environment: { Variables: Record<string, unknown> } } }>;
  const fn = fns.find((f) => hookDescription.test(f.Properties.Description));
  if (!fn) throw new Error(`no function matching ${hookDescription}`);
  return fn.Properties.Environment.Variables;
}

describe('ReplicatedMysql defaults', () => {
  const { template, db } = build();
  const t = template();

  test('a Multi-AZ primary, encrypted, deletion-protected, retained, with 14 days of backups and PITR', () => {
    t.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        DBInstanceIdentifier: 'shop-primary',
        Engine: 'mysql',
        EngineVersion: '8.4.7',
        DBInstanceClass: 'db.m6g.large',
        MultiAZ: true,
        StorageEncrypted: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 14,
        StorageType: 'gp3',
        AllocatedStorage: '100',
        MaxAllocatedStorage: 1000,
        PubliclyAccessible: false,
        EnableIAMDatabaseAuthentication: true,
        Tags: Match.arrayWith([{ Key: 'resilient-fleet:mysql-cluster', Value: 'shop' }, { Key: 'resilient-fleet:mysql-role', Value: 'primary' }]),
      }),
    });
  });

  test('one read replica of the primary, retained, with its own backups so it can be promoted at once', () => {
    t.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        DBInstanceIdentifier: 'shop-replica-1',
        SourceDBInstanceIdentifier: Match.anyValue(),
        // Encrypted with the primary's key; CloudFormation rejects StorageEncrypted next to SourceDBInstanceIdentifier.
        StorageEncrypted: Match.absent(),
        DeletionProtection: true,
        BackupRetentionPeriod: 14,
        Tags: Match.arrayWith([{ Key: 'resilient-fleet:mysql-role', Value: 'replica' }]),
      }),
    });
    t.resourceCountIs('AWS::RDS::DBInstance', 2);
    expect(db.replicas).toHaveLength(1);
  });

  test('lives in the isolated subnets, reachable only from its hooks security group', () => {
    t.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: ['subnet-0iso0', 'subnet-0iso1', 'subnet-0iso2'] });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, SourceSecurityGroupId: Match.anyValue() });
  });

  test('requires TLS on the server', () => {
    t.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'mysql8.4', Parameters: { require_secure_transport: '1' } });
  });

  test('creates a private hosted zone with db-master and db-replica CNAMEs, TTL 30 s, retained', () => {
    t.hasResource('AWS::Route53::HostedZone', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ Name: 'db.internal.', VPCs: [Match.objectLike({ VPCId: 'vpc-0123456789abcdef0' })] }) });
    t.hasResource('AWS::Route53::RecordSet', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ Name: 'db-master.shop.db.internal.', Type: 'CNAME', TTL: '30' }) });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'db-replica.shop.db.internal.', Type: 'CNAME', TTL: '30' });
    expect(db.masterRecordName).toBe('db-master.shop.db.internal');
  });

  test('the name follower wakes on this cluster\'s RDS instance events and every 5 minutes', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.rds'],
        'detail-type': ['RDS DB Instance Event'],
        resources: [{ prefix: 'arn:aws:rds:eu-west-1:123456789012:db:shop-' }],
        detail: { EventCategories: Match.arrayWith(['failover', 'creation', 'deletion', 'read replica']) },
      },
    });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    expect(envOf(t, /Keeps db-master/)).toMatchObject({ CLUSTER_NAME: 'shop', MASTER_NAME: 'db-master.shop.db.internal', RECORD_TTL: '30' });
  });

  test('the name hooks may change only the two CNAMEs, by UPSERT', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'route53:ChangeResourceRecordSets',
            Condition: {
              'ForAllValues:StringEquals': {
                'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['db-master.shop.db.internal', 'db-replica.shop.db.internal'],
                'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
                'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
              },
            },
          }),
        ]),
      },
    });
  });

  test('the backup check may delete only <cluster>-verify-* instances', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'rds:DeleteDBInstance', Resource: 'arn:aws:rds:eu-west-1:123456789012:db:shop-verify-*' })]) },
    });
  });

  test('a promotion state machine and a backup verification state machine, traced and logged', () => {
    t.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true }, LoggingConfiguration: Match.objectLike({ Level: 'ALL' }) });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)', Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('BackupVerification') } })] });
    expect(db.promotionStateMachine).toBeDefined();
    expect(db.backupVerification).toBeDefined();
  });

  test('alarms on CPU, free storage, connections, replica lag and an unverified backup', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ReplicaLag', Threshold: 300, ComparisonOperator: 'GreaterThanThreshold' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FreeStorageSpace', Threshold: 10 * 1024 ** 3, ComparisonOperator: 'LessThanThreshold' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DatabaseConnections', Threshold: 500 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CPUUtilization', Threshold: 80, EvaluationPeriods: 3 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'ResilientFleet/MySQL', MetricName: 'BackupVerified', Threshold: 1, TreatMissingData: 'breaching' });
    expect(db.alarms).toHaveLength(9); // with the dead-letter queue's
  });

  test('the master secret is retained and KMS-encrypted; no site resources without sites', () => {
    t.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ KmsKeyId: Match.anyValue() }) });
    t.resourceCountIs('Custom::MysqlSite', 0);
  });

  test('snapshot at defaults', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });
});

describe('ReplicatedMysql props', () => {
  test('sites: one custom resource per site with least-privilege users whose passwords are generated in Secrets Manager', () => {
    const { template, db } = build({ sites: SITES });
    const t = template();
    t.resourceCountIs('Custom::MysqlSite', 2);
    t.hasResourceProperties('Custom::MysqlSite', {
      Database: 'shop',
      Users: [Match.objectLike({ Name: 'shop_app', Role: 'app' }), Match.objectLike({ Name: 'shop_mig', Role: 'migrate' })],
      RequireTls: 'true',
      DropDatabaseOnDelete: 'false',
      Host: 'db-master.shop.db.internal',
      FallbackHost: { 'Fn::GetAtt': [Match.stringLikeRegexp('Primary'), 'Endpoint.Address'] },
      Port: '3306',
    });
    t.hasResourceProperties('Custom::MysqlSite', { Database: 'blog_eu', Users: [Match.objectLike({ Name: 'blog_eu_app' }), Match.objectLike({ Name: 'blog_eu_ro', Role: 'read-only' })], DropDatabaseOnDelete: 'true' });
    t.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', PasswordLength: 32, ExcludePunctuation: true }) });
    expect(db.siteSecret('shop')).toBeDefined();
    expect(() => db.siteSecret('shop', MysqlUserRole.READ_ONLY)).toThrow(/site "shop" has no read-only user/);
    expect(envOf(t, /Restores the latest backup/)).toMatchObject({ DATABASES: 'shop,blog_eu', REFERENCE_HOST: 'db-replica.shop.db.internal', NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' });
    // The provisioner runs in the VPC's subnets with egress, without an AWS managed policy.
    t.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('Creates the site databases'), VpcConfig: { SubnetIds: ['subnet-0prv0', 'subnet-0prv1', 'subnet-0prv2'], SecurityGroupIds: Match.anyValue() } });
    for (const role of Object.values(t.findResources('AWS::IAM::Role')) as Array<{ Properties: { ManagedPolicyArns?: unknown } }>) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('credentialsRevision is passed on, so changing it runs the provisioner again', () => {
    build({ sites: [{ name: 'shop', credentialsRevision: 3 }] }).template().hasResourceProperties('Custom::MysqlSite', { Database: 'shop', CredentialsRevision: '3' });
  });

  test('databaseName overrides the default name', () => {
    build({ sites: [{ name: 'shop', databaseName: 'shop_prod' }] }).template().hasResourceProperties('Custom::MysqlSite', { Database: 'shop_prod', Users: [Match.objectLike({ Name: 'shop_prod_app' }), Match.anyValue()] });
  });

  test('deployment MULTI_AZ_CLUSTER: a Multi-AZ DB cluster, names on its endpoints, no promotion or restore job', () => {
    const { template, db } = build({ deployment: MysqlDeployment.MULTI_AZ_CLUSTER, sites: SITES }, { nag: true });
    const t = template();
    t.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ Engine: 'mysql', DBClusterInstanceClass: 'db.m6gd.large', StorageEncrypted: true, DeletionProtection: true, BackupRetentionPeriod: 14, StorageType: 'gp3' }),
    });
    t.resourceCountIs('AWS::RDS::DBInstance', 0);
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'db-master.shop.db.internal.', ResourceRecords: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('Cluster'), 'Endpoint.Address'] }] });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'db-replica.shop.db.internal.', ResourceRecords: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('Cluster'), 'ReadEndpoint.Address'] }] });
    t.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    expect(db.cluster).toBeDefined();
    expect(db.promotionStateMachine).toBeUndefined();
  });

  test('engineVersion, instanceType, readReplicas, storage, backupRetention and port', () => {
    const t = build({
      engineVersion: rds.MysqlEngineVersion.VER_8_0_40,
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.XLARGE),
      readReplicas: 3,
      allocatedStorage: Size.gibibytes(200),
      maxAllocatedStorage: Size.gibibytes(400),
      backupRetention: Duration.days(35),
      port: 3307,
    }).template();
    t.resourceCountIs('AWS::RDS::DBInstance', 4);
    t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceIdentifier: 'shop-replica-3' });
    t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceIdentifier: 'shop-primary', EngineVersion: '8.0.40', DBInstanceClass: 'db.r6g.xlarge', AllocatedStorage: '200', MaxAllocatedStorage: 400, BackupRetentionPeriod: 35, Port: '3307' });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 3307 });
  });

  test('deletionProtection false warns (the instances are still retained)', () => {
    const { stack, template } = build({ deletionProtection: false });
    template().hasResource('AWS::RDS::DBInstance', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ DeletionProtection: false }) });
    Annotations.fromStack(stack).hasWarning('/Test/Db', Match.stringLikeRegexp('deletionProtection is false'));
  });

  test('requireTls false leaves the server parameter out and tells the provisioner', () => {
    const t = build({ requireTls: false, sites: SITES }).template();
    t.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: {} });
    t.hasResourceProperties('Custom::MysqlSite', { RequireTls: 'false' });
  });

  test('encryptionKey: the given key encrypts storage and secrets', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'MyKey');
    new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', encryptionKey: key });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KMS::Key', 1);
    t.hasResourceProperties('AWS::RDS::DBInstance', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('MyKey'), 'Arn'] } });
  });

  test('hostedZone: names go into the given zone; no zone is created', () => {
    const stack = testStack();
    const vpc = importedVpc(stack);
    const zone = route53.PrivateHostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0ADDRESSES', zoneName: 'corp.internal' });
    const db = new ReplicatedMysql(stack, 'Db', { vpc, clusterName: 'shop', hostedZone: zone });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Route53::HostedZone', 0);
    t.hasResourceProperties('AWS::Route53::RecordSet', { HostedZoneId: 'Z0ADDRESSES', Name: 'db-master.shop.corp.internal.' });
    expect(db.replicaRecordName).toBe('db-replica.shop.corp.internal');
  });

  test('privateZoneName and recordTtl', () => {
    const t = build({ privateZoneName: 'mysql.example.internal', recordTtl: Duration.seconds(10) }).template();
    t.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'mysql.example.internal.' });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'db-master.shop.mysql.example.internal.', TTL: '10' });
  });

  test('verifyBackups false: no restore job and no backup alarm', () => {
    const { template, db } = build({ verifyBackups: false });
    template().resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    expect(db.backupVerification).toBeUndefined();
    expect(db.alarms).toHaveLength(8);
  });

  test('verifyFrom: point in time by default (with permission to restore from this cluster only), or the snapshot', () => {
    const t = build().template();
    expect(envOf(t, /Restores the latest backup/)).toMatchObject({ RESTORE_SOURCE: 'point-in-time' });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['rds:RestoreDBInstanceToPointInTime']), Resource: Match.arrayWith(['arn:aws:rds:eu-west-1:123456789012:db:shop-primary']) })]) },
    });
    expect(envOf(build({ verifyFrom: BackupVerificationSource.SNAPSHOT }).template(), /Restores the latest backup/)).toMatchObject({ RESTORE_SOURCE: 'snapshot' });
  });

  test('verifySchedule, verifyInstanceType and verifyRowCountTolerancePercent', () => {
    const t = build({ verifySchedule: events.Schedule.rate(Duration.hours(2)), verifyInstanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.LARGE), verifyRowCountTolerancePercent: 3 }).template();
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 hours)' });
    expect(envOf(t, /Restores the latest backup/)).toMatchObject({ INSTANCE_CLASS: 'db.t4g.large', TOLERANCE_PERCENT: '3' });
  });

  test('alarm thresholds and alarmTopic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Alarms');
    new ReplicatedMysql(stack, 'Db', {
      vpc: importedVpc(stack),
      clusterName: 'shop',
      replicaLagThreshold: Duration.seconds(30),
      freeStorageThreshold: Size.gibibytes(50),
      connectionsThreshold: 200,
      cpuThresholdPercent: 60,
      alarmTopic: topic,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ReplicaLag', Threshold: 30, AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }] });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FreeStorageSpace', Threshold: 50 * 1024 ** 3 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DatabaseConnections', Threshold: 200 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CPUUtilization', Threshold: 60 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'BackupVerified', AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }] });
  });

  test('vpcSubnets and lambdaSubnets', () => {
    const t = build({ vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, lambdaSubnets: { subnetType: ec2.SubnetType.PUBLIC }, sites: SITES }).template();
    t.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: ['subnet-0prv0', 'subnet-0prv1', 'subnet-0prv2'] });
    t.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('Creates the site databases'), VpcConfig: Match.objectLike({ SubnetIds: ['subnet-0pub0', 'subnet-0pub1', 'subnet-0pub2'] }) });
  });

  test('metricBackupVerified names the cluster', () => {
    const { db, stack } = build();
    expect(Stack.of(db).resolve(db.metricBackupVerified().dimensions)).toEqual({ Cluster: 'shop' });
    expect(stack.resolve(db.metricBackupVerified().metricName)).toBe('BackupVerified');
  });

  test('cdk-nag AwsSolutions is clean with sites, in both deployments', () => {
    for (const deployment of [MysqlDeployment.MULTI_AZ_INSTANCE, MysqlDeployment.MULTI_AZ_CLUSTER]) {
      const { app } = build({ deployment, sites: SITES }, { nag: true });
      expect(() => app.synth()).not.toThrow();
    }
  });
});

describe('ReplicatedMysql validation', () => {
  test.each<[string, Partial<ReplicatedMysqlProps>, RegExp]>([
    ['a cluster name with capitals', { clusterName: 'Shop' }, /clusterName: got "Shop"; allowed: 2 to 32 lowercase/],
    ['a cluster name with a double hyphen', { clusterName: 'a--b' }, /clusterName: got "a--b"/],
    ['a cluster name too long', { clusterName: 'a'.repeat(33) }, /clusterName/],
    ['readReplicas 0', { readReplicas: 0 }, /readReplicas: got 0; allowed: an integer from 1 to 5/],
    ['readReplicas 6', { readReplicas: 6 }, /readReplicas: got 6/],
    ['readReplicas with a Multi-AZ DB cluster', { deployment: MysqlDeployment.MULTI_AZ_CLUSTER, readReplicas: 2 }, /readReplicas: got 2; allowed: unset with deployment MULTI_AZ_CLUSTER/],
    ['verifyBackups with a Multi-AZ DB cluster', { deployment: MysqlDeployment.MULTI_AZ_CLUSTER, verifyBackups: true }, /verifyBackups: got true/],
    ['a Multi-AZ DB cluster on a class without local storage', { deployment: MysqlDeployment.MULTI_AZ_CLUSTER, instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM) }, /instanceType: got "t4g.medium"; allowed: a class with local NVMe storage/],
    ['verify options without verifyBackups', { verifyBackups: false, verifyRowCountTolerancePercent: 5 }, /verifyRowCountTolerancePercent: got 5; allowed: unset when backups are not verified/],
    ['verifyFrom without verifyBackups', { verifyBackups: false, verifyFrom: BackupVerificationSource.SNAPSHOT }, /verifyFrom: got "snapshot"; allowed: unset when backups are not verified/],
    ['a tolerance above 100%', { verifyRowCountTolerancePercent: 150 }, /verifyRowCountTolerancePercent: got 150; allowed: a number from 0 to 100/],
    ['backupRetention 0 days', { backupRetention: Duration.days(0) }, /backupRetention: got "0 days"; allowed: whole days from 1 to 35/],
    ['backupRetention 40 days', { backupRetention: Duration.days(40) }, /backupRetention: got "40 days"/],
    ['a TTL above 60 s', { recordTtl: Duration.minutes(5) }, /recordTtl: got "300 seconds"; allowed: whole seconds from 0 to 60/],
    ['storage below 20 GiB', { allocatedStorage: Size.gibibytes(10) }, /allocatedStorage: got "10 GiB"; allowed: 20 to 65536 GiB/],
    ['max storage below allocated', { allocatedStorage: Size.gibibytes(200), maxAllocatedStorage: Size.gibibytes(100) }, /maxAllocatedStorage: got "100 GiB"; allowed: at least allocatedStorage \(200 GiB\)/],
    ['port out of range', { port: 80 }, /port: got 80; allowed: an integer from 1150 to 65535/],
    ['a zone name with a trailing dot', { privateZoneName: 'db.internal.' }, /privateZoneName: got "db.internal."; allowed: a DNS name/],
    ['cpu threshold 0', { cpuThresholdPercent: 0 }, /cpuThresholdPercent: got 0; allowed: a number from 1 to 100/],
    ['connections threshold 0', { connectionsThreshold: 0 }, /connectionsThreshold: got 0/],
    ['replica lag under a second', { replicaLagThreshold: Duration.millis(500) }, /replicaLagThreshold: got "0.5 seconds"; allowed: at least 1 second/],
    ['a site name with a space', { sites: [{ name: 'my shop' }] }, /sites\[0\]\.name: got "my shop"/],
    ['two sites with one name', { sites: [{ name: 'shop' }, { name: 'shop' }] }, /sites\[1\]\.name: got "shop"; allowed: a name used once/],
    ['a database name too long for its user names', { sites: [{ name: 'shop', databaseName: 'a'.repeat(29) }] }, /sites\[0\]\.databaseName: got "a{29}"; allowed: letters, digits and underscores/],
    ['a system schema', { sites: [{ name: 'shop', databaseName: 'mysql' }] }, /sites\[0\]\.databaseName: got "mysql"/],
    ['two sites on one database', { sites: [{ name: 'a', databaseName: 'x' }, { name: 'b', databaseName: 'X' }] }, /sites\[1\]\.databaseName: got "X"; allowed: a database used by one site only/],
    ['a repeated role', { sites: [{ name: 'shop', users: [MysqlUserRole.APP, MysqlUserRole.APP] }] }, /sites\[0\]\.users: got \["app","app"\]; allowed: each role at most once/],
  ])('fails on %s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('fails on hostedZone together with privateZoneName', () => {
    const stack = testStack();
    const zone = route53.PrivateHostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z1', zoneName: 'corp.internal' });
    expect(() => new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', hostedZone: zone, privateZoneName: 'db.internal' })).toThrow(/privateZoneName: got "db.internal"; allowed: unset when hostedZone is given/);
  });

  test('lists every problem at once', () => {
    expect(() => build({ clusterName: 'X', readReplicas: 9, recordTtl: Duration.minutes(2) })).toThrow(/invalid props \(3\)/);
  });
});

describe('ReplicatedMysql with the Addresses stack', () => {
  test('names go into the AddressStack private zone across stacks, and per-site names chain to db-master', () => {
    const app = testApp();
    const network = new Stack(app, 'Network', { env: { account: '123456789012', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(network, 'Vpc', { maxAzs: 3, natGateways: 1, subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] });
    const addresses = new AddressStack(app, 'Addresses', { env: { account: '123456789012', region: 'eu-west-1' }, zoneName: 'example.com', privateZoneVpcs: [vpc] });
    const data = new Stack(app, 'Data', { env: { account: '123456789012', region: 'eu-west-1' } });
    const db = new ReplicatedMysql(data, 'Mysql', { vpc, clusterName: 'cluster1', hostedZone: addresses.privateZone! });
    addresses.addCname('db-master.site1', db.masterRecordName, { visibility: NameVisibility.PRIVATE });
    expect(db.masterRecordName).toBe('db-master.cluster1.example.com');
    Template.fromStack(data).hasResourceProperties('AWS::Route53::RecordSet', { Name: 'db-master.cluster1.example.com.', TTL: '30' });
    Template.fromStack(addresses).hasResourceProperties('AWS::Route53::RecordSet', { Name: 'db-master.site1.example.com.', Type: 'CNAME', ResourceRecords: ['db-master.cluster1.example.com'] });
  });
});

describe('ReplicatedMysql RDS roles are scoped to this cluster', () => {
  const { template, stack } = build({ clusterName: 'cluster1', readReplicas: 2 });
  const t = template();
  const arn = (r: string) => `arn:aws:rds:eu-west-1:123456789012:${r}`;
  const statementsOf = (fnDescription: RegExp) => {
    const fns = t.findResources('AWS::Lambda::Function');
    const [fnId] = Object.entries(fns).find(([, f]) => fnDescription.test((f as { Properties: { Description: string } }).Properties.Description))!;
    const roleRef = (fns[fnId] as { Properties: { Role: { 'Fn::GetAtt': string[] } } }).Properties.Role['Fn::GetAtt'][0];
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(roleRef));
    return policies.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement).map((st) => stack.resolve(st));
  };
  const rdsResources = (sts: Array<Record<string, unknown>>) =>
    sts.flatMap((st) => [st.Resource].flat()).map((r) => JSON.stringify(r)).filter((r) => r.includes(':rds:'));
  const subnetGroup = Object.keys(t.findResources('AWS::RDS::DBSubnetGroup'))[0];
  const parameterGroup = Object.keys(t.findResources('AWS::RDS::DBParameterGroup'))[0];

  test('the promotion acts on the exact instances and groups of this cluster, never og:*, pg:*, subgrp:*, secgrp:* or <cluster>-*', () => {
    const sts = statementsOf(/promotion runbook/);
    const resources = rdsResources(sts);
    for (const r of resources) expect(r).not.toMatch(/:(og|pg|subgrp|secgrp):\*"|cluster1-\*/);
    const exact = sts.find((st) => JSON.stringify(st.Action).includes('rds:PromoteReadReplica') && !JSON.stringify(st.Condition).includes('rds:db-tag'))!;
    expect(exact.Resource).toHaveLength(6);
    expect(exact.Resource).toEqual(expect.arrayContaining([
      arn('db:cluster1-primary'),
      arn('db:cluster1-replica-1'),
      arn('db:cluster1-replica-2'),
      { 'Fn::Join': ['', ['arn:aws:rds:eu-west-1:123456789012:subgrp:', { Ref: subnetGroup }]] },
      arn('og:default:mysql-8-4'),
      { 'Fn::Join': ['', ['arn:aws:rds:eu-west-1:123456789012:pg:', { Ref: parameterGroup }]] },
    ]));
  });

  test('replicas the promotion made (<cluster>-r-*) are touched only when they carry this cluster\'s member tag', () => {
    const sts = statementsOf(/promotion runbook/).filter((st) => JSON.stringify(st.Resource).includes('db:cluster1-r-*'));
    expect(sts.length).toBeGreaterThan(0);
    for (const st of sts) {
      expect(JSON.stringify(st.Condition)).toContain('"rds:db-tag/resilient-fleet:mysql-cluster":"cluster1"');
    }
    // A new replica must be created with this cluster's member tag.
    const create = sts.find((st) => JSON.stringify(st.Action).includes('rds:CreateDBInstanceReadReplica'))!;
    expect(create.Condition).toMatchObject({ StringEquals: { 'aws:RequestTag/resilient-fleet:mysql-cluster': 'cluster1' } });
  });

  test('the backup check restores only to tagged <cluster>-verify-* targets, from the primary and its own snapshots, and deletes only tagged copies', () => {
    const sts = statementsOf(/Restores the latest backup/);
    const pitr = sts.find((st) => JSON.stringify(st.Action).includes('rds:RestoreDBInstanceToPointInTime'))!;
    expect(pitr.Resource).toEqual(expect.arrayContaining([arn('db:cluster1-primary'), arn('db:cluster1-verify-*')]));
    expect(JSON.stringify(pitr.Resource)).not.toMatch(/db:cluster1-\*|subgrp:\*|pg:\*|og:\*/);
    expect(pitr.Condition).toEqual({ StringEquals: { 'aws:RequestTag/resilient-fleet:mysql-verify': 'cluster1' } });
    const snapshot = sts.find((st) => JSON.stringify(st.Action).includes('rds:RestoreDBInstanceFromDBSnapshot'))!;
    expect(snapshot.Resource).toEqual(expect.arrayContaining([arn('db:cluster1-verify-*'), arn('snapshot:rds:cluster1-primary-*')]));
    expect(JSON.stringify(snapshot.Resource)).not.toMatch(/snapshot:rds:cluster1-\*|subgrp:\*|pg:\*|og:\*/);
    const del = sts.find((st) => st.Action === 'rds:DeleteDBInstance')!;
    expect(del).toMatchObject({ Resource: arn('db:cluster1-verify-*'), Condition: { StringEquals: { 'rds:db-tag/resilient-fleet:mysql-verify': 'cluster1' } } });
    expect(rdsResources(sts).filter((r) => r.endsWith(':*"'))).toEqual([JSON.stringify(arn('db:*')), JSON.stringify(arn('snapshot:*'))]);
  });
});

describe('ReplicatedMysql dead letters', () => {
  test('the name follower and the verification schedule send failures to one encrypted queue kept 14 days, with an alarm on its depth', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Alarms', { masterKey: new kms.Key(stack, 'AlarmKey') });
    const db = new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', alarmTopic: topic });
    const t = Template.fromStack(stack);
    const queueId = stack.getLogicalId(db.deadLetterQueue!.node.defaultChild as never);
    t.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    const rules = Object.values(t.findResources('AWS::Events::Rule')) as Array<{ Properties: { Description: string; Targets: Array<Record<string, unknown>> } }>;
    for (const d of [/RDS instance events/, /Repairs db-master/, /Restore test/]) {
      const rule = rules.find((r) => d.test(r.Properties.Description))!;
      expect(rule.Properties.Targets[0].DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    }
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: Match.anyValue(),
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^Alarms') }],
    });
  });

  test('alarmTopic with a key of this app: the key policy lets CloudWatch alarms of this account use it', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Alarms', { masterKey: new kms.Key(stack, 'AlarmKey') });
    new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', alarmTopic: topic });
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowPublish-cloudwatch-alarms',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' } },
          },
        ]),
      },
    });
  });

  test('an imported alarmTopic draws a warning that its key cannot be checked', () => {
    const stack = testStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Alarms', 'arn:aws:sns:eu-west-1:123456789012:pager');
    new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', alarmTopic: topic });
    Annotations.fromStack(stack).hasWarning('/Test/Db', Match.stringLikeRegexp('alarmTopic: the topic is imported.*cloudwatch.amazonaws.com.*kms:Decrypt'));
  });
});

describe('ReplicatedMysql master password', () => {
  test('MULTI_AZ_CLUSTER: RDS manages and rotates the master password in a secret under the construct key; the provisioner may read it', () => {
    const { template, db, stack } = build({ deployment: MysqlDeployment.MULTI_AZ_CLUSTER, sites: SITES });
    const t = template();
    const keyId = stack.getLogicalId(db.encryptionKey.node.defaultChild as never);
    t.hasResourceProperties('AWS::RDS::DBCluster', {
      ManageMasterUserPassword: true,
      MasterUsername: 'admin',
      MasterUserPassword: Match.absent(),
      MasterUserSecret: { KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    });
    t.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 0);
    const clusterId = Object.keys(t.findResources('AWS::RDS::DBCluster'))[0];
    expect(stack.resolve(db.masterSecret.secretArn)).toEqual({ 'Fn::GetAtt': [clusterId, 'MasterUserSecret.SecretArn'] });
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual(expect.objectContaining({ Action: expect.arrayContaining(['secretsmanager:GetSecretValue']), Resource: expect.arrayContaining([{ 'Fn::GetAtt': [clusterId, 'MasterUserSecret.SecretArn'] }]) }));
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } }));
  });

  test('MULTI_AZ_INSTANCE keeps its own master secret (promotion hands the primary to a replica), attached to the primary', () => {
    const t = build().template();
    t.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 1);
    t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceIdentifier: 'shop-primary', ManageMasterUserPassword: Match.absent() });
  });
});
