/**
 * Launch-loop benchmark: a simulated incident timeline, LaunchLoopGuard against the best public recipe
 * (a CloudWatch alarm on GroupPendingInstances >= 1 for M minutes), side by side, in the same run.
 *
 * The guard's side runs the real detector (lambda/launch-loop/logic.ts) over the events the incident produces,
 * delivered late by EventBridge; the recipe's side evaluates the alarm over the per-minute Maximum of the group's
 * pending instances, the way CloudWatch does. Both also run over healthy activity (a scale-out of 20 and a
 * one-at-a-time rolling replacement) to count false alarms.
 *
 * Parameters (boot time, CodeDeploy failure time, relaunch delay, latencies, human response time) are stated
 * per scenario; they are assumptions, not AWS guarantees. Output: bench/results/launch-loop.{json,md}.
 */
import * as fs from 'fs';
import * as path from 'path';
import { applyEvent, emptyState, type DetectorConfig, type Fact, type GroupState } from '../lambda/launch-loop/logic';

const S = 1_000;
const MIN = 60 * S;
const HORIZON = 12 * 60 * MIN;

interface Scenario {
  readonly name: string;
  readonly kind: 'codedeploy' | 'health-check' | 'launch-fails';
  /** Launch to user data done and the CodeDeploy agent started (or to InService without CodeDeploy). */
  readonly bootMs: number;
  /** CodeDeploy: agent start to the failed deployment (script timeout, or the lifecycle hook timing out). */
  readonly deployFailMs: number;
  /** Health-check scenario: InService to the termination for a failed health check. */
  readonly healthFailMs: number;
  /** Auto Scaling: failed launch (or, for health checks, termination) to the next launch. */
  readonly relaunchDelayMs: number;
  /** The guard's window, when this scenario configures it (default 30 min). */
  readonly windowMs?: number;
}

interface Common {
  /** EventBridge to Lambda delivery. */
  readonly eventLatencyMs: number;
  /** Lambda plus the SuspendProcesses call. */
  readonly breakerLatencyMs: number;
  /** Gathering the evidence (console output retries, deployment, activity) before the notification. */
  readonly evidenceMs: number;
  /** CloudWatch: group metrics are 1-minute data, available about a minute later; alarm evaluation adds up to a minute. */
  readonly alarmLagMs: number;
  /** A person paged by the recipe's alarm stops launches this long after the page (the recipe stops nothing itself). */
  readonly humanResponseMs: number;
}

const COMMON: Common = { eventLatencyMs: 5 * S, breakerLatencyMs: 2 * S, evidenceMs: 15 * S, alarmLagMs: 2 * MIN, humanResponseMs: 20 * MIN };
const DETECTOR: DetectorConfig = { threshold: 3, windowMs: 30 * MIN, shortLivedMs: 20 * MIN };
const RECIPE_MINUTES = [5, 15, 60];

const SCENARIOS: Scenario[] = [
  { name: 'CodeDeploy script fails (ValidateService)', kind: 'codedeploy', bootMs: 3 * MIN, deployFailMs: 5 * MIN, healthFailMs: 0, relaunchDelayMs: 30 * S },
  { name: 'CodeDeploy fails fast (missing revision)', kind: 'codedeploy', bootMs: 90 * S, deployFailMs: 1 * MIN, healthFailMs: 0, relaunchDelayMs: 10 * S },
  { name: 'CodeDeploy agent never starts (hook times out)', kind: 'codedeploy', bootMs: 3 * MIN, deployFailMs: 60 * MIN, healthFailMs: 0, relaunchDelayMs: 30 * S },
  {
    name: 'Same, guard window set to 4 h',
    kind: 'codedeploy',
    bootMs: 3 * MIN,
    deployFailMs: 60 * MIN,
    healthFailMs: 0,
    relaunchDelayMs: 30 * S,
    windowMs: 4 * 60 * MIN,
  },
  { name: 'Health check fails after boot (no CodeDeploy)', kind: 'health-check', bootMs: 2 * MIN, deployFailMs: 0, healthFailMs: 6 * MIN, relaunchDelayMs: 30 * S },
  { name: 'Launch fails outright (missing AMI)', kind: 'launch-fails', bootMs: 0, deployFailMs: 0, healthFailMs: 0, relaunchDelayMs: 60 * S },
];

interface Launch {
  readonly id: string;
  readonly start: number;
  /** End of Pending (what GroupPendingInstances counts). */
  readonly pendingUntil: number;
  /** Terminated or failed. */
  readonly end: number;
  readonly events: Array<{ id: string; fact: Fact }>;
}

/** The loop's launches, from t=0 until the horizon. */
function loopLaunches(s: Scenario): Launch[] {
  const out: Launch[] = [];
  let t = 0;
  for (let k = 1; t < HORIZON; k++) {
    const id = `i-loop${k}`;
    if (s.kind === 'codedeploy') {
      const fail = t + s.bootMs + s.deployFailMs;
      out.push({
        id,
        start: t,
        pendingUntil: fail,
        end: fail + 60 * S,
        events: [
          { id: `${id}-lc`, fact: { kind: 'launching', instanceId: id, at: t } },
          { id: `${id}-df`, fact: { kind: 'deploy-failed', instanceId: id, deploymentId: `d-${k}`, at: fail, launchDeployment: true } },
          {
            id: `${id}-lf`,
            fact: { kind: 'launch-failed', instanceId: id, activityId: `a-${k}`, at: fail + 5 * S, statusMessage: 'Lifecycle Action Completed with ABANDON Result', cause: '' },
          },
          { id: `${id}-t`, fact: { kind: 'terminated', instanceId: id, at: fail + 60 * S, cause: 'launch failure' } },
        ],
      });
      // Auto Scaling starts the replacement while the failed instance is still terminating.
      t = fail + s.relaunchDelayMs;
    } else if (s.kind === 'health-check') {
      const inService = t + s.bootMs;
      const term = inService + s.healthFailMs;
      out.push({
        id,
        start: t,
        pendingUntil: inService,
        end: term,
        events: [
          { id: `${id}-is`, fact: { kind: 'in-service', instanceId: id, at: inService, launchedAt: t } },
          { id: `${id}-t`, fact: { kind: 'terminated', instanceId: id, at: term, cause: 'an instance was taken out of service in response to an ELB system health check failure.' } },
        ],
      });
      t = term + s.relaunchDelayMs;
    } else {
      out.push({
        id,
        start: t,
        pendingUntil: t,
        end: t,
        events: [
          {
            id: `${id}-lf`,
            fact: { kind: 'launch-failed', activityId: `a-${k}`, at: t, statusMessage: "The image id '[ami-0a1b2c3d4e5f67890]' does not exist. Launching EC2 instance failed.", cause: '' },
          },
        ],
      });
      t += s.relaunchDelayMs;
    }
  }
  return out;
}

/** Runs the real detector over the events as EventBridge delivers them; returns the confirmation time. */
function guardConfirms(launches: Launch[], c: Common, config: DetectorConfig): number | undefined {
  const delivered = launches
    .flatMap((l) => l.events)
    .map((e) => ({ ...e, deliveredAt: e.fact.at + c.eventLatencyMs }))
    .sort((a, b) => a.deliveredAt - b.deliveredAt);
  let state: GroupState = emptyState();
  for (const e of delivered) {
    const d = applyEvent(state, e.id, e.fact, config);
    state = d.state;
    if (d.confirmed) return e.deliveredAt;
  }
  return undefined;
}

/** Count of guard confirmations over a healthy event stream (must be zero). */
function guardFalseAlarms(events: Array<{ id: string; fact: Fact }>): number {
  let state: GroupState = emptyState();
  let n = 0;
  for (const e of [...events].sort((a, b) => a.fact.at - b.fact.at)) {
    const d = applyEvent(state, e.id, e.fact, DETECTOR);
    state = d.state;
    if (d.confirmed || d.counted.length > 0) n++;
  }
  return n;
}

/** CloudWatch: per-minute Maximum of pending instances >= 1 for `m` consecutive minutes; returns when the alarm fires. */
function recipeFires(pending: Array<[number, number]>, m: number, c: Common): number | undefined {
  let run = 0;
  for (let minute = 0; minute * MIN < HORIZON; minute++) {
    const a = minute * MIN;
    const b = a + MIN;
    const breaching = pending.some(([from, to]) => from < b && to > a && to > from);
    run = breaching ? run + 1 : 0;
    if (run >= m) return b + c.alarmLagMs;
  }
  return undefined;
}

const launchesBefore = (launches: Launch[], t: number | undefined) => launches.filter((l) => t === undefined || l.start < t).length;
const instanceMinutesBefore = (launches: Launch[], t: number | undefined) =>
  launches.filter((l) => t === undefined || l.start < t).reduce((sum, l) => sum + (Math.min(l.end, t ?? HORIZON) - l.start) / MIN, 0);
const minutes = (t: number | undefined) => (t === undefined ? null : Math.round((t / MIN) * 10) / 10);

interface Row {
  scenario: string;
  parameters: Record<string, number>;
  guard: { launchesWasted: number; minutesUntilTold: number | null; minutesUntilLaunchesStop: number | null; instanceMinutes: number };
  recipe: Array<{
    alarmMinutes: number;
    launchesUntilTold: number;
    minutesUntilTold: number | null;
    launchesWastedWithPerson: number;
    minutesUntilLaunchesStopWithPerson: number | null;
    instanceMinutesWithPerson: number;
  }>;
}

function runScenario(s: Scenario): Row {
  const launches = loopLaunches(s);
  const confirm = guardConfirms(launches, COMMON, { ...DETECTOR, windowMs: s.windowMs ?? DETECTOR.windowMs });
  const stop = confirm === undefined ? undefined : confirm + COMMON.breakerLatencyMs;
  const told = confirm === undefined ? undefined : confirm + COMMON.evidenceMs;
  const pending = launches.map((l) => [l.start, l.pendingUntil] as [number, number]);
  return {
    scenario: s.name,
    parameters: {
      bootMinutes: s.bootMs / MIN,
      codeDeployFailureMinutes: s.deployFailMs / MIN,
      healthCheckFailureMinutes: s.healthFailMs / MIN,
      relaunchDelaySeconds: s.relaunchDelayMs / S,
      guardWindowMinutes: (s.windowMs ?? DETECTOR.windowMs) / MIN,
    },
    guard: {
      launchesWasted: launchesBefore(launches, stop),
      minutesUntilTold: minutes(told),
      minutesUntilLaunchesStop: minutes(stop),
      instanceMinutes: Math.round(instanceMinutesBefore(launches, stop)),
    },
    recipe: RECIPE_MINUTES.map((m) => {
      const fired = recipeFires(pending, m, COMMON);
      const personStops = fired === undefined ? undefined : fired + COMMON.humanResponseMs;
      return {
        alarmMinutes: m,
        launchesUntilTold: launchesBefore(launches, fired),
        minutesUntilTold: minutes(fired),
        launchesWastedWithPerson: launchesBefore(launches, personStops),
        minutesUntilLaunchesStopWithPerson: minutes(personStops),
        instanceMinutesWithPerson: Math.round(instanceMinutesBefore(launches, personStops)),
      };
    }),
  };
}

/** Healthy activity: a scale-out of 20 and a rolling replacement of 6, one at a time; each launch takes 3 + 4 minutes. */
function healthy() {
  const boot = 3 * MIN;
  const deploy = 4 * MIN;
  const scaleOut = Array.from({ length: 20 }, (_, i) => ({ id: `i-out${i}`, start: i * 2 * S }));
  const rolling = Array.from({ length: 6 }, (_, i) => ({ id: `i-roll${i}`, start: 3 * 60 * MIN + i * (boot + deploy + 30 * S) }));
  const all = [...scaleOut, ...rolling];
  const events = all.flatMap(({ id, start }, i) => [
    { id: `${id}-lc`, fact: { kind: 'launching', instanceId: id, at: start } as Fact },
    { id: `${id}-ds`, fact: { kind: 'deploy-succeeded', instanceId: id, deploymentId: 'd-launch', at: start + boot + deploy - 2 * S } as Fact },
    { id: `${id}-is`, fact: { kind: 'in-service', instanceId: id, at: start + boot + deploy, launchedAt: start } as Fact },
    // The scale-out is scaled back in 10 minutes later; the rolling replacement terminates the old instances.
    {
      id: `${id}-t`,
      fact: {
        kind: 'terminated',
        instanceId: i < 20 ? id : `i-old${i}`,
        at: i < 20 ? start + 17 * MIN : start + boot + deploy + 10 * S,
        cause: i < 20 ? 'shrinking the capacity from 23 to 3.' : 'a user request update of AutoScalingGroup ... replacing instances (rolling update).',
      } as Fact,
    },
  ]);
  const scaleOutPending = scaleOut.map(({ start }) => [start, start + boot + deploy] as [number, number]);
  const rollingPending = rolling.map(({ start }) => [start, start + boot + deploy] as [number, number]);
  return {
    guardFalseAlarms: guardFalseAlarms(events),
    recipe: RECIPE_MINUTES.map((m) => ({
      alarmMinutes: m,
      falseAlarmOnScaleOut: recipeFires(scaleOutPending, m, COMMON) !== undefined,
      falseAlarmOnRollingReplacement: recipeFires(rollingPending, m, COMMON) !== undefined,
    })),
  };
}

function fmt(v: number | null): string {
  return v === null ? 'never (12 h)' : String(v);
}

/**
 * An extra CodeDeploy scenario from the command line, for your own numbers:
 * `npx tsx bench/launch-loop.bench.ts --boot-min 4 --codedeploy-timeout-min 10 --relaunch-s 45 [--window-min 60]`.
 */
function scenarioFromArgs(argv: string[]): Scenario | undefined {
  const value = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number, got ${argv[i + 1]}`);
    return n;
  };
  const boot = value('--boot-min');
  const timeout = value('--codedeploy-timeout-min');
  const relaunch = value('--relaunch-s');
  const window = value('--window-min');
  if (boot === undefined && timeout === undefined && relaunch === undefined && window === undefined) return undefined;
  return {
    name: 'Your parameters (command line)',
    kind: 'codedeploy',
    bootMs: (boot ?? 3) * MIN,
    deployFailMs: (timeout ?? 5) * MIN,
    healthFailMs: 0,
    relaunchDelayMs: (relaunch ?? 30) * S,
    windowMs: window === undefined ? undefined : window * MIN,
  };
}

function main() {
  const started = process.hrtime.bigint();
  const custom = scenarioFromArgs(process.argv.slice(2));
  const rows = [...SCENARIOS, ...(custom ? [custom] : [])].map(runScenario);
  const healthyResult = healthy();
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const result = {
    bench: 'launch-loop',
    description: 'Simulated launch-loop incidents: LaunchLoopGuard vs an alarm on GroupPendingInstances >= 1 for M minutes',
    detector: { threshold: DETECTOR.threshold, windowMinutes: DETECTOR.windowMs / MIN, shortLivedMinutes: DETECTOR.shortLivedMs / MIN },
    assumptions: {
      eventLatencySeconds: COMMON.eventLatencyMs / S,
      breakerLatencySeconds: COMMON.breakerLatencyMs / S,
      evidenceSeconds: COMMON.evidenceMs / S,
      cloudWatchAlarmLagMinutes: COMMON.alarmLagMs / MIN,
      humanResponseMinutes: COMMON.humanResponseMs / MIN,
      horizonHours: HORIZON / (60 * MIN),
    },
    scenarios: rows,
    healthy: healthyResult,
    simulationMs: Math.round(elapsedMs),
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'launch-loop.json'), JSON.stringify(result, null, 2) + '\n');

  const md: string[] = [];
  md.push('# Launch-loop benchmark: LaunchLoopGuard vs the GroupPendingInstances alarm recipe');
  md.push('');
  md.push(
    `Simulated incidents (generated by \`npx tsx bench/launch-loop.bench.ts\`). The guard column runs the real detector ` +
      `(${DETECTOR.threshold} short-lived launches in ${DETECTOR.windowMs / MIN} min) over the incident's events delivered ` +
      `${COMMON.eventLatencyMs / S} s late; it suspends Launch ${COMMON.breakerLatencyMs / S} s after confirming and notifies ` +
      `${COMMON.evidenceMs / S} s after (evidence gathering). The recipe alarms on the per-minute Maximum of GroupPendingInstances >= 1 ` +
      `for M consecutive minutes, ${COMMON.alarmLagMs / MIN} min of CloudWatch lag added; it stops nothing, so "stop" assumes a person ` +
      `acts ${COMMON.humanResponseMs / MIN} min after the page. Times are minutes from the first bad launch; launches counted include the first.`,
  );
  md.push('');
  md.push('| scenario | guard: launches / told / stopped (min) | recipe M=5: told / stopped, launches | recipe M=15: told / stopped, launches | recipe M=60: told / stopped, launches |');
  md.push('| --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const cells = r.recipe.map(
      (x) => `${fmt(x.minutesUntilTold)} / ${fmt(x.minutesUntilLaunchesStopWithPerson)}, ${x.launchesWastedWithPerson}`,
    );
    md.push(`| ${r.scenario} | ${r.guard.launchesWasted} / ${fmt(r.guard.minutesUntilTold)} / ${fmt(r.guard.minutesUntilLaunchesStop)} | ${cells.join(' | ')} |`);
  }
  md.push('');
  md.push('Healthy activity (a scale-out of 20, then a one-at-a-time rolling replacement of 6; 7 min per launch):');
  md.push('');
  md.push(`- guard: ${healthyResult.guardFalseAlarms} short-lived launches counted, no alarm.`);
  for (const x of healthyResult.recipe) {
    md.push(
      `- recipe M=${x.alarmMinutes}: false alarm on the scale-out: ${x.falseAlarmOnScaleOut ? 'yes' : 'no'}; on the rolling replacement: ${x.falseAlarmOnRollingReplacement ? 'yes' : 'no'}.`,
    );
  }
  md.push('');
  md.push(
    'Reading: with a short M the recipe pages before the first launch has even failed, but it also pages on healthy launches ' +
      'that take longer than M; with M long enough to stay quiet on healthy rolling replacements it pages late or never. ' +
      'The guard needs its window to hold N failure cycles: with the default 30 min it misses a loop whose launches each take ' +
      'an hour to fail (set window accordingly). The recipe cannot see loops in which nothing stays Pending (launches that fail outright, instances that pass ' +
      'boot and then fail their health check), must choose M above the longest healthy launch sequence to avoid false alarms, ' +
      'and never stops launches by itself. Parameters are assumptions stated in the JSON, not AWS guarantees.',
  );
  fs.writeFileSync(path.join(dir, 'launch-loop.md'), md.join('\n') + '\n');
  console.log(md.join('\n'));
}

main();
