/**
 * The site provisioner across Secrets Manager's alternating-users rotation, on a real MariaDB server on loopback.
 *
 * The rotation does what the AWS multi-user rotation function does: the new secret version names `<user>_clone` with a
 * new password, the clone is created by copying the user's grants, the next rotation goes back to `<user>` with a new
 * password. The previous version's credentials must keep working until the rotation after, whatever the provisioner
 * does in between (a deploy re-runs it). Secrets Manager is a stand-in here (it only hands out the JSON); the SQL, the
 * grants and the logins are MariaDB's own.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { createHandler, type CustomResourceEvent } from '../../lambda/mysql-provisioner/index';
import * as io from '../../lambda/mysql-provisioner/io';
import type { SiteProperties } from '../../lambda/mysql-provisioner/logic';
import { ROOT_PASSWORD, startMariaDb, type MariaDb } from '../mysql/mariadb';
import { requirePrograms } from './programs';

jest.setTimeout(60_000);

let server: MariaDb | undefined;
let root: Connection;
const sm = mockClient(SecretsManagerClient);
/** The AWSCURRENT version of each secret. */
const current: Record<string, { username: string; password: string }> = {};

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

beforeAll(async () => {
  requirePrograms('mariadbd', 'mariadb-install-db');
  server = await startMariaDb();
  root = await server.as('root', ROOT_PASSWORD);
  sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => ({ ARN: input.SecretId, Name: input.SecretId, SecretString: JSON.stringify(current[input.SecretId]) }));
});

afterAll(async () => {
  sm.restore();
  await root?.end().catch(() => undefined);
  await server?.stop();
});

const handler = createHandler({
  clients: () => ({ ...io.defaultClients(), endpointOf: async () => '127.0.0.1', respond: async () => undefined }),
  logger: silent as never,
});

const props = (revision: number): SiteProperties & { CredentialsRevision: string } => ({
  Database: 'shop',
  Users: [
    { Name: 'shop_app', Role: 'app', SecretArn: 'arn:app' },
    { Name: 'shop_mig', Role: 'migrate', SecretArn: 'arn:mig' },
  ],
  RequireTls: 'false',
  Host: 'db-master.cluster1.db.internal',
  Port: String(server!.port),
  MasterSecretArn: 'arn:master',
  CredentialsRevision: String(revision),
});

let revision = 0;
async function deploy(type: 'Create' | 'Update' | 'Delete'): Promise<void> {
  const previous = props(revision);
  if (type === 'Update') revision++;
  const event: CustomResourceEvent = {
    RequestType: type,
    ResponseURL: 'http://127.0.0.1:1/unused',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Data/1',
    RequestId: `request-${type}-${revision}`,
    LogicalResourceId: 'SiteShop',
    ResourceProperties: props(revision),
    ...(type === 'Create' ? {} : { PhysicalResourceId: 'mysql-site:shop', OldResourceProperties: previous }),
  };
  const out = await handler(event);
  expect(out).toMatchObject({ status: 'SUCCESS' });
}

/** One alternating-users rotation of a secret, as the AWS multi-user rotation function does it. */
async function rotate(arn: string, newPassword: string): Promise<void> {
  const { username } = current[arn];
  const base = username.replace(/_clone$/, '');
  const next = username.endsWith('_clone') ? base : `${base}_clone`;
  const [exists] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = ?', [next, '%']);
  if (Number(exists[0].n) === 0) {
    // setSecret: create the other user with the current user's grants.
    await root.query(`CREATE USER '${next}'@'%' IDENTIFIED BY ?`, [newPassword]);
    const [grants] = await root.query<RowDataPacket[]>(`SHOW GRANTS FOR '${username}'@'%'`);
    for (const row of grants) {
      const grant = String(Object.values(row)[0]);
      if (/^GRANT USAGE ON \*\.\*/.test(grant)) continue;
      await root.query(grant.replace(`TO \`${username}\`@\`%\``, `TO \`${next}\`@\`%\``).replace(/ IDENTIFIED BY PASSWORD '[^']*'/, ''));
    }
  } else {
    await root.query(`ALTER USER '${next}'@'%' IDENTIFIED BY ?`, [newPassword]);
  }
  // finishSecret: the new version becomes AWSCURRENT.
  current[arn] = { username: next, password: newPassword };
}

async function canLogIn(user: string, password: string): Promise<boolean> {
  try {
    const c = await server!.as(user, password);
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function grantsOf(user: string): Promise<string> {
  const [rows] = await root.query<RowDataPacket[]>(`SHOW GRANTS FOR '${user}'@'%'`);
  return rows.map((r) => String(Object.values(r)[0])).filter((g) => !g.startsWith('GRANT USAGE')).join('\n').replace(new RegExp(`\`${user}\``, 'g'), '`USER`');
}

async function insertsAs(user: string, password: string, id: number): Promise<void> {
  const c = await server!.as(user, password);
  try {
    await c.query('INSERT INTO shop.orders VALUES (?)', [id]);
  } finally {
    await c.end();
  }
}

describe('the provisioner across alternating-users rotations (MariaDB)', () => {
  test('provision, rotate to the clones, re-run, rotate back, re-run: both generations log in with their role, nothing more', async () => {
    current['arn:master'] = { username: 'root', password: ROOT_PASSWORD };
    current['arn:app'] = { username: 'shop_app', password: 'app-pw-1' };
    current['arn:mig'] = { username: 'shop_mig', password: 'mig-pw-1' };
    await deploy('Create');
    const mig = await server!.as('shop_mig', 'mig-pw-1');
    await mig.query('CREATE TABLE shop.orders (id INT PRIMARY KEY) ENGINE=InnoDB');
    await mig.end();
    await insertsAs('shop_app', 'app-pw-1', 1);
    const appGrants = await grantsOf('shop_app');

    // First rotation: the secrets now name the clones; instances that read the old version still use shop_app/app-pw-1.
    await rotate('arn:app', 'app-pw-2');
    await rotate('arn:mig', 'mig-pw-2');
    // Someone widened the clone by hand meanwhile: a re-run must take that back, and only that.
    await root.query("GRANT DROP ON shop.* TO 'shop_app_clone'@'%'");
    await deploy('Update');
    expect(await canLogIn('shop_app', 'app-pw-1')).toBe(true); // the previous version still works
    expect(await canLogIn('shop_app_clone', 'app-pw-2')).toBe(true); // the current one too
    expect(await canLogIn('shop_app', 'app-pw-2')).toBe(false); // the provisioner did not give the user the clone's password
    expect(await canLogIn('shop_mig', 'mig-pw-1')).toBe(true);
    expect(await canLogIn('shop_mig_clone', 'mig-pw-2')).toBe(true);
    expect(await grantsOf('shop_app_clone')).toEqual(appGrants);
    expect(await grantsOf('shop_app')).toEqual(appGrants);
    await insertsAs('shop_app', 'app-pw-1', 2);
    await insertsAs('shop_app_clone', 'app-pw-2', 3);
    const clone = await server!.as('shop_app_clone', 'app-pw-2');
    await expect(clone.query('DROP TABLE shop.orders')).rejects.toThrow(/denied/i);
    await clone.end();

    // Second rotation: back to the users with new passwords; the clones keep the previous ones.
    await rotate('arn:app', 'app-pw-3');
    await rotate('arn:mig', 'mig-pw-3');
    await deploy('Update');
    expect(await canLogIn('shop_app', 'app-pw-3')).toBe(true);
    expect(await canLogIn('shop_app_clone', 'app-pw-2')).toBe(true);
    expect(await canLogIn('shop_app', 'app-pw-1')).toBe(false);
    expect(await canLogIn('shop_mig', 'mig-pw-3')).toBe(true);
    expect(await canLogIn('shop_mig_clone', 'mig-pw-2')).toBe(true);
    expect(await grantsOf('shop_app')).toEqual(appGrants);
    expect(await grantsOf('shop_app_clone')).toEqual(appGrants);
    const [rows] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders');
    expect(Number(rows[0].n)).toBe(3);
  });

  test('removing the site drops the users and their clones, and keeps the data', async () => {
    await deploy('Delete');
    const [users] = await root.query<RowDataPacket[]>("SELECT User FROM mysql.user WHERE User LIKE 'shop\\_%'");
    expect(users).toEqual([]);
    const [rows] = await root.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.orders');
    expect(Number(rows[0].n)).toBe(3);
  });
});
