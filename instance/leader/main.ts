/**
 * The on-instance leader tool, wired to AWS: configuration from the JSON file user data writes, the instance's identity and
 * tags from IMDSv2 (lambda/shared/imds.ts, which honours the SDKs' AWS_EC2_METADATA_SERVICE_ENDPOINT override), the ledger
 * in DynamoDB and the group from Auto Scaling (SDK clients, which honour AWS_ENDPOINT_URL and the usual credentials chain).
 * index.ts runs it and exits with its code; tests call it against a fake IMDSv2 and the wire harness.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isTransientAfterCreate } from '../../lambda/shared/errors';
import { imdsSession, type ImdsOptions } from '../../lambda/shared/imds';
import { realSleep, retry, type RetryOptions } from '../../lambda/shared/retry';
import { leaderOnly, leaderStatus, parseArgs, type ToolConfig, type ToolDeps } from './cli';

export const DEFAULT_CONFIG_FILE = '/etc/resilient-fleet/leader.json';

export interface MainOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
  /** Backoff of the metadata and Auto Scaling retries (tests make it instant). */
  readonly retry?: Partial<Pick<RetryOptions, 'sleep' | 'random' | 'baseDelayMs' | 'deadlineMs'>>;
  readonly imds?: Omit<ImdsOptions, 'env' | 'retry'>;
  readonly bootId?: () => string;
  readonly exec?: ToolDeps['exec'];
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

/** Runs `leader-only` / `leader-status` with these arguments; resolves to the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const out = options.out ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const err = options.err ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const parsed = parseArgs([...argv]);
  if (parsed.sub === 'help') {
    if (parsed.error) err(parsed.error);
    err(parsed.text);
    return parsed.error ? 2 : 0;
  }
  const config = JSON.parse(readFileSync(env.LEADER_CONFIG ?? DEFAULT_CONFIG_FILE, 'utf8')) as ToolConfig;
  const imds = imdsSession({ ...options.imds, env, retry: options.retry });
  const region = config.region ?? env.AWS_REGION ?? (await imds.identity()).region;
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region }), { marshallOptions: { removeUndefinedValues: true } });
  const autoscaling = new AutoScalingClient({ region });
  try {
    const deps: ToolDeps = {
      ddb,
      config,
      instanceId: async () => (await imds.identity()).instanceId,
      groupName: (instanceId) =>
        // A just-launched instance may not be listed yet, and its role's grant may still be propagating (AccessDenied):
        // retry both with backoff, up to the deadline.
        retry(
          async () => {
            const res = await autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
            const name = res.AutoScalingInstances?.[0]?.AutoScalingGroupName;
            if (!name) throw Object.assign(new Error(`${instanceId} is not listed in an Auto Scaling group yet`), { name: 'Instance.NotFound' });
            return name;
          },
          { deadlineMs: 120_000, baseDelayMs: 500, maxDelayMs: 10_000, ...options.retry, retryable: isTransientAfterCreate },
        ),
      metadataTag: (key) => imds.get(`tags/instance/${key}`),
      bootId: options.bootId ?? (() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
      pid: process.pid,
      processAlive,
      exec: options.exec ?? exec,
      sleep: options.retry?.sleep ?? realSleep,
      now: Date.now,
      env,
      out,
      err,
    };
    return parsed.sub === 'only' ? await leaderOnly(parsed.options, deps) : await leaderStatus(parsed.options, deps);
  } finally {
    ddb.destroy();
    autoscaling.destroy();
  }
}
