/**
 * A real DynamoDB implementation for ledger tests: dynalite (in memory, on loopback) behind the real SDK v3 clients, so
 * condition expressions, update expressions, expression attribute names and values, key schemas and the
 * ConditionalCheckFailedException are DynamoDB's own rules, parsed by the SDK from the wire, not a string match.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
// dynalite ships no types: a function returning an http.Server.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => import('node:http').Server;

export interface Ledger {
  /** A document client as the code under test builds it (undefined attributes removed). */
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Every item of the table (a scan), for assertions. */
  items(): Promise<Array<Record<string, any>>>;
  stop(): Promise<void>;
}

/** Starts dynalite on 127.0.0.1 and creates one table with string keys (`hash`, and `range` when given). */
export async function startLedger(keys: { hash: string; range?: string }, tableName = 'ledger'): Promise<Ledger> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'test-only-not-a-secret' },
    // dynalite never throttles; a failure must show, not be retried away.
    maxAttempts: 1,
  });
  const schema: KeySchemaElement[] = [{ AttributeName: keys.hash, KeyType: 'HASH' }];
  if (keys.range) schema.push({ AttributeName: keys.range, KeyType: 'RANGE' });
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: schema,
      AttributeDefinitions: schema.map((k) => ({ AttributeName: k.AttributeName!, AttributeType: 'S' })),
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const ddb = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    ddb,
    tableName,
    async items() {
      const out = await ddb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
      return out.Items ?? [];
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
