import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { createHandler, type CustomResourceEvent } from '../../lambda/mysql-provisioner/index';
import { decide, FAILED_CREATE, parseProperties, type SiteProperties } from '../../lambda/mysql-provisioner/logic';
import { planProvision, planRemove, redact, ROLE_PRIVILEGES, type SiteSpec } from '../../lambda/mysql-provisioner/sql';
import type { GrantRow, Statement } from '../../lambda/mysql-provisioner/sql';
import { noWait, silentLogger } from './fake-rds';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';

const sm = mockClient(SecretsManagerClient);
const secrets: Record<string, object> = {
  'arn:master': { username: 'admin', password: 'master-pw', host: 'ignored', port: 3306 },
  'arn:app': { username: 'shop_app', password: 'app-pw' },
  'arn:mig': { username: 'shop_mig', password: 'mig-pw' },
};
let plans: Array<{ target: { host: string; user: string; password: string; tls: boolean }; plan: readonly Statement[] }>;
let responses: Array<Record<string, unknown>>;
let runFails: Error | undefined;
let runHangs = false;
let currentGrants: GrantRow[] = [];

const handler = createHandler({
  clients: () => ({
    secrets: new SecretsManagerClient({}),
    runPlan: async (target, _users, build) => {
      if (runFails) throw runFails;
      if (runHangs) return new Promise<number>(() => undefined);
      const plan = build(currentGrants);
      plans.push({ target, plan });
      return plan.length;
    },
    respond: async (_url, body) => {
      responses.push(JSON.parse(body));
    },
    endpointOf: async (name, fallback) => (name === 'db-master.shop.db.internal' ? 'shop-replica-1.abcexample.eu-west-1.rds.amazonaws.com' : fallback ?? name),
  }),
  timing: noWait,
  logger: silentLogger,
});

const props = (over: Partial<SiteProperties> = {}): SiteProperties => ({
  Database: 'shop',
  Users: [
    { Name: 'shop_app', Role: 'app', SecretArn: 'arn:app' },
    { Name: 'shop_mig', Role: 'migrate', SecretArn: 'arn:mig' },
  ],
  RequireTls: 'true',
  DropDatabaseOnDelete: 'false',
  Host: 'db-master.elsewhere.db.internal',
  FallbackHost: 'shop-primary.abcexample.eu-west-1.rds.amazonaws.com',
  Port: '3306',
  MasterSecretArn: 'arn:master',
  ...over,
});

const request = (type: 'Create' | 'Update' | 'Delete', p: SiteProperties, extra: Partial<CustomResourceEvent> = {}): CustomResourceEvent => ({
  RequestType: type,
  ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/example',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Data/guid',
  RequestId: 'unique-id-for-this-request',
  LogicalResourceId: 'SiteShop',
  ResourceType: 'Custom::MysqlSite',
  ResourceProperties: p,
  ...extra,
});

beforeEach(() => {
  sm.reset();
  sm.on(GetSecretValueCommand).callsFake(async (input: { SecretId: string }) => {
    const s = secrets[input.SecretId];
    if (!s) throw await parsedError(SecretsManagerClient, new GetSecretValueCommand({ SecretId: input.SecretId }), wire.secretsManager.resourceNotFound());
    return { ARN: input.SecretId, Name: 'x', SecretString: JSON.stringify(s) };
  });
  plans = [];
  responses = [];
  runFails = undefined;
  runHangs = false;
  currentGrants = [];
});

describe('SQL plans', () => {
  const spec: SiteSpec = { database: 'shop', requireTls: true, users: [{ name: 'shop_app', role: 'app', password: "p'w\\d" }] };

  test('create: database, user with TLS required, the role\'s privileges on the site database only', () => {
    expect(planProvision(spec).map((s) => s.sql)).toEqual([
      'CREATE DATABASE IF NOT EXISTS `shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
      "CREATE USER IF NOT EXISTS 'shop_app'@'%' IDENTIFIED BY ? REQUIRE SSL",
      "ALTER USER 'shop_app'@'%' IDENTIFIED BY ? REQUIRE SSL",
      "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, CREATE TEMPORARY TABLES ON `shop`.* TO 'shop_app'@'%'",
    ]);
  });

  test('re-run: grants first, then revokes only what the user holds beyond its role (no window without privileges)', () => {
    const g = (scope: GrantRow['scope'], privilege: string, schema?: string, table?: string, grantable = false): GrantRow => ({ grantee: "'shop_app'@'%'", scope, schema, table, privilege, grantable });
    const current = [g('global', 'USAGE'), g('global', 'PROCESS'), g('schema', 'SELECT', 'shop'), g('schema', 'DROP', 'shop', undefined, true), g('schema', 'SELECT', 'other'), g('table', 'UPDATE', 'shop', 'a`b'), { ...g('global', 'FILE'), grantee: "'someone'@'%'" }];
    const sql = planProvision(spec, undefined, current).map((s) => s.sql);
    expect(sql.slice(3)).toEqual([
      "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, CREATE TEMPORARY TABLES ON `shop`.* TO 'shop_app'@'%'",
      "REVOKE PROCESS ON *.* FROM 'shop_app'@'%'",
      "REVOKE SELECT ON `other`.* FROM 'shop_app'@'%'",
      "REVOKE DROP, GRANT OPTION ON `shop`.* FROM 'shop_app'@'%'",
      "REVOKE UPDATE ON `shop`.`a``b` FROM 'shop_app'@'%'",
    ]);
  });

  test('no role holds a global, GRANT OPTION, FILE, SUPER or PROCESS privilege', () => {
    for (const privileges of Object.values(ROLE_PRIVILEGES)) {
      expect(privileges.filter((p) => /GRANT|FILE|SUPER|PROCESS|SHUTDOWN|RELOAD|CREATE USER/.test(p))).toEqual([]);
    }
  });

  test('update drops the users that are no longer wanted; delete keeps the data unless asked', () => {
    const previous: SiteSpec = { ...spec, users: [...spec.users, { name: 'shop_old', role: 'read-only', password: 'x' }] };
    // The alternating-users clone of a removed user goes with it.
    expect(planProvision(spec, previous).slice(-2).map((s) => s.sql)).toEqual(["DROP USER IF EXISTS 'shop_old'@'%'", "DROP USER IF EXISTS 'shop_old_clone'@'%'"]);
    expect(planRemove(spec, false).map((s) => s.sql)).toEqual(["DROP USER IF EXISTS 'shop_app'@'%'", "DROP USER IF EXISTS 'shop_app_clone'@'%'"]);
    expect(planRemove(spec, true).at(-1)?.sql).toBe('DROP DATABASE IF EXISTS `shop`');
  });

  test('refuses names that could not be quoted safely, listing every problem', () => {
    expect(() => planProvision({ ...spec, database: 'shop`; DROP DATABASE mysql; --' })).toThrow(/database name/);
    expect(() => planProvision({ ...spec, database: 'mysql' })).toThrow(/system schema/);
    expect(() => planProvision({ ...spec, users: [{ name: "x'@'%", role: 'app', password: 'p' }, { name: 'a'.repeat(40), role: 'app', password: 'p' }] })).toThrow(/user name "x'@'%".*longer than 32/);
    expect(() => planProvision({ ...spec, users: [spec.users[0], spec.users[0]] })).toThrow(/repeat/);
  });

  test('property: a password never appears in the SQL text or in the redacted log line', () => {
    fc.assert(
      // Any characters at all (quotes, backticks, backslashes, unicode), marked so they cannot match SQL by chance.
      fc.property(fc.string({ maxLength: 40 }).map((s) => `pw§${s}§`), (password) => {
        const plan = planProvision({ ...spec, users: [{ name: 'shop_app', role: 'app', password }] });
        return plan.every((s) => !s.sql.includes(password) && !redact(s).includes(password)) && plan.some((s) => s.values.includes(password));
      }),
    );
  });
});

describe('provisioner decisions', () => {
  test('the physical id names the database; a Delete after a failed Create does nothing', () => {
    expect(decide(request('Create', props()))).toMatchObject({ kind: 'provision', physicalId: 'mysql-site:shop', secrets: ['arn:app', 'arn:mig'] });
    expect(decide(request('Delete', props(), { PhysicalResourceId: FAILED_CREATE }))).toMatchObject({ kind: 'nothing' });
  });

  test('rejects malformed properties with every problem named', () => {
    expect(() => parseProperties({ Database: '', Users: [{ Name: 'a', Role: 'admin', SecretArn: 'x' }], Host: '', Port: 'x', MasterSecretArn: '' })).toThrow(
      /Database must be.*Role must be one of app, migrate, read-only, got "admin".*Host.*Port.*MasterSecretArn/,
    );
  });
});

describe('provisioner handler', () => {
  test('Create runs the plan as the master user with passwords from the secrets and answers SUCCESS', async () => {
    const out = await handler(request('Create', props()));
    expect(out).toMatchObject({ status: 'SUCCESS', physicalId: 'mysql-site:shop' });
    expect(plans[0].target).toMatchObject({ host: 'shop-primary.abcexample.eu-west-1.rds.amazonaws.com', user: 'admin', password: 'master-pw', tls: true });
    expect(plans[0].plan.find((s) => s.sql.startsWith("CREATE USER IF NOT EXISTS 'shop_mig'"))?.values).toEqual(['mig-pw']);
    expect(responses).toEqual([expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'mysql-site:shop', RequestId: 'unique-id-for-this-request', LogicalResourceId: 'SiteShop', Data: { Database: 'shop' } })]);
    expect(JSON.stringify(responses)).not.toMatch(/pw/);
  });

  test('connects to where db-master points (after a promotion, the new primary), not to the endpoint known at deploy time', async () => {
    await handler(request('Update', props({ Host: 'db-master.shop.db.internal' }), { PhysicalResourceId: 'mysql-site:shop', OldResourceProperties: props() }));
    expect(plans[0].target.host).toBe('shop-replica-1.abcexample.eu-west-1.rds.amazonaws.com');
  });

  test('Update with the same database drops a removed user; the physical id stays', async () => {
    const next = props({ Users: [{ Name: 'shop_app', Role: 'app', SecretArn: 'arn:app' }] });
    const out = await handler(request('Update', next, { PhysicalResourceId: 'mysql-site:shop', OldResourceProperties: props() }));
    expect(out.physicalId).toBe('mysql-site:shop');
    expect(plans[0].plan.slice(-2).map((s) => s.sql)).toEqual(["DROP USER IF EXISTS 'shop_mig'@'%'", "DROP USER IF EXISTS 'shop_mig_clone'@'%'"]);
  });

  test('Update to another database is a replacement: new physical id, old users left for the Delete that follows', async () => {
    const next = props({ Database: 'shop2', Users: [{ Name: 'shop2_app', Role: 'app', SecretArn: 'arn:app' }] });
    const out = await handler(request('Update', next, { PhysicalResourceId: 'mysql-site:shop', OldResourceProperties: props() }));
    expect(out.physicalId).toBe('mysql-site:shop2');
    expect(plans[0].plan.some((s) => s.sql.includes('DROP USER'))).toBe(false);
  });

  test('Delete drops the users and keeps the database; a repeated Delete is harmless', async () => {
    await handler(request('Delete', props(), { PhysicalResourceId: 'mysql-site:shop' }));
    await handler(request('Delete', props(), { PhysicalResourceId: 'mysql-site:shop' }));
    expect(plans.map((p) => p.plan.map((s) => s.sql))).toEqual([
      ["DROP USER IF EXISTS 'shop_app'@'%'", "DROP USER IF EXISTS 'shop_app_clone'@'%'", "DROP USER IF EXISTS 'shop_mig'@'%'", "DROP USER IF EXISTS 'shop_mig_clone'@'%'"],
      ["DROP USER IF EXISTS 'shop_app'@'%'", "DROP USER IF EXISTS 'shop_app_clone'@'%'", "DROP USER IF EXISTS 'shop_mig'@'%'", "DROP USER IF EXISTS 'shop_mig_clone'@'%'"],
    ]);
    expect(responses.map((r) => r.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  test('a failed Create answers FAILED with the marker id, so the rollback Delete touches nothing', async () => {
    runFails = new Error("connect ETIMEDOUT");
    const out = await handler(request('Create', props()));
    expect(out).toMatchObject({ status: 'FAILED', physicalId: FAILED_CREATE });
    expect(responses[0]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: FAILED_CREATE, Reason: expect.stringContaining('ETIMEDOUT') });
    runFails = undefined;
    await handler(request('Delete', props(), { PhysicalResourceId: FAILED_CREATE }));
    expect(plans).toEqual([]);
    expect(responses[1]).toMatchObject({ Status: 'SUCCESS' });
  });

  test('answers FAILED before the Lambda timeout when the database does not answer (CloudFormation would wait an hour)', async () => {
    runHangs = true;
    // 20,050 ms left: the handler keeps 20 s to answer, so it gives the database 50 ms of the (fake) clock, not one more.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    let out: Awaited<ReturnType<typeof handler>> | undefined;
    try {
      const pending = handler(request('Update', props(), { PhysicalResourceId: 'mysql-site:shop', OldResourceProperties: props() }), { getRemainingTimeInMillis: () => 20_050, logStreamName: 'stream-1' }).then((o) => (out = o));
      await jest.advanceTimersByTimeAsync(49);
      expect(out).toBeUndefined();
      expect(responses).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(out).toBeDefined();
      await pending;
    } finally {
      jest.useRealTimers();
    }
    expect(out).toMatchObject({ status: 'FAILED', physicalId: 'mysql-site:shop', reason: expect.stringMatching(/no result after 0 s/) });
    expect(responses[0]).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('stream-1') });
  });

  test('a missing secret fails the request (and still answers); throttled secret reads are retried', async () => {
    const out = await handler(request('Create', props({ Users: [{ Name: 'shop_app', Role: 'app', SecretArn: 'arn:missing' }] })));
    expect(out.status).toBe('FAILED');
    expect(responses[0].Reason).toMatch(/can't find the specified secret/);
    const throttled = await parsedError(SecretsManagerClient, new GetSecretValueCommand({ SecretId: 'arn:app' }), wire.secretsManager.throttling());
    sm.on(GetSecretValueCommand, { SecretId: 'arn:app' })
      .rejectsOnce(throttled)
      .resolves({ SecretString: JSON.stringify(secrets['arn:app']) });
    const ok = await handler(request('Create', props()));
    expect(ok.status).toBe('SUCCESS');
    expect(sm.commandCalls(GetSecretValueCommand, { SecretId: 'arn:app' })).toHaveLength(2);
  });
});

describe('SQL plans across an alternating-users rotation', () => {
  const base: SiteSpec = { database: 'shop', requireTls: true, users: [{ name: 'shop_app', role: 'app', password: 'pw-2', activeName: 'shop_app_clone' }] };
  const grant = (grantee: string, privilege: string) => ({ grantee, scope: 'schema' as const, schema: 'shop', privilege, grantable: false });

  test('the secret names the clone: the clone gets the password, the user keeps its own but stays in step with the role', () => {
    const plan = planProvision(base, undefined, [grant("'shop_app'@'%'", 'SELECT'), grant("'shop_app_clone'@'%'", 'DROP')]);
    const sql = plan.map((s) => s.sql);
    expect(plan.find((s) => s.sql === "ALTER USER 'shop_app_clone'@'%' IDENTIFIED BY ? REQUIRE SSL")?.values).toEqual(['pw-2']);
    expect(sql).not.toContain("ALTER USER 'shop_app'@'%' IDENTIFIED BY ? REQUIRE SSL");
    expect(sql).toContain("ALTER USER 'shop_app'@'%' REQUIRE SSL");
    expect(sql).toContain("GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, CREATE TEMPORARY TABLES ON `shop`.* TO 'shop_app'@'%'");
    expect(sql).toContain("GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, CREATE TEMPORARY TABLES ON `shop`.* TO 'shop_app_clone'@'%'");
    expect(sql).toContain("REVOKE DROP ON `shop`.* FROM 'shop_app_clone'@'%'");
  });

  test('the secret names the user: an existing clone keeps its password and is kept in step; a missing one is not created', () => {
    const back: SiteSpec = { ...base, users: [{ ...base.users[0], activeName: 'shop_app' }] };
    const withClone = planProvision(back, undefined, [grant("'shop_app_clone'@'%'", 'SELECT')]).map((s) => s.sql);
    expect(withClone).toContain("ALTER USER 'shop_app'@'%' IDENTIFIED BY ? REQUIRE SSL");
    expect(withClone).toContain("ALTER USER 'shop_app_clone'@'%' REQUIRE SSL");
    expect(planProvision(back).map((s) => s.sql).some((s) => s.includes('shop_app_clone'))).toBe(false);
  });

  test('a secret naming another account is refused', () => {
    expect(() => planProvision({ ...base, users: [{ ...base.users[0], activeName: 'root' }] })).toThrow(/names the account "root"/);
  });
});
