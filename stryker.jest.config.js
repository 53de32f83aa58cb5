/**
 * The jest configuration `npm run mutate` runs for every mutant: the unit tests of the mutated files (hook and
 * instance logic, lambda/shared, the failover-pair renderers, validation) and nothing that synthesizes a stack.
 *
 * Left out, found by reading each test file's imports (so new test files are sorted without editing this list):
 * - test/system (real haproxy, keepalived, MariaDB);
 * - tests that synthesize constructs (they import the library's index, or read a template or annotations): seconds per
 *   file, and the decisions Stryker mutates are pinned by the unit tests (tests that only build a VPC or a token stay in);
 * - the docs examples (they synthesize every example app).
 * Static mutants (module-level constants) run every remaining test, so this list is what keeps a run near twenty minutes.
 * @type {import('jest').Config}
 */
const fs = require('node:fs');
const path = require('node:path');
const base = require('./jest.config.js');

const SYNTH = /from '(\.\.\/)+lib(\/index)?'|Template\.from(Stack|JSON)|Annotations\.fromStack|SynthUtils|\.synth\(\)/;
/** Slow tests that reach no mutated file except through helpers that have their own unit tests. */
const SLOW_WITHOUT_TARGETS = ['test/docs.test.ts', 'test/workers/job-guard.test.ts', 'test/workers/job-guard-cli.test.ts'];

function testFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'system' || e.name === 'node_modules' ? [] : testFiles(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const root = __dirname;
const ignored = testFiles(path.join(root, 'test'))
  .map((p) => path.relative(root, p).split(path.sep).join('/'))
  .filter((rel) => SLOW_WITHOUT_TARGETS.includes(rel) || SYNTH.test(fs.readFileSync(path.join(root, rel), 'utf8')));

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

module.exports = {
  ...base,
  // Property tests draw fewer cases per mutant (test/property-runs.ts).
  setupFiles: [...base.setupFiles, '<rootDir>/test/mutation-setup.js'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/system/', ...ignored.map((rel) => `<rootDir>/${escape(rel)}$`)],
  // Snapshots belong to the synth tests left out; a mutant must never write one.
  ci: true,
};
