// StrykerJS configuration for `npm run mutate` (not part of `npm test`: a full run takes about twenty minutes on two cores).
// bench/results/mutation.md is written from the JSON report by bench/mutation-report.mjs.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: 'stryker.jest.config.js',
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'lambda/*/logic.ts',
    'lambda/shared/*.ts',
    'instance/*/logic.ts',
    'lib/failover-pair/*-config.ts',
    'lib/private/validation.ts',
  ],
  // The machine (and CI) has two cores shared with other work.
  concurrency: 2,
  // Property tests and the dynalite ledger tests are slower than a pure unit; a mutant that loops forever still times out.
  timeoutMS: 20000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  // Only what the unit tests read: sources, tests and the config files; not built bundles, cdk.out or reports.
  ignorePatterns: ['dist', 'assets', 'cdk.out', 'reports', 'coverage', 'bench/results', '.jest-cache'],
  thresholds: { high: 90, low: 80, break: null },
  cleanTempDir: 'always',
};
