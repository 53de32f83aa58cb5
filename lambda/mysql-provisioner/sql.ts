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
  const names = spec.users.map((u) => u.name.toLowerCase());
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  if (dup.length) problems.push(`user names repeat: ${[...new Set(dup)].join(', ')}`);
  if (problems.length) throw new Error(`invalid site spec: ${problems.join('; ')}`);
}

const q = (id: string): string => `\`${id}\``;
const account = (user: string, host: string): string => `'${user}'@'${host}'`;

/**
 * Statements that bring the server to the spec: the database exists, each user exists with this password and exactly
 * the privileges of its role on the database (anything else it had is revoked), and users of `previous` that are no
 * longer wanted are dropped. Safe to run again and again.
 */
export function planProvision(spec: SiteSpec, previous?: SiteSpec): Statement[] {
  assertValidSpec(spec);
  const host = spec.host ?? '%';
  const out: Statement[] = [
    {
      sql: `CREATE DATABASE IF NOT EXISTS ${q(spec.database)} CHARACTER SET ${spec.characterSet ?? 'utf8mb4'} COLLATE ${spec.collation ?? 'utf8mb4_unicode_ci'}`,
      values: [],
    },
  ];
  for (const user of spec.users) {
    const tls = spec.requireTls ? ' REQUIRE SSL' : ' REQUIRE NONE';
    out.push({ sql: `CREATE USER IF NOT EXISTS ${account(user.name, host)} IDENTIFIED BY ?${tls}`, values: [user.password] });
    // An existing user keeps its name but gets this password and TLS rule (a rotated secret, a changed requireTls).
    out.push({ sql: `ALTER USER ${account(user.name, host)} IDENTIFIED BY ?${tls}`, values: [user.password] });
    out.push({ sql: `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account(user.name, host)}`, values: [] });
    out.push({ sql: `GRANT ${ROLE_PRIVILEGES[user.role].join(', ')} ON ${q(spec.database)}.* TO ${account(user.name, host)}`, values: [] });
  }
  if (previous) {
    const keep = new Set(spec.users.map((u) => `${u.name.toLowerCase()}@${host}`));
    const prevHost = previous.host ?? '%';
    for (const user of previous.users) {
      if (!keep.has(`${user.name.toLowerCase()}@${prevHost}`) && userNameProblems(user.name).length === 0 && HOST.test(prevHost)) {
        out.push({ sql: `DROP USER IF EXISTS ${account(user.name, prevHost)}`, values: [] });
      }
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
  const out: Statement[] = spec.users
    .filter((u) => userNameProblems(u.name).length === 0)
    .map((u) => ({ sql: `DROP USER IF EXISTS ${account(u.name, host)}`, values: [] }));
  if (dropDatabase && databaseNameProblems(spec.database).length === 0) {
    out.push({ sql: `DROP DATABASE IF EXISTS ${q(spec.database)}`, values: [] });
  }
  return out;
}

/** The statement text with every placeholder value masked, for logs. */
export function redact(statement: Statement): string {
  return statement.values.length ? `${statement.sql} -- ${statement.values.length} value(s) redacted` : statement.sql;
}
