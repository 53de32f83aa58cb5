import {
  Annotations,
  ArnFormat,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  aws_autoscaling as autoscaling,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_codedeploy as codedeploy,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_sns as sns,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DeadLetters } from '../private/dead-letters';
import { HookFunction } from '../private/hook-function';
import { TopicPublisher, allowTopicPublisher } from '../private/topic-key';
import { acknowledgeNag, nagRender } from '../private/nag';
import { PropsValidator, requireProps } from '../private/validation';

/** What the guard does to the group when it confirms a launch loop. */
export enum LaunchLoopCircuitBreaker {
  /**
   * Suspend the group's Launch process: no instance starts until someone resumes it (the notification names the
   * command). Instances in service keep serving; scale-in and health checks carry on.
   */
  SUSPEND_LAUNCH = 'SUSPEND_LAUNCH',
  /**
   * Set desired capacity to the instances in service (lowering the minimum if needed), so the group stops
   * replacing what it cannot launch. The notification names the command that restores the old capacity.
   * Scheduled actions and scaling policies may raise it again.
   */
  HOLD_CAPACITY = 'HOLD_CAPACITY',
  /** Only notify: the group keeps launching, and paying, until someone acts. */
  OFF = 'OFF',
}

/** Options of `LaunchLoopGuard` that do not name the group (for `MultiAzFleet.guardLaunchLoops()`). */
export interface LaunchLoopGuardOptions {
  /**
   * Short-lived launches within `window` that confirm a loop. A short-lived launch never served: it failed
   * outright (capacity, a missing AMI, a quota, an abandoned lifecycle action), its launch deployment failed, or
   * a health check terminated it within `shortLivedTime` of launch. Scale-ins and instance refreshes never count.
   * @default 3
   */
  readonly shortLivedLaunches?: number;

  /**
   * The window in which `shortLivedLaunches` must happen. Whole minutes, 1 minute to 24 hours.
   * @default Duration.minutes(30)
   */
  readonly window?: Duration;

  /**
   * A health-check termination this soon after launch counts as a short-lived launch (the instance never
   * served). Longer than the group's health check grace period plus a first deployment. 1 minute to 24 hours.
   * @default Duration.minutes(20)
   */
  readonly shortLivedTime?: Duration;

  /**
   * What to do when a loop is confirmed.
   * @default LaunchLoopCircuitBreaker.SUSPEND_LAUNCH
   */
  readonly circuitBreaker?: LaunchLoopCircuitBreaker;

  /**
   * The SNS topic that the alarm and the evidence notification go to; subscribe pagers and mail to it.
   * If it is encrypted with a customer managed key, that key's policy must let `cloudwatch.amazonaws.com`
   * use it (kms:Decrypt, kms:GenerateDataKey*), or the alarm cannot publish.
   * @default - a new topic encrypted with `encryptionKey`, accepting TLS only
   */
  readonly topic?: sns.ITopic;

  /**
   * The KMS key that encrypts the guard's state table and, when `topic` is not given, its new topic.
   * Keys created by this construct let CloudWatch alarms publish to the topic.
   * @default - a new key with rotation enabled
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Lines of the latest dead instance's console output put in the notification (0: none, and no
   * ec2:GetConsoleOutput permission). 0 to 500.
   * @default 40
   */
  readonly consoleOutputLines?: number;

  /**
   * CloudWatch namespace of the `ShortLivedLaunches` and `ShortLivedLaunchesInWindow` metrics (dimension
   * `AutoScalingGroupName`). Must not start with "AWS/".
   * @default 'ResilientFleet/LaunchLoop'
   */
  readonly metricNamespace?: string;
}

/** Props of `LaunchLoopGuard`. */
export interface LaunchLoopGuardProps extends LaunchLoopGuardOptions {
  /** The group to guard: a `MultiAzFleet`'s `autoScalingGroup`, or any group (also imported by name). */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;

  /**
   * The CodeDeploy deployment group that deploys to the group. Its failed launch deployments count as
   * short-lived launches the moment they fail, and the notification names the deployment's error.
   * @default - no CodeDeploy: launches are judged by Auto Scaling events alone
   */
  readonly deploymentGroup?: codedeploy.IServerDeploymentGroup;
}

const DEFAULT_NAMESPACE = 'ResilientFleet/LaunchLoop';
const AUTOSCALING_DETAIL_TYPES = [
  'EC2 Instance-launch Lifecycle Action',
  'EC2 Instance Launch Successful',
  'EC2 Instance Launch Unsuccessful',
  'EC2 Instance Terminate Successful',
];
const CODEDEPLOY_DETAIL_TYPES = ['CodeDeploy Deployment State-change Notification', 'CodeDeploy Instance State-change Notification'];
/** Events older than this are not delivered (they go to the dead-letter queue); the detector keeps facts longer. */
const MAX_EVENT_AGE = Duration.hours(2);

/**
 * Detects launch loops of an Auto Scaling group within a few launches, stops them, and hands over the evidence.
 *
 * When CodeDeploy cannot deploy to a new instance (or a launch fails outright, or a new instance fails its
 * health check), the group terminates it and launches another, forever. The guard follows the group's launch and
 * terminate events and its deployment group's state changes (EventBridge), counts short-lived launches in
 * DynamoDB (idempotent: retried and out-of-order events never double count), publishes a metric whose alarm
 * notifies an SNS topic, and on the Nth short-lived launch within the window suspends the group's launches and
 * publishes the group, the dead instances, the deployment's error, the console output and the activity's cause.
 */
export class LaunchLoopGuard extends Construct {
  /** The topic people subscribe to (the alarm and the evidence notification). */
  public readonly topic: sns.ITopic;
  /** The alarm on short-lived launches within the window. */
  public readonly alarm: cloudwatch.Alarm;
  /** The per-group detector state (encrypted, with a TTL). */
  public readonly table: dynamodb.Table;
  /** The hook that decides and acts. */
  public readonly function: lambda.IFunction;
  /** Events the hook could not process after every retry. */
  public readonly deadLetterQueue: sqs.Queue;
  /** In ALARM while the dead-letter queue holds a message; notifies `topic`. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** The circuit breaker in force. */
  public readonly circuitBreaker: LaunchLoopCircuitBreaker;

  private readonly namespace: string;
  private readonly groupName: string;

  constructor(scope: Construct, id: string, props: LaunchLoopGuardProps) {
    super(scope, id);
    requireProps(this, 'LaunchLoopGuard', props, { autoScalingGroup: 'an autoscaling.IAutoScalingGroup, for example fleet.autoScalingGroup of a MultiAzFleet (or call fleet.guardLaunchLoops())' });
    const threshold = props.shortLivedLaunches ?? 3;
    const window = props.window ?? Duration.minutes(30);
    const shortLivedTime = props.shortLivedTime ?? Duration.minutes(20);
    const breaker = props.circuitBreaker ?? LaunchLoopCircuitBreaker.SUSPEND_LAUNCH;
    const consoleLines = props.consoleOutputLines ?? 40;
    this.namespace = props.metricNamespace ?? DEFAULT_NAMESPACE;
    this.circuitBreaker = breaker;
    this.validate(props, { window, shortLivedTime });

    const group = props.autoScalingGroup;
    this.groupName = group.autoScalingGroupName;

    const key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'Encrypts the launch-loop guard state and notifications',
      });
    this.topic =
      props.topic ??
      new sns.Topic(this, 'Topic', {
        masterKey: key,
        enforceSSL: true,
        displayName: 'Launch loops',
      });
    // CloudWatch alarms publish to an encrypted topic only if its key lets them (the guard's own key, or the user's).
    allowTopicPublisher(this, this.topic, TopicPublisher.CLOUDWATCH_ALARMS, props.topic ? 'topic' : 'encryptionKey');

    this.table = new dynamodb.Table(this, 'State', {
      partitionKey: { name: 'group', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Detector state is rebuilt from events within one window; nothing long-lived is lost with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const deadLetters = DeadLetters.create(this, 'DeadLetters', {
      what: 'the guard\'s EventBridge targets and of the hook\'s failed invocations',
      alarmTopic: this.topic,
      alarmTopicProp: props.topic ? 'topic' : 'encryptionKey',
    });
    this.deadLetterQueue = deadLetters.queue;
    this.deadLetterAlarm = deadLetters.alarm;

    const hook = new HookFunction(this, 'Hook', {
      hook: 'launch-loop',
      description: 'resilient-fleet LaunchLoopGuard: detects launch loops, stops them and publishes the evidence',
      timeout: Duration.minutes(2),
      environment: {
        TABLE_NAME: this.table.tableName,
        TOPIC_ARN: this.topic.topicArn,
        GROUP_NAME: group.autoScalingGroupName,
        APPLICATION_NAME: props.deploymentGroup?.application.applicationName ?? '',
        DEPLOYMENT_GROUP_NAME: props.deploymentGroup?.deploymentGroupName ?? '',
        THRESHOLD: String(threshold),
        WINDOW_SECONDS: String(window.toSeconds()),
        SHORT_LIVED_SECONDS: String(shortLivedTime.toSeconds()),
        CIRCUIT_BREAKER: breaker,
        METRIC_NAMESPACE: this.namespace,
        CONSOLE_OUTPUT_LINES: String(consoleLines),
      },
    });
    this.function = hook.function;
    this.grantHook(hook.role, props, { breaker, consoleLines, key });
    acknowledgeNag(
      hook.role.node.tryFindChild('DefaultPolicy') ?? hook.role,
      'AwsSolutions-IAM5',
      'LaunchLoopGuard hook: log streams of its own log group only (stream names are chosen by Lambda).',
      `Resource::<${Stack.of(this).getLogicalId(hook.logGroup.node.defaultChild as logs.CfnLogGroup)}.Arn>:*`,
    );

    // Failed deliveries and failed invocations (after Lambda's two asynchronous retries) both land in the queue.
    const target = deadLetters.lambdaTarget(hook.function, { maxEventAge: MAX_EVENT_AGE, retryAttempts: 8 });
    new events.Rule(this, 'AutoScalingEvents', {
      description: `Launch and terminate events of ${group.node.path} for its LaunchLoopGuard`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: AUTOSCALING_DETAIL_TYPES,
        detail: { AutoScalingGroupName: [group.autoScalingGroupName] },
      },
      targets: [target],
    });
    if (props.deploymentGroup) {
      new events.Rule(this, 'CodeDeployEvents', {
        description: `CodeDeploy state changes of ${props.deploymentGroup.node.path} for its LaunchLoopGuard`,
        eventPattern: {
          source: ['aws.codedeploy'],
          detailType: CODEDEPLOY_DETAIL_TYPES,
          detail: {
            application: [props.deploymentGroup.application.applicationName],
            deploymentGroup: [props.deploymentGroup.deploymentGroupName],
            state: ['FAILURE', 'SUCCESS'],
          },
        },
        targets: [target],
      });
    }

    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription:
        `Launch loop: ${threshold} or more launches of the Auto Scaling group never served within ${window.toMinutes()} minutes. ` +
        'The guard\'s notification on the same topic carries the evidence and the resume command.',
      metric: this.metricShortLivedLaunchesInWindow(),
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm.addAlarmAction(new cwActions.SnsAction(this.topic));

    if (breaker === LaunchLoopCircuitBreaker.OFF) {
      Annotations.of(this).addWarningV2(
        'resilient-fleet:launchLoopBreakerOff',
        'LaunchLoopGuard: circuitBreaker is OFF. A confirmed loop is only notified; the group keeps launching (and paying) until someone acts.',
      );
    }
  }

  /** Short-lived launches of the group (Sum per period). */
  public metricShortLivedLaunches(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ShortLivedLaunches', { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /** Short-lived launches within the window, as the hook counts them when one happens (the alarm's metric). */
  public metricShortLivedLaunchesInWindow(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ShortLivedLaunchesInWindow', { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  private metric(metricName: string, props: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.groupName },
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Least privilege: the group by ARN, its instances by tag, the deployment group by ARN, one metric namespace. */
  private grantHook(role: iam.Role, props: LaunchLoopGuardProps, v: { breaker: LaunchLoopCircuitBreaker; consoleLines: number; key: kms.IKey }): void {
    const stack = Stack.of(this);
    const groupName = props.autoScalingGroup.autoScalingGroupName;
    this.table.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem');
    v.key.grant(role, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    this.topic.grantPublish(role);
    // Publishing to a topic encrypted with the user's own key needs that key too.
    if (props.topic?.masterKey) props.topic.masterKey.grant(role, 'kms:Decrypt', 'kms:GenerateDataKey*');

    const instancesArn = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    const groupArn = stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: `*:autoScalingGroupName/${groupName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const groupActions =
      v.breaker === LaunchLoopCircuitBreaker.SUSPEND_LAUNCH
        ? ['autoscaling:SuspendProcesses']
        : v.breaker === LaunchLoopCircuitBreaker.HOLD_CAPACITY
          ? ['autoscaling:UpdateAutoScalingGroup']
          : [];
    if (groupActions.length > 0) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'CircuitBreaker', actions: groupActions, resources: [groupArn] }));
    }
    // Auto Scaling Describe* actions support no resource-level permissions.
    const describe = ['autoscaling:DescribeScalingActivities'];
    if (v.breaker === LaunchLoopCircuitBreaker.HOLD_CAPACITY) describe.push('autoscaling:DescribeAutoScalingGroups');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'DescribeGroup', actions: describe, resources: ['*'] }));
    if (v.consoleLines > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ConsoleOutputOfTheGroupsInstances',
          actions: ['ec2:GetConsoleOutput'],
          resources: [instancesArn],
          conditions: { StringEquals: { 'ec2:ResourceTag/aws:autoscaling:groupName': groupName } },
        }),
      );
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ShortLivedLaunchMetric',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': this.namespace } },
      }),
    );
    if (props.deploymentGroup) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'DeploymentErrors',
          actions: ['codedeploy:GetDeployment', 'codedeploy:GetDeploymentTarget'],
          resources: [props.deploymentGroup.deploymentGroupArn],
        }),
      );
    }

    const policy = role.node.tryFindChild('DefaultPolicy') ?? role;
    const reason = (why: string) => `LaunchLoopGuard hook: ${why}`;
    acknowledgeNag(policy, 'AwsSolutions-IAM5', reason('Auto Scaling Describe* actions support no resource-level permissions (AWS service authorization reference).'), 'Resource::*');
    acknowledgeNag(
      policy,
      'AwsSolutions-IAM5',
      reason('KMS data-key generation on the guard\'s key and the topic\'s key only (the resources are those keys; the wildcard is in the action name).'),
      'Action::kms:GenerateDataKey*',
    );
    if (groupActions.length > 0) {
      acknowledgeNag(
        policy,
        'AwsSolutions-IAM5',
        reason('the group\'s ARN has a generated id segment; the statement is scoped to the group by its name.'),
        `Resource::${nagRender(stack, groupArn)}`,
      );
    }
    if (v.consoleLines > 0) {
      acknowledgeNag(
        policy,
        'AwsSolutions-IAM5',
        reason('console output of instances tagged aws:autoscaling:groupName=<the guarded group> only (tag condition; instance ids are not known in advance).'),
        `Resource::${nagRender(stack, instancesArn)}`,
      );
    }
  }

  private validate(props: LaunchLoopGuardProps, v: { window: Duration; shortLivedTime: Duration }): void {
    const check = new PropsValidator('LaunchLoopGuard', this);
    check.integerInRange(
      'shortLivedLaunches',
      props.shortLivedLaunches,
      2,
      100,
      'set shortLivedLaunches to how many launches that never served make a loop, for example 3',
    );
    const windowS = v.window.toSeconds();
    check.check(
      !Token.isUnresolved(windowS) && (windowS < 60 || windowS > 86_400 || windowS % 60 !== 0),
      'window',
      v.window.toHumanString(),
      'whole minutes from 1 minute to 24 hours',
      'use a window such as Duration.minutes(30): long enough to hold shortLivedLaunches launch cycles',
    );
    const shortS = v.shortLivedTime.toSeconds();
    check.check(
      !Token.isUnresolved(shortS) && (shortS < 60 || shortS > 86_400),
      'shortLivedTime',
      v.shortLivedTime.toHumanString(),
      '1 minute to 24 hours',
      'use the health check grace period plus a first deployment, for example Duration.minutes(20)',
    );
    check.integerInRange('consoleOutputLines', props.consoleOutputLines, 0, 500, 'set consoleOutputLines between 0 (none) and 500');
    if (props.metricNamespace !== undefined && !Token.isUnresolved(props.metricNamespace)) {
      const ns = props.metricNamespace;
      check.check(
        ns.length === 0 || ns.length > 255 || ns.startsWith('AWS/') || ns.includes(':') || !/^[\x20-\x7e]+$/.test(ns),
        'metricNamespace',
        ns,
        'printable ASCII, 1 to 255 characters, no ":", not starting with "AWS/"',
        `use your own namespace, for example "${DEFAULT_NAMESPACE}"`,
      );
    }
    check.throwIfAny();
  }
}
