/**
 * The MySQL provisioner's Secrets Manager call at the wire: GetSecretValue with the real client against the harness
 * (JSON 1.1, the API Reference's example response), success and each handled error.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readSecret, type Clients } from '../../lambda/mysql-provisioner/io';
import * as wire from './bodies';
import { thrown } from './clients';
import { useWireServer } from './use-wire-server';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:DataMysqlMaster-a1b2c3';
const harness = useWireServer();
const { sleeps } = harness;
const timing = { sleep: harness.sleep, random: () => 0.5 };
let clients: Clients;
beforeAll(() => {
  const unused = () => Promise.reject(new Error('not used here'));
  clients = { secrets: harness.client(SecretsManagerClient), runPlan: unused, respond: unused, endpointOf: unused };
});

/** GetSecretValue, in the API Reference's example response layout. */
const secretValue = (secret: unknown) =>
  wire.jsonOk({ ARN, CreatedDate: 1.523477145713e9, Name: 'DataMysqlMaster', SecretString: JSON.stringify(secret), VersionId: 'EXAMPLE1-90ab-cdef-fedc-ba987SECRET1', VersionStages: ['AWSCURRENT'] }, '1.1');

test('reads username and password; throttling is retried', async () => {
  harness.server.on('GetSecretValue', wire.secretsManager.throttling(), secretValue({ username: 'admin', password: 'EXAMPLE-PASSWORD', engine: 'mysql' }));
  expect(await readSecret(clients, ARN, timing)).toEqual({ username: 'admin', password: 'EXAMPLE-PASSWORD' });
  expect(sleeps).toHaveLength(1);
  expect(harness.server.calls('GetSecretValue')[1].json).toEqual({ SecretId: ARN });
});

test('a missing secret fails at once, with Secrets Manager\'s name', async () => {
  harness.server.on('GetSecretValue', wire.secretsManager.resourceNotFound());
  expect(await thrown(readSecret(clients, ARN, timing))).toMatchObject({ name: 'ResourceNotFoundException' });
  expect(harness.server.calls('GetSecretValue')).toHaveLength(1);
});

test('a secret the function may not decrypt fails at once (DecryptionFailure is not transient)', async () => {
  harness.server.on('GetSecretValue', wire.secretsManager.decryptionFailure());
  expect(await thrown(readSecret(clients, ARN, timing))).toMatchObject({ name: 'DecryptionFailure' });
  expect(harness.server.calls('GetSecretValue')).toHaveLength(1);
});

test('a secret without a password is an error that names the secret', async () => {
  harness.server.on('GetSecretValue', secretValue({ username: 'admin' }));
  await expect(readSecret(clients, ARN, timing)).rejects.toThrow(`secret ${ARN} holds no password`);
});
