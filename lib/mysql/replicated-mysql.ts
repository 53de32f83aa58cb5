import {
  Annotations,
  ArnFormat,
  CustomResource,
  Duration,
  RemovalPolicy,
  Size,
  SizeRoundingBehavior,
  Stack,
  Tags,
  Token,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cw_actions,
  aws_ec2 as ec2,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_rds as rds,
  aws_route53 as route53,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sqs as sqs,
  aws_stepfunctions as sfn,
  aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DeadLetters } from '../private/dead-letters';
import { HookFunction } from '../private/hook-function';
import { TopicPublisher, allowTopicPublisher } from '../private/topic-key';
import { acknowledgeNag, nagRender } from '../private/nag';
import { PropsValidator, requireProps, vpcHasSubnetType } from '../private/validation';

/** How the primary survives the loss of its Availability Zone. */
export enum MysqlDeployment {
  /**
   * A Multi-AZ DB instance: a synchronous standby in another AZ that RDS fails over to (typically 60 to 120 seconds),
   * plus asynchronous read replicas. Works with every instance class and storage type; the replicas can be promoted
   * by this construct's promotion state machine.
   */
  MULTI_AZ_INSTANCE = 'MULTI_AZ_INSTANCE',
  /**
   * A Multi-AZ DB cluster: a writer and two readable standbys in three AZs with semi-synchronous replication; RDS fails
   * over in typically under 35 seconds, and the reader endpoint serves reads. Needs an instance class with local
   * NVMe storage (for example db.m6gd, db.r6gd). The promotion state machine and backup verification are not available
   * for it (RDS promotes a standby itself).
   */
  MULTI_AZ_CLUSTER = 'MULTI_AZ_CLUSTER',
}

/** What a site's database user may do there (never global privileges, never the master user). */
export enum MysqlUserRole {
  /** Rows only: SELECT, INSERT, UPDATE, DELETE, EXECUTE, CREATE TEMPORARY TABLES. The running application. */
  APP = 'app',
  /** Rows and schema (CREATE, ALTER, DROP, INDEX, ...), no GRANT OPTION. Migrations, run by the leader. */
  MIGRATE = 'migrate',
  /** SELECT, SHOW VIEW, EXECUTE. Reporting against db-replica. */
  READ_ONLY = 'read-only',
}

/** What the backup verification restores. */
export enum BackupVerificationSource {
  /**
   * The primary's latest restorable time: the newest snapshot plus the transaction logs backed up since, so the run
   * proves both (and fails when log backups stop). The copy is minutes old, so row counts match db-replica closely.
   */
  POINT_IN_TIME = 'point-in-time',
  /** The newest automated snapshot (daily): proves the snapshot alone. */
  SNAPSHOT = 'snapshot',
}

/** One site's logical database on the cluster. */
export interface MysqlSiteDatabase {
  /** The site's name: the construct id of its resources. Letters, digits and hyphens. */
  readonly name: string;
  /**
   * The database (schema) name. Letters, digits and underscores, starting with a letter, at most 28 characters
   * (user names `<database>_app`, `<database>_mig`, `<database>_ro` must fit MySQL 8's 32).
   * @default - `name` with hyphens turned into underscores
   */
  readonly databaseName?: string;
  /**
   * The users to create, one per role, named `<database>_app`, `<database>_mig` and `<database>_ro`, each with a
   * password generated in Secrets Manager (see `siteSecret()`).
   * @default [MysqlUserRole.APP, MysqlUserRole.MIGRATE]
   */
  readonly users?: MysqlUserRole[];
  /**
   * Drop the database (and its rows) when the site is removed from the stack. Users are always dropped.
   * @default false - the database is kept: data outlives stacks
   */
  readonly dropDatabaseOnDelete?: boolean;

  /**
   * Change this number to make the provisioner run again on the next deploy, for example after putting a new password
   * in a user's secret (CloudFormation runs a custom resource only when its properties change).
   * @default 0
   */
  readonly credentialsRevision?: number;
}

/** Props of `ReplicatedMysql`. */
export interface ReplicatedMysqlProps {
  /** The VPC. */
  readonly vpc: ec2.IVpc;

  /**
   * The cluster's name: the prefix of every DB instance identifier (`<name>-primary`, `<name>-replica-1`, ...) and the
   * middle of its DNS names (`db-master.<name>.<zone>`). Lowercase letters, digits and hyphens, 2 to 32 characters,
   * starting with a letter. Unique in the account and Region.
   */
  readonly clusterName: string;

  /**
   * Where the databases live: subnets in at least two AZs.
   * @default - the VPC's private isolated subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Where the construct's Lambda functions that connect to MySQL run (the schema provisioner and the backup check).
   * They need to reach Secrets Manager, RDS and CloudFormation: subnets with egress, or VPC endpoints.
   * @default - the VPC's private subnets with egress
   */
  readonly lambdaSubnets?: ec2.SubnetSelection;

  /**
   * Multi-AZ DB instance (with read replicas) or Multi-AZ DB cluster. See `MysqlDeployment` for the failover-time
   * trade-off (typically 60 to 120 s against under 35 s).
   * @default MysqlDeployment.MULTI_AZ_INSTANCE
   */
  readonly deployment?: MysqlDeployment;

  /** The MySQL version. @default rds.MysqlEngineVersion.VER_8_4_7 */
  readonly engineVersion?: rds.MysqlEngineVersion;

  /**
   * Instance class of the primary and replicas.
   * @default - db.m6g.large (MULTI_AZ_INSTANCE), db.m6gd.large (MULTI_AZ_CLUSTER)
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * Read replicas of the primary (MULTI_AZ_INSTANCE only; a Multi-AZ DB cluster has two readable standbys). 1 to 5.
   * @default 1
   */
  readonly readReplicas?: number;

  /** Allocated gp3 storage, at least 20 GiB. @default Size.gibibytes(100) */
  readonly allocatedStorage?: Size;

  /** Storage autoscaling limit; at least `allocatedStorage`. @default Size.gibibytes(1000) */
  readonly maxAllocatedStorage?: Size;

  /** Automated backups kept (point-in-time recovery window), 1 to 35 days. @default Duration.days(14) */
  readonly backupRetention?: Duration;

  /** The MySQL port. @default 3306 */
  readonly port?: number;

  /**
   * Turn on RDS deletion protection. The instances are retained on stack delete either way.
   * @default true
   */
  readonly deletionProtection?: boolean;

  /**
   * Require TLS for every connection (`require_secure_transport`) and for every site user (`REQUIRE SSL`).
   * @default true
   */
  readonly requireTls?: boolean;

  /** KMS key for storage, secrets and Performance Insights. @default - a new key with rotation */
  readonly encryptionKey?: kms.IKey;

  /**
   * The private hosted zone for `db-master.<clusterName>` and `db-replica.<clusterName>` (for example the Addresses
   * stack's). It must be associated with `vpc`. Conflicts with `privateZoneName`.
   * @default - a new private hosted zone named `privateZoneName`, associated with `vpc`, retained on delete
   */
  readonly hostedZone?: route53.IHostedZone;

  /** Name of the private hosted zone created when `hostedZone` is not given. Conflicts with `hostedZone`. @default 'db.internal' */
  readonly privateZoneName?: string;

  /** TTL of the db-master and db-replica CNAMEs: 0 to 60 s. @default Duration.seconds(30) */
  readonly recordTtl?: Duration;

  /** The sites' logical databases, each with its own least-privilege users. @default - none */
  readonly sites?: MysqlSiteDatabase[];

  /**
   * Restore the newest automated snapshot to a temporary instance on a schedule, check it, publish `BackupVerified`
   * and delete the temporary instance. Not available with MULTI_AZ_CLUSTER.
   * @default - true with MULTI_AZ_INSTANCE
   */
  readonly verifyBackups?: boolean;

  /** What is restored. Needs `verifyBackups`. @default BackupVerificationSource.POINT_IN_TIME */
  readonly verifyFrom?: BackupVerificationSource;

  /** When backups are verified. Needs `verifyBackups`. @default events.Schedule.rate(Duration.hours(6)) */
  readonly verifySchedule?: events.Schedule;

  /** Instance class of the temporary restored instance. Needs `verifyBackups`. @default db.t4g.medium */
  readonly verifyInstanceType?: ec2.InstanceType;

  /**
   * How far a restored table's row count may be from db-replica's, in percent (the snapshot is up to a day older).
   * 0 to 100. Needs `verifyBackups`.
   * @default 10
   */
  readonly verifyRowCountTolerancePercent?: number;

  /** Alarm when a replica lags more than this. At least 1 second. @default Duration.minutes(5) */
  readonly replicaLagThreshold?: Duration;

  /** Alarm when free storage falls below this. @default Size.gibibytes(10) */
  readonly freeStorageThreshold?: Size;

  /** Alarm when connections exceed this. @default 500 */
  readonly connectionsThreshold?: number;

  /** Alarm when CPU stays above this percentage for 15 minutes, 1 to 100. @default 80 */
  readonly cpuThresholdPercent?: number;

  /** Where alarms notify. @default - no actions (alarms are still created) */
  readonly alarmTopic?: sns.ITopic;
}

const ROLE_SUFFIX: Record<MysqlUserRole, string> = { [MysqlUserRole.APP]: 'app', [MysqlUserRole.MIGRATE]: 'mig', [MysqlUserRole.READ_ONLY]: 'ro' };
const MEMBER_TAG = 'resilient-fleet:mysql-cluster';
const ROLE_TAG = 'resilient-fleet:mysql-role';
/** The tag the restore test puts on its temporary instances (lambda/mysql-restore-test VERIFY_TAG). */
const VERIFY_TAG = 'resilient-fleet:mysql-verify';
const METRIC_NAMESPACE = 'ResilientFleet/MySQL';
const CA_BUNDLE = '/var/runtime/ca-cert.pem';
const RDS_LOGS = ['error', 'slowquery'] as const;
/** Instance classes that Multi-AZ DB clusters support (RDS User Guide, Multi-AZ DB cluster deployments). */
const MULTI_AZ_CLUSTER_CLASSES = ['m5d', 'm6gd', 'm6id', 'm6idn', 'r5d', 'r6gd', 'r6id', 'r6idn', 'x2iedn', 'c6gd'];

/**
 * Replicated MySQL on Amazon RDS: a Multi-AZ primary (or Multi-AZ DB cluster) with read replicas in private subnets,
 * encrypted, deletion-protected and retained, with automated backups and point-in-time recovery; `db-master` and
 * `db-replica` CNAMEs in a private hosted zone that follow the writer and a reader; a promotion state machine;
 * per-site databases and least-privilege users created at deploy time; scheduled restore tests of the backups; alarms.
 */
export class ReplicatedMysql extends Construct {
  /** The primary (MULTI_AZ_INSTANCE). */
  public readonly primary?: rds.DatabaseInstance;
  /** The read replicas (MULTI_AZ_INSTANCE). */
  public readonly replicas: rds.DatabaseInstanceReadReplica[] = [];
  /** The Multi-AZ DB cluster (MULTI_AZ_CLUSTER). */
  public readonly cluster?: rds.CfnDBCluster;
  /** The master user's secret. Keep applications away from it: use `siteSecret()`. */
  public readonly masterSecret!: secretsmanager.ISecret;
  /** Security group of the databases: `connections.allowDefaultPortFrom(fleet)`. */
  public readonly connections: ec2.Connections;
  /** The private hosted zone holding the names. */
  public readonly hostedZone: route53.IHostedZone;
  /** `db-master.<clusterName>.<zone>`: the writer. */
  public readonly masterRecordName: string;
  /** `db-replica.<clusterName>.<zone>`: a reader. */
  public readonly replicaRecordName: string;
  /** The MySQL port. */
  public readonly port: number;
  /** The promotion runbook as code (MULTI_AZ_INSTANCE). */
  public readonly promotionStateMachine?: sfn.StateMachine;
  /** The backup verification job (when `verifyBackups`). */
  public readonly backupVerification?: sfn.StateMachine;
  /** Every alarm the construct created. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** The KMS key of storage and secrets. */
  public readonly encryptionKey: kms.IKey;

  private readonly siteSecrets = new Map<string, secretsmanager.Secret>();
  private readonly clusterName: string;
  private masterRecord!: route53.CnameRecord;
  private parameterGroupName?: string;
  private subnetGroupName?: string;
  private readonly hookSecurityGroup: ec2.SecurityGroup;
  private readonly dbSecurityGroup: ec2.SecurityGroup;
  private deadLetters?: DeadLetters;
  /** The master secret is RDS-managed (imported by ARN): readers need the key's Decrypt granted separately. */
  private masterSecretKeyNeeded = false;

  constructor(scope: Construct, id: string, props: ReplicatedMysqlProps) {
    super(scope, id);
    requireProps(this, 'ReplicatedMysql', props, { vpc: 'an ec2.IVpc, for example new ec2.Vpc(this, \'Vpc\', { maxAzs: 3 }) or ec2.Vpc.fromLookup(this, \'Vpc\', { vpcId }), with isolated subnets for the databases', clusterName: 'a short name of the database cluster such as "site"' });
    const deployment = props.deployment ?? MysqlDeployment.MULTI_AZ_INSTANCE;
    const isCluster = deployment === MysqlDeployment.MULTI_AZ_CLUSTER;
    const verify = props.verifyBackups ?? !isCluster;
    const sites = props.sites ?? [];
    this.validate(props, { isCluster, verify, sites });

    this.clusterName = props.clusterName;
    // Every alarm here publishes to alarmTopic: its key must let CloudWatch use it (added, or warned about).
    if (props.alarmTopic) allowTopicPublisher(this, props.alarmTopic, TopicPublisher.CLOUDWATCH_ALARMS, 'alarmTopic');
    this.port = props.port ?? 3306;
    const ttl = props.recordTtl ?? Duration.seconds(30);
    const requireTls = props.requireTls ?? true;
    const deletionProtection = props.deletionProtection ?? true;
    const backupRetention = props.backupRetention ?? Duration.days(14);
    const allocated = props.allocatedStorage ?? Size.gibibytes(100);
    const maxAllocated = props.maxAllocatedStorage ?? Size.gibibytes(1000);
    const engineVersion = props.engineVersion ?? rds.MysqlEngineVersion.VER_8_4_7;
    const instanceType = props.instanceType ?? (isCluster ? ec2.InstanceType.of(ec2.InstanceClass.M6GD, ec2.InstanceSize.LARGE) : ec2.InstanceType.of(ec2.InstanceClass.M6G, ec2.InstanceSize.LARGE));
    const dbSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    const lambdaSubnets = props.lambdaSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    if (!deletionProtection) {
      Annotations.of(this).addWarningV2('resilient-fleet:mysql-deletion-protection', 'deletionProtection is false: the databases can be deleted by an API call. They are still retained on stack delete.');
    }

    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', { enableKeyRotation: true, description: `resilient-fleet ${props.clusterName} MySQL storage and secrets`, removalPolicy: RemovalPolicy.RETAIN });

    this.dbSecurityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, allowAllOutbound: false, description: `MySQL ${props.clusterName}` });
    this.connections = new ec2.Connections({ securityGroups: [this.dbSecurityGroup], defaultPort: ec2.Port.tcp(this.port) });
    this.hookSecurityGroup = new ec2.SecurityGroup(this, 'HookSecurityGroup', { vpc: props.vpc, description: `MySQL ${props.clusterName} provisioner and backup check` });
    this.connections.allowDefaultPortFrom(this.hookSecurityGroup, 'schema provisioner and backup check');

    const subnetGroup = new rds.SubnetGroup(this, 'SubnetGroup', {
      vpc: props.vpc,
      vpcSubnets: dbSubnets,
      description: `MySQL ${props.clusterName}`,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.subnetGroupName = subnetGroup.subnetGroupName;

    // A Multi-AZ DB cluster keeps its identity through failovers (RDS promotes a standby itself), so RDS manages and
    // rotates its master password; a Multi-AZ instance with promotable replicas keeps its own secret (see below).
    const secret = isCluster
      ? undefined
      : new rds.DatabaseSecret(this, 'MasterSecret', { username: 'admin', encryptionKey: this.encryptionKey, excludeCharacters: ' %+~`#$&*()|[]{}:;<>?!\'/@"\\' });
    secret?.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (secret) this.masterSecret = secret;
    if (secret) acknowledgeNag(
      secret,
      'AwsSolutions-SMG4',
      'Not rotated on a schedule until the promotion runbook can hand it over: an RDS-managed master password (ManageMasterUserPassword) and the ' +
        'rotation functions are bound to one DB instance (the managed secret is deleted with it; a rotation logs in to the secret\'s host), and ' +
        'this construct\'s promotion makes a replica the primary, after which both would act on the old primary. Restored verification copies ' +
        'also carry the password of the backup\'s time. Only the schema provisioner and the backup check read it, never applications; it keeps ' +
        'working after a promotion because the password is replicated.',
    );

    const engine = rds.DatabaseInstanceEngine.mysql({ version: engineVersion });
    const parameters: Record<string, string> = requireTls ? { require_secure_transport: '1' } : {};

    // --- names ---
    if (props.hostedZone) {
      this.hostedZone = props.hostedZone;
    } else {
      const zone = new route53.PrivateHostedZone(this, 'Zone', { zoneName: props.privateZoneName ?? 'db.internal', vpc: props.vpc, comment: `resilient-fleet MySQL ${props.clusterName}` });
      zone.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.hostedZone = zone;
    }
    this.masterRecordName = `db-master.${props.clusterName}.${this.hostedZone.zoneName}`;
    this.replicaRecordName = `db-replica.${props.clusterName}.${this.hostedZone.zoneName}`;

    let writerAddress: string;
    let readerAddress: string;
    const alarmTargets: Array<{ id: string; dims: Record<string, string>; replica: boolean }> = [];

    if (isCluster) {
      const parameterGroup = new rds.CfnDBClusterParameterGroup(this, 'ClusterParameters', {
        family: `mysql${engineVersion.mysqlMajorVersion}`,
        description: `MySQL ${props.clusterName}`,
        parameters,
      });
      const cluster = new rds.CfnDBCluster(this, 'Cluster', {
        dbClusterIdentifier: `${props.clusterName}-cluster`,
        engine: 'mysql',
        engineVersion: engineVersion.mysqlFullVersion,
        dbClusterInstanceClass: `db.${instanceType.toString()}`,
        allocatedStorage: allocated.toGibibytes(),
        storageType: 'gp3',
        dbSubnetGroupName: subnetGroup.subnetGroupName,
        vpcSecurityGroupIds: [this.dbSecurityGroup.securityGroupId],
        dbClusterParameterGroupName: parameterGroup.ref,
        port: this.port,
        storageEncrypted: true,
        kmsKeyId: this.encryptionKey.keyArn,
        deletionProtection,
        backupRetentionPeriod: backupRetention.toDays(),
        copyTagsToSnapshot: true,
        enableIamDatabaseAuthentication: true,
        // RDS generates the password, keeps it in a secret encrypted with this key and rotates it (every 7 days).
        masterUsername: 'admin',
        manageMasterUserPassword: true,
        masterUserSecret: { kmsKeyId: this.encryptionKey.keyArn },
        autoMinorVersionUpgrade: true,
        enableCloudwatchLogsExports: ['error', 'slowquery'],
        tags: [{ key: MEMBER_TAG, value: props.clusterName }],
      });
      cluster.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.masterSecret = secretsmanager.Secret.fromSecretCompleteArn(this, 'ManagedMasterSecret', cluster.attrMasterUserSecretSecretArn);
      this.masterSecretKeyNeeded = true;
      acknowledgeNag(cluster, 'AwsSolutions-RDS11', 'MySQL clients and tools expect port 3306; the cluster is reachable only from security groups this construct names, in isolated subnets.');
      this.cluster = cluster;
      writerAddress = cluster.attrEndpointAddress;
      readerAddress = cluster.attrReadEndpointAddress;
      alarmTargets.push({ id: 'Cluster', dims: { DBClusterIdentifier: cluster.ref }, replica: true });
    } else {
      const parameterGroup = new rds.ParameterGroup(this, 'Parameters', { engine, description: `MySQL ${props.clusterName}`, parameters, removalPolicy: RemovalPolicy.RETAIN });
      this.parameterGroupName = parameterGroup.bindToInstance({}).parameterGroupName;
      const common = {
        vpc: props.vpc,
        vpcSubnets: dbSubnets,
        securityGroups: [this.dbSecurityGroup],
        instanceType,
        parameterGroup,
        storageEncrypted: true,
        storageEncryptionKey: this.encryptionKey,
        deletionProtection,
        removalPolicy: RemovalPolicy.RETAIN,
        backupRetention,
        copyTagsToSnapshot: true,
        iamAuthentication: true,
        autoMinorVersionUpgrade: true,
        enablePerformanceInsights: true,
        performanceInsightEncryptionKey: this.encryptionKey,
        cloudwatchLogsExports: [...RDS_LOGS],
        storageType: rds.StorageType.GP3,
        maxAllocatedStorage: maxAllocated.toGibibytes(),
        port: this.port,
        subnetGroup,
      };
      const primary = new rds.DatabaseInstance(this, 'Primary', {
        ...common,
        engine,
        instanceIdentifier: `${props.clusterName}-primary`,
        credentials: rds.Credentials.fromSecret(secret!),
        multiAz: true,
        allocatedStorage: allocated.toGibibytes(),
      });
      this.rdsLogGroups('Primary', `${props.clusterName}-primary`);
      Tags.of(primary).add(MEMBER_TAG, props.clusterName);
      Tags.of(primary).add(ROLE_TAG, 'primary');
      acknowledgeNag(primary, 'AwsSolutions-RDS11', 'MySQL clients and tools expect port 3306; the instance is reachable only from security groups this construct names, in isolated subnets.');
      this.primary = primary;
      alarmTargets.push({ id: 'Primary', dims: { DBInstanceIdentifier: primary.instanceIdentifier }, replica: false });
      for (let n = 1; n <= (props.readReplicas ?? 1); n++) {
        // CloudFormation rejects StorageEncrypted on a replica: a same-Region replica of an encrypted primary is
        // encrypted with the primary's key.
        const { storageEncrypted: _e, storageEncryptionKey: _k, ...replicaProps } = common;
        const replica = new rds.DatabaseInstanceReadReplica(this, `Replica${n}`, {
          ...replicaProps,
          sourceDatabaseInstance: primary,
          instanceIdentifier: `${props.clusterName}-replica-${n}`,
          // A replica with its own backups is promoted without waiting for a first backup.
          multiAz: false,
        });
        this.rdsLogGroups(`Replica${n}`, `${props.clusterName}-replica-${n}`);
        Tags.of(replica).add(MEMBER_TAG, props.clusterName);
        Tags.of(replica).add(ROLE_TAG, 'replica');
        acknowledgeNag(replica, 'AwsSolutions-RDS2', 'Encrypted: a same-Region read replica of an encrypted primary uses the primary\'s key (CloudFormation rejects StorageEncrypted next to SourceDBInstanceIdentifier).');
        acknowledgeNag(replica, 'AwsSolutions-RDS3', 'A read replica: the primary is Multi-AZ, and the promotion state machine makes a promoted replica Multi-AZ.');
        acknowledgeNag(replica, 'AwsSolutions-RDS11', 'MySQL clients and tools expect port 3306; the instance is reachable only from security groups this construct names, in isolated subnets.');
        this.replicas.push(replica);
        alarmTargets.push({ id: `Replica${n}`, dims: { DBInstanceIdentifier: replica.instanceIdentifier }, replica: true });
      }
      writerAddress = primary.dbInstanceEndpointAddress;
      readerAddress = this.replicas[0].dbInstanceEndpointAddress;
    }

    // The initial names; afterwards the name follower and the promotion state machine keep them right.
    for (const [rid, name, target] of [
      ['MasterRecord', this.masterRecordName, writerAddress],
      ['ReplicaRecord', this.replicaRecordName, readerAddress],
    ] as const) {
      const record = new route53.CnameRecord(this, rid, { zone: this.hostedZone, recordName: name, domainName: target, ttl, comment: `resilient-fleet ${props.clusterName}` });
      record.applyRemovalPolicy(RemovalPolicy.RETAIN);
      if (rid === 'MasterRecord') this.masterRecord = record;
    }

    if (!isCluster) {
      this.addNameFollower(props, ttl);
      this.promotionStateMachine = this.addPromotion(props, ttl, instanceType, backupRetention);
    }
    if (sites.length > 0) this.addSites(props, sites, writerAddress, requireTls, lambdaSubnets);
    if (verify && this.primary) this.backupVerification = this.addBackupVerification(props, sites, lambdaSubnets, subnetGroup);
    this.addAlarms(props, alarmTargets);
  }

  /** The secret (username, password, host, port, dbname) of a site's user. */
  public siteSecret(site: string, role: MysqlUserRole = MysqlUserRole.APP): secretsmanager.ISecret {
    const secret = this.siteSecrets.get(`${site}/${role}`);
    if (!secret) throw new Error(`ReplicatedMysql: site ${JSON.stringify(site)} has no ${role} user; add it to sites[].users`);
    return secret;
  }

  /**
   * RDS events the name follower could not handle after every retry, and schedule events that could not start a
   * backup verification (replay them from here). Its alarm is in `alarms` and notifies `alarmTopic`.
   * Undefined with MULTI_AZ_CLUSTER and no backup verification (no event-driven hook).
   */
  public get deadLetterQueue(): sqs.Queue | undefined {
    return this.deadLetters?.queue;
  }

  /** The backup verification result (1 verified, 0 not), per run. */
  public metricBackupVerified(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: 'BackupVerified', dimensionsMap: { Cluster: this.clusterName }, statistic: 'Minimum', period: Duration.days(1), ...props });
  }

  /** The log groups RDS exports to, made here with a retention (no LogRetention custom resource, which adds a Lambda). */
  private rdsLogGroups(id: string, instanceId: string): void {
    for (const kind of RDS_LOGS) {
      new logs.LogGroup(this, `${id}Log-${kind}`, { logGroupName: `/aws/rds/instance/${instanceId}/${kind}`, retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.RETAIN });
    }
  }

  private hookInVpc(hook: HookFunction, props: ReplicatedMysqlProps, subnets: ec2.SubnetSelection): void {
    // Attached by hand (not lambda.Function's vpc prop) so no AWS managed policy lands on the hook's role.
    const selected = props.vpc.selectSubnets(subnets);
    const cfn = hook.function.node.defaultChild as lambda.CfnFunction;
    cfn.vpcConfig = { subnetIds: selected.subnetIds, securityGroupIds: [this.hookSecurityGroup.securityGroupId] };
    const policy = new iam.Policy(this, `${hook.node.id}Network`, {
      statements: [
        new iam.PolicyStatement({
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: ['*'],
        }),
      ],
    });
    hook.role.attachInlinePolicy(policy);
    hook.function.node.addDependency(policy);
    acknowledgeNag(policy, 'AwsSolutions-IAM5', 'Lambda in a VPC manages its network interfaces; EC2 allows no resource scope for these actions.', 'Resource::*');
  }

  /**
   * The exact ARNs of what this stack made: the primary and replicas, their subnet, parameter and option groups; and the
   * pattern of the replicas the promotion makes (`<cluster>-r-<hash>`), which callers must pair with the member tag.
   */
  private memberArns(props: ReplicatedMysqlProps): { initial: string[]; created: string; groups: string[] } {
    const initial = [this.rdsArn('db', `${props.clusterName}-primary`)];
    for (let n = 1; n <= (props.readReplicas ?? 1); n++) initial.push(this.rdsArn('db', `${props.clusterName}-replica-${n}`));
    const major = (props.engineVersion ?? rds.MysqlEngineVersion.VER_8_4_7).mysqlMajorVersion.replace(/\./g, '-');
    const groups = [
      this.rdsArn('subgrp', this.subnetGroupName!),
      this.rdsArn('og', `default:mysql-${major}`),
      ...(this.parameterGroupName ? [this.rdsArn('pg', this.parameterGroupName)] : []),
    ];
    return { initial, created: this.rdsArn('db', `${props.clusterName}-r-*`), groups };
  }

  /** Read access to the master secret, and to its key where RDS manages it (an imported secret grants no key use). */
  private grantMasterRead(role: iam.IRole): void {
    this.masterSecret.grantRead(role);
    if (this.masterSecretKeyNeeded) this.encryptionKey.grantDecrypt(role);
  }

  private rdsArn(resource: string, name: string): string {
    return Stack.of(this).formatArn({ service: 'rds', resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  }

  private grantNames(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: [this.hostedZone.hostedZoneArn] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: [this.hostedZone.hostedZoneArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [this.masterRecordName.toLowerCase(), this.replicaRecordName.toLowerCase()],
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBInstances'], resources: [this.rdsArn('db', '*')] }));
  }

  private addNameFollower(props: ReplicatedMysqlProps, ttl: Duration): void {
    const hook = new HookFunction(this, 'NameFollower', {
      hook: 'mysql-name-follower',
      description: `Keeps db-master and db-replica of ${props.clusterName} on the current writer and a replica`,
      environment: {
        CLUSTER_NAME: props.clusterName,
        HOSTED_ZONE_ID: this.hostedZone.hostedZoneId,
        MASTER_NAME: this.masterRecordName,
        REPLICA_NAME: this.replicaRecordName,
        RECORD_TTL: String(ttl.toSeconds()),
      },
    });
    this.grantNames(hook.role);
    ackWildcards(hook.role, 'DescribeDBInstances lists every instance to find the cluster members by tag (RDS scopes it to db:* at most); the log permission covers the streams of the hook\'s own log group.', [
      this.rdsArn('db', '*'),
      `${hook.logGroup.logGroupArn}:*`,
    ]);
    new events.Rule(this, 'RdsEvents', {
      description: `RDS instance events of ${props.clusterName}: the names follow failover, promotion, creation and deletion`,
      eventPattern: {
        source: ['aws.rds'],
        detailType: ['RDS DB Instance Event'],
        resources: events.Match.prefix(this.rdsArn('db', `${props.clusterName}-`)),
        detail: { EventCategories: ['failover', 'creation', 'deletion', 'read replica', 'availability', 'recovery', 'notification', 'restoration', 'maintenance'] },
      },
      targets: [this.deadLettersOf(props).lambdaTarget(hook.function, { retryAttempts: 4, maxEventAge: Duration.hours(2) })],
    });
    new events.Rule(this, 'NameSweep', {
      description: `Repairs db-master and db-replica of ${props.clusterName} after a lost event`,
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [this.deadLettersOf(props).lambdaTarget(hook.function, { retryAttempts: 2, maxEventAge: Duration.minutes(10) })],
    });
  }

  private stateMachineLogs(id: string): sfn.LogOptions {
    const group = new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    return { destination: group, level: sfn.LogLevel.ALL, includeExecutionData: true };
  }

  private addPromotion(props: ReplicatedMysqlProps, ttl: Duration, instanceType: ec2.InstanceType, backupRetention: Duration): sfn.StateMachine {
    const stack = Stack.of(this);
    const hook = new HookFunction(this, 'Promotion', {
      hook: 'mysql-promotion',
      description: `One idempotent step of the promotion runbook of ${props.clusterName}`,
      timeout: Duration.minutes(2),
      environment: {
        CLUSTER_NAME: props.clusterName,
        HOSTED_ZONE_ID: this.hostedZone.hostedZoneId,
        MASTER_NAME: this.masterRecordName,
        REPLICA_NAME: this.replicaRecordName,
        RECORD_TTL: String(ttl.toSeconds()),
        REPLICA_CLASS: `db.${instanceType.toString()}`,
        SECURITY_GROUP_IDS: this.dbSecurityGroup.securityGroupId,
        PARAMETER_GROUP: this.parameterGroupName ?? '',
        BACKUP_RETENTION_DAYS: String(backupRetention.toDays()),
        MULTI_AZ: 'true',
        ACCOUNT_ID: stack.account,
        PARTITION: stack.partition,
      },
    });
    this.grantNames(hook.role);
    const { initial, created, groups } = this.memberArns(props);
    const memberTag = { [`rds:db-tag/${MEMBER_TAG}`]: props.clusterName };
    // Never moves an instance into or out of a cluster: a tag it sets names this cluster (or no cluster at all).
    const ownTagOnly = { [`aws:RequestTag/${MEMBER_TAG}`]: props.clusterName };
    const onMembers = ['rds:PromoteReadReplica', 'rds:ModifyDBInstance', 'rds:AddTagsToResource'];
    // The instances this stack made, by exact identifier; and the groups they use, by exact name.
    hook.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: onMembers, resources: [...initial, ...groups], conditions: { StringEqualsIfExists: ownTagOnly } }));
    // Replicas the promotion made (<cluster>-r-<hash>): the prefix could be another cluster's (one named <cluster>-r),
    // so the instance must also carry this cluster's member tag.
    hook.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: onMembers, resources: [created], conditions: { StringEquals: memberTag, StringEqualsIfExists: ownTagOnly } }));
    // A new replica (always <cluster>-r-<hash>, tagged as this cluster's member in the request) of a member, in this
    // cluster's groups. The source must carry the member tag; the new instance has no tags yet, hence IfExists.
    hook.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['rds:CreateDBInstanceReadReplica', 'rds:AddTagsToResource'],
        resources: [...initial, created, ...groups],
        conditions: { StringEquals: ownTagOnly, StringEqualsIfExists: memberTag },
      }),
    );
    this.encryptionKey.grant(hook.role, 'kms:CreateGrant', 'kms:DescribeKey');
    ackWildcards(
      hook.role,
      'Instances the promotion creates are named <cluster>-r-<hash of their source> (not known at synth time): that pattern is allowed only for instances carrying this cluster\'s member tag, and only with that tag in a create request; DescribeDBInstances lists every instance to find members by tag; the log permission covers the streams of the hook\'s own log group.',
      [this.rdsArn('db', '*'), created, `${hook.logGroup.logGroupArn}:*`],
    );

    const step = (name: string) =>
      new tasks.LambdaInvoke(this, `Promote${name[0].toUpperCase()}${name.slice(1)}`, {
        lambdaFunction: hook.function,
        payload: sfn.TaskInput.fromObject({ step: name, 'replica.$': '$.replica', 'state.$': '$.state' }),
        payloadResponseOnly: true,
        resultPath: '$.state',
        retryOnServiceExceptions: true,
      }).addRetry({ errors: ['States.TaskFailed'], maxAttempts: 2, interval: Duration.seconds(10), backoffRate: 2 });
    // Await steps poll until RDS reports the instance ready; the state machine's timeout bounds the whole run.
    const wait = (name: string, seconds: number, next: sfn.IChainable) => {
      const poll = step(name);
      const pause = new sfn.Wait(this, `Promote${name[0].toUpperCase()}${name.slice(1)}Wait`, { time: sfn.WaitTime.duration(Duration.seconds(seconds)) });
      const ready = new sfn.Choice(this, `Promote${name[0].toUpperCase()}${name.slice(1)}Ready`)
        .when(sfn.Condition.booleanEquals('$.state.ready', true), next)
        .otherwise(pause);
      pause.next(poll);
      return poll.next(ready);
    };
    const moveReplica = step('moveReplica');
    const awaitReplica = wait('awaitReplica', 60, moveReplica);
    const createReplica = step('createReplica').next(awaitReplica);
    const awaitAvailable = wait('awaitAvailable', 30, createReplica);
    const makeMultiAz = step('makeMultiAz').next(awaitAvailable);
    const moveMaster = step('moveMaster').next(makeMultiAz);
    const retag = step('retag').next(moveMaster);
    const awaitPromoted = wait('awaitPromoted', 15, retag);
    const promote = step('promote').next(awaitPromoted);
    const start = new sfn.Pass(this, 'PromoteInput', { parameters: { 'replica.$': '$.replica', state: {} } });
    const plan = step('plan').next(promote);
    const definition = new sfn.Choice(this, 'PromoteReplicaGiven')
      .when(sfn.Condition.isPresent('$.replica'), start.next(plan))
      .otherwise(new sfn.Pass(this, 'PromoteDefaultInput', { parameters: { replica: '', state: {} } }).next(plan));

    const machine = new sfn.StateMachine(this, 'PromotionStateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(4),
      tracingEnabled: true,
      logs: this.stateMachineLogs('Promotion'),
      comment: `Promote a replica of ${props.clusterName}, move db-master, create a fresh replica. Idempotent: start again after a failure.`,
    });
    ackWildcards(machine.role, 'The state machine invokes its own hook function (any version) and writes X-Ray traces and log deliveries, which have no resource scope.', [`${hook.function.functionArn}:*`, '*']);
    return machine;
  }

  private addSites(props: ReplicatedMysqlProps, sites: MysqlSiteDatabase[], writer: string, requireTls: boolean, subnets: ec2.SubnetSelection): void {
    const hook = new HookFunction(this, 'Provisioner', {
      hook: 'mysql-provisioner',
      description: `Creates the site databases and least-privilege users of ${props.clusterName}`,
      timeout: Duration.minutes(5),
      environment: { NODE_EXTRA_CA_CERTS: CA_BUNDLE },
    });
    this.hookInVpc(hook, props, subnets);
    this.grantMasterRead(hook.role);
    ackWildcards(hook.role, 'Only the streams of the hook\'s own log group (log stream names are not known in advance).', [`${hook.logGroup.logGroupArn}:*`]);
    const stack = Stack.of(this);
    for (const site of sites) {
      const database = databaseNameOf(site);
      const users = [];
      for (const role of site.users ?? [MysqlUserRole.APP, MysqlUserRole.MIGRATE]) {
        const username = `${database}_${ROLE_SUFFIX[role]}`;
        const secret = new secretsmanager.Secret(this, `${site.name}-${ROLE_SUFFIX[role]}`, {
          description: `MySQL ${props.clusterName} site ${site.name}: ${role} user`,
          encryptionKey: this.encryptionKey,
          generateSecretString: {
            secretStringTemplate: stack.toJsonString({ username, dbname: database, host: this.masterRecordName, readerHost: this.replicaRecordName, port: this.port, engine: 'mysql' }),
            generateStringKey: 'password',
            passwordLength: 32,
            excludePunctuation: true,
          },
        });
        acknowledgeNag(
          secret,
          'AwsSolutions-SMG4',
          'Not rotated on a schedule: the alternating-users rotation function of Secrets Manager refuses a user secret whose host is not the ' +
            'master secret\'s host ("Current database host ... is not the same host as/rds replica of master"), and this secret names ' +
            'db-master.<cluster>, the name that follows a promotion, so every scheduled rotation would fail. The provisioner already keeps ' +
            '<user> and <user>_clone right across an alternating-users rotation; rotate by a new secret value and a deploy with a new credentialsRevision.',
        );
        secret.grantRead(hook.role);
        this.siteSecrets.set(`${site.name}/${role}`, secret);
        users.push({ Name: username, Role: role, SecretArn: secret.secretArn });
      }
      const resource = new CustomResource(this, `Site-${site.name}`, {
        serviceToken: hook.function.functionArn,
        resourceType: 'Custom::MysqlSite',
        properties: {
          Database: database,
          Users: users,
          RequireTls: String(requireTls),
          DropDatabaseOnDelete: String(site.dropDatabaseOnDelete ?? false),
          CredentialsRevision: String(site.credentialsRevision ?? 0),
          // db-master, followed to the current primary at run time (after a promotion it is no longer the stack's primary).
          Host: this.masterRecordName,
          FallbackHost: writer,
          Port: String(this.port),
          MasterSecretArn: this.masterSecret.secretArn,
        },
      });
      resource.node.addDependency(this.dbSecurityGroup, this.masterRecord, ...(this.primary ? [this.primary] : []), ...this.replicas);
    }
  }

  private addBackupVerification(props: ReplicatedMysqlProps, sites: MysqlSiteDatabase[], subnets: ec2.SubnetSelection, subnetGroup: rds.SubnetGroup): sfn.StateMachine {
    const verifyClass = props.verifyInstanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM);
    const hook = new HookFunction(this, 'BackupCheck', {
      hook: 'mysql-restore-test',
      description: `Restores the latest backup of ${props.clusterName} to a temporary instance, checks it and deletes it`,
      timeout: Duration.minutes(5),
      environment: {
        NODE_EXTRA_CA_CERTS: CA_BUNDLE,
        CLUSTER_NAME: props.clusterName,
        PRIMARY_ID: `${props.clusterName}-primary`,
        DATABASES: sites.map(databaseNameOf).join(','),
        INSTANCE_CLASS: `db.${verifyClass.toString()}`,
        SUBNET_GROUP: subnetGroup.subnetGroupName,
        SECURITY_GROUP_IDS: this.dbSecurityGroup.securityGroupId,
        MASTER_SECRET_ARN: this.masterSecret.secretArn,
        REFERENCE_HOST: this.replicaRecordName,
        PARAMETER_GROUP: this.parameterGroupName ?? '',
        RESTORE_SOURCE: props.verifyFrom ?? BackupVerificationSource.POINT_IN_TIME,
        DB_PORT: String(this.port),
        TOLERANCE_PERCENT: String(props.verifyRowCountTolerancePercent ?? 10),
      },
    });
    this.hookInVpc(hook, props, subnets);
    this.grantMasterRead(hook.role);
    this.encryptionKey.grant(hook.role, 'kms:CreateGrant', 'kms:DescribeKey');
    const temporary = this.rdsArn('db', `${props.clusterName}-verify-*`);
    const primaryId = `${props.clusterName}-primary`;
    const snapshots = this.rdsArn('snapshot', `rds:${primaryId}-*`);
    const { groups } = this.memberArns(props);
    // The temporary instance is created with the verification tag naming this cluster; real instances never carry it.
    const verifyTag = { [`aws:RequestTag/${VERIFY_TAG}`]: props.clusterName };
    hook.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBInstances', 'rds:DescribeDBSnapshots'], resources: [this.rdsArn('db', '*'), this.rdsArn('snapshot', '*')] }));
    // Restore the primary's automated snapshots (copied tags: this cluster's member tag) to a tagged temporary instance
    // named <cluster>-verify-*, in this cluster's own subnet, parameter and option groups.
    hook.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['rds:RestoreDBInstanceFromDBSnapshot', 'rds:AddTagsToResource'],
        resources: [temporary, snapshots, ...groups],
        conditions: { StringEquals: verifyTag, StringEqualsIfExists: { [`rds:snapshot-tag/${MEMBER_TAG}`]: props.clusterName } },
      }),
    );
    // A point-in-time restore names its source (the primary, exactly) and the tagged temporary target.
    hook.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['rds:RestoreDBInstanceToPointInTime', 'rds:AddTagsToResource'],
        resources: [this.rdsArn('db', primaryId), temporary, ...groups],
        conditions: { StringEquals: verifyTag },
      }),
    );
    // Only the temporary instances can be deleted: named <cluster>-verify-* and tagged as this cluster's verification
    // copies (the name alone could be another cluster's, one named <cluster>-verify).
    hook.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['rds:DeleteDBInstance'], resources: [temporary], conditions: { StringEquals: { [`rds:db-tag/${VERIFY_TAG}`]: props.clusterName } } }),
    );
    hook.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } } }));
    ackWildcards(
      hook.role,
      'The temporary instances are named <cluster>-verify-<hash of the backup> (not known at synth time): restoring to that pattern needs this cluster\'s verification tag in the request, deleting needs it on the instance; the snapshots are the primary\'s automated ones (rds:<cluster>-primary-<time>) carrying this cluster\'s member tag; describing lists every instance and snapshot; PutMetricData has no resource scope and is limited to its namespace by condition; the log permission covers the hook\'s own log group.',
      [this.rdsArn('db', '*'), this.rdsArn('snapshot', '*'), temporary, snapshots, '*', `${hook.logGroup.logGroupArn}:*`],
    );

    const invoke = (name: string, step: string) =>
      new tasks.LambdaInvoke(this, `Verify${name}`, {
        lambdaFunction: hook.function,
        payload: sfn.TaskInput.fromObject({ step, 'state.$': '$' }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      });
    const report = invoke('Report', 'report');
    // The metric is the signal; the execution's own status says the same, for whoever looks at the console.
    report.next(
      new sfn.Choice(this, 'VerifyPassed')
        .when(sfn.Condition.booleanEquals('$.passed', true), new sfn.Succeed(this, 'VerifySucceeded'))
        .otherwise(new sfn.Fail(this, 'VerifyFailed', { error: 'BackupNotVerified', cause: 'The restored copy failed its checks or could not be restored; see the execution output and the hook logs' })),
    );
    const cleanup = invoke('Cleanup', 'cleanup').addRetry({ maxAttempts: 5, interval: Duration.seconds(30), backoffRate: 2 });
    cleanup.next(report);
    const onError = { resultPath: '$.error' };
    const start = invoke('Start', 'start').addCatch(cleanup, onError);
    const poll = invoke('Await', 'await').addCatch(cleanup, onError);
    const check = invoke('Check', 'check').addRetry({ maxAttempts: 2, interval: Duration.seconds(60) }).addCatch(cleanup, onError);
    check.next(cleanup);
    const pause = new sfn.Wait(this, 'VerifyWait', { time: sfn.WaitTime.duration(Duration.minutes(1)) });
    pause.next(poll);
    poll.next(new sfn.Choice(this, 'VerifyReady').when(sfn.Condition.booleanEquals('$.ready', true), check).otherwise(pause));
    start.next(pause);

    const machine = new sfn.StateMachine(this, 'BackupVerification', {
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      // A restore takes 10 to 40 minutes; a run that hangs is stopped, and the next run's cleanup deletes what it left.
      timeout: Duration.hours(3),
      tracingEnabled: true,
      logs: this.stateMachineLogs('Verification'),
      comment: `Restore test of ${props.clusterName}: latest backup to a temporary instance, checks, delete, metric`,
    });
    ackWildcards(machine.role, 'The state machine invokes its own hook function (any version) and writes X-Ray traces and log deliveries, which have no resource scope.', [`${hook.function.functionArn}:*`, '*']);
    new events.Rule(this, 'VerifySchedule', {
      description: `Restore test of ${props.clusterName}`,
      schedule: props.verifySchedule ?? events.Schedule.rate(Duration.hours(6)),
      targets: [this.deadLettersOf(props).stateMachineTarget(machine, { retryAttempts: 4, maxEventAge: Duration.hours(1) })],
    });
    const alarm = new cloudwatch.Alarm(this, 'BackupVerifiedAlarm', {
      alarmDescription: `No verified backup of ${props.clusterName} in the last day: a restore failed its checks, or the job did not run. See the BackupVerification state machine's executions.`,
      metric: new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: 'BackupVerified', dimensionsMap: { Cluster: props.clusterName }, statistic: 'Minimum', period: Duration.days(1) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.addAlarm(alarm, props);
    return machine;
  }

  private addAlarm(alarm: cloudwatch.Alarm, props: ReplicatedMysqlProps): void {
    if (props.alarmTopic) alarm.addAlarmAction(new cw_actions.SnsAction(props.alarmTopic));
    this.alarms.push(alarm);
  }

  /** The one dead-letter queue of the construct's event-driven hooks and rules, made on first use. */
  private deadLettersOf(props: ReplicatedMysqlProps): DeadLetters {
    if (!this.deadLetters) {
      // No topic here: addAlarm adds the action, so this alarm is listed and notified like every other one.
      this.deadLetters = DeadLetters.create(this, 'DeadLetters', { what: `the name follower and backup verification schedule of ${props.clusterName}` });
      this.addAlarm(this.deadLetters.alarm, props);
    }
    return this.deadLetters;
  }

  private addAlarms(props: ReplicatedMysqlProps, targetsToWatch: Array<{ id: string; dims: Record<string, string>; replica: boolean }>): void {
    const lag = props.replicaLagThreshold ?? Duration.minutes(5);
    const storage = props.freeStorageThreshold ?? Size.gibibytes(10);
    const connections = props.connectionsThreshold ?? 500;
    const cpu = props.cpuThresholdPercent ?? 80;
    const metric = (name: string, dims: Record<string, string>, statistic: string, period: Duration) =>
      new cloudwatch.Metric({ namespace: 'AWS/RDS', metricName: name, dimensionsMap: dims, statistic, period });
    for (const t of targetsToWatch) {
      const alarms: Array<[string, cloudwatch.Metric, number, cloudwatch.ComparisonOperator, number, string]> = [
        ['Cpu', metric('CPUUtilization', t.dims, 'Average', Duration.minutes(5)), cpu, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 3, `CPU above ${cpu}% for 15 minutes`],
        ['FreeStorage', metric('FreeStorageSpace', t.dims, 'Minimum', Duration.minutes(5)), storage.toBytes(), cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, 1, `free storage below ${storage.toGibibytes()} GiB`],
        ['Connections', metric('DatabaseConnections', t.dims, 'Maximum', Duration.minutes(5)), connections, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 2, `more than ${connections} connections`],
      ];
      if (t.replica) {
        alarms.push(['ReplicaLag', metric('ReplicaLag', t.dims, 'Maximum', Duration.minutes(1)), lag.toSeconds(), cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, 5, `replica lag above ${lag.toSeconds()} s for 5 minutes`]);
      }
      for (const [name, m, threshold, op, periods, what] of alarms) {
        this.addAlarm(
          new cloudwatch.Alarm(this, `${t.id}${name}Alarm`, {
            alarmDescription: `MySQL ${props.clusterName} ${t.id}: ${what}`,
            metric: m,
            threshold,
            comparisonOperator: op,
            evaluationPeriods: periods,
            treatMissingData: cloudwatch.TreatMissingData.MISSING,
          }),
          props,
        );
      }
    }
  }

  private validate(props: ReplicatedMysqlProps, v: { isCluster: boolean; verify: boolean; sites: MysqlSiteDatabase[] }): void {
    const check = new PropsValidator('ReplicatedMysql', this);
    check.eventsSchedule('verifySchedule', props.verifySchedule);
    // The defaults select subnet types the VPC may not have: say so here, naming the prop, not in aws-cdk-lib's words.
    check.check(
      props.vpcSubnets === undefined && !vpcHasSubnetType(props.vpc, ec2.SubnetType.PRIVATE_ISOLATED),
      'vpcSubnets',
      undefined,
      'subnets in at least two Availability Zones; by default the VPC\'s isolated subnets (no route to or from the internet, the safe place for a database), and this VPC has none',
      'add an isolated subnet group to the VPC (subnetConfiguration: [..., { name: \'Data\', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }]), or choose the subnets: vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }',
    );
    check.check(
      props.lambdaSubnets === undefined && (v.sites.length > 0 || (v.verify && !v.isCluster)) && !vpcHasSubnetType(props.vpc, ec2.SubnetType.PRIVATE_WITH_EGRESS),
      'lambdaSubnets',
      undefined,
      'subnets from which the schema provisioner and the backup check reach Secrets Manager, RDS and CloudFormation; by default the VPC\'s private subnets with egress, and this VPC has none',
      'add a PRIVATE_WITH_EGRESS subnet group to the VPC, or set lambdaSubnets to subnets that have VPC endpoints for those services',
    );
    const name = props.clusterName;
    if (!Token.isUnresolved(name)) {
      check.check(
        !/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/.test(name) || name.includes('--'),
        'clusterName',
        name,
        '2 to 32 lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen',
        'pick a short name such as "shop" or "cluster1"',
      );
    }
    if (v.isCluster) {
      check.check(props.readReplicas !== undefined, 'readReplicas', props.readReplicas, 'unset with deployment MULTI_AZ_CLUSTER (it has two readable standbys)', 'remove readReplicas, or use MULTI_AZ_INSTANCE');
      check.check(props.verifyBackups === true, 'verifyBackups', props.verifyBackups, 'false or unset with deployment MULTI_AZ_CLUSTER', 'remove verifyBackups, or use MULTI_AZ_INSTANCE');
      if (props.instanceType) {
        const family = props.instanceType.toString().split('.')[0];
        check.check(
          !MULTI_AZ_CLUSTER_CLASSES.includes(family),
          'instanceType',
          props.instanceType.toString(),
          `a class with local NVMe storage for MULTI_AZ_CLUSTER (${MULTI_AZ_CLUSTER_CLASSES.join(', ')})`,
          'for example ec2.InstanceType.of(ec2.InstanceClass.M6GD, ec2.InstanceSize.LARGE), or use MULTI_AZ_INSTANCE',
        );
      }
    } else {
      check.integerInRange('readReplicas', props.readReplicas, 1, 5, 'set readReplicas to 1 to 5 (RDS for MySQL allows up to 15; more than 5 here is a sign of a different design)');
    }
    if (!v.verify) {
      for (const [prop, value] of [
        ['verifyFrom', props.verifyFrom],
        ['verifySchedule', props.verifySchedule],
        ['verifyInstanceType', props.verifyInstanceType],
        ['verifyRowCountTolerancePercent', props.verifyRowCountTolerancePercent],
      ] as const) {
        check.check(value !== undefined, prop, prop === 'verifySchedule' ? 'a schedule' : value, 'unset when backups are not verified', `remove ${prop}, or set verifyBackups: true`);
      }
    }
    if (props.verifyRowCountTolerancePercent !== undefined && !Token.isUnresolved(props.verifyRowCountTolerancePercent)) {
      const t = props.verifyRowCountTolerancePercent;
      check.check(!(t >= 0 && t <= 100), 'verifyRowCountTolerancePercent', t, 'a number from 0 to 100', 'set the allowed difference in percent, for example 10');
    }
    const days = props.backupRetention?.toDays({ integral: false });
    if (days !== undefined) check.check(!Number.isInteger(days) || days < 1 || days > 35, 'backupRetention', `${days} days`, 'whole days from 1 to 35 (RDS limit; 0 would turn off backups and point-in-time recovery)', 'set backupRetention: Duration.days(14)');
    const ttl = props.recordTtl?.toSeconds({ integral: false });
    if (ttl !== undefined) check.check(!Number.isInteger(ttl) || ttl < 0 || ttl > 60, 'recordTtl', `${ttl} seconds`, 'whole seconds from 0 to 60 (clients must follow a moved db-master within a minute)', 'set recordTtl: Duration.seconds(30)');
    const allocated = props.allocatedStorage?.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (allocated !== undefined) check.check(allocated < 20 || allocated > 65536, 'allocatedStorage', `${allocated} GiB`, '20 to 65536 GiB', 'set allocatedStorage: Size.gibibytes(100)');
    const maxAllocated = props.maxAllocatedStorage?.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (maxAllocated !== undefined) {
      check.check(maxAllocated < (allocated ?? 100), 'maxAllocatedStorage', `${maxAllocated} GiB`, `at least allocatedStorage (${allocated ?? 100} GiB)`, 'raise maxAllocatedStorage or lower allocatedStorage');
    }
    if (props.port !== undefined && !Token.isUnresolved(props.port)) check.integerInRange('port', props.port, 1150, 65535, 'use a port from 1150 to 65535 (RDS for MySQL)');
    check.check(props.hostedZone !== undefined && props.privateZoneName !== undefined, 'privateZoneName', props.privateZoneName, 'unset when hostedZone is given', 'remove privateZoneName, or remove hostedZone to create a new private zone');
    if (props.privateZoneName !== undefined && !Token.isUnresolved(props.privateZoneName)) {
      check.check(!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(props.privateZoneName), 'privateZoneName', props.privateZoneName, 'a DNS name of lowercase labels, without a trailing dot', 'for example "db.internal"');
    }
    if (props.cpuThresholdPercent !== undefined) check.check(!(props.cpuThresholdPercent >= 1 && props.cpuThresholdPercent <= 100), 'cpuThresholdPercent', props.cpuThresholdPercent, 'a number from 1 to 100', 'set cpuThresholdPercent: 80');
    if (props.connectionsThreshold !== undefined) check.integerInRange('connectionsThreshold', props.connectionsThreshold, 1, 100_000);
    const lag = props.replicaLagThreshold?.toSeconds({ integral: false });
    if (lag !== undefined) check.check(lag < 1, 'replicaLagThreshold', `${lag} seconds`, 'at least 1 second', 'set replicaLagThreshold: Duration.minutes(5)');
    const siteNames = new Set<string>();
    const databases = new Set<string>();
    for (const [i, site] of v.sites.entries()) {
      if (site === undefined || site === null || site.name === undefined || site.name === null) {
        check.check(true, `sites[${i}].name`, site?.name, 'a site name (required), letters, digits and hyphens', 'give each site a name such as "shop"');
        continue;
      }
      const db = databaseNameOf(site);
      check.check(!/^[A-Za-z][A-Za-z0-9-]*$/.test(site.name), `sites[${i}].name`, site.name, 'letters, digits and hyphens, starting with a letter', 'for example "shop"');
      check.check(siteNames.has(site.name), `sites[${i}].name`, site.name, 'a name used once', 'give each site its own name');
      siteNames.add(site.name);
      check.check(
        !/^[A-Za-z][A-Za-z0-9_]{0,27}$/.test(db) || ['mysql', 'sys', 'information_schema', 'performance_schema'].includes(db.toLowerCase()),
        `sites[${i}].databaseName`,
        db,
        'letters, digits and underscores, starting with a letter, at most 28 characters, not a system schema (user names <database>_app must fit 32)',
        'set databaseName to a short name such as "shop"',
      );
      check.check(databases.has(db.toLowerCase()), `sites[${i}].databaseName`, db, 'a database used by one site only', 'give each site its own databaseName');
      databases.add(db.toLowerCase());
      const users = site.users ?? [MysqlUserRole.APP, MysqlUserRole.MIGRATE];
      check.check(new Set(users).size !== users.length, `sites[${i}].users`, users, 'each role at most once', 'remove the repeated role');
    }
    check.throwIfAny();
  }
}

function databaseNameOf(site: MysqlSiteDatabase): string {
  return site.databaseName ?? site.name.replace(/-/g, '_');
}

/** Acknowledges AwsSolutions-IAM5 for each wildcard resource of a role's default policy, one finding at a time. */
function ackWildcards(role: iam.IRole, reason: string, resources: string[]): void {
  const policy = role.node.tryFindChild('DefaultPolicy') ?? role;
  const stack = Stack.of(role);
  for (const r of resources) acknowledgeNag(policy, 'AwsSolutions-IAM5', reason, `Resource::${nagRender(stack, r)}`);
}
