/**
 * Acceptance: a new CDK app in an empty folder installs the output of `npm pack`, imports MultiAzFleet the way
 * the README shows, and synthesizes. This checks what the package really ships (files, exports, prebuilt
 * bundles), not the source tree.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' } });

const README_EXAMPLE = `
const { App, Stack, aws_ec2: ec2 } = require('aws-cdk-lib');
const { MultiAzFleet } = require('resilient-fleet');

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'MyApp', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
const fleet = new MultiAzFleet(stack, 'Web', {
  vpc,
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
  codeDeploy: true,
});
fleet.addUserData('dnf install -y nginx', 'systemctl enable --now nginx');
fleet.guardLaunchLoops();
app.synth();
`;

describe('the packed library in a new CDK app', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-consumer-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('installs from the npm pack tarball, imports MultiAzFleet and synthesizes', () => {
    // The tarball is what `npm publish` would upload; prepare (bundle + compile) runs as part of npm pack.
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], root);
    // prepare's own output comes first on stdout; the JSON report is the last thing printed.
    const packed = JSON.parse(out.slice(out.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = path.join(dir, packed[0].filename);
    const shipped = packed[0].files.map((f) => f.path);
    expect(shipped).toContain('dist/lib/index.js');
    expect(shipped).toContain('dist/lib/testing/asset-hash-serializer.js');
    expect(shipped.some((f) => f.startsWith('assets/lambda/launch-loop/'))).toBe(true);
    expect(shipped.some((f) => f.startsWith('test/') || f.startsWith('lambda/'))).toBe(false);

    const ownPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        dependencies: {
          'resilient-fleet': `file:${tarball}`,
          'aws-cdk-lib': ownPkg.devDependencies['aws-cdk-lib'],
          constructs: ownPkg.devDependencies.constructs,
        },
      }),
    );
    fs.writeFileSync(path.join(app, 'app.js'), README_EXAMPLE);
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], app);
    run('node', ['app.js'], app);

    const template = JSON.parse(fs.readFileSync(path.join(app, 'cdk.out', 'MyApp.template.json'), 'utf8'));
    const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(types).toEqual(expect.arrayContaining(['AWS::AutoScaling::AutoScalingGroup', 'AWS::CodeDeploy::DeploymentGroup', 'AWS::Lambda::Function']));
    // The serializer is importable by its documented name.
    const serializer = run('node', ['-e', "const s=require('resilient-fleet/jest-serializer');console.log(typeof s.test, typeof s.serialize)"], app);
    expect(serializer.trim()).toBe('function function');
  });
});
