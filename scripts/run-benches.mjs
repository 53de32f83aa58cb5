#!/usr/bin/env node
// Runs every benchmark (bench/*.bench.ts, or only those named on the command line) one after another,
// so they do not compete for the two cores. Each writes bench/results/<name>.json and prints a summary.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const benches = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file}`);
  const r = spawnSync('npx', ['tsx', join('bench', file)], { cwd: root, stdio: 'inherit', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' } });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
