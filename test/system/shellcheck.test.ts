import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildReferenceSite } from '../../bin/site';
import { testApp } from '../helpers';
import { assetObjects, launchTemplateBoots } from './boot-lab/user-data';

/**
 * shellcheck over every shell program the reference site ships, as synthesized (nothing re-rendered here):
 * - the user data of every launch template of every stack, read from the template;
 * - every script written by a here-document inside that user data (wrappers, the worker loop, the sample job);
 * - every shell file of the stacks' assets (the failover pair's supervisor, notify and check scripts).
 * Every finding counts, style included.
 */

function shellcheckAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0;
}

interface Script {
  readonly name: string;
  readonly text: string;
}

/** The bodies of here-documents that start with a shell shebang, named after the file they write. */
function heredocScripts(owner: string, script: string): Script[] {
  const out: Script[] = [];
  const re = /cat > (\S+) <<'([A-Z_]+)'\n([\s\S]*?)\n\2\n/g;
  for (let m = re.exec(script); m; m = re.exec(script)) {
    if (/^#!\/bin\/(ba)?sh\b/.test(m[3])) out.push({ name: `${owner} > ${m[1]}`, text: `${m[3]}\n` });
  }
  return out;
}

function shellFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...shellFilesUnder(full));
    else if (entry.name.endsWith('.sh')) out.push(full);
  }
  return out;
}

function shellcheck(text: string, dir: string): string {
  const file = path.join(dir, 'script.sh');
  fs.writeFileSync(file, text);
  const r = spawnSync('shellcheck', ['--severity=style', '--format=gcc', file], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim();
}

describe('shellcheck over the synthesized reference site', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-shellcheck-'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-shellcheck-work-'));
  let userData: Script[] = [];
  let assetScripts: Script[] = [];

  beforeAll(() => {
    if (!shellcheckAvailable()) {
      throw new Error(
        'this test needs shellcheck on PATH. Install: apt-get install -y shellcheck' + (process.env.CI === 'true' ? ' (CI=true: a missing program fails the run)' : ''),
      );
    }
    const app = testApp({ outdir });
    buildReferenceSite(app);
    app.synth();
    const stacks = fs
      .readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => f.replace(/\.template\.json$/, ''));
    userData = stacks.flatMap((stack) => launchTemplateBoots(outdir, stack).map((b) => ({ name: `${stack}/${b.launchTemplateId}`, text: b.script })));
    const dirs = [...new Set([...assetObjects(outdir).values()].map((o) => o.file))].filter((f) => fs.statSync(f).isDirectory());
    assetScripts = dirs.flatMap((d) => shellFilesUnder(d)).map((f) => ({ name: path.relative(outdir, f), text: fs.readFileSync(f, 'utf8') }));
  });

  afterAll(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('finds the user data of every fleet: App copies, Workers and both Edge nodes', () => {
    const owners = userData.map((s) => s.name.split('/')[0]);
    expect(owners.filter((o) => o === 'Edge')).toHaveLength(2);
    expect(owners).toContain('Workers');
    expect(owners.filter((o) => o.startsWith('App-'))).toHaveLength(2);
    for (const s of userData) expect(s.text).toMatch(/^#!\/bin\/bash\n/);
  });

  test('every launch template user data passes shellcheck with no finding', () => {
    const findings = userData.map((s) => ({ name: s.name, out: shellcheck(s.text, work) })).filter((f) => f.out !== '');
    expect(findings).toEqual([]);
  });

  test('every script the user data writes (wrappers, worker loop, sample job) passes shellcheck', () => {
    const scripts = userData.flatMap((s) => heredocScripts(s.name, s.text));
    const names = scripts.map((s) => s.name).join('\n');
    expect(names).toMatch(/Workers\/.* > \/opt\/app\/process-one-job/);
    expect(names).toMatch(/Workers\/.* > \/usr\/local\/bin\/queue-worker-loop/);
    expect(names).toMatch(/App-blue\/.* > \/usr\/local\/bin\/leader-only/);
    const findings = scripts.map((s) => ({ name: s.name, out: shellcheck(s.text, work) })).filter((f) => f.out !== '');
    expect(findings).toEqual([]);
  });

  test("the failover pair's shell files pass shellcheck", () => {
    const names = assetScripts.map((s) => path.basename(s.name));
    expect(names).toEqual(expect.arrayContaining(['haproxy-supervisor.sh', 'check-haproxy.sh']));
    const findings = assetScripts.map((s) => ({ name: s.name, out: shellcheck(s.text, work) })).filter((f) => f.out !== '');
    expect(findings).toEqual([]);
  });
});
