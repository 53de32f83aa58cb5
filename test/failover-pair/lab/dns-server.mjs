// A tiny authoritative DNS server for the failover-pair lab (UDP only, no compression in answers), standing in for
// the VPC resolver in front of Route 53: A and CNAME records from a JSON zone file that is re-read on every query,
// so a test changes the records by rewriting the file (as DnsRegistrar and an AddressStack swap change Route 53).
//   zone file: { "<name>": { "cname": "<target>" } | { "a": ["10.0.0.1", ...] }, ..., "ttl": 1 }
// A query for a name that is a CNAME is answered with the chain and the target's A records, as a recursive resolver
// would. Unknown names: NXDOMAIN. Other types (AAAA): no data. Prints one JSON line per query.
// Usage: node dns-server.mjs <host> <port> <zone.json>
import dgram from 'node:dgram';
import fs from 'node:fs';

const [host, portText, zoneFile] = process.argv.slice(2);

function readName(buf, offset) {
  const labels = [];
  for (;;) {
    const len = buf[offset];
    if (len === 0) return { name: labels.join('.').toLowerCase(), next: offset + 1 };
    labels.push(buf.toString('ascii', offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
}

function encodeName(name) {
  const parts = name.replace(/\.$/, '').split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function record(name, type, ttl, rdata) {
  const head = Buffer.alloc(10);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(1, 2); // IN
  head.writeUInt32BE(ttl, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(name), head, rdata]);
}

const socket = dgram.createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  const id = msg.readUInt16BE(0);
  const { name, next } = readName(msg, 12);
  const qtype = msg.readUInt16BE(next);
  const question = msg.subarray(12, next + 4);
  const zone = JSON.parse(fs.readFileSync(zoneFile, 'utf8'));
  const ttl = zone.ttl ?? 1;
  const answers = [];
  let rcode = 0;
  let current = name;
  for (let hops = 0; hops < 8; hops++) {
    const entry = zone[current];
    if (!entry) {
      if (hops === 0) rcode = 3; // NXDOMAIN
      break;
    }
    if (entry.cname) {
      answers.push(record(current, 5, ttl, encodeName(entry.cname)));
      current = entry.cname.replace(/\.$/, '').toLowerCase();
      continue;
    }
    if (qtype === 1) for (const a of entry.a ?? []) answers.push(record(current, 1, ttl, Buffer.from(a.split('.').map(Number))));
    break;
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8000 | 0x0400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR AA RD(copied) RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  process.stdout.write(JSON.stringify({ t: Date.now(), name, qtype, rcode, answers: answers.length }) + '\n');
});
socket.bind(Number(portText), host);
process.on('SIGTERM', () => process.exit(0));
