#!/usr/bin/env node
// `npm run mutate [group ...]`: StrykerJS one group of files at a time (see stryker.config.mjs), then the table in
// bench/results/mutation.md from every group's latest JSON report. With no arguments every group runs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

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
  const r = spawnSync('npx', ['stryker', 'run'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MUTATION_GROUP: group, MUTATION_FILES: files.join(','), CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  if (r.status !== 0) failed++;
}
const report = spawnSync('node', [join(root, 'bench/mutation-report.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(failed === 0 && report.status === 0 ? 0 : 1);
