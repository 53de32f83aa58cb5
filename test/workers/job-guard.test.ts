import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceProtectionCommand,
  type AutoScalingInstanceDetails,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { parseArgs, parseConfig, type GuardConfig } from '../../instance/job-guard/args';
import { EX_NOTFOUND, EX_TEMPFAIL, releaseProtection, runGuarded, type GuardDeps } from '../../instance/job-guard/guard';
import { instanceIdentity } from '../../instance/job-guard/imds';
import describeResponse from '../fixtures/events/autoscaling-describe-auto-scaling-instances-response.json';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const ID = 'i-0abc1234def567890';
const GROUP = 'workers-asg';
const CONFIG: GuardConfig = { lifecycleHookName: 'resilient-fleet-job-drain', heartbeatIntervalSeconds: 0.05, maxTerminationWaitSeconds: 3600 };

/** A fake IMDSv2 on loopback: token first, then metadata; the first `emptyAnswers` instance-id answers are empty. */
class FakeImds {
  public requests: string[] = [];
  private server!: http.Server;
  constructor(private emptyAnswers = 0) {}
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT' && req.url === '/latest/api/token') {
        if (req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) return void res.writeHead(400).end();
        return void res.end('TOKEN-1');
      }
      if (req.headers['x-aws-ec2-metadata-token'] !== 'TOKEN-1') return void res.writeHead(401).end();
      if (req.url === '/latest/meta-data/instance-id') {
        if (this.emptyAnswers > 0) {
          this.emptyAnswers--;
          return void res.end('');
        }
        return void res.end(ID);
      }
      if (req.url === '/latest/meta-data/placement/region') return void res.end('eu-west-1');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const asg = mockClient(AutoScalingClient);
let imds: FakeImds;
let imdsUrl: string;
let events: string[];
let logs: string[];
let stateDir: string;

function instance(overrides: Partial<AutoScalingInstanceDetails> = {}) {
  return {
    AutoScalingInstances: [
      { ...describeResponse.AutoScalingInstances[0], InstanceId: ID, AutoScalingGroupName: GROUP, ProtectedFromScaleIn: false, ...overrides },
    ],
  };
}

/** The exception the real Auto Scaling client throws for `command` when the service answers `answer` (test/wire/bodies.ts). */
const asgError = (command: unknown, answer: WireAnswer) => parsedError(AutoScalingClient, command, answer);
const describeCall = new DescribeAutoScalingInstancesCommand({ InstanceIds: [ID] });
const protectCall = (on: boolean) => new SetInstanceProtectionCommand({ AutoScalingGroupName: GROUP, InstanceIds: [ID], ProtectedFromScaleIn: on });
const completeCall = new CompleteLifecycleActionCommand({ AutoScalingGroupName: GROUP, LifecycleHookName: CONFIG.lifecycleHookName, InstanceId: ID, LifecycleActionResult: 'CONTINUE' });

/** A real child process (node), recorded as it starts and ends. */
function node(script: string): string[] {
  return [process.execPath, '-e', script];
}

/**
 * A job that runs until the test lets it finish (the file `release` appears), then exits with `code`: tests wait on
 * events, never on how long something takes.
 */
function jobUntil(release: string, code: number): string[] {
  return node(`const fs = require('fs'); const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(release)})) { clearInterval(t); process.exit(${code}); } }, 5);`);
}

/** Resolves once `ready()` holds, checking every few milliseconds (bounded by the test timeout). */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((r) => setTimeout(r, 5));
}

function deps(overrides: Partial<GuardDeps> = {}): GuardDeps {
  return {
    client: new AutoScalingClient({ region: 'eu-west-1' }),
    identity: () => instanceIdentity({ baseUrl: imdsUrl, retry: { sleep: async () => {}, baseDelayMs: 1 } }),
    log: {
      debug: () => {},
      info: (m) => logs.push(`INFO ${m}`),
      warn: (m) => logs.push(`WARN ${m}`),
      error: (m) => logs.push(`ERROR ${m}`),
    },
    retry: { sleep: async () => {}, baseDelayMs: 1 },
    spawn: (cmd: string[]): ChildProcess => {
      events.push('job started');
      const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
      child.on('exit', () => events.push('job ended'));
      return child;
    },
    stateDir,
    ...overrides,
  };
}

beforeEach(async () => {
  asg.reset();
  events = [];
  logs = [];
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'job-guard-'));
  imds = new FakeImds();
  imdsUrl = await imds.start();
  asg.on(DescribeAutoScalingInstancesCommand).resolves(instance());
  asg.on(SetInstanceProtectionCommand).callsFake((input) => {
    events.push(`protection ${input.ProtectedFromScaleIn ? 'on' : 'off'}`);
    return {};
  });
});

afterEach(async () => {
  await imds.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

describe('job-guard', () => {
  test('sets protection for its own instance before the job, clears it after, and passes exit code 0 through', async () => {
    const code = await runGuarded(node('setTimeout(() => process.exit(0), 50)'), CONFIG, deps());
    expect(code).toBe(0);
    expect(events).toEqual(['protection on', 'job started', 'job ended', 'protection off']);
    const calls = asg.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { AutoScalingGroupName: GROUP, InstanceIds: [ID], ProtectedFromScaleIn: true },
      { AutoScalingGroupName: GROUP, InstanceIds: [ID], ProtectedFromScaleIn: false },
    ]);
    expect(imds.requests[0]).toBe('PUT /latest/api/token');
  });

  test('clears protection when the job fails, and passes its exit code through', async () => {
    expect(await runGuarded(node('process.exit(3)'), CONFIG, deps())).toBe(3);
    expect(events).toEqual(['protection on', 'job started', 'job ended', 'protection off']);
  });

  test('a job killed by a signal exits 128 + the signal number, protection cleared', async () => {
    expect(await runGuarded(node('process.kill(process.pid, "SIGKILL")'), CONFIG, deps())).toBe(137);
    expect(events.at(-1)).toBe('protection off');
  });

  test('a command that does not exist exits 127, protection cleared', async () => {
    expect(await runGuarded(['/nonexistent/process-one-job'], CONFIG, deps())).toBe(EX_NOTFOUND);
    expect(events).toEqual(['protection on', 'job started', 'protection off']);
  });

  test('retries empty instance metadata instead of taking it as an answer', async () => {
    await imds.stop();
    imds = new FakeImds(2);
    imdsUrl = await imds.start();
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(0);
    expect(imds.requests.filter((r) => r === 'GET /latest/meta-data/instance-id')).toHaveLength(3);
    expect(asg.commandCalls(DescribeAutoScalingInstancesCommand)[0].args[0].input).toEqual({ InstanceIds: [ID] });
  });

  test('retries throttling and an instance the group does not list yet', async () => {
    asg
      .on(DescribeAutoScalingInstancesCommand)
      .rejectsOnce(await asgError(describeCall, wire.autoscaling.throttling()))
      .resolvesOnce({ AutoScalingInstances: [] })
      .resolves(instance());
    asg
      .on(SetInstanceProtectionCommand)
      .rejectsOnce(await asgError(protectCall(true), wire.autoscaling.resourceContention()))
      .callsFake((input) => {
        events.push(`protection ${input.ProtectedFromScaleIn ? 'on' : 'off'}`);
        return {};
      });
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(0);
    expect(events).toEqual(['protection on', 'job started', 'job ended', 'protection off']);
  });

  test('does not start the job when protection cannot be set (fails closed, exit 75)', async () => {
    asg.on(SetInstanceProtectionCommand).rejects(await asgError(protectCall(true), wire.autoscaling.accessDenied('SetInstanceProtection')));
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(EX_TEMPFAIL);
    expect(events).not.toContain('job started');
  });

  test('does not start the job when the instance is already terminating, and lets termination continue', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ LifecycleState: 'Terminating:Wait' }));
    asg.on(CompleteLifecycleActionCommand).resolves({});
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(EX_TEMPFAIL);
    expect(events).toEqual([]);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: CONFIG.lifecycleHookName,
      InstanceId: ID,
      LifecycleActionResult: 'CONTINUE',
    });
  });

  test('stands down when a scale-in picked the instance just before protection landed', async () => {
    asg
      .on(DescribeAutoScalingInstancesCommand)
      .resolvesOnce(instance())
      .resolves(instance({ LifecycleState: 'Terminating:Wait', ProtectedFromScaleIn: true }));
    asg.on(CompleteLifecycleActionCommand).resolves({});
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(EX_TEMPFAIL);
    expect(events).toEqual(['protection on', 'protection off']);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
  });

  test('keeps a terminating instance waiting with heartbeats while the job runs, then completes the action', async () => {
    // In service when the job starts; the group then starts a (non-scale-in) termination.
    asg
      .on(DescribeAutoScalingInstancesCommand)
      .resolvesOnce(instance())
      .resolvesOnce(instance({ ProtectedFromScaleIn: true }))
      .resolves(instance({ LifecycleState: 'Terminating:Wait', ProtectedFromScaleIn: true }));
    // The job ends only after the second heartbeat was sent, however fast or slow the machine is.
    const release = path.join(stateDir, '..', `${path.basename(stateDir)}-release`);
    let heartbeats = 0;
    asg.on(RecordLifecycleActionHeartbeatCommand).callsFake(() => {
      if (++heartbeats === 2) fs.writeFileSync(release, '');
      return {};
    });
    asg.on(CompleteLifecycleActionCommand).callsFake(() => {
      events.push('lifecycle action completed');
      return {};
    });
    const notInService = await asgError(protectCall(false), wire.autoscaling.protectionNotInService(ID));
    asg.on(SetInstanceProtectionCommand).callsFake((input) => {
      events.push(`protection ${input.ProtectedFromScaleIn ? 'on' : 'off'}`);
      if (!input.ProtectedFromScaleIn) throw notInService;
      return {};
    });
    try {
      expect(await runGuarded(jobUntil(release, 5), CONFIG, deps())).toBe(5);
    } finally {
      fs.rmSync(release, { force: true });
    }
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand).length).toBeGreaterThanOrEqual(2);
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: CONFIG.lifecycleHookName,
      InstanceId: ID,
    });
    expect(events).toEqual(['protection on', 'job started', 'job ended', 'protection off', 'lifecycle action completed']);
  });

  test('stops heartbeats after maxTerminationWaitSeconds, so a hung job cannot hold termination for ever', async () => {
    asg
      .on(DescribeAutoScalingInstancesCommand)
      .resolvesOnce(instance())
      .resolvesOnce(instance())
      .resolves(instance({ LifecycleState: 'Terminating:Wait', ProtectedFromScaleIn: true }));
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    asg.on(CompleteLifecycleActionCommand).resolves({});
    let t = 0;
    const now = () => (t += 1000); // one second passes per clock read
    const code = await runGuarded(node('setTimeout(() => process.exit(0), 400)'), { ...CONFIG, maxTerminationWaitSeconds: 2 }, deps({ now }));
    expect(code).toBe(0);
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    expect(logs).toContain('WARN termination wait limit reached: no more heartbeats, the job may be cut short');
  });

  test('the job-guard of a terminating worker completes the action even if the drain hook already did', async () => {
    asg
      .on(DescribeAutoScalingInstancesCommand)
      .resolvesOnce(instance())
      .resolvesOnce(instance())
      .resolves(instance({ LifecycleState: 'Terminating:Wait' }));
    asg.on(CompleteLifecycleActionCommand).rejects(await asgError(completeCall, wire.autoscaling.noActiveLifecycleAction(ID)));
    expect(await runGuarded(node('process.exit(0)'), { ...CONFIG, heartbeatIntervalSeconds: 60 }, deps())).toBe(0);
    expect(logs).toContain('INFO no terminate lifecycle action to complete');
  });

  test('with two jobs on one worker, the first to finish keeps protection; the last one clears it', async () => {
    const release = path.join(stateDir, '..', `${path.basename(stateDir)}-release`);
    const long = runGuarded(jobUntil(release, 0), { ...CONFIG, heartbeatIntervalSeconds: 60 }, deps());
    try {
      // The first job is registered and running before the second starts.
      await until(() => events.includes('job started') && fs.readdirSync(stateDir).length === 1);
      const short = await runGuarded(node('process.exit(0)'), { ...CONFIG, heartbeatIntervalSeconds: 60 }, deps());
      expect(short).toBe(0);
      expect(events.filter((e) => e.startsWith('protection'))).toEqual(['protection on', 'protection on']);
      expect(logs).toContain('INFO another job still runs on this instance: protection stays');
      expect(events.filter((e) => e === 'job ended')).toHaveLength(1);
      fs.writeFileSync(release, '');
      expect(await long).toBe(0);
    } finally {
      fs.writeFileSync(release, '');
      await long.catch(() => undefined);
      fs.rmSync(release, { force: true });
    }
    expect(events.filter((e) => e.startsWith('protection'))).toEqual(['protection on', 'protection on', 'protection off']);
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  test('a registration left by a job-guard that died does not keep protection for ever', async () => {
    fs.writeFileSync(path.join(stateDir, '999999999.1'), ''); // no such process
    expect(await runGuarded(node('process.exit(0)'), CONFIG, deps())).toBe(0);
    expect(events.at(-1)).toBe('protection off');
  });

  test('--release clears protection left over by a killed job-guard, and does nothing when there is none', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ ProtectedFromScaleIn: true }));
    expect(await releaseProtection(deps())).toBe(0);
    expect(events).toEqual(['protection off']);
    asg.on(DescribeAutoScalingInstancesCommand).resolves(instance({ ProtectedFromScaleIn: false }));
    expect(await releaseProtection(deps())).toBe(0);
    expect(events).toEqual(['protection off']);
  });
});

describe('job-guard command line and config', () => {
  test.each([
    [['--', './process-one-job', '--fast'], { kind: 'run', configFile: '/etc/job-guard.json', command: ['./process-one-job', '--fast'] }],
    [['--config', '/tmp/c.json', '--', 'x'], { kind: 'run', configFile: '/tmp/c.json', command: ['x'] }],
    [['--release'], { kind: 'release', configFile: '/etc/job-guard.json' }],
    [['./job'], { kind: 'usage', error: 'unknown argument "./job" (put the command after --)' }],
    [['--'], { kind: 'usage', error: 'no command after --' }],
    [['--release', '--', 'x'], { kind: 'usage', error: '--release takes no command' }],
  ])('parses %j', (argv, expected) => {
    expect(parseArgs(argv)).toEqual(expected);
  });

  test('reads the config the construct writes and rejects a broken one', () => {
    expect(parseConfig(JSON.stringify(CONFIG))).toEqual(CONFIG);
    expect(() => parseConfig('{"lifecycleHookName":"","heartbeatIntervalSeconds":1,"maxTerminationWaitSeconds":1}')).toThrow(/lifecycleHookName/);
    expect(() => parseConfig('{"lifecycleHookName":"h","heartbeatIntervalSeconds":0,"maxTerminationWaitSeconds":1}')).toThrow(/heartbeatIntervalSeconds/);
  });
});
