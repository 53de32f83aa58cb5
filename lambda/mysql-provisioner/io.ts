/**
 * The provisioner's outside world: Secrets Manager (the master secret and each site user's password), MySQL (through
 * lambda/mysql-shared/db.ts) and the CloudFormation response URL. Clients are created once and can be replaced in tests.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isNotFound, isTransient } from '../shared/errors';
import { retry, type RetryOptions } from '../shared/retry';
import * as db from '../mysql-shared/db';
import { endpointOf } from '../mysql-shared/endpoint';
import type { GrantRow, Statement } from './sql';

export interface Clients {
  readonly secrets: SecretsManagerClient;
  /**
   * Connects as the master user, reads the users' current privileges, builds the plan from them and runs it; returns
   * the number of statements run.
   */
  readonly runPlan: (target: db.ConnectOptions, users: readonly string[], build: (current: GrantRow[]) => readonly Statement[]) => Promise<number>;
  /** PUTs the response document to CloudFormation's pre-signed URL. */
  readonly respond: (url: string, body: string) => Promise<void>;
  /** Follows db-master to the RDS endpoint name (see lambda/mysql-shared/endpoint.ts). */
  readonly endpointOf: (name: string, fallback?: string) => Promise<string>;
}

export type Timing = Pick<RetryOptions, 'sleep' | 'now' | 'random'>;

let cached: Clients | undefined;

export function defaultClients(): Clients {
  cached ??= {
    secrets: new SecretsManagerClient({}),
    runPlan: async (target, users, build) => {
      const conn = await db.connect(target);
      try {
        return await db.provision(conn, users, build);
      } finally {
        await conn.end().catch(() => undefined);
      }
    },
    endpointOf: (name, fallback) => endpointOf(name, fallback),
    respond: async (url, body) => {
      const res = await fetch(url, { method: 'PUT', body, headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) } });
      if (!res.ok) throw new Error(`CloudFormation response PUT answered ${res.status}`);
    },
  };
  return cached;
}

export interface SecretValue {
  readonly username?: string;
  readonly password: string;
}

/** A secret's JSON (`password`, and `username` where present); retried on throttling and 5xx, never on a missing secret. */
export async function readSecret(clients: Clients, secretId: string, timing: Timing = {}): Promise<SecretValue> {
  const out = await retry(() => clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId })), { retryable: (e) => isTransient(e) && !isNotFound(e), deadlineMs: 20_000, ...timing });
  const parsed = JSON.parse(out.SecretString ?? '{}') as Partial<SecretValue>;
  if (typeof parsed.password !== 'string' || parsed.password === '') throw new Error(`secret ${secretId} holds no password`);
  return { username: parsed.username, password: parsed.password };
}

/** Sends the response, retrying a few times: a lost response leaves the stack waiting for an hour. */
export async function sendResponse(clients: Clients, url: string, body: unknown, timing: Timing = {}): Promise<void> {
  const text = JSON.stringify(body);
  await retry(() => clients.respond(url, text), { retryable: () => true, deadlineMs: 30_000, maxAttempts: 5, ...timing });
}
