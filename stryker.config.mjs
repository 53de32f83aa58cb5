// StrykerJS configuration for `npm run mutate` (bench/mutation-run.mjs; not part of `npm test`).
// The run goes one group of files at a time, each with its own incremental file, so a group re-tests only the mutants
// whose code or covering tests changed since its last run, and a run cut short keeps the groups it finished.
// bench/mutation-report.mjs turns the groups' JSON reports into bench/results/mutation.md.
const group = process.env.MUTATION_GROUP ?? 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'stryker.jest.config.js' },
  coverageAnalysis: 'perTest',
  mutate: process.env.MUTATION_FILES?.split(',') ?? [
    'lambda/*/logic.ts',
    'lambda/shared/*.ts',
    'instance/*/logic.ts',
    'lib/failover-pair/*-config.ts',
    'lib/private/validation.ts',
  ],
  // Two cores, shared with other work.
  concurrency: 2,
  // Property tests are slower than a pure unit; a mutant that loops forever still times out.
  // lambda/shared is retry loops and error tables: a mutant that breaks a loop's exit spins until the timeout, and its tests
  // take milliseconds, so a shorter timeout there keeps its run to minutes.
  timeoutMS: group === 'shared' ? 5000 : 20000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  clearTextReporter: { reportTests: false, reportMutants: false },
  jsonReporter: { fileName: `reports/mutation/${group}.json` },
  incremental: true,
  incrementalFile: `reports/mutation/incremental-${group}.json`,
  tempDirName: '.stryker-tmp',
  // Only what the unit tests read: not built bundles, cdk.out or reports.
  ignorePatterns: ['dist', 'assets', 'cdk.out', 'reports', 'coverage', 'bench/results', '.jest-cache'],
  thresholds: { high: 90, low: 80, break: null },
  cleanTempDir: 'always',
};
