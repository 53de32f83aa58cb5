/**
 * The HaproxyFailoverPair node agent's steps (index.ts runs them; tests call them with their own clients and dirs).
 *
 *   node index.mjs boot   once at boot: identity from IMDS, node.conf and peers.conf for keepalived, the app
 *                         backend file for HAProxy, the VPN virtual address accepted locally
 *   node index.mjs run    forever (rfha-agent.service): follows keepalived's notify FIFO in order and moves the
 *                         clients' address on MASTER and on MASTER_RX_LOWER_PRI (follower.ts); every
 *                         RFHA_SYNC_SECONDS keeps the peer address, the app servers (runtime API + file) and, on
 *                         the master, re-checks where the clients' address is
 *   node index.mjs sync   the periodic half of `run` alone (reads the state file instead of the FIFO)
 *   node index.mjs reload rfha-haproxy.service's ExecReload: servers' state saved, then SIGUSR2 (haproxy-runtime.ts)
 *   node index.mjs move   once, by hand: moves the Elastic IP and the VPN route if this node is MASTER
 *
 * Settings come from the environment (the stack writes them into /etc/rfha/node.env):
 *   RFHA_CONFIG_DIR, RFHA_RUN_DIR, RFHA_PRIORITY, RFHA_PAIR_TAG_KEY, RFHA_PAIR_TAG_VALUE,
 *   RFHA_BACKEND_GROUP and RFHA_DRAIN_HOOK (Auto Scaling group mode) or RFHA_BACKEND_NAME (DNS mode: HAProxy's
 *   resolvers find the app servers, and the agent leaves the app backend alone), RFHA_ALLOCATION_ID (optional),
 *   RFHA_VPN_CIDR and RFHA_ROUTE_TABLES (optional, comma separated), RFHA_SYNC_SECONDS
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createLogger } from '../../lambda/shared/log';
import { applyRuntimeCommands, reloadHaproxy, runtimeCommand } from './haproxy-runtime';
import {
  Clients,
  completeDrain,
  defaultClients,
  describeGroupMembers,
  describePairInstances,
  disableSourceDestCheck,
  imds,
  moveElasticIp,
  moveRoute,
  Self,
} from './io';
import { DEFAULT_PRIORITIES, keepalivedFiles, renderNodeConf, STANDBY_STARTUP_DELAY_SECONDS } from '../../lib/failover-pair/keepalived-config';
import { probeKeepalived, VrrpFollower } from './follower';
import { choosePeer, drainedInstances, parseAppBackend, parseHead, parseShowStat, planSlots, renderAppBackend, renderPeers } from './logic';

export const log = createLogger('failover-pair-agent');

export interface Settings {
  configDir: string;
  runDir: string;
  priority: number;
  pairTagKey: string;
  pairTagValue: string;
  /** The app group whose InService instances the agent writes as servers (Auto Scaling group mode). */
  backendGroup?: string;
  /** DNS mode: the name HAProxy resolves itself; no group discovery, no drain hook. */
  backendName?: string;
  /** The termination lifecycle hook on the app group that holds instances while they drain. */
  drainHook?: string;
  allocationId?: string;
  vpnCidr?: string;
  routeTables: string[];
  syncSeconds: number;
}

export function settings(env: NodeJS.ProcessEnv = process.env): Settings {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`missing environment variable ${k}`);
    return v;
  };
  return {
    configDir: env.RFHA_CONFIG_DIR ?? '/etc/rfha',
    runDir: env.RFHA_RUN_DIR ?? '/run/rfha',
    priority: Number(need('RFHA_PRIORITY')),
    pairTagKey: need('RFHA_PAIR_TAG_KEY'),
    pairTagValue: need('RFHA_PAIR_TAG_VALUE'),
    backendGroup: env.RFHA_BACKEND_NAME ? undefined : need('RFHA_BACKEND_GROUP'),
    backendName: env.RFHA_BACKEND_NAME || undefined,
    drainHook: env.RFHA_DRAIN_HOOK || undefined,
    allocationId: env.RFHA_ALLOCATION_ID || undefined,
    vpnCidr: env.RFHA_VPN_CIDR || undefined,
    routeTables: (env.RFHA_ROUTE_TABLES ?? '').split(',').filter(Boolean),
    syncSeconds: Number(env.RFHA_SYNC_SECONDS ?? '10'),
  };
}

/** Writes a file atomically (rename), and only when its content changes. Returns true when it changed. */
function writeIfChanged(file: string, text: string): boolean {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    /* new file */
  }
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
  return true;
}

export interface Identity extends Self {
  privateIp: string;
  interfaceName: string;
}

export async function identity(s: Settings): Promise<Identity> {
  const cached = path.join(s.runDir, 'identity.json');
  if (fs.existsSync(cached)) return JSON.parse(fs.readFileSync(cached, 'utf8'));
  const instanceId = await imds('instance-id');
  const privateIp = await imds('local-ipv4');
  const mac = await imds('mac');
  const networkInterfaceId = await imds(`network/interfaces/macs/${mac}/interface-id`);
  const interfaceName = Object.entries(os.networkInterfaces()).find(([, addrs]) => addrs?.some((a) => a.mac === mac))?.[0] ?? 'eth0';
  const id = { instanceId, privateIp, networkInterfaceId, interfaceName };
  fs.mkdirSync(s.runDir, { recursive: true });
  writeIfChanged(cached, JSON.stringify(id));
  return id;
}

export async function syncPeer(s: Settings, self: Identity, c: Clients = defaultClients()): Promise<boolean> {
  const peer = choosePeer(await describePairInstances(c, s.pairTagKey, s.pairTagValue), self.instanceId);
  const file = path.join(s.configDir, 'peers.conf');
  // Keep the last known peer while the other node is being replaced: its replacement announces itself.
  if (!peer && fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim()) return false;
  return writeIfChanged(file, renderPeers(peer ? [peer] : []));
}

/** True when the agent keeps the app servers itself (Auto Scaling group mode); in DNS mode HAProxy does. */
export function agentKeepsServers(s: Settings): s is Settings & { backendGroup: string } {
  return s.backendGroup !== undefined && s.backendName === undefined;
}

export async function syncServers(s: Settings, applyRuntime: boolean, c: Clients = defaultClients()): Promise<string[]> {
  if (!agentKeepsServers(s)) return [];
  const head = fs.readFileSync(path.join(s.configDir, 'app-backend.head'), 'utf8');
  const { backend, slots: slotCount } = parseHead(head);
  const file = path.join(s.configDir, 'app-backend.cfg');
  const current = fs.existsSync(file) ? parseAppBackend(fs.readFileSync(file, 'utf8')) : [];
  const members = await describeGroupMembers(c, s.backendGroup);
  const plan = planSlots(current, members, backend, slotCount);
  if (plan.unplaced.length > 0) log.warn('app instances without a server slot: raise maxBackendServers', { unplaced: plan.unplaced });
  if (applyRuntime && s.drainHook && isMaster(s) && plan.slots.some((x) => x.state === 'drain')) {
    // Only the master carries traffic, so only its sessions say whether a draining instance is done.
    const sessions = parseShowStat(await runtimeCommand(path.join(s.runDir, 'haproxy.sock'), 'show stat'), backend);
    for (const instanceId of drainedInstances(plan.slots, backend, sessions)) {
      try {
        log.info('drained: letting the termination go on', { instanceId, result: await completeDrain(c, s.backendGroup, s.drainHook, instanceId) });
      } catch (e) {
        log.warn('could not end the drain early; the lifecycle hook will time out instead', { instanceId, error: e as Error });
      }
    }
  }
  if (!plan.changed && fs.existsSync(file)) return [];
  if (applyRuntime && plan.commands.length > 0) {
    await applyRuntimeCommands(path.join(s.runDir, 'haproxy.sock'), plan.commands);
  }
  writeIfChanged(file, renderAppBackend(head, backend, plan.slots));
  log.info('app servers changed', { commands: plan.commands });
  return plan.commands;
}

/** In `run`, the follower's in-memory state; else the state file it writes. */
let follower: VrrpFollower | undefined;

export function isMaster(s: Settings): boolean {
  if (follower) return follower.state === 'MASTER';
  try {
    return fs.readFileSync(path.join(s.runDir, 'vrrp.state'), 'utf8').trim() === 'MASTER';
  } catch {
    return false;
  }
}

export async function move(s: Settings, c: Clients = defaultClients(), stillMaster: () => boolean = () => isMaster(s)): Promise<Record<string, string>> {
  const self = await identity(s);
  const results: Record<string, string> = {};
  if (s.allocationId) results[s.allocationId] = await moveElasticIp(c, s.allocationId, self, stillMaster);
  if (s.vpnCidr) {
    for (const table of s.routeTables) results[table] = await moveRoute(c, table, s.vpnCidr, self, stillMaster);
  }
  log.info('address move', results);
  return results;
}

async function boot(s: Settings): Promise<void> {
  const self = await identity(s);
  fs.mkdirSync(s.configDir, { recursive: true });
  // The less preferred node joins VRRP a little later, so a cold start of both moves the address once.
  const startupDelaySeconds = s.priority < DEFAULT_PRIORITIES[0] ? STANDBY_STARTUP_DELAY_SECONDS : 0;
  writeIfChanged(path.join(s.configDir, 'node.conf'), renderNodeConf({ sourceIp: self.privateIp, priority: s.priority, interfaceName: self.interfaceName, startupDelaySeconds }));
  // Both nodes usually boot together: give the peer a little time to appear, then go on alone if needed.
  for (let i = 0; i < 30; i++) {
    await syncPeer(s, self);
    if (fs.readFileSync(path.join(s.configDir, 'peers.conf'), 'utf8').trim()) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  await syncServers(s, false);
  // The VPN virtual address itself is put on lo by rfha-vpn-address.service on every start, not here.
  if (s.vpnCidr) await disableSourceDestCheck(defaultClients(), self.instanceId);
  log.info('boot done', { instanceId: self.instanceId, priority: s.priority });
}

/** Asks keepalived to re-read its files (peers.conf): SIGHUP to its main process, as `systemctl reload` would. */
function reloadKeepalived(s: Settings): void {
  const pid = Number(fs.readFileSync(keepalivedFiles(s).pidFile, 'utf8').trim());
  process.kill(pid, 'SIGHUP');
}

/** keepalived's pid files and FIFO, from the rendered configuration's own names. */
export function followerFiles(s: Pick<Settings, 'configDir' | 'runDir'>) {
  const f = keepalivedFiles(s);
  return { fifo: f.fifo, stateFile: f.stateFile, pidFiles: [f.pidFile, f.vrrpPidFile] };
}

async function run(s: Settings): Promise<never> {
  const files = followerFiles(s);
  follower = new VrrpFollower({
    fifo: files.fifo,
    stateFile: files.stateFile,
    probe: () => probeKeepalived(files.pidFiles),
    takeAddress: (stillMaster) => move(s, defaultClients(), stillMaster),
    recheckMs: s.syncSeconds * 1000,
    onEvent: (e) => (e.level === 'error' ? log.error(String(e.msg), e) : log.info(String(e.msg), e)),
  });
  follower.start();
  return syncForever(s, false);
}

async function syncForever(s: Settings, moveToo = true): Promise<never> {
  const self = await identity(s);
  for (;;) {
    try {
      if (await syncPeer(s, self)) {
        log.info('peer changed: reloading keepalived');
        reloadKeepalived(s);
      }
      await syncServers(s, true);
      if (moveToo && isMaster(s)) await move(s);
    } catch (e) {
      log.error('sync failed; retrying next round', { error: e as Error });
    }
    await new Promise((r) => setTimeout(r, s.syncSeconds * 1000));
  }
}

export async function main(argv: string[]): Promise<void> {
  // rfha-haproxy.service's ExecReload: needs only the run directory, not the node's settings.
  if (argv[0] === 'reload') {
    await reloadHaproxy(process.env.RFHA_RUN_DIR ?? '/run/rfha');
    return;
  }
  const s = settings();
  switch (argv[0]) {
    case 'boot':
      return boot(s);
    case 'run':
      return run(s);
    case 'sync':
      return syncForever(s);
    case 'move':
      await move(s);
      return;
    default:
      throw new Error(`usage: index.mjs boot|run|sync|move|reload (got ${argv[0]})`);
  }
}

