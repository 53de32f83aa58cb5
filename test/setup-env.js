// Unit tests turn off aws-cdk-lib's built-in CloudFormation validation (about 2.5 s per process);
// test/reference-site.test.ts turns it back on explicitly for the whole reference site.
process.env.CDK_VALIDATION = process.env.CDK_VALIDATION ?? 'false';
process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
// Never reach AWS from a test: no credentials, a fixed region for SDK clients built in handlers.
process.env.AWS_REGION = process.env.AWS_REGION ?? 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'test-only-not-a-secret';
