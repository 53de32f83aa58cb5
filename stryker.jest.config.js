/**
 * The jest configuration `npm run mutate` runs for every mutant: the unit tests that exercise the mutated files
 * (hook and instance logic, the renderers, the shared helpers, the validation bounds), without the system tests
 * (real haproxy/keepalived/MariaDB) and without the CDK synth tests, which cost seconds per file and check
 * constructs rather than the decisions Stryker mutates.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testPathIgnorePatterns: [
    '/node_modules/',
    '<rootDir>/test/system/',
    // CDK synth tests: they construct stacks; the decisions they reach are pinned by the unit tests below.
    '<rootDir>/test/reference-site\\.test\\.ts$',
    '<rootDir>/test/addressing/(address-references|address-stack|blue-green-site|dns-registrar)\\.test\\.ts$',
    '<rootDir>/test/failover-pair/haproxy-failover-pair\\.test\\.ts$',
    '<rootDir>/test/fleet/',
    '<rootDir>/test/launch-loop/(launch-loop-guard|reference-site-guard)\\.test\\.ts$',
    '<rootDir>/test/leader/leader-election\\.test\\.ts$',
    '<rootDir>/test/mysql/replicated-mysql\\.test\\.ts$',
    '<rootDir>/test/workers/(fleet-mixed-instances|queue-worker-fleet)\\.test\\.ts$',
  ],
  // Snapshot files belong to the synth tests skipped above; a mutant must never rewrite one.
  ci: true,
};
