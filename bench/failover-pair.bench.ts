/**
 * HaproxyFailoverPair benchmark, in network namespaces with the real haproxy and keepalived (needs root), on the
 * shipped defaults, against today's configuration (commit 62b1db2: notify.sh forked per transition, a shared state
 * file, one ACL and reject rule per restricted client), in the same run. Today's renderers and lab are loaded from a
 * `git worktree` of that commit.
 *
 * 1. allowFrom: reload time (USR2 -> new worker answering), `haproxy -c` time and per-connection latency (connect ->
 *    answer, on the last restricted port from an allowed source) at 1000 sparse client ports (every 10th restricted)
 *    and 5000 sparse client ports (each restricted).
 * 2. Failover and failback on the shipped defaults (files as the construct stages them: 1000 sparse clients, every
 *    10th with allowFrom, advert 50 ms, failbackDelay 10 s, restart delay 2 s): HAProxy on the master killed; failover
 *    = kill -> first answer through the backup (median, p90); ours split into the local part (kill -> the backup's
 *    agent has the MASTER line) and the lab's stand-in for the EC2 call (the route change); failback = HAProxy up
 *    again -> first answer through it, the preempt delay (10 s) reported apart.
 * 3. The address follows keepalived after a healed freeze (SIGSTOP 5 s) and a healed VRRP partition (10 s):
 *    heal -> the clients' route back on the master. Today: never within the 15 s watched.
 *
 * Writes bench/results/failover-pair.json and .md. Run once: `npx tsx bench/failover-pair.bench.ts`.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, aws_ec2 as ec2, aws_s3_assets as s3assets } from 'aws-cdk-lib';
import { HaproxyFailoverPair } from '../lib';
import { HaproxyClient } from '../lib/failover-pair/clients';
import { renderHaproxyConfig } from '../lib/failover-pair/haproxy-config';
import { APP_IPS, FailoverLab, NODE_IPS, NODE_PATHS, ProbeLog, STATS_PORT, LISTENER_PORT, CHECK_PORT, VIP, sleep, until } from '../test/failover-pair/lab/lab';
import { TEST_AMI, importedVpc, testStack } from '../test/helpers';

const ROOT = path.join(__dirname, '..');
const PROBER = path.join(ROOT, 'test', 'failover-pair', 'lab', 'prober.mjs');
const DNS = path.join(ROOT, 'test', 'failover-pair', 'lab', 'dns-server.mjs');
const BASELINE_COMMIT = '62b1db2';
const RUNS = Number(process.env.RFHA_BENCH_RUNS ?? 5);
const RELOADS = 5;
const WATCH_MS = 15_000;

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** Sparse client ports: every third port from 10000; every `restrictEvery`-th client restricted to the lab's network. */
function sparse(n: number, restrictEvery: number): HaproxyClient[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `customer-${i + 1}`,
    port: 10000 + 3 * i,
    ...(i % restrictEvery === restrictEvery - 1 ? { allowFrom: ['10.77.0.0/24', '203.0.113.0/24'] } : {}),
  }));
}

// ---------- today's configuration, from a worktree of the baseline commit ----------
interface Today {
  renderHaproxyConfig: typeof renderHaproxyConfig;
  FailoverLab: new (o: Record<string, unknown>) => FailoverLab & { startKeepalived(n: 'a' | 'b'): unknown; routeVia(): 'a' | 'b' | undefined };
}
let worktree: string | undefined;
function today(): Today {
  worktree ??= path.join(os.tmpdir(), `rfha-bench-${BASELINE_COMMIT}`);
  if (!fs.existsSync(path.join(worktree, 'lib'))) execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', worktree, BASELINE_COMMIT], { stdio: 'ignore' });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const h = require(path.join(worktree, 'lib', 'failover-pair', 'haproxy-config.ts'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const l = require(path.join(worktree, 'test', 'failover-pair', 'lab', 'lab.ts'));
  return { renderHaproxyConfig: h.renderHaproxyConfig, FailoverLab: l.FailoverLab };
}

// ---------- 1. allowFrom at 1000 and 5000 sparse clients ----------
async function allowFromRun(design: 'ours' | 'today', n: number, restrictEvery: number) {
  const list = sparse(n, restrictEvery);
  const render = design === 'ours' ? renderHaproxyConfig : today().renderHaproxyConfig;
  const Lab = design === 'ours' ? FailoverLab : today().FailoverLab;
  let runDir = '';
  const lab = new Lab({
    clients: list,
    haproxyFiles: (configDir: string) => {
      runDir = design === 'ours' ? NODE_PATHS.runDir : path.join(path.dirname(configDir), 'run');
      return render({ clients: list, paths: { configDir, runDir }, maxConnections: 4000, backendCheckPort: CHECK_PORT, backendSlots: 4, statsPort: STATS_PORT, listenerPort: LISTENER_PORT, hardStopAfterSeconds: 120, checkIntervalMs: 2000 }) as unknown as Record<string, string>;
    },
  }) as FailoverLab;
  try {
    lab.setUp();
    const cfgDir = design === 'ours' ? NODE_PATHS.configDir : lab.nodeDir('a').configDir;
    const t0 = process.hrtime.bigint();
    const check = spawnSync('ip', ['netns', 'exec', lab.ns('a'), 'sh', '-c', `mount --bind "$1" ${NODE_PATHS.configDir} && mount --bind "$2" ${NODE_PATHS.runDir} && haproxy -c -q -f ${cfgDir}/haproxy.cfg -f ${cfgDir}/app-backend.cfg`, 'sh', lab.nodeDir('a').configDir, lab.nodeDir('a').runDir]);
    const checkMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (check.status !== 0) throw new Error(`haproxy -c failed (${design}, ${n}): ${check.stderr}`);
    lab.startHaproxy('a');
    lab.startKeepalived('a');
    await until('node A master', () => lab.routeVia() === 'a', 60_000);
    const workerPid = async () => /Pid: (\d+)/.exec(await lab.runtime('a', 'show info').catch(() => ''))?.[1];
    await until('stats socket', async () => (await workerPid()) !== undefined, 30_000);
    const port = String([...list].reverse().find((c) => c.allowFrom)!.port);
    const probe = new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, port, '2']));
    await probe.waitFor((r) => r.ok === true, 0, 30_000);
    await sleep(3_000);
    const ok = probe.records.filter((r) => r.ok === true).slice(5);
    const latency = ok.map((r) => r.t - (r.start as number));
    const reloadMs: number[] = [];
    const nftMs: number[] = [];
    const master = lab.haproxyPid('a');
    for (let i = 0; i < RELOADS; i++) {
      const before = await workerPid();
      const r0 = process.hrtime.bigint();
      // Ours: what rfha-haproxy.service's ExecReload runs first, the client ports' rules loaded again (nft -f), counted
      // in the reload; today's configuration binds every port and has no such step.
      if (design === 'ours') {
        lab.loadClientPorts('a');
        nftMs.push(Number(process.hrtime.bigint() - r0) / 1e6);
      }
      process.kill(master, 'SIGUSR2');
      await until('new worker', async () => {
        const pid = await workerPid();
        return pid !== undefined && pid !== before;
      }, 30_000, 2);
      reloadMs.push(Number(process.hrtime.bigint() - r0) / 1e6);
      await sleep(300);
    }
    const restricted = list.filter((c) => c.allowFrom).length;
    void runDir;
    return { design, clients: n, restricted, haproxyCheckMs: Math.round(checkMs), reloadMs: reloadMs.map(Math.round), medianReloadMs: Math.round(median(reloadMs)), medianNftMs: nftMs.length ? Math.round(median(nftMs)) : undefined, connections: latency.length, medianConnectMs: Math.round(median(latency) * 100) / 100, p90ConnectMs: Math.round(quantile(latency, 0.9) * 100) / 100 };
  } finally {
    lab.close();
  }
}

// ---------- 2./3. failover, failback, address follows ----------
/** The files the construct stages at its defaults for 1000 sparse clients (DNS mode, as the reference site). */
function shippedFiles(): Record<string, string> {
  const stack = testStack();
  const pair = new HaproxyFailoverPair(stack, 'Pair', { vpc: importedVpc(stack, 3), backendName: 'app.example.com', machineImage: ec2.MachineImage.genericLinux(TEST_AMI), clients: sparse(1000, 10) });
  const asset = pair.node.findChild('Config') as s3assets.Asset;
  const outdir = (stack.node.root as App).outdir;
  const dir = path.isAbsolute(asset.assetPath) ? asset.assetPath : path.join(outdir, asset.assetPath);
  const files = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
  // This machine's hard file limit may be below 2 x maxconn: the one change, as in the chaos suite.
  const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1_048_576;
  files['haproxy.cfg'] = files['haproxy.cfg'].replace(/^ {2}maxconn \d+$/m, `  maxconn ${Math.min(50_000, Math.floor((hard - 6_000) / 2))}`);
  return files;
}

type AnyLab = FailoverLab & { startKeepalived(n: 'a' | 'b'): unknown };

async function pairRuns(design: 'ours' | 'today') {
  const clients = sparse(1000, 10);
  let lab: AnyLab;
  const etc: string[] = [];
  if (design === 'ours') {
    lab = new FailoverLab({ clients, staged: shippedFiles(), checkPort: 80 }) as AnyLab;
    for (const n of ['a', 'b'] as const) {
      const dir = path.join('/etc/netns', lab.ns(n));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${APP_IPS[0]}\n`);
      etc.push(dir);
    }
  } else {
    // Today's lab renders today's files with the defaults of that commit's construct (advert 50 ms, preempt 10 s,
    // restart 2 s); its app backend lists the app instances (Auto Scaling group mode).
    lab = new (today().FailoverLab)({ clients, preemptDelaySeconds: 10, restartDelaySeconds: 2 }) as unknown as AnyLab;
  }
  const out = { design, failoverMs: [] as number[], localMs: [] as number[], moveMs: [] as number[], failbackMs: [] as number[], freezeFollowMs: [] as Array<number | null>, partitionFollowMs: [] as Array<number | null> };
  try {
    lab.setUp();
    if (design === 'ours') {
      const zone = path.join(lab.dir, 'zone.json');
      fs.writeFileSync(zone, JSON.stringify({ ttl: 30, 'app.example.com': { a: [...APP_IPS] } }));
      lab.spawnIn('s', 'node', [DNS, APP_IPS[0], '53', zone], 'dns.log');
      await sleep(300);
    }
    for (const n of ['a', 'b'] as const) {
      lab.startHaproxy(n);
      lab.startKeepalived(n);
    }
    await until('node A master', () => lab.routeVia() === 'a', 60_000);
    const port = String(clients[1].port);
    const probe = new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, port, '5']));
    await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.a, 0, 30_000);
    const upFile = () => path.join(lab.nodeDir('a').runDir, 'haproxy.up');
    const settled = () => until('settled on A', () => lab.routeVia() === 'a' && fs.readFileSync(upFile(), 'utf8').trim() === '1', 60_000, 20);
    for (let run = 0; run < RUNS; run++) {
      await settled();
      await sleep(1500);
      const oldPid = lab.haproxyPid('a');
      const killedAt = Date.now();
      process.kill(oldPid, 'SIGKILL');
      const over = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.b, killedAt, 30_000);
      out.failoverMs.push(over.t - killedAt);
      if (design === 'ours') {
        const b = lab.agentLog('b').filter((r) => r.t >= killedAt);
        const master = b.find((r) => r.msg === 'vrrp state' && r.state === 'MASTER');
        const moved = b.find((r) => r.msg === 'address' && r.result === 'moved');
        if (master) out.localMs.push(master.t - killedAt);
        if (moved) out.moveMs.push(moved.ms as number);
      }
      await until('HAProxy restarted on A', () => lab.haproxyPid('a') !== oldPid && fs.readFileSync(upFile(), 'utf8').trim() === '1', 30_000, 2);
      const upAt = Date.now();
      const back = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.a, upAt, 30_000);
      out.failbackMs.push(back.t - upAt);
    }
    const kpids = () => ['keepalived.pid', 'vrrp.pid'].map((f) => Number(fs.readFileSync(path.join(lab.nodeDir('a').runDir, f), 'utf8').trim()));
    const follow = async (): Promise<number | null> => {
      const healed = Date.now();
      try {
        await until('route back on A', () => lab.routeVia() === 'a', WATCH_MS, 5);
        return Date.now() - healed;
      } catch {
        return null;
      }
    };
    const sawB = () => until('route on B', () => lab.routeVia() === 'b', 10_000, 5).then(() => true, () => false);
    for (let run = 0; run < 2; run++) {
      await settled();
      await sleep(1000);
      const pids = kpids();
      for (const p of pids) process.kill(p, 'SIGSTOP');
      const moved = await sawB();
      await sleep(Math.max(0, 5_000));
      for (const p of pids) process.kill(p, 'SIGCONT');
      out.freezeFollowMs.push(moved ? await follow() : null);
      if (lab.routeVia() !== 'a') {
        // Today's pair keeps the address on the backup: give it back by hand so the next run starts the same.
        execFileSync('ip', ['-n', lab.ns('c'), 'route', 'replace', `${VIP}/32`, 'via', NODE_IPS.a]);
      }
    }
    for (let run = 0; run < 2; run++) {
      await settled();
      await sleep(1000);
      const rule = (op: string) => {
        for (const chain of ['INPUT', 'OUTPUT']) execFileSync('ip', ['netns', 'exec', lab.ns('a'), 'iptables', op, chain, '-p', 'vrrp', '-j', 'DROP']);
      };
      rule('-A');
      const moved = await sawB();
      await sleep(10_000);
      rule('-D');
      out.partitionFollowMs.push(moved ? await follow() : null);
      if (lab.routeVia() !== 'a') execFileSync('ip', ['-n', lab.ns('c'), 'route', 'replace', `${VIP}/32`, 'via', NODE_IPS.a]);
    }
  } finally {
    lab.close();
    for (const d of etc) fs.rmSync(d, { recursive: true, force: true });
  }
  return {
    ...out,
    medianFailoverMs: median(out.failoverMs),
    p90FailoverMs: quantile(out.failoverMs, 0.9),
    medianLocalMs: median(out.localMs),
    medianMoveMs: median(out.moveMs),
    medianFailbackMs: median(out.failbackMs),
  };
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the failover-pair benchmark needs root (network namespaces)');
  const started = new Date().toISOString();
  const loadBefore = os.loadavg();
  const allowFrom = [];
  for (const [n, every] of [[1000, 10], [5000, 1]] as const) {
    for (const design of ['ours', 'today'] as const) {
      const r = await allowFromRun(design, n, every);
      console.log(r);
      allowFrom.push(r);
    }
  }
  const pair = [];
  for (const design of ['ours', 'today'] as const) {
    const r = await pairRuns(design);
    console.log(r);
    pair.push(r);
  }
  if (worktree) spawnSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', worktree]);
  const loadAfter = os.loadavg();
  const result = {
    started,
    baseline: `commit ${BASELINE_COMMIT} (today's configuration)`,
    machine: { cpus: os.cpus().length, loadAverageBefore: loadBefore.map((x) => Math.round(x * 10) / 10), loadAverageAfter: loadAfter.map((x) => Math.round(x * 10) / 10), haproxy: spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0], keepalived: spawnSync('keepalived', ['-v'], { encoding: 'utf8' }).stderr.split('\n')[0] },
    allowFrom,
    pair,
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'failover-pair.json'), JSON.stringify(result, null, 2) + '\n');
  const [ours, base] = pair;
  const f = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? 'never (15 s)' : String(Math.round(x)));
  const md = `# HaproxyFailoverPair benchmark

Measured ${started} on ${result.machine.cpus} cores (load average ${result.machine.loadAverageBefore.join(' / ')} before,
${result.machine.loadAverageAfter.join(' / ')} after: a shared, loaded machine), ${result.machine.haproxy}, ${result.machine.keepalived},
in network namespaces. Ours and today's configuration (${result.baseline}, from a git worktree) in the same run.

## allowFrom: reload, \`haproxy -c\` and per-connection latency, sparse client ports (every third port)

| clients (restricted) | design | haproxy -c (ms) | reload median (ms) | of which nft -f (ms) | connect median / p90 (ms) | connections |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${allowFrom.map((r) => `| ${r.clients} (${r.restricted}) | ${r.design === 'ours' ? 'ours: one listener (TPROXY), two map lookups' : 'today: a socket per port, an ACL and a reject per client'} | ${r.haproxyCheckMs} | ${r.medianReloadMs} | ${r.medianNftMs ?? '-'} | ${r.medianConnectMs} / ${r.p90ConnectMs} | ${r.connections} |`).join('\n')}

Connect: connect to the answer of the app instance, on the last restricted port from an allowed source, a connection every 2 ms
for 3 s; reload: what the unit's ExecReload does, ours \`nft -f client-ports.nft\` then USR2, today USR2 alone, to the new
worker answering on the stats socket (${RELOADS} reloads).

## Failover, failback, address follows (shipped defaults, 1000 sparse clients, every 10th with allowFrom; ${RUNS} kills)

| | ours | today |
| --- | ---: | ---: |
| failover median / p90 (ms): HAProxy killed -> first answer through the backup | ${f(ours.medianFailoverMs)} / ${f(ours.p90FailoverMs)} | ${f(base.medianFailoverMs)} / ${f(base.p90FailoverMs)} |
| of which local (kill -> the backup's agent has keepalived's MASTER line), median | ${f(ours.medianLocalMs)} | - |
| of which the move (lab stand-in for the EC2 call: a route change), median | ${f(ours.medianMoveMs)} | - |
| failback median (ms): HAProxy up again -> first answer through it, with failbackDelay 10 s | ${f(ours.medianFailbackMs)} | ${f(base.medianFailbackMs)} |
| failback beyond the 10 s preempt delay (ms) | ${f(ours.medianFailbackMs - 10_000)} | ${f(base.medianFailbackMs - 10_000)} |
| address follows after a healed 5 s freeze (ms, per run) | ${ours.freezeFollowMs.map(f).join(', ')} | ${base.freezeFollowMs.map(f).join(', ')} |
| address follows after a healed 10 s VRRP partition (ms, per run) | ${ours.partitionFollowMs.map(f).join(', ')} | ${base.partitionFollowMs.map(f).join(', ')} |

All runs: ours failover ${ours.failoverMs.join(', ')}; today ${base.failoverMs.join(', ')} (ms).
The move here is \`ip -n <clients> route replace\`; on AWS it is AssociateAddress / ReplaceRoute, whose latency is not measured
here and dominates a real failover: only the local part is this code's.
`;
  fs.writeFileSync(path.join(dir, 'failover-pair.md'), md);
  console.log(md);
}

main().catch((e) => {
  if (worktree) spawnSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', worktree]);
  console.error(e);
  process.exit(1);
});
