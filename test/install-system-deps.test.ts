/**
 * scripts/install-system-deps.sh (npm's pretest): quiet when everything is installed, installs what is missing as root,
 * and fails with the apt-get line when not root. Run here on a copy whose package list is replaced, so no test
 * installs anything or depends on what this machine has.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const script = fs.readFileSync(path.join(__dirname, '..', 'scripts', 'install-system-deps.sh'), 'utf8');
const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The script with its REQUIRED list replaced by `entries` ("package:program"). */
function scriptWith(entries: string[]): string {
  const replaced = script.replace(/^REQUIRED="\n[\s\S]*?^"$/m, `REQUIRED="\n${entries.join('\n')}\n"`);
  expect(replaced).not.toEqual(script);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-deps-'));
  tempDirs.push(dir);
  const file = path.join(dir, 'install-system-deps.sh');
  fs.writeFileSync(file, replaced);
  return file;
}

function run(file: string, env: NodeJS.ProcessEnv = {}, asNobody = false) {
  const cmd = asNobody ? 'setpriv' : 'sh';
  const args = asNobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', file] : [file];
  return spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
}

describe('install-system-deps.sh', () => {
  test('lists every package the system tests need, once, in one list', () => {
    const list = /^REQUIRED="\n([\s\S]*?)^"$/m.exec(script)![1].trim().split('\n');
    const packages = list.map((e) => e.split(':')[0]);
    expect(new Set(packages).size).toBe(packages.length);
    expect(packages).toEqual(expect.arrayContaining(['haproxy', 'keepalived', 'mariadb-server', 'iproute2', 'curl', 'shellcheck', 'iptables', 'nftables', 'procps', 'util-linux', 'unzip', 'awscli']));
    for (const entry of list) expect(entry).toMatch(/^[a-z0-9.+-]+:(\/usr\/bin\/)?[A-Za-z0-9._-]+$/);
  });

  test('prints nothing and succeeds when every program is present', () => {
    const r = run(scriptWith(['coreutils:ls', 'dash:sh']));
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
  });

  test('names what is missing (once per package) and would install only that', () => {
    const r = run(scriptWith(['coreutils:ls', 'rf-fake-pkg:rf-no-such-program', 'rf-fake-pkg:rf-no-such-program-2']), { RF_SYSTEM_DEPS_DRY_RUN: '1' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('install-system-deps: would install: rf-fake-pkg');
  });

  test('an absolute program path must be that file: a same-named program elsewhere on PATH does not count', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-deps-shim-'));
    tempDirs.push(dir);
    fs.writeFileSync(path.join(dir, 'rf-shimmed'), '#!/bin/sh\n', { mode: 0o755 });
    const file = scriptWith([`rf-fake-pkg:${path.join(dir, 'absent', 'rf-shimmed')}`, 'rf-other:rf-shimmed']);
    const r = run(file, { RF_SYSTEM_DEPS_DRY_RUN: '1', PATH: `${dir}:${process.env.PATH}` });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('install-system-deps: would install: rf-fake-pkg');
  });

  test('fails when not root and something is missing, with the command that installs it', () => {
    const file = scriptWith(['rf-fake-pkg:rf-no-such-program']);
    fs.chmodSync(path.dirname(file), 0o755);
    const isRoot = process.getuid?.() === 0;
    const r = run(file, {}, isRoot);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not installed: rf-fake-pkg');
    expect(r.stderr).toContain('apt-get update && apt-get install -y --no-install-recommends rf-fake-pkg');
  });

  test('passes shellcheck', () => {
    const r = spawnSync('shellcheck', [path.join(__dirname, '..', 'scripts', 'install-system-deps.sh')], { encoding: 'utf8' });
    // shellcheck is in the script's own list, so `npm test` (its pretest) installs it before jest runs.
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
