#!/usr/bin/env node
// `npm run mutate [group ...]`: StrykerJS one group of files at a time (see stryker.config.mjs), then the table in
// bench/results/mutation.md from every group's latest JSON report. With no arguments every group runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { GROUPS } from './mutation-groups.mjs';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const unknown = only.filter((g) => !(g in GROUPS));
if (unknown.length) {
  console.error(`unknown group(s) ${unknown.join(', ')}; groups are: ${Object.keys(GROUPS).join(', ')}`);
  process.exit(2);
}
let failed = 0;
// Groups named on the command line run in that order; with none, all in the order above.
for (const group of only.length ? only : Object.keys(GROUPS)) {
  const files = GROUPS[group];
  console.log(`\n=== mutation group ${group}: ${files.join(' ')}`);
  // The tree the run measures is the one at its start (Stryker copies it into a sandbox then).
  const measured = treeState();
  const r = spawnSync('npx', ['stryker', 'run'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MUTATION_GROUP: group, MUTATION_FILES: files.join(','), CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  if (r.status !== 0) {
    failed++;
    continue;
  }
  keepResult(group, measured);
}

function treeState() {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lambda', 'instance', 'lib', 'test'], { cwd: root, encoding: 'utf8' }).stdout.trim() !== '';
  return { at: new Date().toISOString().slice(0, 16) + 'Z', commit: dirty ? `${commit}+uncommitted` : commit };
}

/**
 * Stryker's report (reports/mutation/<group>.json) stays on the machine that ran it; what the table needs (each file's
 * source and its mutants' status, place and replacement) is kept in bench/results/mutation/<group>.json, committed, so a
 * fresh clone can rebuild the table and a run of one group never drops the others' results.
 */
function keepResult(group, measured) {
  const from = join(root, 'reports/mutation', `${group}.json`);
  if (!existsSync(from)) return;
  const r = JSON.parse(readFileSync(from, 'utf8'));
  const files = {};
  for (const [path, f] of Object.entries(r.files)) {
    files[path.startsWith('/') ? relative(root, path) : path] = {
      source: f.source,
      mutants: f.mutants.map((m) => ({ mutatorName: m.mutatorName, replacement: m.replacement, status: m.status, location: m.location })),
    };
  }
  const dir = join(root, 'bench/results/mutation');
  mkdirSync(dir, { recursive: true });
  const out = { group, measuredAt: measured.at, commit: measured.commit, files };
  writeFileSync(join(dir, `${group}.json`), `${JSON.stringify(out, null, 1)}\n`);
}
const report = spawnSync('node', [join(root, 'bench/mutation-report.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(failed === 0 && report.status === 0 ? 0 : 1);
