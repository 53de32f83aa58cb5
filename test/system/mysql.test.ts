/**
 * The provisioning SQL and the backup checks against a real MariaDB server on loopback, with its own temporary datadir.
 * The same modules the Lambdas run: lambda/mysql-provisioner/sql.ts (plans), lambda/mysql-restore-test/checks.ts (verdict)
 * and lambda/mysql-shared/db.ts (execution with mysql2).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { planProvision, planRemove, type SiteSpec } from '../../lambda/mysql-provisioner/sql';
import { evaluate } from '../../lambda/mysql-restore-test/checks';
import { observe, provision, runPlan } from '../../lambda/mysql-shared/db';
import { ROOT_PASSWORD, startMariaDb, type MariaDb } from '../mysql/mariadb';
import { requirePrograms } from './programs';

jest.setTimeout(60_000);

let server: MariaDb | undefined;
let root: Connection;
let dir: string;

const as = (user: string, password: string) => server!.as(user, password);

beforeAll(async () => {
  requirePrograms('mariadbd', 'mariadb-install-db');
  server = await startMariaDb();
  dir = path.dirname(server.datadir);
  root = await as('root', ROOT_PASSWORD);
});

afterAll(async () => {
  await root?.end().catch(() => undefined);
  await server?.stop();
});

const spec = (users: SiteSpec['users'], database = 'shop'): SiteSpec => ({ database, users, requireTls: false });

/** What the provisioner Lambda does: read the users' privileges, plan from them, run the plan. */
const provisionSite = (next: SiteSpec, previous?: SiteSpec) => provision(root, next.users.map((u) => u.name), (current) => planProvision(next, previous, current));

async function grantsOf(user: string): Promise<string> {
  const [rows] = await root.query<RowDataPacket[]>(`SHOW GRANTS FOR '${user}'@'%'`);
  return rows.map((r) => String(Object.values(r)[0])).join('\n');
}

async function userExists(user: string): Promise<boolean> {
  const [rows] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM mysql.user WHERE User = ?', [user]);
  return Number(rows[0].n) > 0;
}

describe('site provisioning on MariaDB', () => {
  test('create makes the database and users that can do exactly their role', async () => {
    await provisionSite(spec([{ name: 'shop_app', role: 'app', password: 'app-pw-1' }, { name: 'shop_migrate', role: 'migrate', password: 'mig-pw-1' }]));
    const migrate = await as('shop_migrate', 'mig-pw-1');
    await migrate.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB');
    await migrate.end();
    const app = await as('shop_app', 'app-pw-1');
    await app.query('INSERT INTO shop.orders VALUES (1, 10), (2, 20)');
    await expect(app.query('DROP TABLE shop.orders')).rejects.toThrow(/denied/i);
    await expect(app.query('CREATE DATABASE other')).rejects.toThrow(/denied/i);
    await expect(app.query('SELECT * FROM mysql.user')).rejects.toThrow(/denied/i);
    await app.end();
    expect(await grantsOf('shop_app')).not.toMatch(/ON \*\.\*.*(SELECT|INSERT)/);
  });

  test('re-running the same plan changes nothing and does not fail', async () => {
    const site = spec([{ name: 'shop_app', role: 'app', password: 'app-pw-1' }, { name: 'shop_migrate', role: 'migrate', password: 'mig-pw-1' }]);
    const before = await grantsOf('shop_app');
    await provisionSite(site);
    await provisionSite(site);
    expect(await grantsOf('shop_app')).toEqual(before);
    const [rows] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders');
    expect(Number(rows[0].n)).toBe(2);
  });

  test('update rotates a password, narrows a role and drops a user no longer wanted', async () => {
    const previous = spec([{ name: 'shop_app', role: 'app', password: 'app-pw-1' }, { name: 'shop_migrate', role: 'migrate', password: 'mig-pw-1' }]);
    const next = spec([{ name: 'shop_app', role: 'read-only', password: 'app-pw-2' }]);
    await provisionSite(next, previous);
    await expect(as('shop_app', 'app-pw-1')).rejects.toThrow(/denied/i);
    const app = await as('shop_app', 'app-pw-2');
    await expect(app.query('INSERT INTO shop.orders VALUES (3, 30)')).rejects.toThrow(/denied/i);
    const [rows] = await app.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders');
    expect(Number(rows[0].n)).toBe(2);
    await app.end();
    expect(await userExists('shop_migrate')).toBe(false);
  });

  test('a re-run takes away privileges granted by hand beyond the role (global, other databases, tables, GRANT OPTION)', async () => {
    await root.query('CREATE DATABASE IF NOT EXISTS other');
    await root.query('CREATE TABLE IF NOT EXISTS other.t (id INT PRIMARY KEY)');
    await root.query("GRANT PROCESS ON *.* TO 'shop_app'@'%'");
    await root.query("GRANT SELECT ON other.* TO 'shop_app'@'%'");
    await root.query("GRANT INSERT ON other.t TO 'shop_app'@'%'");
    await root.query("GRANT DROP ON shop.* TO 'shop_app'@'%' WITH GRANT OPTION");
    const site = spec([{ name: 'shop_app', role: 'read-only', password: 'app-pw-2' }]);
    await provisionSite(site);
    const grants = await grantsOf('shop_app');
    expect(grants).not.toMatch(/PROCESS|`other`|DROP|GRANT OPTION/);
    expect(grants).toMatch(/GRANT SELECT, EXECUTE, SHOW VIEW ON `shop`\.\*|GRANT SELECT, SHOW VIEW, EXECUTE ON `shop`\.\*/);
    await root.query('DROP DATABASE other');
  });

  test('the running application is never denied during a re-deploy (grant first, revoke extras after)', async () => {
    const site = spec([{ name: 'shop_app', role: 'read-only', password: 'app-pw-2' }]);
    const app = await as('shop_app', 'app-pw-2');
    let denied = 0;
    let queries = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          await app.query('SELECT COUNT(*) FROM shop.orders');
        } catch {
          denied++;
        }
        queries++;
      }
    })();
    for (let i = 0; i < 20; i++) await provisionSite(site);
    running = false;
    await loop;
    await app.end();
    expect(queries).toBeGreaterThan(20);
    expect(denied).toBe(0);
  });

  test('delete removes the users and keeps the data unless asked to drop it', async () => {
    const current = spec([{ name: 'shop_app', role: 'read-only', password: 'app-pw-2' }]);
    await runPlan(root, planRemove(current, false));
    await runPlan(root, planRemove(current, false)); // a repeated Delete is harmless
    expect(await userExists('shop_app')).toBe(false);
    const [rows] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders');
    expect(Number(rows[0].n)).toBe(2);
    await runPlan(root, planRemove(current, true));
    const [dbs] = await root.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'");
    expect(Number(dbs[0].n)).toBe(0);
  });
});

describe('backup checks on MariaDB', () => {
  beforeAll(async () => {
    await provisionSite(spec([{ name: 'blog_migrate', role: 'migrate', password: 'b-pw' }], 'blog'));
    await provisionSite(spec([{ name: 'wiki_migrate', role: 'migrate', password: 'w-pw' }], 'wiki'));
    await root.query('CREATE TABLE blog.posts (id INT PRIMARY KEY) ENGINE=InnoDB');
    await root.query('INSERT INTO blog.posts VALUES (1), (2), (3)');
    await root.query('CREATE VIEW blog.recent AS SELECT id FROM blog.posts');
    await root.query('CREATE TABLE wiki.pages (id INT PRIMARY KEY) ENGINE=InnoDB');
    await root.query('INSERT INTO wiki.pages VALUES (1)');
  });

  const verdictFor = async (databases: string[], referenceCounts: Record<string, number> = {}) => {
    const seen = await observe(root, databases);
    return evaluate({ expectedDatabases: databases, ...seen, referenceCounts, tolerancePercent: 0, toleranceRows: 0 });
  };

  test('a healthy copy passes, with databases, tables and rows counted', async () => {
    const verdict = await verdictFor(['blog', 'wiki'], { 'blog.posts': 3, 'wiki.pages': 1 });
    expect(verdict).toEqual({ ok: true, failures: [], databases: 2, tables: 2, rows: 4 });
  });

  test('a MyISAM table is reported as a failure', async () => {
    await root.query('CREATE TABLE wiki.legacy (id INT PRIMARY KEY) ENGINE=MyISAM');
    try {
      const verdict = await verdictFor(['blog', 'wiki']);
      expect(verdict.ok).toBe(false);
      expect(verdict.failures).toEqual([expect.objectContaining({ kind: 'not-innodb', object: 'wiki.legacy', detail: expect.stringContaining('MyISAM') })]);
    } finally {
      await root.query('DROP TABLE wiki.legacy');
    }
  });

  test('a missing database is reported as a failure', async () => {
    const verdict = await verdictFor(['blog', 'wiki', 'forum'], { 'forum.threads': 10 });
    expect(verdict.ok).toBe(false);
    expect(verdict.failures).toEqual([expect.objectContaining({ kind: 'missing-database', object: 'forum' })]);
  });

  test('a row count outside the tolerance and a missing table are reported', async () => {
    const verdict = await verdictFor(['blog', 'wiki'], { 'blog.posts': 300, 'wiki.pages': 1, 'wiki.gone': 5 });
    expect(verdict.failures.map((f) => `${f.kind} ${f.object}`)).toEqual(['row-count blog.posts', 'missing-table wiki.gone']);
  });

  test('a table that does not open is reported', async () => {
    // A real broken table: its index file is removed behind the server's back after the table cache is flushed.
    await root.query('CREATE TABLE wiki.broken (id INT PRIMARY KEY) ENGINE=MyISAM');
    await root.query('FLUSH TABLES wiki.broken');
    fs.rmSync(path.join(dir, 'data', 'wiki', 'broken.MYI'));
    try {
      const verdict = await verdictFor(['wiki']);
      expect(verdict.failures).toEqual([expect.objectContaining({ kind: 'table-does-not-open', object: 'wiki.broken' })]);
    } finally {
      await root.query('DROP TABLE IF EXISTS wiki.broken').catch(() => undefined);
      fs.rmSync(path.join(dir, 'data', 'wiki', 'broken.MYD'), { force: true });
      fs.rmSync(path.join(dir, 'data', 'wiki', 'broken.frm'), { force: true });
    }
  });
});
