// examples/replicated-mysql.ts: MySQL on RDS with a Multi-AZ primary, a read replica, db-master / db-replica names,
// site databases and users created at deploy time, and restored-and-checked backups.
// Synthesize: npx cdk synth --app "npx tsx examples/replicated-mysql.ts"
import { App, Stack, aws_ec2 as ec2, aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { MultiAzFleet, MysqlUserRole, ReplicatedMysql } from 'resilient-fleet';

const app = new App();
const stack = new Stack(app, 'Database');
// An ordinary VPC: public and private-with-egress subnets, no isolated ones.
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
const appFleet = new MultiAzFleet(stack, 'App', {
  vpc,
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
});
const alarmTopic = new sns.Topic(stack, 'DatabaseAlarms', {
  masterKey: new kms.Key(stack, 'AlarmKey', { enableKeyRotation: true }),
  enforceSSL: true,
});

const db = new ReplicatedMysql(stack, 'Mysql', {
  vpc,
  // ReplicatedMysql puts the databases in the VPC's isolated subnets by default (a database needs no route out).
  // This VPC has none, so choose subnets explicitly: the private ones work too, because the databases' security
  // group admits only the groups you allow below. Or add an isolated subnet group to the VPC
  // ({ name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }) and leave vpcSubnets out.
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  clusterName: 'cluster1', // db-master.cluster1.<zone>, cluster1-primary, cluster1-replica-1
  sites: [
    { name: 'shop' }, // database shop, users shop_app (rows) and shop_mig (schema)
    { name: 'blog', users: [MysqlUserRole.APP, MysqlUserRole.READ_ONLY] },
  ],
  alarmTopic, // optional: replica lag, free storage, connections, CPU, unverified backup
  // hostedZone: addresses.privateZone, // optional: the names in an existing private zone (AddressStack's)
});
db.connections.allowDefaultPortFrom(appFleet);
db.siteSecret('shop').grantRead(appFleet.role); // username, password, host (db-master), readerHost, port, dbname

app.synth();
