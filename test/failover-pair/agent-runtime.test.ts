import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { applyRuntimeCommands, runtimeCommand } from '../../instance/failover-pair-agent/haproxy-runtime';

/** A stand-in for HAProxy's stats socket: answers each command line as `answer` says, and records it. */
function fakeSocket(answer: (command: string) => string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-sock-'));
  const file = path.join(dir, 'haproxy.sock');
  const received: string[] = [];
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d) => (buf += d));
    s.on('end', () => {
      const line = buf.trim();
      received.push(line);
      s.end(answer(line));
    });
  });
  return {
    file,
    received,
    listen: () => new Promise<void>((r) => server.listen(file, r)),
    close: () => new Promise<void>((r) => server.close(() => (fs.rmSync(dir, { recursive: true, force: true }), r()))),
  };
}

test('sends each command on its own connection and accepts the answers HAProxy gives on success', async () => {
  const sock = fakeSocket((c) => (c.includes(' addr ') ? "IP changed from '0.0.0.0' to '10.0.1.10' by 'stats socket command'\n" : '\n'));
  await sock.listen();
  try {
    await applyRuntimeCommands(sock.file, ['set server app/app1 addr 10.0.1.10', 'set server app/app1 state ready']);
    expect(sock.received).toEqual(['set server app/app1 addr 10.0.1.10', 'set server app/app1 state ready']);
    expect(await runtimeCommand(sock.file, ['show info', 'show stat'])).toBe('\n');
    expect(sock.received[2]).toBe('show info;show stat');
  } finally {
    await sock.close();
  }
});

test('fails on a refused command, naming it', async () => {
  const sock = fakeSocket(() => 'No such server.\n');
  await sock.listen();
  try {
    await expect(applyRuntimeCommands(sock.file, ['set server app/app9 state ready'])).rejects.toThrow(/refused "set server app\/app9 state ready": No such server/);
  } finally {
    await sock.close();
  }
});

test('fails when HAProxy is not running', async () => {
  await expect(runtimeCommand(path.join(os.tmpdir(), `rfha-missing-${process.pid}.sock`), 'show info')).rejects.toThrow(/ENOENT|ECONNREFUSED/);
});
