import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, Validations, aws_sqs as sqs } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildReferenceSite } from '../bin/site';
import { testApp } from './helpers';

interface Report {
  pluginReports: Array<{ pluginName: string; conclusion: string; violations: Array<{ ruleName: string; severity: string; description: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
}

function synthSite(build: (app: App) => void = (app) => buildReferenceSite(app)): { report: Report; error?: unknown; outdir: string; stacks: string[] } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-'));
  const previous = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'true';
  try {
    const app = testApp({ outdir, builtinCloudFormationValidation: true });
    build(app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let error: unknown;
    try {
      app.synth();
    } catch (e) {
      error = e;
    }
    const reportFile = path.join(outdir, 'validation-report.json');
    const report: Report = fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')) : { pluginReports: [] };
    const stacks = fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
    return { report, error, outdir, stacks };
  } finally {
    process.env.CDK_VALIDATION = previous;
  }
}

describe('the synth checks themselves', () => {
  // A success report is omitted from validation-report.json, so prove the harness would see a failure.
  test('catch a property CloudFormation does not know', () => {
    const bad = synthSite((app) => {
      const queue = new sqs.Queue(new Stack(app, 'Bad'), 'Queue', { enforceSSL: true });
      (queue.node.defaultChild as sqs.CfnQueue).addPropertyOverride('VisibilityTimeoutSecs', 30);
    });
    expect(bad.error).toBeDefined();
    expect(bad.report.pluginReports.flatMap((p) => p.violations.map((v) => v.description)).join('\n')).toMatch(/VisibilityTimeoutSecs/);
  });

  test('catch a cdk-nag finding that nobody acknowledged', () => {
    const bad = synthSite((app) => {
      new sqs.Queue(new Stack(app, 'Unencrypted'), 'Queue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    });
    expect(bad.report.pluginReports.filter((p) => p.pluginName === 'AwsSolutions').flatMap((p) => p.violations.map((v) => v.ruleName))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AwsSolutions-SQS/)]),
    );
  });
});

describe('the reference site', () => {
  const result = synthSite();
  const findings = (plugin: RegExp) =>
    result.report.pluginReports
      .filter((p) => plugin.test(p.pluginName))
      .flatMap((p) => p.violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}: ${v.description}`));

  test('synthesizes every stack with built-in CloudFormation validation on', () => {
    expect(findings(/CloudFormation/).filter((f) => /^(error|fatal)/.test(f))).toEqual([]);
    expect(result.error).toBeUndefined();
    expect(result.stacks.sort()).toEqual(
      ['Addresses', 'App-blue', 'App-green', 'Data', 'Edge', 'Network', 'Workers'].map((s) => `${s}.template.json`),
    );
  });

  test('passes cdk-nag AwsSolutions with every finding fixed or acknowledged', () => {
    expect(findings(/AwsSolutions/)).toEqual([]);
  });

  test('uses every construct of the library', () => {
    const all = result.stacks.map((f) => fs.readFileSync(path.join(result.outdir, f), 'utf8')).join('\n');
    for (const marker of [
      'AWS::AutoScaling::AutoScalingGroup', // MultiAzFleet
      'AWS::CodeDeploy::DeploymentGroup', // MultiAzFleet with CodeDeploy
      'AWS::AutoScaling::ScheduledAction', // scale to zero at night
      'AWS::DynamoDB::Table', // LeaderElection ledger, LaunchLoopGuard state
      'AWS::CloudWatch::Alarm', // LaunchLoopGuard, ReplicatedMysql alarms
      'AWS::RDS::DBInstance', // ReplicatedMysql
      'AWS::Route53::HostedZone', // AddressStack
      'AWS::EC2::EIP', // the edge Elastic IP in AddressStack
      'AWS::SQS::Queue', // QueueWorkerFleet
      'AWS::StepFunctions::StateMachine', // ReplicatedMysql promotion
    ]) {
      expect(all).toContain(marker);
    }
  });

  test('writes no absolute path of this machine into a template', () => {
    for (const file of result.stacks) {
      const text = fs.readFileSync(path.join(result.outdir, file), 'utf8');
      expect(text).not.toContain(path.join(__dirname, '..'));
    }
  });
});
