/**
 * Acceptance: the user's path, with what the package really ships (files, exports, prebuilt bundles), not the source tree.
 *
 * `npm pack` builds the tarball (prepack); a new app made by the CDK CLI's own `cdk init app --language typescript`
 * installs it; every file of examples/ is copied into the app; `tsc --strict --noEmit` compiles them against the
 * installed package, and `cdk synth` (the CLI, with no AWS credentials) synthesizes each example app. The README's
 * jest.config.js and snapshot test then run in that app with its own jest.
 *
 * Needs the npm registry or npm's cache for the packages `cdk init` lists (jest, @swc/jest, typescript, tsx).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');
const examplesDir = path.join(root, 'examples');
const cdkCli = path.join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk');

/** The environment of a user with no AWS account configured at all. */
function noCredentialsEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'CDK_VALIDATION', 'CDK_OUTDIR', 'CDK_CONTEXT_JSON']) {
    delete env[k];
  }
  env.AWS_CONFIG_FILE = path.join(home, 'no-aws-config');
  env.AWS_SHARED_CREDENTIALS_FILE = path.join(home, 'no-aws-credentials');
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${path.basename(cwd)}:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)).map((f) => path.join(e.name, f)) : [e.name],
  );
}

const exampleApps = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.ts')).sort();

describe('the packed library in a new `cdk init` app', () => {
  let dir: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let installOutput: string;
  let shipped: string[];
  let shippedPackage: { scripts?: Record<string, string> };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-consumer-'));
    env = noCredentialsEnv(dir);
    // The tarball is what `npm publish` would upload; prepack (bundle + compile) runs as part of npm pack.
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], root);
    // prepack's own output comes first on stdout; the JSON report is the last thing printed.
    const packed = JSON.parse(out.slice(out.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = path.join(dir, packed[0].filename);
    shipped = packed[0].files.map((f) => f.path);
    run('tar', ['-xzf', tarball, '-C', dir, 'package/package.json'], dir);
    shippedPackage = JSON.parse(fs.readFileSync(path.join(dir, 'package', 'package.json'), 'utf8'));

    // The user's path: the CLI's own template, then the package from the tarball.
    app = path.join(dir, 'app');
    fs.mkdirSync(app);
    run('node', [cdkCli, 'init', 'app', '--language', 'typescript', '--generate-only'], app, env);
    const pkgFile = path.join(app, 'package.json');
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
    const ownPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    pkg.dependencies['resilient-fleet'] = `file:${tarball}`;
    // The aws-cdk-lib this repository tests with (within the peer range), so npm's cache usually has it.
    pkg.dependencies['aws-cdk-lib'] = ownPkg.devDependencies['aws-cdk-lib'];
    fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
    installOutput = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'warn'], app, env);

    // Every file of examples/: the apps into examples/, the snapshot test into test/, the jest config and the
    // AZ-lookup context (for the reference site's fixed env) next to cdk.json, as the README tells users to.
    for (const rel of filesUnder(examplesDir)) {
      const target = path.join(app, 'examples', rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(path.join(examplesDir, rel), target);
    }
    fs.copyFileSync(path.join(examplesDir, 'cdk.context.json'), path.join(app, 'cdk.context.json'));
    fs.copyFileSync(path.join(examplesDir, 'jest.config.js'), path.join(app, 'jest.config.js'));
    for (const f of fs.readdirSync(path.join(examplesDir, 'test'))) fs.copyFileSync(path.join(examplesDir, 'test', f), path.join(app, 'test', f));
    // examples/tsconfig.json maps the package name to this repository's sources; in the user's app the installed
    // package must be what the examples compile against, so the app's own tsconfig.json (from cdk init) is used.
    fs.rmSync(path.join(app, 'examples', 'tsconfig.json'));
  }, 15 * 60_000);

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('ships the compiled library, prebuilt bundles, LICENSE and CHANGELOG, and no install script', () => {
    expect(shipped).toEqual(expect.arrayContaining(['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/testing/asset-hash-serializer.js', 'LICENSE', 'CHANGELOG.md', 'README.md']));
    expect(shipped.some((f) => f.startsWith('assets/lambda/launch-loop/'))).toBe(true);
    expect(shipped.some((f) => f.startsWith('test/') || f.startsWith('lambda/') || f.startsWith('examples/'))).toBe(false);
    // prepare/install scripts run (or await approval) in every consumer's install; the build is prepack only.
    for (const script of ['prepare', 'preinstall', 'install', 'postinstall']) expect(shippedPackage.scripts?.[script]).toBeUndefined();
    expect(installOutput).not.toMatch(/resilient-fleet.*(prepare|install scripts)|install-scripts/);
  });

  test('every example compiles with tsc --strict against the installed package', () => {
    const names = filesUnder(path.join(app, 'examples')).filter((f) => f.endsWith('.ts'));
    expect(names.length).toBeGreaterThanOrEqual(exampleApps.length + 1);
    run('npx', ['tsc', '--strict', '--noEmit', '-p', '.'], app, env);
  }, 5 * 60_000);

  test.each(exampleApps)('cdk synth of examples/%s succeeds with no credentials', (file) => {
    const outdir = `cdk.out.${file.replace(/\.ts$/, '')}`;
    run('npx', ['cdk', 'synth', '--app', `npx tsx examples/${file}`, '--output', outdir, '--quiet'], app, env);
    const manifest = JSON.parse(fs.readFileSync(path.join(app, outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
      missing?: unknown[];
    };
    expect(manifest.missing ?? []).toEqual([]);
    const stacks = Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack');
    expect(stacks.length).toBeGreaterThanOrEqual(file === 'reference-site.ts' ? 7 : 1);
    for (const stack of stacks) {
      const template = JSON.parse(fs.readFileSync(path.join(app, outdir, stack.properties!.templateFile!), 'utf8'));
      expect(Object.keys(template.Resources ?? {}).length).toBeGreaterThan(0);
    }
  }, 5 * 60_000);

  test('the runbook\'s offline review works with no credentials: cdk diff STACK --template FILE --exclusively', () => {
    // As in docs/addressing.md: the template kept from the last deploy, against the app as it is now. Here the kept
    // copy is the synthesized one with the blue/green weights swapped, so the diff has exactly that to show.
    const outdir = path.join(app, 'cdk.out.address-stack');
    const template = JSON.parse(fs.readFileSync(path.join(outdir, 'Addresses.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: { Weight?: number } }> };
    const weighted = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Route53::RecordSet' && r.Properties.Weight !== undefined);
    expect(weighted.length).toBeGreaterThan(0);
    for (const r of weighted) r.Properties.Weight = 100 - r.Properties.Weight!;
    const deployed = path.join(dir, 'Addresses.deployed.json');
    fs.writeFileSync(deployed, JSON.stringify(template));
    const diff = spawnSync('npx', ['cdk', 'diff', 'Addresses', '--template', deployed, '--exclusively', '--app', outdir], { cwd: app, env, encoding: 'utf8' });
    const out = `${diff.stdout}${diff.stderr}`;
    // Without --fail, cdk diff exits 0 when it could compare, differences or not.
    expect({ status: diff.status, out }).toEqual({ status: 0, out: expect.stringContaining('Weight') });
    expect(out).not.toMatch(/credentials/i);
  }, 5 * 60_000);

  test('the README\'s jest.config.js runs the snapshot test with the TypeScript transform and masks asset hashes', () => {
    run('npx', ['jest', '--ci=false', 'test/web-fleet.test.ts'], app, env);
    const snapshot = fs.readFileSync(path.join(app, 'test', '__snapshots__', 'web-fleet.test.ts.snap'), 'utf8');
    expect(snapshot).toContain('[ASSET HASH]');
    expect(snapshot).not.toMatch(/[0-9a-f]{64}/);
    // The serializer is importable by its documented name.
    const serializer = run('node', ['-e', "const s=require('resilient-fleet/jest-serializer');console.log(typeof s.test, typeof s.serialize)"], app, env);
    expect(serializer.trim()).toBe('function function');
  }, 5 * 60_000);
});
