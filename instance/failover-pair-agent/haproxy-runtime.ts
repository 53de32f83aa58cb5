/** HAProxy's runtime API over its stats socket: one connection per call, commands joined with ";". */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { serverStateFile } from '../../lib/failover-pair/haproxy-config';

export function runtimeCommand(socketPath: string, commands: string | readonly string[], timeoutMs = 5000): Promise<string> {
  const line = (typeof commands === 'string' ? [commands] : commands).join(';');
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`haproxy runtime API: no answer to "${line}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(line + '\n'));
    socket.on('data', (d) => (out += d));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Runs commands and fails on an answer that HAProxy gives for a refused command. */
export async function applyRuntimeCommands(socketPath: string, commands: readonly string[]): Promise<void> {
  for (const command of commands) {
    const answer = (await runtimeCommand(socketPath, command)).trim();
    if (answer && !/^IP changed from|^no need to change|^$/i.test(answer)) {
      throw new Error(`haproxy runtime API refused "${command}": ${answer}`);
    }
  }
}

/**
 * Reloads HAProxy (master-worker, SIGUSR2 to the master) so that the new worker starts from the old one's servers:
 * their state (`show servers state`: addresses that DNS or the agent set at run time, drain, maintenance) is written
 * to the server-state file first, atomically, and HAProxy loads it on start (`load-server-state-from-file`).
 * Without it a DNS-mode worker started with empty slots and closed the connections of its first moments.
 */
export async function reloadHaproxy(runDir: string, signal: (pid: number) => void = (pid) => process.kill(pid, 'SIGUSR2')): Promise<number> {
  const state = await runtimeCommand(path.join(runDir, 'haproxy.sock'), 'show servers state');
  if (!/^\d+\n/.test(state)) throw new Error(`haproxy runtime API: unexpected answer to "show servers state": ${state.slice(0, 200)}`);
  const file = serverStateFile(runDir);
  fs.writeFileSync(`${file}.tmp`, state);
  fs.renameSync(`${file}.tmp`, file);
  const pid = Number(fs.readFileSync(path.join(runDir, 'haproxy.pid'), 'utf8').trim());
  signal(pid);
  return pid;
}
