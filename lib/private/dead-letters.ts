import {
  Duration,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_events_targets as targets,
  aws_lambda as lambda,
  aws_lambda_destinations as destinations,
  aws_sns as sns,
  aws_sqs as sqs,
  aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeNag } from './nag';
import { TopicPublisher, allowTopicPublisher } from './topic-key';

/** How long a dead letter is kept: SQS's maximum, so a long weekend does not lose one. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

export interface DeadLettersProps {
  /** What lands here, for the queue's alarm description ("leader events of <group>"). */
  readonly what: string;
  /** Where the alarm on the queue's depth notifies. @default - no action (the alarm is still created) */
  readonly alarmTopic?: sns.ITopic;
  /** The prop that `alarmTopic` came from, for the warning when its key cannot be checked. @default 'alarmTopic' */
  readonly alarmTopicProp?: string;
}

export interface TargetOptions {
  /** Delivery retries by EventBridge (and, for a function, the asynchronous retries by Lambda). */
  readonly retryAttempts: number;
  /** How long an undelivered event is retried before it becomes a dead letter. */
  readonly maxEventAge: Duration;
}

/**
 * The one dead-letter queue of an event-driven hook: SQS-managed encryption, SSL only, 14 days of retention, and an
 * alarm as soon as one message is visible. A hook's events reach it two ways, and both are wired here: EventBridge
 * could not deliver (a target dead-letter queue) or the function failed after Lambda's asynchronous retries (an
 * on-failure destination). Nothing is lost without a trace; replay by reading the message and invoking again.
 */
export class DeadLetters {
  /** Creates the queue `id` and its alarm `<id>Alarm` in `scope`. */
  public static create(scope: Construct, id: string, props: DeadLettersProps): DeadLetters {
    return new DeadLetters(scope, id, props);
  }

  public readonly queue: sqs.Queue;
  /** In ALARM while any dead letter waits (ApproximateNumberOfMessagesVisible > 0). */
  public readonly alarm: cloudwatch.Alarm;
  private readonly protectedFunctions = new Set<lambda.IFunction>();

  private constructor(scope: Construct, id: string, props: DeadLettersProps) {
    this.queue = new sqs.Queue(scope, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    acknowledgeNag(this.queue, 'AwsSolutions-SQS3', `This queue is itself the dead-letter queue of ${props.what}.`);
    this.alarm = new cloudwatch.Alarm(scope, `${id}Alarm`, {
      alarmDescription:
        `Dead letters of ${props.what}: an event failed after every retry. Read it from the queue, fix the cause, ` +
        'then replay it (invoke the function with the message body) and delete the message.',
      metric: this.queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      allowTopicPublisher(scope, props.alarmTopic, TopicPublisher.CLOUDWATCH_ALARMS, props.alarmTopicProp ?? 'alarmTopic');
      this.alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
    }
  }

  /**
   * An EventBridge target for `fn`: undeliverable events come here, and so do events the function failed on after
   * Lambda's own asynchronous retries (set once per function, with the same retries and age).
   */
  public lambdaTarget(fn: lambda.Function, options: TargetOptions): targets.LambdaFunction {
    this.catchFailuresOf(fn, options);
    return new targets.LambdaFunction(fn, { deadLetterQueue: this.queue, retryAttempts: options.retryAttempts, maxEventAge: options.maxEventAge });
  }

  /** An EventBridge target that starts `machine`; events it could not start an execution for come here. */
  public stateMachineTarget(machine: sfn.IStateMachine, options: TargetOptions): targets.SfnStateMachine {
    return new targets.SfnStateMachine(machine, { deadLetterQueue: this.queue, retryAttempts: options.retryAttempts, maxEventAge: options.maxEventAge });
  }

  /** Sends the function's failed asynchronous invocations here (once per function). */
  public catchFailuresOf(fn: lambda.Function, options: TargetOptions): void {
    if (this.protectedFunctions.has(fn)) return;
    this.protectedFunctions.add(fn);
    fn.configureAsyncInvoke({
      retryAttempts: Math.min(options.retryAttempts, 2),
      maxEventAge: options.maxEventAge,
      onFailure: new destinations.SqsDestination(this.queue),
    });
  }
}
