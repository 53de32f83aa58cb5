/**
 * The launch-loop hook's AWS calls: small functions over SDK v3 clients that are created once per container
 * and injectable for tests. EC2 and Auto Scaling calls treat NotFound and throttling as retryable, with
 * backoff, jitter and a deadline (lambda/shared/retry.ts); the SDK's own retry already handles throttling
 * inside each call, this bounds whole operations in time.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, GetDeploymentCommand, GetDeploymentTargetCommand } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { errorName, isNotFound, isTransient } from '../shared/errors';
import { retry } from '../shared/retry';
import type { BreakerOutcome, Evidence, FailedLifecycleEvent, GroupState } from './logic';
import { emptyState, lastLines } from './logic';

export interface Clients {
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
  readonly codedeploy: CodeDeployClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
}

/** Retry timing, injectable so tests run without waiting. */
export interface Timing {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Deadline of one AWS operation (describe, suspend, publish). @default 20 s */
  readonly callDeadlineMs?: number;
  /** How long to wait for console output to appear (it appears minutes late; the instance may be gone). @default 45 s */
  readonly consoleDeadlineMs?: number;
}

let cached: Clients | undefined;

/** The clients of this container, created on first use. */
export function defaultClients(): Clients {
  cached ??= {
    ec2: new EC2Client({}),
    autoscaling: new AutoScalingClient({}),
    codedeploy: new CodeDeployClient({}),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    cloudwatch: new CloudWatchClient({}),
    sns: new SNSClient({}),
  };
  return cached;
}

export interface StoredState {
  readonly state: GroupState;
  /** Version read, for the conditional write; 0 when the group has no item yet. */
  readonly version: number;
}

/** True for Auto Scaling's answer about a group that no longer exists. */
export function isGroupGone(err: unknown): boolean {
  const message = (err as { message?: unknown } | undefined)?.message;
  return errorName(err) === 'ValidationError' && typeof message === 'string' && /not found|does not exist/i.test(message);
}

export function createIo(clients: Clients, timing: Timing = {}) {
  const base = { sleep: timing.sleep, now: timing.now, random: timing.random };
  // CodeDeploy's "does not exist" and SNS's NotFound are final (the deployment, target or topic is gone), not a consistency delay.
  const notGone = (e: unknown) => isTransient(e) && !isNotFound(e);
  const call = <T>(fn: () => Promise<T>, retryable: (e: unknown) => boolean = isTransient) =>
    retry(fn, { ...base, retryable, deadlineMs: timing.callDeadlineMs ?? 20_000, baseDelayMs: 200, maxDelayMs: 3_000 });

  return {
    /** Reads the group's state (strongly consistent), or an empty one. */
    async loadState(tableName: string, group: string): Promise<StoredState> {
      const out = await call(() => clients.dynamo.send(new GetCommand({ TableName: tableName, Key: { group }, ConsistentRead: true })));
      if (!out.Item) return { state: emptyState(), version: 0 };
      return { state: JSON.parse(String(out.Item.state)) as GroupState, version: Number(out.Item.version) };
    },

    /**
     * Writes the state if nobody else wrote since `expectedVersion` was read. Returns false on a conflict
     * (a concurrent invocation for the same group): the caller reads again and re-decides.
     */
    async saveState(tableName: string, group: string, state: GroupState, expectedVersion: number, expiresAt: number): Promise<boolean> {
      try {
        await call(() =>
          clients.dynamo.send(
            new PutCommand({
              TableName: tableName,
              Item: { group, version: expectedVersion + 1, state: JSON.stringify(state), expiresAt },
              ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(#g)' : '#v = :expected',
              ExpressionAttributeNames: expectedVersion === 0 ? { '#g': 'group' } : { '#v': 'version' },
              ExpressionAttributeValues: expectedVersion === 0 ? undefined : { ':expected': expectedVersion },
            }),
          ),
        );
        return true;
      } catch (err) {
        if (errorName(err) === 'ConditionalCheckFailedException') return false;
        throw err;
      }
    },

    /** The deployment's status, who created it (`autoscaling` for a launch deployment) and its error. */
    async describeDeployment(deploymentId: string): Promise<NonNullable<Evidence['deployment']>> {
      const out = await call(() => clients.codedeploy.send(new GetDeploymentCommand({ deploymentId })), notGone);
      const info = out.deploymentInfo;
      return {
        id: deploymentId,
        status: info?.status,
        creator: info?.creator,
        errorCode: info?.errorInformation?.code,
        errorMessage: info?.errorInformation?.message,
      };
    },

    /**
     * The lifecycle event that failed on one instance of a deployment, with its diagnostics (error code, script,
     * message and the tail of the script's log): the CodeDeploy deployment log, without logging in to the instance.
     */
    async describeFailedLifecycleEvent(deploymentId: string, instanceId: string): Promise<FailedLifecycleEvent | undefined> {
      try {
        const out = await call(() => clients.codedeploy.send(new GetDeploymentTargetCommand({ deploymentId, targetId: instanceId })), notGone);
        const events = out.deploymentTarget?.instanceTarget?.lifecycleEvents ?? [];
        const failed = events.find((e) => e.status === 'Failed') ?? events.find((e) => e.diagnostics && e.diagnostics.errorCode !== 'Success');
        if (!failed) return undefined;
        return {
          instanceId,
          lifecycleEvent: failed.lifecycleEventName ?? 'unknown',
          errorCode: failed.diagnostics?.errorCode,
          scriptName: failed.diagnostics?.scriptName || undefined,
          message: failed.diagnostics?.message,
          logTail: failed.diagnostics?.logTail || undefined,
        };
      } catch (err) {
        if (/DoesNotExist|NotFound/.test(errorName(err))) return undefined;
        throw err;
      }
    },

    /**
     * One data point per counted short-lived launch, and the in-window count the alarm watches.
     * PutMetricData rather than an embedded-metric-format log line: a few calls per incident, a failure is seen and
     * retried here, and EMF under Lambda's JSON log format loses metrics unless written around console.log.
     */
    async putShortLivedMetric(namespace: string, group: string, counted: number, inWindow: number, at: Date): Promise<void> {
      const Dimensions = [{ Name: 'AutoScalingGroupName', Value: group }];
      await call(() =>
        clients.cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: namespace,
            MetricData: [
              { MetricName: 'ShortLivedLaunches', Dimensions, Value: counted, Unit: 'Count', Timestamp: at },
              { MetricName: 'ShortLivedLaunchesInWindow', Dimensions, Value: inWindow, Unit: 'Count', Timestamp: at },
            ],
          }),
        ),
      );
    },

    /** Suspends the group's Launch process (idempotent). */
    async suspendLaunch(group: string): Promise<BreakerOutcome> {
      try {
        await call(() => clients.autoscaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: group, ScalingProcesses: ['Launch'] })));
        return { mode: 'SUSPEND_LAUNCH', result: 'done' };
      } catch (err) {
        if (isGroupGone(err)) return { mode: 'SUSPEND_LAUNCH', result: 'group-gone' };
        return { mode: 'SUSPEND_LAUNCH', result: 'failed', error: describeError(err) };
      }
    },

    /** Holds desired capacity at the instances in service (lowering the minimum if it must). */
    async holdCapacity(group: string): Promise<BreakerOutcome> {
      try {
        const out = await call(() => clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] })));
        const g = out.AutoScalingGroups?.[0];
        if (!g) return { mode: 'HOLD_CAPACITY', result: 'group-gone' };
        const inService = (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length;
        const previousMin = g.MinSize ?? 0;
        const previousDesired = g.DesiredCapacity ?? 0;
        await call(() =>
          clients.autoscaling.send(
            new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: Math.min(previousMin, inService), DesiredCapacity: inService }),
          ),
        );
        return { mode: 'HOLD_CAPACITY', result: 'done', previousMin, previousDesired, heldAt: inService };
      } catch (err) {
        if (isGroupGone(err)) return { mode: 'HOLD_CAPACITY', result: 'group-gone' };
        return { mode: 'HOLD_CAPACITY', result: 'failed', error: describeError(err) };
      }
    },

    /**
     * The last `lines` lines of an instance's console output. Output appears minutes after boot and a
     * terminated instance may answer NotFound for a while (or for good): both are retried until the deadline.
     */
    async consoleOutput(instanceId: string, lines: number): Promise<NonNullable<Evidence['consoleOutput']>> {
      try {
        const text = await retry(
          async () => {
            const out = await clients.ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
            if (!out.Output) throw Object.assign(new Error('console output not available yet'), { name: 'ConsoleOutputEmpty' });
            return Buffer.from(out.Output, 'base64').toString('utf8');
          },
          {
            ...base,
            retryable: (e) => isTransient(e) || errorName(e) === 'ConsoleOutputEmpty',
            deadlineMs: timing.consoleDeadlineMs ?? 45_000,
            baseDelayMs: 1_000,
            maxDelayMs: 8_000,
          },
        );
        return { instanceId, lines: lastLines(text, lines) };
      } catch (err) {
        const why = errorName(err) === 'ConsoleOutputEmpty' ? 'no output yet' : isNotFound(err) ? 'the instance is gone' : describeError(err);
        return { instanceId, unavailable: why };
      }
    },

    /** The scaling activity that explains the latest short-lived launch (by activity id, else by instance id, else the latest failure). */
    async explainActivity(group: string, instanceId?: string, activityId?: string): Promise<Evidence['activity']> {
      try {
        const out = await call(() => clients.autoscaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: group, MaxRecords: 50 })));
        const acts = out.Activities ?? [];
        const found =
          (activityId && acts.find((a) => a.ActivityId === activityId)) ||
          (instanceId && acts.find((a) => a.Description?.includes(instanceId) && a.StatusCode !== 'Successful')) ||
          (instanceId && acts.find((a) => a.Description?.includes(instanceId))) ||
          acts.find((a) => a.StatusCode === 'Failed' || a.StatusCode === 'Cancelled') ||
          acts[0];
        if (!found) return undefined;
        return { cause: found.Cause, statusCode: found.StatusCode, statusMessage: found.StatusMessage, description: found.Description };
      } catch (err) {
        if (isGroupGone(err)) return undefined;
        return { cause: `could not be read: ${describeError(err)}` };
      }
    },

    async publish(topicArn: string, subject: string, message: string): Promise<void> {
      // A topic that does not exist (SNS NotFound) will not appear by waiting: not retried.
      await call(() => clients.sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message })), notGone);
    },
  };
}

export type Io = ReturnType<typeof createIo>;

function describeError(err: unknown): string {
  const message = (err as { message?: unknown } | undefined)?.message;
  return `${errorName(err)}${typeof message === 'string' && message ? `: ${message}` : ''}`;
}
