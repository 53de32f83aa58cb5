import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  BOOT_LIFECYCLE_HOOK_NAME,
  BootStep,
  bootHeartbeatTimeoutS,
  DEFAULT_BOOT_BUDGET_S,
  nodeRuntimeStep,
  renderBootScript,
} from '../../lib/private/boot-contract';
import { NODE_BIN, NODE_PACKAGE } from '../../lib/private/node-runtime';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SAMPLE_JOB, SAMPLE_JOB_PATH, buildReferenceSite } from '../../bin/site';
import { testApp } from '../helpers';
import { bootSteps, groupBoots, userDataText } from './boot-assertions';

/**
 * The rendered boot script runs here under bash, with the instance's programs (curl to IMDS, aws, dnf, rpm, the Node
 * executable, sleep) replaced by small stand-ins on PATH that record their calls and fail as a case asks. What is
 * checked is the contract's own behaviour: step order, the failed step on the console, retries, CONTINUE / ABANDON.
 * (The boot lab in test/system runs the synthesized user data against IMDS, S3 and Auto Scaling fakes.)
 */

interface Faults {
  /** aws s3 cp fails this many times (a 503) before it works; -1: always. */
  s3Failures?: number;
  /** Every aws call is denied (AccessDenied) this many times first (IAM propagation). */
  deniedCalls?: number;
  /** dnf fails this many times with a repository error first. */
  dnfFailures?: number;
  /** dnf has no such package. */
  noNodePackage?: boolean;
  /** What the Node executable prints for --version. */
  nodeVersion?: string;
  /** complete-lifecycle-action answers ValidationError "No active Lifecycle Action found". */
  noActiveAction?: boolean;
  /** What describe-auto-scaling-instances says is the instance's LifecycleState (--output text). */
  lifecycleState?: string;
}

interface Run {
  status: number | null;
  stdout: string;
  calls: string[];
  bootLog: string;
  retries: number;
}

const STUBS: Record<string, string> = {
  curl: `#!/bin/bash
echo "curl $*" >> "$STATE/calls"
url="\${*: -1}"
case "$url" in
  */latest/api/token) echo token-1 ;;
  */meta-data/instance-id) echo i-0123456789abcdef0 ;;
  */meta-data/tags/instance/aws:autoscaling:groupName) echo app-group-1 ;;
  *) echo "curl: (22) The requested URL returned error: 404" >&2; exit 22 ;;
esac
`,
  aws: `#!/bin/bash
echo "aws $*" >> "$STATE/calls"
count() { local n; n=$(cat "$STATE/$1" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE/$1"; echo "$n"; }
if [ "$(count denied)" -lt "\${DENIED_CALLS:-0}" ]; then
  echo "An error occurred (AccessDenied) when calling the $1 operation: User is not authorized" >&2; exit 254
fi
if [ "$1" = s3 ]; then
  n=$(count s3)
  if [ "\${S3_FAILURES:-0}" = -1 ] || [ "$n" -lt "\${S3_FAILURES:-0}" ]; then
    echo "download failed: \${*: -2:1} An error occurred (503) when calling the GetObject operation: Service Unavailable" >&2; exit 1
  fi
  echo content > "\${*: -1}"; exit 0
fi
if [ "$2" = complete-lifecycle-action ]; then
  if [ -n "\${NO_ACTIVE_ACTION:-}" ]; then
    echo "An error occurred (ValidationError) when calling the CompleteLifecycleAction operation: No active Lifecycle Action found with instance ID i-0123456789abcdef0" >&2; exit 254
  fi
  echo "lifecycle $*" >> "$STATE/lifecycle"; exit 0
fi
if [ "$2" = describe-auto-scaling-instances ]; then echo "\${LIFECYCLE_STATE:-InService}"; exit 0; fi
if [ "$2" = set-instance-health ]; then exit 0; fi
echo "aws: error: argument operation: Invalid choice, valid choices are: complete-lifecycle-action" >&2; exit 252
`,
  dnf: `#!/bin/bash
echo "dnf $*" >> "$STATE/calls"
n=$(cat "$STATE/dnf" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE/dnf"
if [ "$n" -lt "\${DNF_FAILURES:-0}" ]; then
  echo "Error: Failed to download metadata for repo 'amazonlinux': Cannot download repomd.xml" >&2; exit 1
fi
if [ -n "\${NO_NODE_PACKAGE:-}" ]; then echo "No match for argument: $3" >&2; echo "Error: Unable to find a match: $3" >&2; exit 1; fi
for p in "\${@:3}"; do echo "$p" >> "$STATE/installed"; done
`,
  rpm: `#!/bin/bash
grep -qx "$2" "$STATE/installed" 2>/dev/null
`,
  sleep: `#!/bin/bash
echo "sleep $*" >> "$STATE/sleeps"
`,
  node: `#!/bin/bash
echo "\${NODE_VERSION:-v24.11.1}"
`,
};

function stubDir(root: string): string {
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, text] of Object.entries(STUBS)) fs.writeFileSync(path.join(bin, name), text, { mode: 0o755 });
  return bin;
}

function boot(steps: BootStep[], faults: Faults = {}, budgets: { retry?: number; boot?: number } = {}): Run {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-boot-'));
  try {
    const bin = stubDir(root);
    const state = path.join(root, 'state');
    const logDir = path.join(root, 'log');
    fs.mkdirSync(state);
    const script = path.join(root, 'user-data.sh');
    fs.writeFileSync(script, renderBootScript({ steps, lifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME, region: 'eu-west-1', description: 'test node' }));
    const r = spawnSync('bash', [script], {
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        STATE: state,
        RF_LOG_DIR: logDir,
        RF_RETRY_BUDGET_S: String(budgets.retry ?? 120),
        RF_BOOT_BUDGET_S: String(budgets.boot ?? 600),
        S3_FAILURES: String(faults.s3Failures ?? 0),
        DENIED_CALLS: String(faults.deniedCalls ?? 0),
        DNF_FAILURES: String(faults.dnfFailures ?? 0),
        NO_NODE_PACKAGE: faults.noNodePackage ? '1' : '',
        NODE_VERSION: faults.nodeVersion ?? 'v24.11.1',
        NO_ACTIVE_ACTION: faults.noActiveAction ? '1' : '',
        LIFECYCLE_STATE: faults.lifecycleState ?? 'InService',
      },
    });
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
    return {
      status: r.status,
      stdout: r.stdout + r.stderr,
      calls: read(path.join(state, 'calls')).split('\n').filter(Boolean),
      bootLog: read(path.join(logDir, 'boot.log')),
      retries: read(path.join(logDir, 'retries.log')).split('\n').filter(Boolean).length,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const lifecycleCalls = (run: Run) => run.calls.filter((c) => c.includes('complete-lifecycle-action'));
const results = (run: Run) => lifecycleCalls(run).map((c) => /--lifecycle-action-result (\w+)/.exec(c)?.[1]);

const download: BootStep = { name: 'download', commands: ['s3_get s3://assets/tool.zip "$RF_LOG_DIR/tool.zip"'] };
const marker = (name: string): BootStep => ({ name, commands: [`echo ran >> "$STATE/${name}"`, `echo "${name} ran" >> "$STATE/calls"`] });
// Node checked through a stand-in executable on PATH (the real one is NODE_BIN on the instance).
const node = () => nodeRuntimeStep({ nodeBin: 'node' });

describe('renderBootScript', () => {
  test('starts with bash in strict mode, an ERR trap and the fixed hook name', () => {
    const text = renderBootScript({ steps: [marker('one')], lifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME, region: 'eu-west-1' });
    expect(text.split('\n')[0]).toBe('#!/bin/bash');
    expect(text).toContain('set -Eeuo pipefail');
    expect(text).toContain("trap 'rf_on_err $? \"$BASH_COMMAND\"' ERR");
    expect(text).toContain("readonly RF_HOOK_NAME='resilient-fleet-boot'");
    expect(text).toMatch(/step one rf_step_one\nstep lifecycle-continue rf_step_lifecycle_continue\n/);
  });

  test('refuses step names that cannot name a function, and repeated ones', () => {
    const render = (steps: BootStep[]) => () => renderBootScript({ steps, lifecycleHookName: 'h', region: 'r' });
    expect(render([{ name: 'Bad Name', commands: [] }])).toThrow(/boot step name "Bad Name": use lower-case letters/);
    expect(render([marker('a'), marker('a')])).toThrow(/"a" is used twice/);
  });

  test('the node step installs the agreed package and checks the namespaced executable', () => {
    const text = nodeRuntimeStep().commands.join('\n');
    expect(text).toContain(`dnf_install '${NODE_PACKAGE}'`);
    expect(text).toContain(`version="$('${NODE_BIN}' --version)"`);
    expect(text).not.toMatch(/(^|\s)node\s/);
  });

  test('the heartbeat timeout covers the whole boot budget and the report of a failure', () => {
    expect(bootHeartbeatTimeoutS()).toBeGreaterThan(DEFAULT_BOOT_BUDGET_S);
    expect(bootHeartbeatTimeoutS()).toBeLessThanOrEqual(7200);
  });
});

describe('the rendered boot, run under bash with stand-in programs', () => {
  test('runs every step in order, then completes the lifecycle action with CONTINUE exactly once', () => {
    const run = boot([node(), download, marker('first'), marker('second')]);
    expect(run.status).toBe(0);
    expect(results(run)).toEqual(['CONTINUE']);
    expect(lifecycleCalls(run)[0]).toContain(
      'autoscaling complete-lifecycle-action --lifecycle-hook-name resilient-fleet-boot --auto-scaling-group-name app-group-1 --instance-id i-0123456789abcdef0',
    );
    const order = run.calls.filter((c) => / ran$|^dnf|s3 cp|complete-lifecycle/.test(c)).map((c) => c.split(' ').slice(0, 2).join(' '));
    expect(order).toEqual(['dnf install', 'aws s3', 'first ran', 'second ran', 'aws autoscaling']);
    expect(run.stdout).toMatch(/step node-runtime: ok/);
    expect(run.stdout).toMatch(/boot complete in \d+ s, 0 retries/);
    expect(run.bootLog).toContain('node v24.11.1');
  });

  test('a failed step stops the boot: the console names it with its output, later steps never run, ABANDON once', () => {
    const failing: BootStep = { name: 'configure', commands: ['echo "writing the config"', 'false', 'echo "not reached"'] };
    const run = boot([marker('first'), failing, marker('service')]);
    expect(run.status).not.toBe(0);
    expect(run.stdout).toMatch(/FAILED step configure \(exit 1\): false/);
    expect(run.stdout).toContain('[configure] writing the config');
    expect(run.stdout).not.toContain('not reached');
    expect(run.calls).toContain('first ran');
    expect(run.calls).not.toContain('service ran');
    expect(results(run)).toEqual(['ABANDON']);
    expect(run.bootLog).toMatch(/FAILED step configure/);
  });

  test('an unset variable (set -u) fails the step like any other error', () => {
    const run = boot([{ name: 'typo', commands: ['echo "$NOT_SET_ANYWHERE"'] }, marker('after')]);
    expect(run.status).not.toBe(0);
    expect(run.stdout).toMatch(/FAILED step typo/);
    expect(run.calls).not.toContain('after ran');
    expect(results(run)).toEqual(['ABANDON']);
  });

  test('a failure inside a pipeline fails the step (pipefail)', () => {
    const run = boot([{ name: 'pipe', commands: ['false | cat'] }]);
    expect(results(run)).toEqual(['ABANDON']);
  });

  test('S3 failing for a while: the download is retried with growing delays and the boot succeeds', () => {
    const run = boot([download, marker('after')], { s3Failures: 4 });
    expect(run.status).toBe(0);
    expect(run.calls.filter((c) => c.startsWith('aws s3 cp'))).toHaveLength(5);
    expect(run.retries).toBe(4);
    expect(run.bootLog).toMatch(/retry: rf_aws_once succeeded at attempt 5/);
    expect(results(run)).toEqual(['CONTINUE']);
  });

  test('backoff doubles up to 30 s, with jitter between half and all of each delay', () => {
    // The sleep stand-in records each delay; a last step prints the record into the boot log.
    const run = boot([download, { name: 'copy', commands: ['cat "$STATE/sleeps"'] }], { s3Failures: 8 }, { retry: 1000 });
    const sleeps = run.bootLog
      .split('\n')
      .filter((l) => l.startsWith('sleep '))
      .map((l) => Number(l.split(' ')[1]));
    const nominal = [1, 2, 4, 8, 16, 30, 30, 30];
    expect(sleeps).toHaveLength(nominal.length);
    sleeps.forEach((s, i) => {
      expect(s).toBeGreaterThanOrEqual(nominal[i] / 2);
      expect(s).toBeLessThanOrEqual(nominal[i]);
    });
  });

  test('S3 failing for good: the download gives up within its budget and the instance is ABANDONed', () => {
    const run = boot([marker('first'), download, marker('service')], { s3Failures: -1 }, { retry: 20 });
    expect(run.status).not.toBe(0);
    expect(run.stdout).toMatch(/FAILED step download/);
    expect(run.stdout).toMatch(/\[download\] .*giving up/);
    expect(run.calls).not.toContain('service ran');
    expect(results(run)).toEqual(['ABANDON']);
  });

  test('IAM denying at first (a fresh grant): AWS calls are retried and the boot succeeds', () => {
    const run = boot([download], { deniedCalls: 3 });
    expect(run.status).toBe(0);
    expect(run.bootLog).toMatch(/denied \(IAM propagation\?\); retrying/);
    expect(run.retries).toBe(3);
    expect(results(run)).toEqual(['CONTINUE']);
  });

  test('the package repository failing for a while: dnf is retried and the boot succeeds', () => {
    const run = boot([node()], { dnfFailures: 2 });
    expect(run.status).toBe(0);
    expect(run.calls.filter((c) => c.startsWith('dnf install'))).toEqual(Array(3).fill(`dnf install -y ${NODE_PACKAGE}`));
    expect(results(run)).toEqual(['CONTINUE']);
  });

  test('the Node package missing: fails the node-runtime step at once (no retry) and ABANDONs', () => {
    const run = boot([node(), marker('service')], { noNodePackage: true });
    expect(run.status).not.toBe(0);
    expect(run.calls.filter((c) => c.startsWith('dnf install'))).toHaveLength(1);
    expect(run.stdout).toMatch(/FAILED step node-runtime/);
    expect(run.stdout).toContain(`[node-runtime] No match for argument: ${NODE_PACKAGE}`);
    expect(run.calls).not.toContain('service ran');
    expect(results(run)).toEqual(['ABANDON']);
  });

  test('a Node older than 20 fails the node-runtime step', () => {
    const run = boot([node(), marker('service')], { nodeVersion: 'v18.20.4' });
    expect(run.stdout).toMatch(/FAILED step node-runtime/);
    expect(run.stdout).toContain('node is v18.20.4: instance programs need Node 20 or newer');
    expect(results(run)).toEqual(['ABANDON']);
  });

  test('an already installed package is not installed again', () => {
    const run = boot([node(), { name: 'again', commands: [`dnf_install '${NODE_PACKAGE}'`] }]);
    expect(run.calls.filter((c) => c.startsWith('dnf install'))).toHaveLength(1);
    expect(results(run)).toEqual(['CONTINUE']);
  });

  test('a validation error is not retried', () => {
    const bad: BootStep = { name: 'bad-call', commands: ['retry_aws autoscaling describe-nothing'] };
    const run = boot([bad]);
    expect(run.calls.filter((c) => c.includes('describe-nothing'))).toHaveLength(1);
    expect(results(run)).toEqual(['ABANDON']);
  });

  const describeCalls = (run: Run) => run.calls.filter((c) => c.includes('describe-auto-scaling-instances'));
  const healthCalls = (run: Run) => run.calls.filter((c) => c.includes('set-instance-health'));

  test('no active lifecycle action and the instance InService (a group without the hook, or a lost reply): the boot ends well', () => {
    const run = boot([marker('first')], { noActiveAction: true, lifecycleState: 'InService' });
    expect(run.status).toBe(0);
    expect(lifecycleCalls(run)).toHaveLength(1);
    expect(describeCalls(run)).toEqual([
      "aws autoscaling describe-auto-scaling-instances --instance-ids i-0123456789abcdef0 --query AutoScalingInstances[0].LifecycleState --output text",
    ]);
    expect(healthCalls(run)).toEqual([]);
    expect(run.bootLog).toMatch(/no active launch lifecycle action for i-0123456789abcdef0; its lifecycle state is InService/);
    expect(run.bootLog).toMatch(/boot complete/);
  });

  test.each(['Terminating:Wait', 'Terminating', 'Terminated'])(
    'no active lifecycle action and the instance %s (the hook timed out): CONTINUE fails for good, no later step runs',
    (state) => {
      // CONTINUE is the contract's last step: the boot ends failed (not "complete") and ABANDON is tried once.
      const run = boot([marker('first')], { noActiveAction: true, lifecycleState: state });
      expect(run.status).not.toBe(0);
      expect(results(run)).toEqual(['CONTINUE', 'ABANDON']);
      expect(run.bootLog).toContain('FAILED step lifecycle-continue');
      expect(run.bootLog).toContain(`i-0123456789abcdef0 is ${state}: the boot stops here`);
      expect(run.bootLog).not.toMatch(/boot complete/);
      // no retry of a permanent answer: one describe for CONTINUE, one for ABANDON
      expect(describeCalls(run)).toHaveLength(2);
      expect(healthCalls(run)).toEqual([]);
    },
  );

  test.each(['InService', 'Standby'])('a failed boot whose launch action is gone while the instance is %s marks it Unhealthy', (state) => {
    const bad: BootStep = { name: 'bad', commands: ['false'] };
    const run = boot([bad], { noActiveAction: true, lifecycleState: state });
    expect(run.status).not.toBe(0);
    expect(results(run)).toEqual(['ABANDON']);
    expect(healthCalls(run)).toEqual(['aws autoscaling set-instance-health --instance-id i-0123456789abcdef0 --health-status Unhealthy']);
    expect(run.bootLog).toContain('marking i-0123456789abcdef0 Unhealthy so that the group replaces it');
  });

  test('a failed boot whose launch action is gone while the instance is already Terminating sets no health', () => {
    const bad: BootStep = { name: 'bad', commands: ['false'] };
    const run = boot([bad], { noActiveAction: true, lifecycleState: 'Terminating:Wait' });
    expect(run.status).not.toBe(0);
    expect(healthCalls(run)).toEqual([]);
  });
});

describe('the reference site: every group boots through the contract', () => {
  const app = testApp();
  const site = buildReferenceSite(app);
  const stacks = (Object.values(site) as unknown[]).filter((s): s is Stack => s instanceof Stack);
  const boots = stacks.flatMap((stack) => groupBoots(Template.fromStack(stack)).map((b) => ({ ...b, stack: stack.stackName })));

  test('finds the groups of the App copies, the Workers and both Edge nodes', () => {
    expect(boots.map((b) => b.stack).sort()).toEqual(['App-blue', 'App-green', 'Edge', 'Edge', 'Workers']);
  });

  test.each(['launch hook', 'metadata'])('every group: %s', (what) => {
    for (const b of boots) {
      if (what === 'launch hook') {
        expect(b.launchHooks).toEqual([expect.objectContaining({ LifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME, DefaultResult: 'ABANDON', HeartbeatTimeout: bootHeartbeatTimeoutS() })]);
      } else {
        expect(b.metadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'enabled' });
      }
    }
  });

  test('every group waits for every policy of its role, and no policy of its role names the group', () => {
    for (const b of boots) {
      const missing = b.policies.filter((p) => !b.dependsOn.includes(p));
      expect({ group: `${b.stack}/${b.group}`, missing, namingGroup: b.namingGroup }).toEqual({ group: `${b.stack}/${b.group}`, missing: [], namingGroup: [] });
    }
    // The App copies run LeaderElection: its instance policy is among those their groups wait for.
    const app = boots.filter((b) => b.stack.startsWith('App-'));
    expect(app.map((b) => b.policies.filter((p) => /^LeaderInstancePolicy/.test(p)).length)).toEqual([1, 1]);
  });

  test('the Workers user data installs the sample job at the path the worker service runs', () => {
    const workers = stacks.find((s) => s.stackName === 'Workers')!;
    const ud = userDataText(Template.fromStack(workers));
    expect(ud).toContain(`cat > ${SAMPLE_JOB_PATH} <<'SAMPLE_JOB_EOF'\n${SAMPLE_JOB}SAMPLE_JOB_EOF`);
    expect(ud).toContain(`-- ${SAMPLE_JOB_PATH} || status=$?`);
    expect(bootSteps(ud).indexOf('user-data')).toBeLessThan(bootSteps(ud).indexOf('queue-worker'));
  });
});

describe('the sample job', () => {
  const run = (body: string, env: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-job-'));
    try {
      const job = path.join(dir, 'process-one-job');
      fs.writeFileSync(job, SAMPLE_JOB, { mode: 0o755 });
      const r = spawnSync(job, [], { input: body, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', EXPORT_DIR: path.join(dir, 'exports'), ...env } });
      const out = path.join(dir, 'exports');
      const files = fs.existsSync(out) ? fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]) : [];
      return { status: r.status, stdout: r.stdout, stderr: r.stderr, files };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  test('processes a message body: writes it under its message id and exits 0 (so job-guard deletes the message)', () => {
    const r = run('{"export":"orders-2026-11"}', { JOB_MESSAGE_ID: '5fea7756-0ea4-451a-a703-a558b933e274' });
    expect(r.status).toBe(0);
    expect(r.files).toEqual([['5fea7756-0ea4-451a-a703-a558b933e274.body', '{"export":"orders-2026-11"}\n']]);
    expect(r.stdout).toContain('exported message 5fea7756-0ea4-451a-a703-a558b933e274');
  });

  test('an empty body fails with EX_DATAERR (the message is retried, then dead-lettered)', () => {
    const r = run('', {});
    expect(r.status).toBe(65);
    expect(r.files).toEqual([]);
  });

  test('a message id cannot escape the export directory', () => {
    const r = run('x', { JOB_MESSAGE_ID: '../../etc/passwd' });
    expect(r.status).toBe(0);
    expect(r.files.map(([f]) => f)).toEqual(['______etc_passwd.body']);
  });
});
