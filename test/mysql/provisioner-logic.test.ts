/**
 * The site provisioner's pure decisions at every branch: reading CloudFormation's string-typed properties, what each
 * user's secret means (a bare password, or the account an alternating-users rotation switched to), and the plan per
 * request type. Expected SQL and messages are written out.
 */
import { decide, FAILED_CREATE, parseProperties, specOf, type CfnRequest, type SiteProperties } from '../../lambda/mysql-provisioner/logic';

const props = (over: Partial<SiteProperties> = {}): SiteProperties => ({
  Database: 'shop',
  Users: [
    { Name: 'shop_app', Role: 'app', SecretArn: 'arn:app' },
    { Name: 'shop_mig', Role: 'migrate', SecretArn: 'arn:mig' },
  ],
  Host: 'db-master.shop.db.internal',
  Port: '3306',
  MasterSecretArn: 'arn:master',
  ...over,
});

const problems = (p: unknown): string => {
  try {
    parseProperties(p);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no problem';
};

const sqlOf = (request: CfnRequest, secrets: Record<string, string> = { 'arn:app': 'pw-a', 'arn:mig': 'pw-m' }): string[] => {
  const d = decide(request);
  if (d.kind !== 'provision') throw new Error(`expected a provision, got ${d.kind}`);
  return d.plan(secrets, []).map((s) => s.sql);
};

describe('parseProperties', () => {
  test('accepts the properties as CloudFormation sends them, and a numeric port', () => {
    expect(problems(props())).toBe('no problem');
    expect(problems(props({ Port: 3306 }))).toBe('no problem');
  });

  test.each([
    ['a database that is not a string', { Database: 5 }, 'Database must be a non-empty string'],
    ['users that are not a list', { Users: 'shop_app' }, 'Users must be a list'],
    ['a host that is not a string', { Host: 5 }, 'Host must be a non-empty string'],
    ['port 0', { Port: '0' }, 'Port must be a port number, got "0"'],
    ['a negative port', { Port: '-1' }, 'Port must be a port number, got "-1"'],
    ['a master secret that is not a string', { MasterSecretArn: 5 }, 'MasterSecretArn must be a non-empty string'],
  ])('rejects %s', (_name, over, message) => {
    expect(problems({ ...props(), ...over })).toBe(`mysql-provisioner: invalid properties: ${message}`);
  });

  test('a user without a string Name or SecretArn is named by its index, each one', () => {
    const users = [null, { Name: 7, Role: 'app', SecretArn: 'arn:a' }, { Name: 'a', Role: 'app' }, { Name: 'b', Role: 'app', SecretArn: 'arn:b' }];
    expect(problems({ ...props(), Users: users })).toBe(
      'mysql-provisioner: invalid properties: Users[0] needs Name and SecretArn; Users[1] needs Name and SecretArn; Users[2] needs Name and SecretArn',
    );
  });

  test('every problem at once, joined', () => {
    expect(problems({ ...props(), Database: '', Port: 0 })).toBe('mysql-provisioner: invalid properties: Database must be a non-empty string; Port must be a port number, got 0');
  });
});

describe('specOf', () => {
  test('TLS is required by default and unless RequireTls is false', () => {
    const tls = (v: string | boolean | undefined) => specOf(props({ RequireTls: v }), {}).requireTls;
    expect(tls(undefined)).toBe(true);
    expect(tls('true')).toBe(true);
    expect(tls(true)).toBe(true);
    expect(tls('false')).toBe(false);
    expect(tls(false)).toBe(false);
  });

  test('a bare string secret is the password of the user itself', () => {
    expect(specOf(props(), { 'arn:app': 'pw-a' }).users[0]).toStrictEqual({ name: 'shop_app', role: 'app', password: 'pw-a' });
  });

  test('a missing secret gives an empty password (a Delete reads none)', () => {
    expect(specOf(props(), {}).users[1]).toStrictEqual({ name: 'shop_mig', role: 'migrate', password: '' });
  });

  test('a secret naming the clone switches the account; naming the user itself, or nothing, does not', () => {
    const users = specOf(props(), {
      'arn:app': { username: 'shop_app_clone', password: 'pw-2' },
      'arn:mig': { username: 'shop_mig', password: 'pw-m' },
    }).users;
    expect(users).toStrictEqual([
      { name: 'shop_app', role: 'app', password: 'pw-2', activeName: 'shop_app_clone' },
      { name: 'shop_mig', role: 'migrate', password: 'pw-m' },
    ]);
    expect(specOf(props(), { 'arn:app': { password: 'pw-3' } }).users[0]).toStrictEqual({ name: 'shop_app', role: 'app', password: 'pw-3' });
  });

  test('a secret naming some other account (made before a rename) means the user itself', () => {
    expect(specOf(props(), { 'arn:app': { username: 'old_app', password: 'pw' } }).users[0]).toStrictEqual({ name: 'shop_app', role: 'app', password: 'pw' });
  });
});

describe('decide: Delete', () => {
  const del = (physicalId: string | undefined, p: unknown = props()): CfnRequest =>
    ({ RequestType: 'Delete', ResourceProperties: p, ...(physicalId === undefined ? {} : { PhysicalResourceId: physicalId }) }) as CfnRequest;

  test('the failed-create marker is a fixed id (a stack created by an older version still deletes cleanly)', () => {
    expect(FAILED_CREATE).toBe('mysql-site:failed-create');
    expect(decide(del('mysql-site:failed-create'))).toEqual({ kind: 'nothing', physicalId: 'mysql-site:failed-create', reason: 'the Create of this resource failed; nothing was made' });
    expect(decide(del(undefined))).toEqual({ kind: 'nothing', physicalId: 'mysql-site:failed-create', reason: 'the Create of this resource failed; nothing was made' });
  });

  test('a physical id that is not a site of ours removes nothing', () => {
    expect(decide(del('2026/11/22/[$LATEST]abc'))).toEqual({ kind: 'nothing', physicalId: '2026/11/22/[$LATEST]abc', reason: 'the Create of this resource failed; nothing was made' });
  });

  test('unreadable properties remove nothing', () => {
    expect(decide(del('mysql-site:shop', { Database: 'shop' }))).toEqual({ kind: 'nothing', physicalId: 'mysql-site:shop', reason: 'properties unreadable; nothing removed' });
  });

  test("properties naming another database remove nothing of this resource's", () => {
    expect(decide(del('mysql-site:old'))).toEqual({ kind: 'nothing', physicalId: 'mysql-site:old', reason: "properties name shop, not this resource's database" });
  });

  test("the site's own Delete drops its users and their clones, and the database only when asked", () => {
    expect(decide(del('mysql-site:shop'))).toEqual({
      kind: 'remove',
      physicalId: 'mysql-site:shop',
      plan: [
        { sql: "DROP USER IF EXISTS 'shop_app'@'%'", values: [] },
        { sql: "DROP USER IF EXISTS 'shop_app_clone'@'%'", values: [] },
        { sql: "DROP USER IF EXISTS 'shop_mig'@'%'", values: [] },
        { sql: "DROP USER IF EXISTS 'shop_mig_clone'@'%'", values: [] },
      ],
    });
    for (const drop of ['true', true] as const) {
      const d = decide(del('mysql-site:shop', props({ DropDatabaseOnDelete: drop })));
      expect(d.kind === 'remove' && d.plan.map((s) => s.sql)).toContain('DROP DATABASE IF EXISTS `shop`');
    }
    for (const keep of ['false', false, undefined] as const) {
      const d = decide(del('mysql-site:shop', props({ DropDatabaseOnDelete: keep })));
      expect(d.kind === 'remove' && d.plan.map((s) => s.sql)).not.toContain('DROP DATABASE IF EXISTS `shop`');
    }
  });
});

describe('decide: Create and Update', () => {
  const withOld = props({ Users: [...props().Users, { Name: 'shop_old', Role: 'read-only', SecretArn: 'arn:old' }] });

  test('reads each secret once, in a fixed order, and covers every user and its clone', () => {
    const d = decide({ RequestType: 'Create', ResourceProperties: props({ Users: [{ Name: 'b_user', Role: 'app', SecretArn: 'arn:b' }, { Name: 'a_user', Role: 'migrate', SecretArn: 'arn:a' }, { Name: 'c_user', Role: 'read-only', SecretArn: 'arn:b' }] }) });
    expect(d).toMatchObject({ kind: 'provision', physicalId: 'mysql-site:shop', secrets: ['arn:a', 'arn:b'], users: ['b_user', 'b_user_clone', 'a_user', 'a_user_clone', 'c_user', 'c_user_clone'] });
  });

  test('an Update drops the users the old properties had and the new ones do not (with their clones)', () => {
    const sql = sqlOf({ RequestType: 'Update', ResourceProperties: props(), OldResourceProperties: withOld, PhysicalResourceId: 'mysql-site:shop' });
    expect(sql.filter((s) => s.startsWith('DROP USER'))).toEqual(["DROP USER IF EXISTS 'shop_old'@'%'", "DROP USER IF EXISTS 'shop_old_clone'@'%'"]);
  });

  test('only an Update compares with old properties: a Create that carries some drops nothing', () => {
    const sql = sqlOf({ RequestType: 'Create', ResourceProperties: props(), OldResourceProperties: withOld, PhysicalResourceId: 'mysql-site:shop' });
    expect(sql.filter((s) => s.startsWith('DROP USER'))).toEqual([]);
  });

  test('an Update with unreadable old properties still provisions, and drops nothing', () => {
    const sql = sqlOf({ RequestType: 'Update', ResourceProperties: props(), OldResourceProperties: { Database: 'shop' } as SiteProperties, PhysicalResourceId: 'mysql-site:shop' });
    expect(sql).toContain("CREATE USER IF NOT EXISTS 'shop_app'@'%' IDENTIFIED BY ? REQUIRE SSL");
    expect(sql.filter((s) => s.startsWith('DROP USER'))).toEqual([]);
  });
});
