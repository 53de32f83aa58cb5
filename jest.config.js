/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  setupFiles: ['<rootDir>/test/setup-env.js'],
  snapshotSerializers: ['<rootDir>/lib/testing/asset-hash-serializer.ts'],
  // CDK synths are CPU-bound; two workers match the two cores CI has.
  maxWorkers: 2,
  testTimeout: 60_000,
};
