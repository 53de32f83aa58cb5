// jest.config.js: a complete jest config for a CDK app made by `cdk init app --language typescript`, with the
// TypeScript transform (@swc/jest, which cdk init installs) and resilient-fleet's snapshot serializer.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['@swc/jest'],
  },
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  snapshotSerializers: ['resilient-fleet/jest-serializer'],
};
