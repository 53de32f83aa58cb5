/**
 * Pure checks of a restored backup: the SQL to ask, and the verdict from the answers. No SDK, no connection, no clock.
 *
 * A backup is good when every site database exists, every table in them opens, every base table is InnoDB (other engines
 * are not crash-safe and do not replicate reliably), and each table's row count is close to the reference (the live
 * replica when the check runs, or counts recorded earlier). The same SQL runs against MariaDB in the system tests.
 */

export interface Query {
  readonly sql: string;
  readonly values: readonly string[];
}

export interface TableRow {
  readonly schema: string;
  readonly table: string;
  /** For example InnoDB, MyISAM, Aria, MEMORY; null for views (and for tables that do not open, on some servers). */
  readonly engine: string | null;
  /** BASE TABLE, VIEW, SYSTEM VERSIONED, SEQUENCE. */
  readonly tableType: string;
}

export interface CheckInput {
  readonly expectedDatabases: readonly string[];
  /** SCHEMATA names found. */
  readonly databasesFound: readonly string[];
  readonly tables: readonly TableRow[];
  /** `schema.table` -> exact row count, for tables that opened. */
  readonly rowCounts: Readonly<Record<string, number>>;
  /** `schema.table` -> error message, for tables whose count failed (they do not open). */
  readonly openErrors: Readonly<Record<string, string>>;
  /** `schema.table` -> reference row count (live replica, or recorded). Tables missing here are not compared. */
  readonly referenceCounts: Readonly<Record<string, number>>;
  /** Allowed relative difference from the reference, in percent. */
  readonly tolerancePercent: number;
  /** Allowed absolute difference, so small tables do not fail on a few rows. */
  readonly toleranceRows: number;
}

export type FailureKind = 'missing-database' | 'table-does-not-open' | 'not-innodb' | 'row-count' | 'missing-table';

export interface Failure {
  readonly kind: FailureKind;
  readonly object: string;
  readonly detail: string;
}

export interface Verdict {
  readonly ok: boolean;
  readonly failures: readonly Failure[];
  readonly databases: number;
  readonly tables: number;
  readonly rows: number;
}

const IDENTIFIER = /^[A-Za-z0-9_$]+$/;

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** Which of the expected databases exist. */
export function schemataQuery(databases: readonly string[]): Query {
  return { sql: `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (${placeholders(databases.length)}) ORDER BY SCHEMA_NAME`, values: [...databases] };
}

/** Every table and view of the databases with its engine. */
export function tablesQuery(databases: readonly string[]): Query {
  return {
    sql:
      'SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS `table`, ENGINE AS `engine`, TABLE_TYPE AS `tableType` ' +
      `FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${placeholders(databases.length)}) ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    values: [...databases],
  };
}

/** An exact count, which also proves the table opens and its rows can be read. Identifiers are checked, not escaped. */
export function countQuery(schema: string, table: string): Query {
  if (!IDENTIFIER.test(schema) || !IDENTIFIER.test(table)) throw new Error(`cannot count ${schema}.${table}: unexpected characters in the name`);
  return { sql: `SELECT COUNT(*) AS n FROM \`${schema}\`.\`${table}\``, values: [] };
}

/** Tables to count: base tables only (views are not data). */
export function tablesToCount(tables: readonly TableRow[]): TableRow[] {
  return tables.filter((t) => t.tableType === 'BASE TABLE' || t.tableType === 'SYSTEM VERSIONED');
}

export const key = (schema: string, table: string): string => `${schema}.${table}`;

/** The verdict: every failure found, never only the first. */
export function evaluate(input: CheckInput): Verdict {
  const failures: Failure[] = [];
  const found = new Set(input.databasesFound.map((d) => d.toLowerCase()));
  for (const db of input.expectedDatabases) {
    if (!found.has(db.toLowerCase())) failures.push({ kind: 'missing-database', object: db, detail: `database ${db} does not exist in the restored copy` });
  }
  const base = tablesToCount(input.tables);
  for (const t of base) {
    const k = key(t.schema, t.table);
    if (input.openErrors[k] !== undefined) {
      failures.push({ kind: 'table-does-not-open', object: k, detail: input.openErrors[k] });
      continue;
    }
    if ((t.engine ?? '').toLowerCase() !== 'innodb') {
      failures.push({ kind: 'not-innodb', object: k, detail: `engine is ${t.engine ?? 'unknown'}; only InnoDB is crash-safe and replicates reliably` });
    }
  }
  const restored = new Set(base.map((t) => key(t.schema, t.table)));
  for (const [k, expected] of Object.entries(input.referenceCounts).sort(([a], [b]) => a.localeCompare(b))) {
    const schema = k.split('.')[0];
    if (!found.has(schema.toLowerCase())) continue; // already reported as a missing database
    if (!restored.has(k)) {
      failures.push({ kind: 'missing-table', object: k, detail: `table ${k} exists in the reference but not in the restored copy` });
      continue;
    }
    const got = input.rowCounts[k];
    if (got === undefined) continue; // did not open: already reported
    const allowed = Math.max(input.toleranceRows, Math.floor((expected * input.tolerancePercent) / 100));
    if (Math.abs(got - expected) > allowed) {
      failures.push({ kind: 'row-count', object: k, detail: `restored ${got} rows, reference ${expected}, allowed difference ${allowed}` });
    }
  }
  const rows = Object.values(input.rowCounts).reduce((a, b) => a + b, 0);
  return { ok: failures.length === 0, failures, databases: input.expectedDatabases.length - failures.filter((f) => f.kind === 'missing-database').length, tables: base.length, rows };
}
