/** HAProxy's runtime API over its stats socket: one connection per call, commands joined with ";". */
import * as net from 'net';

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
