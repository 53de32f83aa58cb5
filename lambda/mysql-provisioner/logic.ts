/**
 * Pure decisions of the site provisioner (a CloudFormation custom resource): read the request's properties into a site
 * spec, and choose the SQL plan for Create, Update and Delete. No SDK, no environment, no clock.
 *
 * CloudFormation semantics: the physical id is `mysql-site:<database>`. A changed database name is a replacement
 * (a new physical id; CloudFormation then sends Delete for the old one, whose users carry the old name, so nothing of
 * the new site is touched). A Delete after a failed Create finds the marker physical id and does nothing.
 */
import { accountsOf, cloneNameOf, planProvision, planRemove, type GrantRow, type SiteSpec, type Statement, type UserRole } from './sql';

export const FAILED_CREATE = 'mysql-site:failed-create';

export interface UserProperty {
  readonly Name: string;
  readonly Role: string;
  /** ARN of the Secrets Manager secret holding `password`. */
  readonly SecretArn: string;
}

/** ResourceProperties as CloudFormation sends them (every scalar arrives as a string). */
export interface SiteProperties {
  readonly Database: string;
  readonly Users: readonly UserProperty[];
  readonly RequireTls?: string | boolean;
  readonly DropDatabaseOnDelete?: string | boolean;
  /** db-master's name (followed to the RDS endpoint, so TLS verification matches the certificate). */
  readonly Host: string;
  /** The primary's endpoint at deploy time, used when db-master does not resolve yet. */
  readonly FallbackHost?: string;
  readonly Port: string | number;
  readonly MasterSecretArn: string;
}

export interface CfnRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: SiteProperties;
  readonly OldResourceProperties?: SiteProperties;
  readonly PhysicalResourceId?: string;
}

const ROLES: readonly UserRole[] = ['app', 'migrate', 'read-only'];

const truthy = (v: string | boolean | undefined): boolean => v === true || v === 'true';

/** Checks the properties' shape; throws one message listing every problem. */
export function parseProperties(p: unknown): SiteProperties {
  const problems: string[] = [];
  const props = (p ?? {}) as Partial<SiteProperties>;
  if (typeof props.Database !== 'string' || !props.Database) problems.push('Database must be a non-empty string');
  if (!Array.isArray(props.Users)) problems.push('Users must be a list');
  for (const [i, u] of (Array.isArray(props.Users) ? props.Users : []).entries()) {
    if (!u || typeof u.Name !== 'string' || typeof u.SecretArn !== 'string') problems.push(`Users[${i}] needs Name and SecretArn`);
    else if (!ROLES.includes(u.Role as UserRole)) problems.push(`Users[${i}].Role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(u.Role)}`);
  }
  if (typeof props.Host !== 'string' || !props.Host) problems.push('Host must be a non-empty string');
  if (!Number.isInteger(Number(props.Port)) || Number(props.Port) <= 0) problems.push(`Port must be a port number, got ${JSON.stringify(props.Port)}`);
  if (typeof props.MasterSecretArn !== 'string' || !props.MasterSecretArn) problems.push('MasterSecretArn must be a non-empty string');
  if (problems.length) throw new Error(`mysql-provisioner: invalid properties: ${problems.join('; ')}`);
  return props as SiteProperties;
}

export const physicalIdOf = (p: SiteProperties): string => `mysql-site:${p.Database}`;

/**
 * What a user's secret holds now: its password, and the account it names (`username`), which is the user's own name or,
 * after an alternating-users rotation, `<name>_clone`.
 */
export interface Credential {
  readonly password: string;
  readonly username?: string;
}

/** The spec, given each user's secret (read by io): a bare string is a password for the user's own name. */
export function specOf(p: SiteProperties, secrets: Readonly<Record<string, string | Credential>>): SiteSpec {
  return {
    database: p.Database,
    requireTls: truthy(p.RequireTls ?? 'true'),
    users: p.Users.map((u) => {
      const secret = secrets[u.SecretArn];
      const credential: Credential = typeof secret === 'string' ? { password: secret } : secret ?? { password: '' };
      // Only the clone's name switches accounts; any other username (a secret made before a rename) means the user itself.
      const clone = credential.username !== undefined && credential.username === cloneNameOf(u.Name);
      return { name: u.Name, role: u.Role as UserRole, password: credential.password, ...(clone ? { activeName: credential.username } : {}) };
    }),
  };
}

export type Decision =
  | {
      readonly kind: 'provision';
      readonly physicalId: string;
      /** The plan, given the passwords (from the secrets) and the users' current privileges (from the server). */
      readonly plan: (secrets: Readonly<Record<string, string | Credential>>, current: readonly GrantRow[]) => Statement[];
      readonly secrets: readonly string[];
      readonly users: readonly string[];
    }
  | { readonly kind: 'remove'; readonly physicalId: string; readonly plan: Statement[] }
  | { readonly kind: 'nothing'; readonly physicalId: string; readonly reason: string };

/** What to do for one request. */
export function decide(request: CfnRequest): Decision {
  if (request.RequestType === 'Delete') {
    const physicalId = request.PhysicalResourceId ?? FAILED_CREATE;
    if (physicalId === FAILED_CREATE || !physicalId.startsWith('mysql-site:')) {
      return { kind: 'nothing', physicalId, reason: 'the Create of this resource failed; nothing was made' };
    }
    let props: SiteProperties;
    try {
      props = parseProperties(request.ResourceProperties);
    } catch {
      return { kind: 'nothing', physicalId, reason: 'properties unreadable; nothing removed' };
    }
    if (physicalIdOf(props) !== physicalId) {
      return { kind: 'nothing', physicalId, reason: `properties name ${props.Database}, not this resource's database` };
    }
    const spec = specOf(props, {});
    return { kind: 'remove', physicalId, plan: planRemove(spec, truthy(props.DropDatabaseOnDelete)) };
  }
  const props = parseProperties(request.ResourceProperties);
  const physicalId = physicalIdOf(props);
  let previous: SiteProperties | undefined;
  if (request.RequestType === 'Update' && request.OldResourceProperties && request.PhysicalResourceId === physicalId) {
    try {
      previous = parseProperties(request.OldResourceProperties);
    } catch {
      previous = undefined;
    }
  }
  const secrets = [...new Set(props.Users.map((u) => u.SecretArn))].sort();
  return {
    kind: 'provision',
    physicalId,
    secrets,
    // With their alternating-users clones: a rotated user's clone is kept in step (privileges, TLS) with the role.
    users: props.Users.flatMap((u) => accountsOf({ name: u.Name })),
    plan: (secrets, current) => planProvision(specOf(props, secrets), previous ? specOf(previous, {}) : undefined, current),
  };
}
