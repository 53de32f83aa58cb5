/**
 * The boot lab's "AWS": one process in the lab's VPC namespace answering, in each service's documented wire format,
 * the calls an instance makes while it boots and runs. Usage: `tsx fake-aws.ts <config.json>`. The envelopes and
 * documented errors are test/wire's (bodies.ts); this process adds the state a booting instance needs (its
 * identity, lifecycle state, queue and addresses) and listens in the lab's namespace, where the instance reaches it.
 *
 *   169.254.169.254:80   IMDSv2 (PUT /latest/api/token, then GET meta-data / dynamic with the token; 401 without),
 *                        answered per instance by the caller's source address
 *   <vpc address>:80     Amazon S3 (REST/XML, path style), EC2 and Auto Scaling (query/XML), SQS and DynamoDB
 *                        (JSON 1.0, X-Amz-Target), told apart by X-Amz-Target or the SigV4 credential scope;
 *                        /repo/... is the package repository the dnf stand-in reads
 *
 * Faults (config.fault) are windows that open at the first request they concern (so a slow machine, where the boot
 * reaches S3 late, still meets the fault), never before the boot's start (POST /control/start, sent by the lab):
 *   s3    S3 answers 503 SlowDown                         for fault.ms (Infinity: for good)
 *   repo  the package repository answers 503              for fault.ms
 *   iam   every AWS API (S3 included) answers AccessDenied / UnauthorizedOperation (the role's policy is not there
 *         yet) for fault.ms from the first AWS call
 *   imds  the metadata service resets every connection (not reachable yet: no token, no instance id, no role
 *         credentials for the CLI) for fault.ms from the first IMDS request
 *   missing  packages the repository does not have (fault.packages)
 * Every request is appended to config.events as one JSON line: { t, service, action, status, fault, params }.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { createHash, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as wire from '../../wire/bodies';
import type { WireAnswer } from '../../wire/server';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const fault = config.fault ?? {};
const faultMs: number = fault.ms === null || fault.ms === undefined ? Infinity : fault.ms;
/** The boot's start (epoch ms); until the lab says so, the lab's own start. */
let t0: number = config.t0;
/** When the fault's window opened: at the first request it concerns. */
let faultStart: number | undefined;
const inFault = (kind: string) => {
  if (fault.kind !== kind) return false;
  faultStart ??= Date.now();
  return Date.now() - faultStart < faultMs;
};

function event(e: Record<string, unknown>) {
  fs.appendFileSync(config.events, JSON.stringify({ t: Date.now() - t0, ...e }) + '\n');
}

const xmlEscape = (s: unknown) => wire.esc(String(s)).replace(/"/g, '&quot;');

function answer(res: http.ServerResponse, a: WireAnswer): void {
  res.writeHead(a.status, { 'x-amzn-RequestId': randomUUID(), ...a.headers });
  res.end(a.body);
}

// ---- state ----------------------------------------------------------------------------------------------------
/** instances by private address: { instanceId, privateIp, mac, eni, az, region, role, groupName, tags, lifecycleState } */
const byIp = new Map<string, any>(config.instances.map((i: any) => [i.privateIp, { lifecycleState: 'Pending:Wait', ...i }]));
const byId = new Map<string, any>([...byIp.values()].map((i) => [i.instanceId, i]));
const tokens = new Set<string>();
const addresses = new Map<string, { instanceId: string; networkInterfaceId?: string }>();
const routes = new Map<string, Map<string, { networkInterfaceId: string }>>();
interface Message { id: string; body: string; receipt: string; invisibleUntil: number }
const queues = new Map<string, { messages: Message[]; waiters: Array<() => void> }>();
const items = new Map<string, Map<string, unknown>>();

for (const url of config.queues ?? []) queues.set(url, { messages: [], waiters: [] });
for (const m of config.messages ?? []) sendMessage(m.queueUrl, m.body);

function sendMessage(queueUrl: string, body: string): string {
  const q = queues.get(queueUrl)!;
  const id = randomUUID();
  q.messages.push({ id, body, receipt: '', invisibleUntil: 0 });
  for (const w of q.waiters.splice(0)) w();
  return id;
}

// ---- IMDSv2 -----------------------------------------------------------------------------------------------------
function imds(req: http.IncomingMessage, res: http.ServerResponse): void {
  const self = byIp.get((req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
  const url = new URL(req.url ?? '/', 'http://169.254.169.254');
  const send = (status: number, text: string, type = 'text/plain') => {
    res.writeHead(status, { 'Content-Type': type });
    res.end(text);
    event({ service: 'imds', action: `${req.method} ${url.pathname}`, status });
  };
  if (!self) return send(404, 'Not Found');
  if (inFault('imds')) {
    // Not reachable yet: the connection is reset, as curl and the SDK see an IMDS that does not answer.
    event({ service: 'imds', action: `${req.method} ${url.pathname}`, status: 0, fault: 'imds' });
    req.socket.destroy();
    return;
  }
  if (req.method === 'PUT' && url.pathname === '/latest/api/token') {
    const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    if (!(ttl >= 1 && ttl <= 21600)) return send(400, 'Bad Request');
    const token = createHash('sha256').update(randomUUID()).digest('base64');
    tokens.add(token);
    return send(200, token);
  }
  if (req.method !== 'GET') return send(405, 'Method Not Allowed');
  if (!tokens.has(String(req.headers['x-aws-ec2-metadata-token']))) return send(401, 'Unauthorized');
  const p = url.pathname.replace(/\/+$/, '');
  const tags: Record<string, string> = { 'aws:autoscaling:groupName': self.groupName, ...self.tags };
  const creds = {
    Code: 'Success',
    LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    Type: 'AWS-HMAC',
    AccessKeyId: 'ASIALABLABLABLAB0000',
    SecretAccessKey: 'lab/secret/access/key/not/a/real/one/0000',
    Token: 'lab-session-token',
    Expiration: new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  const meta: Record<string, string> = {
    '/latest/meta-data/instance-id': self.instanceId,
    '/latest/meta-data/local-ipv4': self.privateIp,
    '/latest/meta-data/mac': self.mac,
    [`/latest/meta-data/network/interfaces/macs/${self.mac}/interface-id`]: self.eni,
    '/latest/meta-data/placement/availability-zone': self.az,
    '/latest/meta-data/placement/region': self.region,
    '/latest/meta-data/iam/security-credentials': self.role,
    [`/latest/meta-data/iam/security-credentials/${self.role}`]: JSON.stringify(creds),
    '/latest/meta-data/iam/info': JSON.stringify({ Code: 'Success', LastUpdated: creds.LastUpdated, InstanceProfileArn: `arn:aws:iam::${config.account}:instance-profile/${self.role}`, InstanceProfileId: 'AIPALAB' }),
    '/latest/meta-data/tags/instance': Object.keys(tags).join('\n'),
    '/latest/dynamic/instance-identity/document': JSON.stringify({
      accountId: config.account,
      architecture: 'x86_64',
      availabilityZone: self.az,
      imageId: config.imageId,
      instanceId: self.instanceId,
      instanceType: 't3.small',
      privateIp: self.privateIp,
      region: self.region,
      version: '2017-09-30',
    }),
  };
  for (const [k, v] of Object.entries(tags)) meta[`/latest/meta-data/tags/instance/${k}`] = String(v);
  if (p in meta) return send(200, meta[p]);
  return send(404, 'Not Found');
}

// ---- AWS APIs -----------------------------------------------------------------------------------------------------
type Req = http.IncomingMessage;
type Res = http.ServerResponse;
type Params = Record<string, string>;

function serviceOf(req: Req): string {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target.startsWith('AmazonSQS.')) return 'sqs';
  if (target.startsWith('DynamoDB_')) return 'dynamodb';
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
  return scope ? scope[1] : 'unknown';
}

/** S3's REST error body (Amazon S3 API Reference, "Error responses"); a HEAD answer has no body. */
function s3Error(res: Res, status: number, code: string, message: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': 'application/xml', 'x-amz-request-id': 'LABREQ' });
  res.end(head ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>LABREQ</RequestId><HostId>lab</HostId></Error>`);
}

function callerOf(req: Req): any {
  return byIp.get((req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
}

function s3(req: Req, res: Res): void {
  const url = new URL(req.url ?? '/', 'http://s3');
  const [, bucket, ...rest] = url.pathname.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const head = req.method === 'HEAD';
  const action = head ? 'HeadObject' : 'GetObject';
  if (inFault('iam')) {
    event({ service: 's3', action, status: 403, fault: 'iam', params: { bucket, key } });
    return s3Error(res, 403, 'AccessDenied', 'Access Denied', head);
  }
  if (inFault('s3')) {
    event({ service: 's3', action, status: 503, fault: 's3', params: { bucket, key } });
    return s3Error(res, 503, 'SlowDown', 'Please reduce your request rate.', head);
  }
  const file = config.objects[`${bucket}/${key}`];
  if (!file || !['GET', 'HEAD'].includes(req.method ?? '')) {
    event({ service: 's3', action, status: 404, params: { bucket, key } });
    return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.', head);
  }
  const data = fs.readFileSync(file);
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': data.length,
    ETag: `"${createHash('md5').update(data).digest('hex')}"`,
    'Last-Modified': new Date(config.t0).toUTCString(),
    'Accept-Ranges': 'bytes',
    'x-amz-request-id': 'LABREQ',
  });
  res.end(head ? undefined : data);
  event({ service: 's3', action, status: 200, params: { bucket, key } });
}

/** Values of a query-protocol list parameter (`InstanceIds.member.1`, `Filter.1.Value.1`, ...), in order. */
function list(params: Params, prefix: string): string[] {
  return Object.entries(params)
    .filter(([k]) => k.startsWith(prefix) && /^\d+$/.test(k.slice(prefix.length)))
    .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map(([, v]) => v);
}

function ec2Filters(params: Params): Array<{ name: string; values: string[] }> {
  const out = [];
  for (let i = 1; params[`Filter.${i}.Name`]; i++) out.push({ name: params[`Filter.${i}.Name`], values: list(params, `Filter.${i}.Value.`) });
  return out;
}

const tagsOf = (i: any): Record<string, string> => ({ 'aws:autoscaling:groupName': i.groupName, ...i.tags });

function ec2(res: Res, params: Params): void {
  const action = params.Action;
  const ok = (inner: string) => {
    answer(res, wire.ec2Ok(action, inner));
    event({ service: 'ec2', action, status: 200, params });
  };
  const instanceXml = (i: any) =>
    `<item><instanceId>${i.instanceId}</instanceId><imageId>${config.imageId}</imageId><instanceState><code>16</code><name>running</name></instanceState>` +
    `<privateIpAddress>${i.privateIp}</privateIpAddress><launchTime>${new Date(config.t0).toISOString()}</launchTime><placement><availabilityZone>${i.az}</availabilityZone></placement>` +
    `<networkInterfaceSet><item><networkInterfaceId>${i.eni}</networkInterfaceId><macAddress>${i.mac}</macAddress><privateIpAddress>${i.privateIp}</privateIpAddress></item></networkInterfaceSet>` +
    `<tagSet>${Object.entries(tagsOf(i)).map(([k, v]) => `<item><key>${xmlEscape(k)}</key><value>${xmlEscape(v)}</value></item>`).join('')}</tagSet></item>`;
  switch (action) {
    case 'DescribeInstances': {
      const ids = list(params, 'InstanceId.');
      let found = [...byId.values()];
      if (ids.length) found = found.filter((i) => ids.includes(i.instanceId));
      for (const f of ec2Filters(params)) {
        if (f.name === 'instance-id') found = found.filter((i) => f.values.includes(i.instanceId));
        else if (f.name.startsWith('tag:')) found = found.filter((i) => f.values.includes(tagsOf(i)[f.name.slice(4)]));
        else if (f.name === 'instance-state-name') found = found.filter(() => f.values.includes('running'));
      }
      return ok(`<reservationSet>${found.map((i) => `<item><reservationId>r-0lab${i.instanceId.slice(2, 10)}</reservationId><ownerId>${config.account}</ownerId><instancesSet>${instanceXml(i)}</instancesSet></item>`).join('')}</reservationSet>`);
    }
    case 'DescribeTags': {
      let found = [...byId.values()].flatMap((i) => Object.entries(tagsOf(i)).map(([k, v]) => ({ id: i.instanceId, k, v })));
      for (const f of ec2Filters(params)) {
        if (f.name === 'resource-id') found = found.filter((r) => f.values.includes(r.id));
        if (f.name === 'key') found = found.filter((r) => f.values.includes(r.k));
      }
      return ok(`<tagSet>${found.map((r) => `<item><resourceId>${r.id}</resourceId><resourceType>instance</resourceType><key>${xmlEscape(r.k)}</key><value>${xmlEscape(r.v)}</value></item>`).join('')}</tagSet>`);
    }
    case 'ModifyInstanceAttribute':
      return ok('<return>true</return>');
    case 'DescribeAddresses': {
      const ids = list(params, 'AllocationId.');
      return ok(
        `<addressesSet>${ids
          .map((id) => {
            const a = addresses.get(id);
            return `<item><publicIp>198.51.100.10</publicIp><allocationId>${id}</allocationId><domain>vpc</domain>${a ? `<instanceId>${a.instanceId}</instanceId><networkInterfaceId>${a.networkInterfaceId}</networkInterfaceId><associationId>eipassoc-0lab</associationId>` : ''}</item>`;
          })
          .join('')}</addressesSet>`,
      );
    }
    case 'AssociateAddress': {
      addresses.set(params.AllocationId, { instanceId: params.InstanceId, networkInterfaceId: byId.get(params.InstanceId)?.eni });
      return ok('<return>true</return><associationId>eipassoc-0lab</associationId>');
    }
    case 'DescribeRouteTables': {
      const ids = list(params, 'RouteTableId.');
      return ok(
        `<routeTableSet>${ids
          .map((id) => `<item><routeTableId>${id}</routeTableId><vpcId>vpc-0lab</vpcId><routeSet>${[...(routes.get(id) ?? new Map()).entries()].map(([cidr, r]) => `<item><destinationCidrBlock>${cidr}</destinationCidrBlock><networkInterfaceId>${r.networkInterfaceId}</networkInterfaceId><state>active</state></item>`).join('')}</routeSet></item>`)
          .join('')}</routeTableSet>`,
      );
    }
    case 'CreateRoute':
    case 'ReplaceRoute': {
      const table = routes.get(params.RouteTableId) ?? new Map();
      routes.set(params.RouteTableId, table);
      table.set(params.DestinationCidrBlock, { networkInterfaceId: params.NetworkInterfaceId });
      return ok('<return>true</return>');
    }
    default:
      event({ service: 'ec2', action, status: 400, params });
      return answer(res, wire.ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`));
  }
}

function autoscaling(res: Res, params: Params): void {
  const action = params.Action;
  const ok = (inner?: string) => {
    answer(res, inner === undefined ? wire.queryOkEmpty('autoscaling', action) : wire.queryOk('autoscaling', action, inner));
    event({ service: 'autoscaling', action, status: 200, params });
  };
  const fail = (a: WireAnswer, code: string) => {
    event({ service: 'autoscaling', action, status: a.status, params, error: code });
    answer(res, a);
  };
  const member = (i: any) =>
    `<member><InstanceId>${i.instanceId}</InstanceId><AutoScalingGroupName>${i.groupName}</AutoScalingGroupName><AvailabilityZone>${i.az}</AvailabilityZone>` +
    `<LifecycleState>${i.lifecycleState}</LifecycleState><HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>${i.protected === true}</ProtectedFromScaleIn><InstanceType>t3.small</InstanceType></member>`;
  switch (action) {
    case 'CompleteLifecycleAction': {
      const i = byId.get(params.InstanceId);
      if (!i || i.groupName !== params.AutoScalingGroupName || i.lifecycleState !== 'Pending:Wait' || params.LifecycleHookName !== config.launchHookName) {
        return fail(wire.autoscaling.noActiveLifecycleAction(params.InstanceId), 'ValidationError');
      }
      i.lifecycleState = params.LifecycleActionResult === 'CONTINUE' ? 'InService' : 'Terminating';
      return ok('');
    }
    case 'RecordLifecycleActionHeartbeat':
      return ok('');
    case 'DescribeAutoScalingInstances': {
      const ids = list(params, 'InstanceIds.member.');
      return ok(`<AutoScalingInstances>${ids.map((id) => byId.get(id)).filter(Boolean).map(member).join('')}</AutoScalingInstances>`);
    }
    case 'DescribeAutoScalingGroups': {
      const names = list(params, 'AutoScalingGroupNames.member.');
      const groups = [...new Set([...byId.values()].map((i) => i.groupName as string))].filter((g) => names.length === 0 || names.includes(g));
      return ok(
        `<AutoScalingGroups>${groups
          .map((g) => `<member><AutoScalingGroupName>${g}</AutoScalingGroupName><MinSize>0</MinSize><MaxSize>6</MaxSize><DesiredCapacity>1</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><HealthCheckType>EC2</HealthCheckType><CreatedTime>${new Date(config.t0).toISOString()}</CreatedTime><AvailabilityZones><member>eu-west-1a</member></AvailabilityZones><Instances>${[...byId.values()].filter((i) => i.groupName === g).map(member).join('')}</Instances></member>`)
          .join('')}</AutoScalingGroups>`,
      );
    }
    case 'SetInstanceProtection': {
      for (const id of list(params, 'InstanceIds.member.')) {
        const i = byId.get(id);
        if (i) i.protected = params.ProtectedFromScaleIn === 'true';
      }
      return ok();
    }
    default:
      return fail(wire.queryError('InvalidAction', `Could not find operation ${action}`), 'InvalidAction');
  }
}

const SQS = 'com.amazonaws.sqs#';

async function sqs(res: Res, action: string, input: any): Promise<void> {
  const ok = (out: unknown) => {
    answer(res, wire.jsonOk(out));
    event({ service: 'sqs', action, status: 200, params: input });
  };
  const q = queues.get(input.QueueUrl);
  if (!q) {
    event({ service: 'sqs', action, status: 400, params: input });
    return answer(res, wire.sqs.queueDoesNotExist());
  }
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  switch (action) {
    case 'SendMessage': {
      const id = sendMessage(input.QueueUrl, input.MessageBody);
      return ok({ MessageId: id, MD5OfMessageBody: md5(input.MessageBody) });
    }
    case 'ReceiveMessage': {
      const deadline = Date.now() + Math.min(input.WaitTimeSeconds ?? 0, 20) * 1000;
      let gone = false;
      res.on('close', () => {
        gone = true;
      });
      for (;;) {
        const now = Date.now();
        const m = q.messages.find((x) => x.invisibleUntil <= now);
        if (m) {
          m.receipt = `lab-receipt-${randomUUID()}`;
          m.invisibleUntil = now + (input.VisibilityTimeout ?? 30) * 1000;
          return ok({ Messages: [{ MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: md5(m.body), Body: m.body }] });
        }
        if (now >= deadline || gone) return ok({});
        await new Promise<void>((r) => {
          q.waiters.push(r);
          setTimeout(r, Math.min(500, deadline - now));
        });
      }
    }
    case 'DeleteMessage': {
      const at = q.messages.findIndex((x) => x.receipt === input.ReceiptHandle);
      if (at < 0) {
        event({ service: 'sqs', action, status: 400, params: input });
        return answer(res, wire.sqs.receiptHandleIsInvalid());
      }
      q.messages.splice(at, 1);
      return ok({});
    }
    case 'ChangeMessageVisibility': {
      const m = q.messages.find((x) => x.receipt === input.ReceiptHandle);
      if (!m) {
        event({ service: 'sqs', action, status: 400, params: input });
        return answer(res, wire.sqs.messageNotInflight());
      }
      m.invisibleUntil = Date.now() + input.VisibilityTimeout * 1000;
      for (const w of q.waiters.splice(0)) w();
      return ok({});
    }
    default:
      event({ service: 'sqs', action, status: 400, params: input });
      return answer(res, wire.jsonError('InvalidAction', `The action ${action} is not valid for this endpoint.`, { namespace: SQS, queryError: 'InvalidAction;Sender' }));
  }
}

function dynamodb(res: Res, action: string, input: any): void {
  const table = items.get(input.TableName) ?? new Map<string, unknown>();
  items.set(input.TableName, table);
  if (action === 'GetItem') {
    const item = table.get(JSON.stringify(input.Key));
    answer(res, wire.jsonOk(item ? { Item: item } : {}));
    event({ service: 'dynamodb', action, status: 200, params: input });
    return;
  }
  // Only reads: the lab checks that the leader CLI runs on the booted node, not the ledger's semantics
  // (the leader tests run those against a DynamoDB that evaluates conditions).
  event({ service: 'dynamodb', action, status: 400, params: input });
  answer(res, wire.jsonError('UnknownOperationException', `The boot lab does not implement ${action}`, { namespace: 'com.amazon.coral.service#' }));
}

function repo(res: Res, url: URL): void {
  const send = (status: number, text: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(text);
    event({ service: 'repo', action: url.pathname, status, fault: status === 503 ? 'repo' : undefined });
  };
  if (inFault('repo')) return send(503, 'Service Unavailable');
  const name = url.pathname.replace(/^\/repo\/packages\//, '');
  if (url.pathname === '/repo/repomd.xml') return send(200, '<repomd/>');
  if (!url.pathname.startsWith('/repo/packages/')) return send(404, 'Not Found');
  if ((fault.kind === 'missing' && fault.packages.includes(name)) || !config.packages.includes(name)) return send(404, 'Not Found');
  return send(200, name);
}

/** The documented answer of each service while the instance role's policy does not exist yet (IAM propagation). */
function denied(service: string, action: string, who: string): WireAnswer {
  const why = (svc: string) => `User: ${who} is not authorized to perform: ${svc}:${action} because no identity-based policy allows the ${svc}:${action} action`;
  if (service === 'ec2') return wire.ec2.unauthorizedOperation();
  if (service === 'autoscaling') return wire.queryError('AccessDenied', why('autoscaling'), 403);
  if (service === 'sqs') return wire.jsonError('AccessDenied', why('sqs'), { namespace: SQS, queryError: 'AccessDenied;Sender', status: 403 });
  return wire.jsonError('AccessDeniedException', why(service), { namespace: 'com.amazon.coral.service#' });
}

async function api(req: Req, res: Res, body: string): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://vpc');
  if (url.pathname.startsWith('/repo/')) return repo(res, url);
  const service = serviceOf(req);
  if (service === 's3') return s3(req, res);
  const target = String(req.headers['x-amz-target'] ?? '');
  const input = target ? JSON.parse(body || '{}') : undefined;
  const params: Params = target ? {} : Object.fromEntries(new URLSearchParams(body));
  const action = target ? target.split('.')[1] : params.Action;
  if (inFault('iam')) {
    const caller = callerOf(req);
    const a = denied(service, action, `arn:aws:sts::${config.account}:assumed-role/${caller?.role ?? 'unknown'}/${caller?.instanceId ?? 'unknown'}`);
    event({ service, action, status: a.status, fault: 'iam', params: input ?? params });
    return answer(res, a);
  }
  if (service === 'ec2') return ec2(res, params);
  if (service === 'autoscaling') return autoscaling(res, params);
  if (service === 'sqs') return sqs(res, action, input);
  if (service === 'dynamodb') return dynamodb(res, action, input);
  event({ service, action: req.url, status: 400 });
  return answer(res, wire.jsonError('UnknownService', `the boot lab does not answer ${service}`));
}

/** The lab's control channel (on the VPC side's own address): the boot's start, a queued message, the state. */
function control(res: Res, body: string, url: URL): void {
  if (url.pathname === '/control/start') {
    t0 = Date.now();
    res.writeHead(200);
    return void res.end(String(t0));
  }
  if (url.pathname === '/control/send') {
    const { queueUrl, body: text } = JSON.parse(body);
    res.writeHead(200);
    return void res.end(JSON.stringify({ id: sendMessage(queueUrl, text) }));
  }
  if (url.pathname === '/control/state') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return void res.end(
      JSON.stringify({
        instances: [...byId.values()],
        queues: Object.fromEntries([...queues].map(([k, v]) => [k, v.messages.length])),
        addresses: Object.fromEntries(addresses),
        routes: Object.fromEntries([...routes].map(([k, v]) => [k, Object.fromEntries(v)])),
      }),
    );
  }
  res.writeHead(404);
  res.end();
}

const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const local = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
    const url = new URL(req.url ?? '/', 'http://x');
    Promise.resolve()
      .then(() => {
        if (local === '169.254.169.254') return imds(req, res);
        if (url.pathname.startsWith('/control/')) return control(res, body, url);
        return api(req, res, body);
      })
      .catch((e) => {
        event({ service: 'lab', action: 'crash', status: 500, error: String(e?.stack ?? e) });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
};
const server = http.createServer(handler);
server.keepAliveTimeout = 1000;
// SQS is reached by the queue URL's host name, over https (see the lab's Resolver.queueUrl).
const tlsServer = https.createServer({ key: fs.readFileSync(config.tls.key), cert: fs.readFileSync(config.tls.cert) }, handler);
tlsServer.keepAliveTimeout = 1000;
server.listen(80, '0.0.0.0', () => {
  tlsServer.listen(443, '0.0.0.0', () => fs.writeFileSync(`${config.events}.ready`, String(process.pid)));
});
