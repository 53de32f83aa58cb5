/**
 * The on-instance commands of LeaderElection, with every dependency injectable for tests:
 *
 *   leader-only [--revision R] [--name N] [--no-wait] [--wait-timeout SECONDS] -- command [args...]
 *       Runs the command on exactly one instance per deployment. The deployment is CodeDeploy's
 *       DEPLOYMENT_ID (set in every lifecycle hook script) or --revision. Other instances wait until it is
 *       done (exit 0), or until it failed (exit 1). A failed or abandoned run is claimed again by a later
 *       invocation; a finished one is never repeated.
 *
 *   leader-status [--check] [--json]
 *       Shows the group's continuous leader, its term (fencing token) and whether this instance leads.
 *       --check: exit 0 when this instance is the leader, 1 otherwise (for cron: `leader-status --check && job`).
 */
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  LEADER_SK,
  RUN_SK_PREFIX,
  commandName,
  decideClaim,
  leaderPk,
  runKey,
  runsPk,
  type Claimant,
  type RunRecord,
} from '../../lambda/leader/logic';
import { hasCode } from '../../lambda/shared/errors';

export interface ToolConfig {
  readonly tableName: string;
  readonly tagKey: string;
  readonly region?: string;
  /** Normally discovered from the instance's Auto Scaling group. */
  readonly groupName?: string;
}

export interface ToolDeps {
  readonly ddb: Pick<DynamoDBDocumentClient, 'send'>;
  readonly config: ToolConfig;
  readonly instanceId: () => Promise<string>;
  readonly groupName: (instanceId: string) => Promise<string>;
  /** The leader tag as instance metadata shows it, undefined when absent. */
  readonly metadataTag: (key: string) => Promise<string | undefined>;
  readonly bootId: () => string;
  readonly pid: number;
  readonly processAlive: (pid: number) => boolean;
  /** Runs the command with inherited stdio; resolves to its exit code. */
  readonly exec: (argv: readonly string[]) => Promise<number>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly env: Record<string, string | undefined>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export interface OnlyOptions {
  readonly revision?: string;
  readonly name?: string;
  readonly wait: boolean;
  readonly waitTimeoutS: number;
  readonly pollS: number;
  readonly command: readonly string[];
}

export interface StatusOptions {
  readonly check: boolean;
  readonly json: boolean;
}

export type Parsed =
  | { readonly sub: 'only'; readonly options: OnlyOptions }
  | { readonly sub: 'status'; readonly options: StatusOptions }
  | { readonly sub: 'help'; readonly text: string; readonly error?: string };

export const USAGE = [
  'usage: leader-only [--revision R] [--name N] [--no-wait] [--wait-timeout SECONDS] -- command [args...]',
  '       leader-status [--check] [--json]',
].join('\n');

/** Parses `only ...` or `status ...`. */
export function parseArgs(argv: readonly string[]): Parsed {
  const [sub, ...rest] = argv;
  const fail = (error: string): Parsed => ({ sub: 'help', text: USAGE, error });
  if (sub === 'only') {
    let revision: string | undefined;
    let name: string | undefined;
    let wait = true;
    let waitTimeoutS = 3600;
    let pollS = 5;
    let i = 0;
    for (; i < rest.length; i++) {
      const a = rest[i];
      if (a === '--') {
        i++;
        break;
      }
      const value = () => {
        const v = rest[++i];
        if (v === undefined) throw new Error(`${a} needs a value`);
        return v;
      };
      try {
        if (a === '--revision') revision = value();
        else if (a === '--name') name = value();
        else if (a === '--no-wait') wait = false;
        else if (a === '--wait-timeout') waitTimeoutS = positive(a, value());
        else if (a === '--poll') pollS = positive(a, value());
        else if (a.startsWith('-')) return fail(`unknown option ${a}`);
        else break;
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    const command = rest.slice(i);
    if (command.length === 0) return fail('no command given (put it after --)');
    if (revision !== undefined && !/^[\w.:@/+-]{1,200}$/.test(revision)) return fail(`--revision ${JSON.stringify(revision)}: use letters, digits and . : @ / + - _ (at most 200)`);
    if (name !== undefined && !/^[\w.-]{1,100}$/.test(name)) return fail(`--name ${JSON.stringify(name)}: use letters, digits, . - _ (at most 100)`);
    return { sub: 'only', options: { revision, name, wait, waitTimeoutS, pollS, command } };
  }
  if (sub === 'status') {
    let check = false;
    let json = false;
    for (const a of rest) {
      if (a === '--check') check = true;
      else if (a === '--json') json = true;
      else return fail(`unknown option ${a}`);
    }
    return { sub: 'status', options: { check, json } };
  }
  return fail(sub === undefined || sub === '--help' || sub === 'help' ? '' : `unknown subcommand ${sub}`);
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number of seconds, got ${JSON.stringify(v)}`);
  return n;
}

function isCcf(err: unknown): boolean {
  return hasCode(err, 'ConditionalCheckFailedException');
}

async function readRun(deps: ToolDeps, group: string, key: string): Promise<RunRecord | undefined> {
  const out = await deps.ddb.send(
    new GetCommand({ TableName: deps.config.tableName, Key: { pk: runsPk(group), sk: RUN_SK_PREFIX + key }, ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const i = out.Item;
  return {
    key,
    status: i.status,
    attempt: Number(i.attempt),
    owner: String(i.owner),
    bootId: String(i.bootId ?? ''),
    pid: Number(i.pid ?? 0),
    startedAt: Number(i.startedAt ?? 0),
    finishedAt: i.finishedAt === undefined ? undefined : Number(i.finishedAt),
    exitCode: i.exitCode === undefined ? undefined : Number(i.exitCode),
  };
}

/** leader-only: returns the process exit code. */
export async function leaderOnly(options: OnlyOptions, deps: ToolDeps): Promise<number> {
  const deployment = options.revision ?? deps.env.DEPLOYMENT_ID;
  if (!deployment) {
    deps.err('leader-only: no deployment id. Run it inside a CodeDeploy lifecycle hook (DEPLOYMENT_ID) or pass --revision.');
    return 2;
  }
  const instanceId = await deps.instanceId();
  const group = deps.config.groupName ?? (await deps.groupName(instanceId));
  const name = options.name ?? commandName(options.command);
  const key = runKey(deployment, name);
  const me: Claimant = { instanceId, bootId: deps.bootId(), pid: deps.pid };
  const deadline = deps.now() + options.waitTimeoutS * 1000;
  let firstLook = true;
  for (;;) {
    const record = await readRun(deps, group, key);
    const d = decideClaim({ record, me, firstLook, localProcessAlive: deps.processAlive });
    if (d.action === 'skip') {
      deps.out(`leader-only: ${key}: ${d.reason}; not running it here`);
      return 0;
    }
    if (d.action === 'fail') {
      deps.err(`leader-only: ${key}: ${d.reason}`);
      return 1;
    }
    if (d.action === 'wait') {
      if (!options.wait) {
        deps.out(`leader-only: ${key}: ${d.reason}; --no-wait given, not waiting`);
        return 0;
      }
      if (deps.now() >= deadline) {
        deps.err(`leader-only: ${key}: ${d.reason}; gave up waiting after ${options.waitTimeoutS} s`);
        return 1;
      }
      if (firstLook) deps.out(`leader-only: ${key}: ${d.reason}; waiting for it to finish`);
      firstLook = false;
      await deps.sleep(options.pollS * 1000);
      continue;
    }
    const condition =
      d.expectedAttempt === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'attempt = :expected AND #s <> :done',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':expected': d.expectedAttempt, ':done': 'DONE' },
          };
    try {
      await deps.ddb.send(
        new PutCommand({
          TableName: deps.config.tableName,
          Item: {
            pk: runsPk(group),
            sk: RUN_SK_PREFIX + key,
            deployment,
            name,
            status: 'RUNNING',
            attempt: d.attempt,
            owner: me.instanceId,
            bootId: me.bootId,
            pid: me.pid,
            startedAt: deps.now(),
          },
          ...condition,
        }),
      );
    } catch (err) {
      if (isCcf(err)) continue; // another instance claimed it first: look again
      throw err;
    }
    deps.out(`leader-only: ${key}: claimed attempt ${d.attempt} (${d.reason}); running: ${options.command.join(' ')}`);
    const exitCode = await deps.exec(options.command);
    const status = exitCode === 0 ? 'DONE' : 'FAILED';
    try {
      await deps.ddb.send(
        new UpdateCommand({
          TableName: deps.config.tableName,
          Key: { pk: runsPk(group), sk: RUN_SK_PREFIX + key },
          UpdateExpression: 'SET #s = :status, finishedAt = :now, exitCode = :code',
          ConditionExpression: 'attempt = :attempt AND #o = :me',
          ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
          ExpressionAttributeValues: { ':status': status, ':now': deps.now(), ':code': exitCode, ':attempt': d.attempt, ':me': me.instanceId },
        }),
      );
    } catch (err) {
      if (isCcf(err)) {
        deps.err(`leader-only: ${key}: attempt ${d.attempt} was taken over while it ran (its claim was abandoned); check the command's effects`);
        return 1;
      }
      throw err;
    }
    deps.out(`leader-only: ${key}: attempt ${d.attempt} ${status === 'DONE' ? 'done' : `failed with exit code ${exitCode}`}`);
    return exitCode;
  }
}

export interface StatusReport {
  readonly group: string;
  readonly instanceId: string;
  readonly leader: string | null;
  readonly term: number;
  readonly since: string | null;
  readonly isLeader: boolean;
  /** The leader tag in this instance's metadata (the term it was tagged with), null when absent or unreadable. */
  readonly metadataTag: string | null;
}

/** leader-status: returns the process exit code. */
export async function leaderStatus(options: StatusOptions, deps: ToolDeps): Promise<number> {
  const instanceId = await deps.instanceId();
  const group = deps.config.groupName ?? (await deps.groupName(instanceId));
  const out = await deps.ddb.send(
    new GetCommand({ TableName: deps.config.tableName, Key: { pk: leaderPk(group), sk: LEADER_SK }, ConsistentRead: true }),
  );
  let tag: string | undefined;
  try {
    tag = await deps.metadataTag(deps.config.tagKey);
  } catch {
    tag = undefined;
  }
  const leader = typeof out.Item?.leader === 'string' ? out.Item.leader : null;
  const report: StatusReport = {
    group,
    instanceId,
    leader,
    term: Number(out.Item?.term ?? 0),
    since: out.Item?.since === undefined ? null : new Date(Number(out.Item.since)).toISOString(),
    isLeader: leader === instanceId,
    metadataTag: tag ?? null,
  };
  if (options.json) deps.out(JSON.stringify(report));
  else if (!options.check) {
    deps.out(`group:      ${report.group}`);
    deps.out(`leader:     ${report.leader ?? '(none: no instance in service)'}`);
    deps.out(`term:       ${report.term}`);
    deps.out(`since:      ${report.since ?? '-'}`);
    deps.out(`this:       ${report.instanceId} (${report.isLeader ? 'LEADER' : 'follower'})`);
    deps.out(`tag:        ${deps.config.tagKey}=${report.metadataTag ?? '(absent)'}`);
  }
  return options.check ? (report.isLeader ? 0 : 1) : 0;
}
