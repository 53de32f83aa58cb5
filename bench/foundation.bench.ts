/**
 * Foundation benchmarks, ours and a baseline side by side in one run:
 * 1. synth time of the reference site (bin/app.ts, with cdk-nag and built-in validation, as `npx cdk synth` runs it)
 *    against a bare aws-cdk-lib app with one empty stack, several alternating runs each, medians and their ratio;
 * 2. the size of every prebuilt bundle (assets/lambda, assets/instance);
 * 3. cold import time of each Lambda bundle with the SDK bundled (what we ship) against the SDK left external
 *    (resolved from node_modules, as the runtime's own copy would be), in fresh processes.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, median, writeResults } from './common';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IMPORT_RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 7);
const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function timeRun(args: string[], env: Record<string, string>): number {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  const start = process.hrtime.bigint();
  const r = spawnSync(tsx, args, { cwd: ROOT, env: { ...process.env, ...env, CDK_OUTDIR: out, CDK_DISABLE_CLI_TELEMETRY: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  fs.rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr.toString().slice(0, 2000)}`);
  return ms;
}

function synthBench() {
  // cdk.json context (feature flags) and cdk.context.json reach the app through CDK_CONTEXT_JSON, as the CLI passes them.
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8'));
  const ctx = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.context.json'), 'utf8'));
  const env = { CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...ctx }) };
  const site: number[] = [];
  const bare: number[] = [];
  timeRun(['bench/fixtures/bare-app.ts'], env); // warm the file cache once
  for (let i = 0; i < RUNS; i++) {
    bare.push(timeRun(['bench/fixtures/bare-app.ts'], env));
    site.push(timeRun(['bin/app.ts'], env));
  }
  return { runs: RUNS, siteMs: site, bareMs: bare, siteMedianMs: median(site), bareMedianMs: median(bare), ratio: median(site) / median(bare) };
}

function bundleSizes(dir: string) {
  const out: Record<string, number> = {};
  for (const kind of ['lambda', 'instance']) {
    const k = path.join(dir, kind);
    if (!fs.existsSync(k)) continue;
    for (const name of fs.readdirSync(k).sort()) {
      out[`${kind}/${name}`] = fs.statSync(path.join(k, name, 'index.mjs')).size;
    }
  }
  return out;
}

function coldImport(file: string): number {
  const script = `const t=process.hrtime.bigint();await import(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));`;
  const samples: number[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    const r = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: path.dirname(file), env: { ...process.env, AWS_REGION: 'eu-west-1' } });
    samples.push(Number(r.toString()));
  }
  return median(samples);
}

function main() {
  const bundled = path.join(ROOT, 'assets');
  if (!fs.existsSync(bundled)) execFileSync('npm', ['run', 'bundle'], { cwd: ROOT, stdio: 'inherit' });
  // The external variant lives inside the project so its imports resolve from node_modules.
  const external = path.join(ROOT, 'node_modules', '.cache', 'bench-external-sdk');
  execFileSync(process.execPath, ['scripts/bundle-hooks.mjs'], { cwd: ROOT, env: { ...process.env, BUNDLE_SDK_EXTERNAL: 'true', BUNDLE_OUT_DIR: external } });

  const sizes = bundleSizes(bundled);
  const externalSizes = bundleSizes(external);
  const imports: Record<string, { bundledMs: number; externalMs: number }> = {};
  for (const name of Object.keys(sizes).filter((n) => n.startsWith('lambda/'))) {
    imports[name] = {
      bundledMs: coldImport(path.join(bundled, name, 'index.mjs')),
      externalMs: coldImport(path.join(external, name, 'index.mjs')),
    };
  }
  const synth = synthBench();
  fs.rmSync(external, { recursive: true, force: true });

  const rows = Object.keys(sizes)
    .map((n) => {
      const i = imports[n];
      return `| ${n} | ${(sizes[n] / 1024).toFixed(0)} KiB | ${(externalSizes[n] / 1024).toFixed(1)} KiB | ${i ? i.bundledMs.toFixed(0) : 'n/a'} | ${i ? i.externalMs.toFixed(0) : 'n/a'} |`;
    })
    .join('\n');
  const md = `# Foundation benchmarks

Measured on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.

## Synth: reference site against a bare one-stack app (same run, ${synth.runs} alternating runs each)

| app | median | runs (ms) |
| --- | --- | --- |
| reference site (bin/app.ts, cdk-nag + built-in validation) | ${synth.siteMedianMs.toFixed(0)} ms | ${synth.siteMs.map((x) => x.toFixed(0)).join(', ')} |
| bare aws-cdk-lib app, one empty stack | ${synth.bareMedianMs.toFixed(0)} ms | ${synth.bareMs.map((x) => x.toFixed(0)).join(', ')} |

Ratio of medians: **${synth.ratio.toFixed(2)}x** (target: within 2x).

## Bundles: size, and cold import with the SDK bundled (shipped) against the SDK external

Cold import is the median of ${IMPORT_RUNS} fresh processes importing the bundle once.

| bundle | size (SDK bundled, shipped) | size (SDK external) | cold import bundled (ms) | cold import external (ms) |
| --- | --- | --- | --- | --- |
${rows}
`;
  writeResults('foundation', { synth, sizes, externalSizes, coldImportMs: imports }, md);
}

main();
