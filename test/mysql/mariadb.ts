/**
 * A throwaway MariaDB server on loopback: its own temporary datadir, a free port, bounded waits, and a stop that
 * always removes everything. Used by the system tests and the MySQL benchmark.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { Connection } from 'mysql2/promise';
import { connect } from '../../lambda/mysql-shared/db';

export interface MariaDb {
  readonly port: number;
  readonly datadir: string;
  /** A new connection (no TLS: loopback only). */
  as(user: string, password: string): Promise<Connection>;
  stop(): Promise<void>;
}

export const ROOT_PASSWORD = 'root-test-password';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T>, deadlineMs: number): Promise<T> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} not ready after ${deadlineMs} ms: ${String(last)}`);
}

/** Installs a datadir, starts mariadbd on 127.0.0.1 and sets the root password. */
export async function startMariaDb(): Promise<MariaDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-mariadb-'));
  const datadir = path.join(dir, 'data');
  let server: ChildProcess | undefined;
  const stop = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
      clearTimeout(timer);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const install = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`);
    const port = await freePort();
    server = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--socket=${path.join(dir, 'mysqld.sock')}`,
        `--port=${port}`,
        '--skip-networking=0',
        '--bind-address=127.0.0.1',
        '--user=root',
        `--pid-file=${path.join(dir, 'mysqld.pid')}`,
        '--innodb-buffer-pool-size=16M',
        '--skip-log-bin',
      ],
      { stdio: 'ignore' },
    );
    const as = (user: string, password: string) => connect({ host: '127.0.0.1', port, user, password, tls: false, connectTimeoutMs: 3000 });
    // A fresh install has root@localhost with no password over TCP from 127.0.0.1 (authentication method "normal").
    const first = await waitFor('mariadbd', () => as('root', ''), 30_000);
    await first.query(`ALTER USER 'root'@'localhost' IDENTIFIED BY ?`, [ROOT_PASSWORD]);
    await first.end();
    return { port, datadir, as, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
