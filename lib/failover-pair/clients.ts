/**
 * Clients as data: the list of `{ name, port }` that HaproxyFailoverPair routes, its validation, and the
 * port arithmetic the renderers share. Pure: no aws-cdk-lib, no file system except `loadClientsFile`.
 */
import * as fs from 'fs';

/** One client (customer) of the TCP edge: it connects to `port` on the pair's address. */
export interface HaproxyClient {
  /** A short name, used in logs and maps: letters, digits, ".", "_" and "-", at most 64 characters. */
  readonly name: string;

  /** The port this client connects to on the pair's address. Unique across clients. */
  readonly port: number;

  /**
   * The port on the app instances that receives this client's stream.
   * @default - the client's own `port`
   */
  readonly backendPort?: number;

  /**
   * IPv4 CIDR blocks this client connects from; connections to its port from anywhere else are refused by HAProxy.
   * @default - any source
   */
  readonly allowFrom?: string[];
}

/** The ports a client list may use. */
export interface ClientPortRules {
  readonly minPort: number;
  readonly maxPort: number;
  /** The pair's own ports (name of the prop that sets each, and its value). */
  readonly reserved: ReadonlyArray<{ readonly prop: string; readonly port: number }>;
}

export const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** True for an IPv4 CIDR block such as "203.0.113.0/24". */
export function isIpv4Cidr(value: string): boolean {
  const m = CIDR.exec(value);
  if (!m) return false;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) && Number(m[5]) <= 32;
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * Every problem with a client list, each phrased as `prop: got X; allowed: Y. Fix: Z`, so a construct can
 * collect them all and throw once. `prop` is the name of the prop the list came from (`clients` or the file).
 */
export function clientProblems(clients: readonly HaproxyClient[], rules: ClientPortRules, prop = 'clients'): string[] {
  const problems: string[] = [];
  const add = (at: string, value: unknown, allowed: string, fix: string) =>
    problems.push(`${at}: got ${JSON.stringify(value)}; allowed: ${allowed}. Fix: ${fix}`);
  if (clients.length === 0) {
    add(prop, [], 'at least one client', 'list the clients ({ name, port }) the pair routes');
  }
  const names = new Map<string, number>();
  const ports = new Map<number, number>();
  const reserved = new Map(rules.reserved.map((r) => [r.port, r.prop]));
  clients.forEach((client, i) => {
    const at = `${prop}[${i}]`;
    if (typeof client !== 'object' || client === null) {
      add(at, client, 'an object { name, port }', 'give each client a name and a port');
      return;
    }
    if (typeof client.name !== 'string' || !CLIENT_NAME.test(client.name)) {
      add(`${at}.name`, client.name, 'letters, digits, ".", "_" and "-", 1 to 64 characters, starting with a letter or digit', 'rename the client');
    } else if (names.has(client.name)) {
      add(`${at}.name`, client.name, `a name used once (also used by ${prop}[${names.get(client.name)}])`, 'give each client its own name');
    } else {
      names.set(client.name, i);
    }
    if (!isPort(client.port) || client.port < rules.minPort || client.port > rules.maxPort) {
      add(`${at}.port`, client.port, `an integer from ${rules.minPort} to ${rules.maxPort}`, 'choose a port in the allowed range, or widen minClientPort / maxClientPort');
    } else if (ports.has(client.port)) {
      add(`${at}.port`, client.port, `a port used once (also used by ${prop}[${ports.get(client.port)}])`, 'give each client its own port');
    } else if (reserved.has(client.port)) {
      add(`${at}.port`, client.port, `a port other than the pair's own (${reserved.get(client.port)} is ${client.port})`, `choose another port for the client, or change ${reserved.get(client.port)}`);
    } else {
      ports.set(client.port, i);
    }
    if (client.backendPort !== undefined && !isPort(client.backendPort)) {
      add(`${at}.backendPort`, client.backendPort, 'an integer from 1 to 65535', 'set the port the app instances listen on for this client, or leave it out');
    }
    if (client.allowFrom !== undefined) {
      if (!Array.isArray(client.allowFrom) || client.allowFrom.length === 0) {
        add(`${at}.allowFrom`, client.allowFrom, 'a non-empty list of IPv4 CIDR blocks', 'list the client\'s source networks, or leave allowFrom out to allow any source');
      } else {
        client.allowFrom.forEach((cidr, j) => {
          if (typeof cidr !== 'string' || !isIpv4Cidr(cidr)) {
            add(`${at}.allowFrom[${j}]`, cidr, 'an IPv4 CIDR block such as "203.0.113.0/24"', 'write the source network in CIDR notation');
          }
        });
      }
    }
  });
  return problems;
}

/**
 * Reads a client list from a JSON file: either an array of clients or `{ "clients": [...] }`.
 * Throws with the file name when the file is missing or is not such JSON.
 */
export function loadClientsFile(file: string): HaproxyClient[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`clientsFile: cannot read ${JSON.stringify(file)} (${(e as Error).message}). Fix: give the path of a JSON file with the client list`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`clientsFile: ${JSON.stringify(file)} is not valid JSON (${(e as Error).message}). Fix: write a JSON array of { "name", "port" } objects`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { clients?: unknown })?.clients;
  if (!Array.isArray(list)) {
    throw new Error(`clientsFile: ${JSON.stringify(file)} holds neither an array nor { "clients": [...] }. Fix: write a JSON array of { "name", "port" } objects`);
  }
  return list as HaproxyClient[];
}

/** Sorted ports compressed into inclusive ranges: [9001, 9002, 9003, 9010] -> [[9001, 9003], [9010, 9010]]. */
export function portRanges(ports: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const p of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && p === last[1] + 1) last[1] = p;
    else ranges.push([p, p]);
  }
  return ranges;
}
