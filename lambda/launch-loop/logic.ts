/**
 * The launch-loop detector: pure decisions over facts about one Auto Scaling group's launches.
 *
 * No SDK, no environment, no clock: every time is a parameter (milliseconds since the epoch), so the
 * detector is tested directly, including with random event streams (test/launch-loop/logic.property.test.ts).
 *
 * A *short-lived launch* is a launch that never served:
 * - the launch failed outright ("EC2 Instance Launch Unsuccessful": capacity, a missing AMI, a quota, or a
 *   launch lifecycle action that CodeDeploy abandoned), or
 * - its launch deployment failed (a CodeDeploy instance FAILURE of a deployment Auto Scaling created, or of
 *   any deployment while the instance had not yet gone InService), or
 * - it was terminated for a health check within `shortLivedMs` of its launch.
 * Scale-ins, instance refreshes and user terminations are never short-lived launches, however early they happen.
 * `threshold` short-lived launches within `windowMs` of each other confirm a loop (an incident). The launches of
 * an incident are consumed: the next incident needs `threshold` new ones.
 *
 * Idempotency: facts merge into per-instance records (a set union), each instance is counted at most once,
 * and event ids already seen are ignored, so retried, duplicated and reordered events never double count.
 */

export interface DetectorConfig {
  /** Short-lived launches that confirm a loop. */
  readonly threshold: number;
  /** The window they must fall within. */
  readonly windowMs: number;
  /** A health-check termination this soon after launch counts as short-lived. */
  readonly shortLivedMs: number;
  /** How many processed event ids to remember (duplicates older than that are caught by the per-instance record). */
  readonly maxEventIds?: number;
  /**
   * How long to keep facts about an instance after its last event. Must exceed the window plus the oldest event
   * EventBridge still delivers (the guard sets a maximum event age of 2 hours on its rule targets).
   * @default the larger of windowMs and shortLivedMs, plus 3 hours
   */
  readonly retentionMs?: number;
  /** Instance records kept at most. @default MAX_INSTANCE_RECORDS */
  readonly maxInstanceRecords?: number;
}

/** One thing the hook learned from one event. `at` is the event's time. */
export type Fact =
  | { readonly kind: 'launching'; readonly instanceId: string; readonly at: number }
  | { readonly kind: 'in-service'; readonly instanceId: string; readonly at: number; readonly launchedAt?: number }
  | {
      readonly kind: 'launch-failed';
      readonly instanceId?: string;
      readonly activityId: string;
      readonly at: number;
      readonly statusMessage: string;
      readonly cause: string;
    }
  | { readonly kind: 'terminated'; readonly instanceId: string; readonly at: number; readonly cause: string; readonly activityId?: string }
  | {
      readonly kind: 'deploy-failed';
      readonly instanceId: string;
      readonly deploymentId: string;
      readonly at: number;
      /** True when Auto Scaling created the deployment (a launch deployment); undefined when unknown. */
      readonly launchDeployment?: boolean;
    }
  | { readonly kind: 'deploy-succeeded'; readonly instanceId: string; readonly deploymentId: string; readonly at: number }
  | { readonly kind: 'deployment-failed'; readonly deploymentId: string; readonly at: number };

export type ShortLivedReason = 'launch-failed' | 'deployment-failed' | 'unhealthy-after-launch';

export interface InstanceRecord {
  launchedAt?: number;
  inServiceAt?: number;
  terminatedAt?: number;
  terminateCause?: string;
  terminateActivityId?: string;
  launchFailed?: { at: number; statusMessage: string; cause: string; activityId: string };
  deployFailed?: { at: number; deploymentId: string; launchDeployment?: boolean };
  /** Set once the record has been counted as a short-lived launch. */
  counted?: boolean;
  lastSeen: number;
}

export interface ShortLivedLaunch {
  /** The instance id, or `activity:<id>` for a launch that failed before an instance existed. */
  readonly key: string;
  readonly instanceId?: string;
  readonly at: number;
  readonly reason: ShortLivedReason;
  /** What AWS said: the status message, the termination cause, or the failed deployment. */
  readonly detail: string;
  readonly deploymentId?: string;
  readonly activityId?: string;
  /** The incident that consumed it, once a loop was confirmed. */
  incident?: number;
}

export interface Incident {
  readonly number: number;
  readonly confirmedAt: number;
  readonly launches: ShortLivedLaunch[];
  /** The latest failed deployment of the deployment group at confirmation, for the evidence. */
  readonly lastFailedDeploymentId?: string;
}

export interface GroupState {
  seenEventIds: string[];
  instances: Record<string, InstanceRecord>;
  shortLived: ShortLivedLaunch[];
  incidents: number;
  lastFailedDeploymentId?: string;
  /** An incident confirmed whose actions (circuit breaker, notification) are not yet done. */
  pending?: Incident;
  /** What the circuit breaker did for the pending incident, so a retried invocation does not act twice. */
  pendingBreaker?: BreakerOutcome;
}

export interface Decision {
  readonly state: GroupState;
  /** The event id was already processed: nothing changed. */
  readonly duplicate: boolean;
  /** Short-lived launches counted by this event (usually zero or one). */
  readonly counted: ShortLivedLaunch[];
  /** Largest number of short-lived launches within one window that contains a launch counted by this event. */
  readonly inWindow: number;
  /** A loop confirmed by this event. */
  readonly confirmed?: Incident;
}

const DEFAULT_MAX_EVENT_IDS = 500;

export function emptyState(): GroupState {
  return { seenEventIds: [], instances: {}, shortLived: [], incidents: 0 };
}

/** How a termination cause reads: a health-check replacement counts, everything else (scale-in, refresh, user) does not. */
export function isHealthCheckCause(cause: string | undefined): boolean {
  if (!cause) return false;
  return /health check|unhealthy|health-check/i.test(cause);
}

function recordKey(fact: Fact): string | undefined {
  switch (fact.kind) {
    case 'launch-failed':
      return fact.instanceId ? fact.instanceId : `activity:${fact.activityId}`;
    case 'deployment-failed':
      return undefined;
    default:
      return fact.instanceId;
  }
}

function merge(record: InstanceRecord | undefined, fact: Fact): InstanceRecord {
  const r: InstanceRecord = { ...(record ?? { lastSeen: fact.at }) };
  r.lastSeen = Math.max(r.lastSeen, fact.at);
  const earliest = (a: number | undefined, b: number | undefined) =>
    a === undefined ? b : b === undefined ? a : Math.min(a, b);
  switch (fact.kind) {
    case 'launching':
      r.launchedAt = earliest(r.launchedAt, fact.at);
      break;
    case 'in-service':
      r.inServiceAt = earliest(r.inServiceAt, fact.at);
      r.launchedAt = earliest(r.launchedAt, fact.launchedAt);
      break;
    case 'launch-failed':
      if (!r.launchFailed || fact.at < r.launchFailed.at) {
        r.launchFailed = { at: fact.at, statusMessage: fact.statusMessage, cause: fact.cause, activityId: fact.activityId };
      }
      break;
    case 'terminated':
      if (r.terminatedAt === undefined || fact.at < r.terminatedAt) {
        r.terminatedAt = fact.at;
        r.terminateCause = fact.cause;
        r.terminateActivityId = fact.activityId;
      }
      break;
    case 'deploy-failed':
      if (!r.deployFailed || fact.at < r.deployFailed.at) {
        r.deployFailed = { at: fact.at, deploymentId: fact.deploymentId, launchDeployment: fact.launchDeployment };
      } else if (r.deployFailed.launchDeployment === undefined && fact.launchDeployment !== undefined && r.deployFailed.deploymentId === fact.deploymentId) {
        r.deployFailed = { ...r.deployFailed, launchDeployment: fact.launchDeployment };
      }
      break;
    case 'deploy-succeeded':
    case 'deployment-failed':
      break;
  }
  return r;
}

/** Whether an instance's facts make it a short-lived launch, and why. Pure in the record and the config. */
export function judge(key: string, r: InstanceRecord, config: DetectorConfig): ShortLivedLaunch | undefined {
  const instanceId = key.startsWith('activity:') ? undefined : key;
  if (r.launchFailed) {
    const f = r.launchFailed;
    return {
      key,
      instanceId,
      at: f.at,
      reason: 'launch-failed',
      detail: f.statusMessage || f.cause || 'launch failed',
      activityId: f.activityId,
      deploymentId: r.deployFailed?.deploymentId,
    };
  }
  if (r.deployFailed) {
    const d = r.deployFailed;
    const launchDeployment = d.launchDeployment ?? r.inServiceAt === undefined;
    if (launchDeployment) {
      return { key, instanceId, at: d.at, reason: 'deployment-failed', detail: `deployment ${d.deploymentId} failed on the new instance`, deploymentId: d.deploymentId };
    }
  }
  if (r.terminatedAt !== undefined && isHealthCheckCause(r.terminateCause)) {
    const launched = r.launchedAt ?? r.inServiceAt;
    if (launched !== undefined && r.terminatedAt - launched <= config.shortLivedMs) {
      return {
        key,
        instanceId,
        at: r.terminatedAt,
        reason: 'unhealthy-after-launch',
        detail: r.terminateCause ?? 'terminated by a health check',
        activityId: r.terminateActivityId,
      };
    }
  }
  return undefined;
}

/** The largest number of launches in one window of `windowMs` that contains `at`. */
export function maxInWindowAround(launches: readonly { at: number }[], at: number, windowMs: number): number {
  let best = 0;
  for (const start of launches.map((l) => l.at).filter((t) => t <= at && t >= at - windowMs)) {
    const n = launches.filter((l) => l.at >= start && l.at <= start + windowMs).length;
    best = Math.max(best, n);
  }
  return best;
}

/** The earliest window of `windowMs` holding at least `threshold` launches, if any. */
function firstFullWindow(launches: ShortLivedLaunch[], threshold: number, windowMs: number): ShortLivedLaunch[] | undefined {
  const sorted = [...launches].sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
  for (let i = 0; i + threshold <= sorted.length; i++) {
    const inWindow = sorted.filter((l, j) => j >= i && l.at - sorted[i].at <= windowMs);
    if (inWindow.length >= threshold) return inWindow;
  }
  return undefined;
}

/**
 * Applies one event's fact to the group's state and decides. Returns a new state; `state` is not modified.
 */
export function applyEvent(state: GroupState, eventId: string, fact: Fact, config: DetectorConfig): Decision {
  if (state.seenEventIds.includes(eventId)) {
    return { state, duplicate: true, counted: [], inWindow: 0 };
  }
  const maxIds = config.maxEventIds ?? DEFAULT_MAX_EVENT_IDS;
  const next: GroupState = {
    ...state,
    seenEventIds: [...state.seenEventIds, eventId].slice(-maxIds),
    instances: { ...state.instances },
    shortLived: state.shortLived.map((l) => ({ ...l })),
  };
  if (fact.kind === 'deployment-failed') {
    next.lastFailedDeploymentId = fact.deploymentId;
  }

  const counted: ShortLivedLaunch[] = [];
  const key = recordKey(fact);
  if (key !== undefined) {
    const record = merge(next.instances[key], fact);
    next.instances[key] = record;
    if (!record.counted) {
      const launch = judge(key, record, config);
      if (launch) {
        record.counted = true;
        next.shortLived.push(launch);
        counted.push(launch);
      }
    }
  }

  let confirmed: Incident | undefined;
  let inWindow = 0;
  if (counted.length > 0) {
    inWindow = Math.max(...counted.map((c) => maxInWindowAround(next.shortLived, c.at, config.windowMs)));
    const unconsumed = next.shortLived.filter((l) => l.incident === undefined);
    const window = firstFullWindow(unconsumed, config.threshold, config.windowMs);
    if (window) {
      const number = next.incidents + 1;
      for (const l of next.shortLived) {
        if (window.some((w) => w.key === l.key)) l.incident = number;
      }
      const atTime = Math.max(...counted.map((c) => c.at));
      confirmed = {
        number,
        confirmedAt: atTime,
        launches: next.shortLived.filter((l) => l.incident === number).sort((a, b) => a.at - b.at),
        lastFailedDeploymentId: next.lastFailedDeploymentId,
      };
      next.incidents = number;
      next.pending = confirmed;
      delete next.pendingBreaker;
    }
  }

  prune(next, fact.at, config);
  return { state: next, duplicate: false, counted, inWindow, confirmed };
}

/** Marks the pending incident's actions as done. */
export function completeIncident(state: GroupState, number: number): GroupState {
  if (state.pending?.number !== number) return state;
  const { pending: _done, pendingBreaker: _breaker, ...rest } = state;
  return rest;
}

/** Instance records kept at most (a DynamoDB item holds 400 KB; a record is about 200 bytes; V8 objects stay fast below about 1,000 keys). */
export const MAX_INSTANCE_RECORDS = 800;
/** Short-lived launches kept at most. */
export const MAX_SHORT_LIVED = 200;

/**
 * Drops facts and launches too old to matter, so the state stays one DynamoDB item: by age first, then, in a
 * very large or very busy group, the records seen longest ago (records already counted last).
 */
function prune(state: GroupState, now: number, config: DetectorConfig): void {
  const retention = config.retentionMs ?? Math.max(config.windowMs, config.shortLivedMs) + 3 * 3_600_000;
  for (const [key, r] of Object.entries(state.instances)) {
    if (r.lastSeen < now - retention) delete state.instances[key];
  }
  const cap = config.maxInstanceRecords ?? MAX_INSTANCE_RECORDS;
  const older = (a: InstanceRecord, b: InstanceRecord) => Number(a.counted ?? false) - Number(b.counted ?? false) || a.lastSeen - b.lastSeen;
  // One event adds at most one record: drop the oldest (records already counted last) with a linear scan.
  while (Object.keys(state.instances).length > cap) {
    let oldest: string | undefined;
    for (const [key, r] of Object.entries(state.instances)) {
      if (oldest === undefined || older(r, state.instances[oldest]) < 0) oldest = key;
    }
    delete state.instances[oldest!];
  }
  state.shortLived = state.shortLived.filter((l) => l.at >= now - retention).slice(-MAX_SHORT_LIVED);
}

// ---------------------------------------------------------------------------------------------------------------
// The notification: what people read when they are woken up.

export type CircuitBreakerMode = 'SUSPEND_LAUNCH' | 'HOLD_CAPACITY' | 'OFF';

export interface BreakerOutcome {
  readonly mode: CircuitBreakerMode;
  /** What happened: done, the group no longer exists, or the action failed (with why). */
  readonly result: 'done' | 'group-gone' | 'failed' | 'off';
  readonly error?: string;
  /** For HOLD_CAPACITY: the capacity before the hold, for the resume command. */
  readonly previousMin?: number;
  readonly previousDesired?: number;
  readonly heldAt?: number;
}

/** What CodeDeploy recorded for one instance: the lifecycle event that failed, with its script's log tail. */
export interface FailedLifecycleEvent {
  readonly instanceId: string;
  readonly lifecycleEvent: string;
  readonly errorCode?: string;
  readonly scriptName?: string;
  readonly message?: string;
  readonly logTail?: string;
}

export interface Evidence {
  readonly deployment?: {
    id: string;
    status?: string;
    creator?: string;
    errorCode?: string;
    errorMessage?: string;
    /** The failed lifecycle event on the latest dead instance of this deployment. */
    failedEvent?: FailedLifecycleEvent;
  };
  readonly consoleOutput?: { instanceId: string; lines: string[] } | { instanceId: string; unavailable: string };
  readonly activity?: { cause?: string; statusCode?: string; statusMessage?: string; description?: string };
}

export interface NotificationInput {
  readonly groupName: string;
  readonly region: string;
  readonly incident: Incident;
  readonly config: DetectorConfig;
  readonly breaker: BreakerOutcome;
  readonly evidence: Evidence;
}

/** The one command that resumes launches after a circuit breaker acted. */
export function resumeCommand(groupName: string, region: string, breaker: BreakerOutcome): string | undefined {
  const g = shellQuote(groupName);
  if (breaker.mode === 'SUSPEND_LAUNCH') {
    return `aws autoscaling resume-processes --region ${region} --auto-scaling-group-name ${g} --scaling-processes Launch`;
  }
  if (breaker.mode === 'HOLD_CAPACITY' && breaker.previousDesired !== undefined) {
    const min = breaker.previousMin !== undefined ? ` --min-size ${breaker.previousMin}` : '';
    return `aws autoscaling update-auto-scaling-group --region ${region} --auto-scaling-group-name ${g}${min} --desired-capacity ${breaker.previousDesired}`;
  }
  return undefined;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9._\-/:]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The latest short-lived launch that had an instance: whose console output tells what went wrong. */
export function latestDeadInstance(incident: Incident): string | undefined {
  return [...incident.launches].reverse().find((l) => l.instanceId !== undefined)?.instanceId;
}

/**
 * The deployment to explain: the latest one among the incident's launches (with the instance it failed on),
 * else the group's latest failed deployment.
 */
export function deploymentToExplain(incident: Incident): { deploymentId: string; instanceId?: string } | undefined {
  const launch = [...incident.launches].reverse().find((l) => l.deploymentId);
  if (launch?.deploymentId) return { deploymentId: launch.deploymentId, instanceId: launch.instanceId };
  return incident.lastFailedDeploymentId ? { deploymentId: incident.lastFailedDeploymentId } : undefined;
}

/** Keeps the last `n` non-empty lines of console output. */
export function lastLines(text: string, n: number): string[] {
  if (n <= 0) return [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.slice(-n);
}

/** Lines of the failed script's log tail put in the notification. */
const LOG_TAIL_LINES = 20;

/** SNS subjects: ASCII, no line breaks, fewer than 100 characters. */
const SUBJECT_MAX = 99;

export function renderNotification(input: NotificationInput): { subject: string; message: string } {
  const { groupName, incident, config, breaker, evidence } = input;
  const minutes = Math.round(config.windowMs / 60_000);
  const stopped = breaker.result === 'done' && breaker.mode !== 'OFF';
  const subject = truncate(
    `${stopped ? 'Launch loop stopped' : 'Launch loop'} in ${groupName}: ${incident.launches.length} short-lived launches in ${minutes} min`,
    SUBJECT_MAX,
  );
  const lines: string[] = [];
  lines.push(`A launch loop was confirmed in Auto Scaling group ${groupName} (${input.region}).`);
  lines.push(
    `${incident.launches.length} launches in ${minutes} minutes never served (threshold ${config.threshold}); each one was paid for.`,
  );
  lines.push('');
  lines.push('Circuit breaker:');
  const resume = resumeCommand(groupName, input.region, breaker);
  switch (breaker.result) {
    case 'done':
      lines.push(
        breaker.mode === 'SUSPEND_LAUNCH'
          ? '  The group\'s Launch process is SUSPENDED: no new instance will start until you resume it.'
          : `  Desired capacity is HELD at ${breaker.heldAt} (the instances in service); it was ${breaker.previousDesired}.`,
      );
      if (resume) lines.push(`  When the cause is fixed, resume launches with:`, `    ${resume}`);
      break;
    case 'off':
      lines.push('  Off by configuration: the group keeps launching (and paying) until someone acts.');
      break;
    case 'group-gone':
      lines.push('  The group no longer exists: nothing to stop.');
      break;
    case 'failed':
      lines.push(`  FAILED to stop launches (${breaker.error ?? 'unknown error'}): the loop may still be running. Stop it by hand:`);
      if (resume) lines.push(`    (to resume later: ${resume})`);
      lines.push(`    aws autoscaling suspend-processes --region ${input.region} --auto-scaling-group-name ${shellQuote(groupName)} --scaling-processes Launch`);
      break;
  }
  lines.push('');
  lines.push('Short-lived launches:');
  for (const l of incident.launches) {
    const who = l.instanceId ?? `(no instance; activity ${l.activityId ?? 'unknown'})`;
    lines.push(`  ${new Date(l.at).toISOString()}  ${who}  ${l.reason}: ${oneLine(l.detail)}`);
  }
  lines.push('');
  if (evidence.deployment) {
    const d = evidence.deployment;
    lines.push(`CodeDeploy deployment ${d.id}${d.status ? ` (${d.status}${d.creator ? `, created by ${d.creator}` : ''})` : ''}:`);
    lines.push(`  error code: ${d.errorCode ?? 'none reported'}`);
    lines.push(`  error message: ${oneLine(d.errorMessage ?? 'none reported')}`);
    const f = d.failedEvent;
    if (f) {
      const script = f.scriptName ? `, script ${f.scriptName}` : '';
      lines.push(`  on ${f.instanceId}: lifecycle event ${f.lifecycleEvent} failed (${f.errorCode ?? 'no error code'}${script})${f.message ? `: ${oneLine(f.message)}` : ''}`);
      const tail = f.logTail ? lastLines(f.logTail, LOG_TAIL_LINES) : [];
      if (tail.length > 0) {
        lines.push(`  deployment log tail:`);
        for (const l of tail) lines.push(`  | ${l}`);
      }
    }
    lines.push('');
  }
  if (evidence.activity) {
    const a = evidence.activity;
    lines.push('Auto Scaling activity:');
    if (a.description) lines.push(`  ${oneLine(a.description)}`);
    lines.push(`  cause: ${oneLine(a.cause ?? 'unknown')}`);
    if (a.statusCode) lines.push(`  status: ${a.statusCode}${a.statusMessage ? `: ${oneLine(a.statusMessage)}` : ''}`);
    lines.push('');
  }
  if (evidence.consoleOutput) {
    const c = evidence.consoleOutput;
    if ('lines' in c) {
      lines.push(`Console output of ${c.instanceId} (last ${c.lines.length} lines):`);
      for (const l of c.lines) lines.push(`  | ${l}`);
    } else {
      lines.push(`Console output of ${c.instanceId}: unavailable (${c.unavailable}).`);
    }
    lines.push('');
  }
  lines.push('Diagnose: the CodeDeploy deployment log (/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log),');
  lines.push('the console output above, and the group\'s activity history (aws autoscaling describe-scaling-activities).');
  return { subject, message: lines.join('\n') };
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function truncate(s: string, n: number): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= n ? ascii : `${ascii.slice(0, n - 3)}...`;
}
