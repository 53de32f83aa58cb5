/**
 * LaunchLoopGuard hook: receives the group's Auto Scaling launch/terminate events and its deployment group's
 * CodeDeploy state changes (EventBridge), keeps per-group state in DynamoDB, decides with logic.ts, and when a
 * loop is confirmed stops launches (circuit breaker) and publishes the evidence to SNS.
 *
 * index.ts parses and validates the event, calls io (state), logic (decide), io (act). Nothing else.
 */
import { createLogger, type Logger } from '../shared/log';
import { createIo, defaultClients, type Io } from './io';
import {
  applyEvent,
  completeIncident,
  deploymentToExplain,
  latestDeadInstance,
  renderNotification,
  type BreakerOutcome,
  type CircuitBreakerMode,
  type DetectorConfig,
  type Evidence,
  type Fact,
  type GroupState,
  type Incident,
} from './logic';

export interface HandlerConfig {
  readonly tableName: string;
  readonly topicArn: string;
  readonly groupName: string;
  readonly applicationName?: string;
  readonly deploymentGroupName?: string;
  readonly detector: DetectorConfig;
  readonly breaker: CircuitBreakerMode;
  readonly namespace: string;
  readonly consoleLines: number;
  readonly region: string;
  /** Days the state item lives after the last event (DynamoDB TTL). */
  readonly stateTtlDays: number;
}

/** Reads the configuration the construct sets; throws (a deployment bug) when something is missing. */
export function configFromEnv(env: NodeJS.ProcessEnv): HandlerConfig {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`launch-loop hook: environment variable ${name} is not set`);
    return v;
  };
  const num = (name: string): number => {
    const n = Number(need(name));
    if (!Number.isFinite(n)) throw new Error(`launch-loop hook: ${name} is not a number: ${env[name]}`);
    return n;
  };
  const breaker = need('CIRCUIT_BREAKER');
  if (breaker !== 'SUSPEND_LAUNCH' && breaker !== 'HOLD_CAPACITY' && breaker !== 'OFF') {
    throw new Error(`launch-loop hook: CIRCUIT_BREAKER must be SUSPEND_LAUNCH, HOLD_CAPACITY or OFF, got ${breaker}`);
  }
  return {
    tableName: need('TABLE_NAME'),
    topicArn: need('TOPIC_ARN'),
    groupName: need('GROUP_NAME'),
    applicationName: env.APPLICATION_NAME || undefined,
    deploymentGroupName: env.DEPLOYMENT_GROUP_NAME || undefined,
    detector: { threshold: num('THRESHOLD'), windowMs: num('WINDOW_SECONDS') * 1000, shortLivedMs: num('SHORT_LIVED_SECONDS') * 1000 },
    breaker,
    namespace: need('METRIC_NAMESPACE'),
    consoleLines: num('CONSOLE_OUTPUT_LINES'),
    region: env.AWS_REGION ?? 'unknown-region',
    stateTtlDays: 30,
  };
}

/** An EventBridge event as delivered to Lambda. */
export interface BridgeEvent {
  readonly id?: unknown;
  readonly source?: unknown;
  readonly 'detail-type'?: unknown;
  readonly time?: unknown;
  readonly detail?: Record<string, unknown>;
}

export type Parsed = { readonly eventId: string; readonly fact: Fact } | { readonly ignore: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const time = (v: unknown): number | undefined => {
  const s = str(v);
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

/** Turns one EventBridge event into a fact about the guarded group, or says why it is ignored. */
export function parseEvent(event: BridgeEvent, config: HandlerConfig): Parsed {
  const eventId = str(event.id);
  const type = str(event['detail-type']);
  const at = time(event.time);
  const d = event.detail ?? {};
  if (!eventId || !type || at === undefined) return { ignore: 'not an EventBridge event with id, detail-type and a parseable time' };

  if (event.source === 'aws.autoscaling') {
    if (d.AutoScalingGroupName !== config.groupName) return { ignore: `event for group ${String(d.AutoScalingGroupName)}, not ${config.groupName}` };
    const instanceId = str(d.EC2InstanceId);
    switch (type) {
      case 'EC2 Instance-launch Lifecycle Action':
        return instanceId ? { eventId, fact: { kind: 'launching', instanceId, at } } : { ignore: 'lifecycle action without EC2InstanceId' };
      case 'EC2 Instance Launch Successful':
        return instanceId
          ? { eventId, fact: { kind: 'in-service', instanceId, at: time(d.EndTime) ?? at, launchedAt: time(d.StartTime) } }
          : { ignore: 'launch without EC2InstanceId' };
      case 'EC2 Instance Launch Unsuccessful': {
        const activityId = str(d.ActivityId) ?? eventId;
        return {
          eventId,
          fact: { kind: 'launch-failed', instanceId, activityId, at, statusMessage: str(d.StatusMessage) ?? '', cause: str(d.Cause) ?? '' },
        };
      }
      case 'EC2 Instance Terminate Successful':
        return instanceId
          ? { eventId, fact: { kind: 'terminated', instanceId, at, cause: str(d.Cause) ?? '', activityId: str(d.ActivityId) } }
          : { ignore: 'termination without EC2InstanceId' };
      default:
        return { ignore: `detail-type ${type} is not used` };
    }
  }

  if (event.source === 'aws.codedeploy') {
    if (!config.deploymentGroupName) return { ignore: 'no deployment group is guarded' };
    if (d.application !== config.applicationName || d.deploymentGroup !== config.deploymentGroupName) {
      return { ignore: `event for deployment group ${String(d.application)}/${String(d.deploymentGroup)}` };
    }
    const deploymentId = str(d.deploymentId);
    if (!deploymentId) return { ignore: 'CodeDeploy event without deploymentId' };
    const state = str(d.state);
    if (type === 'CodeDeploy Deployment State-change Notification') {
      return state === 'FAILURE' ? { eventId, fact: { kind: 'deployment-failed', deploymentId, at } } : { ignore: `deployment state ${state}` };
    }
    if (type === 'CodeDeploy Instance State-change Notification') {
      const instanceId = str(d.instanceId);
      if (!instanceId) return { ignore: 'instance event without instanceId' };
      if (state === 'FAILURE') return { eventId, fact: { kind: 'deploy-failed', instanceId, deploymentId, at } };
      if (state === 'SUCCESS') return { eventId, fact: { kind: 'deploy-succeeded', instanceId, deploymentId, at } };
      return { ignore: `instance state ${state}` };
    }
    return { ignore: `detail-type ${type} is not used` };
  }
  return { ignore: `source ${String(event.source)} is not used` };
}

export interface Deps {
  readonly io: Io;
  readonly config: HandlerConfig;
  readonly log: Logger;
}

const MAX_CONFLICTS = 8;

export interface Outcome {
  readonly status: 'ignored' | 'duplicate' | 'recorded' | 'loop-confirmed';
  readonly counted?: number;
  readonly incident?: number;
}

export function makeHandler(deps: Deps) {
  const { io, config, log } = deps;

  /** Reads, applies `change`, writes conditionally; on a concurrent write reads again. */
  async function update<T>(change: (state: GroupState) => { state: GroupState; result: T; write: boolean }): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const stored = await io.loadState(config.tableName, config.groupName);
      const { state, result, write } = change(stored.state);
      if (!write) return result;
      const expiresAt = Math.floor(lastEventTime(state) / 1000) + config.stateTtlDays * 86_400;
      if (await io.saveState(config.tableName, config.groupName, state, stored.version, expiresAt)) return result;
      log.warn('state changed concurrently; deciding again', { attempt });
      if (attempt >= MAX_CONFLICTS) throw new Error(`launch-loop: gave up after ${attempt} concurrent state changes`);
    }
  }

  /** The deployment's error and, on the instance it failed on, the failed lifecycle event with its log tail. */
  async function describeDeployment(deploymentId: string, instanceId: string | undefined): Promise<NonNullable<Evidence['deployment']>> {
    const [info, failedEvent] = await Promise.all([
      io.describeDeployment(deploymentId).catch((e: unknown) => ({ id: deploymentId, errorMessage: `could not be read: ${String(e)}` })),
      instanceId
        ? io.describeFailedLifecycleEvent(deploymentId, instanceId).catch((e: unknown) => {
            log.warn('could not read the deployment target', { deploymentId, instanceId, error: e as Error });
            return undefined;
          })
        : undefined,
    ]);
    return { ...info, failedEvent };
  }

  async function act(incident: Incident, done: BreakerOutcome | undefined): Promise<void> {
    let breaker = done;
    if (!breaker) {
      breaker =
        config.breaker === 'SUSPEND_LAUNCH'
          ? await io.suspendLaunch(config.groupName)
          : config.breaker === 'HOLD_CAPACITY'
            ? await io.holdCapacity(config.groupName)
            : { mode: 'OFF', result: 'off' };
      const outcome = breaker;
      log.info('circuit breaker', { incident: incident.number, ...outcome });
      await update((s) => ({ state: s.pending?.number === incident.number ? { ...s, pendingBreaker: outcome } : s, result: undefined, write: s.pending?.number === incident.number }));
    }
    const instanceId = latestDeadInstance(incident);
    const explain = deploymentToExplain(incident);
    const latest = incident.launches[incident.launches.length - 1];
    const [deployment, consoleOutput, activity] = await Promise.all([
      explain ? describeDeployment(explain.deploymentId, explain.instanceId) : undefined,
      instanceId && config.consoleLines > 0 ? io.consoleOutput(instanceId, config.consoleLines) : undefined,
      io.explainActivity(config.groupName, latest?.instanceId, latest?.activityId),
    ]);
    const evidence: Evidence = { deployment, consoleOutput, activity };
    const { subject, message } = renderNotification({ groupName: config.groupName, region: config.region, incident, config: config.detector, breaker, evidence });
    await io.publish(config.topicArn, subject, message);
    log.info('loop notification published', { incident: incident.number, subject });
    await update((s) => ({ state: completeIncident(s, incident.number), result: undefined, write: s.pending?.number === incident.number }));
  }

  return async function handler(event: BridgeEvent): Promise<Outcome> {
    const parsed = parseEvent(event, config);
    if ('ignore' in parsed) {
      log.info('event ignored', { reason: parsed.ignore, detailType: event['detail-type'], id: event.id });
      return { status: 'ignored' };
    }
    let fact = parsed.fact;
    if (fact.kind === 'deploy-failed') {
      // A deployment Auto Scaling created is a launch deployment: its failure is a failed launch.
      const creator = await io.describeDeployment(fact.deploymentId).then(
        (d) => d.creator,
        (e: unknown) => {
          log.warn('could not read the deployment; judging by InService instead', { deploymentId: fact.kind === 'deploy-failed' ? fact.deploymentId : undefined, error: e as Error });
          return undefined;
        },
      );
      if (creator !== undefined) fact = { ...fact, launchDeployment: creator.toLowerCase() === 'autoscaling' };
    }

    const decision = await update((state) => {
      const d = applyEvent(state, parsed.eventId, fact, config.detector);
      return { state: d.state, result: { ...d, previous: state }, write: !d.duplicate };
    });

    if (decision.duplicate) {
      const pending = decision.previous.pending;
      if (pending) {
        log.info('retried event; finishing the pending incident', { incident: pending.number });
        await act(pending, decision.previous.pendingBreaker);
        return { status: 'duplicate', incident: pending.number };
      }
      log.info('duplicate event ignored', { id: parsed.eventId });
      return { status: 'duplicate' };
    }

    if (decision.counted.length > 0) {
      for (const c of decision.counted) log.warn('short-lived launch', { ...c, inWindow: decision.inWindow });
      await io
        .putShortLivedMetric(config.namespace, config.groupName, decision.counted.length, decision.inWindow, new Date(Math.max(...decision.counted.map((c) => c.at))))
        .catch((e: unknown) => log.error('could not publish the short-lived launch metric', { error: e as Error }));
    }
    if (decision.confirmed) {
      log.error('launch loop confirmed', { incident: decision.confirmed.number, launches: decision.confirmed.launches.map((l) => l.key) });
      await act(decision.confirmed, undefined);
      return { status: 'loop-confirmed', counted: decision.counted.length, incident: decision.confirmed.number };
    }
    return { status: 'recorded', counted: decision.counted.length };
  };
}

function lastEventTime(state: GroupState): number {
  let t = 0;
  for (const r of Object.values(state.instances)) t = Math.max(t, r.lastSeen);
  for (const l of state.shortLived) t = Math.max(t, l.at);
  return t || Date.now();
}

let defaultHandler: ((event: BridgeEvent) => Promise<Outcome>) | undefined;

/** The Lambda entry point. */
export const handler = async (event: BridgeEvent): Promise<Outcome> => {
  defaultHandler ??= makeHandler({ io: createIo(defaultClients()), config: configFromEnv(process.env), log: createLogger('launch-loop') });
  return defaultHandler(event);
};
