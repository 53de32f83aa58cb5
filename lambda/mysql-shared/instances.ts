/** Plain types and facts about RDS DB instances shared by the MySQL hooks. Pure: no SDK. */

/** One member instance, as DescribeDBInstances reports it. */
export interface DbInstance {
  readonly id: string;
  readonly status: string;
  /** Endpoint address, absent while the instance is being created. */
  readonly address?: string;
  /** Set on a read replica: its source (identifier or ARN). */
  readonly replicaSource?: string;
  /** The role tag the promotion state machine writes: 'primary', 'replica' or 'retired'. */
  readonly role?: string;
  /** The promotion tag: 'in-progress' from the plan step until the last step sets 'done'. */
  readonly promotion?: string;
  readonly multiAz?: boolean;
  readonly port?: number;
}

export interface CurrentNames {
  readonly master?: string;
  readonly replica?: string;
}

export interface Desired {
  readonly master?: string;
  readonly replica?: string;
  readonly masterId?: string;
  readonly replicaId?: string;
  /** Why a name was left alone, when it was. */
  readonly notes: readonly string[];
}

/** Statuses in which an instance answers queries. */
export const SERVING = new Set([
  'available',
  'backing-up',
  'modifying',
  'storage-optimization',
  'configuring-enhanced-monitoring',
  'configuring-iam-database-auth',
  'configuring-log-exports',
  'storage-full', // still readable
]);

/** The last part of an identifier or ARN. */
export const idOf = (idOrArn: string): string => idOrArn.split(':').pop() ?? idOrArn;

export interface RecordChange {
  readonly name: string;
  readonly value: string;
  readonly ttl: number;
}

