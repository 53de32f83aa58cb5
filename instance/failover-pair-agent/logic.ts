/**
 * Pure decisions of the HaproxyFailoverPair node agent: which app instances take traffic, who the peer is,
 * whether the clients' address must move. No SDK, no environment, no clock.
 */

/** One server slot of HAProxy's app backend. */
export interface ServerSlot {
  /** Private IPv4 address of the app instance; absent for a free slot. */
  readonly address?: string;
  /** The instance behind the address. */
  readonly instanceId?: string;
  /** `ready` takes traffic; `drain` keeps its connections but takes no new ones; `maint` is free or out. */
  readonly state: 'ready' | 'drain' | 'maint';
}

/** An instance of the app's Auto Scaling group, as DescribeAutoScalingGroups and DescribeInstances tell it. */
export interface GroupMember {
  readonly instanceId: string;
  readonly lifecycleState: string;
  readonly privateIp?: string;
}

/** Lifecycle states in which an instance is on its way out: drained, never given new traffic. */
const LEAVING = /^(Terminating|Detaching|EnteringStandby|Standby)/;

export interface SlotPlan {
  readonly slots: ServerSlot[];
  /** Runtime API commands that turn the old slots into the new ones, in order. */
  readonly commands: string[];
  /** InService instances that found no free slot (raise the slot count). */
  readonly unplaced: string[];
  readonly changed: boolean;
}

/**
 * Fits the group's members into the slots: an InService instance keeps its slot or takes the first free
 * one; a leaving instance is drained (its established connections stay, new ones go elsewhere); an
 * instance that is gone frees its slot. Slots never hold the same address twice.
 */
export function planSlots(current: readonly ServerSlot[], members: readonly GroupMember[], backend: string, slotCount: number): SlotPlan {
  const slots: ServerSlot[] = Array.from({ length: slotCount }, (_, i) => current[i] ?? { state: 'maint' });
  // One member per address; where two report one (a reused address, a stale description), the InService one.
  const byAddress = new Map<string, GroupMember>();
  for (const m of members) {
    if (m.privateIp && (m.lifecycleState === 'InService' || !byAddress.has(m.privateIp))) byAddress.set(m.privateIp, m);
  }
  const commands: string[] = [];
  const name = (i: number) => `${backend}/${backend}${i + 1}`;

  // 1. Free slots whose instance has left the group; drain the leaving ones; revive those back in service.
  const seen = new Set<string>();
  slots.forEach((slot, i) => {
    if (!slot.address) return;
    const member = byAddress.get(slot.address);
    if (!member || seen.has(slot.address) || !(member.lifecycleState === 'InService' || LEAVING.test(member.lifecycleState))) {
      if (slot.state !== 'maint') commands.push(`set server ${name(i)} state maint`);
      slots[i] = { state: 'maint' };
      return;
    }
    seen.add(slot.address);
    const wanted = member.lifecycleState === 'InService' ? 'ready' : 'drain';
    if (slot.state !== wanted) {
      commands.push(`set server ${name(i)} state ${wanted}`);
    }
    slots[i] = { address: slot.address, instanceId: member.instanceId, state: wanted };
  });
  // Slots the head no longer has (its slot count lowered): HAProxy keeps their servers until its next reload, so
  // one still taking traffic is put in maintenance; an instance of the group in one is placed again below.
  for (let i = slotCount; i < current.length; i++) {
    if (current[i].state !== 'maint') commands.push(`set server ${name(i)} state maint`);
  }

  // 2. Place InService instances that have no slot yet.
  const unplaced: string[] = [];
  const newcomers = members
    .filter((m) => m.lifecycleState === 'InService' && m.privateIp)
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  for (const m of newcomers) {
    // Already in a slot, or a second InService member with one address: one slot, the first id's.
    if (seen.has(m.privateIp!)) continue;
    const free = slots.findIndex((s) => !s.address);
    if (free < 0) {
      unplaced.push(m.instanceId);
      continue;
    }
    slots[free] = { address: m.privateIp, instanceId: m.instanceId, state: 'ready' };
    seen.add(m.privateIp!);
    commands.push(`set server ${name(free)} addr ${m.privateIp}`, `set server ${name(free)} state ready`);
  }
  // Every other command changes its slot, so comparing the slots is enough; a file with more server lines than
  // the head's slot count changed too, even when the dropped slots were free (the file loses their lines).
  const changed = current.length > slotCount || slots.some((s, i) => JSON.stringify(s) !== JSON.stringify(current[i] ?? { state: 'maint' }));
  return { slots, commands, unplaced, changed };
}

/**
 * The app backend file: the rendered head plus one server line per slot. Free slots are placeholders in
 * maintenance, so the runtime API can give them an address without a reload.
 */
export function renderAppBackend(head: string, backend: string, slots: readonly ServerSlot[]): string {
  const lines = slots.map((s, i) => {
    const name = `${backend}${i + 1}`;
    const id = s.instanceId ? ` # ${s.instanceId}` : '';
    if (!s.address || s.state === 'maint') return `  server ${name} 0.0.0.0 disabled`;
    return s.state === 'drain' ? `  server ${name} ${s.address} weight 0${id}` : `  server ${name} ${s.address}${id}`;
  });
  return head + lines.join('\n') + '\n';
}

/** Reads the slots back from a backend file written by `renderAppBackend`. */
export function parseAppBackend(text: string): ServerSlot[] {
  const slots: ServerSlot[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*server\s+\S+\s+(\S+)(.*?)(?:#\s*(\S+))?\s*$/.exec(line);
    if (!m) continue;
    const [, address, rest, instanceId] = m;
    if (/\bdisabled\b/.test(rest) || address === '0.0.0.0') slots.push({ state: 'maint' });
    else slots.push({ address, instanceId, state: /\bweight 0\b/.test(rest) ? 'drain' : 'ready' });
  }
  return slots;
}

/**
 * The backend name and slot count announced by the rendered head. Each is read within one line ([ \t], not \s,
 * which also matches a newline): a `backend` line without its name would otherwise take the next line's first word.
 */
export function parseHead(head: string): { backend: string; slots: number } {
  const backend = /^backend[ \t]+(\S+)/m.exec(head)?.[1];
  const slots = Number(/#[ \t]*slots:[ \t]*(\d+)/.exec(head)?.[1]);
  if (!backend || !Number.isInteger(slots) || slots < 1) throw new Error('app backend head: missing "backend <name>" or "# slots: <n>"');
  return { backend, slots };
}

/** An instance of the pair (either node), as DescribeInstances tells it. */
export interface PairInstance {
  readonly instanceId: string;
  readonly privateIp?: string;
  /** EC2 state name: pending, running, shutting-down, terminated, stopping, stopped. */
  readonly state: string;
  /** Launch time in milliseconds since the epoch. */
  readonly launchTimeMs: number;
}

/**
 * The peer's address: the other node of the pair that is pending or running, the newest one if a
 * replacement overlaps the old instance. Undefined when there is none (the lone node then serves alone).
 */
export function choosePeer(instances: readonly PairInstance[], selfId: string): string | undefined {
  const alive = instances
    .filter((i) => i.instanceId !== selfId && i.privateIp && (i.state === 'running' || i.state === 'pending'))
    .sort((a, b) => (a.state === b.state ? b.launchTimeMs - a.launchTimeMs : a.state === 'running' ? -1 : 1));
  return alive[0]?.privateIp;
}

/** peers.conf: the addresses inside keepalived's unicast_peer block. */
export function renderPeers(peers: readonly string[]): string {
  return peers.length === 0 ? '' : peers.join('\n') + '\n';
}

/** Where an Elastic IP points now, from DescribeAddresses. */
export interface AddressAssociation {
  readonly instanceId?: string;
  readonly networkInterfaceId?: string;
}

/** True when the address already points at this node (nothing to do: a repeated move is a no-op). */
export function addressIsHere(assoc: AddressAssociation | undefined, self: { instanceId: string; networkInterfaceId?: string }): boolean {
  if (!assoc) return false;
  if (assoc.instanceId && assoc.instanceId === self.instanceId) return true;
  return !!(assoc.networkInterfaceId && self.networkInterfaceId && assoc.networkInterfaceId === self.networkInterfaceId);
}

/** A route of a route table, from DescribeRouteTables. */
export interface RouteView {
  readonly destinationCidrBlock?: string;
  readonly networkInterfaceId?: string;
  readonly instanceId?: string;
}

/** What to do with the virtual address's route in one table. */
export function planRoute(routes: readonly RouteView[], cidr: string, self: { instanceId: string; networkInterfaceId: string }): 'noop' | 'replace' | 'create' {
  const route = routes.find((r) => r.destinationCidrBlock === cidr);
  if (!route) return 'create';
  if (route.networkInterfaceId === self.networkInterfaceId || (!route.networkInterfaceId && route.instanceId === self.instanceId)) return 'noop';
  return 'replace';
}

/** Current sessions per server of one backend, from the runtime API's `show stat` CSV. */
export function parseShowStat(csv: string, backend: string): Map<string, number> {
  const lines = csv.split('\n').filter(Boolean);
  const header = lines[0]?.replace(/^#\s*/, '').split(',') ?? [];
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const scur = header.indexOf('scur');
  const out = new Map<string, number>();
  if (px < 0 || sv < 0 || scur < 0) return out;
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[px] === backend && f[sv] !== 'BACKEND' && f[sv] !== 'FRONTEND') out.set(f[sv], Number(f[scur]) || 0);
  }
  return out;
}

/** Instances whose slot is draining and holds no session any more: their termination can go on at once. */
export function drainedInstances(slots: readonly ServerSlot[], backend: string, sessions: ReadonlyMap<string, number>): string[] {
  return slots.flatMap((s, i) => (s.state === 'drain' && s.instanceId && sessions.get(`${backend}${i + 1}`) === 0 ? [s.instanceId] : []));
}

/** keepalived's view of this node, as its notify FIFO tells it, and whether that keepalived still runs. */
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/** One line of keepalived's notify FIFO: `INSTANCE "edge" MASTER 254`. Undefined for any other line. */
export function parseFifoLine(line: string): { readonly instance: string; readonly event: VrrpState | 'MASTER_RX_LOWER_PRI' } | undefined {
  const m = /^INSTANCE\s+"([^"]*)"\s+(MASTER_RX_LOWER_PRI|MASTER|BACKUP|FAULT|STOP)\b/.exec(line.trim());
  return m ? { instance: m[1], event: m[2] as VrrpState | 'MASTER_RX_LOWER_PRI' } : undefined;
}

/**
 * What the agent knows: the last state keepalived announced, which keepalived (pid and start time of its
 * processes) announced it, and which keepalived runs now and whether it is running (not frozen, not dead).
 */
export interface VrrpView {
  readonly announced: VrrpState;
  readonly announcedBy?: string;
  readonly keepalived?: string;
  readonly running: boolean;
}

export const INITIAL_VIEW: VrrpView = { announced: 'STOP', running: false };

/** An input of the view: a FIFO line (with the keepalived that was running when it was read) or a liveness probe. */
export type VrrpInput =
  | { readonly kind: 'fifo'; readonly event: VrrpState | 'MASTER_RX_LOWER_PRI'; readonly keepalived?: string }
  | { readonly kind: 'probe'; readonly keepalived?: string; readonly running: boolean };

/**
 * This node's effective state: what keepalived announced, but only while the keepalived that announced it runs.
 * A keepalived that was killed, crashed or is frozen (SIGSTOP) is not master, whatever it said last; a new
 * keepalived process starts as BACKUP until it announces otherwise.
 */
export function effectiveState(v: VrrpView): VrrpState {
  if (!v.running || !v.keepalived) return 'STOP';
  if (v.announcedBy !== v.keepalived) return 'BACKUP';
  return v.announced;
}

/**
 * The next view, and whether to put the clients' address on this node now: on becoming master (announced, or a
 * frozen master that runs again), and on MASTER_RX_LOWER_PRI while master (a peer that took over during a freeze
 * or a partition took the address with it; keepalived never left MASTER, so no other event would say so).
 */
export function nextView(v: VrrpView, input: VrrpInput): { readonly view: VrrpView; readonly state: VrrpState; readonly takeAddress: boolean } {
  const before = effectiveState(v);
  let view: VrrpView;
  let rxLower = false;
  if (input.kind === 'fifo') {
    const announced = input.event === 'MASTER_RX_LOWER_PRI' ? 'MASTER' : input.event;
    rxLower = input.event === 'MASTER_RX_LOWER_PRI';
    // A line comes from a keepalived that was running when it wrote it; when no probe names one, trust the line.
    const by = input.keepalived ?? v.keepalived ?? 'fifo';
    view = { announced, announcedBy: by, keepalived: by, running: input.event === 'STOP' ? v.running : true };
  } else {
    view = { ...v, keepalived: input.keepalived, running: input.running && input.keepalived !== undefined };
  }
  const state = effectiveState(view);
  return { view, state, takeAddress: state === 'MASTER' && (before !== 'MASTER' || rxLower) };
}
