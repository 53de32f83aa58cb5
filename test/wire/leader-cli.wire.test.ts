/**
 * The leader CLI (instance/leader) as it runs on an instance: identity and tags from a fake IMDSv2 reached through the
 * SDKs' AWS_EC2_METADATA_SERVICE_ENDPOINT override, the ledger (DynamoDB) and the group (Auto Scaling) from the wire
 * harness through AWS_ENDPOINT_URL, with the real SDK clients.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imdsSession, IMDS_BASE_URL, metadataBaseUrl } from '../../lambda/shared/imds';
import { main } from '../../instance/leader/main';
import * as wire from './bodies';
import { FakeImds } from './fake-imds';
import { thrown } from './clients';
import { WireServer } from './server';

const ME = 'i-0aaaaaaaaaaaaaaa1';
const OTHER = 'i-0bbbbbbbbbbbbbbb2';
const GROUP = 'app-blue-asg';
const TAG = 'resilient-fleet:leader';

let server: WireServer;
let imds: FakeImds;
let dir: string;
let env: NodeJS.ProcessEnv;
let out: string[];
let err: string[];
const saved = { endpoint: process.env.AWS_ENDPOINT_URL, attempts: process.env.AWS_MAX_ATTEMPTS };

beforeAll(async () => {
  server = await WireServer.start();
  dir = mkdtempSync(join(tmpdir(), 'leader-cli-'));
  writeFileSync(join(dir, 'leader.json'), JSON.stringify({ tableName: 'ledger', tagKey: TAG, region: 'eu-west-1' }));
  // The SDK clients the CLI builds read these, as on an instance; one attempt each, so only the CLI's own retries run.
  process.env.AWS_ENDPOINT_URL = server.url;
  process.env.AWS_MAX_ATTEMPTS = '1';
});
beforeEach(async () => {
  imds = await FakeImds.start({ 'instance-id': ME, 'placement/region': 'eu-west-1', [`tags/instance/${TAG}`]: '4' });
  env = { LEADER_CONFIG: join(dir, 'leader.json'), AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url, DEPLOYMENT_ID: 'd-ABCDEF123' };
  out = [];
  err = [];
  server.on('DescribeAutoScalingInstances', wire.asgDescribeInstances([{ id: ME, group: GROUP }]));
});
afterEach(async () => {
  await imds.close();
  server.reset();
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.env.AWS_ENDPOINT_URL = saved.endpoint;
  process.env.AWS_MAX_ATTEMPTS = saved.attempts;
  if (saved.endpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
  if (saved.attempts === undefined) delete process.env.AWS_MAX_ATTEMPTS;
});

const instant = { sleep: async () => undefined, random: () => 0 };
/** Per-request metadata timeout: generous, so a loaded CI machine never turns a slow answer into an extra request. */
const SLOW_MACHINE_MS = 30_000;
const run = (...argv: string[]) => main(argv, { env, out: (l) => out.push(l), err: (l) => err.push(l), retry: instant, imds: { timeoutMs: SLOW_MACHINE_MS }, bootId: () => 'boot-1', exec: async () => 0 });
const ledger = (leader: string, term: number) => wire.jsonOk({ Item: { pk: { S: `${GROUP}#leader` }, sk: { S: 'leader' }, leader: { S: leader }, term: { N: String(term) }, since: { N: '1764572400000' } } });

describe('leader CLI against a fake IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT) and the wire harness', () => {
  test('leader-status reads identity and tag over IMDSv2 (token first), the group and the ledger', async () => {
    server.on('GetItem', ledger(ME, 4));
    expect(await run('status', '--json')).toBe(0);
    expect(JSON.parse(out[0])).toEqual({ group: GROUP, instanceId: ME, leader: ME, term: 4, since: '2025-12-01T07:00:00.000Z', isLeader: true, metadataTag: '4' });
    expect(imds.requests[0]).toBe('PUT /latest/api/token');
    expect(imds.requests.filter((r) => r.startsWith('PUT'))).toHaveLength(1); // one session token for every read
    expect(imds.requests).toContain(`GET /latest/meta-data/tags/instance/${TAG}`);
    const [get] = server.calls('dynamodb:GetItem');
    expect(get.json).toEqual({ TableName: 'ledger', Key: { pk: { S: `${GROUP}#leader` }, sk: { S: 'leader' } }, ConsistentRead: true });
    expect(server.calls('autoscaling:DescribeAutoScalingInstances')[0].form.get('InstanceIds.member.1')).toBe(ME);
  });

  test('leader-status --check exits 1 on a follower; a tag IMDS does not have (404) reads as absent', async () => {
    delete imds.values[`tags/instance/${TAG}`];
    server.on('GetItem', ledger(OTHER, 5));
    expect(await run('status', '--check')).toBe(1);
    expect(await run('status', '--json')).toBe(0);
    expect(JSON.parse(out[0])).toMatchObject({ isLeader: false, leader: OTHER, metadataTag: null });
  });

  test('IMDS 503s are retried, not taken as answers', async () => {
    server.on('GetItem', ledger(ME, 4));
    imds.failNext(2, 503);
    expect(await run('status', '--json')).toBe(0);
    expect(JSON.parse(out[0])).toMatchObject({ instanceId: ME, isLeader: true });
    expect(imds.requests.filter((r) => r === 'GET /latest/meta-data/instance-id').length).toBeGreaterThanOrEqual(3);
  });

  test('an instance the group does not list yet, Auto Scaling throttling and a grant still propagating (AccessDenied) are retried', async () => {
    server.on('GetItem', ledger(ME, 4));
    server.on('DescribeAutoScalingInstances', wire.asgDescribeInstances([]), wire.autoscaling.throttling(), wire.autoscaling.accessDenied('DescribeAutoScalingInstances'), wire.asgDescribeInstances([{ id: ME, group: GROUP }]));
    expect(await run('status', '--json')).toBe(0);
    expect(JSON.parse(out[0]).group).toBe(GROUP);
    expect(server.calls('DescribeAutoScalingInstances')).toHaveLength(4);
  });

  test('leader-only claims the run with a conditional put, runs the command, and records it done', async () => {
    server.on('GetItem', wire.jsonOk({}));
    server.on('PutItem', wire.jsonOk({}));
    server.on('UpdateItem', wire.jsonOk({}));
    expect(await run('only', '--', 'rake', 'db:migrate')).toBe(0);
    const put = server.calls('dynamodb:PutItem')[0].json;
    expect(put).toMatchObject({ TableName: 'ledger', ConditionExpression: 'attribute_not_exists(pk)', Item: { owner: { S: ME }, status: { S: 'RUNNING' }, attempt: { N: '1' } } });
    expect(server.calls('dynamodb:UpdateItem')[0].json).toMatchObject({ ExpressionAttributeValues: { ':status': { S: 'DONE' }, ':code': { N: '0' } } });
    expect(out.at(-1)).toMatch(/attempt 1 done/);
  });

  test('leader-only losing the claim race (ConditionalCheckFailedException on the wire) looks again and skips a done run', async () => {
    server.on('GetItem', wire.jsonOk({}), wire.jsonOk({ Item: { pk: { S: `${GROUP}#runs` }, sk: { S: 'run#d-ABCDEF123#rake' }, status: { S: 'DONE' }, attempt: { N: '1' }, owner: { S: OTHER }, bootId: { S: 'b' }, pid: { N: '7' }, startedAt: { N: '1' } } }));
    server.on('PutItem', wire.dynamodb.conditionalCheckFailed());
    expect(await run('only', '--', 'rake', 'db:migrate')).toBe(0);
    expect(server.calls('PutItem')).toHaveLength(1);
    expect(server.calls('UpdateItem')).toHaveLength(0);
    expect(out.at(-1)).toMatch(/not running it here/);
  });

  test('a missing ledger table (ResourceNotFoundException) is an error the CLI reports, not a silent success', async () => {
    server.on('GetItem', wire.dynamodb.resourceNotFound('ledger'));
    expect((await thrown(run('status'))).name).toBe('ResourceNotFoundException');
  });
});

describe('the shared IMDSv2 session (lambda/shared/imds.ts)', () => {
  test('the endpoint: the option, else AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local address', () => {
    expect(metadataBaseUrl({ baseUrl: 'http://127.0.0.1:1/', env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://x' } })).toBe('http://127.0.0.1:1');
    expect(metadataBaseUrl({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://[fd00:ec2::254]/' } })).toBe('http://[fd00:ec2::254]');
    expect(metadataBaseUrl({ env: {} })).toBe(IMDS_BASE_URL);
  });

  test('a token IMDS no longer accepts (401) is renewed within the session', async () => {
    const session = imdsSession({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url }, retry: instant, timeoutMs: SLOW_MACHINE_MS });
    expect(await session.get('instance-id')).toBe(ME);
    imds.expireTokens();
    expect(await session.get('placement/region')).toBe('eu-west-1');
    // The read with the expired token answers 401; the session fetches a new token and reads again.
    expect(imds.requests).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/instance-id', 'GET /latest/meta-data/placement/region', 'PUT /latest/api/token', 'GET /latest/meta-data/placement/region']);
  });

  test('an instance id that is not one is retried until the deadline, then fails', async () => {
    imds.values['instance-id'] = 'not-an-id';
    const session = imdsSession({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url }, retry: { ...instant, maxAttempts: 3 }, timeoutMs: SLOW_MACHINE_MS });
    await expect(session.identity()).rejects.toThrow(/instance-id answered "not-an-id"/);
    expect(imds.requests.filter((r) => r === 'GET /latest/meta-data/instance-id')).toHaveLength(3);
  });
});
