/**
 * The only code that talks to MySQL: connect, run a plan of statements, and gather the answers the backup checks need.
 * Small on purpose, so the system tests run exactly this against a real MariaDB.
 */
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { currentGrantsQuery, type GrantRow, type Statement } from '../mysql-provisioner/sql';
import { countQuery, key, schemataQuery, tablesQuery, tablesToCount, type TableRow } from '../mysql-restore-test/checks';

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /**
   * Verify the server's TLS certificate (RDS: the Lambda runtime's CA bundle, loaded with NODE_EXTRA_CA_CERTS).
   * Off only for the loopback test server.
   */
  readonly tls: boolean;
  /** @default 10 000 ms */
  readonly connectTimeoutMs?: number;
}

export async function connect(options: ConnectOptions): Promise<Connection> {
  return createConnection({
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    ssl: options.tls ? { rejectUnauthorized: true, minVersion: 'TLSv1.2' } : undefined,
    multipleStatements: false,
  });
}

/** Runs each statement in order; the first error stops the plan (every plan is idempotent, so a retry starts over). */
export async function runPlan(conn: Connection, plan: readonly Statement[]): Promise<number> {
  for (const statement of plan) {
    await conn.query(statement.sql, [...statement.values]);
  }
  return plan.length;
}

/** Every privilege the accounts hold now (global, schema and table level). */
export async function currentGrants(conn: Connection, users: readonly string[], host = '%'): Promise<GrantRow[]> {
  if (users.length === 0) return [];
  const query = currentGrantsQuery(users, host);
  const [rows] = await conn.query<RowDataPacket[]>(query.sql, [...query.values]);
  return rows.map((r) => ({
    grantee: String(r.grantee),
    scope: String(r.scope) as GrantRow['scope'],
    schema: r.schema === null ? undefined : String(r.schema),
    table: r.table === null ? undefined : String(r.table),
    privilege: String(r.privilege),
    grantable: String(r.grantable).toUpperCase() === 'YES',
  }));
}

/** Reads the accounts' privileges, builds the plan from them, and runs it. */
export async function provision(conn: Connection, users: readonly string[], build: (current: GrantRow[]) => readonly Statement[]): Promise<number> {
  return runPlan(conn, build(await currentGrants(conn, users)));
}

export interface Observation {
  readonly databasesFound: string[];
  readonly tables: TableRow[];
  readonly rowCounts: Record<string, number>;
  readonly openErrors: Record<string, string>;
}

/** Asks the server what the checks need: which databases exist, their tables and engines, and each table's row count. */
export async function observe(conn: Connection, databases: readonly string[]): Promise<Observation> {
  if (databases.length === 0) return { databasesFound: [], tables: [], rowCounts: {}, openErrors: {} };
  const schemata = schemataQuery(databases);
  const [found] = await conn.query<RowDataPacket[]>(schemata.sql, [...schemata.values]);
  const tq = tablesQuery(databases);
  const [tableRows] = await conn.query<RowDataPacket[]>(tq.sql, [...tq.values]);
  const tables: TableRow[] = tableRows.map((r) => ({ schema: String(r.schema), table: String(r.table), engine: r.engine === null ? null : String(r.engine), tableType: String(r.tableType) }));
  const rowCounts: Record<string, number> = {};
  const openErrors: Record<string, string> = {};
  for (const t of tablesToCount(tables)) {
    const cq = countQuery(t.schema, t.table);
    try {
      const [rows] = await conn.query<RowDataPacket[]>(cq.sql);
      rowCounts[key(t.schema, t.table)] = Number(rows[0].n);
    } catch (err) {
      openErrors[key(t.schema, t.table)] = err instanceof Error ? err.message : String(err);
    }
  }
  return { databasesFound: found.map((r) => String(r.name)), tables, rowCounts, openErrors };
}
