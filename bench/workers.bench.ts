/**
 * Queue-worker benchmark: a simulated day of bursty queue load, the stateless DescribeInstances scaler from the
 * incident against QueueWorkerFleet's design, side by side, in the same run, on the same load and the same EC2.
 *
 * EC2 model (eventually consistent, as observed): a launched instance is missing from DescribeInstances for a random
 * delay; a terminated one still reads "running" for a random delay; a RunInstances request for N instances of one
 * type in one AZ is all-or-nothing and fails while that pool is out of capacity. Pools (4 types x 3 AZs) run out
 * of capacity at random, and one AZ loses all capacity for an hour.
 *
 * - stateless scaler: every 20 s, needed = ceil((visible + in flight) / target); existing = DescribeInstances;
 *   launch the difference in one batched request (preferred type, one AZ) or terminate the difference, picked
 *   from the DescribeInstances answer (busy or not, possibly already terminated).
 * - QueueWorkerFleet: the group's desired capacity is the count; target tracking on backlog per in-service
 *   worker over 1-minute CloudWatch data (3 datapoints above target to scale out, 15 below to scale in), the
 *   exact-capacity scale-from-zero step policy, scale to zero after 15 empty minutes; the group launches one
 *   instance at a time over every type and AZ, skipping pools without capacity; scale-in picks only workers that
 *   job-guard has not protected; a terminating busy worker waits for its job (lifecycle hook).
 *
 * Measured the same way for both: launches, extra launches (a launch while the real fleet already had what the
 * backlog needed), busy workers terminated (jobs killed; their message returns after the visibility timeout),
 * mass terminations (the fleet losing at least half of its workers, and at least 4, within 2 minutes, leaving
 * fewer workers than the backlog needs), failed launch requests, instance-hours, and backlog latency (enqueue to the start of the run that
 * finished). Parameters are assumptions stated in the JSON, not AWS guarantees. Output: bench/results/workers.{json,md}.
 */
import { writeResults } from './common';
import { backlogPerWorkerTarget, scaleFromZeroSteps } from '../lib/workers/worker-scaling';

const DAY_S = 24 * 3600;
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

const P = {
  maxCapacity: 40,
  acceptableLatencyS: 300,
  averageJobS: 60,
  jobMinS: 5,
  jobMaxS: 600,
  bootMinS: 60,
  bootMaxS: 150,
  /** DescribeInstances: a new instance is invisible for U(0, x) seconds; a terminated one reads running for U(0, y). */
  launchInvisibleMaxS: 90,
  terminatedStillRunningMaxS: 120,
  scalerPeriodS: 20,
  visibilityTimeoutS: 600,
  /** Per pool: capacity outages per day (Poisson) and their length. */
  poolOutagesPerDay: 3,
  poolOutageMinS: 20 * 60,
  poolOutageMaxS: 120 * 60,
  /** One AZ loses all capacity for an hour. */
  azOutageStartS: 14 * 3600,
  azOutageS: 3600,
  types: 4,
  azs: 3,
  /** Arrivals: a quiet night, a busier day, and bursts that dump many messages within minutes. */
  nightRatePerS: 0.01,
  dayRatePerS: 0.15,
  burstsPerDay: 14,
  burstMin: 80,
  burstMax: 600,
  burstSpreadMaxS: 180,
  /** CloudWatch: 1-minute datapoints, usable about a minute after the minute ends. */
  metricDelayS: 60,
  ttScaleOutPoints: 3,
  ttScaleInPoints: 15,
  scaleToZeroPoints: 15,
  drainHookS: 3,
};
const TARGET = backlogPerWorkerTarget(P.acceptableLatencyS, P.averageJobS, 1);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Job {
  readonly id: number;
  readonly enqueuedAt: number;
  readonly durationS: number;
  visibleAt: number;
  startedAt?: number;
  doneAt?: number;
}

interface Instance {
  readonly id: number;
  readonly pool: number;
  readonly launchedAt: number;
  readonly readyAt: number;
  readonly visibleAt: number;
  terminatedAt?: number;
  ghostUntil?: number;
  job?: Job;
  jobEndsAt?: number;
  /** Waiting in Terminating:Wait for the job to finish (QueueWorkerFleet). */
  draining?: boolean;
  everWorked: boolean;
}

interface World {
  readonly r: () => number;
  readonly arrivals: Array<{ at: number; durationS: number }>;
  readonly poolOut: (pool: number, t: number) => boolean;
}

function makeWorld(seed: number): World {
  const r = rng(seed);
  const arrivals: Array<{ at: number; durationS: number }> = [];
  const duration = () => Math.min(P.jobMaxS, Math.max(P.jobMinS, Math.round(-Math.log(1 - r()) * P.averageJobS)));
  for (let t = 0; t < DAY_S; t++) {
    const hour = t / 3600;
    const rate = hour >= 7 && hour < 20 ? P.dayRatePerS : P.nightRatePerS;
    if (r() < rate) arrivals.push({ at: t, durationS: duration() });
  }
  for (let b = 0; b < P.burstsPerDay; b++) {
    const at = Math.floor(r() * (DAY_S - 3600));
    const n = P.burstMin + Math.floor(r() * (P.burstMax - P.burstMin));
    const spread = Math.floor(r() * P.burstSpreadMaxS) + 1;
    for (let i = 0; i < n; i++) arrivals.push({ at: at + Math.floor(r() * spread), durationS: duration() });
  }
  arrivals.sort((a, b) => a.at - b.at);
  const outages: Array<Array<[number, number]>> = [];
  for (let p = 0; p < P.types * P.azs; p++) {
    const list: Array<[number, number]> = [];
    let t = 0;
    for (;;) {
      t += Math.floor((-Math.log(1 - r()) * DAY_S) / P.poolOutagesPerDay);
      if (t >= DAY_S) break;
      list.push([t, t + P.poolOutageMinS + Math.floor(r() * (P.poolOutageMaxS - P.poolOutageMinS))]);
    }
    outages.push(list);
  }
  const azOut = Math.floor(r() * P.azs);
  const poolOut = (pool: number, t: number) =>
    (pool % P.azs === azOut && t >= P.azOutageStartS && t < P.azOutageStartS + P.azOutageS) || outages[pool].some(([a, b]) => t >= a && t < b);
  return { r, arrivals, poolOut };
}

interface Result {
  launches: number;
  extraLaunches: number;
  launchedNeverWorked: number;
  busyTerminated: number;
  massTerminations: number;
  fleetWiped: number;
  failedLaunchRequests: number;
  instanceHours: number;
  jobsDone: number;
  jobsNotDone: number;
  latencyP50: number;
  latencyP95: number;
  latencyP99: number;
  latencyMax: number;
  peakInstances: number;
}

type Design = 'stateless' | 'queueWorkerFleet';

function simulate(design: Design, seed: number): Result {
  const world = makeWorld(seed);
  const r = rng(seed * 7919 + (design === 'stateless' ? 1 : 2)); // each design's own EC2 randomness
  const jobs: Job[] = [];
  const pending: Job[] = []; // visible or not-yet-visible messages not in flight
  const instances: Instance[] = [];
  let nextArrival = 0;
  let nextId = 0;
  const res: Result = {
    launches: 0,
    extraLaunches: 0,
    launchedNeverWorked: 0,
    busyTerminated: 0,
    massTerminations: 0,
    fleetWiped: 0,
    failedLaunchRequests: 0,
    instanceHours: 0,
    jobsDone: 0,
    jobsNotDone: 0,
    latencyP50: 0,
    latencyP95: 0,
    latencyP99: 0,
    latencyMax: 0,
    peakInstances: 0,
  };
  const terminations: number[] = [];
  let lastMassAt = -Infinity;
  let prevLive = 0;

  const alive = () => instances.filter((i) => i.terminatedAt === undefined);
  // pending is kept sorted by visibleAt: the visible messages are a prefix
  const visibleCount = (t: number) => {
    let lo = 0;
    let hi = pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pending[mid].visibleAt <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const requeue = (job: Job) => {
    let k = pending.length;
    while (k > 0 && pending[k - 1].visibleAt > job.visibleAt) k--;
    pending.splice(k, 0, job);
  };
  const inFlight = () => instances.reduce((n, i) => n + (i.job && i.terminatedAt === undefined ? 1 : 0), 0);
  const truthNeeded = (t: number) => Math.min(P.maxCapacity, Math.ceil((visibleCount(t) + inFlight()) / TARGET));

  const launch = (t: number, pool: number) => {
    const needed = truthNeeded(t);
    if (alive().length >= needed) res.extraLaunches++;
    res.launches++;
    instances.push({
      id: nextId++,
      pool,
      launchedAt: t,
      readyAt: t + P.bootMinS + Math.floor(r() * (P.bootMaxS - P.bootMinS)),
      visibleAt: t + Math.floor(r() * P.launchInvisibleMaxS),
      everWorked: false,
    });
  };
  const terminate = (t: number, inst: Instance) => {
    if (inst.terminatedAt !== undefined) return;
    inst.terminatedAt = t;
    inst.ghostUntil = t + Math.floor(r() * P.terminatedStillRunningMaxS);
    if (!inst.everWorked) res.launchedNeverWorked++;
    if (inst.job) {
      res.busyTerminated++;
      const job = inst.job;
      job.startedAt = undefined;
      job.visibleAt = inst.jobEndsAt! - job.durationS + P.visibilityTimeoutS; // back after the visibility timeout
      requeue(job);
      inst.job = undefined;
    }
    terminations.push(t);
  };

  // QueueWorkerFleet state
  let desired = 0;
  const points: Array<{ visible: number; inFlightPlusVisible: number; inService: number }> = [];
  let lastScaleOutAt = -Infinity;

  for (let t = 0; t < DAY_S + 6 * 3600; t++) {
    // arrivals
    while (nextArrival < world.arrivals.length && world.arrivals[nextArrival].at <= t) {
      const a = world.arrivals[nextArrival++];
      const job: Job = { id: jobs.length, enqueuedAt: a.at, durationS: a.durationS, visibleAt: a.at };
      jobs.push(job);
      requeue(job);
    }
    // workers finish and take jobs (FIFO by visibility)
    for (const inst of instances) {
      if (inst.terminatedAt !== undefined) continue;
      if (inst.job && t >= inst.jobEndsAt!) {
        inst.job.doneAt = t;
        res.jobsDone++;
        inst.job = undefined;
        if (inst.draining) {
          terminate(t + P.drainHookS, inst);
          continue;
        }
      }
      if (!inst.job && !inst.draining && t >= inst.readyAt) {
        if (pending.length > 0 && pending[0].visibleAt <= t) {
          const job = pending.shift()!;
          job.startedAt = t;
          inst.job = job;
          inst.jobEndsAt = t + job.durationS;
          inst.everWorked = true;
        }
      }
    }

    if (design === 'stateless' && t % P.scalerPeriodS === 0) {
      const needed = Math.min(P.maxCapacity, Math.ceil((visibleCount(t) + inFlight()) / TARGET));
      // DescribeInstances: launched ones appear late; terminated ones still read "running" for a while.
      const described = instances.filter((i) => t >= i.visibleAt && (i.terminatedAt === undefined || t < i.ghostUntil!));
      if (needed > described.length) {
        const pool = 0; // the preferred type, always the same AZ: one batched, all-or-nothing request
        if (world.poolOut(pool, t)) res.failedLaunchRequests++;
        else for (let k = described.length; k < needed; k++) launch(t, pool);
      } else if (needed < described.length) {
        const candidates = [...described];
        for (let k = 0; k < described.length - needed; k++) {
          const victim = candidates.splice(Math.floor(r() * candidates.length), 1)[0];
          terminate(t, victim); // a ghost (already terminated) changes nothing, and the next round terminates another
        }
      }
    }

    if (design === 'queueWorkerFleet') {
      // CloudWatch datapoint for the minute that just ended (group metric: InService)
      if (t % 60 === 0 && t > 0) {
        const live = alive();
        points.push({
          visible: visibleCount(t),
          inFlightPlusVisible: visibleCount(t) + inFlight(),
          inService: live.filter((i) => t >= i.readyAt && !i.draining).length,
        });
      }
      if (t % 60 === 30) {
        const usable = points.slice(0, Math.max(0, points.length - Math.round(P.metricDelayS / 60)));
        const last = (n: number) => (usable.length >= n ? usable.slice(-n) : undefined);
        const latest = usable.at(-1);
        if (latest) {
          const backlog = (p: (typeof points)[0]) => (p.inService > 0 ? p.visible / p.inService : TARGET);
          // scale from zero: exact capacity while messages wait and nobody is in service (idempotent)
          if (latest.inService === 0 && latest.visible > 0) {
            const steps = scaleFromZeroSteps(TARGET, P.maxCapacity);
            const step = steps.find((s) => latest.visible >= s.lowerBound && (s.upperBound === undefined || latest.visible < s.upperBound))!;
            desired = step.capacity;
          }
          const out = last(P.ttScaleOutPoints);
          if (out && out.every((p) => backlog(p) > TARGET) && t - lastScaleOutAt >= 60) {
            const want = Math.min(P.maxCapacity, Math.ceil((latest.inService * backlog(latest)) / TARGET));
            if (want > desired) {
              desired = want;
              lastScaleOutAt = t;
            }
          }
          const inn = last(P.ttScaleInPoints);
          if (inn && inn.every((p) => backlog(p) < TARGET * 0.9) && latest.inService > 0 && t - lastScaleOutAt > 300) {
            const want = Math.max(1, Math.ceil((latest.inService * backlog(latest)) / TARGET));
            if (want < desired) desired = want;
          }
          const empty = last(P.scaleToZeroPoints);
          if (empty && empty.every((p) => p.inFlightPlusVisible === 0)) desired = 0;
        }
      }
      // the group converges to desired every 10 s: launch over every type and AZ, skipping pools without capacity;
      // scale in only unprotected (idle) workers
      if (t % 10 === 0) {
        const live = alive().filter((i) => !i.draining);
        if (live.length < desired) {
          for (let k = live.length; k < desired; k++) {
            const perAz = [0, 0, 0];
            for (const i of alive()) perAz[i.pool % P.azs]++;
            const azOrder = [0, 1, 2].sort((a, b) => perAz[a] - perAz[b]);
            let launched = false;
            for (const az of azOrder) {
              for (let type = 0; type < P.types && !launched; type++) {
                const pool = type * P.azs + az;
                if (!world.poolOut(pool, t)) {
                  launch(t, pool);
                  launched = true;
                }
              }
              if (launched) break;
            }
            if (!launched) res.failedLaunchRequests++;
          }
        } else if (live.length > desired) {
          const idle = live.filter((i) => !i.job).sort((a, b) => a.launchedAt - b.launchedAt);
          for (let k = 0; k < live.length - desired && k < idle.length; k++) terminate(t + P.drainHookS, idle[k]);
        }
      }
    }

    // measurements
    const live = alive();
    res.peakInstances = Math.max(res.peakInstances, live.length);
    res.instanceHours += live.length / 3600;
    while (terminations.length && terminations[0] < t - 120) terminations.shift();
    const before = live.length + terminations.length;
    if (terminations.length >= 4 && terminations.length * 2 >= before && live.length < truthNeeded(t) && t - lastMassAt > 120) {
      res.massTerminations++;
      lastMassAt = t;
    }
    if (prevLive > 0 && live.length === 0 && visibleCount(t) > 0) res.fleetWiped++;
    prevLive = live.length;
  }

  const latencies = jobs.filter((j) => j.doneAt !== undefined).map((j) => j.startedAt! - j.enqueuedAt).sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  res.jobsNotDone = jobs.length - res.jobsDone;
  res.latencyP50 = pct(0.5);
  res.latencyP95 = pct(0.95);
  res.latencyP99 = pct(0.99);
  res.latencyMax = latencies.at(-1) ?? 0;
  res.instanceHours = Math.round(res.instanceHours * 10) / 10;
  return res;
}

function main(): void {
  const started = Date.now();
  const runs: Record<Design, Result[]> = { stateless: [], queueWorkerFleet: [] };
  for (const seed of SEEDS) {
    runs.stateless.push(simulate('stateless', seed));
    runs.queueWorkerFleet.push(simulate('queueWorkerFleet', seed));
  }
  const sum = (d: Design, k: keyof Result) => runs[d].reduce((n, x) => n + x[k], 0);
  const mean = (d: Design, k: keyof Result) => Math.round((sum(d, k) / SEEDS.length) * 10) / 10;
  const worst = (d: Design, k: keyof Result) => Math.max(...runs[d].map((x) => x[k]));
  const rows: Array<[string, keyof Result, 'mean' | 'max']> = [
    ['instances launched', 'launches', 'mean'],
    ['extra launches (fleet already had what the backlog needed)', 'extraLaunches', 'mean'],
    ['instances terminated without ever running a job', 'launchedNeverWorked', 'mean'],
    ['busy workers terminated (jobs killed)', 'busyTerminated', 'mean'],
    ['mass terminations (>= half the fleet, >= 4, in 2 min, leaving fewer than the backlog needs)', 'massTerminations', 'mean'],
    ['every worker terminated while messages waited', 'fleetWiped', 'mean'],
    ['failed launch requests (no capacity)', 'failedLaunchRequests', 'mean'],
    ['instance-hours', 'instanceHours', 'mean'],
    ['peak instances', 'peakInstances', 'max'],
    ['jobs done', 'jobsDone', 'mean'],
    ['backlog latency p50 (s)', 'latencyP50', 'mean'],
    ['backlog latency p95 (s)', 'latencyP95', 'mean'],
    ['backlog latency p99 (s)', 'latencyP99', 'mean'],
    ['backlog latency max (s), worst day', 'latencyMax', 'max'],
  ];
  const table = rows
    .map(([label, k, how]) => `| ${label} | ${how === 'mean' ? mean('stateless', k) : worst('stateless', k)} | ${how === 'mean' ? mean('queueWorkerFleet', k) : worst('queueWorkerFleet', k)} |`)
    .join('\n');
  const jobsPerDay = Math.round(sum('queueWorkerFleet', 'jobsDone') / SEEDS.length);
  const md = `# Queue-worker benchmark: stateless DescribeInstances scaler vs QueueWorkerFleet

Simulated bursty days (generated by \`npx tsx bench/workers.bench.ts\`; ${SEEDS.length} seeded days, the same load, EC2 capacity and outages
for both designs; about ${jobsPerDay} jobs a day, mean job ${P.averageJobS} s, ${P.burstsPerDay} bursts of ${P.burstMin} to ${P.burstMax} messages, quiet nights).
EC2 is eventually consistent: a launch is invisible to DescribeInstances for up to ${P.launchInvisibleMaxS} s, a terminated instance reads "running" for up to
${P.terminatedStillRunningMaxS} s; each of ${P.types} types x ${P.azs} AZs runs out of capacity about ${P.poolOutagesPerDay} times a day for 20 to 120 min, and one AZ has none for an hour.
Target backlog per worker ${TARGET} (acceptable latency ${P.acceptableLatencyS} s / job ${P.averageJobS} s), at most ${P.maxCapacity} workers, boot ${P.bootMinS} to ${P.bootMaxS} s.
Means per day unless marked.

| per day | stateless scaler | QueueWorkerFleet |
| --- | --- | --- |
${table}

Reading: the stateless scaler launches again for instances DescribeInstances does not show yet, then terminates the surplus at
random, busy or not, and keeps terminating while terminated instances still read "running"; its one-type, one-AZ, all-or-nothing
requests fail for as long as that pool is out of capacity. QueueWorkerFleet counts with the group's desired capacity, never picks a
worker that job-guard protects, and launches from whichever type and AZ has capacity. It is not fast: it sees a burst only through
1-minute CloudWatch data (3 datapoints above target, plus boot), so a burst's messages wait minutes, close to the accepted latency
(the p50); it scales in only after 15 minutes below target, which costs idle instance-hours after bursts, yet far fewer than the
churn of the stateless scaler. The remaining "mass terminations" are scale-ins (idle workers only) shortly before the next burst.
The model simplifies target tracking (a proportional step on the latest datapoint) and the group's AZ balancing; numbers are from
this model, not AWS.
`;
  writeResults('workers', { parameters: { ...P, target: TARGET, seeds: SEEDS }, runs, elapsedMs: Date.now() - started }, md);
}

main();
