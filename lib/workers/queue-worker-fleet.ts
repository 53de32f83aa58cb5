import {
  Annotations,
  CfnElement,
  Duration,
  Size,
  Stack,
  Token,
  aws_autoscaling as autoscaling,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cloudwatchActions,
  aws_ec2 as ec2,
  aws_events as events,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_s3_assets as s3assets,
  aws_sns as sns,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';
import { MultiAzFleet } from '../fleet/multi-az-fleet';
import { bundleDir } from '../private/assets';
import { DeadLetters } from '../private/dead-letters';
import { HookFunction } from '../private/hook-function';
import { FLEET_GROUP_TAG_KEY } from '../private/boot-contract';
import { acknowledgeNag, nagRender } from '../private/nag';
import { PropsValidator, requireProps } from '../private/validation';
import {
  MAX_LIFECYCLE_WAIT_S,
  MAX_VISIBILITY_TIMEOUT_S,
  backlogPerWorkerTarget,
  heartbeatIntervalS,
  lifecycleHeartbeatTimeoutS,
  scaleFromZeroSteps,
} from './worker-scaling';
import {
  JOB_GUARD_BIN,
  JOB_GUARD_DIR,
  WORKER_ENV_FILE,
  WORKER_LOOP_BIN,
  WORKER_STATE_DIR,
  WORKER_UNIT,
  WORKER_USER,
  renderJobGuardWrapper,
  renderWorkerLoop,
  renderWorkerUnit,
} from './worker-service-config';

/** Name of the terminate lifecycle hook (fixed, so user data can name it without a dependency cycle). */
export const JOB_DRAIN_HOOK_NAME = 'resilient-fleet-job-drain';

/** Options for {@link QueueWorkerFleet.metricBacklogPerWorker}. */
export interface BacklogMetricOptions {
  /**
   * The period over which both the queue's visible messages and the in-service workers are averaged.
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
}

/** Props of `QueueWorkerFleet`. */
export interface QueueWorkerFleetProps {
  /** The VPC to launch workers into. Its chosen subnets must span at least two Availability Zones (three recommended). */
  readonly vpc: ec2.IVpc;

  /** Where to launch workers; every AZ of the selected subnets is used. @default - the private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /** The workers' AMI (x86_64 for the default instance types; Amazon Linux 2023 or any image with `dnf`, the AWS CLI and unzip). */
  readonly machineImage: ec2.IMachineImage;

  /**
   * Instance types to launch from, most preferred first. Several types across every AZ mean one type's
   * "insufficient capacity" in one AZ does not stop scaling. All of one CPU architecture (the AMI's).
   * @default - m7i.large, m6i.large, m6a.large, m5.large
   */
  readonly instanceTypes?: ec2.InstanceType[];

  /**
   * Run workers on Spot above `onDemandBaseCapacity`, with capacity rebalancing. A Spot interruption ends a running
   * job after a two-minute notice (the terminate hook cannot hold it): the message returns to the queue after its
   * visibility timeout and is retried, so jobs must be safe to retry.
   * @default false
   */
  readonly spot?: boolean;

  /** Workers that are always On-Demand before Spot is used. Needs `spot`. @default 0 */
  readonly onDemandBaseCapacity?: number;

  /**
   * The queue of jobs. The workers' role may receive, delete and change the visibility of its messages.
   * Conflicts with `maxReceiveCount` (configure your own queue's redrive policy).
   * @default - a new queue encrypted with SQS-managed keys (SSE-SQS), TLS enforced, with a dead-letter queue,
   *            visibility timeout = `jobTimeout` (at most 12 hours)
   */
  readonly queue?: sqs.IQueue;

  /**
   * Receives before a message moves to the dead-letter queue (a job that keeps failing). Only for the new queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /** Fewest workers. 0 lets the fleet scale to zero when the queue stays empty. @default 0 */
  readonly minCapacity?: number;

  /** Most workers. @default 10 */
  readonly maxCapacity?: number;

  /**
   * The longest a new message should wait before a worker takes it, once workers are running. With
   * `averageJobDuration` and `jobsPerWorker` it sets the target backlog per worker
   * (acceptableLatency / averageJobDuration x jobsPerWorker, at least 1). Must be at least `averageJobDuration`.
   * From zero workers, add the boot time of a worker (a few minutes).
   * @default Duration.minutes(5)
   */
  readonly acceptableLatency?: Duration;

  /** The time one job takes on average. @default Duration.minutes(1) */
  readonly averageJobDuration?: Duration;

  /** Jobs one worker runs at the same time (for example one per vCPU, each under its own job-guard). @default 1 */
  readonly jobsPerWorker?: number;

  /**
   * The longest a job may run. A worker told to terminate (scale-in never picks a busy one, but health
   * replacement, instance refresh, rebalancing and rolling updates can) waits up to this long for its running job;
   * the new queue's visibility timeout is this long too (at most 12 hours; longer jobs must extend their message's
   * visibility). 1 minute to 48 hours.
   * @default Duration.hours(1)
   */
  readonly jobTimeout?: Duration;

  /**
   * How long the queue must stay empty (nothing visible and nothing in flight) before the fleet scales to zero.
   * Whole minutes, 1 minute to 24 hours. Needs `minCapacity` 0.
   * @default Duration.minutes(15)
   */
  readonly scaleToZeroAfter?: Duration;

  /**
   * Time from launch until a worker takes jobs (boot, user data); new workers do not count towards the backlog
   * metric before that.
   * @default Duration.minutes(5)
   */
  readonly instanceWarmup?: Duration;

  /** Size of the encrypted gp3 root volume. @default Size.gibibytes(20) */
  readonly rootVolumeSize?: Size;

  /** Security group of the workers (no inbound rule is added). @default - a new one, all outbound allowed */
  readonly securityGroup?: ec2.ISecurityGroup;

  /** Role of the workers. @default - a new role */
  readonly role?: iam.IRole;

  /** SNS topic told of every launch, termination and failure of the group. @default - no notifications */
  readonly notificationTopic?: sns.ITopic;

  /**
   * The job: a command line (a program and its arguments) that job-guard runs for each message, with the body on
   * stdin; exit 0 deletes the message. The fleet then runs the worker loop as a systemd service (one job at a time,
   * started after user data, so `addUserData` can install the program) as the unprivileged system user
   * `queue-worker`, sandboxed (NoNewPrivileges, ProtectSystem=strict, ProtectHome, PrivateTmp, no capabilities); the
   * job may write only under /var/lib/queue-worker.
   * @default - no worker service: run job-guard from your own service (see `addUserData`)
   */
  readonly jobCommand?: string;

  /**
   * The instance metadata hop limit: 1 keeps the role's credentials on the instance itself; 2 only when jobs run in
   * containers that must reach IMDSv2. 1 to 64.
   * @default 1
   */
  readonly httpPutResponseHopLimit?: number;
}

const DEFAULT_TYPES = ['m7i.large', 'm6i.large', 'm6a.large', 'm5.large'];

/**
 * Workers for an SQS queue, scaled on the backlog per worker, from zero and back, never terminated mid-job.
 *
 * - The group is the source of truth for how many workers exist: scaling policies change its desired capacity;
 *   nothing counts instances with DescribeInstances (eventually consistent: launches missing, terminations still
 *   "running"), which is how a stateless scaler over-launched and once terminated every worker.
 * - Target tracking on metric math `visible / inService` (AWS's backlog-per-instance recipe) with the target from
 *   `acceptableLatency / averageJobDuration`. At zero workers in service the expression returns the target itself,
 *   so target tracking holds still and:
 * - scale from zero: a step policy sets an exact capacity (about one worker per target backlog) when messages wait
 *   and no worker is in service; exact capacity is idempotent while the first workers boot;
 * - scale to zero: a step policy sets capacity 0 when nothing is visible or in flight for `scaleToZeroAfter`.
 * - `job-guard --queue-url <url> -- <command>` on the worker receives a message, then protects the worker from scale-in
 *   while the job for it runs; a terminate lifecycle hook
 *   holds any other termination until the job ends (job-guard records heartbeats and completes the action) or
 *   `jobTimeout` passes; the worker-drain Lambda lets idle workers go at once.
 * - Capacity from several instance types (optionally Spot with capacity rebalancing) in every AZ.
 */
export class QueueWorkerFleet extends Construct {
  /** The underlying fleet. */
  public readonly fleet: MultiAzFleet;
  /** The group of workers. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The job queue. */
  public readonly queue: sqs.IQueue;
  /** The dead-letter queue, when this construct created the queue. */
  public readonly deadLetterQueue?: sqs.Queue;
  /** Messages each in-service worker may have waiting (the target tracking value). */
  public readonly backlogPerWorkerTarget: number;
  /** The workers' role. */
  public readonly role: iam.IRole;
  /** Security groups of the workers. */
  public readonly connections: ec2.Connections;
  /** The Lambda that lets idle workers terminate at once. */
  public readonly drainFunction: lambda.IFunction;
  /** Terminate lifecycle events the drain hook could not handle after every retry (replay them from here). */
  public readonly drainDeadLetterQueue: sqs.Queue;
  /** In ALARM while the drain hook's dead-letter queue holds a message; notifies `notificationTopic` when given. */
  public readonly drainDeadLetterAlarm: cloudwatch.Alarm;
  /** The terminate lifecycle hook that holds a busy worker's termination. */
  public readonly lifecycleHook: autoscaling.LifecycleHook;
  /** Alarm: messages wait and no worker is in service (drives scale-from-zero). */
  public readonly scaleFromZeroAlarm: cloudwatch.Alarm;
  /** Alarm: the queue stayed empty (drives scale-to-zero), when `minCapacity` is 0. */
  public readonly scaleToZeroAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: QueueWorkerFleetProps) {
    super(scope, id);
    requireProps(this, 'QueueWorkerFleet', props, { vpc: 'an ec2.IVpc, for example new ec2.Vpc(this, \'Vpc\', { maxAzs: 3 }) or ec2.Vpc.fromLookup(this, \'Vpc\', { vpcId })', machineImage: 'an ec2.IMachineImage, for example ec2.MachineImage.latestAmazonLinux2023() or the AMI your image pipeline built' });
    const minCapacity = props.minCapacity ?? 0;
    const maxCapacity = props.maxCapacity ?? 10;
    const latency = props.acceptableLatency ?? Duration.minutes(5);
    const jobDuration = props.averageJobDuration ?? Duration.minutes(1);
    const jobsPerWorker = props.jobsPerWorker ?? 1;
    const jobTimeout = props.jobTimeout ?? Duration.hours(1);
    const toZeroAfter = props.scaleToZeroAfter ?? Duration.minutes(15);
    const warmup = props.instanceWarmup ?? Duration.minutes(5);
    this.validate(props, { minCapacity, maxCapacity, latency, jobDuration, jobsPerWorker, jobTimeout, toZeroAfter, warmup });

    const latencyS = seconds(latency);
    const jobDurationS = seconds(jobDuration);
    const jobTimeoutS = seconds(jobTimeout);
    this.backlogPerWorkerTarget = backlogPerWorkerTarget(latencyS, jobDurationS, jobsPerWorker);

    // The queue: the user's, or a new encrypted one with a dead-letter queue.
    if (props.queue) {
      this.queue = props.queue;
    } else {
      this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      acknowledgeNag(this.deadLetterQueue, 'AwsSolutions-SQS3', 'This is the dead-letter queue of the job queue.');
      this.queue = new sqs.Queue(this, 'Queue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        visibilityTimeout: Duration.seconds(Math.min(jobTimeoutS, MAX_VISIBILITY_TIMEOUT_S)),
        deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
      });
      if (jobTimeoutS > MAX_VISIBILITY_TIMEOUT_S) {
        Annotations.of(this).addWarningV2(
          'resilient-fleet:jobTimeoutOverVisibilityLimit',
          `QueueWorkerFleet: jobTimeout is ${jobTimeout.toHumanString()}, but an SQS visibility timeout is at most 12 hours. ` +
            'A job running longer must extend its message\'s visibility (ChangeMessageVisibility), or another worker receives it again.',
        );
      }
    }

    this.fleet = new MultiAzFleet(this, 'Fleet', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      machineImage: props.machineImage,
      instanceTypes: props.instanceTypes ?? DEFAULT_TYPES.map((t) => new ec2.InstanceType(t)),
      spot: props.spot,
      onDemandBaseCapacity: props.onDemandBaseCapacity,
      minCapacity,
      maxCapacity,
      rootVolumeSize: props.rootVolumeSize,
      securityGroup: props.securityGroup,
      role: props.role,
      notificationTopic: props.notificationTopic,
      httpPutResponseHopLimit: props.httpPutResponseHopLimit,
    });
    this.autoScalingGroup = this.fleet.autoScalingGroup;
    this.role = this.fleet.role;
    this.connections = this.fleet.connections;
    this.queue.grantConsumeMessages(this.role);

    const asg = this.autoScalingGroup;
    const stack = Stack.of(this);
    // The group's ARN holds a random id; IAM matches it by name.
    const groupArn = `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/${asg.autoScalingGroupName}`;

    // Terminate lifecycle hook: a terminating worker waits for its running job (see worker-scaling.ts for the timeout).
    const heartbeatTimeoutS = lifecycleHeartbeatTimeoutS(jobTimeoutS);
    this.lifecycleHook = asg.addLifecycleHook('JobDrain', {
      lifecycleHookName: JOB_DRAIN_HOOK_NAME,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: Duration.seconds(heartbeatTimeoutS),
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });

    this.installJobGuard({ heartbeatTimeoutS, jobTimeoutS, jobCommand: props.jobCommand });
    const drain = this.addDrainHook(groupArn, props.notificationTopic);
    this.drainFunction = drain.function;
    this.drainDeadLetterQueue = drain.deadLetters.queue;
    this.drainDeadLetterAlarm = drain.deadLetters.alarm;

    // Scaling: target tracking on backlog per in-service worker, explicit from-zero and to-zero step policies.
    const target = this.backlogPerWorkerTarget;
    const period = Duration.minutes(1);
    const visible = this.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM });
    const inService = this.fleet.metricInServiceInstances({ period });

    new autoscaling.CfnScalingPolicy(this, 'BacklogPerWorker', {
      autoScalingGroupName: asg.autoScalingGroupName,
      policyType: 'TargetTrackingScaling',
      estimatedInstanceWarmup: warmup.toSeconds(),
      targetTrackingConfiguration: {
        targetValue: target,
        customizedMetricSpecification: {
          metrics: [
            metricQuery('visible', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', this.queue.queueName, 'Average'),
            metricQuery('inservice', 'AWS/AutoScaling', 'GroupInServiceInstances', 'AutoScalingGroupName', asg.autoScalingGroupName, 'Average'),
            {
              id: 'backlogperworker',
              expression: backlogExpression(target),
              label: 'Messages waiting per in-service worker',
              returnData: true,
            },
          ],
        },
      },
    });

    const fromZero = new autoscaling.StepScalingAction(this, 'ScaleFromZero', {
      autoScalingGroup: asg,
      adjustmentType: autoscaling.AdjustmentType.EXACT_CAPACITY,
      metricAggregationType: autoscaling.MetricAggregationType.MAXIMUM,
      estimatedInstanceWarmup: warmup,
    });
    for (const step of scaleFromZeroSteps(target, maxCapacity)) {
      fromZero.addAdjustment({ adjustment: Math.max(step.capacity, minCapacity), lowerBound: step.lowerBound, upperBound: step.upperBound });
    }
    this.scaleFromZeroAlarm = new cloudwatch.Alarm(this, 'MessagesWaitingWithNoWorker', {
      alarmDescription: 'Messages wait and no worker is in service: set an exact capacity (about one worker per target backlog).',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(inservice == 0, visible, 0)',
        usingMetrics: { visible, inservice: inService },
        period,
        label: 'Messages waiting while no worker is in service',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      // No data (an idle queue's metrics pause) is not a reason to launch.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.scaleFromZeroAlarm.addAlarmAction(new cloudwatchActions.AutoScalingAction(fromZero));

    if (minCapacity === 0) {
      const toZero = new autoscaling.StepScalingAction(this, 'ScaleToZero', {
        autoScalingGroup: asg,
        adjustmentType: autoscaling.AdjustmentType.EXACT_CAPACITY,
        metricAggregationType: autoscaling.MetricAggregationType.MAXIMUM,
      });
      toZero.addAdjustment({ adjustment: 0, upperBound: 0 });
      this.scaleToZeroAlarm = new cloudwatch.Alarm(this, 'QueueEmpty', {
        alarmDescription: `Nothing visible or in flight for ${toZeroAfter.toHumanString()}: scale the workers to zero (busy workers are protected).`,
        metric: new cloudwatch.MathExpression({
          expression: 'visible + inflight',
          usingMetrics: {
            visible,
            inflight: this.queue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
          },
          period,
          label: 'Messages visible or in flight',
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: toZeroAfter.toMinutes(),
        datapointsToAlarm: toZeroAfter.toMinutes(),
        // SQS stops publishing metrics for a queue that stays idle: no data means empty.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
      this.scaleToZeroAlarm.addAlarmAction(new cloudwatchActions.AutoScalingAction(toZero));
    }
  }

  /**
   * Adds shell commands to the workers' user data (the boot contract's `user-data` step, in strict mode), after
   * job-guard is installed and before the worker service of `jobCommand` starts: typically the install of the job's
   * program. Without `jobCommand`, run job-guard from your own service:
   * `job-guard --queue-url "$QUEUE_URL" -- <job>` (the queue URL is in /etc/queue-worker.env).
   */
  public addUserData(...commands: string[]): void {
    this.fleet.addUserData(...commands);
  }

  /** Backlog per in-service worker, as scaling sees it (the target value at zero workers). */
  public metricBacklogPerWorker(props?: BacklogMetricOptions): cloudwatch.MathExpression {
    const period = props?.period ?? Duration.minutes(1);
    return new cloudwatch.MathExpression({
      expression: backlogExpression(this.backlogPerWorkerTarget),
      usingMetrics: {
        visible: this.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.AVERAGE }),
        inservice: this.fleet.metricInServiceInstances({ period, statistic: cloudwatch.Stats.AVERAGE }),
      },
      period,
      label: 'Messages waiting per in-service worker',
    });
  }

  private installJobGuard(v: { heartbeatTimeoutS: number; jobTimeoutS: number; jobCommand?: string }): void {
    const bundle = new s3assets.Asset(this, 'JobGuardBundle', { path: bundleDir('instance', 'job-guard') });
    const stack = Stack.of(this);
    // Scoped by the group's tag, not its name: the group waits for this policy (job-guard calls Auto Scaling as soon as
    // the worker service starts at boot), so the policy cannot name the group.
    const groups = `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/*`;
    const policy = new iam.Policy(this, 'JobGuardPolicy', {
      statements: [
        // The instance may change only the protection and lifecycle actions of instances in its own group. IAM cannot
        // say "its own instance": SetInstanceProtection has no condition key for the target instance, so a worker
        // could change its peers' protection in the same group (never another group's).
        new iam.PolicyStatement({
          actions: ['autoscaling:SetInstanceProtection', 'autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
          resources: [groups],
          conditions: { StringEquals: { [`aws:ResourceTag/${FLEET_GROUP_TAG_KEY}`]: this.fleet.groupTagValue } },
        }),
        new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }),
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bundle.bucket.arnForObjects(bundle.s3ObjectKey)] }),
      ],
    });
    policy.attachToRole(this.fleet.role);
    this.fleet.addBootDependency(policy);
    acknowledgeNag(policy, 'AwsSolutions-IAM5', 'DescribeAutoScalingInstances supports no resource-level permissions (read-only).', 'Resource::*');
    acknowledgeNag(
      policy,
      'AwsSolutions-IAM5',
      'An Auto Scaling group ARN holds a random id and the group cannot be named here without a dependency cycle; the aws:ResourceTag condition limits the statement to this fleet\'s own group.',
      `Resource::${nagRender(stack, groups)}`,
    );

    const config = JSON.stringify({
      lifecycleHookName: JOB_DRAIN_HOOK_NAME,
      heartbeatIntervalSeconds: heartbeatIntervalS(v.heartbeatTimeoutS),
      maxTerminationWaitSeconds: Math.min(v.jobTimeoutS, MAX_LIFECYCLE_WAIT_S),
    });
    this.fleet.addBootStep(
      {
        name: 'job-guard',
        commands: [
          '# job-guard: protects this worker from scale-in while a job runs',
          'dnf_install unzip',
          `install -d -m 755 ${JOB_GUARD_DIR}`,
          `s3_get 's3://${bundle.s3BucketName}/${bundle.s3ObjectKey}' ${JOB_GUARD_DIR}/job-guard.zip`,
          `unzip -o -q ${JOB_GUARD_DIR}/job-guard.zip -d ${JOB_GUARD_DIR}`,
          heredoc(JOB_GUARD_BIN, renderJobGuardWrapper()),
          `chmod 755 ${JOB_GUARD_BIN}`,
          heredoc('/etc/job-guard.json', `${config}\n`),
          heredoc(WORKER_ENV_FILE, `QUEUE_URL=${this.queue.queueUrl}\n`),
          `${JOB_GUARD_BIN} --help > /dev/null`,
        ],
      },
      { needsNodeRuntime: true },
    );
    if (v.jobCommand === undefined) return;
    // After user data, which installs the job's program; the service is the last thing the boot starts.
    this.fleet.addBootStep(
      {
        name: 'queue-worker',
        commands: [
          `getent group ${WORKER_USER} > /dev/null || groupadd --system ${WORKER_USER}`,
          `id -u ${WORKER_USER} > /dev/null 2>&1 || useradd --system --gid ${WORKER_USER} --home-dir ${WORKER_STATE_DIR} --no-create-home --shell /sbin/nologin ${WORKER_USER}`,
          heredoc(WORKER_LOOP_BIN, renderWorkerLoop(v.jobCommand)),
          `chmod 755 ${WORKER_LOOP_BIN}`,
          heredoc(`/etc/systemd/system/${WORKER_UNIT}`, renderWorkerUnit()),
          'systemctl daemon-reload',
          `systemctl enable --now ${WORKER_UNIT}`,
          `systemctl is-active ${WORKER_UNIT}`,
        ],
      },
      { afterUserData: true },
    );
  }

  private addDrainHook(groupArn: string, alarmTopic?: sns.ITopic): { function: lambda.IFunction; deadLetters: DeadLetters } {
    const hook = new HookFunction(this, 'Drain', {
      hook: 'worker-drain',
      description: 'Lets idle queue workers terminate at once; busy ones finish their job first (job-guard)',
      timeout: Duration.minutes(1),
    });
    hook.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['autoscaling:CompleteLifecycleAction'], resources: [groupArn] }));
    hook.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }));
    const hookPolicy = hook.role.node.tryFindChild('DefaultPolicy') ?? hook.role;
    this.acknowledgeGroupWildcards(hookPolicy, groupArn);
    acknowledgeNag(
      hookPolicy,
      'AwsSolutions-IAM5',
      'Log streams of the function\'s own log group (created by Lambda at run time).',
      `Resource::<${Stack.of(this).getLogicalId(hook.logGroup.node.defaultChild as CfnElement)}.Arn>:*`,
    );
    const deadLetters = DeadLetters.create(this, 'DrainDeadLetters', { what: `the drain hook of ${this.node.path}`, alarmTopic, alarmTopicProp: 'notificationTopic' });
    new events.Rule(this, 'DrainRule', {
      description: 'Terminate lifecycle actions of this worker fleet',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [this.autoScalingGroup.autoScalingGroupName], LifecycleHookName: [JOB_DRAIN_HOOK_NAME] },
      },
      targets: [deadLetters.lambdaTarget(hook.function, { retryAttempts: 8, maxEventAge: Duration.hours(1) })],
    });
    return { function: hook.function, deadLetters };
  }

  /** The two wildcards every policy here carries, each acknowledged as the finding cdk-nag prints. */
  private acknowledgeGroupWildcards(policy: IConstruct, groupArn: string): void {
    acknowledgeNag(policy, 'AwsSolutions-IAM5', 'DescribeAutoScalingInstances supports no resource-level permissions (read-only).', 'Resource::*');
    const stack = Stack.of(this);
    const asgId = stack.getLogicalId(this.autoScalingGroup.node.defaultChild as CfnElement);
    const rendered = groupArn
      .replace(stack.partition, nagToken(stack.partition, '<AWS::Partition>'))
      .replace(stack.region, nagToken(stack.region, '<AWS::Region>'))
      .replace(stack.account, nagToken(stack.account, '<AWS::AccountId>'))
      .replace(this.autoScalingGroup.autoScalingGroupName, `<${asgId}>`);
    acknowledgeNag(
      policy,
      'AwsSolutions-IAM5',
      'The wildcard stands for the random id inside Auto Scaling group ARNs; the group name pins the statement to this fleet\'s group.',
      `Resource::${rendered}`,
    );
  }

  private validate(
    props: QueueWorkerFleetProps,
    v: {
      minCapacity: number;
      maxCapacity: number;
      latency: Duration;
      jobDuration: Duration;
      jobsPerWorker: number;
      jobTimeout: Duration;
      toZeroAfter: Duration;
      warmup: Duration;
    },
  ): void {
    const check = new PropsValidator('QueueWorkerFleet', this);
    if (props.jobCommand !== undefined && !Token.isUnresolved(props.jobCommand)) {
      check.check(
        props.jobCommand.trim() === '' || /[\n\r]/.test(props.jobCommand),
        'jobCommand',
        props.jobCommand,
        'one command line: a program and its arguments, on one line',
        'give the path of the job program, for example "/opt/app/process-one-job"',
      );
    }
    check.capacityRange(props, v.minCapacity, v.maxCapacity);
    check.integerInRange('jobsPerWorker', props.jobsPerWorker, 1, 1000);
    check.check(
      props.maxReceiveCount !== undefined && props.queue !== undefined,
      'maxReceiveCount',
      props.maxReceiveCount,
      'only without queue (it configures the new queue\'s dead-letter queue)',
      'set the redrive policy on your own queue, or remove maxReceiveCount',
    );
    check.integerInRange('maxReceiveCount', props.maxReceiveCount, 1, 1000);
    const s = seconds;
    const known = (...ds: Duration[]) => ds.every((d) => !Token.isUnresolved(d.toMilliseconds({ integral: false })));
    if (known(v.jobDuration)) {
      check.check(s(v.jobDuration) < 1, 'averageJobDuration', v.jobDuration.toHumanString(), 'at least 1 second', 'give the average time one job takes');
    }
    if (known(v.latency, v.jobDuration)) {
      check.check(
        s(v.latency) < s(v.jobDuration),
        'acceptableLatency',
        v.latency.toHumanString(),
        `at least averageJobDuration (${v.jobDuration.toHumanString()}): a message waits at least one job`,
        'raise acceptableLatency, or lower averageJobDuration',
      );
    }
    if (known(v.jobTimeout)) {
      check.check(
        s(v.jobTimeout) < 60 || s(v.jobTimeout) > MAX_LIFECYCLE_WAIT_S || !Number.isInteger(s(v.jobTimeout)),
        'jobTimeout',
        human(v.jobTimeout),
        'whole seconds from 1 minute to 48 hours (the longest an Auto Scaling lifecycle hook can wait)',
        'set the longest time one job may run',
      );
    }
    if (known(v.jobTimeout, v.jobDuration)) {
      check.check(
        s(v.jobTimeout) < s(v.jobDuration),
        'jobTimeout',
        v.jobTimeout.toHumanString(),
        `at least averageJobDuration (${v.jobDuration.toHumanString()})`,
        'raise jobTimeout to the longest a job may run',
      );
    }
    if (props.scaleToZeroAfter !== undefined) {
      check.check(
        v.minCapacity > 0,
        'scaleToZeroAfter',
        props.scaleToZeroAfter.toHumanString(),
        'only with minCapacity 0',
        'set minCapacity: 0, or remove scaleToZeroAfter',
      );
      if (known(props.scaleToZeroAfter)) {
        const sec = s(props.scaleToZeroAfter);
        check.check(
          sec % 60 !== 0 || sec < 60 || sec > 24 * 3600,
          'scaleToZeroAfter',
          props.scaleToZeroAfter.toHumanString(),
          'whole minutes from 1 minute to 24 hours',
          'use Duration.minutes(n)',
        );
      }
    }
    if (known(v.warmup)) {
      check.check(
        s(v.warmup) > 3600 || !Number.isInteger(s(v.warmup)),
        'instanceWarmup',
        human(v.warmup),
        'whole seconds from 0 to 1 hour',
        'give the time from launch until a worker takes jobs',
      );
    }
    check.throwIfAny();
  }
}

/** How cdk-nag prints a value in a finding id: literal when known at synth time, else the pseudo parameter. */
function nagToken(value: string, pseudo: string): string {
  return Token.isUnresolved(value) ? pseudo : value;
}

/** A duration in (possibly fractional) seconds; `toSeconds()` throws on sub-second values. */
function seconds(d: Duration): number {
  return d.toMilliseconds({ integral: false }) / 1000;
}

/** A duration as people read it, exact for fractional seconds (toHumanString rounds them away). */
function human(d: Duration): string {
  const sec = seconds(d);
  return Number.isInteger(sec) ? d.toHumanString() : `${sec} seconds`;
}

/** Backlog per in-service worker; the target itself at zero workers (undefined there: hold still, the step policy acts). */
function backlogExpression(target: number): string {
  return `IF(inservice > 0, visible / inservice, ${target})`;
}

function metricQuery(id: string, namespace: string, metricName: string, dimension: string, value: string, stat: string): autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty {
  return {
    id,
    metricStat: { metric: { namespace, metricName, dimensions: [{ name: dimension, value }] }, stat },
    returnData: false,
  };
}

/** A bash here-document that writes `text` (which ends with a newline) to `file`, unexpanded. */
function heredoc(file: string, text: string): string {
  return `cat > ${file} <<'RESILIENT_FLEET_EOF'\n${text}RESILIENT_FLEET_EOF`;
}
