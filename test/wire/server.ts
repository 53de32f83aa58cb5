/**
 * A local HTTP server that answers the real AWS SDK v3 clients in each service's own wire protocol, so a test sees the
 * exception (name, Code, $metadata) that the SDK itself builds from the documented body. Tests meet AWS at the wire.
 *
 * It listens on 127.0.0.1, port 0 (the kernel picks a free port), records every request and routes it to an operation:
 * - query and EC2 query (EC2, RDS, Auto Scaling, SNS): the `Action` form field;
 * - JSON 1.0 / 1.1 (DynamoDB, SQS, Secrets Manager, CodeDeploy, CloudWatch in the SDK installed here): `X-Amz-Target`;
 * - REST/XML (Route 53): method and path.
 * The signing service (from the SigV4 credential scope) qualifies the operation, so one server can answer several
 * clients: `on('rds:DescribeDBInstances', ...)` answers only RDS, `on('DescribeDBInstances', ...)` any service.
 *
 * Answers are scripted per operation as a sequence: each answer is used once in order and the last one repeats, so
 * `on('DescribeDBInstances', rdsNotFound, ok(body))` answers 404 DBInstanceNotFound once, then 200 with the body.
 * An answer may be a function of the request (for small stateful fakes). A request nobody scripted gets a 400 with code
 * `WireHarnessNoAnswer`, and is listed in `unanswered`, so a test fails loudly instead of hanging.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WireRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The SigV4 signing name (ec2, rds, autoscaling, sns, dynamodb, sqs, secretsmanager, monitoring, route53, ...). */
  readonly service: string;
  /** The operation, e.g. DescribeDBInstances, PutItem, ChangeResourceRecordSets. */
  readonly operation: string;
  /** Query-protocol parameters (form body). */
  readonly form: URLSearchParams;
  /** JSON-protocol body, parsed. */
  readonly json: any;
}

export interface WireAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers?: Record<string, string>;
  /** Drop the connection instead of answering (a network fault). */
  readonly hangUp?: boolean;
}

export type Responder = WireAnswer | ((req: WireRequest) => WireAnswer);

/** Route 53 REST/XML routes the hooks use, by method and path. */
const ROUTE53_ROUTES: Array<{ method: string; path: RegExp; operation: string }> = [
  { method: 'POST', path: /^\/2013-04-01\/hostedzone\/[^/]+\/rrset\/?$/, operation: 'ChangeResourceRecordSets' },
  { method: 'GET', path: /^\/2013-04-01\/hostedzone\/[^/]+\/rrset\/?$/, operation: 'ListResourceRecordSets' },
  { method: 'GET', path: /^\/2013-04-01\/change\/[^/]+$/, operation: 'GetChange' },
  { method: 'GET', path: /^\/2013-04-01\/hostedzone\/[^/]+$/, operation: 'GetHostedZone' },
];

function signingService(headers: IncomingMessage['headers']): string {
  const auth = String(headers.authorization ?? '');
  const m = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  return m ? m[1] : 'unknown';
}

function operationOf(method: string, path: string, headers: IncomingMessage['headers'], form: URLSearchParams): string {
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) return target.slice(target.lastIndexOf('.') + 1);
  const action = form.get('Action');
  if (action) return action;
  for (const r of ROUTE53_ROUTES) if (r.method === method && r.path.test(path)) return r.operation;
  return `${method} ${path}`;
}

export class WireServer {
  /** Starts a server on 127.0.0.1 with a kernel-chosen port. */
  static async start(): Promise<WireServer> {
    const s = new WireServer();
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(0, '127.0.0.1', () => resolve());
    });
    return s;
  }

  /** Every request, in arrival order. */
  readonly requests: WireRequest[] = [];
  /** Requests that no script answered. */
  readonly unanswered: WireRequest[] = [];
  private readonly scripts = new Map<string, Responder[]>();
  private fallback: Responder | undefined;
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
  }

  /** The endpoint to give the SDK client. */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /**
   * Scripts the answers to an operation (`Operation` or `service:Operation`): used once each, in order; the last repeats.
   * Replaces any earlier script for the same key.
   */
  on(operation: string, ...answers: Responder[]): this {
    if (answers.length === 0) throw new Error(`on(${operation}): give at least one answer`);
    this.scripts.set(operation, [...answers]);
    return this;
  }

  /** Answers every operation that has no script of its own (until reset). */
  onAny(answer: Responder): this {
    this.fallback = answer;
    return this;
  }

  /** Lets the process exit while the server is still listening (for a server shared by a whole test file). */
  unref(): this {
    this.server.unref();
    return this;
  }

  /** Requests for one operation (`Operation` or `service:Operation`). */
  calls(operation: string): WireRequest[] {
    return this.requests.filter((r) => matches(r, operation));
  }

  /** Forgets the scripts and the recorded requests (between tests). */
  reset(): void {
    this.scripts.clear();
    this.fallback = undefined;
    this.requests.length = 0;
    this.unanswered.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(req: WireRequest): Responder | undefined {
    for (const key of [`${req.service}:${req.operation}`, req.operation]) {
      const queue = this.scripts.get(key);
      if (queue && queue.length > 0) return queue.length > 1 ? queue.shift() : queue[0];
    }
    return this.fallback;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const contentType = String(req.headers['content-type'] ?? '');
      const form = contentType.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : new URLSearchParams();
      let json: unknown;
      if (contentType.startsWith('application/x-amz-json')) {
        try {
          json = body ? JSON.parse(body) : {};
        } catch {
          json = undefined;
        }
      }
      const method = req.method ?? 'GET';
      const wire: WireRequest = {
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        service: signingService(req.headers),
        operation: operationOf(method, url.pathname, req.headers, form),
        form,
        json,
      };
      this.requests.push(wire);
      const responder = this.pick(wire);
      let answer: WireAnswer;
      if (!responder) {
        this.unanswered.push(wire);
        answer = {
          status: 400,
          headers: { 'content-type': 'text/xml' },
          body: `<ErrorResponse><Error><Type>Sender</Type><Code>WireHarnessNoAnswer</Code><Message>no answer scripted for ${wire.service}:${wire.operation}</Message></Error><RequestId>harness</RequestId></ErrorResponse>`,
        };
      } else {
        try {
          answer = typeof responder === 'function' ? responder(wire) : responder;
        } catch (err) {
          answer = { status: 500, headers: { 'content-type': 'text/plain' }, body: `harness responder failed: ${String(err)}` };
        }
      }
      if (answer.hangUp) {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, { 'x-amzn-requestid': 'wire-harness', 'x-amz-request-id': 'wire-harness', ...answer.headers });
      res.end(answer.body);
    });
  }
}

function matches(r: WireRequest, operation: string): boolean {
  const i = operation.indexOf(':');
  return i < 0 ? r.operation === operation : r.service === operation.slice(0, i) && r.operation === operation.slice(i + 1);
}
