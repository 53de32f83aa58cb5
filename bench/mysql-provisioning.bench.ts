/**
 * Benchmark: re-deploying site users under load, on a real MariaDB (loopback, throwaway datadir).
 *
 * The headline: how many queries and logins of a running application fail while the stack is re-deployed, for
 * ours (grant the role's privileges, then revoke only extras read from information_schema) against two common
 * baselines measured in the same run: "REVOKE ALL, then GRANT" and "DROP USER, then CREATE USER and GRANT".
 * Also the time one re-deploy of every site takes. Writes bench/results/mysql-provisioning.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { planProvision, ROLE_PRIVILEGES, type SiteSpec, type Statement } from '../lambda/mysql-provisioner/sql';
import { provision, runPlan } from '../lambda/mysql-shared/db';
import { ROOT_PASSWORD, startMariaDb } from '../test/mysql/mariadb';

const SITES = 10;
const ROUNDS = 30;

const sites: SiteSpec[] = Array.from({ length: SITES }, (_, i) => ({
  database: `site${i}`,
  requireTls: false,
  users: [
    { name: `site${i}_app`, role: 'app', password: `app-pw-${i}` },
    { name: `site${i}_mig`, role: 'migrate', password: `mig-pw-${i}` },
  ],
}));

type Strategy = (root: Connection, site: SiteSpec) => Promise<unknown>;

const account = (name: string) => `'${name}'@'%'`;

/** Baseline 1: the usual "make privileges exact" script. */
const revokeAllThenGrant: Strategy = async (root, site) => {
  const plan: Statement[] = [{ sql: `CREATE DATABASE IF NOT EXISTS \`${site.database}\``, values: [] }];
  for (const u of site.users) {
    plan.push({ sql: `CREATE USER IF NOT EXISTS ${account(u.name)} IDENTIFIED BY ?`, values: [u.password] });
    plan.push({ sql: `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account(u.name)}`, values: [] });
    plan.push({ sql: `GRANT ${ROLE_PRIVILEGES[u.role].join(', ')} ON \`${site.database}\`.* TO ${account(u.name)}`, values: [] });
  }
  return runPlan(root, plan);
};

/** Baseline 2: re-create the users from scratch. */
const dropAndCreate: Strategy = async (root, site) => {
  const plan: Statement[] = [{ sql: `CREATE DATABASE IF NOT EXISTS \`${site.database}\``, values: [] }];
  for (const u of site.users) {
    plan.push({ sql: `DROP USER IF EXISTS ${account(u.name)}`, values: [] });
    plan.push({ sql: `CREATE USER ${account(u.name)} IDENTIFIED BY ?`, values: [u.password] });
    plan.push({ sql: `GRANT ${ROLE_PRIVILEGES[u.role].join(', ')} ON \`${site.database}\`.* TO ${account(u.name)}`, values: [] });
  }
  return runPlan(root, plan);
};

const ours: Strategy = (root, site) => provision(root, site.users.map((u) => u.name), (current) => planProvision(site, undefined, current));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const server = await startMariaDb();
  const results: Record<string, unknown> = {};
  try {
    const root = await server.as('root', ROOT_PASSWORD);
    for (const site of sites) await ours(root, site);
    await root.query('CREATE TABLE IF NOT EXISTS site0.orders (id INT PRIMARY KEY) ENGINE=InnoDB');
    await root.query('INSERT IGNORE INTO site0.orders VALUES (1), (2), (3)');

    for (const [name, strategy] of [
      ['ours: grant, then revoke extras', ours],
      ['baseline: REVOKE ALL, then GRANT', revokeAllThenGrant],
      ['baseline: DROP USER, CREATE USER, GRANT', dropAndCreate],
    ] as Array<[string, Strategy]>) {
      for (const site of sites) await ours(root, site); // the same starting point for each strategy
      const app = await server.as('site0_app', 'app-pw-0');
      let queries = 0;
      let deniedQueries = 0;
      let logins = 0;
      let failedLogins = 0;
      let running = true;
      const queryLoop = (async () => {
        while (running) {
          try {
            await app.query('SELECT COUNT(*) FROM site0.orders');
          } catch {
            deniedQueries++;
          }
          queries++;
        }
      })();
      const loginLoop = (async () => {
        while (running) {
          try {
            const c = await server.as('site0_app', 'app-pw-0');
            await c.end();
          } catch {
            failedLogins++;
          }
          logins++;
        }
      })();
      const durations: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const started = process.hrtime.bigint();
        for (const site of sites) await strategy(root, site);
        durations.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      running = false;
      await Promise.all([queryLoop, loginLoop]);
      await app.end().catch(() => undefined);
      results[name] = {
        redeploys: ROUNDS,
        sites: SITES,
        redeployAllSitesMsP50: Number(percentile(durations, 50).toFixed(1)),
        redeployAllSitesMsP90: Number(percentile(durations, 90).toFixed(1)),
        appQueries: queries,
        appQueriesDenied: deniedQueries,
        appLogins: logins,
        appLoginsFailed: failedLogins,
      };
      console.log(name, results[name]);
    }
    await root.end();
  } finally {
    await server.stop();
  }

  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const out = { benchmark: 'mysql-provisioning', machine: '2 cores, loopback MariaDB 10.11', results };
  writeFileSync(join(dir, 'mysql-provisioning.json'), JSON.stringify(out, null, 2) + '\n');
  type Row = { redeployAllSitesMsP50: number; redeployAllSitesMsP90: number; appQueries: number; appQueriesDenied: number; appLogins: number; appLoginsFailed: number };
  const md = [
    '# ReplicatedMysql: re-deploying site users under load (MariaDB on loopback)',
    '',
    `${SITES} sites with 2 users each, re-deployed ${ROUNDS} times in a row while one application connection runs`,
    'SELECTs in a loop and another loop logs in and out as the same user. Same run, same server, same starting point.',
    '',
    '| strategy | re-deploy of all sites p50 (ms) | p90 (ms) | app queries | denied | app logins | failed |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(results).map(([name, r]) => {
      const x = r as Row;
      return `| ${name} | ${x.redeployAllSitesMsP50} | ${x.redeployAllSitesMsP90} | ${x.appQueries} | ${x.appQueriesDenied} | ${x.appLogins} | ${x.appLoginsFailed} |`;
    }),
    '',
    'Ours grants the role\'s privileges first and revokes only what information_schema shows beyond them, so the running',
    'application is never without its privileges; it costs one extra query per site (reading the grants).',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'mysql-provisioning.md'), md);
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
