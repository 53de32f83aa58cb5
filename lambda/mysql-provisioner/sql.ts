/**
 * Pure SQL generation for one site's logical database and its users. No SDK, no connection, no clock.
 *
 * Works on MySQL 8.0/8.4 and MariaDB 10.5+: only statements both servers accept
 * (`CREATE DATABASE IF NOT EXISTS`, `CREATE USER IF NOT EXISTS`, `ALTER USER ... IDENTIFIED BY`,
 * `REVOKE ALL PRIVILEGES, GRANT OPTION FROM`, `GRANT ... ON db.*`, `DROP USER IF EXISTS`). Every plan is idempotent:
 * running it twice leaves the server exactly as running it once.
 *
 * Passwords never appear in the SQL text: statements carry `?` placeholders and a list of values for the driver to escape,
 * so the text can be logged.
 */

/** What a user may do in its site's database. Least privilege: the application never gets DDL or the master user. */
export type UserRole = 'app' | 'migrate' | 'read-only';

/** Privileges per role, on `<database>.*` only (never global, never on `mysql.*`). */
export const ROLE_PRIVILEGES: Readonly<Record<UserRole, readonly string[]>> = {
  // The running application: rows only, plus temporary tables and stored routines it may call.
  app: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'EXECUTE', 'CREATE TEMPORARY TABLES'],
  // Schema migrations (the leader runs them): DDL on the site's own database, no GRANT OPTION.
  migrate: [
    'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'EXECUTE', 'CREATE TEMPORARY TABLES',
    'CREATE', 'ALTER', 'DROP', 'INDEX', 'REFERENCES', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER',
    'CREATE ROUTINE', 'ALTER ROUTINE', 'LOCK TABLES',
  ],
  // Reporting against db-replica.
  'read-only': ['SELECT', 'SHOW VIEW', 'EXECUTE'],
};

export interface SiteUser {
  /** MySQL user name (up to 32 characters on MySQL 8). */
  readonly name: string;
  readonly role: UserRole;
  /** The password (from Secrets Manager). Only ever passed as a placeholder value. */
  readonly password: string;
  /**
   * The account the secret names now: `name`, or `<name>_clone` once Secrets Manager's alternating-users rotation has
   * switched the secret to the clone. That account gets `password`; the other one of the pair keeps its own (the
   * secret's previous version, still in use by instances that read it before the rotation), but its privileges and
   * TLS rule are kept equal to the role's too.
   * @default name
   */
  readonly activeName?: string;
}

/** The second account of Secrets Manager's alternating-users strategy (the rotation function appends `_clone`). */
export function cloneNameOf(name: string): string {
  return `${name}_clone`;
}

/** The accounts a site user may hold on the server: itself, and its clone when the clone's name is a valid one. */
export function accountsOf(user: Pick<SiteUser, 'name'>): string[] {
  const clone = cloneNameOf(user.name);
  return userNameProblems(clone).length === 0 ? [user.name, clone] : [user.name];
}

export interface SiteSpec {
  readonly database: string;
  readonly users: readonly SiteUser[];
  /** Add `REQUIRE SSL` to every user, so the server refuses clear-text connections for them. */
  readonly requireTls: boolean;
  /** Host part of every account. @default '%' */
  readonly host?: string;
  /** @default 'utf8mb4' */
  readonly characterSet?: string;
  /** @default 'utf8mb4_unicode_ci' (exists on MySQL 8 and MariaDB alike) */
  readonly collation?: string;
}

export interface Statement {
  readonly sql: string;
  readonly values: readonly string[];
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;
const MAX_DATABASE = 64;
const MAX_USER = 32;
const HOST = /^[A-Za-z0-9.%_-]+$/;
const CHARSET = /^[a-z0-9_]+$/;

/** Problems with a database name, as messages; empty when valid. */
export function databaseNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (!IDENTIFIER.test(name)) problems.push(`database name ${JSON.stringify(name)} must start with a letter and hold only letters, digits and _`);
  if (name.length > MAX_DATABASE) problems.push(`database name ${JSON.stringify(name)} is longer than ${MAX_DATABASE} characters`);
  if (['mysql', 'sys', 'information_schema', 'performance_schema'].includes(name.toLowerCase())) {
    problems.push(`database name ${JSON.stringify(name)} is a system schema`);
  }
  return problems;
}

/** Problems with a user name, as messages; empty when valid. */
export function userNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (!IDENTIFIER.test(name)) problems.push(`user name ${JSON.stringify(name)} must start with a letter and hold only letters, digits and _`);
  if (name.length > MAX_USER) problems.push(`user name ${JSON.stringify(name)} is longer than ${MAX_USER} characters (MySQL 8's limit)`);
  return problems;
}

/** Throws if anything in the spec could not be quoted safely. Identifiers are checked, never escaped. */
export function assertValidSpec(spec: SiteSpec): void {
  const problems = [
    ...databaseNameProblems(spec.database),
    ...spec.users.flatMap((u) => userNameProblems(u.name)),
    ...spec.users.filter((u) => !(u.role in ROLE_PRIVILEGES)).map((u) => `user ${u.name}: unknown role ${JSON.stringify(u.role)}`),
  ];
  const host = spec.host ?? '%';
  if (!HOST.test(host)) problems.push(`host ${JSON.stringify(host)} is not a plain host pattern`);
  for (const v of [spec.characterSet ?? 'utf8mb4', spec.collation ?? 'utf8mb4_unicode_ci']) {
    if (!CHARSET.test(v)) problems.push(`character set or collation ${JSON.stringify(v)} is not valid`);
  }
  for (const u of spec.users) {
    const active = u.activeName ?? u.name;
    if (active !== u.name && active !== cloneNameOf(u.name)) {
      problems.push(`user ${u.name}: its secret names the account ${JSON.stringify(active)}, which is neither it nor its alternating-users clone ${cloneNameOf(u.name)}`);
    } else if (userNameProblems(active).length) {
      problems.push(...userNameProblems(active));
    }
  }
  const names = spec.users.flatMap((u) => accountsOf(u)).map((n) => n.toLowerCase());
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  if (dup.length) problems.push(`user names repeat: ${[...new Set(dup)].join(', ')}`);
  if (problems.length) throw new Error(`invalid site spec: ${problems.join('; ')}`);
}

const q = (id: string): string => `\`${id}\``;
const account = (user: string, host: string): string => `'${user}'@'${host}'`;

/** One privilege a user holds, as information_schema reports it (USER_, SCHEMA_ and TABLE_PRIVILEGES). */
export interface GrantRow {
  /** `'name'@'host'` */
  readonly grantee: string;
  readonly scope: 'global' | 'schema' | 'table';
  readonly schema?: string;
  readonly table?: string;
  readonly privilege: string;
  readonly grantable: boolean;
}

export interface Query {
  readonly sql: string;
  readonly values: readonly string[];
}

/** Every privilege the given accounts hold, at every level, in one query. */
export function currentGrantsQuery(users: readonly string[], host = '%'): Query {
  const grantees = users.map((u) => account(u, host));
  const marks = grantees.map(() => '?').join(', ') || 'NULL';
  return {
    sql:
      `SELECT GRANTEE AS grantee, 'global' AS scope, NULL AS \`schema\`, NULL AS \`table\`, PRIVILEGE_TYPE AS privilege, IS_GRANTABLE AS grantable FROM information_schema.USER_PRIVILEGES WHERE GRANTEE IN (${marks}) ` +
      `UNION ALL SELECT GRANTEE, 'schema', TABLE_SCHEMA, NULL, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE IN (${marks}) ` +
      `UNION ALL SELECT GRANTEE, 'table', TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE IN (${marks})`,
    values: [...grantees, ...grantees, ...grantees],
  };
}

/** A schema or table name found on the server, quoted (backticks doubled), for REVOKE. */
const quoteFound = (id: string): string => `\`${id.replace(/`/g, '``')}\``;

/**
 * Statements that bring the server to the spec: the database exists, each user exists with this password and exactly
 * the privileges of its role on the database, and users of `previous` that are no longer wanted are dropped. Safe to run
 * again and again.
 *
 * Privileges are granted first and only the extras found in `current` are revoked afterwards, never "revoke all, then
 * grant": a re-deploy must not leave a window in which the running application is denied what it needs.
 */
export function planProvision(spec: SiteSpec, previous?: SiteSpec, current: readonly GrantRow[] = []): Statement[] {
  assertValidSpec(spec);
  const host = spec.host ?? '%';
  const out: Statement[] = [
    {
      sql: `CREATE DATABASE IF NOT EXISTS ${q(spec.database)} CHARACTER SET ${spec.characterSet ?? 'utf8mb4'} COLLATE ${spec.collation ?? 'utf8mb4_unicode_ci'}`,
      values: [],
    },
  ];
  const exists = (name: string): boolean => current.some((g) => g.grantee.toLowerCase() === account(name, host).toLowerCase());
  for (const user of spec.users) {
    const active = user.activeName ?? user.name;
    for (const name of accountsOf(user)) {
      // The inactive clone is left alone unless the rotation made it (it exists); the user itself always exists.
      if (name !== active && name !== user.name && !exists(name)) continue;
      out.push(...planAccount(spec, { ...user, name }, name === active, current));
    }
  }
  if (previous) {
    const keep = new Set(spec.users.flatMap((u) => accountsOf(u)).map((n) => `${n.toLowerCase()}@${host}`));
    const prevHost = previous.host ?? '%';
    for (const user of previous.users) {
      for (const name of accountsOf(user)) {
        if (!keep.has(`${name.toLowerCase()}@${prevHost}`) && userNameProblems(name).length === 0 && HOST.test(prevHost)) {
          out.push({ sql: `DROP USER IF EXISTS ${account(name, prevHost)}`, values: [] });
        }
      }
    }
  }
  return out;
}

/**
 * One account of a site user: it exists with the role's privileges on the database and nothing else, and the TLS rule.
 * `setPassword`: it is the account the secret names, so it gets the secret's password; otherwise an existing account
 * keeps its password (the alternating-users rotation's previous credentials stay valid until the next rotation) and a
 * missing one is created with the secret's.
 */
function planAccount(spec: SiteSpec, user: SiteUser, setPassword: boolean, current: readonly GrantRow[]): Statement[] {
  const host = spec.host ?? '%';
  const out: Statement[] = [];
  {
    const tls = spec.requireTls ? ' REQUIRE SSL' : ' REQUIRE NONE';
    const who = account(user.name, host);
    const wanted = ROLE_PRIVILEGES[user.role];
    out.push({ sql: `CREATE USER IF NOT EXISTS ${who} IDENTIFIED BY ?${tls}`, values: [user.password] });
    if (setPassword) {
      // An existing user keeps its name but gets this password and TLS rule (a rotated secret, a changed requireTls).
      out.push({ sql: `ALTER USER ${who} IDENTIFIED BY ?${tls}`, values: [user.password] });
    } else {
      out.push({ sql: `ALTER USER ${who}${tls}`, values: [] });
    }
    out.push({ sql: `GRANT ${wanted.join(', ')} ON ${q(spec.database)}.* TO ${who}`, values: [] });
    const mine = current.filter((g) => g.grantee.toLowerCase() === who.toLowerCase());
    const extra = (g: GrantRow): boolean =>
      g.scope === 'global' ? g.privilege.toUpperCase() !== 'USAGE' : g.scope === 'table' || g.schema !== spec.database || !wanted.includes(g.privilege.toUpperCase());
    const on = (g: GrantRow): string => (g.scope === 'global' ? '*.*' : g.scope === 'schema' ? `${quoteFound(g.schema ?? '')}.*` : `${quoteFound(g.schema ?? '')}.${quoteFound(g.table ?? '')}`);
    const revokes = new Map<string, string[]>();
    for (const g of mine) {
      if (extra(g)) revokes.set(on(g), [...(revokes.get(on(g)) ?? []), g.privilege.toUpperCase()]);
      if (g.grantable) revokes.set(on(g), [...(revokes.get(on(g)) ?? []), 'GRANT OPTION']);
    }
    for (const [target, privileges] of [...revokes.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      out.push({ sql: `REVOKE ${[...new Set(privileges)].sort().join(', ')} ON ${target} FROM ${who}`, values: [] });
    }
  }
  return out;
}

/**
 * Statements for a CloudFormation Delete: the users go (nobody keeps access to a site that was removed); the database and
 * its rows stay unless `dropDatabase`, because data outlives stacks (restore it, move it, or drop it by hand).
 */
export function planRemove(spec: SiteSpec, dropDatabase: boolean): Statement[] {
  const host = spec.host ?? '%';
  // The alternating-users clone goes too: nobody keeps access through it either.
  const out: Statement[] = spec.users
    .filter((u) => userNameProblems(u.name).length === 0)
    .flatMap((u) => accountsOf(u))
    .map((name) => ({ sql: `DROP USER IF EXISTS ${account(name, host)}`, values: [] }));
  if (dropDatabase && databaseNameProblems(spec.database).length === 0) {
    out.push({ sql: `DROP DATABASE IF EXISTS ${q(spec.database)}`, values: [] });
  }
  return out;
}

/** The statement text with every placeholder value masked, for logs. */
export function redact(statement: Statement): string {
  return statement.values.length ? `${statement.sql} -- ${statement.values.length} value(s) redacted` : statement.sql;
}
