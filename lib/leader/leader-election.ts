import * as path from 'path';
import {
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  aws_autoscaling as autoscaling,
  aws_dynamodb as dynamodb,
  aws_ec2 as ec2,
  aws_events as events,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_kms as kms,
  aws_s3_assets as s3assets,
  aws_sns as sns,
  aws_sqs as sqs,
  aws_cloudwatch as cloudwatch,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { MultiAzFleet } from '../fleet/multi-az-fleet';
import { bundleDir } from '../private/assets';
import { DeadLetters } from '../private/dead-letters';
import { HookFunction } from '../private/hook-function';
import { acknowledgeNag, nagRender } from '../private/nag';
import { PropsValidator, requireProps } from '../private/validation';
import { renderLeaderBootStep, renderLeaderUserData } from './leader-user-data-config';

/** Props of `LeaderElection`. */
export interface LeaderElectionProps {
  /**
   * The group whose instances elect a leader. For a `MultiAzFleet`, pass `fleet.autoScalingGroup`
   * and call `installOn(fleet)` so its instances get the `leader-only` and `leader-status` commands.
   */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;

  /**
   * How often the sweep checks the ledger against the group and repairs what a lost event left behind
   * (no leader while instances are in service, a missing tag or protection, a run whose instance left).
   * From 1 minute to 1 hour, whole minutes.
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;

  /**
   * Protect the leader from scale-in while it leads and the desired capacity is at least 2, so scaling in
   * picks followers first. Below 2 the protection is lifted, so a nightly stop to zero still empties the group
   * (the leader goes last).
   * @default true
   */
  readonly protectLeader?: boolean;

  /**
   * Key of the EC2 tag that marks the leader (its value is the term). Instances read it from instance
   * metadata at `/latest/meta-data/tags/instance/<tagKey>` (needs instance metadata tags, which MultiAzFleet
   * turns on). Instance metadata cannot show keys with "/" or spaces, and "aws:" is reserved.
   * @default 'resilient-fleet:leader'
   */
  readonly tagKey?: string;

  /**
   * How long a terminating leader waits (terminate lifecycle hook heartbeat) while leadership is handed over.
   * The hook completes the action as soon as the handover is written; this is the upper bound when the hook
   * cannot run. AWS allows 30 seconds to 2 hours.
   * @default Duration.minutes(2)
   */
  readonly handoverTimeout?: Duration;

  /**
   * A once-per-deployment run whose instance left the group without finishing is marked abandoned by the
   * sweep after this long, so another instance may claim it. Make it longer than an instance takes to
   * appear in the group after launch.
   * @default Duration.minutes(5)
   */
  readonly abandonAfter?: Duration;

  /**
   * KMS key that encrypts the ledger table.
   * @default - the AWS managed key for DynamoDB (aws/dynamodb)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the ledger table when it leaves the stack. It holds which deployments already ran their
   * commands: losing it makes them run again.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Where the alarm on the hook's dead-letter queue notifies (an event that failed after every retry). A topic of this
   * app encrypted with a key of this app gets a key policy statement for CloudWatch; otherwise a warning says what to add.
   * @default - no action on the alarm (it is still created)
   */
  readonly alarmTopic?: sns.ITopic;
}

const DEFAULT_TAG_KEY = 'resilient-fleet:leader';

/**
 * What ends the leader item's partition key (`<group>#leader`, leaderPk in the hook's logic): the instances may
 * write every partition of the ledger but those.
 */
const LEADER_PK_SUFFIX = '#leader';

/**
 * A leader for an Auto Scaling group that scale-to-zero cannot lose, and commands that run once per deployment.
 *
 * - `leader-only -- <command>` (installed on the instances) runs the command on exactly one instance per
 *   CodeDeploy deployment (or `--revision`), claimed in a DynamoDB ledger with conditional writes: no leader
 *   has to survive the night for this to work.
 * - A continuous leader for singleton work: elected from the in-service instances when the group scales up,
 *   handed over by a terminate lifecycle hook before the leader goes, re-elected when it becomes unhealthy or
 *   disappears, and repaired by a periodic sweep. Its term grows with each election (a fencing token); it is
 *   tagged (readable through instance metadata) and protected from scale-in while it leads.
 */
export class LeaderElection extends Construct {
  /**
   * The ledger: leader item and once-per-deployment runs of this one group. The instances may read all of it and
   * write all of it but the leader item: keep nothing else in it.
   */
  public readonly table: dynamodb.Table;
  /** The Lambda function of the hook that elects, hands over and sweeps. */
  public readonly function: lambda.IFunction;
  private readonly hook: HookFunction;
  /** The terminate lifecycle hook that gives the hook time to hand over. */
  public readonly lifecycleHook: autoscaling.LifecycleHook;
  /** The EC2 tag key that marks the leader. */
  public readonly tagKey: string;
  /** The group. */
  public readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /** Launch, terminate and sweep events the hook could not handle after every retry (replay them from here). */
  public readonly deadLetterQueue: sqs.Queue;
  /** In ALARM while the dead-letter queue holds a message. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  private toolAsset?: s3assets.Asset;
  /** The instance policy made for each principal (undefined for a principal that is not a role). */
  private readonly instancePolicies = new Map<iam.IPrincipal, iam.Policy | undefined>();
  private readonly toolReaders = new Set<iam.IPrincipal>();

  constructor(scope: Construct, id: string, props: LeaderElectionProps) {
    super(scope, id);
    requireProps(this, 'LeaderElection', props, { autoScalingGroup: 'an autoscaling.IAutoScalingGroup, for example fleet.autoScalingGroup of a MultiAzFleet' });
    this.tagKey = props.tagKey ?? DEFAULT_TAG_KEY;
    this.autoScalingGroup = props.autoScalingGroup;
    const sweepInterval = props.sweepInterval ?? Duration.minutes(5);
    const handoverTimeout = props.handoverTimeout ?? Duration.minutes(2);
    const abandonAfter = props.abandonAfter ?? Duration.minutes(5);
    validate(this, this.tagKey, props.autoScalingGroup.autoScalingGroupName, sweepInterval, handoverTimeout, abandonAfter);

    const stack = Stack.of(this);
    const group = props.autoScalingGroup.autoScalingGroupName;

    this.table = new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.lifecycleHook = new autoscaling.LifecycleHook(this, 'HandoverHook', {
      autoScalingGroup: props.autoScalingGroup,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: handoverTimeout,
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });

    this.hook = new HookFunction(this, 'Hook', {
      hook: 'leader',
      description: 'resilient-fleet LeaderElection: elects, hands over and sweeps the leader of one Auto Scaling group',
      timeout: Duration.minutes(2),
      environment: {
        TABLE_NAME: this.table.tableName,
        GROUP_NAME: group,
        HOOK_NAME: this.lifecycleHook.lifecycleHookName,
        TAG_KEY: this.tagKey,
        PROTECT_LEADER: String(props.protectLeader ?? true),
        ABANDON_GRACE_MS: String(abandonAfter.toMilliseconds()),
      },
    });
    this.function = this.hook.function;
    this.grantHook(group, stack);

    const deadLetters = DeadLetters.create(this, 'DeadLetters', { what: `the leader hook of ${this.node.path}`, alarmTopic: props.alarmTopic });
    this.deadLetterQueue = deadLetters.queue;
    this.deadLetterAlarm = deadLetters.alarm;
    const target = deadLetters.lambdaTarget(this.hook.function, { retryAttempts: 4, maxEventAge: Duration.hours(1) });
    new events.Rule(this, 'LaunchRule', {
      description: 'Instance launched into the group: elect a leader if there is none',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance Launch Successful'],
        detail: { AutoScalingGroupName: [group] },
      },
      targets: [target],
    });
    new events.Rule(this, 'TerminateRule', {
      description: 'Instance terminating: hand leadership over before it goes',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [group], LifecycleHookName: [this.lifecycleHook.lifecycleHookName] },
      },
      targets: [target],
    });
    new events.Rule(this, 'SweepRule', {
      description: 'Periodic repair of the leader ledger, tags and protection',
      schedule: events.Schedule.rate(sweepInterval),
      targets: [target],
    });

    // An imported group has no role to grant to: use installOn/addToUserData/grantInstances with the instances' role.
    if (!(props.autoScalingGroup.grantPrincipal instanceof iam.UnknownPrincipal)) this.grantInstances(props.autoScalingGroup.grantPrincipal);
  }

  /**
   * Lets a principal (the instances' role) claim and read this group's runs, read the leader, and find its
   * group. Called for the group's own role at construction; call it for another role that runs the commands.
   *
   * The statements name the ledger, never the group: the group must wait for the policies its instances use (an
   * instance launched before its grant exists is denied), and a policy that named the group would wait for the group.
   * The ledger is this construct's own table and holds only this group's two partitions (`<group>` for runs,
   * `<group>#leader` for the leader), so reading the table reads exactly those, and every write except to a
   * partition ending in `#leader` is allowed: an instance can claim runs but can never write the leader item. A
   * group whose name ends in `#leader` is refused (its runs partition would look like a leader partition).
   */
  public grantInstances(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    if (this.instancePolicies.has(principal)) return;
    const statements = [
      new iam.PolicyStatement({
        sid: 'ReadOwnGroup',
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resources: [this.table.tableArn],
      }),
      new iam.PolicyStatement({
        sid: 'ClaimOwnGroupRuns',
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringNotLike': { 'dynamodb:LeadingKeys': [`*${LEADER_PK_SUFFIX}`] },
          Null: { 'dynamodb:LeadingKeys': 'false' },
        },
      }),
      new iam.PolicyStatement({
        sid: 'FindOwnGroup',
        actions: ['autoscaling:DescribeAutoScalingInstances'],
        resources: ['*'],
      }),
    ];
    // A separate policy, not the role's default one, so that the group can wait for exactly this one.
    const id = `InstancePolicy${this.instancePolicies.size === 0 ? '' : this.instancePolicies.size + 1}`;
    let policy: iam.Policy | undefined;
    if (isRole(principal)) {
      policy = new iam.Policy(this, id, { statements, roles: [principal] });
      acknowledgeNag(
        policy,
        'AwsSolutions-IAM5',
        'DescribeAutoScalingInstances supports no resource-level permissions; it is read-only and lets an instance find its own group name, which it cannot be given in user data without a dependency cycle.',
        'Resource::*',
      );
      if (principal === this.autoScalingGroup.grantPrincipal) this.groupWaitsFor(policy);
    } else {
      for (const s of statements) principal.addToPrincipalPolicy(s);
    }
    this.instancePolicies.set(principal, policy);
    this.table.encryptionKey?.grantEncryptDecrypt(principal);
  }

  /**
   * The user-data lines that install `leader-only` and `leader-status` on an instance (bash, Amazon Linux 2023:
   * Node.js from dnf, the AWS CLI to fetch the tool). Grants the group's role read access to the tool.
   */
  public userDataCommands(): string[] {
    this.grantToolRead(this.autoScalingGroup);
    return renderLeaderUserData({
      toolS3Url: this.tool().s3ObjectUrl,
      tableName: this.table.tableName,
      region: Stack.of(this).region,
      tagKey: this.tagKey,
    });
  }

  /**
   * Adds the on-instance commands to a MultiAzFleet's boot (step `leader-commands`, after the Node runtime is
   * installed and checked, before the fleet's user data and its CodeDeploy agent).
   */
  public installOn(fleet: MultiAzFleet): void {
    this.grantInstances(fleet.role);
    const policy = this.instancePolicies.get(fleet.role);
    if (policy && Stack.of(fleet) === Stack.of(this)) fleet.addBootDependency(policy);
    this.grantToolRead(fleet.role);
    fleet.addBootStep(
      renderLeaderBootStep({ toolS3Url: this.tool().s3ObjectUrl, tableName: this.table.tableName, region: Stack.of(this).region, tagKey: this.tagKey }),
      { needsNodeRuntime: true },
    );
  }

  /** Adds the on-instance commands to any user data; `grantee` (the instances' role) gets what they need. */
  public addToUserData(userData: ec2.UserData, grantee: iam.IGrantable): void {
    this.grantInstances(grantee);
    this.grantToolRead(grantee);
    userData.addCommands(...this.userDataCommands());
  }

  /**
   * The group (one defined in this stack) waits for an instance policy, so no instance of it boots before its grant
   * exists. A group in another stack cannot: this stack already depends on the group's stack.
   */
  private groupWaitsFor(policy: iam.Policy): void {
    // The CfnAutoScalingGroup, not the L2: the L2 holds the role the policy is attached to.
    const group = this.autoScalingGroup.node.defaultChild;
    if (group instanceof autoscaling.CfnAutoScalingGroup && Stack.of(group) === Stack.of(this)) group.node.addDependency(policy);
  }

  private tool(): s3assets.Asset {
    this.toolAsset ??= new s3assets.Asset(this, 'InstanceTool', {
      path: path.join(bundleDir('instance', 'leader'), 'index.mjs'),
    });
    return this.toolAsset;
  }

  /** Read access to exactly the tool's object (not the whole asset bucket). */
  private grantToolRead(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    if (principal instanceof iam.UnknownPrincipal || this.toolReaders.has(principal)) return;
    this.toolReaders.add(principal);
    const tool = this.tool();
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [tool.bucket.arnForObjects(tool.s3ObjectKey)] }),
    );
  }

  private grantHook(group: string, stack: Stack): void {
    const role = this.hook.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'Ledger',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [group, `${group}#leader`] } },
      }),
    );
    this.table.encryptionKey?.grantEncryptDecrypt(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadGroup',
        actions: ['autoscaling:DescribeAutoScalingGroups'],
        resources: ['*'],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ProtectAndReleaseOwnGroup',
        actions: ['autoscaling:SetInstanceProtection', 'autoscaling:CompleteLifecycleAction'],
        resources: [this.autoScalingGroup.autoScalingGroupArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TagOwnGroupLeader',
        actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
        conditions: {
          StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': group },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [this.tagKey] },
        },
      }),
    );
    const policy = role.node.tryFindChild('DefaultPolicy') ?? role;
    const ack = (reason: string, resource: string) => acknowledgeNag(policy, 'AwsSolutions-IAM5', reason, `Resource::${nagRender(stack, resource)}`);
    ack('DescribeAutoScalingGroups supports no resource-level permissions; the hook only reads its own group.', '*');
    ack(
      'The Auto Scaling group ARN has "*" in place of its generated id (this is how CDK and IAM name a group by name); the statement allows only SetInstanceProtection and CompleteLifecycleAction on this one group.',
      this.autoScalingGroup.autoScalingGroupArn,
    );
    ack(
      'Instance ids are not known at deploy time; conditions limit CreateTags/DeleteTags to instances tagged with this group name and to the leader tag key.',
      stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
    );
    ack('The hook writes only to its own log group and its streams (HookFunction).', `${this.hook.logGroup.logGroupArn}:*`);
  }
}

function isRole(p: iam.IPrincipal): p is iam.IRole {
  return (p as Partial<iam.IRole>).roleArn !== undefined && typeof (p as Partial<iam.IRole>).attachInlinePolicy === 'function';
}

function validate(scope: Construct, tagKey: string, groupName: string, sweep: Duration, handover: Duration, abandon: Duration): void {
  const check = new PropsValidator('LeaderElection', scope);
  // A name CloudFormation generates (stack name, logical id, suffix) never contains "#".
  check.check(
    !Token.isUnresolved(groupName) && groupName.endsWith(LEADER_PK_SUFFIX),
    'autoScalingGroup',
    groupName,
    `a group whose name does not end in "${LEADER_PK_SUFFIX}" (its runs partition would look like the leader's, which the instances may not write)`,
    'rename the group',
  );
  if (!Token.isUnresolved(tagKey)) {
    check.check(
      tagKey.length < 1 || tagKey.length > 128 || /[/\s]/.test(tagKey) || tagKey.toLowerCase().startsWith('aws:'),
      'tagKey',
      tagKey,
      '1 to 128 characters, no "/" or spaces (instance metadata cannot show them), not starting with "aws:"',
      `use a key such as "${DEFAULT_TAG_KEY}"`,
    );
  }
  const sweepS = sweep.toSeconds();
  check.check(
    !Token.isUnresolved(sweepS) && (sweepS < 60 || sweepS > 3600 || sweepS % 60 !== 0),
    'sweepInterval',
    sweep.toHumanString(),
    'whole minutes from 1 minute to 1 hour',
    'use for example Duration.minutes(5)',
  );
  const handoverS = handover.toSeconds();
  check.check(
    !Token.isUnresolved(handoverS) && (handoverS < 30 || handoverS > 7200),
    'handoverTimeout',
    handover.toHumanString(),
    '30 seconds to 2 hours (the lifecycle hook heartbeat timeout AWS allows)',
    'use for example Duration.minutes(2)',
  );
  const abandonS = abandon.toSeconds();
  check.check(
    !Token.isUnresolved(abandonS) && (abandonS < 60 || abandonS > 86_400),
    'abandonAfter',
    abandon.toHumanString(),
    '1 minute to 1 day',
    'use for example Duration.minutes(5): longer than a new instance takes to appear in the group',
  );
  check.throwIfAny();
}
