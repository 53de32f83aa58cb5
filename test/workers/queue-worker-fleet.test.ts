import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, Size, Stack, Validations, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_sns as sns, aws_sqs as sqs } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { JOB_DRAIN_HOOK_NAME, QueueWorkerFleet, QueueWorkerFleetProps } from '../../lib';
import { TEST_AMI, importedVpc, testApp, testStack } from '../helpers';
import { NODE_BIN } from '../../lib/private/node-runtime';
import { WORKER_UNIT, WORKER_USER, renderWorkerUnit } from '../../lib/workers/worker-service-config';
import { bootSteps, groupBoots, userDataText } from '../fleet/boot-assertions';
import { expectDeadLettersOf } from '../dead-letter-assertions';

function build(extra: Partial<QueueWorkerFleetProps> = {}, withUserQueue = false) {
  const stack = testStack();
  const vpc = importedVpc(stack);
  const queue = withUserQueue ? sqs.Queue.fromQueueArn(stack, 'Jobs', 'arn:aws:sqs:eu-west-1:123456789012:jobs') : undefined;
  const workers = new QueueWorkerFleet(stack, 'Workers', {
    vpc,
    machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    ...(queue ? { queue } : {}),
    ...extra,
  });
  return {
    stack,
    workers,
    get template() {
      return Template.fromStack(stack);
    },
  };
}

function userDataOf(template: Template): string {
  const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: { UserData: unknown } } };
  return JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
}

function stepsOf(template: Template, adjustmentType = 'ExactCapacity'): Array<{ ScalingAdjustment: number; MetricIntervalLowerBound?: number; MetricIntervalUpperBound?: number }>[] {
  return Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy', { Properties: { PolicyType: 'StepScaling', AdjustmentType: adjustmentType } })).map(
    (p) => (p as { Properties: { StepAdjustments: never } }).Properties.StepAdjustments,
  );
}

const FROM_ZERO = { Properties: { AlarmDescription: Match.stringLikeRegexp('no worker is in service') } };

describe('QueueWorkerFleet at defaults', () => {
  const { template, workers } = build();

  test('creates an encrypted queue (TLS only) with a dead-letter queue, visibility = job timeout', () => {
    template.resourceCountIs('AWS::SQS::Queue', 3); // the job queue, its dead-letter queue, the drain hook's dead letters
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 3600,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
    expect(workers.deadLetterQueue).toBeDefined();
  });

  test('scales 0 to 10 workers from four x86 instance types in every AZ', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '0',
      MaxSize: '10',
      DesiredCapacity: Match.absent(),
      VPCZoneIdentifier: ['subnet-0prv0', 'subnet-0prv1', 'subnet-0prv2'],
      MixedInstancesPolicy: Match.objectLike({
        LaunchTemplate: Match.objectLike({
          Overrides: [{ InstanceType: 'm7i.large' }, { InstanceType: 'm6i.large' }, { InstanceType: 'm6a.large' }, { InstanceType: 'm5.large' }],
        }),
        InstancesDistribution: Match.objectLike({ OnDemandPercentageAboveBaseCapacity: 100 }),
      }),
    });
  });

  test('target-tracks backlog per in-service worker with metric math; target = latency / job duration', () => {
    expect(workers.backlogPerWorkerTarget).toBe(5);
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      EstimatedInstanceWarmup: 300,
      TargetTrackingConfiguration: {
        TargetValue: 5,
        CustomizedMetricSpecification: {
          Metrics: [
            Match.objectLike({ Id: 'visible', ReturnData: false, MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible' }) }) }),
            Match.objectLike({ Id: 'inservice', ReturnData: false, MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'AWS/AutoScaling', MetricName: 'GroupInServiceInstances' }) }) }),
            // Undefined at zero workers: the target itself, so target tracking holds still there.
            Match.objectLike({ Id: 'backlogperworker', Expression: 'IF(inservice > 0, visible / inservice, 5)', ReturnData: true }),
          ],
        },
      },
    });
  });

  test('scales from zero: an exact capacity, about one worker per 5 waiting messages, when messages wait and no worker is in service', () => {
    const alarm = template.findResources('AWS::CloudWatch::Alarm', FROM_ZERO);
    expect(Object.keys(alarm)).toHaveLength(1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(inservice == 0, visible, 0)', ReturnData: true })]),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('WorkersScaleFromZero') }],
    });
    const fromZero = stepsOf(template).find((s) => s.length > 1)!;
    expect(fromZero).toHaveLength(10);
    expect(fromZero[0]).toEqual({ MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 5, ScalingAdjustment: 1 });
    expect(fromZero[9]).toEqual({ MetricIntervalLowerBound: 45, ScalingAdjustment: 10 });
  });

  test('scales to zero after 15 minutes with nothing visible or in flight (no data = empty)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      Threshold: 0,
      EvaluationPeriods: 15,
      DatapointsToAlarm: 15,
      TreatMissingData: 'breaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'visible + inflight', ReturnData: true }),
        Match.objectLike({ Id: 'inflight', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesNotVisible' }) }) }),
      ]),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('WorkersScaleToZero') }],
    });
    expect(stepsOf(template)).toContainEqual([{ MetricIntervalUpperBound: 0, ScalingAdjustment: 0 }]);
  });

  test('holds a terminating worker for its running job: terminate lifecycle hook, CONTINUE on timeout', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: JOB_DRAIN_HOOK_NAME,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 300,
      DefaultResult: 'CONTINUE',
    });
  });

  test('routes the group\'s terminate lifecycle actions to the drain hook, which may complete only this group\'s actions', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [{ Ref: Match.anyValue() }], LifecycleHookName: [JOB_DRAIN_HOOK_NAME] },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Handler: 'index.handler' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('WorkersDrainRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'autoscaling:CompleteLifecycleAction',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/', { Ref: Match.anyValue() }]] },
          },
        ]),
      },
    });
  });

  test('lets workers change protection and lifecycle actions of their own group only, and read just the job-guard bundle', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('WorkersJobGuardPolicy'),
      PolicyDocument: {
        Statement: [
          {
            Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat', 'autoscaling:SetInstanceProtection'],
            Effect: 'Allow',
            Resource: 'arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*',
            Condition: { StringEquals: { 'aws:ResourceTag/resilient-fleet:group': Match.stringLikeRegexp('WorkersFleet') } },
          },
          { Action: 'autoscaling:DescribeAutoScalingInstances', Effect: 'Allow', Resource: '*' },
          { Action: 's3:GetObject', Effect: 'Allow', Resource: Match.stringLikeRegexp('^arn:aws:s3:::cdk-.*\\.zip$') },
        ],
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']), Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('WorkersQueue'), 'Arn'] } }),
        ]),
      },
    });
  });

  test('installs job-guard with its config and the queue URL in user data', () => {
    const ud = userDataOf(template);
    expect(ud).toContain("dnf_install 'nodejs24'");
    expect(ud).toContain('dnf_install unzip');
    expect(ud).toContain('/usr/local/bin/job-guard');
    expect(ud).toContain('{\\"lifecycleHookName\\":\\"resilient-fleet-job-drain\\",\\"heartbeatIntervalSeconds\\":100,\\"maxTerminationWaitSeconds\\":3600}');
    expect(ud).toContain('QUEUE_URL=');
  });

  test('matches the snapshot', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});

describe('QueueWorkerFleet options', () => {
  test('queue: uses the user\'s queue for grants and every metric, and creates none', () => {
    const { template, workers } = build({}, true);
    template.resourceCountIs('AWS::SQS::Queue', 1); // only the drain hook's dead letters
    expect(workers.deadLetterQueue).toBeUndefined();
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      TargetTrackingConfiguration: {
        CustomizedMetricSpecification: { Metrics: Match.arrayWith([Match.objectLike({ Id: 'visible', MetricStat: Match.objectLike({ Metric: Match.objectLike({ Dimensions: [{ Name: 'QueueName', Value: 'jobs' }] }) }) })]) },
        TargetValue: 5,
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['sqs:ReceiveMessage']), Resource: 'arn:aws:sqs:eu-west-1:123456789012:jobs' })]) },
    });
  });

  test('maxReceiveCount sets the dead-letter redrive', () => {
    build({ maxReceiveCount: 2 }).template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 2 }) });
  });

  test('acceptableLatency, averageJobDuration and jobsPerWorker set the target backlog per worker', () => {
    const { template, workers } = build({ acceptableLatency: Duration.minutes(10), averageJobDuration: Duration.seconds(30), jobsPerWorker: 2 });
    expect(workers.backlogPerWorkerTarget).toBe(40);
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { TargetTrackingConfiguration: Match.objectLike({ TargetValue: 40 }) });
  });

  test('minCapacity above 0: no scale-to-zero policy, and scale-from-zero never sets less than the minimum', () => {
    const { template, workers } = build({ minCapacity: 2, maxCapacity: 4 });
    expect(workers.scaleToZeroAlarm).toBeUndefined();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2); // scale from zero, and the drain hook's dead letters
    expect(stepsOf(template)).toEqual([
      [
        { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 5, ScalingAdjustment: 2 },
        { MetricIntervalLowerBound: 5, MetricIntervalUpperBound: 10, ScalingAdjustment: 2 },
        { MetricIntervalLowerBound: 10, MetricIntervalUpperBound: 15, ScalingAdjustment: 3 },
        { MetricIntervalLowerBound: 15, ScalingAdjustment: 4 },
      ],
    ]);
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '2', MaxSize: '4' });
  });

  test('maxCapacity 1: scale from zero to exactly one worker', () => {
    expect(stepsOf(build({ maxCapacity: 1 }).template)).toContainEqual([{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }]);
  });

  test('jobTimeout sets the visibility timeout, the heartbeat timeout and job-guard\'s longest wait', () => {
    const { template } = build({ jobTimeout: Duration.hours(24) });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 43200, RedrivePolicy: Match.anyValue() });
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 1728 });
    expect(userDataOf(template)).toContain('\\"heartbeatIntervalSeconds\\":576,\\"maxTerminationWaitSeconds\\":86400');
  });

  test('jobTimeout beyond the 12-hour visibility limit warns that long jobs must extend visibility', () => {
    const { stack } = build({ jobTimeout: Duration.hours(13) });
    Annotations.fromStack(stack).hasWarning('/Test/Workers', Match.stringLikeRegexp('visibility timeout is at most 12 hours'));
    const { stack: short } = build({ jobTimeout: Duration.hours(12) });
    expect(Annotations.fromStack(short).findWarning('*', Match.stringLikeRegexp('visibility'))).toHaveLength(0);
  });

  test('a short jobTimeout shortens the heartbeat timeout to match', () => {
    build({ jobTimeout: Duration.minutes(2), averageJobDuration: Duration.seconds(30) }).template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 120 });
  });

  test('scaleToZeroAfter sets how long the queue must stay empty', () => {
    build({ scaleToZeroAfter: Duration.minutes(45) }).template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      EvaluationPeriods: 45,
      DatapointsToAlarm: 45,
    });
  });

  test('instanceWarmup sets the warm-up of the scaling policies', () => {
    const { template } = build({ instanceWarmup: Duration.minutes(2) });
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { PolicyType: 'TargetTrackingScaling', EstimatedInstanceWarmup: 120 });
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { PolicyType: 'StepScaling', EstimatedInstanceWarmup: 120 });
  });

  test('instanceTypes, spot and onDemandBaseCapacity reach the mixed instances policy, with capacity rebalancing', () => {
    build({ instanceTypes: [new ec2.InstanceType('c7g.large'), new ec2.InstanceType('c6g.large')], spot: true, onDemandBaseCapacity: 1 }).template.hasResourceProperties(
      'AWS::AutoScaling::AutoScalingGroup',
      {
        CapacityRebalance: true,
        MixedInstancesPolicy: {
          LaunchTemplate: Match.objectLike({ Overrides: [{ InstanceType: 'c7g.large' }, { InstanceType: 'c6g.large' }] }),
          InstancesDistribution: Match.objectLike({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' }),
        },
      },
    );
  });

  test('rootVolumeSize, securityGroup, role and notificationTopic reach the fleet', () => {
    const stack = testStack();
    const vpc = importedVpc(stack);
    const securityGroup = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    const role = new iam.Role(stack, 'MyRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const topic = new sns.Topic(stack, 'Topic', { masterKey: new kms.Key(stack, 'Key') });
    new QueueWorkerFleet(stack, 'Workers', { vpc, machineImage: ec2.MachineImage.genericLinux(TEST_AMI), rootVolumeSize: Size.gibibytes(50), securityGroup, role, notificationTopic: topic });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 50, Encrypted: true }) })],
        SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Sg'), 'GroupId'] }],
      }),
    });
    t.hasResourceProperties('AWS::IAM::Policy', { PolicyName: Match.stringLikeRegexp('WorkersJobGuardPolicy'), Roles: [{ Ref: Match.stringLikeRegexp('^MyRole') }] });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { NotificationConfigurations: [Match.objectLike({ TopicARN: { Ref: Match.stringLikeRegexp('^Topic') } })] });
  });

  test('addUserData runs after job-guard is installed', () => {
    const { stack, workers } = build();
    workers.addUserData('systemctl enable --now queue-worker');
    const ud = userDataOf(Template.fromStack(stack));
    expect(ud.indexOf('systemctl enable --now queue-worker')).toBeGreaterThan(ud.indexOf('/etc/job-guard.json'));
  });

  test('metricBacklogPerWorker is the scaling expression', () => {
    const { workers } = build();
    expect(workers.metricBacklogPerWorker().expression).toBe('IF(inservice > 0, visible / inservice, 5)');
  });
});

describe('QueueWorkerFleet fails at synth time when', () => {
  test.each<[string, Partial<QueueWorkerFleetProps>, RegExp]>([
    ['minCapacity is negative', { minCapacity: -1 }, /minCapacity: got -1; allowed: an integer from 0 to 10000/],
    ['maxCapacity is 0', { maxCapacity: 0 }, /maxCapacity: got 0; allowed: an integer from 1 to 10000/],
    ['minCapacity exceeds maxCapacity', { minCapacity: 5, maxCapacity: 3 }, /minCapacity: got 5; allowed: at most maxCapacity \(3\)/],
    ['jobsPerWorker is 0', { jobsPerWorker: 0 }, /jobsPerWorker: got 0; allowed: an integer from 1 to 1000/],
    ['maxReceiveCount is 0', { maxReceiveCount: 0 }, /maxReceiveCount: got 0; allowed: an integer from 1 to 1000/],
    ['averageJobDuration is under a second', { averageJobDuration: Duration.millis(500) }, /averageJobDuration: got "500 millis"; allowed: at least 1 second/],
    ['acceptableLatency is shorter than a job', { acceptableLatency: Duration.seconds(30) }, /acceptableLatency: got "30 seconds"; allowed: at least averageJobDuration \(1 minute\)/],
    ['jobTimeout is under a minute', { jobTimeout: Duration.seconds(30), averageJobDuration: Duration.seconds(10) }, /jobTimeout: got "30 seconds"; allowed: whole seconds from 1 minute to 48 hours/],
    ['jobTimeout exceeds 48 hours', { jobTimeout: Duration.hours(49) }, /jobTimeout: got "2 days 1 hour"; allowed: whole seconds from 1 minute to 48 hours/],
    ['jobTimeout is not whole seconds', { jobTimeout: Duration.millis(90_500) }, /jobTimeout: got "90.5 seconds"; allowed: whole seconds/],
    ['jobTimeout is shorter than a job', { jobTimeout: Duration.minutes(2), averageJobDuration: Duration.minutes(3), acceptableLatency: Duration.minutes(10) }, /jobTimeout: got "2 minutes"; allowed: at least averageJobDuration \(3 minutes\)/],
    ['scaleToZeroAfter is set with minCapacity above 0', { minCapacity: 1, scaleToZeroAfter: Duration.minutes(5) }, /scaleToZeroAfter: got "5 minutes"; allowed: only with minCapacity 0/],
    ['scaleToZeroAfter is not whole minutes', { scaleToZeroAfter: Duration.seconds(90) }, /scaleToZeroAfter: got "1 minute 30 seconds"; allowed: whole minutes from 1 minute to 24 hours/],
    ['scaleToZeroAfter exceeds a day', { scaleToZeroAfter: Duration.hours(25) }, /scaleToZeroAfter: got "1 day 1 hour"; allowed: whole minutes/],
    ['instanceWarmup exceeds an hour', { instanceWarmup: Duration.hours(2) }, /instanceWarmup: got "2 hours"; allowed: whole seconds from 0 to 1 hour/],
    ['onDemandBaseCapacity is set without spot', { onDemandBaseCapacity: 1 }, /MultiAzFleet: invalid props.*\n.*onDemandBaseCapacity: got 1; allowed: only together with spot: true/],
    ['instanceTypes mix architectures', { instanceTypes: [new ec2.InstanceType('m7g.large'), new ec2.InstanceType('m7i.large')] }, /instanceTypes: .*allowed: types of one CPU architecture/],
  ])('%s', (_name, props, error) => {
    expect(() => build(props)).toThrow(error);
  });

  test('maxReceiveCount is set together with a queue of the user', () => {
    expect(() => build({ maxReceiveCount: 3 }, true)).toThrow(/maxReceiveCount: got 3; allowed: only without queue/);
  });

  test('every problem is reported at once', () => {
    expect(() => build({ minCapacity: -1, jobsPerWorker: 0, instanceWarmup: Duration.hours(2) })).toThrow(/invalid props \(3\)/);
  });
});

describe('QueueWorkerFleet and cdk-nag', () => {
  function nagFindings(envAgnostic: boolean, extra: Partial<QueueWorkerFleetProps> = {}): string[] {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'workers-nag-'));
    const app = testApp({ outdir });
    const stack = envAgnostic ? new Stack(app, 'Agnostic') : testStack(app);
    const topic = new sns.Topic(stack, 'Topic', { masterKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }), enforceSSL: true });
    new QueueWorkerFleet(stack, 'Workers', { vpc: importedVpc(stack, 2), machineImage: ec2.MachineImage.genericLinux(TEST_AMI), notificationTopic: topic, ...extra });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    try {
      app.synth();
    } catch {
      // findings are read from the report below
    }
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{ violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
    };
    fs.rmSync(outdir, { recursive: true, force: true });
    return report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
  }

  test('is AwsSolutions-clean in a stack with a fixed env (each acknowledged finding named exactly)', () => {
    expect(nagFindings(false).filter((f) => f.includes('/Workers/'))).toEqual([]);
  });

  test('is AwsSolutions-clean in an environment-agnostic stack (pseudo parameters in the finding ids)', () => {
    expect(nagFindings(true).filter((f) => f.includes('/Workers/'))).toEqual([]);
  });

  test('with Spot too', () => {
    expect(nagFindings(false, { spot: true }).filter((f) => f.includes('/Workers/'))).toEqual([]);
  });

  test('control: the same check reports an unacknowledged wildcard', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'workers-nag-'));
    const app = testApp({ outdir });
    const stack = testStack(app);
    const role = new iam.Role(stack, 'Control', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    try {
      app.synth();
    } catch {
      // reported below
    }
    const report = fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8');
    fs.rmSync(outdir, { recursive: true, force: true });
    expect(report).toContain('AwsSolutions-IAM5');
  });
});


describe('QueueWorkerFleet drain hook dead letters', () => {
  test('terminate lifecycle events the drain hook fails on land in an encrypted queue; its alarm notifies notificationTopic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Ops', { masterKey: new kms.Key(stack, 'OpsKey') });
    const workers = new QueueWorkerFleet(stack, 'Workers', { vpc: importedVpc(stack), machineImage: ec2.MachineImage.genericLinux(TEST_AMI), notificationTopic: topic });
    const t = Template.fromStack(stack);
    expect(expectDeadLettersOf(stack, t, workers.drainFunction, workers.drainDeadLetterQueue, /^Ops/)).toBe(1);
    // Auto Scaling notifications come from its service-linked role; the alarms from CloudWatch: the key allows both.
    const statements = (Object.values(t.findResources('AWS::KMS::Key'))[0] as { Properties: { KeyPolicy: { Statement: Array<{ Sid?: string }> } } }).Properties.KeyPolicy.Statement;
    expect(statements.map((s) => s.Sid).filter(Boolean)).toEqual(expect.arrayContaining(['AllowPublish-autoscaling-notifications', 'AllowPublish-cloudwatch-alarms']));
  });
});

describe('QueueWorkerFleet boot contract', () => {
  test('the group waits for the job-guard policy and every other policy of the workers\' role', () => {
    const { stack } = build();
    const [boot] = groupBoots(Template.fromStack(stack));
    expect(boot.policies).toEqual(expect.arrayContaining([expect.stringMatching(/^WorkersJobGuardPolicy/), expect.stringMatching(/^WorkersFleetBootPolicy/)]));
    expect(boot.namingGroup).toEqual([]);
    for (const p of boot.policies) expect(boot.dependsOn).toContain(p);
  });

  test('job-guard is installed by its own step after the Node runtime, and runs on NODE_BIN', () => {
    const { stack } = build();
    const ud = userDataText(Template.fromStack(stack));
    expect(bootSteps(ud)).toEqual(['node-runtime', 'job-guard', 'lifecycle-continue']);
    expect(ud).toContain(`exec ${NODE_BIN} /opt/job-guard/index.mjs "$@"`);
    expect(ud).toContain("s3_get 's3://");
  });

  test('with jobCommand: a hardened service runs the loop and its jobs as the queue-worker system user, after user data', () => {
    const { stack, workers } = build({ jobCommand: '/opt/app/process-one-job --fast' });
    workers.addUserData('echo install the job');
    const ud = userDataText(Template.fromStack(stack));
    expect(bootSteps(ud)).toEqual(['node-runtime', 'job-guard', 'user-data', 'queue-worker', 'lifecycle-continue']);
    expect(ud).toContain(`useradd --system --gid ${WORKER_USER}`);
    expect(ud).toContain('-- /opt/app/process-one-job --fast || status=$?');
    const unit = renderWorkerUnit();
    expect(ud).toContain(unit);
    for (const line of [
      `User=${WORKER_USER}`,
      `Group=${WORKER_USER}`,
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'CapabilityBoundingSet=',
      'RuntimeDirectory=job-guard',
      'StateDirectory=queue-worker',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    expect(unit).not.toMatch(/^User=root/m);
    expect(ud).toContain(`systemctl enable --now ${WORKER_UNIT}`);
  });

  test('without jobCommand no worker service is installed', () => {
    const { stack } = build();
    expect(userDataText(Template.fromStack(stack))).not.toContain(WORKER_UNIT);
  });

  test('metadata hop limit 1 by default, 2 when asked for containers', () => {
    expect(groupBoots(build().template)[0].metadataOptions).toMatchObject({ HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'enabled' });
    expect(groupBoots(build({ httpPutResponseHopLimit: 2 }).template)[0].metadataOptions).toMatchObject({ HttpPutResponseHopLimit: 2 });
  });

  test('fails when jobCommand is empty or spans lines', () => {
    expect(() => build({ jobCommand: '  ' })).toThrow(/jobCommand: got "  "; allowed: one command line/);
    expect(() => build({ jobCommand: '/opt/a\nrm -rf /' })).toThrow(/jobCommand: .*allowed: one command line/);
  });
});
