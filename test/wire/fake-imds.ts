/**
 * A fake IMDSv2 on loopback for the instance programs: PUT /latest/api/token (which must carry the TTL header) issues a
 * session token; every GET under /latest/meta-data/ must carry a valid token (else 401), and answers from `values`
 * (else 404). Faults can be scripted: `failNext(n, status)` answers the next n GETs with that status, `expireTokens()`
 * makes every issued token invalid (so the next GET answers 401, as IMDS does after the TTL).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class FakeImds {
  static async start(values: Record<string, string>): Promise<FakeImds> {
    const f = new FakeImds(values);
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', () => resolve()));
    return f;
  }

  /** Every request as "METHOD path". */
  readonly requests: string[] = [];
  private readonly valid = new Set<string>();
  private issued = 0;
  private failures: number[] = [];
  private readonly server: Server;

  private constructor(readonly values: Record<string, string>) {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      this.requests.push(`${req.method} ${path}`);
      if (req.method === 'PUT' && path === '/latest/api/token') {
        if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
        const token = `TOKEN-${++this.issued}`;
        this.valid.add(token);
        return void res.writeHead(200, { 'x-aws-ec2-metadata-token-ttl-seconds': String(req.headers['x-aws-ec2-metadata-token-ttl-seconds']) }).end(token);
      }
      if (req.method !== 'GET' || !path.startsWith('/latest/meta-data/')) return void res.writeHead(404).end();
      if (!this.valid.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return void res.writeHead(401).end();
      const status = this.failures.shift();
      if (status !== undefined) return void res.writeHead(status).end();
      const value = this.values[decodeURIComponent(path.slice('/latest/meta-data/'.length))];
      if (value === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(value);
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  failNext(n: number, status: number): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  expireTokens(): void {
    this.valid.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
