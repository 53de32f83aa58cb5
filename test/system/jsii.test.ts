/**
 * jsii: the public API compiles to a jsii assembly (`npx jsii`, tsconfig.jsii.json, never touching tsconfig.json),
 * API.md is exactly what jsii-docgen makes of that assembly, and jsii-pacmak generates the Python package, which
 * builds into a wheel offline with Debian's pip, setuptools and wheel. examples/python/app.py is checked against the
 * generated package: every class it imports from resilient_fleet exists, and every keyword argument it passes is one
 * the generated constructor or method takes.
 *
 * The build runs in a copy of the package (lib/, assets/, package.json, tsconfig.jsii.json and the docs npm pack
 * ships) in a temporary folder, so neither dist/ nor .jsii of the work tree changes. Slow (jsii about 1 min,
 * pacmak about 1 min on 2 cores): a system test.
 *
 * Needs: python3 with pip, setuptools and wheel (Debian: python3-pip python3-setuptools python3-wheel).
 * What it cannot do here: install the jsii runtime for Python (PyPI only), so app.py is not run; see
 * examples/python/README.md for running it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);
const CONSTRUCTS = ['MultiAzFleet', 'LaunchLoopGuard', 'LeaderElection', 'HaproxyFailoverPair', 'AddressStack', 'AddressReferences', 'DnsRegistrar', 'ReplicatedMysql', 'QueueWorkerFleet'];
const PYTHON_APT = 'apt-get update && apt-get install -y python3 python3-pip python3-setuptools python3-wheel';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION: '1', ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function ok(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = run(cmd, args, cwd, env);
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${r.status}:\n${r.output}`);
  return r.output;
}

/** A python3 on PATH that can build a wheel offline (pip, setuptools and wheel importable), or undefined. */
function wheelCapablePython(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d.length > 0);
  for (const dir of dirs) {
    const candidate = path.join(dir, 'python3');
    if (!fs.existsSync(candidate)) continue;
    if (run(candidate, ['-c', 'import setuptools, wheel, pip'], root).status === 0) return candidate;
  }
  return undefined;
}

/** Reads the generated package and an app with Python's own parser; prints what the app uses that the package lacks. */
const CHECK_APP_PY = String.raw`
import ast, json, sys
package_init, app_file = sys.argv[1], sys.argv[2]
pkg = ast.parse(open(package_init).read())
classes = {}
for node in pkg.body:
    if isinstance(node, ast.ClassDef):
        methods = {}
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                a = item.args
                methods[item.name] = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
        classes[node.name] = methods
app = ast.parse(open(app_file).read())
imported = {}
for node in ast.walk(app):
    if isinstance(node, ast.ImportFrom) and node.module == 'resilient_fleet':
        for alias in node.names:
            imported[alias.asname or alias.name] = alias.name
problems, checked = [], []
for name, real in imported.items():
    if real not in classes:
        problems.append('resilient_fleet has no ' + real)
all_methods = {}
for cls in classes.values():
    for m, params in cls.items():
        all_methods.setdefault(m, set()).update(params)
for node in ast.walk(app):
    if not isinstance(node, ast.Call):
        continue
    keywords = [k.arg for k in node.keywords if k.arg is not None]
    if isinstance(node.func, ast.Name) and node.func.id in imported and imported[node.func.id] in classes:
        params = classes[imported[node.func.id]].get('__init__', [])
        checked.append(imported[node.func.id])
        problems += [imported[node.func.id] + '() takes no ' + k for k in keywords if k not in params]
    elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.attr in all_methods and node.func.value.id not in ('ec2', 'autoscaling', 'cdk', 'super'):
        checked.append(node.func.attr)
        problems += [node.func.attr + '() takes no ' + k for k in keywords if k not in all_methods[node.func.attr]]
print(json.dumps({'imported': sorted(imported.values()), 'checked': sorted(set(checked)), 'problems': problems}))
`;

describe('jsii build, API.md and the Python package', () => {
  let dir: string;
  let jsii: { status: number | null; output: string };

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'assets', 'lambda'))) throw new Error('assets/ is missing: run npm run bundle first (npm test does)');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-jsii-'));
    for (const entry of ['lib', 'assets']) fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
    for (const file of ['package.json', 'tsconfig.jsii.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'API.md']) {
      if (fs.existsSync(path.join(root, file))) fs.copyFileSync(path.join(root, file), path.join(dir, file));
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    jsii = run(bin('jsii'), [], dir);
  }, 10 * 60_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('npx jsii builds the assembly with no error, with every construct and its props struct', () => {
    expect(jsii.output).not.toMatch(/error JSII\d+/);
    expect(jsii.status).toBe(0);
    const assembly = JSON.parse(fs.readFileSync(path.join(dir, '.jsii'), 'utf8')) as {
      name: string;
      targets: { python: { module: string; distName: string } };
      types: Record<string, { kind: string; datatype?: boolean }>;
    };
    expect(assembly.name).toBe('resilient-fleet');
    expect(assembly.targets.python).toEqual({ module: 'resilient_fleet', distName: 'resilient-fleet' });
    for (const name of CONSTRUCTS) {
      expect(assembly.types[`resilient-fleet.${name}`]?.kind).toBe('class');
      expect(assembly.types[`resilient-fleet.${name}Props`]).toMatchObject({ kind: 'interface', datatype: true });
    }
    // The jest serializer is a TypeScript-only subpath export, outside the assembly.
    expect(Object.keys(assembly.types).some((t) => /serializer/i.test(t))).toBe(false);
    // jsii compiled with tsconfig.jsii.json: the work tree's tsconfig.json is the developers' own, never rewritten.
    expect(fs.existsSync(path.join(dir, 'tsconfig.json'))).toBe(false);
  });

  test('API.md is what jsii-docgen generates from the assembly (regenerate: npm run build:jsii && npm run docgen)', () => {
    expect(jsii.status).toBe(0);
    const fresh = path.join(dir, 'API.fresh.md');
    ok(bin('jsii-docgen'), ['-o', fresh], dir);
    const generated = fs.readFileSync(fresh, 'utf8');
    expect(generated).toContain('### MultiAzFleet');
    const committed = fs.existsSync(path.join(root, 'API.md')) ? fs.readFileSync(path.join(root, 'API.md'), 'utf8') : '(API.md is missing)';
    if (committed !== generated) {
      throw new Error('API.md is not current with the public API: run `npm run build:jsii && npm run docgen` and commit API.md');
    }
  }, 5 * 60_000);

  describe('jsii-pacmak -t python', () => {
    let pkg: string;

    beforeAll(() => {
      expect(jsii.status).toBe(0);
      // --code-only: the Python sources and the embedded npm tarball. Its full build pip-installs setuptools, build and
      // twine from PyPI into a venv, which this machine cannot reach; the wheel is built below from Debian's packages.
      // npm pack inside pacmak must not run prepack (a full build) in this copy: the copy is already compiled.
      ok(bin('jsii-pacmak'), ['-t', 'python', '--code-only', '--no-npmignore', '-o', path.join(dir, 'dist-py')], dir, { npm_config_ignore_scripts: 'true' });
      pkg = path.join(dir, 'dist-py', 'python');
    }, 10 * 60_000);

    test('generates the resilient_fleet Python package with every construct and the library tarball', () => {
      const init = fs.readFileSync(path.join(pkg, 'src', 'resilient_fleet', '__init__.py'), 'utf8');
      for (const name of CONSTRUCTS) expect(init).toMatch(new RegExp(`^class ${name}\\(`, 'm'));
      expect(init).toMatch(/def __init__\(\s*self,\s*scope: "?_constructs_77d1e7e8\.Construct"?,\s*id: builtins\.str,\s*\*,\s*vpc:/);
      const setup = fs.readFileSync(path.join(pkg, 'setup.py'), 'utf8');
      expect(setup).toContain('"name": "resilient-fleet"');
      expect(setup).toMatch(/"aws-cdk-lib>=2\.276\.0, <3\.0\.0"/);
      const tarball = fs.readdirSync(path.join(pkg, 'src', 'resilient_fleet', '_jsii')).find((f) => f.endsWith('.jsii.tgz'));
      expect(tarball).toBe('resilient-fleet@0.1.0.jsii.tgz');
      const listing = ok('tar', ['tzf', path.join(pkg, 'src', 'resilient_fleet', '_jsii', tarball!)], dir).split('\n');
      // The Python package runs the JavaScript library: it must carry the assembly, the code and the prebuilt hook bundles.
      expect(listing).toEqual(expect.arrayContaining(['package/.jsii', 'package/dist/lib/index.js', 'package/assets/lambda/leader/index.mjs']));
    });

    test('the generated package builds into a wheel offline (no PyPI)', () => {
      const python = wheelCapablePython();
      if (!python) throw new Error(`no python3 with pip, setuptools and wheel on PATH. Install: ${PYTHON_APT}`);
      const out = path.join(dir, 'wheels');
      ok(python, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-w', out, pkg], dir);
      const wheel = fs.readdirSync(out).find((f) => f.endsWith('.whl'));
      expect(wheel).toBe('resilient_fleet-0.1.0-py3-none-any.whl');
      const names = ok(python, ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', path.join(out, wheel!)], dir).split('\n');
      expect(names).toEqual(expect.arrayContaining(['resilient_fleet/__init__.py', 'resilient_fleet/_jsii/resilient-fleet@0.1.0.jsii.tgz', 'resilient_fleet/py.typed']));
    }, 5 * 60_000);

    test('examples/python/app.py compiles and uses only classes and keyword arguments the generated package has', () => {
      const python = wheelCapablePython();
      if (!python) throw new Error(`no python3 with pip, setuptools and wheel on PATH. Install: ${PYTHON_APT}`);
      const app = path.join(root, 'examples', 'python', 'app.py');
      ok(python, ['-c', 'import ast, sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")', app], dir);
      const report = JSON.parse(ok(python, ['-c', CHECK_APP_PY, path.join(pkg, 'src', 'resilient_fleet', '__init__.py'), app], dir)) as { imported: string[]; checked: string[]; problems: string[] };
      expect(report.problems).toEqual([]);
      expect(report.imported).toEqual(['FleetScheduledCapacity', 'MultiAzFleet', 'ReplicatedMysql']);
      expect(report.checked).toEqual(expect.arrayContaining(['FleetScheduledCapacity', 'MultiAzFleet', 'ReplicatedMysql', 'add_user_data', 'guard_launch_loops']));
    });

    test('the app check notices a keyword argument the package does not take', () => {
      const python = wheelCapablePython();
      if (!python) throw new Error(`no python3 with pip, setuptools and wheel on PATH. Install: ${PYTHON_APT}`);
      const bad = path.join(dir, 'bad_app.py');
      fs.writeFileSync(bad, 'from resilient_fleet import MultiAzFleet, NoSuchThing\nMultiAzFleet(None, "F", vpc=None, machine_imag=None)\n');
      const report = JSON.parse(ok(python, ['-c', CHECK_APP_PY, path.join(pkg, 'src', 'resilient_fleet', '__init__.py'), bad], dir)) as { problems: string[] };
      expect(report.problems).toEqual(['resilient_fleet has no NoSuchThing', 'MultiAzFleet() takes no machine_imag']);
    });
  });
});
