/**
 * Entry of the on-instance tool (bundled to assets/instance/leader/index.mjs). User data installs two
 * wrappers: `leader-only` runs `index.mjs only ...`, `leader-status` runs `index.mjs status ...`.
 * Configuration comes from /etc/resilient-fleet/leader.json (written by user data).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { constants } from 'node:os';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isTransient } from '../../lambda/shared/errors';
import { realSleep, retry } from '../../lambda/shared/retry';
import { leaderOnly, leaderStatus, parseArgs, type ToolConfig, type ToolDeps } from './cli';

const CONFIG_FILE = process.env.LEADER_CONFIG ?? '/etc/resilient-fleet/leader.json';

function imds(method: 'GET' | 'PUT', path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '169.254.169.254', path, method, headers, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`instance metadata ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

let token: string | undefined;
async function metadata(path: string): Promise<string | undefined> {
  // IMDSv2 only: a session token first.
  token ??= (await imds('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '21600' })).body;
  const res = await imds('GET', `/latest/meta-data/${path}`, { 'X-aws-ec2-metadata-token': token });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`instance metadata ${path}: HTTP ${res.status}`);
  return res.body;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function exec(argv: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGTERM', forward);
    process.on('SIGINT', forward);
    child.on('error', (e) => {
      process.stderr.write(`leader-only: cannot start ${argv[0]}: ${e.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed.sub === 'help') {
    if (parsed.error) process.stderr.write(`${parsed.error}\n`);
    process.stderr.write(`${parsed.text}\n`);
    return parsed.error ? 2 : 0;
  }
  const config = JSON.parse(readFileSync(CONFIG_FILE, 'utf8')) as ToolConfig;
  const region = config.region ?? process.env.AWS_REGION;
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region }), { marshallOptions: { removeUndefinedValues: true } });
  const autoscaling = new AutoScalingClient({ region });
  const deps: ToolDeps = {
    ddb,
    config,
    instanceId: async () => (await metadata('instance-id'))!,
    groupName: (instanceId) =>
      // A just-launched instance may not be listed yet: retry with backoff.
      retry(
        async () => {
          const out = await autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
          const name = out.AutoScalingInstances?.[0]?.AutoScalingGroupName;
          if (!name) throw Object.assign(new Error(`${instanceId} is not listed in an Auto Scaling group yet`), { name: 'Instance.NotFound' });
          return name;
        },
        { retryable: isTransient, deadlineMs: 120_000, baseDelayMs: 500, maxDelayMs: 10_000 },
      ),
    metadataTag: (key) => metadata(`tags/instance/${key}`),
    bootId: () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    pid: process.pid,
    processAlive,
    exec,
    sleep: realSleep,
    now: Date.now,
    env: process.env,
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  };
  return parsed.sub === 'only' ? leaderOnly(parsed.options, deps) : leaderStatus(parsed.options, deps);
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`leader: ${err.name}: ${err.message}\n`);
    process.exit(1);
  },
);
