#!/usr/bin/env node
// Bundles every Lambda hook (lambda/<hook>/index.ts) and every on-instance command
// (instance/<tool>/index.ts) with esbuild into assets/, which constructs load with Code.fromAsset.
// Runs at build time (npm `prepare`), never at synth time.
//
// SDK v3 clients are bundled as minified ESM: bench/cold-start measured this as the fastest cold
// import (the runtime's external copy costs a node_modules resolution on every cold start).
import { build } from 'esbuild';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const externalSdk = process.env.BUNDLE_SDK_EXTERNAL === 'true';

function entries(kind) {
  const dir = join(root, kind);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'shared' && existsSync(join(dir, d.name, 'index.ts')))
    .map((d) => ({ kind, name: d.name, entry: join(dir, d.name, 'index.ts') }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const outRoot = process.env.BUNDLE_OUT_DIR ?? join(root, 'assets');
// Build beside the old bundles and swap them in at the end, so a test or synth running meanwhile
// never sees an empty assets/ directory.
const staging = `${outRoot}.staging-${process.pid}`;
rmSync(staging, { recursive: true, force: true });

const all = [...entries('lambda'), ...entries('instance')];
await Promise.all(
  all.map(({ kind, name, entry }) =>
    build({
      entryPoints: [entry],
      outfile: join(staging, kind, name, 'index.mjs'),
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      minify: true,
      treeShaking: true,
      legalComments: 'none',
      // Some SDK dependencies still call require(); give the ESM bundle one.
      banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
      external: externalSdk ? ['@aws-sdk/*', '@smithy/*'] : [],
      logLevel: 'warning',
    }),
  ),
);
const old = `${outRoot}.old-${process.pid}`;
if (existsSync(outRoot)) renameSync(outRoot, old);
renameSync(staging, outRoot);
rmSync(old, { recursive: true, force: true });
console.log(`bundled ${all.length} entr${all.length === 1 ? 'y' : 'ies'} into ${outRoot.startsWith(root) ? outRoot.slice(root.length) : outRoot}`);
