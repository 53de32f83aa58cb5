/**
 * HaproxyFailoverPair benchmark, in network namespaces with the real haproxy and keepalived (needs root).
 *
 * 1. Failover and failback: HAProxy on the master is killed (SIGKILL) while a client in a third namespace opens
 *    a connection every 5 ms to the virtual address. Ours (VRRPv3 advert_int 0.05, priorities 254/253, HAProxy
 *    tracked by a track file its supervisor writes the instant it exits) against what most guides configure
 *    (VRRPv2 advert_int 1, priorities 101/100, a check script every second with weight 2), in the same run.
 *    failover = kill -> first answer through the backup; failback = HAProxy up again on the preferred node ->
 *    first answer through it (preempt_delay 0 for both: the construct's failbackDelay adds to this). The supervisor
 *    restarts HAProxy 6 s after it died, so that the once-a-second check script cannot miss the outage.
 * 2. Reloads: 100 and 1000 clients, ours (one frontend binding the port ranges, routed by destination port) against
 *    one frontend and one backend per client; reload time (USR2 -> new worker answering) and connection errors of
 *    short connections and of long-lived ones during 10 reloads, plus `haproxy -c` time.
 *
 * Writes bench/results/failover-pair.json and .md.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { HaproxyClient } from '../lib/failover-pair/clients';
import { renderHaproxyConfig } from '../lib/failover-pair/haproxy-config';
import { APP_IPS, CHECK_PORT, FailoverLab, NODE_IPS, ProbeLog, STATS_PORT, VIP, sleep, until } from '../test/failover-pair/lab/lab';

const PROBER = path.join(__dirname, '..', 'test', 'failover-pair', 'lab', 'prober.mjs');
const RUNS = Number(process.env.RFHA_BENCH_RUNS ?? 7);
const RELOADS = 10;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function clients(n: number): HaproxyClient[] {
  return Array.from({ length: n }, (_, i) => ({ name: `customer-${i + 1}`, port: 20001 + i }));
}

// ---------- 1. failover / failback ----------

async function failoverRuns(baseline: boolean) {
  const lab = new FailoverLab({ clients: clients(3), baseline, preemptDelaySeconds: 0, restartDelaySeconds: 6 });
  const failover: number[] = [];
  const failback: number[] = [];
  const lost: number[] = [];
  try {
    lab.setUp();
    for (const n of ['a', 'b'] as const) {
      lab.startHaproxy(n);
      lab.startKeepalived(n);
    }
    await until('node A master', () => lab.routeVia() === 'a', 30_000);
    const probe = new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, '20001', '5']));
    await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.a, 0, 10_000);
    for (let run = 0; run < RUNS; run++) {
      await until('settled on A', () => lab.vrrpState('a') === 'MASTER' && lab.vrrpState('b') === 'BACKUP', 30_000);
      await sleep(1500);
      const oldPid = lab.haproxyPid('a');
      const killedAt = Date.now();
      process.kill(oldPid, 'SIGKILL');
      const over = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.b, killedAt, 30_000);
      failover.push(over.t - killedAt);
      // HAProxy is back when the supervisor has restarted it and its stats port answers (track file says 1).
      const upFile = path.join(lab.nodeDir('a').runDir, 'haproxy.up');
      await until('HAProxy restarted on A', () => lab.haproxyPid('a') !== oldPid && fs.readFileSync(upFile, 'utf8').trim() === '1', 30_000, 2);
      const upAt = Date.now();
      const back = await probe.waitFor((r) => r.ok === true && r.via === NODE_IPS.a, upAt, 30_000);
      failback.push(back.t - upAt);
      lost.push(probe.records.filter((r) => r.t >= killedAt && r.t <= back.t && r.ok === false).length);
    }
  } finally {
    lab.close();
  }
  return { failoverMs: failover, failbackMs: failback, failedProbes: lost, medianFailoverMs: median(failover), medianFailbackMs: median(failback) };
}

// ---------- 2. reloads ----------

/** One frontend and one backend per client, as most guides write it. */
function perClientFiles(list: HaproxyClient[], dir: string): Record<string, string> {
  const lines = [
    'global',
    '  master-worker',
    '  maxconn 4000',
    `  stats socket ${dir.replace(/etc$/, 'run')}/haproxy.sock mode 600 level admin expose-fd listeners`,
    '  hard-stop-after 120s',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 3600s',
    '  timeout server 3600s',
    'frontend stats',
    '  mode http',
    `  bind 127.0.0.1:${STATS_PORT}`,
    '  stats enable',
  ];
  for (const c of list) {
    lines.push(`frontend fe_${c.name}`, `  bind :${c.port}`, `  default_backend be_${c.name}`);
    lines.push(`backend be_${c.name}`, '  balance leastconn');
    APP_IPS.forEach((ip, i) => lines.push(`  server app${i + 1} ${ip}:${c.backendPort ?? c.port} check port ${CHECK_PORT} inter 2000ms fall 2 rise 2`));
  }
  return { 'haproxy.cfg': lines.join('\n') + '\n' };
}

function oursFiles(list: HaproxyClient[], dir: string): Record<string, string> {
  return {
    ...renderHaproxyConfig({
      clients: list,
      paths: { configDir: dir, runDir: dir.replace(/etc$/, 'run') },
      maxConnections: 4000,
      backendCheckPort: CHECK_PORT,
      backendSlots: 4,
      statsPort: STATS_PORT,
      hardStopAfterSeconds: 120,
      checkIntervalMs: 2000,
    }),
  };
}

async function reloadRuns(design: 'ours' | 'per-client', n: number) {
  const list = clients(n);
  const lab = new FailoverLab({ clients: list, haproxyFiles: (dir) => (design === 'ours' ? oursFiles(list, dir) : perClientFiles(list, dir)) });
  try {
    lab.setUp();
    const cfg = path.join(lab.nodeDir('a').configDir, 'haproxy.cfg');
    const extra = fs.existsSync(path.join(lab.nodeDir('a').configDir, 'app-backend.cfg')) ? ['-f', path.join(lab.nodeDir('a').configDir, 'app-backend.cfg')] : [];
    const checkStart = process.hrtime.bigint();
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg, ...extra]);
    const checkMs = Number(process.hrtime.bigint() - checkStart) / 1e6;
    if (check.status !== 0) throw new Error(`haproxy -c failed for ${design} ${n}: ${check.stderr}`);
    lab.startHaproxy('a');
    lab.startKeepalived('a');
    await until('node A master', () => lab.routeVia() === 'a', 30_000);
    const workerPid = async () => /Pid: (\d+)/.exec(await lab.runtime('a', 'show info').catch(() => ''))?.[1];
    await until('stats socket', async () => (await workerPid()) !== undefined, 30_000);
    const lastPort = String(list[list.length - 1].port);
    const probes = [new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, '20001', '2'])), new ProbeLog(lab.spawnIn('c', 'node', [PROBER, 'probe', VIP, lastPort, '2']))];
    const holdChild = lab.spawnIn('c', 'node', [PROBER, 'hold', VIP, '20001', '50', '50']);
    const hold = new ProbeLog(holdChild);
    await until('long-lived connections', () => hold.records.filter((r) => r.event === 'open').length === 50, 30_000);
    await Promise.all(probes.map((p) => p.waitFor((r) => r.ok === true, 0, 30_000)));
    const from = Date.now();
    const reloadMs: number[] = [];
    const master = lab.haproxyPid('a');
    for (let i = 0; i < RELOADS; i++) {
      const before = await workerPid();
      const t0 = process.hrtime.bigint();
      process.kill(master, 'SIGUSR2');
      await until('new worker', async () => {
        const pid = await workerPid();
        return pid !== undefined && pid !== before;
      }, 30_000, 2);
      reloadMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sleep(300);
    }
    await sleep(500);
    holdChild.kill('SIGTERM');
    await until('hold summary', () => hold.records.some((r) => r.event === 'summary'), 10_000);
    const short = probes.flatMap((p) => p.records.filter((r) => r.t >= from));
    const rss = spawnSync('ps', ['-o', 'rss=', '-p', String(master)], { encoding: 'utf8' }).stdout.trim();
    return {
      design,
      clients: n,
      haproxyCheckMs: Math.round(checkMs),
      reloadMs: reloadMs.map((x) => Math.round(x)),
      medianReloadMs: Math.round(median(reloadMs)),
      shortConnections: short.length,
      shortConnectionErrors: short.filter((r) => r.ok === false).length,
      longLivedDropped: hold.records.filter((r) => r.event === 'drop').length,
      masterRssKiB: Number(rss) || undefined,
    };
  } finally {
    lab.close();
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the failover-pair benchmark needs root (network namespaces)');
  const started = new Date().toISOString();
  console.log(`failover/failback, ${RUNS} runs each ...`);
  const ours = await failoverRuns(false);
  console.log('ours', ours);
  const guides = await failoverRuns(true);
  console.log('guides', guides);
  const reloads: Array<Awaited<ReturnType<typeof reloadRuns>>> = [];
  for (const n of [100, 1000]) {
    for (const design of ['ours', 'per-client'] as const) {
      const r = await reloadRuns(design, n);
      console.log(r);
      reloads.push(r);
    }
  }
  const result = {
    started,
    machine: { cpus: require('os').cpus().length, haproxy: spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0], keepalived: spawnSync('keepalived', ['-v'], { encoding: 'utf8' }).stderr.split('\n')[0] },
    failover: {
      ours: { setup: 'VRRPv3 advert_int 0.05, priorities 254/253, track_file weight 0 reverse written by the HAProxy supervisor', ...ours },
      guides: { setup: 'VRRPv2 advert_int 1, priorities 101/100, vrrp_script (pid check) interval 1 weight 2', ...guides },
    },
    reloads,
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'failover-pair.json'), JSON.stringify(result, null, 2) + '\n');
  const row = (r: (typeof reloads)[number]) =>
    `| ${r.clients} | ${r.design === 'ours' ? 'one frontend, port ranges, map by dst_port (ours)' : 'one frontend + backend per client'} | ${r.haproxyCheckMs} | ${r.medianReloadMs} | ${r.shortConnectionErrors} / ${r.shortConnections} | ${r.longLivedDropped} / 50 | ${r.masterRssKiB ?? '?'} |`;
  const md = `# HaproxyFailoverPair benchmark

Measured ${started} on ${result.machine.cpus} cores, ${result.machine.haproxy}, ${result.machine.keepalived}, in network namespaces
(\`npm run bench failover-pair\`, root). Both designs ran in the same run, one after the other.

## Failover and failback (median of ${RUNS} runs; HAProxy on the master killed with SIGKILL, a connection every 5 ms)

| setup | failover median (ms) | failback median (ms) | all runs failover / failback (ms) | failed probes per run |
| --- | ---: | ---: | --- | --- |
| ours: ${result.failover.ours.setup} | ${ours.medianFailoverMs} | ${ours.medianFailbackMs} | ${ours.failoverMs.join(', ')} / ${ours.failbackMs.join(', ')} | ${ours.failedProbes.join(', ')} |
| guides: ${result.failover.guides.setup} | ${guides.medianFailoverMs} | ${guides.medianFailbackMs} | ${guides.failoverMs.join(', ')} / ${guides.failbackMs.join(', ')} | ${guides.failedProbes.join(', ')} |

Failover: kill to the first answer through the backup. Failback: HAProxy answering again on the preferred node to the first
answer through it, with preempt_delay 0 (the construct's \`failbackDelay\`, default 10 s, adds to it). A failed probe is a
connection refused or reset in the gap (the client tries again at its next 5 ms slot); none waited for a SYN retransmission.

Where the failover time goes (a diagnostic run with \`ip -ts monitor\` on keepalived's marker address in each node and on the
clients' route, 5 kills): HAProxy killed -> the master in FAULT after 1 to 6 ms (the supervisor writes the track file in place
with shell builtins; keepalived reads it through inotify) -> the backup MASTER after 3 to 14 ms -> the clients' route moved
after 9 to 29 ms (keepalived starts notify.sh, which records the state and starts the move command) -> the first answer through
the backup at the prober's next slot, which on this shared 2-core machine slips by up to about 15 ms. Before 2026-11-22 the
same steps took 7 to 14 ms (FAULT) and 33 to 43 ms (route): the supervisor forked \`mv\` to mark HAProxy down, notify.sh ran
\`mkdir\`, \`mv\` and \`date\` before the move, and the lab's move used \`ip netns exec\` (a mount namespace and a /sys remount).

The last step is the lab's stand-in, not AWS: here the move is \`ip -n <clients> route replace\`, a local netlink call of a
millisecond or two. On AWS the agent's \`move\` makes EC2 API calls (ReplaceRoute, AssociateAddress); their latency and
propagation are not measured here and will dominate a real failover.

## Reloads (${RELOADS} master-worker reloads, USR2, under load)

| clients | design | haproxy -c (ms) | reload median (ms) | short connection errors | long-lived dropped | master RSS (KiB) |
| ---: | --- | ---: | ---: | ---: | ---: | ---: |
${reloads.map(row).join('\n')}

Reload time: USR2 to the new worker answering on the stats socket. Short connections: two clients opening a connection
every 2 ms (first and last client port). Long-lived: 50 connections pinging every 50 ms across all reloads.
`;
  fs.writeFileSync(path.join(dir, 'failover-pair.md'), md);
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
