import {
  Annotations,
  Duration,
  Stack,
  Token,
  aws_autoscaling as autoscaling,
  aws_events as events,
  aws_cloudwatch as cloudwatch,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_route53 as route53,
  aws_sns as sns,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DeadLetters } from '../private/dead-letters';
import { HookFunction } from '../private/hook-function';
import { acknowledgeNag, nagRender } from '../private/nag';
import { PropsValidator, requireProps } from '../private/validation';
import { isRecordName } from './names';

/** Which address of each instance goes into the record. */
export enum RegisteredAddress {
  /** The private IPv4 address: names resolved inside the VPC (private zone). */
  PRIVATE_IP = 'private',
  /** The public IPv4 address: instances in public subnets with a public IP. */
  PUBLIC_IP = 'public',
}

/** Props of `DnsRegistrar`. */
export interface DnsRegistrarProps {
  /** The group whose in-service instances the record lists. */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;

  /**
   * The zone that holds the record, for example `addresses.referencesIn(this, 'Addresses').privateZone`.
   * Its `zoneName` must be known at synth time (it scopes the IAM policy to the record's name).
   */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The record's name, relative to the zone ('www-cluster3') or fully qualified in it ('www-cluster3.example.com').
   * The registrar owns this name: it creates, rewrites and deletes its A record. Do not also define it in a stack.
   */
  readonly recordName: string;

  /** Time to live of the record. Keep it low: a removed instance stays in caches this long. @default Duration.seconds(60) */
  readonly ttl?: Duration;

  /**
   * One value only (a single host, for example a 'db-master' name), instead of every in-service instance (round robin).
   * The name stays on its current host while that host serves, and moves to another only when it leaves.
   * @default false
   */
  readonly singleHost?: boolean;

  /** Which address of each instance is registered. @default RegisteredAddress.PRIVATE_IP */
  readonly address?: RegisteredAddress;

  /**
   * Register an instance from a launch lifecycle hook (Pending:Wait), before the group counts it InService, and then
   * let the launch continue. Leave it false when instances need time after boot (user data, a CodeDeploy revision)
   * before they can serve: then they are registered when the launch has succeeded.
   * @default false
   */
  readonly registerBeforeInService?: boolean;

  /**
   * How long a leaving instance is kept (Terminating:Wait, after it left the name) so that clients' cached answers
   * expire before it stops. Zero lets it go as soon as the record is changed. At most 2 hours.
   * @default - the record's TTL
   */
  readonly drainTime?: Duration;

  /**
   * How often the whole record is compared with the group and repaired (missed events, manual edits).
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;

  /**
   * Where the alarm on the hook's dead-letter queue notifies (an event that failed after every retry). A topic of this
   * app encrypted with a key of this app gets a key policy statement for CloudWatch; otherwise a warning says what to add.
   * @default - no action on the alarm (it is still created)
   */
  readonly alarmTopic?: sns.ITopic;
}

const DEFAULT_TTL = Duration.seconds(60);
const MIN_HEARTBEAT_S = 30;
const MAX_HEARTBEAT_S = 7200;

/**
 * Keeps a Route 53 A record equal to the in-service instances of an Auto Scaling group: round robin over every
 * instance (www-cluster3) or one value for a single host. An instance is added when it enters service, removed by a
 * termination lifecycle hook before it stops, and a periodic sweep repairs any drift. The hook function retries
 * Route 53 throttling and PriorRequestNotComplete, treats EC2 as eventually consistent, and changes nothing twice.
 *
 * Changes are atomic compare-and-swap batches (DELETE the record as read, CREATE the new one), so concurrent invocations
 * never overwrite a newer record with an older view of the group. Its IAM policy may change only this record (type A,
 * CREATE and DELETE) in this zone.
 */
export class DnsRegistrar extends Construct {
  /** The Lambda function of the hook that keeps the record current. */
  public readonly function: lambda.IFunction;
  private readonly hook: HookFunction;
  /** The termination lifecycle hook. */
  public readonly terminateHook: autoscaling.LifecycleHook;
  /** The launch lifecycle hook, with `registerBeforeInService`. */
  public readonly launchHook?: autoscaling.LifecycleHook;
  /** The record's fully qualified name (lower case, no trailing dot). */
  public readonly recordFqdn: string;
  /** Lifecycle, launch, terminate and sweep events the hook could not handle after every retry (replay them from here). */
  public readonly deadLetterQueue: sqs.Queue;
  /** In ALARM while the dead-letter queue holds a message. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DnsRegistrarProps) {
    super(scope, id);
    requireProps(this, 'DnsRegistrar', props, { autoScalingGroup: 'an autoscaling.IAutoScalingGroup, for example fleet.autoScalingGroup of a MultiAzFleet', hostedZone: 'a route53.IHostedZone, for example the public or private zone of an AddressStack', recordName: 'the record name in the zone, for example "app-cluster3"' });
    const ttl = props.ttl ?? DEFAULT_TTL;
    const drain = props.drainTime ?? ttl;
    const sweep = props.sweepInterval ?? Duration.minutes(5);
    this.validate(props, ttl, drain, sweep);

    const zoneName = props.hostedZone.zoneName.replace(/\.$/, '').toLowerCase();
    const name = props.recordName.replace(/\.$/, '').toLowerCase();
    this.recordFqdn = name === zoneName || name.endsWith(`.${zoneName}`) ? name : `${name}.${zoneName}`;

    const drainS = drain.toSeconds();
    const group = props.autoScalingGroup;

    this.terminateHook = new autoscaling.LifecycleHook(this, 'TerminateHook', {
      autoScalingGroup: group,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      defaultResult: autoscaling.DefaultResult.CONTINUE,
      // With a drain time the hook's own timeout ends the wait (no function sleeps through it); without one the
      // function completes the action at once and the timeout is only the fallback if it fails.
      heartbeatTimeout: Duration.seconds(drainS > 0 ? Math.max(MIN_HEARTBEAT_S, drainS) : 300),
    });
    if (props.registerBeforeInService) {
      this.launchHook = new autoscaling.LifecycleHook(this, 'LaunchHook', {
        autoScalingGroup: group,
        lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
        // If registration fails the instance still launches; the sweep registers it later.
        defaultResult: autoscaling.DefaultResult.CONTINUE,
        heartbeatTimeout: Duration.minutes(5),
      });
    }

    this.hook = new HookFunction(this, 'Function', {
      hook: 'dns-registrar',
      description: `resilient-fleet DnsRegistrar: keeps ${this.recordFqdn} equal to the group's in-service instances`,
      timeout: Duration.minutes(3),
      environment: {
        GROUP_NAME: group.autoScalingGroupName,
        HOSTED_ZONE_ID: props.hostedZone.hostedZoneId,
        RECORD_NAME: this.recordFqdn,
        RECORD_TTL: String(ttl.toSeconds()),
        SINGLE_HOST: String(props.singleHost ?? false),
        ADDRESS_KIND: props.address ?? RegisteredAddress.PRIVATE_IP,
        REGISTER_BEFORE_IN_SERVICE: String(props.registerBeforeInService ?? false),
        TERMINATE_HOOK_NAME: this.terminateHook.lifecycleHookName,
        ...(this.launchHook ? { LAUNCH_HOOK_NAME: this.launchHook.lifecycleHookName } : {}),
        DRAIN_SECONDS: String(drainS),
      },
    });
    this.function = this.hook.function;
    this.grantPermissions(props.hostedZone, group);

    const deadLetters = DeadLetters.create(this, 'DeadLetters', { what: `the DnsRegistrar hook of ${this.recordFqdn}`, alarmTopic: props.alarmTopic });
    this.deadLetterQueue = deadLetters.queue;
    this.deadLetterAlarm = deadLetters.alarm;
    const target = deadLetters.lambdaTarget(this.hook.function, { retryAttempts: 8, maxEventAge: Duration.hours(2) });
    const hookNames = [this.terminateHook.lifecycleHookName, ...(this.launchHook ? [this.launchHook.lifecycleHookName] : [])];
    new events.Rule(this, 'LifecycleActions', {
      description: `DnsRegistrar ${this.recordFqdn}: this registrar's lifecycle hooks`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [group.autoScalingGroupName], LifecycleHookName: hookNames },
      },
      targets: [target],
    });
    new events.Rule(this, 'LaunchAndTerminate', {
      description: `DnsRegistrar ${this.recordFqdn}: instances that entered service or terminated`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance Launch Successful', 'EC2 Instance Terminate Successful'],
        detail: { AutoScalingGroupName: [group.autoScalingGroupName] },
      },
      targets: [target],
    });
    new events.Rule(this, 'Sweep', {
      description: `DnsRegistrar ${this.recordFqdn}: periodic repair of the record`,
      schedule: events.Schedule.rate(sweep),
      targets: [target],
    });
  }

  private grantPermissions(zone: route53.IHostedZone, group: autoscaling.IAutoScalingGroup): void {
    const stack = Stack.of(this);
    const role = this.hook.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ChangeOnlyThisRecord',
        actions: ['route53:ChangeResourceRecordSets'],
        resources: [zone.hostedZoneArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [this.recordFqdn],
            'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
            // DELETE-as-read + CREATE in one batch is the registrar's compare-and-swap; it never needs UPSERT.
            'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
          },
        },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadTheRecord', actions: ['route53:ListResourceRecordSets'], resources: [zone.hostedZoneArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CompleteOwnLifecycleActions',
        actions: ['autoscaling:CompleteLifecycleAction'],
        // arn:...:autoScalingGroup:*:autoScalingGroupName/<name>: this group by name (its UUID is not known).
        resources: [group.autoScalingGroupArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeGroupAndInstances',
        actions: ['autoscaling:DescribeAutoScalingGroups', 'ec2:DescribeInstances'],
        resources: ['*'],
      }),
    );
    const policy = role.node.tryFindChild('DefaultPolicy') ?? role;
    const ack = (reason: string, resource: string) => acknowledgeNag(policy, 'AwsSolutions-IAM5', reason, `Resource::${nagRender(stack, resource)}`);
    ack('autoscaling:DescribeAutoScalingGroups and ec2:DescribeInstances support no resource-level permissions; both are read-only.', '*');
    ack(
      'The Auto Scaling group ARN has "*" in place of its generated id (how IAM names a group by name); the statement allows only CompleteLifecycleAction on this one group.',
      group.autoScalingGroupArn,
    );
    ack('The hook writes only to its own log group and its streams (HookFunction).', `${this.hook.logGroup.logGroupArn}:*`);
  }

  private validate(props: DnsRegistrarProps, ttl: Duration, drain: Duration, sweep: Duration): void {
    const check = new PropsValidator('DnsRegistrar', this);
    if (!Token.isUnresolved(props.recordName)) {
      check.check(
        !isRecordName(props.recordName) || props.recordName.startsWith('*'),
        'recordName',
        props.recordName,
        'a DNS name relative to the zone (for example "www-cluster3") or inside it, no wildcard',
        'use letters, digits and "-" in dot-separated labels of at most 63 characters',
      );
    }
    check.check(
      Token.isUnresolved(props.hostedZone.zoneName),
      'hostedZone',
      'a zone whose zoneName is a token',
      'a zone with a zoneName known at synth time (it scopes the IAM policy to the record)',
      'import the zone with HostedZone.fromHostedZoneAttributes({ hostedZoneId, zoneName }) or use AddressStack.referencesIn',
    );
    if (!Token.isUnresolved(props.hostedZone.zoneName) && !Token.isUnresolved(props.recordName) && props.recordName.endsWith('.')) {
      const zone = props.hostedZone.zoneName.replace(/\.$/, '').toLowerCase();
      const name = props.recordName.replace(/\.$/, '').toLowerCase();
      check.check(name !== zone && !name.endsWith(`.${zone}`), 'recordName', props.recordName, `a name inside ${zone}`, 'drop the trailing dot to make the name relative to the zone');
    }
    const ttlS = ttl.toSeconds();
    if (!Token.isUnresolved(ttlS)) {
      check.check(ttlS < 0 || ttlS > 172_800 || !Number.isInteger(ttlS), 'ttl', `${ttlS} seconds`, '0 to 172800 whole seconds', 'use a low TTL such as Duration.seconds(60)');
      if (ttlS > 300) {
        Annotations.of(this).addWarningV2(
          'resilient-fleet:registrarTtlHigh',
          `DnsRegistrar: ttl is ${ttlS} seconds; clients keep a terminated instance's address that long. Use 300 seconds or less, or acknowledge this warning.`,
        );
      }
    }
    const drainS = drain.toSeconds();
    if (!Token.isUnresolved(drainS)) {
      check.check(drainS < 0 || drainS > MAX_HEARTBEAT_S || !Number.isInteger(drainS), 'drainTime', `${drainS} seconds`, `0 to ${MAX_HEARTBEAT_S} whole seconds (the lifecycle hook's limit)`, 'use the record TTL, or Duration.seconds(0) to let instances go at once');
      if (!Token.isUnresolved(ttlS) && drainS > 0 && drainS < ttlS) {
        Annotations.of(this).addWarningV2(
          'resilient-fleet:registrarDrainShorterThanTtl',
          `DnsRegistrar: drainTime (${drainS} s) is shorter than ttl (${ttlS} s): clients may still connect to an instance that has stopped.`,
        );
      }
    }
    const sweepS = sweep.toSeconds();
    if (!Token.isUnresolved(sweepS)) {
      check.check(
        sweepS < 60 || sweepS > 86_400 || sweepS % 60 !== 0,
        'sweepInterval',
        `${sweepS} seconds`,
        'whole minutes from 1 minute to 1 day (an EventBridge rate)',
        'use for example Duration.minutes(5)',
      );
    }
    check.check(
      props.registerBeforeInService === true && props.singleHost === true,
      'registerBeforeInService',
      true,
      'false together with singleHost (a single-host name should only move to an instance that is in service)',
      'remove registerBeforeInService, or singleHost',
    );
    check.throwIfAny();
  }
}

