// An app instance for the failover-pair lab: listens on host:ports, greets each connection with
// "<id> <peer address>\n" (the peer is the HAProxy node that connected) and then echoes what it receives.
// Usage: node backend-server.mjs <id> <host> <port>[,<port>...]
import net from 'node:net';

const [id, host, portList] = process.argv.slice(2);
for (const port of portList.split(',').map(Number)) {
  net
    .createServer((socket) => {
      socket.on('error', () => {});
      socket.write(`${id} ${socket.remoteAddress} ${socket.localPort}\n`);
      socket.pipe(socket);
    })
    .listen({ host, port, backlog: 4096 });
}
process.on('SIGTERM', () => process.exit(0));
