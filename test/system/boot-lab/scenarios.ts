/**
 * The boot lab's node types and faults, and a runner that boots many labs at once (the fault windows are real
 * time, so they overlap instead of adding up). Used by test/system/boot-lab.test.ts and bench/boot.bench.ts.
 */
import { BootLab, BootResult, Fault } from './lab';
import { launchTemplateBoots, LaunchTemplateBoot, readTemplate, Resolver } from './user-data';

export type NodeType = 'edge' | 'app' | 'worker';

export const NODE_TYPES: Record<NodeType, { stack: string; launchTemplate: RegExp; peers: number }> = {
  // The pair's first node; its peer exists in the fake EC2 (tagged like it) but does not run.
  edge: { stack: 'Edge', launchTemplate: /^PairNode1/, peers: 1 },
  app: { stack: 'App-blue', launchTemplate: /^Fleet/, peers: 0 },
  worker: { stack: 'Workers', launchTemplate: /^Workers/, peers: 0 },
};

export type FaultName = 'none' | 's3-20s' | 'repo-20s' | 'iam-30s' | 'imds-20s' | 'node-missing' | 's3-forever';

/** Every Node package name a boot might ask for: the "Node package missing" fault removes them all. */
const NODE_PACKAGES = ['nodejs', 'nodejs20', 'nodejs22', 'nodejs24'];

/** Each window opens at the first request it concerns (the first S3 call, repository read, AWS call). */
export const FAULTS: Record<FaultName, Fault | undefined> = {
  none: undefined,
  's3-20s': { kind: 's3', ms: 20_000 },
  'repo-20s': { kind: 'repo', ms: 20_000 },
  'iam-30s': { kind: 'iam', ms: 30_000 },
  // The metadata service not reachable yet (connections reset): no instance id, no role credentials for the CLI.
  'imds-20s': { kind: 'imds', ms: 20_000 },
  'node-missing': { kind: 'missing', packages: NODE_PACKAGES },
  's3-forever': { kind: 's3' },
};

/** Faults the boot must survive (CONTINUE after retries) and faults it must give up on (ABANDON). */
export const TRANSIENT_FAULTS: FaultName[] = ['s3-20s', 'repo-20s', 'iam-30s', 'imds-20s'];
export const PERMANENT_FAULTS: FaultName[] = ['node-missing', 's3-forever'];

export interface Scenario {
  readonly node: NodeType;
  readonly fault: FaultName;
}

export interface ScenarioRun {
  readonly scenario: Scenario;
  readonly lab: BootLab;
  readonly boot: LaunchTemplateBoot;
  readonly result: BootResult;
  /** The queue URL the node's user data names (workers), and the id of the message queued before the boot. */
  readonly queueUrl?: string;
}

export function bootOf(outdir: string, node: NodeType): LaunchTemplateBoot {
  const t = NODE_TYPES[node];
  const found = launchTemplateBoots(outdir, t.stack).filter((b) => t.launchTemplate.test(b.launchTemplateId));
  if (found.length !== 1) throw new Error(`boot lab: expected one launch template matching ${t.launchTemplate} in ${t.stack}, found ${found.map((b) => b.launchTemplateId).join(', ') || 'none'}`);
  return found[0];
}

/** The stack's queues (by the URL their Ref resolves to), and the one the user data names. */
function queuesOf(outdir: string, boot: LaunchTemplateBoot): { all: string[]; named?: string } {
  const template = readTemplate(outdir, boot.stack);
  const resolver = new Resolver(template, boot.stack, 'eu-west-1');
  const all = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue').map(([id]) => resolver.queueUrl(id));
  return { all, named: all.find((u) => boot.script.includes(u)) };
}

export const SAMPLE_MESSAGE = JSON.stringify({ job: 'boot-lab', id: 'msg-0001' });

export interface RunOptions {
  readonly outdir: string;
  /** Labs booting at once (2 cores: the AWS CLI is the CPU cost). */
  readonly concurrency?: number;
  /** First subnet number; labs get consecutive ones. */
  readonly subnetBase?: number;
  /** The most a boot may take before the lab ends it (as the hook's heartbeat timeout would). @default the hook's, capped at 420 s */
  readonly maxBootMs?: number;
  /** Environment for the boot script (the contract's documented RF_* knobs), per scenario. */
  readonly bootEnv?: (s: Scenario) => Record<string, string>;
  /** Every lab is pushed here as soon as it exists, so a caller can close them all even if this never resolves. */
  readonly labs?: BootLab[];
}

/** Boots every scenario, at most `concurrency` at a time; the labs stay up for checks (close them yourself). */
export async function runScenarios(scenarios: Scenario[], o: RunOptions): Promise<ScenarioRun[]> {
  const runs: ScenarioRun[] = new Array(scenarios.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const k = next++;
      if (k >= scenarios.length) return;
      const s = scenarios[k];
      const boot = bootOf(o.outdir, s.node);
      const queues = queuesOf(o.outdir, boot);
      const lab = new BootLab({
        outdir: o.outdir,
        boot,
        subnet: (o.subnetBase ?? 1) + k,
        fault: FAULTS[s.fault],
        peers: NODE_TYPES[s.node].peers,
        queues: queues.all,
        messages: queues.named ? [{ queueUrl: queues.named, body: SAMPLE_MESSAGE }] : [],
      });
      o.labs?.push(lab);
      const hookMs = (boot.launchHookHeartbeatSeconds ?? 120) * 1000;
      try {
        await lab.start();
        const result = await lab.boot(Math.min(hookMs, o.maxBootMs ?? 420_000), o.bootEnv?.(s) ?? {});
        runs[k] = { scenario: s, lab, boot, result, queueUrl: queues.named };
      } catch (e) {
        runs[k] = { scenario: s, lab, boot, result: { code: null, ms: 0, console: `lab failed: ${(e as Error).stack}`, timedOut: false }, queueUrl: queues.named };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 6) }, worker));
  return runs;
}

export function scenarioName(s: Scenario): string {
  return `${s.node}/${s.fault}`;
}
