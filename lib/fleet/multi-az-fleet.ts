import {
  Annotations,
  Duration,
  Lazy,
  Names,
  Size,
  SizeRoundingBehavior,
  Stack,
  Tags,
  Token,
  aws_autoscaling as autoscaling,
  aws_cloudwatch as cloudwatch,
  aws_codedeploy as codedeploy,
  aws_ec2 as ec2,
  aws_elasticloadbalancingv2 as elbv2,
  aws_iam as iam,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct, type IDependable } from 'constructs';
import { LaunchLoopGuard, LaunchLoopGuardOptions } from '../launch-loop/launch-loop-guard';
import { acknowledgeNag, nagRender } from '../private/nag';
import { TopicPublisher, allowTopicPublisher } from '../private/topic-key';
import { PropsValidator, requireProps } from '../private/validation';
import {
  BOOT_LIFECYCLE_HOOK_NAME,
  bootLifecycleStatePolicy,
  BootStep,
  FLEET_GROUP_TAG_KEY,
  bootLifecycleHookSpecification,
  nodeRuntimeStep,
  renderBootScript,
} from '../private/boot-contract';
import { agentHoldStep, agentStartStep } from './codedeploy-user-data';

/** Which health check decides that an instance is replaced. */
export enum FleetHealthCheck {
  /** EC2 status checks only. The safe choice with CodeDeploy (see the "no healthy revision" trap). */
  EC2 = 'EC2',
  /** EC2 status checks and the load balancer target group's health check. Needs `listener`. */
  ELB = 'ELB',
}

/** One scheduled capacity change, for example "zero at 19:00 on weekdays". */
export interface FleetScheduledCapacity {
  /** Construct id of the scheduled action; keep it stable (renaming replaces the action). */
  readonly name: string;
  /** When, as a cron schedule in `timeZone` (for example `Schedule.cron({ hour: '19', minute: '0', weekDay: 'MON-FRI' })`). */
  readonly schedule: autoscaling.Schedule;
  /** The minimum capacity from then on. @default - unchanged */
  readonly minCapacity?: number;
  /** The maximum capacity from then on. @default - unchanged */
  readonly maxCapacity?: number;
  /** The desired capacity from then on. @default - unchanged */
  readonly desiredCapacity?: number;
}

/** Props of `MultiAzFleet`. */
export interface MultiAzFleetProps {
  /** The VPC to launch into. Its chosen subnets must span at least two Availability Zones (three recommended). */
  readonly vpc: ec2.IVpc;

  /**
   * Where to launch instances. Every AZ of the selected subnets is used.
   * @default - the private subnets with egress, in every AZ of the VPC
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The machine image: an AMI built as an artefact (Packer, EC2 Image Builder), for example
   * `ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' })`, or any `IMachineImage`.
   */
  readonly machineImage: ec2.IMachineImage;

  /** The instance type. Conflicts with `instanceTypes`. @default - t3.small */
  readonly instanceType?: ec2.InstanceType;

  /**
   * Several instance types to launch from, most preferred first, so that one type's "insufficient capacity"
   * in one AZ does not stop scaling: the group launches with a mixed instances policy and On-Demand
   * instances follow this order (allocation strategy `prioritized`). All types must share one CPU
   * architecture (the AMI's). Up to 40 types. Conflicts with `instanceType`.
   * @default - only `instanceType` (no mixed instances policy unless `spot` is set)
   */
  readonly instanceTypes?: ec2.InstanceType[];

  /**
   * Launch Spot instances above `onDemandBaseCapacity`, with the `price-capacity-optimized` allocation strategy
   * over every type of `instanceTypes` (or `instanceType`). Spot instances can be reclaimed with a two-minute
   * notice: only for work that can be retried.
   * @default false
   */
  readonly spot?: boolean;

  /**
   * How many instances are always On-Demand before Spot is used. Needs `spot`.
   * @default 0
   */
  readonly onDemandBaseCapacity?: number;

  /**
   * Capacity Rebalancing: when EC2 says a Spot instance is at elevated risk of interruption, the group launches
   * its replacement first and then terminates it (through the group's terminate lifecycle hooks). Needs `spot`.
   * @default - true when `spot` is set
   */
  readonly capacityRebalance?: boolean;

  /**
   * Minimum number of instances. Zero is allowed (a fleet that scales to zero at night).
   * @default 3 (one per AZ)
   */
  readonly minCapacity?: number;

  /** @default - the larger of `minCapacity` and `desiredCapacity`, and at least 3 */
  readonly maxCapacity?: number;

  /**
   * The desired number of instances at deploy time. Leave it unset so that deployments do not reset a
   * capacity that scaling has changed.
   * @default - not set: the group starts at `minCapacity` and deployments leave the current capacity alone
   */
  readonly desiredCapacity?: number;

  /**
   * Instances that stay in service while a launch template change is rolled out (rolling replacement).
   * Must be less than `maxCapacity`, or the roll-out can never replace an instance.
   * @default - `minCapacity`, capped at `maxCapacity - 1`
   */
  readonly minInstancesInService?: number;

  /**
   * Instances replaced at a time during a rolling replacement.
   * @default 1
   */
  readonly maxBatchSize?: number;

  /**
   * The health check that decides when an instance is replaced. `ELB` needs `listener`.
   * With `codeDeploy`, prefer `EC2`: see the warning about the "no healthy revision" trap.
   * @default - `ELB` when `listener` is set and `codeDeploy` is not, otherwise `EC2`
   */
  readonly healthCheck?: FleetHealthCheck;

  /**
   * Time after launch before health checks count: long enough for user data and the first deployment.
   * @default Duration.minutes(5)
   */
  readonly healthCheckGracePeriod?: Duration;

  /**
   * An Application Load Balancer listener to put the fleet behind. The fleet creates a target group on it.
   * @default - no load balancer
   */
  readonly listener?: elbv2.IApplicationListener;

  /** Port the instances serve on, for the target group. Needs `listener`. @default 80 */
  readonly targetPort?: number;

  /** Path of the target group's HTTP health check. Needs `listener`. @default '/' */
  readonly healthCheckPath?: string;

  /**
   * Connection draining: how long the load balancer lets in-flight requests finish before an instance
   * is deregistered. Needs `listener`. AWS allows 0 to 3600 seconds.
   * @default Duration.seconds(30)
   */
  readonly deregistrationDelay?: Duration;

  /**
   * Wire in CodeDeploy: an application and a deployment group bound to this group, automatic rollback on
   * failure, and user data that installs the agent and starts it only after the rest of user data.
   * @default false
   */
  readonly codeDeploy?: boolean;

  /**
   * How CodeDeploy rolls a revision through the fleet. Needs `codeDeploy`.
   * @default ServerDeploymentConfig.ONE_AT_A_TIME
   */
  readonly deploymentConfig?: codedeploy.IServerDeploymentConfig;

  /**
   * Scheduled capacity changes, for example zero on weeknights and weekends and back in the morning.
   * @default - no schedule
   */
  readonly schedule?: FleetScheduledCapacity[];

  /**
   * IANA time zone of `schedule`, for example 'Europe/Dublin'. Needs `schedule`.
   * @default 'UTC'
   */
  readonly timeZone?: string;

  /**
   * SNS topic told of every launch, termination and failure of the group.
   * @default - no notifications
   */
  readonly notificationTopic?: sns.ITopic;

  /** Size of the encrypted gp3 root volume. @default Size.gibibytes(20) */
  readonly rootVolumeSize?: Size;

  /** Device name of the AMI's root volume. @default '/dev/xvda' (Amazon Linux) */
  readonly rootVolumeDeviceName?: string;

  /**
   * Security group of the instances. No inbound rule is added by default (no port 22: use Session Manager).
   * @default - a new security group allowing all outbound traffic
   */
  readonly securityGroup?: ec2.ISecurityGroup;

  /** Role of the instances. Session Manager permissions are added to it. @default - a new role */
  readonly role?: iam.IRole;

  /**
   * The instance metadata hop limit (HttpPutResponseHopLimit): 1 keeps the role's credentials on the instance itself;
   * 2 lets containers on the instance (a bridge network is one more hop) reach IMDSv2 and so the role. 1 to 64.
   * @default 1
   */
  readonly httpPutResponseHopLimit?: number;
}

/** A named step of a fleet's boot contract (see `MultiAzFleet.addBootStep`). */
export interface FleetBootStep {
  /** Lower-case letters, digits and '-' (it names the step's function and its log file). */
  readonly name: string;
  /** Bash lines of the step's body. They may use the contract's helpers: retry, retry_aws, imds, s3_get, dnf_install. */
  readonly commands: string[];
}

/** Options of `MultiAzFleet.addBootStep`. */
export interface BootStepOptions {
  /** Install and check the supported Node runtime before the first step. @default false */
  readonly needsNodeRuntime?: boolean;
  /** Run after the `user-data` step (and before the CodeDeploy agent starts). @default false */
  readonly afterUserData?: boolean;
}

const DEFAULT_MIN = 3;
const MAX_DEREGISTRATION_DELAY_S = 3600;

/**
 * An Auto Scaling group spread over every Availability Zone of its subnets, built to be replaced rather than
 * repaired: launch template with IMDSv2 and an encrypted root volume, health checks with a grace period,
 * rolling replacement that keeps a stated capacity in service, optional ALB target group with connection
 * draining, optional CodeDeploy with the agent started after user data, and optional scheduled capacity.
 */
export class MultiAzFleet extends Construct {
  /** The underlying Auto Scaling group. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** Security groups of the instances, for `connections.allowFrom(...)`. */
  public readonly connections: ec2.Connections;
  /** The instances' role, to grant them access. */
  public readonly grantPrincipal: iam.IPrincipal;
  /** The instances' role. */
  public readonly role: iam.IRole;
  /** The Availability Zones the fleet spans. */
  public readonly availabilityZones: string[];
  /** The target group, when `listener` is set. */
  public readonly targetGroup?: elbv2.ApplicationTargetGroup;
  /** The CodeDeploy application, when `codeDeploy` is set. */
  public readonly codeDeployApplication?: codedeploy.ServerApplication;
  /** The CodeDeploy deployment group, when `codeDeploy` is set. */
  public readonly deploymentGroup?: codedeploy.ServerDeploymentGroup;
  /** The health check in force. */
  public readonly healthCheck: FleetHealthCheck;

  /**
   * Value of the group's tag `FLEET_GROUP_TAG_KEY` (unique in the app): IAM statements of the instances' role that act
   * on their own group are scoped by it, since naming the group would make a dependency cycle.
   */
  public readonly groupTagValue: string;

  private readonly userCommands: string[] = [];
  private readonly bootSteps: BootStep[] = [];
  private readonly lateBootSteps: BootStep[] = [];
  private needsNodeRuntime = false;

  constructor(scope: Construct, id: string, props: MultiAzFleetProps) {
    super(scope, id);
    requireProps(this, 'MultiAzFleet', props, { vpc: 'an ec2.IVpc, for example new ec2.Vpc(this, \'Vpc\', { maxAzs: 3 }) or ec2.Vpc.fromLookup(this, \'Vpc\', { vpcId })', machineImage: 'an ec2.IMachineImage, for example ec2.MachineImage.latestAmazonLinux2023() or the AMI your image pipeline built' });

    this.groupTagValue = Names.uniqueId(this);
    const subnetSelection = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const selected = props.vpc.selectSubnets(subnetSelection);
    this.availabilityZones = [...new Set(selected.availabilityZones)].sort();

    const minCapacity = props.minCapacity ?? DEFAULT_MIN;
    const maxCapacity = props.maxCapacity ?? Math.max(minCapacity, props.desiredCapacity ?? 0, DEFAULT_MIN);
    const healthCheck = props.healthCheck ?? (props.listener && !props.codeDeploy ? FleetHealthCheck.ELB : FleetHealthCheck.EC2);
    this.healthCheck = healthCheck;
    const minInService = props.minInstancesInService ?? Math.max(0, Math.min(minCapacity, maxCapacity - 1));
    const maxBatchSize = props.maxBatchSize ?? 1;
    const grace = props.healthCheckGracePeriod ?? Duration.minutes(5);

    this.validate(props, { minCapacity, maxCapacity, healthCheck, minInService, maxBatchSize, grace, selectedAzs: this.availabilityZones });

    this.role =
      props.role ??
      new iam.Role(this, 'InstanceRole', {
        assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
        description: 'Instances of a resilient-fleet MultiAzFleet',
      });
    // Session Manager instead of SSH keys and port 22.
    this.role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'));
    acknowledgeNag(
      this.role,
      'AwsSolutions-IAM4',
      'AmazonSSMManagedInstanceCore is the AWS-maintained policy for Session Manager, which replaces SSH keys and port 22.',
      'Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore',
    );

    const securityGroup =
      props.securityGroup ??
      new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: 'MultiAzFleet instances (no inbound by default; Session Manager instead of SSH)',
        allowAllOutbound: true,
      });

    const region = Stack.of(this).region;
    const userData = ec2.UserData.custom(
      Lazy.string({
        produce: () => this.renderUserData(props.codeDeploy === true, region),
      }),
    );

    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: props.machineImage,
      instanceType: props.instanceTypes?.[0] ?? props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.SMALL),
      requireImdsv2: true,
      httpPutResponseHopLimit: props.httpPutResponseHopLimit ?? 1,
      // The boot contract reads its group's name from the instance tag aws:autoscaling:groupName through IMDS.
      instanceMetadataTags: true,
      role: this.role,
      securityGroup,
      userData,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: props.rootVolumeDeviceName ?? '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs((props.rootVolumeSize ?? Size.gibibytes(20)).toGibibytes(), {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Resource', {
      vpc: props.vpc,
      vpcSubnets: subnetSelection,
      ...fleetLaunchSource(launchTemplate, props),
      minCapacity,
      maxCapacity,
      desiredCapacity: props.desiredCapacity,
      healthChecks:
        healthCheck === FleetHealthCheck.ELB
          ? autoscaling.HealthChecks.withAdditionalChecks({
              additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
              gracePeriod: grace,
            })
          : autoscaling.HealthChecks.ec2({ gracePeriod: grace }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        minInstancesInService: minInService,
        maxBatchSize,
        pauseTime: Duration.minutes(10),
        suspendProcesses: [
          autoscaling.ScalingProcess.HEALTH_CHECK,
          autoscaling.ScalingProcess.REPLACE_UNHEALTHY,
          autoscaling.ScalingProcess.AZ_REBALANCE,
          autoscaling.ScalingProcess.ALARM_NOTIFICATION,
          autoscaling.ScalingProcess.SCHEDULED_ACTIONS,
        ],
      }),
      groupMetrics: [
        new autoscaling.GroupMetrics(
          autoscaling.GroupMetric.MIN_SIZE,
          autoscaling.GroupMetric.MAX_SIZE,
          autoscaling.GroupMetric.DESIRED_CAPACITY,
          autoscaling.GroupMetric.IN_SERVICE_INSTANCES,
          autoscaling.GroupMetric.PENDING_INSTANCES,
          autoscaling.GroupMetric.TERMINATING_INSTANCES,
          autoscaling.GroupMetric.TOTAL_INSTANCES,
        ),
      ],
      notifications: props.notificationTopic ? [{ topic: props.notificationTopic }] : undefined,
      capacityRebalance: props.spot ? (props.capacityRebalance ?? true) : undefined,
    });
    // Auto Scaling publishes as its service-linked role: the topic's key must let that role use it.
    if (props.notificationTopic) allowTopicPublisher(this, props.notificationTopic, TopicPublisher.AUTO_SCALING_NOTIFICATIONS, 'notificationTopic');
    this.installBootContract();
    this.connections = this.autoScalingGroup.connections;
    this.grantPrincipal = this.role;
    if (props.instanceTypes || props.spot) {
      acknowledgeNag(
        this.autoScalingGroup.node.defaultChild ?? this.autoScalingGroup,
        'AwsSolutions-EC26',
        'The root volume is encrypted in the launch template (encrypted: true); cdk-nag cannot follow the launch template reference of a mixed instances policy and reports an error instead.',
      );
    }

    if (props.listener) {
      this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
        vpc: props.vpc,
        port: props.targetPort ?? 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.INSTANCE,
        deregistrationDelay: props.deregistrationDelay ?? Duration.seconds(30),
        healthCheck: {
          path: props.healthCheckPath ?? '/',
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 3,
          interval: Duration.seconds(15),
        },
        targets: [this.autoScalingGroup],
      });
      props.listener.addTargetGroups('Fleet', { targetGroups: [this.targetGroup] });
    }

    if (props.codeDeploy) {
      this.codeDeployApplication = new codedeploy.ServerApplication(this, 'Application');
      this.deploymentGroup = new codedeploy.ServerDeploymentGroup(this, 'DeploymentGroup', {
        application: this.codeDeployApplication,
        autoScalingGroups: [this.autoScalingGroup],
        deploymentConfig: props.deploymentConfig ?? codedeploy.ServerDeploymentConfig.ONE_AT_A_TIME,
        installAgent: false, // this construct installs and starts the agent itself, after user data
        autoRollback: { failedDeployment: true, stoppedDeployment: true },
        loadBalancers: this.targetGroup ? [codedeploy.LoadBalancer.application(this.targetGroup)] : undefined,
      });
      // The agent downloads itself and revisions' tooling from the regional CodeDeploy bucket.
      const agentBucketObjects = `arn:${Stack.of(this).partition}:s3:::aws-codedeploy-${region}/*`;
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [agentBucketObjects] }));
      acknowledgeNag(
        this.role.node.tryFindChild('DefaultPolicy') ?? this.role,
        'AwsSolutions-IAM5',
        'Read-only access to the AWS-owned regional CodeDeploy bucket, from which the agent installer and its packages are downloaded.',
        `Resource::${nagRender(Stack.of(this), agentBucketObjects)}`,
      );
      acknowledgeNag(
        this.deploymentGroup.role!,
        'AwsSolutions-IAM4',
        'AWSCodeDeployRole is the AWS-maintained service role policy for EC2/on-premises deployment groups (aws-cdk-lib default).',
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRole',
      );
      if (healthCheck === FleetHealthCheck.ELB) {
        Annotations.of(this).addWarningV2(
          'resilient-fleet:codeDeployWithElbHealthCheck',
          'MultiAzFleet: codeDeploy is on and healthCheck is ELB. A new deployment group has no successful revision, ' +
            'so a new instance serves nothing and fails the load balancer check; the group terminates it and launches another, ' +
            'forever ("no healthy revision" loop). Use healthCheck: FleetHealthCheck.EC2 until a first revision has deployed, ' +
            'or acknowledge this warning if a revision is already deployed.',
        );
      }
    }

    const timeZone = props.timeZone ?? 'UTC';
    for (const entry of props.schedule ?? []) {
      this.autoScalingGroup.scaleOnSchedule(entry.name, {
        schedule: entry.schedule,
        timeZone,
        minCapacity: entry.minCapacity,
        maxCapacity: entry.maxCapacity,
        desiredCapacity: entry.desiredCapacity,
      });
    }
  }

  /**
   * Adds shell commands to user data: they run as the boot contract's `user-data` step (bash strict mode: the first
   * failing command fails the boot, and the instance is replaced), after the steps of this library's constructs and,
   * with `codeDeploy`, before the CodeDeploy agent starts, so a deployment never races them. The contract's helpers
   * `retry`, `retry_aws`, `s3_get` and `dnf_install` retry downloads, AWS calls and package installs.
   */
  public addUserData(...commands: string[]): void {
    this.userCommands.push(...commands);
  }

  /**
   * Adds a named step to the boot contract (constructs that install programs on the instances use this): before the
   * `user-data` step, or after it with `afterUserData` (a service that needs what user data installs). With
   * `needsNodeRuntime` the supported Node runtime is installed and checked first (step `node-runtime`).
   */
  public addBootStep(step: FleetBootStep, options: BootStepOptions = {}): void {
    if (options.needsNodeRuntime) this.needsNodeRuntime = true;
    (options.afterUserData ? this.lateBootSteps : this.bootSteps).push(step);
  }

  /**
   * Makes the group wait for something its instances need at boot, typically an IAM policy of their role that is not
   * the role's default policy (which the group already waits for): a first instance launched before the policy exists
   * is denied. The dependency must not name the group (that would be a cycle: scope such statements by the group's
   * tag `FLEET_GROUP_TAG_KEY` = `groupTagValue` instead).
   */
  public addBootDependency(...dependencies: IDependable[]): void {
    for (const d of dependencies) this.autoScalingGroup.node.addDependency(d);
  }

  /**
   * Guards this fleet against launch loops (with its CodeDeploy deployment group, if any): detects them within a
   * few launches, stops launches and notifies with the evidence. Returns the guard (id `LaunchLoopGuard`).
   */
  public guardLaunchLoops(options: LaunchLoopGuardOptions = {}): LaunchLoopGuard {
    return new LaunchLoopGuard(this, 'LaunchLoopGuard', { ...options, autoScalingGroup: this.autoScalingGroup, deploymentGroup: this.deploymentGroup });
  }

  /** Instances in service (needs the group metrics this construct enables). */
  public metricInServiceInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupInServiceInstances', props);
  }

  /** Instances launching (Pending). A long stretch above zero is how a launch loop looks from outside. */
  public metricPendingInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupPendingInstances', props);
  }

  /** Instances terminating. */
  public metricTerminatingInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupTerminatingInstances', props);
  }

  private groupMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.autoScalingGroup.autoScalingGroupName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
      ...props,
    });
  }

  private renderUserData(codeDeploy: boolean, region: string): string {
    const steps: BootStep[] = [];
    if (codeDeploy) steps.push(agentHoldStep());
    if (this.needsNodeRuntime) steps.push(nodeRuntimeStep());
    steps.push(...this.bootSteps);
    if (this.userCommands.length > 0) steps.push({ name: 'user-data', commands: this.userCommands });
    steps.push(...this.lateBootSteps);
    if (codeDeploy) steps.push(agentStartStep(region));
    return renderBootScript({ steps, lifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME, region, description: `MultiAzFleet ${this.node.path}` });
  }

  /**
   * The launch lifecycle hook inside the group's own definition (so the group's first instances are held too:
   * aws-cdk#7712), and the instances' permission to complete it for their own group only (by the group's tag: naming
   * the group in the role's policy would make the group wait for a policy that waits for the group).
   */
  private installBootContract(): void {
    const cfnGroup = this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    cfnGroup.lifecycleHookSpecificationList = [bootLifecycleHookSpecification()];
    Tags.of(this.autoScalingGroup).add(FLEET_GROUP_TAG_KEY, this.groupTagValue, { applyToLaunchedInstances: false });
    const stack = Stack.of(this);
    const groups = `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/*`;
    const policy = new iam.Policy(this, 'BootPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'CompleteOwnGroupsLaunch',
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: [groups],
          conditions: { StringEquals: { [`aws:ResourceTag/${FLEET_GROUP_TAG_KEY}`]: this.groupTagValue } },
        }),
      ],
    });
    policy.attachToRole(this.role);
    this.addBootDependency(policy);
    this.addBootDependency(bootLifecycleStatePolicy(this, 'BootPolicyLifecycleState', this.role, groups, this.groupTagValue));
    // The role's own default policy (grants added with addToPrincipalPolicy) is the role's child: waiting for the role
    // waits for it too, whenever it is created.
    if (this.role instanceof iam.Role) this.addBootDependency(this.role);
    acknowledgeNag(
      policy,
      'AwsSolutions-IAM5',
      'An Auto Scaling group ARN holds a random id and the group cannot be named here without a dependency cycle; the aws:ResourceTag condition limits CompleteLifecycleAction to this fleet\'s own group.',
      `Resource::${nagRender(stack, groups)}`,
    );
  }

  private validate(
    props: MultiAzFleetProps,
    v: {
      minCapacity: number;
      maxCapacity: number;
      healthCheck: FleetHealthCheck;
      minInService: number;
      maxBatchSize: number;
      grace: Duration;
      selectedAzs: string[];
    },
  ): void {
    const check = new PropsValidator('MultiAzFleet', this);
    const azs = v.selectedAzs.filter((az) => !Token.isUnresolved(az));
    check.check(
      azs.length === v.selectedAzs.length && azs.length < 2,
      'vpcSubnets',
      azs,
      'subnets in at least 2 Availability Zones (3 recommended)',
      'select subnets in more Availability Zones, or give the VPC maxAzs: 3 (a stack needs an env and cdk.context.json for 3 AZs)',
    );
    check.capacityRange(props, v.minCapacity, v.maxCapacity);
    check.integerInRange('desiredCapacity', props.desiredCapacity, 0, 10_000);
    check.integerInRange('httpPutResponseHopLimit', props.httpPutResponseHopLimit, 1, 64);
    check.integerInRange('maxBatchSize', props.maxBatchSize, 1, 10_000);
    check.integerInRange('minInstancesInService', props.minInstancesInService, 0, 10_000);
    if (props.desiredCapacity !== undefined) {
      check.check(
        props.desiredCapacity < v.minCapacity || props.desiredCapacity > v.maxCapacity,
        'desiredCapacity',
        props.desiredCapacity,
        `between minCapacity (${v.minCapacity}) and maxCapacity (${v.maxCapacity})`,
        'set desiredCapacity within the range, or leave it unset',
      );
    }
    check.check(
      props.minInstancesInService !== undefined && v.minInService >= v.maxCapacity,
      'minInstancesInService',
      props.minInstancesInService,
      `less than maxCapacity (${v.maxCapacity}), so a rolling replacement can take one instance out`,
      'lower minInstancesInService or raise maxCapacity',
    );
    check.check(
      v.healthCheck === FleetHealthCheck.ELB && !props.listener,
      'healthCheck',
      v.healthCheck,
      'ELB only together with listener',
      'set listener, or use FleetHealthCheck.EC2',
    );
    const graceS = v.grace.toSeconds();
    check.check(
      !Token.isUnresolved(graceS) && (graceS < 0 || graceS > 7200),
      'healthCheckGracePeriod',
      `${graceS} seconds`,
      '0 to 7200 seconds',
      'give the instance enough time for user data and a first deployment, for example Duration.minutes(5)',
    );
    for (const [prop, set] of [
      ['targetPort', props.targetPort !== undefined],
      ['healthCheckPath', props.healthCheckPath !== undefined],
      ['deregistrationDelay', props.deregistrationDelay !== undefined],
    ] as const) {
      check.check(set && !props.listener, prop, prop === 'deregistrationDelay' ? props.deregistrationDelay?.toHumanString() : props[prop], 'only together with listener', `set listener, or remove ${prop}`);
    }
    check.integerInRange('targetPort', props.targetPort, 1, 65535);
    if (props.healthCheckPath !== undefined && !Token.isUnresolved(props.healthCheckPath)) {
      check.check(!props.healthCheckPath.startsWith('/'), 'healthCheckPath', props.healthCheckPath, 'a path starting with "/"', `use "/${props.healthCheckPath}"`);
    }
    if (props.deregistrationDelay) {
      const s = props.deregistrationDelay.toSeconds();
      check.check(
        !Token.isUnresolved(s) && (s < 0 || s > MAX_DEREGISTRATION_DELAY_S),
        'deregistrationDelay',
        `${s} seconds`,
        `0 to ${MAX_DEREGISTRATION_DELAY_S} seconds`,
        'choose a drain time at least as long as your longest request',
      );
    }
    check.check(
      props.deploymentConfig !== undefined && !props.codeDeploy,
      'deploymentConfig',
      'a deployment config',
      'only together with codeDeploy: true',
      'set codeDeploy: true, or remove deploymentConfig',
    );
    check.check(props.timeZone !== undefined && !props.schedule?.length, 'timeZone', props.timeZone, 'only together with schedule', 'add a schedule, or remove timeZone');
    if (props.timeZone !== undefined && !Token.isUnresolved(props.timeZone)) {
      check.check(!isIanaTimeZone(props.timeZone), 'timeZone', props.timeZone, 'an IANA time zone such as "Europe/Dublin" or "UTC"', 'use a name from the IANA time zone database');
    }
    const names = new Set<string>();
    (props.schedule ?? []).forEach((entry, i) => {
      const at = `schedule[${i}]`;
      if (entry === undefined || entry === null) {
        check.check(true, at, entry, 'a scheduled capacity { name, schedule, minCapacity / maxCapacity / desiredCapacity }', `remove the empty entry or fill it in`);
        return;
      }
      check.check(!/^[A-Za-z][A-Za-z0-9-]*$/.test(entry.name), `${at}.name`, entry.name, 'letters, digits and "-", starting with a letter', 'give each scheduled action a short stable name such as "NightlyStop"');
      check.check(names.has(entry.name), `${at}.name`, entry.name, 'a name used once', 'give each scheduled action its own name');
      names.add(entry.name);
      check.check(
        entry.minCapacity === undefined && entry.maxCapacity === undefined && entry.desiredCapacity === undefined,
        at,
        entry.name,
        'at least one of minCapacity, maxCapacity, desiredCapacity',
        'say what capacity the group should have from that time on',
      );
      check.integerInRange(`${at}.minCapacity`, entry.minCapacity, 0, 10_000);
      check.integerInRange(`${at}.maxCapacity`, entry.maxCapacity, 0, 10_000);
      check.integerInRange(`${at}.desiredCapacity`, entry.desiredCapacity, 0, 10_000);
      check.scheduledCapacity(at, entry, v.minCapacity, v.maxCapacity);
      check.autoScalingSchedule(`${at}.schedule`, entry.schedule);
    });
    if (props.rootVolumeSize) {
      const gib = props.rootVolumeSize.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
      check.check(!Token.isUnresolved(gib) && (gib < 8 || gib > 16384), 'rootVolumeSize', `${gib} GiB`, '8 to 16384 GiB', 'choose a root volume of at least 8 GiB');
    }
    validateCapacitySources(check, props);
    check.throwIfAny();
  }
}

/** Most instance types a mixed instances policy may list. */
const MAX_INSTANCE_TYPES = 40;

/**
 * The group's launch source: the launch template alone, or (with `instanceTypes` or `spot`) a mixed instances
 * policy over it, so capacity comes from several types (and Spot pools) in every AZ.
 */
function fleetLaunchSource(
  launchTemplate: ec2.LaunchTemplate,
  props: MultiAzFleetProps,
): Pick<autoscaling.AutoScalingGroupProps, 'launchTemplate' | 'mixedInstancesPolicy'> {
  if (!props.instanceTypes && !props.spot) return { launchTemplate };
  const types = props.instanceTypes ?? [props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.SMALL)];
  return {
    mixedInstancesPolicy: {
      launchTemplate,
      launchTemplateOverrides: types.map((instanceType) => ({ instanceType })),
      instancesDistribution: {
        onDemandAllocationStrategy: autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
        onDemandBaseCapacity: props.spot ? (props.onDemandBaseCapacity ?? 0) : 0,
        onDemandPercentageAboveBaseCapacity: props.spot ? 0 : 100,
        spotAllocationStrategy: props.spot ? autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED : undefined,
      },
    },
  };
}

function validateCapacitySources(check: PropsValidator, props: MultiAzFleetProps): void {
  check.check(
    props.instanceType !== undefined && props.instanceTypes !== undefined,
    'instanceType',
    props.instanceType?.toString(),
    'either instanceType or instanceTypes, not both',
    'move the type into instanceTypes (first = most preferred), or remove instanceTypes',
  );
  if (props.instanceTypes !== undefined) {
    const names = props.instanceTypes.map((t) => t.toString());
    check.check(
      names.length === 0 || names.length > MAX_INSTANCE_TYPES,
      'instanceTypes',
      names,
      `1 to ${MAX_INSTANCE_TYPES} instance types`,
      'list the types the AMI runs on, most preferred first, or remove instanceTypes',
    );
    const dupes = names.filter((n, i) => names.indexOf(n) !== i);
    check.check(dupes.length > 0, 'instanceTypes', names, 'each instance type once', `remove the repeated ${[...new Set(dupes)].join(', ')}`);
    const arches = [...new Set(props.instanceTypes.map((t) => t.architecture))];
    check.check(
      arches.length > 1,
      'instanceTypes',
      names,
      'types of one CPU architecture (one AMI runs on all of them)',
      `keep only ${arches[0]} types, or only ${arches.slice(1).join('/')} types`,
    );
  }
  check.check(props.onDemandBaseCapacity !== undefined && !props.spot, 'onDemandBaseCapacity', props.onDemandBaseCapacity, 'only together with spot: true', 'set spot: true, or remove onDemandBaseCapacity');
  check.integerInRange('onDemandBaseCapacity', props.onDemandBaseCapacity, 0, 10_000);
  check.check(props.capacityRebalance !== undefined && !props.spot, 'capacityRebalance', props.capacityRebalance, 'only together with spot: true', 'set spot: true, or remove capacityRebalance');
}

function isIanaTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
