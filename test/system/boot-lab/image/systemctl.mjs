/**
 * The boot lab's `systemctl` (there is no systemd in the lab): reads the rendered unit files and runs them the way
 * systemd would for what the boot uses, and records what it did in the lab's log (outside the instance's disk).
 *
 *   daemon-reload | enable [--now] U... | disable U... | start U... | restart U... | stop U... | reload U...
 *   is-active [--quiet] U... | is-enabled U... | cat U | list-unit-files [U]
 *   lab-boot   (the lab's own: what systemd does at boot, starting every unit enabled in multi-user.target.wants)
 *
 * Units: [Unit] After=; [Service] Type= (simple, exec, notify, oneshot, forking), User=, Group=, Environment=,
 * EnvironmentFile= (- optional), WorkingDirectory=, ExecStartPre=/ExecStart=/ExecStartPost=/ExecReload=/ExecStop=
 * (prefixes - and +), RuntimeDirectory= (+RuntimeDirectoryMode=, created under /run owned by User=, as systemd does),
 * StateDirectory=, LogsDirectory=, Restart= (always, on-failure), RestartSec=, LimitNOFILE=, NoNewPrivileges=,
 * AmbientCapabilities=, RemainAfterExit=. Other keys (ProtectSystem=, ...) are recorded as not simulated.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const LAB = '/opt/boot-lab';
const STATE = '/run/boot-lab-systemd';
const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
const WANTS = '/etc/systemd/system/multi-user.target.wants';
const LOG = `${LAB}/state/units.log`;

function record(e) {
  fs.appendFileSync(LOG, JSON.stringify({ t: Date.now(), ...e }) + '\n');
}

const unitName = (u) => (u.includes('.') ? u : `${u}.service`);

function unitFile(name) {
  for (const d of UNIT_DIRS) {
    const f = path.join(d, name);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

function parseUnit(name) {
  const file = unitFile(name);
  if (!file) return undefined;
  const sections = {};
  const texts = [fs.readFileSync(file, 'utf8')];
  for (const d of UNIT_DIRS) {
    const dropins = path.join(d, `${name}.d`);
    if (fs.existsSync(dropins)) for (const f of fs.readdirSync(dropins).filter((x) => x.endsWith('.conf')).sort()) texts.push(fs.readFileSync(path.join(dropins, f), 'utf8'));
  }
  for (const text of texts) {
    let section = '';
    for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#') || line.startsWith(';')) continue;
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) {
        section = sec[1];
        sections[section] ??= {};
        continue;
      }
      const eq = line.indexOf('=');
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      const s = (sections[section] ??= {});
      // An empty assignment resets a list, as in systemd.
      if (value === '') s[key] = [];
      else (s[key] ??= []).push(value);
    }
  }
  return { name, file, unit: sections.Unit ?? {}, service: sections.Service ?? {}, install: sections.Install ?? {} };
}

const last = (list, dflt) => (list && list.length ? list[list.length - 1] : dflt);

/** systemd's command-line splitting, with $VAR / ${VAR} from the unit's environment. */
function splitCommand(line, env) {
  const words = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      cur += line.slice(i + 1, end < 0 ? undefined : end).replace(/\$\{(\w+)\}/g, (_, v) => env[v] ?? '');
      i = end < 0 ? line.length : end;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words.flatMap((w) => {
    const whole = /^\$(\w+)$/.exec(w);
    if (whole) return (env[whole[1]] ?? '').split(/\s+/).filter(Boolean);
    return [w.replace(/\$\{(\w+)\}/g, (_, v) => env[v] ?? '')];
  });
}

function environmentOf(u) {
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...labEnv() };
  for (const line of u.service.Environment ?? []) for (const [k, v] of splitCommand(line, {}).map((w) => w.split(/=(.*)/s))) env[k] = v ?? '';
  for (const spec of u.service.EnvironmentFile ?? []) {
    const optional = spec.startsWith('-');
    const file = optional ? spec.slice(1) : spec;
    if (!fs.existsSync(file)) {
      if (optional) continue;
      throw new Error(`${u.name}: EnvironmentFile ${file} does not exist`);
    }
    for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const eq = line.indexOf('=');
      env[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1');
    }
  }
  return env;
}

/** What the lab gives every process on the instance besides a unit's own environment (the fake AWS endpoint). */
function labEnv() {
  try {
    return JSON.parse(fs.readFileSync(`${LAB}/state/env.json`, 'utf8'));
  } catch {
    return {};
  }
}

function passwd(user) {
  const row = fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === user || f[2] === user);
  if (!row) throw new Error(`User=${user}: no such user in /etc/passwd`);
  return { name: row[0], uid: Number(row[2]), gid: Number(row[3]), home: row[5] };
}

function groupId(group) {
  const row = fs.readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === group || f[2] === group);
  if (!row) throw new Error(`Group=${group}: no such group in /etc/group`);
  return Number(row[2]);
}

const SIMULATED = new Set([
  'Type', 'User', 'Group', 'Environment', 'EnvironmentFile', 'WorkingDirectory', 'ExecStartPre', 'ExecStart', 'ExecStartPost', 'ExecReload', 'ExecStop',
  'RuntimeDirectory', 'RuntimeDirectoryMode', 'StateDirectory', 'LogsDirectory', 'Restart', 'RestartSec', 'LimitNOFILE', 'NoNewPrivileges', 'AmbientCapabilities',
  'RemainAfterExit', 'CapabilityBoundingSet', 'ExecStopPost',
]);

/** The .service units a unit pulls in (Wants=, Requires=) that exist. */
function pulledIn(u) {
  return [...(u.unit.Wants ?? []), ...(u.unit.Requires ?? [])].flatMap((v) => v.split(/\s+/)).filter((n) => n.endsWith('.service') && unitFile(n));
}

/** ExecStop= then ExecStopPost= (failures ignored, as systemd goes on stopping). */
function runStopCommands(u, mainPid, keys = ['ExecStop', 'ExecStopPost']) {
  let env;
  try {
    env = { ...environmentOf(u), MAINPID: mainPid ? String(mainPid) : '' };
  } catch {
    return;
  }
  for (const key of keys) {
    for (const line of u.service[key] ?? []) {
      const { words, privileged } = parseExec(line, env);
      const argv = wrap(u, words, privileged);
      const r = spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore' });
      record({ unit: u.name, event: key === 'ExecStop' ? 'exec-stop' : 'exec-stop-post', argv: words, code: r.status });
    }
  }
}

/** The argv that runs `words` as the unit's user, with its capabilities and limits (setpriv, as systemd's exec does). */
function wrap(u, words, privileged) {
  const user = last(u.service.User);
  const pre = [];
  const nofile = last(u.service.LimitNOFILE);
  if (!privileged && user && user !== 'root') {
    const pw = passwd(user);
    const group = last(u.service.Group);
    pre.push('setpriv', `--reuid=${pw.uid}`, `--regid=${group ? groupId(group) : pw.gid}`, '--init-groups');
    const caps = (u.service.AmbientCapabilities ?? []).flatMap((c) => c.split(/\s+/)).filter(Boolean).map((c) => `+${c.toLowerCase().replace(/^cap_/, '')}`);
    if (caps.length) pre.push(`--inh-caps=${caps.join(',')}`, `--ambient-caps=${caps.join(',')}`);
  }
  if (!privileged && /^(yes|true|1)$/i.test(last(u.service.NoNewPrivileges, 'no'))) pre.push(...(pre.length ? [] : ['setpriv']), '--no-new-privs');
  if (pre.length) pre.push('--');
  const argv = [...pre, ...words];
  return nofile ? ['prlimit', `--nofile=${labNofile(u, nofile)}`, '--', ...argv] : argv;
}

/**
 * LimitNOFILE=, within what the lab may set: systemd raises the limit as far as the kernel allows, but the lab's
 * machine may withhold CAP_SYS_RESOURCE, so a value above the lab's own hard limit is lowered to it (recorded).
 */
function labNofile(u, wanted) {
  const row = /^Max open files\s+(\d+)\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  const hard = row && row[2] !== 'unlimited' ? Number(row[2]) : Infinity;
  const value = wanted === 'infinity' ? hard : Number(wanted);
  if (value <= hard) return String(value);
  record({ unit: u.name, event: 'limit-lowered', key: 'LimitNOFILE', wanted, used: hard });
  return String(hard);
}

function parseExec(line, env) {
  let rest = line;
  let ignoreFailure = false;
  let privileged = false;
  while (/^[-+@!:]/.test(rest)) {
    if (rest[0] === '-') ignoreFailure = true;
    if (rest[0] === '+') privileged = true;
    rest = rest.slice(1);
  }
  return { words: splitCommand(rest, env), ignoreFailure, privileged };
}

function makeDirectories(u) {
  const user = last(u.service.User);
  const pw = user ? passwd(user) : { uid: 0, gid: 0 };
  const gid = last(u.service.Group) ? groupId(last(u.service.Group)) : pw.gid;
  const mode = parseInt(last(u.service.RuntimeDirectoryMode, '0755'), 8);
  const made = [];
  for (const [key, base] of [['RuntimeDirectory', '/run'], ['StateDirectory', '/var/lib'], ['LogsDirectory', '/var/log']]) {
    for (const d of (u.service[key] ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean)) {
      const dir = path.join(base, d);
      fs.mkdirSync(dir, { recursive: true });
      fs.chownSync(dir, pw.uid, gid);
      if (key === 'RuntimeDirectory') fs.chmodSync(dir, mode);
      made.push(dir);
    }
  }
  return made;
}

function statePath(name) {
  return path.join(STATE, `${name}.json`);
}

function readState(name) {
  try {
    return JSON.parse(fs.readFileSync(statePath(name), 'utf8'));
  } catch {
    return { state: 'inactive' };
  }
}

function writeState(name, s) {
  fs.mkdirSync(STATE, { recursive: true });
  fs.writeFileSync(`${statePath(name)}.tmp`, JSON.stringify(s));
  fs.renameSync(`${statePath(name)}.tmp`, statePath(name));
}

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function isActive(name) {
  const s = readState(name);
  if (s.state === 'active' && s.type === 'oneshot') return true;
  return s.state === 'active' && alive(s.runner);
}

function runSync(u, line, env, what) {
  const { words, ignoreFailure, privileged } = parseExec(line, env);
  const argv = wrap(u, words, privileged);
  const r = spawnSync(argv[0], argv.slice(1), { env, cwd: last(u.service.WorkingDirectory, '/'), stdio: ['ignore', 'inherit', 'inherit'] });
  const code = r.status ?? 128;
  record({ unit: u.name, event: what, argv: words, code });
  if (code !== 0 && !ignoreFailure) throw new Error(`${u.name}: ${what} ${words.join(' ')} exited ${code}`);
}

/** Starts a unit and returns when systemd's `start` would (oneshot: when it has run; others: when the main process runs). */
async function start(name, chain = []) {
  if (isActive(name) || chain.includes(name)) return;
  const u = parseUnit(name);
  if (!u) throw new Error(`Unit ${name} not found.`);
  for (const dep of pulledIn(u)) await start(dep, [...chain, name]);
  const ignored = Object.keys(u.service).filter((k) => !SIMULATED.has(k));
  record({ unit: name, event: 'start', user: last(u.service.User, 'root'), notSimulated: ignored });
  const type = last(u.service.Type, 'simple');
  makeDirectories(u);
  if (type === 'oneshot') {
    const env = environmentOf(u);
    try {
      for (const line of [...(u.service.ExecStartPre ?? []), ...(u.service.ExecStart ?? []), ...(u.service.ExecStartPost ?? [])]) runSync(u, line, env, 'exec');
    } catch (e) {
      writeState(name, { state: 'failed', type });
      record({ unit: name, event: 'failed', error: e.message });
      throw e;
    }
    writeState(name, { state: /^(yes|true|1)$/i.test(last(u.service.RemainAfterExit, 'no')) ? 'active' : 'inactive', type });
    record({ unit: name, event: 'active' });
    return;
  }
  // A detached runner supervises the main process (Restart=), so the unit outlives this systemctl.
  fs.mkdirSync(STATE, { recursive: true });
  writeState(name, { state: 'activating', type });
  const runner = spawn(process.execPath, [new URL(import.meta.url).pathname, '__run', name], { detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
  runner.unref();
  for (let i = 0; i < 1800; i++) {
    const s = readState(name);
    if (s.state === 'active') return;
    if (s.state === 'failed') throw new Error(`Job for ${name} failed: ${s.error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name}: start timed out`);
}

/** The runner: ExecStartPre, then the main process, restarted per Restart=, its output appended to the unit's journal. */
async function runUnit(name) {
  const u = parseUnit(name);
  const type = last(u.service.Type, 'simple');
  const journal = fs.openSync(`${LAB}/state/journal-${name}.log`, 'a');
  const restart = last(u.service.Restart, 'no');
  const restartSec = Number(String(last(u.service.RestartSec, '0.1')).replace(/s$/, ''));
  let first = true;
  for (;;) {
    let env;
    try {
      env = environmentOf(u);
      if (!first) makeDirectories(u);
      for (const line of u.service.ExecStartPre ?? []) {
        const { words, ignoreFailure, privileged } = parseExec(line, env);
        const argv = wrap(u, words, privileged);
        const r = spawnSync(argv[0], argv.slice(1), { env, cwd: last(u.service.WorkingDirectory, '/'), stdio: ['ignore', journal, journal] });
        record({ unit: name, event: 'exec-start-pre', argv: words, code: r.status });
        if (r.status !== 0 && !ignoreFailure) throw new Error(`ExecStartPre ${words.join(' ')} exited ${r.status}`);
      }
    } catch (e) {
      record({ unit: name, event: 'failed', error: e.message });
      if (first && restart === 'no') return writeState(name, { state: 'failed', type, error: e.message, runner: process.pid });
      await new Promise((r) => setTimeout(r, restartSec * 1000));
      first = false;
      continue;
    }
    const { words, privileged } = parseExec(last(u.service.ExecStart), env);
    const argv = wrap(u, words, privileged);
    const child = spawn(argv[0], argv.slice(1), { env, cwd: last(u.service.WorkingDirectory, '/'), stdio: ['ignore', journal, journal] });
    const exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', (e) => resolve({ code: 203, signal: null, error: e.message }));
    });
    writeState(name, { state: 'active', type, main: child.pid, runner: process.pid, since: Date.now() });
    record({ unit: name, event: 'running', argv: words, pid: child.pid });
    for (const line of u.service.ExecStartPost ?? []) {
      const p = parseExec(line, env);
      const a = wrap(u, p.words, p.privileged);
      spawnSync(a[0], a.slice(1), { env, stdio: ['ignore', journal, journal] });
    }
    first = false;
    const { code, signal, error } = await exited;
    const st = readState(name);
    record({ unit: name, event: 'exit', code, signal, error });
    if (st.stopping) return writeState(name, { state: 'inactive', type });
    runStopCommands(u, child.pid, ['ExecStopPost']);
    const failed = code !== 0;
    if (restart === 'always' || (restart === 'on-failure' && failed)) {
      writeState(name, { ...st, state: 'active', main: undefined, restarting: true });
      await new Promise((r) => setTimeout(r, restartSec * 1000));
      continue;
    }
    return writeState(name, { state: failed ? 'failed' : 'inactive', type, error: `exited ${code ?? signal}` });
  }
}

function stop(name) {
  const s = readState(name);
  const u = parseUnit(name);
  const running = s.state === 'active' || s.main;
  if (u && running) runStopCommands(u, s.main, ['ExecStop']);
  if (s.runner && alive(s.runner)) {
    writeState(name, { ...s, stopping: true });
    try {
      process.kill(s.runner, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (s.main && alive(s.main)) {
    try {
      process.kill(s.main, 'SIGTERM');
    } catch {
      /* gone */
    }
    // systemd waits for the main process (TimeoutStopSec, 90 s; the lab: 5 s), then SIGKILL.
    const end = Date.now() + 5000;
    while (alive(s.main) && Date.now() < end) spawnSync('sleep', ['0.05']);
    if (alive(s.main)) {
      try {
        process.kill(s.main, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  if (u && running) runStopCommands(u, s.main, ['ExecStopPost']);
  writeState(name, { state: 'inactive', type: s.type });
  record({ unit: name, event: 'stop' });
}

function enable(name) {
  const file = unitFile(name);
  if (!file) throw new Error(`Failed to enable unit: Unit file ${name} does not exist.`);
  fs.mkdirSync(WANTS, { recursive: true });
  const link = path.join(WANTS, name);
  if (!fs.existsSync(link)) fs.symlinkSync(file, link);
  record({ unit: name, event: 'enable' });
}

/** Boot: every enabled unit, in After= order among them (what systemd does for multi-user.target). */
async function labBoot() {
  const enabled = fs.existsSync(WANTS) ? fs.readdirSync(WANTS).filter((n) => n.endsWith('.service')).sort() : [];
  const units = new Map(enabled.map((n) => [n, parseUnit(n)]).filter(([, u]) => u));
  const done = new Set();
  const words = (u, key) => (u.unit[key] ?? []).flatMap((a) => a.split(/\s+/));
  const visit = async (n, stack = []) => {
    if (done.has(n) || stack.includes(n)) return;
    // n starts after what its After= names, and after every unit whose Before= names n.
    const after = [...words(units.get(n), 'After'), ...[...units].filter(([, u]) => words(u, 'Before').includes(n)).map(([m]) => m)].filter((a) => units.has(a));
    for (const a of after) await visit(a, [...stack, n]);
    done.add(n);
    try {
      await start(n);
    } catch (e) {
      record({ unit: n, event: 'failed', error: e.message });
    }
  };
  for (const n of units.keys()) await visit(n);
}

async function main(argv) {
  const args = argv.filter((a) => !a.startsWith('--') || a === '--now');
  const quiet = argv.includes('--quiet') || argv.includes('-q');
  const [verb, ...rest] = args.filter((a) => a !== '--now');
  const units = rest.map(unitName);
  record({ event: 'systemctl', argv });
  switch (verb) {
    case '__run':
      return runUnit(rest[0]);
    case 'daemon-reload':
      return 0;
    case 'enable':
      for (const u of units) enable(u);
      if (argv.includes('--now')) for (const u of units) await start(u);
      return 0;
    case 'disable':
      for (const u of units) fs.rmSync(path.join(WANTS, u), { force: true });
      return 0;
    case 'start':
      for (const u of units) await start(u);
      return 0;
    case 'restart':
      for (const u of units) {
        stop(u);
        await start(u);
      }
      return 0;
    case 'stop':
      for (const u of units) stop(u);
      return 0;
    case 'reload':
    case 'reload-or-restart':
      for (const u of units) {
        const parsed = parseUnit(u);
        const s = readState(u);
        if (!parsed?.service.ExecReload || !s.main) {
          stop(u);
          await start(u);
          continue;
        }
        const env = { ...environmentOf(parsed), MAINPID: String(s.main) };
        for (const line of parsed.service.ExecReload) runSync(parsed, line, env, 'reload');
      }
      return 0;
    case 'is-active': {
      const all = units.every(isActive);
      if (!quiet) for (const u of units) console.log(isActive(u) ? 'active' : readState(u).state);
      return all ? 0 : 3;
    }
    case 'is-enabled': {
      const all = units.every((u) => fs.existsSync(path.join(WANTS, u)));
      if (!quiet) for (const u of units) console.log(fs.existsSync(path.join(WANTS, u)) ? 'enabled' : 'disabled');
      return all ? 0 : 1;
    }
    case 'cat': {
      const f = unitFile(units[0]);
      if (!f) {
        console.error(`No files found for ${units[0]}.`);
        return 1;
      }
      console.log(`# ${f}\n${fs.readFileSync(f, 'utf8')}`);
      return 0;
    }
    case 'list-unit-files': {
      const found = units.filter((u) => unitFile(u));
      for (const u of found) console.log(`${u} ${fs.existsSync(path.join(WANTS, u)) ? 'enabled' : 'disabled'}`);
      return units.length === 0 || found.length > 0 ? 0 : 1;
    }
    case 'lab-boot':
      await labBoot();
      return 0;
    default:
      console.error(`boot lab systemctl: ${verb} is not simulated`);
      record({ event: 'unsupported', argv });
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (e) => {
    console.error(e.message);
    process.exitCode = 1;
  },
);
