import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, Stack, Validations, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LaunchLoopCircuitBreaker, LaunchLoopGuard, LaunchLoopGuardProps, MultiAzFleet } from '../../lib';
import { TEST_AMI, importedVpc, testApp, testStack } from '../helpers';
import { expectDeadLettersOf } from '../dead-letter-assertions';

const GROUP = 'my-app-asg';

function build(extra: Partial<LaunchLoopGuardProps> = {}, stack: Stack = testStack()) {
  const group = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', GROUP);
  const guard = new LaunchLoopGuard(stack, 'Guard', { autoScalingGroup: group, ...extra });
  return { stack, guard, template: () => Template.fromStack(stack) };
}

function hookEnv(t: Template): Record<string, unknown> {
  const fns = t.findResources('AWS::Lambda::Function');
  const fn = Object.values(fns)[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return fn.Properties.Environment.Variables;
}

function hookStatements(t: Template): Array<{ Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  const policies = t.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([id]) => id.startsWith('GuardHook'))
    .flatMap(([, p]) => (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement);
}
const actionsOf = (t: Template) => hookStatements(t).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

function nagFindings(build: (stack: Stack) => void): string[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-loop-nag-'));
  const app = testApp({ outdir });
  build(testStack(app));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
  };
  return report.pluginReports
    .flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)))
    .filter((f) => f.startsWith('AwsSolutions'));
}

describe('LaunchLoopGuard defaults', () => {
  const { template, stack } = build();
  const t = template();

  test('follows the group\'s launch and terminate events, successful and not, and lifecycle actions', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance Launch Successful', 'EC2 Instance Launch Unsuccessful', 'EC2 Instance Terminate Successful'],
        detail: { AutoScalingGroupName: [GROUP] },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 8 }, DeadLetterConfig: Match.anyValue() })],
    });
    t.resourceCountIs('AWS::Events::Rule', 1); // no deployment group, no CodeDeploy rule
  });

  test('configures the hook with 3 short-lived launches in 30 minutes, 20 minutes short-lived, suspend Launch', () => {
    expect(hookEnv(t)).toMatchObject({
      GROUP_NAME: GROUP,
      THRESHOLD: '3',
      WINDOW_SECONDS: '1800',
      SHORT_LIVED_SECONDS: '1200',
      CIRCUIT_BREAKER: 'SUSPEND_LAUNCH',
      METRIC_NAMESPACE: 'ResilientFleet/LaunchLoop',
      CONSOLE_OUTPUT_LINES: '40',
      DEPLOYMENT_GROUP_NAME: '',
    });
    t.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 120 });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: Match.anyValue() } });
  });

  test('keeps state in an encrypted table with a TTL and point-in-time recovery', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'group', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  test('creates a KMS-encrypted, TLS-only topic with a rotating key that CloudWatch alarms may use', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GuardKey'), 'Arn'] } });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
  });

  test('alarms on short-lived launches in the window at the threshold, to the topic', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'ResilientFleet/LaunchLoop',
      MetricName: 'ShortLivedLaunchesInWindow',
      Dimensions: [{ Name: 'AutoScalingGroupName', Value: GROUP }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 3,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^GuardTopic') }],
    });
  });

  test('grants the hook only the group, its instances by tag, one metric namespace and its own table', () => {
    const s = hookStatements(t);
    expect(s).toContainEqual({
      Sid: 'CircuitBreaker',
      Effect: 'Allow',
      Action: 'autoscaling:SuspendProcesses',
      Resource: `arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/${GROUP}`,
    });
    expect(s).toContainEqual({
      Sid: 'ConsoleOutputOfTheGroupsInstances',
      Effect: 'Allow',
      Action: 'ec2:GetConsoleOutput',
      Resource: 'arn:aws:ec2:eu-west-1:123456789012:instance/*',
      Condition: { StringEquals: { 'ec2:ResourceTag/aws:autoscaling:groupName': GROUP } },
    });
    expect(s).toContainEqual(
      expect.objectContaining({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': 'ResilientFleet/LaunchLoop' } } }),
    );
    expect(s).toContainEqual(expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem'] }));
    expect(s).toContainEqual(expect.objectContaining({ Action: 'autoscaling:DescribeScalingActivities', Resource: '*' }));
    expect(actionsOf(t)).not.toContain('autoscaling:UpdateAutoScalingGroup');
    expect(actionsOf(t)).not.toContain('codedeploy:GetDeployment');
  });

  test('matches the snapshot', () => {
    expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
  });
});

describe('LaunchLoopGuard props', () => {
  test('shortLivedLaunches, window and shortLivedTime set the detector and the alarm', () => {
    const t = build({ shortLivedLaunches: 5, window: Duration.hours(1), shortLivedTime: Duration.minutes(10) }).template();
    expect(hookEnv(t)).toMatchObject({ THRESHOLD: '5', WINDOW_SECONDS: '3600', SHORT_LIVED_SECONDS: '600' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 5, AlarmDescription: Match.stringLikeRegexp('5 or more .* 60 minutes') });
  });

  test('circuitBreaker HOLD_CAPACITY may update and describe the group, not suspend it', () => {
    const t = build({ circuitBreaker: LaunchLoopCircuitBreaker.HOLD_CAPACITY }).template();
    expect(hookEnv(t).CIRCUIT_BREAKER).toBe('HOLD_CAPACITY');
    expect(hookStatements(t)).toContainEqual(expect.objectContaining({ Action: 'autoscaling:UpdateAutoScalingGroup', Resource: expect.stringContaining(`autoScalingGroupName/${GROUP}`) }));
    expect(actionsOf(t)).toContain('autoscaling:DescribeAutoScalingGroups');
    expect(actionsOf(t)).not.toContain('autoscaling:SuspendProcesses');
  });

  test('circuitBreaker OFF changes nothing in the group and warns', () => {
    const { stack, template } = build({ circuitBreaker: LaunchLoopCircuitBreaker.OFF });
    expect(actionsOf(template())).not.toContain('autoscaling:SuspendProcesses');
    expect(actionsOf(template())).not.toContain('autoscaling:UpdateAutoScalingGroup');
    Annotations.fromStack(stack).hasWarning('/Test/Guard', Match.stringLikeRegexp('circuitBreaker is OFF'));
  });

  test('topic: the user\'s own topic (and its key) instead of a new one', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'TeamKey', { enableKeyRotation: true });
    const topic = new sns.Topic(stack, 'Pager', { masterKey: key, enforceSSL: true });
    const { guard, template } = build({ topic }, stack);
    const t = template();
    expect(guard.topic).toBe(topic);
    t.resourceCountIs('AWS::SNS::Topic', 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('^Pager') }] });
    expect(hookStatements(t)).toContainEqual(expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: expect.stringMatching(/^Pager/) } }));
    expect(hookStatements(t)).toContainEqual(
      expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TeamKey/), 'Arn'] } }),
    );
  });

  test('encryptionKey encrypts the table and the new topic; an imported key draws a warning about CloudWatch', () => {
    const stack = testStack();
    const key = kms.Key.fromKeyArn(stack, 'Imported', 'arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666');
    const { template } = build({ encryptionKey: key }, stack);
    const t = template();
    t.resourceCountIs('AWS::KMS::Key', 0);
    t.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { KMSMasterKeyId: key.keyArn } });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: key.keyArn });
    Annotations.fromStack(stack).hasWarning('/Test/Guard', Match.stringLikeRegexp('cloudwatch.amazonaws.com'));
  });

  test('consoleOutputLines 0 drops console output and its permission', () => {
    const t = build({ consoleOutputLines: 0 }).template();
    expect(hookEnv(t).CONSOLE_OUTPUT_LINES).toBe('0');
    expect(actionsOf(t)).not.toContain('ec2:GetConsoleOutput');
  });

  test('metricNamespace names the metric, the alarm and the permission', () => {
    const t = build({ metricNamespace: 'Acme/Fleet' }).template();
    expect(hookEnv(t).METRIC_NAMESPACE).toBe('Acme/Fleet');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'Acme/Fleet' });
    expect(hookStatements(t)).toContainEqual(expect.objectContaining({ Condition: { StringEquals: { 'cloudwatch:namespace': 'Acme/Fleet' } } }));
  });

  test('exposes the metrics of short-lived launches', () => {
    const { guard, stack } = build();
    const m = guard.metricShortLivedLaunches();
    expect(m.metricName).toBe('ShortLivedLaunches');
    expect(m.statistic).toBe('Sum');
    expect(stack.resolve(m.dimensions)).toEqual({ AutoScalingGroupName: GROUP });
    expect(guard.metricShortLivedLaunchesInWindow().statistic).toBe('Maximum');
  });
});

describe('LaunchLoopGuard on a MultiAzFleet', () => {
  function fleetStack(codeDeploy: boolean) {
    const stack = testStack();
    const fleet = new MultiAzFleet(stack, 'Fleet', { vpc: importedVpc(stack), machineImage: ec2.MachineImage.genericLinux(TEST_AMI), codeDeploy });
    return { stack, fleet };
  }

  test('guardLaunchLoops() is the one line that adds it, with the fleet\'s deployment group', () => {
    const { stack, fleet } = fleetStack(true);
    const guard = fleet.guardLaunchLoops({ shortLivedLaunches: 4 });
    expect(guard).toBeInstanceOf(LaunchLoopGuard);
    expect(guard.node.path).toBe('Test/Fleet/LaunchLoopGuard');
    const t = Template.fromStack(stack);
    const asg = { Ref: Match.stringLikeRegexp('^FleetASG') };
    t.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.autoscaling'], detail: { AutoScalingGroupName: [asg] } } });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codedeploy'],
        'detail-type': ['CodeDeploy Deployment State-change Notification', 'CodeDeploy Instance State-change Notification'],
        detail: { application: [{ Ref: Match.stringLikeRegexp('^FleetApplication') }], deploymentGroup: [{ Ref: Match.stringLikeRegexp('^FleetDeploymentGroup') }], state: ['FAILURE', 'SUCCESS'] },
      },
    });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ THRESHOLD: '4', DEPLOYMENT_GROUP_NAME: { Ref: Match.stringLikeRegexp('^FleetDeploymentGroup') } }) } });
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Sid?: string; Resource: unknown }> } } }).Properties.PolicyDocument.Statement);
    const deploy = statements.find((s) => s.Sid === 'DeploymentErrors') as { Action?: unknown; Resource: unknown } | undefined;
    expect(deploy?.Action).toEqual(['codedeploy:GetDeployment', 'codedeploy:GetDeploymentTarget']);
    expect(JSON.stringify(deploy?.Resource)).toMatch(/deploymentgroup:.*FleetApplication.*FleetDeploymentGroup/);
  });

  test('without CodeDeploy only the Auto Scaling events are followed', () => {
    const { stack, fleet } = fleetStack(false);
    fleet.guardLaunchLoops();
    Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 1);
  });

  test('is cdk-nag AwsSolutions clean inside a fleet with CodeDeploy', () => {
    const findings = nagFindings((stack) => {
      const fleet = new MultiAzFleet(stack, 'Fleet', {
        vpc: importedVpc(stack),
        machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
        codeDeploy: true,
        notificationTopic: new sns.Topic(stack, 'FleetEvents', { masterKey: new kms.Key(stack, 'K', { enableKeyRotation: true }), enforceSSL: true }),
      });
      fleet.guardLaunchLoops();
    });
    expect(findings).toEqual([]);
  });

  test('is cdk-nag AwsSolutions clean with the breaker OFF and the user\'s own encrypted topic', () => {
    const findings = nagFindings((stack) => {
      const topic = new sns.Topic(stack, 'Pager', { masterKey: new kms.Key(stack, 'TeamKey', { enableKeyRotation: true }), enforceSSL: true });
      build({ circuitBreaker: LaunchLoopCircuitBreaker.OFF, topic }, stack);
    });
    expect(findings).toEqual([]);
  });

  test('is cdk-nag AwsSolutions clean on an imported group with HOLD_CAPACITY and no console output', () => {
    const findings = nagFindings((stack) => {
      build({ circuitBreaker: LaunchLoopCircuitBreaker.HOLD_CAPACITY, consoleOutputLines: 0 }, stack);
    });
    expect(findings).toEqual([]);
  });
});

describe('LaunchLoopGuard validation', () => {
  const fails = (props: Partial<LaunchLoopGuardProps>) => () => build(props);
  test('fails when shortLivedLaunches is not a whole number from 2 to 100', () => {
    expect(fails({ shortLivedLaunches: 1 })).toThrow(/shortLivedLaunches: got 1; allowed: an integer from 2 to 100\. Fix: set shortLivedLaunches/);
    expect(fails({ shortLivedLaunches: 2.5 })).toThrow(/shortLivedLaunches: got 2.5/);
  });
  test('fails when window is not whole minutes from 1 minute to 24 hours', () => {
    expect(fails({ window: Duration.seconds(30) })).toThrow(/window: got "30 seconds"; allowed: whole minutes from 1 minute to 24 hours/);
    expect(fails({ window: Duration.seconds(90) })).toThrow(/window: got "1 minute 30 seconds"/);
    expect(fails({ window: Duration.hours(25) })).toThrow(/window: got "1 day 1 hour"/);
  });
  test('fails when shortLivedTime is outside 1 minute to 24 hours', () => {
    expect(fails({ shortLivedTime: Duration.seconds(10) })).toThrow(/shortLivedTime: got "10 seconds"; allowed: 1 minute to 24 hours\. Fix: use the health check grace period/);
  });
  test('fails when consoleOutputLines is outside 0 to 500', () => {
    expect(fails({ consoleOutputLines: 501 })).toThrow(/consoleOutputLines: got 501; allowed: an integer from 0 to 500/);
    expect(fails({ consoleOutputLines: -1 })).toThrow(/consoleOutputLines: got -1/);
  });
  test('fails when metricNamespace is reserved or malformed', () => {
    expect(fails({ metricNamespace: 'AWS/AutoScaling' })).toThrow(/metricNamespace: got "AWS\/AutoScaling"; allowed: .*not starting with "AWS\/"/);
    expect(fails({ metricNamespace: 'a:b' })).toThrow(/metricNamespace: got "a:b"/);
    expect(fails({ metricNamespace: '' })).toThrow(/metricNamespace: got ""/);
  });
  test('reports every problem at once', () => {
    expect(fails({ shortLivedLaunches: 0, window: Duration.seconds(1), consoleOutputLines: 1000 })).toThrow(/invalid props \(3\)/);
  });
});


describe('LaunchLoopGuard dead letters', () => {
  test('Auto Scaling and CodeDeploy events that fail after every retry land in the encrypted queue, whose depth alarms on the topic', () => {
    const { stack, guard, template } = build();
    const t = template();
    expect(expectDeadLettersOf(stack, t, guard.function, guard.deadLetterQueue, /^GuardTopic/)).toBe(1);
    expect(guard.deadLetterAlarm).toBeDefined();
  });
});
