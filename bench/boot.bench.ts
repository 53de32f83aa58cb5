/**
 * Boot benchmark (issue 12): in the boot lab (test/system/boot-lab), each node type's user data from a synthesized
 * reference site boots with everything reachable and under each fault; the same run boots the user data of the code
 * before the boot contract (commit BASELINE, synthesized from a git worktree) the same way.
 *
 * Per run: the time from the boot's start to the lifecycle action CONTINUE (if it came), how the boot ended
 * (CONTINUE, ABANDON, or no lifecycle action at all: the group would keep the instance), the units it started (a
 * "half-booted" node: services up without CONTINUE, or after a failed step), the requests the fault refused and the
 * retries the boot logged. Needs root (namespaces, overlay mounts). Writes bench/results/boot.json and boot.md.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sweepStaleLabs } from '../test/system/boot-lab/lab';
import { FaultName, FAULTS, NodeType, runScenarios, Scenario, ScenarioRun } from '../test/system/boot-lab/scenarios';
import { synthSite } from '../test/system/boot-lab/synth-site';
import { median, ROOT, writeResults } from './common';

/** The commit before the boot contract landed: every construct's own user data, `dnf install -y nodejs`. */
const BASELINE = process.env.BOOT_BENCH_BASELINE ?? '62b1db2';
const NODES: NodeType[] = ['edge', 'app', 'worker'];
const FAULT_ORDER: FaultName[] = ['s3-20s', 'repo-20s', 'iam-30s', 'imds-20s', 'node-missing', 's3-forever', 'none'];
/** Happy-path boots per node type and code (the median is reported). */
const HAPPY_RUNS = 1;
/** "S3 failing for good": a shorter per-call retry budget than the contract's 300 s default (RF_RETRY_BUDGET_S), as in the test. */
const FOREVER_BUDGET_S = '40';

interface Row {
  code: 'ours' | 'baseline';
  node: NodeType;
  fault: FaultName;
  outcome: 'CONTINUE' | 'ABANDON' | 'no lifecycle action';
  continueMs?: number;
  exitCode: number | null;
  scriptMs: number;
  timedOut: boolean;
  unitsStarted: string[];
  faultedRequests: number;
  retriesLogged: number;
  failedStep?: string;
}

function synthBaseline(dir: string): string {
  const tree = path.join(dir, 'baseline-tree');
  execFileSync('git', ['worktree', 'add', '--detach', tree, BASELINE], { cwd: ROOT, stdio: 'ignore' });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
  execFileSync('node', ['scripts/bundle-hooks.mjs'], { cwd: tree, stdio: 'ignore' });
  const out = path.join(dir, 'baseline-out');
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'test/system/boot-lab/synth-site.ts'), out, tree], {
    cwd: tree,
    stdio: 'inherit',
    env: { ...process.env, CDK_VALIDATION: 'false' },
  });
  return out;
}

function rowOf(code: Row['code'], r: ScenarioRun): Row {
  const results = r.lab.lifecycleResults();
  const retries = r.lab.file('/var/log/resilient-fleet/retries.log');
  return {
    code,
    node: r.scenario.node,
    fault: r.scenario.fault,
    outcome: results.includes('CONTINUE') ? 'CONTINUE' : results.includes('ABANDON') ? 'ABANDON' : 'no lifecycle action',
    continueMs: r.result.continueMs,
    exitCode: r.result.code,
    scriptMs: r.result.ms,
    timedOut: r.result.timedOut,
    unitsStarted: r.lab.startedUnits().map((u) => u.unit.replace(/\.service$/, '')),
    faultedRequests: r.lab.faultedRequests(),
    retriesLogged: retries ? retries.split('\n').filter(Boolean).length : 0,
    failedStep: /FAILED step ([a-z0-9-]+)/.exec(r.result.console)?.[1],
  };
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  sweepStaleLabs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-boot-bench-'));
  const outs: Record<Row['code'], string> = { ours: path.join(dir, 'ours-out'), baseline: '' };
  const rows: Row[] = [];
  try {
    synthSite(outs.ours);
    outs.baseline = synthBaseline(dir);
    const scenarios: Scenario[] = [
      ...FAULT_ORDER.filter((f) => f !== 'none').flatMap((fault) => NODES.map((node) => ({ node, fault }))),
      ...Array.from({ length: HAPPY_RUNS }, () => NODES.map((node) => ({ node, fault: 'none' as const }))).flat(),
    ];
    for (const code of ['ours', 'baseline'] as const) {
      const runs = await runScenarios(scenarios, {
        outdir: outs[code],
        concurrency: 8,
        subnetBase: code === 'ours' ? 1 : 101,
        maxBootMs: 300_000,
        bootEnv: (s): Record<string, string> => (s.fault === 's3-forever' ? { RF_RETRY_BUDGET_S: FOREVER_BUDGET_S } : {}),
      });
      for (const r of runs) {
        rows.push(rowOf(code, r));
        r.lab.close();
      }
    }
  } finally {
    try {
      execFileSync('git', ['worktree', 'remove', '--force', path.join(dir, 'baseline-tree')], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      /* not created */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const pick = (code: Row['code'], node: NodeType, fault: FaultName) => rows.filter((r) => r.code === code && r.node === node && r.fault === fault);
  const summary = NODES.map((node) => ({
    node,
    ours: { happyContinueMsMedian: medianOf(pick('ours', node, 'none').map((r) => r.continueMs)), happyRuns: pick('ours', node, 'none').map((r) => r.continueMs ?? null) },
    baseline: { happyContinueMsMedian: medianOf(pick('baseline', node, 'none').map((r) => r.continueMs)), happyRuns: pick('baseline', node, 'none').map((r) => r.continueMs ?? null) },
  }));
  const json = { started, machine: { cpus: os.cpus().length }, baselineCommit: BASELINE, faults: FAULTS, foreverRetryBudgetS: Number(FOREVER_BUDGET_S), summary, runs: rows };

  const fmt = (ms?: number | null) => (ms === undefined || ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const cell = (r: Row) =>
    `${r.outcome}${r.continueMs !== undefined ? ` at ${fmt(r.continueMs)}` : ''}; ${r.faultedRequests} refused, ${r.retriesLogged} retries; ` +
    `${r.failedStep ? `failed step ${r.failedStep}; ` : ''}units: ${r.unitsStarted.join(', ') || 'none'}${r.timedOut ? ' (lab timeout)' : ''}`;
  const lines = [
    '# Boot benchmark (boot lab)',
    '',
    `Measured ${started} on ${os.cpus().length} cores (\`npx tsx bench/boot.bench.ts\`, root). Each node type's user data from a synthesized`,
    `reference site, booted in the boot lab (test/system/boot-lab: namespaces, an overlay root, a fake IMDSv2 and AWS,`,
    `dnf/systemctl stand-ins, the real AWS CLI v2). "ours" is the working tree; "baseline" is commit ${BASELINE}, before the`,
    'boot contract, synthesized from a git worktree in the same run. Up to 8 labs boot at once on the 2 cores, so times',
    'include contention; compare the two codes, not absolute seconds.',
    '',
    `## Boot time to lifecycle CONTINUE, everything reachable (${HAPPY_RUNS === 1 ? 'one boot each' : `median of ${HAPPY_RUNS} boots`})`,
    '',
    '| node | ours | baseline |',
    '| --- | ---: | ---: |',
    ...summary.map((s) => `| ${s.node} | ${fmt(s.ours.happyContinueMsMedian)} (${s.ours.happyRuns.map(fmt).join(', ')}) | ${s.baseline.happyContinueMsMedian === undefined ? 'never completes the hook' : fmt(s.baseline.happyContinueMsMedian)} |`),
    '',
    '## Under one fault at a time',
    '',
    'Each cell: how the lifecycle action ended (and when), requests the fault refused, retries the boot logged',
    '(the contract\'s retries.log; the baseline has none), the failed step named on the console, the units started.',
    '',
    '| node | fault | ours | baseline |',
    '| --- | --- | --- | --- |',
    ...NODES.flatMap((node) =>
      FAULT_ORDER.filter((f) => f !== 'none').map((fault) => `| ${node} | ${fault} | ${pick('ours', node, fault).map(cell).join('<br>')} | ${pick('baseline', node, fault).map(cell).join('<br>')} |`),
    ),
    '',
    `Faults: s3-20s (S3 answers 503 SlowDown for 20 s from the first S3 call), repo-20s (the package repository answers 503`,
    'for 20 s from its first read), iam-30s (every AWS API answers AccessDenied / UnauthorizedOperation for 30 s from the',
    'first AWS call), node-missing (no nodejs* package in',
    `the repository), s3-forever (S3 answers 503 for good; ours with RF_RETRY_BUDGET_S=${FOREVER_BUDGET_S} instead of the`,
    '300 s default so the run stays short). The baseline\'s App node cannot fetch the CodeDeploy installer in the lab (it',
    'downloads it with wget from the public HTTPS URL, and the lab has no internet), so its agent never starts there.',
  ];
  writeResults('boot', json, lines.join('\n'));
}

function medianOf(values: Array<number | undefined>): number | undefined {
  const v = values.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.round(median(v)) : undefined;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
