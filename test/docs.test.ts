/**
 * The docs' code is real code: every example app in examples/ synthesizes with no credentials, and every TypeScript
 * block in README.md and docs/ is an examples/ file quoted verbatim, or an excerpt of one (so it is compiled with it:
 * `npm run typecheck` runs `tsc --strict` over examples/, and test/system/npm-pack.test.ts compiles and synthesizes
 * the same files against the packed package with the CDK CLI).
 *
 * Here the examples run in-process against lib/ (the name 'resilient-fleet' is aliased to the sources below), with
 * exactly the environment the CDK CLI gives an app: CDK_OUTDIR, and CDK_CONTEXT_JSON from examples/cdk.context.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The examples import the package by its published name; inside this repository that name is the source in lib/.
jest.mock('resilient-fleet', () => jest.requireActual('../lib'), { virtual: true });

const root = path.join(__dirname, '..');
const examplesDir = path.join(root, 'examples');
const exampleFiles = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.ts')).sort();

/** What each example must synthesize: its stacks, and resource types that prove the construct is in them. */
const EXPECTED: Record<string, { stacks: string[]; types: string[] }> = {
  'multi-az-fleet.ts': { stacks: ['WebFleet'], types: ['AWS::AutoScaling::AutoScalingGroup', 'AWS::EC2::LaunchTemplate', 'AWS::CodeDeploy::DeploymentGroup', 'AWS::AutoScaling::ScheduledAction'] },
  'launch-loop-guard.ts': { stacks: ['GuardedFleet'], types: ['AWS::Lambda::Function', 'AWS::DynamoDB::Table', 'AWS::CloudWatch::Alarm', 'AWS::SNS::Subscription'] },
  'leader-election.ts': { stacks: ['AppWithLeader'], types: ['AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'AWS::AutoScaling::AutoScalingGroup'] },
  'haproxy-failover-pair.ts': { stacks: ['TcpEdge'], types: ['AWS::EC2::EIP', 'AWS::EC2::SecurityGroupIngress', 'AWS::AutoScaling::AutoScalingGroup'] },
  'address-stack.ts': { stacks: ['Network', 'Addresses', 'App-blue', 'App-green'], types: ['AWS::Route53::HostedZone', 'AWS::Route53::RecordSet', 'AWS::EC2::EIP', 'AWS::SSM::Parameter', 'AWS::Lambda::Function'] },
  'replicated-mysql.ts': { stacks: ['Database'], types: ['AWS::RDS::DBInstance', 'AWS::RDS::DBSubnetGroup', 'AWS::StepFunctions::StateMachine', 'AWS::Route53::RecordSet'] },
  'queue-worker-fleet.ts': { stacks: ['Workers'], types: ['AWS::SQS::Queue', 'AWS::AutoScaling::ScalingPolicy', 'AWS::AutoScaling::AutoScalingGroup'] },
  'reference-site.ts': { stacks: ['Network', 'Addresses', 'Data', 'App-blue', 'App-green', 'Edge', 'Workers'], types: ['AWS::RDS::DBInstance', 'AWS::EC2::EIP', 'AWS::SQS::Queue', 'AWS::DynamoDB::Table', 'AWS::Route53::HostedZone'] },
};

interface Manifest {
  artifacts: Record<string, { type: string; properties?: { templateFile?: string }; environment?: string }>;
  missing?: unknown[];
}

type Assembly = { manifest: Manifest; templates: Record<string, { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> }> };
const synthesized = new Map<string, Assembly>();

/** Runs an example once, the way `cdk synth --app "npx tsx examples/<file>"` would, and returns its cloud assembly. */
function synthExample(file: string): Assembly {
  if (!synthesized.has(file)) synthesized.set(file, runExample(file));
  return synthesized.get(file)!;
}

function runExample(file: string): { manifest: Manifest; templates: Record<string, { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> }> } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-example-'));
  const saved = { out: process.env.CDK_OUTDIR, ctx: process.env.CDK_CONTEXT_JSON };
  process.env.CDK_OUTDIR = outdir;
  process.env.CDK_CONTEXT_JSON = fs.readFileSync(path.join(examplesDir, 'cdk.context.json'), 'utf8');
  try {
    require(path.join(examplesDir, file)); // the example's own app.synth() writes to CDK_OUTDIR
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as Manifest;
    const templates: Record<string, { Resources: Record<string, { Type: string }> }> = {};
    for (const [id, artifact] of Object.entries(manifest.artifacts)) {
      if (artifact.type === 'aws:cloudformation:stack') {
        templates[id] = JSON.parse(fs.readFileSync(path.join(outdir, artifact.properties!.templateFile!), 'utf8'));
      }
    }
    return { manifest, templates };
  } finally {
    if (saved.out === undefined) delete process.env.CDK_OUTDIR;
    else process.env.CDK_OUTDIR = saved.out;
    if (saved.ctx === undefined) delete process.env.CDK_CONTEXT_JSON;
    else process.env.CDK_CONTEXT_JSON = saved.ctx;
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

describe('examples/', () => {
  test('has one app per construct and the reference site, and nothing this test does not check', () => {
    expect(exampleFiles).toEqual(Object.keys(EXPECTED).sort());
  });

  test.each(exampleFiles)('%s synthesizes with no credentials and no missing context', (file) => {
    const { manifest, templates } = synthExample(file);
    // A lookup the context does not answer would show up here (and make the CLI call AWS).
    expect(manifest.missing ?? []).toEqual([]);
    expect(Object.keys(templates).sort()).toEqual([...EXPECTED[file].stacks].sort());
    const types = new Set(Object.values(templates).flatMap((t) => Object.values(t.Resources).map((r) => r.Type)));
    for (const type of EXPECTED[file].types) expect([...types]).toContain(type);
  });

  test('the ReplicatedMysql example on an ordinary VPC puts its databases in the private subnets it chose', () => {
    const { templates } = synthExample('replicated-mysql.ts');
    const resources = Object.entries(templates.Database.Resources);
    const privateSubnets = resources.filter(([id, r]) => r.Type === 'AWS::EC2::Subnet' && id.startsWith('VpcPrivate')).map(([id]) => id);
    expect(privateSubnets.length).toBeGreaterThanOrEqual(2);
    const subnetGroups = resources.filter(([, r]) => r.Type === 'AWS::RDS::DBSubnetGroup').map(([, r]) => r.Properties!.SubnetIds as Array<{ Ref: string }>);
    expect(subnetGroups.length).toBeGreaterThan(0);
    for (const ids of subnetGroups) expect(ids.map((i) => i.Ref).sort()).toEqual(privateSubnets.sort());
  });

  test('every example names itself on its first line, as the docs quote it', () => {
    for (const file of exampleFiles) {
      expect(fs.readFileSync(path.join(examplesDir, file), 'utf8').split('\n')[0]).toMatch(new RegExp(`^// examples/${file.replace('.', '\\.')}[: ]`));
    }
  });
});

/** Markdown files users read: the README and every page under docs/. */
function markdownFiles(): string[] {
  const files = [path.join(root, 'README.md')];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.md')) files.push(p);
    }
  };
  walk(path.join(root, 'docs'));
  return files;
}

/** Fenced code blocks of a Markdown text, with their info string (language). */
function codeBlocks(markdown: string): Array<{ lang: string; code: string; line: number }> {
  const blocks: Array<{ lang: string; code: string; line: number }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++]);
    blocks.push({ lang: open[3].toLowerCase(), code: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}

/**
 * Why a TypeScript block is not real code, or undefined when it is: the block's first line names its examples/ file;
 * the block is the whole file, or (first line ending in "(excerpt)") consecutive lines of it.
 */
function blockProblem(code: string, readExample: (file: string) => string | undefined): string | undefined {
  const [first, ...rest] = code.split('\n');
  const m = /^\/\/ (examples\/[\w./-]+\.ts)( \(excerpt\))?/.exec(first);
  if (!m) return 'its first line must name the examples/ file it comes from: "// examples/<file>.ts" (whole file) or "// examples/<file>.ts (excerpt)"';
  const source = readExample(m[1]);
  if (source === undefined) return `it names ${m[1]}, which does not exist`;
  const norm = (s: string) => s.replace(/\s+$/gm, '').replace(/\n+$/, '');
  if (!m[2]) return norm(code) === norm(source) ? undefined : `it is not ${m[1]} verbatim: paste the file again, or mark the block "(excerpt)"`;
  const excerpt = norm(rest.join('\n'));
  if (excerpt.length === 0) return 'the excerpt is empty';
  return `\n${norm(source)}\n`.includes(`\n${excerpt}\n`) ? undefined : `its lines are not consecutive lines of ${m[1]}: copy them from the file`;
}

describe('README.md and docs/', () => {
  const readExample = (rel: string) => {
    const file = path.join(root, rel);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  };

  test('every TypeScript block is an examples/ file quoted verbatim or an excerpt of one', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of markdownFiles()) {
      for (const block of codeBlocks(fs.readFileSync(file, 'utf8'))) {
        if (!['ts', 'typescript', 'tsx'].includes(block.lang)) continue;
        checked++;
        const problem = blockProblem(block.code, readExample);
        if (problem) problems.push(`${path.relative(root, file)}:${block.line}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(exampleFiles.length);
  });

  test('every example app is quoted whole somewhere in the docs', () => {
    const all = markdownFiles().map((f) => fs.readFileSync(f, 'utf8'));
    const quoted = new Set<string>();
    for (const text of all) {
      for (const b of codeBlocks(text)) {
        const m = /^\/\/ (examples\/[\w./-]+\.ts)(?! \(excerpt\))/.exec(b.code);
        if (m && blockProblem(b.code, readExample) === undefined) quoted.add(m[1]);
      }
    }
    const testFiles = fs.readdirSync(path.join(examplesDir, 'test')).filter((f) => f.endsWith('.ts')).map((f) => `test/${f}`);
    expect([...quoted].sort()).toEqual([...exampleFiles, ...testFiles].map((f) => `examples/${f}`).sort());
  });

  test('the README\'s jest.config.js is examples/jest.config.js verbatim, with the TypeScript transform', () => {
    const config = fs.readFileSync(path.join(examplesDir, 'jest.config.js'), 'utf8');
    const blocks = codeBlocks(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).filter((b) => b.lang === 'js' && b.code.startsWith('// jest.config.js'));
    expect(blocks.map((b) => b.code.trimEnd())).toEqual([config.trimEnd()]);
    // Pasted as a whole file, it must still compile TypeScript tests and load the serializer by its published name.
    const loaded = require(path.join(examplesDir, 'jest.config.js')) as { transform: Record<string, unknown>; snapshotSerializers: string[] };
    expect(Object.keys(loaded.transform).some((pattern) => new RegExp(pattern).test('test/app.test.ts'))).toBe(true);
    expect(loaded.snapshotSerializers).toEqual(['resilient-fleet/jest-serializer']);
  });

  test('every relative link points at a file that exists', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\]\((?!https?:|#|mailto:)([^)\s#]+)(#[^)]*)?\)/g)) {
        if (!fs.existsSync(path.join(path.dirname(file), m[1]))) broken.push(`${path.relative(root, file)}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('the checker rejects a block that is neither the file nor an excerpt of it', () => {
    const source = '// examples/x.ts: demo\nconst a = 1;\nconst b = 2;\nconst c = 3;\n';
    const read = (f: string) => (f === 'examples/x.ts' ? source : undefined);
    expect(blockProblem(source, read)).toBeUndefined();
    expect(blockProblem('// examples/x.ts (excerpt)\nconst b = 2;\nconst c = 3;', read)).toBeUndefined();
    expect(blockProblem('// examples/x.ts (excerpt)\nconst a = 1;\nconst c = 3;', read)).toMatch(/not consecutive/);
    expect(blockProblem('// examples/x.ts: demo\nconst a = 1;', read)).toMatch(/not examples\/x.ts verbatim/);
    expect(blockProblem('const a = 1;', read)).toMatch(/first line must name/);
    expect(blockProblem('// examples/y.ts', read)).toMatch(/does not exist/);
  });
});
