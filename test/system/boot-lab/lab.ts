/**
 * The boot lab: one launch template's user data, run as cloud-init would run it, in a simulated Amazon Linux
 * instance.
 *
 *   ns <prefix>v  "the VPC": 10.<n>.0.1/24 and 169.254.169.254 on its side of the veth, the fake AWS process
 *                 (fake-aws.mjs: IMDSv2, S3 from cdk.out's assets, EC2, Auto Scaling, SQS, DynamoDB, the package repo)
 *   ns <prefix>i  the instance: eth0 10.<n>.0.10 (its MAC is the one IMDS reports), default route to the VPC side;
 *                 inside it a pid namespace and a mount namespace whose pid 1 (image/pid1) mounts the instance's disk:
 *                 overlays over the machine's /etc /opt /usr /var /root /home with upper dirs in the lab's directory
 *                 (so every write of the boot stays in the lab), a fresh /run and /tmp, and the lab's tools at
 *                 /opt/boot-lab. The image is the machine's Debian with Amazon Linux's commands: dnf, rpm and
 *                 systemctl stand-ins (image/), the real AWS CLI v2 behind a wrapper that adds --endpoint-url, and
 *                 haproxy, keepalived, unzip and node hidden (whiteouts) until dnf installs them.
 *
 * `close()` kills the instance's pid namespace (every process in it), the fake AWS, deletes both namespaces and
 * the files, whatever happened; it is safe to call twice.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ACCOUNT, assetObjects, LaunchTemplateBoot, sqsHost } from './user-data';

export type FaultKind = 's3' | 'repo' | 'iam' | 'imds' | 'missing';

export interface Fault {
  readonly kind: FaultKind;
  /** How long the fault lasts from the boot's start, ms. @default forever */
  readonly ms?: number;
  /** `missing`: the packages the repository does not have. */
  readonly packages?: string[];
}

export interface LabOptions {
  readonly outdir: string;
  readonly boot: LaunchTemplateBoot;
  /** Distinguishes parallel labs' addresses (1..250). */
  readonly subnet: number;
  readonly fault?: Fault;
  /** Extra instances the fake EC2 lists with the same tags (the Edge node's peer). */
  readonly peers?: number;
  /** Messages on the queues before the boot. */
  readonly messages?: Array<{ queueUrl: string; body: string }>;
  readonly queues?: string[];
}

export interface LabEvent {
  readonly t: number;
  readonly service: string;
  readonly action: string;
  readonly status: number;
  readonly fault?: string;
  readonly params?: Record<string, any>;
}

export interface UnitEvent {
  readonly t: number;
  readonly unit?: string;
  readonly event: string;
  readonly user?: string;
  readonly [k: string]: unknown;
}

export interface BootResult {
  readonly code: number | null;
  readonly ms: number;
  readonly console: string;
  readonly timedOut: boolean;
  /** From the boot's start to the fake Auto Scaling's 200 for CompleteLifecycleAction CONTINUE, if it came. */
  readonly continueMs?: number;
}

/** Packages the lab's repository has (the Debian stand-ins dnf knows). */
const REPO_PACKAGES = ['haproxy', 'keepalived', 'nftables', 'unzip', 'nodejs', 'nodejs20', 'nodejs22', 'nodejs24', 'nginx', 'ruby', 'wget', 'curl', 'tar', 'gzip', 'jq', 'shadow-utils', 'util-linux', 'iproute', 'procps-ng', 'coreutils'];

const IMAGE = path.join(__dirname, 'image');
const NODE = process.execPath;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class BootLab {
  public readonly dir: string;
  public readonly prefix: string;
  public readonly instanceIp: string;
  public readonly vpcIp: string;
  public readonly instanceId: string;
  public readonly groupName: string;
  private readonly tools: string;
  private readonly disk: string;
  private readonly namespaces: string[] = [];
  private fakeAws?: ChildProcess;
  private pid1?: ChildProcess;
  private pid1HostPid?: number;
  private t0 = 0;

  constructor(private readonly o: LabOptions) {
    this.prefix = `rfbl-${process.pid}-${o.subnet}-`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-boot-lab-'));
    this.tools = path.join(this.dir, 'tools');
    this.disk = path.join(this.dir, 'disk');
    this.instanceIp = `10.${o.subnet}.0.10`;
    this.vpcIp = `10.${o.subnet}.0.1`;
    this.instanceId = `i-0${o.subnet.toString(16).padStart(2, '0')}ab0000000000${o.subnet.toString(16).padStart(2, '0')}`.slice(0, 19);
    this.groupName = `${o.boot.stack}-${o.boot.groupId}-LAB${o.subnet}`;
  }

  private ns(n: 'v' | 'i'): string {
    return this.prefix + n;
  }

  private mac(host: number): string {
    return `02:00:0a:${this.o.subnet.toString(16).padStart(2, '0')}:00:${host.toString(16).padStart(2, '0')}`;
  }

  /** Builds the network, the instance's disk and tools, starts the fake AWS and the instance's pid 1. */
  public async start(): Promise<void> {
    this.t0 = Date.now();
    for (const n of ['v', 'i'] as const) {
      ip('netns', 'add', this.ns(n));
      this.namespaces.push(this.ns(n));
      ip('-n', this.ns(n), 'link', 'set', 'lo', 'up');
    }
    this.plugInstance();
    ip('-n', this.ns('v'), 'addr', 'add', `${this.vpcIp}/24`, 'dev', 'veth0');
    ip('-n', this.ns('v'), 'addr', 'add', '169.254.169.254/32', 'dev', 'veth0');
    ip('-n', this.ns('v'), 'link', 'set', 'veth0', 'up');
    this.writeTools();
    this.writeDisk();
    await this.startFakeAws();
    await this.startPid1();
  }

  private plugInstance(): void {
    ip('-n', this.ns('v'), 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns('i'));
    const i = this.ns('i');
    ip('-n', i, 'link', 'set', 'eth0', 'address', this.mac(10));
    ip('-n', i, 'addr', 'add', `${this.instanceIp}/24`, 'dev', 'eth0');
    ip('-n', i, 'link', 'set', 'eth0', 'up');
    ip('-n', i, 'route', 'add', 'default', 'via', this.vpcIp);
  }

  private writeTools(): void {
    for (const d of ['bin', 'pkgs', 'state']) fs.mkdirSync(path.join(this.tools, d), { recursive: true });
    for (const f of ['pid1', 'fake-codedeploy-agent', 'systemctl.mjs']) fs.copyFileSync(path.join(IMAGE, f), path.join(this.tools, 'bin', f));
    // The "Debian packages": the machine's own programs, copied (node is bound in: it is large).
    const which = (p: string) => execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8', env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } }).trim();
    for (const p of ['haproxy', 'keepalived', 'unzip', 'nft']) fs.copyFileSync(which(p), path.join(this.tools, 'pkgs', p));
    fs.writeFileSync(path.join(this.tools, 'pkgs', 'node'), '');
    for (const f of ['nginx.service', 'codedeploy-agent.service', 'haproxy-wrapper']) fs.copyFileSync(path.join(IMAGE, f), path.join(this.tools, 'pkgs', f));
    fs.copyFileSync('/usr/bin/aws', path.join(this.tools, 'pkgs', 'aws-cli.py'));
    const state = path.join(this.tools, 'state');
    fs.writeFileSync(path.join(state, 'repo-url'), `http://${this.vpcIp}/repo`);
    fs.writeFileSync(path.join(state, 'aws-url'), `http://${this.vpcIp}`);
    // What every process on the instance gets besides its own environment: the SDKs' endpoint override.
    // and the lab's CA, which signed the certificate of the lab's https SQS (see Resolver.queueUrl).
    fs.writeFileSync(path.join(state, 'env.json'), JSON.stringify({ AWS_ENDPOINT_URL: `http://${this.vpcIp}`, NODE_EXTRA_CA_CERTS: '/opt/boot-lab/state/lab-ca.pem' }));
    const tls = labCertificate();
    fs.copyFileSync(tls.ca, path.join(state, 'lab-ca.pem'));
    fs.chmodSync(path.join(state, 'lab-ca.pem'), 0o644);
    fs.writeFileSync(path.join(state, 'units.log'), '');
  }

  /** The instance's disk: upper dirs of the overlays, with the AMI's differences from the machine. */
  private writeDisk(): void {
    const up = (p: string) => path.join(this.disk, 'upper', p);
    for (const d of ['usr/bin', 'usr/sbin', 'usr/lib/systemd/system', 'var/lib/cloud/instance/scripts', 'var/log']) fs.mkdirSync(up(d), { recursive: true });
    // Amazon Linux's commands.
    fs.copyFileSync(path.join(IMAGE, 'dnf'), up('usr/bin/dnf'));
    fs.copyFileSync(path.join(IMAGE, 'rpm'), up('usr/bin/rpm'));
    fs.writeFileSync(up('usr/bin/systemctl'), `#!/bin/sh\nexec /opt/boot-lab/pkgs/node /opt/boot-lab/bin/systemctl.mjs "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(up('usr/bin/aws'), `#!/bin/sh\n# AWS CLI v2 (Debian's awscli), pointed at the lab's AWS.\nexec /usr/bin/python3 /opt/boot-lab/pkgs/aws-cli.py --endpoint-url "$(cat /opt/boot-lab/state/aws-url)" "$@"\n`, { mode: 0o755 });
    for (const f of ['dnf', 'rpm']) fs.chmodSync(up(`usr/bin/${f}`), 0o755);
    // Queue URLs name SQS's host: on the instance it is the lab's SQS (see Resolver.queueUrl).
    fs.mkdirSync(up('etc'), { recursive: true });
    fs.writeFileSync(up('etc/hosts'), `${fs.readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${this.vpcIp} ${sqsHost('eu-west-1')}\n`);
    // The machine's Debian packages enabled their units (haproxy, mariadb, ...): the AMI enables none of them.
    const etc = '/etc/systemd/system';
    for (const wants of fs.existsSync(etc) ? fs.readdirSync(etc).filter((d) => d.endsWith('.wants')) : []) {
      fs.mkdirSync(up(path.join('etc/systemd/system', wants)), { recursive: true });
      for (const unit of fs.readdirSync(path.join(etc, wants))) execFileSync('mknod', [up(path.join('etc/systemd/system', wants, unit)), 'c', '0', '0']);
    }
    // What the AMI does not have until dnf installs it: whiteouts hide the machine's copies.
    for (const p of ['usr/bin/node', 'usr/sbin/haproxy', 'usr/sbin/keepalived', 'usr/bin/unzip']) {
      if (!fs.existsSync(up(p))) execFileSync('mknod', [up(p), 'c', '0', '0']);
    }
  }

  private async startFakeAws(): Promise<void> {
    const objects: Record<string, string> = {};
    const zips = path.join(this.dir, 's3');
    fs.mkdirSync(zips, { recursive: true });
    for (const [key, obj] of assetObjects(this.o.outdir)) {
      if (obj.packaging === 'zip') {
        // As CDK uploads a directory asset: its contents zipped, paths relative to the directory.
        const zip = path.join(zips, `${path.basename(obj.file)}.zip`);
        if (!fs.existsSync(zip)) execFileSync('zip', ['-qrX', zip, '.'], { cwd: obj.file });
        objects[key] = zip;
      } else {
        objects[key] = obj.file;
      }
    }
    // The CodeDeploy agent's installer, from the bucket AWS publishes it in (a stand-in: see image/codedeploy-install).
    objects['aws-codedeploy-eu-west-1/latest/install'] = path.join(IMAGE, 'codedeploy-install');
    const self = {
      instanceId: this.instanceId,
      privateIp: this.instanceIp,
      mac: this.mac(10),
      eni: `eni-0lab${this.o.subnet.toString(16).padStart(2, '0')}0000000010`,
      az: 'eu-west-1a',
      region: 'eu-west-1',
      role: `${this.o.boot.stack}-InstanceRole-LAB`,
      groupName: this.groupName,
      tags: this.o.boot.tags,
    };
    const peers = Array.from({ length: this.o.peers ?? 0 }, (_, k) => ({
      ...self,
      // 'f' + k in the last two digits: never the lab's own id (which ends in its subnet number, below 0xf0).
      instanceId: self.instanceId.replace(/..$/, `f${(k + 1).toString(16)}`),
      privateIp: `10.${this.o.subnet}.0.${11 + k}`,
      mac: this.mac(11 + k),
      eni: self.eni.replace(/10$/, String(11 + k)),
      lifecycleState: 'InService',
    }));
    const config = {
      t0: this.t0,
      account: ACCOUNT,
      imageId: 'ami-0a1b2c3d4e5f67890',
      events: path.join(this.dir, 'events.jsonl'),
      launchHookName: this.o.boot.launchHookName ?? '(none)',
      instances: [self, ...peers],
      objects,
      packages: REPO_PACKAGES,
      fault: this.o.fault ? { ...this.o.fault, ms: this.o.fault.ms ?? null } : undefined,
      queues: this.o.queues ?? [],
      messages: this.o.messages ?? [],
      tls: labCertificate(),
    };
    fs.writeFileSync(path.join(this.dir, 'fake-aws.json'), JSON.stringify(config));
    fs.writeFileSync(config.events, '');
    const log = fs.openSync(path.join(this.dir, 'fake-aws.log'), 'a');
    const tsx = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
    this.fakeAws = spawn('ip', ['netns', 'exec', this.ns('v'), NODE, tsx, path.join(__dirname, 'fake-aws.ts'), path.join(this.dir, 'fake-aws.json')], { stdio: ['ignore', log, log] });
    await this.waitFor(() => fs.existsSync(`${config.events}.ready`), 15_000, 'the fake AWS to listen');
  }

  private async startPid1(): Promise<void> {
    const ready = path.join(this.tools, 'state', 'pid1.ready');
    fs.rmSync(ready, { force: true });
    const log = fs.openSync(path.join(this.dir, 'pid1.log'), 'a');
    // ip netns exec execs unshare, which forks the namespace's pid 1; its host pid is unshare's only child.
    this.pid1 = spawn('ip', ['netns', 'exec', this.ns('i'), 'unshare', '--mount', '--pid', '--fork', '--propagation', 'private', 'bash', path.join(this.tools, 'bin', 'pid1'), this.disk, this.tools, NODE], {
      stdio: ['ignore', log, log],
    });
    await this.waitFor(() => fs.existsSync(ready), 15_000, "the instance's pid 1");
    const children = fs.readFileSync(`/proc/${this.pid1.pid}/task/${this.pid1.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    this.pid1HostPid = children[0];
  }

  private async waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`boot lab: timed out waiting for ${what} (see ${this.dir})`);
      await sleep(50);
    }
  }

  private nsenter(): string[] {
    if (!this.pid1HostPid) throw new Error('boot lab: the instance is not running');
    return ['nsenter', '-t', String(this.pid1HostPid), '-m', '-n', '-p', '--wd=/'];
  }

  /** Runs a command as root on the instance (a login shell's environment); returns its status and output. */
  public execRoot(cmd: string[], timeoutMs = 30_000): { code: number | null; out: string; stdout: string } {
    const r = spawnSync(this.nsenter()[0], [...this.nsenter().slice(1), 'env', '-i', ...this.instanceEnv(), ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
  }

  private instanceEnv(): string[] {
    return ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', `AWS_ENDPOINT_URL=http://${this.vpcIp}`, 'NODE_EXTRA_CA_CERTS=/opt/boot-lab/state/lab-ca.pem'];
  }

  /**
   * Runs the user data as cloud-init does (written to /var/lib/cloud/instance/scripts/part-001, executed as root,
   * stdout and stderr to the console) and resolves when it exits or `timeoutMs` passes.
   */
  public async boot(timeoutMs: number, env: Record<string, string> = {}): Promise<BootResult> {
    const script = path.join(this.disk, 'upper', 'var/lib/cloud/instance/scripts/part-001');
    fs.writeFileSync(script, this.o.boot.script, { mode: 0o700 });
    const consoleFile = path.join(this.dir, 'console.log');
    const out = fs.openSync(consoleFile, 'a');
    // The fake AWS measures its fault windows (and event times) from here.
    const t0 = spawnSync('ip', ['netns', 'exec', this.ns('v'), 'curl', '-fsS', '-X', 'POST', `http://${this.vpcIp}/control/start`], { encoding: 'utf8' });
    if (t0.status !== 0) throw new Error(`boot lab: the fake AWS did not take the boot's start: ${t0.stderr}`);
    const started = Date.now();
    const child = spawn(this.nsenter()[0], [...this.nsenter().slice(1), 'env', '-i', ...this.instanceEnv(), ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/var/lib/cloud/instance/scripts/part-001'], { stdio: ['ignore', out, out] });
    let timedOut = false;
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    fs.closeSync(out);
    const done = this.events().find(
      (e) => e.service === 'autoscaling' && e.action === 'CompleteLifecycleAction' && e.status === 200 && e.params?.LifecycleActionResult === 'CONTINUE',
    );
    const continueMs = done?.t;
    return { code, ms: Date.now() - started, console: fs.readFileSync(consoleFile, 'utf8'), timedOut, continueMs };
  }

  /** Resolves when `cond` holds, polling; false if it did not within `ms`. */
  public async eventually(cond: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      if (cond()) return true;
      if (Date.now() > end) return false;
      await sleep(200);
    }
  }

  public events(): LabEvent[] {
    return readJsonLines(path.join(this.dir, 'events.jsonl'));
  }

  public units(): UnitEvent[] {
    return readJsonLines(path.join(this.tools, 'state', 'units.log'));
  }

  /** Units the stand-in systemctl started (in order), and who they ran as. */
  public startedUnits(): Array<{ unit: string; user: string; t: number }> {
    return this.units().filter((e) => e.event === 'start' && e.unit).map((e) => ({ unit: e.unit!, user: String(e.user), t: e.t }));
  }

  /** The lifecycle action results the boot sent for this instance. */
  public lifecycleResults(): string[] {
    return this.events()
      .filter((e) => e.service === 'autoscaling' && e.action === 'CompleteLifecycleAction' && e.status === 200 && e.params?.InstanceId === this.instanceId)
      .map((e) => String(e.params!.LifecycleActionResult));
  }

  /** Requests the fault answered with an error (what the boot had to retry). */
  public faultedRequests(): number {
    return this.events().filter((e) => e.fault).length;
  }

  public dnfCalls(): string[] {
    const f = path.join(this.tools, 'state', 'dnf.log');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : [];
  }

  public file(p: string): string | undefined {
    const r = this.execRoot(['cat', p]);
    return r.code === 0 ? r.out : undefined;
  }

  /** Connects from the VPC side to the instance's port: true when it accepts. */
  public accepts(port: number): boolean {
    const r = spawnSync('ip', ['netns', 'exec', this.ns('v'), 'bash', '-c', `exec 3<>/dev/tcp/${this.instanceIp}/${port}`], { timeout: 5000 });
    return r.status === 0;
  }

  public addressesOnLo(): string {
    return ip('-n', this.ns('i'), '-4', 'addr', 'show', 'dev', 'lo');
  }

  public async state(): Promise<any> {
    const r = spawnSync('ip', ['netns', 'exec', this.ns('v'), 'curl', '-fsS', `http://${this.vpcIp}/control/state`], { encoding: 'utf8' });
    return JSON.parse(r.stdout);
  }

  /**
   * A reboot: every process killed (the pid namespace's init with them), /run and /tmp gone (fresh tmpfs), the
   * network interfaces reset (the namespace recreated: addresses on lo are gone too), the disk kept; then what
   * systemd does at boot: every enabled unit started, in After= order. cloud-init does not run user data again.
   */
  public async reboot(): Promise<void> {
    const init = this.pid1HostPid;
    this.killInstance();
    await this.waitFor(() => !init || !fs.existsSync(`/proc/${init}`), 15_000, 'the old instance to stop');
    // One end of the veth deleted deletes both; the instance's namespace may outlive its processes for a moment.
    try {
      ip('-n', this.ns('v'), 'link', 'del', 'veth0');
    } catch {
      /* gone with the namespace */
    }
    try {
      ip('netns', 'del', this.ns('i'));
    } catch {
      /* gone */
    }
    ip('netns', 'add', this.ns('i'));
    ip('-n', this.ns('i'), 'link', 'set', 'lo', 'up');
    this.plugInstance();
    ip('-n', this.ns('v'), 'addr', 'add', `${this.vpcIp}/24`, 'dev', 'veth0');
    ip('-n', this.ns('v'), 'addr', 'add', '169.254.169.254/32', 'dev', 'veth0');
    ip('-n', this.ns('v'), 'link', 'set', 'veth0', 'up');
    fs.appendFileSync(path.join(this.tools, 'state', 'units.log'), JSON.stringify({ t: Date.now(), event: 'reboot' }) + '\n');
    await this.startPid1();
    const r = this.execRoot(['systemctl', 'lab-boot'], 120_000);
    if (r.code !== 0) throw new Error(`boot lab: starting the enabled units failed: ${r.out}`);
  }

  private killInstance(): void {
    if (this.pid1HostPid) {
      try {
        process.kill(this.pid1HostPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (this.pid1?.pid) {
      try {
        process.kill(this.pid1.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // Anything still in the instance's network namespace (a process that left the pid namespace cannot, but check).
    try {
      for (const pid of ip('netns', 'pids', this.ns('i')).split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    } catch {
      /* no namespace */
    }
    this.pid1HostPid = undefined;
  }

  public close(): void {
    const init = this.pid1HostPid;
    this.killInstance();
    // The instance's mount namespace holds copies of the namespaces' mounts until its last process is gone.
    for (let i = 0; i < 100 && init && fs.existsSync(`/proc/${init}`); i++) spawnSync('sleep', ['0.05']);
    if (this.fakeAws?.pid && this.fakeAws.exitCode === null) {
      try {
        process.kill(this.fakeAws.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      try {
        for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      } catch {
        /* gone */
      }
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          ip('netns', 'del', ns);
          break;
        } catch (e) {
          if (!/busy/i.test(String((e as { stderr?: unknown }).stderr ?? e))) break;
          spawnSync('sleep', ['0.1']);
        }
      }
    }
    if (process.env.BOOT_LAB_KEEP !== '1') {
      try {
        fs.rmSync(this.dir, { recursive: true, force: true });
      } catch {
        /* a mount still going away; the directory is under the system's temporary directory */
      }
    }
  }
}

let certificate: { ca: string; cert: string; key: string } | undefined;

/** A CA of this run and a certificate it signed for SQS's host name (made once per process with openssl). */
export function labCertificate(): { ca: string; cert: string; key: string } {
  if (certificate) return certificate;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-boot-lab-tls-'));
  const f = (n: string) => path.join(dir, n);
  const host = sqsHost('eu-west-1');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=resilient-fleet boot lab CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${host}`, '-keyout', f('key.pem'), '-out', f('req.pem'));
  fs.writeFileSync(f('ext.cnf'), `subjectAltName=DNS:${host}\n`);
  openssl('x509', '-req', '-in', f('req.pem'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('cert.pem'));
  certificate = { ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem') };
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return certificate;
}

/**
 * Deletes what labs of runs that no longer exist left behind (a run killed before its `close()`): their namespaces
 * (named rfbl-<pid>-...) and every process in them. Labs of live runs are left alone.
 */
export function sweepStaleLabs(): void {
  let names: string[] = [];
  try {
    names = ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter((n) => /^rfbl-\d+-/.test(n));
  } catch {
    return;
  }
  for (const ns of names) {
    const pid = Number(/^rfbl-(\d+)-/.exec(ns)![1]);
    if (fs.existsSync(`/proc/${pid}`)) continue;
    try {
      for (const p of ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      ip('netns', 'del', ns);
    } catch {
      /* gone meanwhile */
    }
  }
}

function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l) as T];
    } catch {
      return [];
    }
  });
}
