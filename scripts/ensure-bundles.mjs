#!/usr/bin/env node
// Runs the hook bundler (scripts/bundle-hooks.mjs) only when assets/ is missing or older than its sources.
//
// cdk.json's app command calls this before bin/app.ts, so a fresh clone can `npm ci && npx cdk synth` although the
// package builds on `prepack` (not `prepare`, which npm lists as an install script in every consumer's install).
// When the bundles are current it only compares file times (a few milliseconds) and prints nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** Newest (or oldest) modification time of the files under `dir` whose name passes `keep`. */
function walk(dir, keep, pick, start) {
  let best = start;
  if (!existsSync(dir)) return best;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    if (entry.isDirectory()) best = walk(file, keep, pick, best);
    else if (keep(entry.name)) best = pick(best, statSync(file).mtimeMs);
  }
  return best;
}

const isSource = (name) => /\.(ts|mjs|js|json)$/.test(name) && !name.endsWith('.d.ts');
const newestSource = Math.max(
  walk(join(root, 'lambda'), isSource, Math.max, 0),
  walk(join(root, 'instance'), isSource, Math.max, 0),
  statSync(join(root, 'scripts', 'bundle-hooks.mjs')).mtimeMs,
);
const oldestBundle = walk(join(root, 'assets'), (name) => name.endsWith('.mjs') || name.endsWith('.js'), Math.min, Infinity);

if (oldestBundle === Infinity || oldestBundle < newestSource) {
  console.error('ensure-bundles: assets/ is missing or older than lambda/ or instance/; bundling (npm run bundle)');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'bundle-hooks.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
  process.exit(r.status ?? 1);
}
