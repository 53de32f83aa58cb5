/**
 * The boot lab (issue 12): every node type's user data, taken from the synthesized reference site, boots in a
 * simulated Amazon Linux instance (see boot-lab/lab.ts) with everything reachable, under one fault at a time, and
 * after a reboot. The faults' windows are real time, so every scenario boots at once in beforeAll and the tests
 * check what each boot did: the services, the lifecycle action the fake Auto Scaling received, the console.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { canUseNetns, requirePrograms } from './programs';
import { BootLab, sweepStaleLabs } from './boot-lab/lab';
import { NodeType, PERMANENT_FAULTS, runScenarios, SAMPLE_MESSAGE, Scenario, scenarioName, ScenarioRun, TRANSIENT_FAULTS } from './boot-lab/scenarios';
import { synthSite } from './boot-lab/synth-site';

const NODES: NodeType[] = ['edge', 'app', 'worker'];
/** The Edge's first client port (bin/site.ts exampleEdgeClients: customer-0001 on 9001). */
const CLIENT_PORT = 9001;
/** The pair's VPN virtual address (bin/site.ts vpnVirtualIp). */
const VPN_ADDRESS = '172.31.255.10';

const scenarios: Scenario[] = [
  // The faults with a window first: their boots wait, the others fill the cores meanwhile.
  ...TRANSIENT_FAULTS.flatMap((fault) => NODES.map((node) => ({ node, fault }))),
  ...NODES.map((node) => ({ node, fault: 'none' as const })),
  ...PERMANENT_FAULTS.flatMap((fault) => NODES.map((node) => ({ node, fault }))),
];

let outdir: string;
let runs: ScenarioRun[] = [];
/** Every lab created, closed in afterAll even when the boots did not finish. */
const labs: BootLab[] = [];
const run = (node: NodeType, fault: Scenario['fault']): ScenarioRun => {
  const r = runs.find((x) => x.scenario.node === node && x.scenario.fault === fault);
  if (!r) throw new Error(`no run for ${node}/${fault}`);
  return r;
};
/** What a failed assertion needs to be understood: the end of the console and what the fake AWS saw. */
const evidence = (r: ScenarioRun) =>
  `${scenarioName(r.scenario)}: exit ${r.result.code} after ${r.result.ms} ms${r.result.timedOut ? ' (timed out)' : ''}\n--- console (end)\n${r.result.console.slice(-3000)}\n--- units\n${JSON.stringify(r.lab.startedUnits())}\n--- lifecycle ${JSON.stringify(r.lab.lifecycleResults())}`;

const closeAll = () => {
  for (const lab of labs.splice(0)) {
    try {
      lab.close();
    } catch (e) {
      console.error(`boot lab ${lab.dir}: ${(e as Error).message}`);
    }
  }
};
process.once('exit', closeAll);

beforeAll(async () => {
  requirePrograms('ip', 'unshare', 'nsenter', 'setpriv', 'mknod', 'zip', 'unzip', 'curl', 'haproxy', 'keepalived', 'nft', 'node', 'python3');
  if (!fs.existsSync('/usr/bin/aws') || !fs.readFileSync('/usr/bin/aws', 'utf8').includes('awscli')) {
    throw new Error('the boot lab runs the real AWS CLI v2: apt-get install -y awscli (Debian puts it at /usr/bin/aws)');
  }
  if (!canUseNetns()) throw new Error('the boot lab needs root: network, mount and pid namespaces and overlay mounts');
  // Namespaces a killed earlier run left behind (its close() never ran) go first.
  sweepStaleLabs();
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-boot-lab-site-'));
  synthSite(outdir);
  runs = await runScenarios(scenarios, {
    outdir,
    concurrency: 8,
    // "S3 failing for good" would retry each call for the contract's full budget (300 s); the contract reads
    // RF_RETRY_BUDGET_S from its environment, so that one fault gets a shorter budget, still past every window.
    bootEnv: (s): Record<string, string> => (s.fault === 's3-forever' ? { RF_RETRY_BUDGET_S: '40' } : {}),
    maxBootMs: 300_000,
    labs,
  });
  // On a quiet 2-core machine all of it takes about three minutes (the longest fault window plus its retries and
  // the AWS CLI's start-up, a second of CPU per call); a machine busy with other work needs more.
}, 900_000);

afterAll(() => {
  closeAll();
  if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
});

describe.each(NODES)('the %s node', (node) => {
  test('boots with everything reachable and completes the launch lifecycle action with CONTINUE exactly once', () => {
    const r = run(node, 'none');
    expect({ code: r.result.code, lifecycle: r.lab.lifecycleResults() }).toEqual({ code: 0, lifecycle: ['CONTINUE'] });
    // The template carries the hook in the group's own definition, with the name the script completes.
    expect(r.boot.launchHookName).toBe('resilient-fleet-boot');
    expect(r.boot.launchHookDefaultResult).toBe('ABANDON');
    expect(r.boot.instanceMetadataTags).toBe(true);
  });

  test.each(TRANSIENT_FAULTS)('survives %s: retries, then CONTINUE exactly once', (fault) => {
    const r = run(node, fault);
    expect(r.lab.faultedRequests()).toBeGreaterThan(0);
    expect({ code: r.result.code, lifecycle: r.lab.lifecycleResults() }).toEqual({ code: 0, lifecycle: ['CONTINUE'] });
    expect(r.lab.file('/var/log/resilient-fleet/retries.log')?.trim()).toBeTruthy();
  });

  test.each(PERMANENT_FAULTS)('gives up on %s: ABANDON, the failed step on the console, no service started', (fault) => {
    const r = run(node, fault);
    const message = evidence(r);
    expect({ lifecycle: r.lab.lifecycleResults(), message }).toEqual({ lifecycle: ['ABANDON'], message });
    expect(r.result.code).not.toBe(0);
    expect(r.result.console).toMatch(/FAILED step [a-z][a-z0-9-]*/);
    expect(r.lab.file(path.posix.join('/var/log/resilient-fleet', 'boot.log'))).toMatch(/FAILED step/);
    expect(r.lab.startedUnits()).toEqual([]);
    expect(r.lab.execRoot(['pgrep', '-f', 'codedeploy-agent|haproxy|keepalived|job-guard|nginx']).out.trim()).toBe('');
  });
});

describe('the Edge node (HaproxyFailoverPair)', () => {
  test('answers on a client port and runs keepalived, each daemon under the user its unit names', () => {
    const r = run('edge', 'none');
    expect(r.lab.accepts(CLIENT_PORT)).toBe(true);
    expect(r.lab.execRoot(['pgrep', '-x', 'keepalived']).code).toBe(0);
    expect(r.lab.execRoot(['systemctl', 'is-active', 'rfha-haproxy', 'rfha-keepalived', 'rfha-agent']).code).toBe(0);
    // HAProxy's workers run as the haproxy user, not root.
    expect(r.lab.execRoot(['ps', '-o', 'user=', '-C', 'haproxy']).out).toMatch(/haproxy/);
  });

  test('comes back fully after a reboot, the VPN virtual address on lo included', async () => {
    const r = run('edge', 'none');
    expect(r.lab.addressesOnLo()).toContain(VPN_ADDRESS);
    await r.lab.reboot();
    expect(r.lab.addressesOnLo()).not.toBe('');
    const back = await r.lab.eventually(() => r.lab.accepts(CLIENT_PORT) && r.lab.addressesOnLo().includes(VPN_ADDRESS), 30_000);
    expect({ back, lo: r.lab.addressesOnLo() }).toEqual({ back: true, lo: expect.stringContaining(VPN_ADDRESS) });
    expect(r.lab.execRoot(['pgrep', '-x', 'keepalived']).code).toBe(0);
    // A reboot completes no lifecycle action: the instance is in service already.
    expect(r.lab.lifecycleResults()).toEqual(['CONTINUE']);
  }, 180_000);
});

describe('the App node (MultiAzFleet with CodeDeploy and LeaderElection)', () => {
  test('the leader CLI works on the booted node', () => {
    const r = run('app', 'none');
    const status = r.lab.execRoot(['leader-status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout.trim().split('\n').pop()!)).toMatchObject({ instanceId: r.lab.instanceId, group: r.lab.groupName });
  });

  test('starts the CodeDeploy agent last, after every other unit', () => {
    const r = run('app', 'none');
    const started = r.lab.startedUnits().map((u) => u.unit);
    expect(started.length).toBeGreaterThan(1);
    expect(started[started.length - 1]).toBe('codedeploy-agent.service');
    expect(started.filter((u) => u === 'codedeploy-agent.service')).toHaveLength(1);
    expect(r.lab.execRoot(['pgrep', '-f', 'fake-codedeploy-agent']).code).toBe(0);
  });

  test('comes back after a reboot with the agent running', async () => {
    const r = run('app', 'none');
    await r.lab.reboot();
    const back = await r.lab.eventually(() => r.lab.execRoot(['pgrep', '-f', 'fake-codedeploy-agent']).code === 0, 30_000);
    expect(back).toBe(true);
  }, 180_000);
});

describe('the Worker node (QueueWorkerFleet)', () => {
  test('job-guard processes the queued message with the sample job, not as root', async () => {
    const r = run('worker', 'none');
    expect(r.queueUrl).toBeDefined();
    const deleted = await r.lab.eventually(() => r.lab.events().some((e) => e.service === 'sqs' && e.action === 'DeleteMessage' && e.status === 200), 60_000);
    const received = r.lab.events().filter((e) => e.service === 'sqs' && e.action === 'ReceiveMessage' && e.status === 200);
    expect({ deleted, received: received.length > 0 }).toEqual({ deleted: true, received: true });
    expect((await r.lab.state()).queues[r.queueUrl!]).toBe(0);
    expect(SAMPLE_MESSAGE).toContain('boot-lab');
    const worker = r.lab.startedUnits().find((u) => /queue-worker/.test(u.unit));
    expect(worker?.user).not.toBe('root');
  }, 180_000);

  test('comes back after a reboot with the queue worker running', async () => {
    const r = run('worker', 'none');
    await r.lab.reboot();
    const back = await r.lab.eventually(() => r.lab.execRoot(['pgrep', '-f', 'job-guard']).code === 0, 30_000);
    expect(back).toBe(true);
  }, 180_000);
});

