import {
  Duration,
  Size,
  Stack,
  aws_autoscaling as autoscaling,
  aws_codedeploy as codedeploy,
  aws_ec2 as ec2,
  aws_elasticloadbalancingv2 as elbv2,
  aws_iam as iam,
  aws_kms as kms,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { FleetHealthCheck, MultiAzFleet, MultiAzFleetProps } from '../../lib';
import { TEST_AMI, importedVpc, testApp, testStack } from '../helpers';
import { BOOT_LIFECYCLE_HOOK_NAME, DEFAULT_BOOT_BUDGET_S, FLEET_GROUP_TAG_KEY, bootHeartbeatTimeoutS } from '../../lib/private/boot-contract';
import { bootSteps, groupBoots, userDataText } from './boot-assertions';

function build(extra: Partial<MultiAzFleetProps> = {}, opts: { azs?: number; withListener?: boolean } = {}) {
  const stack = testStack();
  const vpc = importedVpc(stack, opts.azs ?? 3);
  let listener: elbv2.ApplicationListener | undefined;
  if (opts.withListener) {
    const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: false });
    listener = alb.addListener('Http', { port: 80, open: false });
  }
  const fleet = new MultiAzFleet(stack, 'Fleet', {
    vpc,
    machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    ...(listener ? { listener } : {}),
    ...extra,
  });
  return { stack, fleet, vpc, listener, template: () => Template.fromStack(stack) };
}

function userDataOf(template: Template): string {
  const lts = template.findResources('AWS::EC2::LaunchTemplate');
  const lt = Object.values(lts)[0] as { Properties: { LaunchTemplateData: { UserData: unknown } } };
  const b64 = lt.Properties.LaunchTemplateData.UserData as { 'Fn::Base64': unknown };
  return JSON.stringify(b64['Fn::Base64']);
}

describe('MultiAzFleet defaults', () => {
  const { template, fleet } = build();
  const t = template();

  test('spreads the group over every AZ of the private subnets', () => {
    expect(fleet.availabilityZones).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      VPCZoneIdentifier: ['subnet-0prv0', 'subnet-0prv1', 'subnet-0prv2'],
      MinSize: '3',
      MaxSize: '3',
      HealthCheckType: 'EC2',
      HealthCheckGracePeriod: 300,
    });
  });

  test('uses a launch template with IMDSv2 required and an encrypted gp3 root volume, no SSH key', () => {
    t.resourceCountIs('AWS::AutoScaling::LaunchConfiguration', 0);
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 20, DeleteOnTermination: true } },
        ],
        KeyName: Match.absent(),
        Monitoring: { Enabled: true },
      }),
    });
  });

  test('opens no inbound port (Session Manager instead of port 22)', () => {
    const sgs = t.findResources('AWS::EC2::SecurityGroup');
    for (const sg of Object.values(sgs) as Array<{ Properties: { SecurityGroupIngress?: unknown[] } }>) {
      expect(sg.Properties.SecurityGroupIngress ?? []).toEqual([]);
    }
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    t.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] }],
    });
  });

  test('replaces instances one at a time, keeping the minimum in service while capped below max', () => {
    t.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: {
        AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 2, MaxBatchSize: 1, PauseTime: 'PT10M' }),
        AutoScalingScheduledAction: { IgnoreUnmodifiedGroupSizeProperties: true },
      },
    });
  });

  test('collects the group metrics its metric helpers read', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MetricsCollection: [
        {
          Granularity: '1Minute',
          Metrics: Match.arrayWith(['GroupInServiceInstances', 'GroupPendingInstances', 'GroupTerminatingInstances']),
        },
      ],
    });
  });

  test('has no CodeDeploy, target group, schedule or notifications unless asked', () => {
    t.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 0);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 0);
    t.resourceCountIs('AWS::AutoScaling::ScheduledAction', 0);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { NotificationConfigurations: Match.absent() });
    expect(userDataOf(t)).not.toContain('codedeploy');
  });

  test('matches the snapshot at defaults', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });
});

describe('MultiAzFleet options', () => {
  test('takes capacity, instance type, root volume and grace period', () => {
    const { template } = build({
      minCapacity: 0,
      maxCapacity: 9,
      desiredCapacity: 4,
      instanceType: new ec2.InstanceType('m7g.large'),
      rootVolumeSize: Size.gibibytes(50),
      rootVolumeDeviceName: '/dev/sda1',
      healthCheckGracePeriod: Duration.minutes(10),
      minInstancesInService: 3,
      maxBatchSize: 2,
    });
    const t = template();
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', MaxSize: '9', DesiredCapacity: '4', HealthCheckGracePeriod: 600 });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'm7g.large',
        BlockDeviceMappings: [Match.objectLike({ DeviceName: '/dev/sda1', Ebs: Match.objectLike({ VolumeSize: 50 }) })],
      }),
    });
    t.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: Match.objectLike({ AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 3, MaxBatchSize: 2 }) }),
    });
  });

  test('derives max capacity from a larger desired capacity', () => {
    const { template } = build({ minCapacity: 1, desiredCapacity: 5 });
    template().hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '5', DesiredCapacity: '5' });
  });

  test('launches into chosen subnets', () => {
    const { template, fleet } = build({ vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } });
    template().hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { VPCZoneIdentifier: ['subnet-0pub0', 'subnet-0pub1', 'subnet-0pub2'] });
    expect(fleet.availabilityZones).toHaveLength(3);
  });

  test('uses a given security group and role', () => {
    const stack = testStack();
    const vpc = importedVpc(stack);
    const securityGroup = new ec2.SecurityGroup(stack, 'MySg', { vpc });
    const role = new iam.Role(stack, 'MyRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const fleet = new MultiAzFleet(stack, 'Fleet', { vpc, machineImage: ec2.MachineImage.genericLinux(TEST_AMI), securityGroup, role });
    expect(fleet.role).toBe(role);
    expect(fleet.grantPrincipal).toBe(role);
    expect(fleet.connections.securityGroups).toContain(securityGroup);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::IAM::Role', 1);
    t.resourceCountIs('AWS::EC2::SecurityGroup', 1);
  });

  test('sends group notifications to a topic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Topic');
    new MultiAzFleet(stack, 'Fleet', { vpc: importedVpc(stack), machineImage: ec2.MachineImage.genericLinux(TEST_AMI), notificationTopic: topic });
    Template.fromStack(stack).hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      NotificationConfigurations: [Match.objectLike({ TopicARN: { Ref: Match.stringLikeRegexp('Topic') } })],
    });
  });

  test('behind a listener: target group with connection draining and health-check path, ELB health check', () => {
    const { template, fleet } = build({ targetPort: 8080, healthCheckPath: '/healthz', deregistrationDelay: Duration.seconds(120) }, { withListener: true });
    const t = template();
    expect(fleet.healthCheck).toBe(FleetHealthCheck.ELB);
    expect(fleet.targetGroup).toBeDefined();
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      HealthCheckPath: '/healthz',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '120' }]),
    });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { HealthCheckType: 'ELB', TargetGroupARNs: [{ Ref: Match.anyValue() }] });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
  });

  test('behind a listener with defaults: port 80, path /, 30 s draining', () => {
    const { template } = build({}, { withListener: true });
    template().hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 80,
      HealthCheckPath: '/',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
  });

  test('behind a listener, EC2 health check on request', () => {
    const { template } = build({ healthCheck: FleetHealthCheck.EC2 }, { withListener: true });
    template().hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { HealthCheckType: 'EC2' });
  });

  describe('with CodeDeploy', () => {
    test('binds an application and deployment group with automatic rollback', () => {
      const { template, fleet } = build({ codeDeploy: true });
      const t = template();
      expect(fleet.deploymentGroup).toBeDefined();
      expect(fleet.codeDeployApplication).toBeDefined();
      t.hasResourceProperties('AWS::CodeDeploy::Application', { ComputePlatform: 'Server' });
      t.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
        AutoScalingGroups: [{ Ref: Match.stringLikeRegexp('Fleet') }],
        AutoRollbackConfiguration: { Enabled: true, Events: Match.arrayWith(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST']) },
        DeploymentConfigName: 'CodeDeployDefault.OneAtATime',
      });
    });

    test('starts the agent only after every other user-data command', () => {
      const { template, fleet } = build({ codeDeploy: true });
      fleet.addUserData('echo app-setup-1', 'echo app-setup-2');
      const ud = userDataOf(template());
      const hold = ud.indexOf('systemctl stop codedeploy-agent');
      const setup1 = ud.indexOf('echo app-setup-1');
      const setup2 = ud.indexOf('echo app-setup-2');
      const start = ud.indexOf('systemctl start codedeploy-agent');
      expect(hold).toBeGreaterThan(-1);
      expect(hold).toBeLessThan(setup1);
      expect(setup1).toBeLessThan(setup2);
      expect(setup2).toBeLessThan(start);
      expect(ud).toContain('aws-codedeploy-');
    });

    test('grants the instances read access to the regional CodeDeploy bucket only', () => {
      const { template } = build({ codeDeploy: true });
      template().hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: [{ Action: 's3:GetObject', Effect: 'Allow', Resource: 'arn:aws:s3:::aws-codedeploy-eu-west-1/*' }] },
      });
    });

    test('takes a deployment config', () => {
      const { template } = build({ codeDeploy: true, deploymentConfig: codedeploy.ServerDeploymentConfig.HALF_AT_A_TIME });
      template().hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentConfigName: 'CodeDeployDefault.HalfAtATime' });
    });

    test('registers the target group with the deployment group and defaults to EC2 health checks', () => {
      const { template, fleet } = build({ codeDeploy: true }, { withListener: true });
      expect(fleet.healthCheck).toBe(FleetHealthCheck.EC2);
      template().hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
        LoadBalancerInfo: { TargetGroupInfoList: [{ Name: Match.anyValue() }] },
      });
    });

    test('warns about the "no healthy revision" trap with ELB health checks', () => {
      const { stack } = build({ codeDeploy: true, healthCheck: FleetHealthCheck.ELB }, { withListener: true });
      Annotations.fromStack(stack).hasWarning('/Test/Fleet', Match.stringLikeRegexp('no healthy revision'));
    });

    test('does not warn with EC2 health checks', () => {
      const { stack } = build({ codeDeploy: true }, { withListener: true });
      Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('no healthy revision'));
    });
  });

  test('user data without CodeDeploy holds exactly the added commands', () => {
    const { template, fleet } = build();
    fleet.addUserData('echo hello');
    const ud = userDataOf(template());
    expect(ud).toContain('#!/bin/bash');
    expect(ud).toContain('echo hello');
    expect(ud).not.toContain('codedeploy');
  });

  test('scales on a schedule in a time zone', () => {
    const { template } = build({
      minCapacity: 0,
      timeZone: 'Europe/Dublin',
      schedule: [
        { name: 'NightlyStop', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '20', minute: '0' }), minCapacity: 0, desiredCapacity: 0 },
        { name: 'MorningStart', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '7', minute: '0' }), minCapacity: 3, maxCapacity: 6, desiredCapacity: 3 },
      ],
    });
    const t = template();
    t.resourceCountIs('AWS::AutoScaling::ScheduledAction', 2);
    t.hasResourceProperties('AWS::AutoScaling::ScheduledAction', { Recurrence: '0 20 * * MON-FRI', TimeZone: 'Europe/Dublin', MinSize: 0, DesiredCapacity: 0 });
    t.hasResourceProperties('AWS::AutoScaling::ScheduledAction', { Recurrence: '0 7 * * MON-FRI', MinSize: 3, MaxSize: 6, DesiredCapacity: 3 });
  });

  test('schedules in UTC by default', () => {
    const { template } = build({ schedule: [{ name: 'Stop', schedule: autoscaling.Schedule.cron({ hour: '22', minute: '0' }), desiredCapacity: 0, minCapacity: 0 }], minCapacity: 0 });
    template().hasResourceProperties('AWS::AutoScaling::ScheduledAction', { TimeZone: 'UTC' });
  });

  test('metric helpers read the group metrics', () => {
    const { fleet, stack } = build();
    const inService = stack.resolve(fleet.metricInServiceInstances().toMetricConfig().metricStat);
    expect(inService).toMatchObject({ metricName: 'GroupInServiceInstances', namespace: 'AWS/AutoScaling', statistic: 'Maximum' });
    expect(stack.resolve(fleet.metricPendingInstances().metricName)).toBe('GroupPendingInstances');
    expect(stack.resolve(fleet.metricTerminatingInstances({ period: Duration.minutes(5) }).period.toMinutes())).toBe(5);
    expect(stack.resolve(fleet.metricTerminatingInstances().metricName)).toBe('GroupTerminatingInstances');
  });

  test('works in an environment-agnostic stack (AZs unknown at synth time)', () => {
    const app = testApp();
    const stack = new Stack(app, 'Agnostic');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    new MultiAzFleet(stack, 'Fleet', { vpc, machineImage: ec2.MachineImage.latestAmazonLinux2023() });
    // The group spans every AZ the VPC has (two here), whatever they turn out to be at deploy time.
    const groups = Object.values(Template.fromStack(stack).findResources('AWS::AutoScaling::AutoScalingGroup'));
    expect(groups).toHaveLength(1);
    expect(stack.resolve(groups[0].Properties.VPCZoneIdentifier)).toEqual(vpc.privateSubnets.map((sn) => stack.resolve(sn.subnetId)));
    expect(vpc.privateSubnets).toHaveLength(2);
  });
});

describe('MultiAzFleet validation', () => {
  const cases: Array<[string, Partial<MultiAzFleetProps>, RegExp, { azs?: number; withListener?: boolean }?]> = [
    ['fewer than two AZs', {}, /vpcSubnets: got \["eu-west-1a"\]; allowed: subnets in at least 2 Availability Zones/, { azs: 1 }],
    ['a negative minCapacity', { minCapacity: -1 }, /minCapacity: got -1; allowed: an integer from 0 to 10000/],
    ['a fractional maxCapacity', { maxCapacity: 2.5 }, /maxCapacity: got 2.5; allowed: an integer from 1 to 10000/],
    ['a negative desiredCapacity', { desiredCapacity: -2 }, /desiredCapacity: got -2/],
    ['a zero maxBatchSize', { maxBatchSize: 0 }, /maxBatchSize: got 0; allowed: an integer from 1/],
    ['a negative minInstancesInService', { minInstancesInService: -1 }, /minInstancesInService: got -1/],
    ['minCapacity above maxCapacity', { minCapacity: 5, maxCapacity: 3 }, /minCapacity: got 5; allowed: at most maxCapacity \(3\)/],
    ['desiredCapacity outside min..max', { minCapacity: 1, maxCapacity: 3, desiredCapacity: 4 }, /desiredCapacity: got 4; allowed: between minCapacity \(1\) and maxCapacity \(3\)/],
    ['minInstancesInService not below maxCapacity', { maxCapacity: 3, minInstancesInService: 3 }, /minInstancesInService: got 3; allowed: less than maxCapacity \(3\)/],
    ['ELB health check without a listener', { healthCheck: FleetHealthCheck.ELB }, /healthCheck: got "ELB"; allowed: ELB only together with listener/],
    ['a grace period over two hours', { healthCheckGracePeriod: Duration.hours(3) }, /healthCheckGracePeriod: got "10800 seconds"; allowed: 0 to 7200 seconds/],
    ['targetPort without a listener', { targetPort: 8080 }, /targetPort: got 8080; allowed: only together with listener/],
    ['healthCheckPath without a listener', { healthCheckPath: '/x' }, /healthCheckPath: got "\/x"; allowed: only together with listener/],
    ['deregistrationDelay without a listener', { deregistrationDelay: Duration.seconds(5) }, /deregistrationDelay: got "5 seconds"; allowed: only together with listener/],
    ['a targetPort out of range', { targetPort: 70000 }, /targetPort: got 70000; allowed: an integer from 1 to 65535/, { withListener: true }],
    ['a healthCheckPath without a leading slash', { healthCheckPath: 'health' }, /healthCheckPath: got "health"; allowed: a path starting with "\/". Fix: use "\/health"/, { withListener: true }],
    ['a deregistrationDelay over an hour', { deregistrationDelay: Duration.hours(2) }, /deregistrationDelay: got "7200 seconds"; allowed: 0 to 3600 seconds/, { withListener: true }],
    ['deploymentConfig without codeDeploy', { deploymentConfig: codedeploy.ServerDeploymentConfig.ALL_AT_ONCE }, /deploymentConfig: .*allowed: only together with codeDeploy: true/],
    ['timeZone without a schedule', { timeZone: 'UTC' }, /timeZone: got "UTC"; allowed: only together with schedule/],
    [
      'an unknown time zone',
      { timeZone: 'Mars/Olympus', schedule: [{ name: 'A', schedule: autoscaling.Schedule.cron({ hour: '1', minute: '0' }), desiredCapacity: 1 }] },
      /timeZone: got "Mars\/Olympus"; allowed: an IANA time zone/,
    ],
    ['a schedule entry with a bad name', { schedule: [{ name: '1 bad', schedule: autoscaling.Schedule.cron({ hour: '1', minute: '0' }), desiredCapacity: 1 }] }, /schedule\[0\].name: got "1 bad"/],
    [
      'two schedule entries with one name',
      {
        schedule: [
          { name: 'Same', schedule: autoscaling.Schedule.cron({ hour: '1', minute: '0' }), desiredCapacity: 1 },
          { name: 'Same', schedule: autoscaling.Schedule.cron({ hour: '2', minute: '0' }), desiredCapacity: 2 },
        ],
      },
      /schedule\[1\].name: got "Same"; allowed: a name used once/,
    ],
    ['a schedule entry that changes nothing', { schedule: [{ name: 'Nothing', schedule: autoscaling.Schedule.cron({ hour: '1', minute: '0' }) }] }, /schedule\[0\]: got "Nothing"; allowed: at least one of minCapacity/],
    ['a schedule entry with a negative capacity', { schedule: [{ name: 'Neg', schedule: autoscaling.Schedule.cron({ hour: '1', minute: '0' }), desiredCapacity: -1 }] }, /schedule\[0\].desiredCapacity: got -1/],
    ['a schedule entry with min above max', { schedule: [{ name: 'Inv', schedule: autoscaling.Schedule.cron({ hour: '1', minute: '0' }), minCapacity: 4, maxCapacity: 2 }] }, /schedule\[0\].minCapacity: got 4; allowed: at most schedule\[0\].maxCapacity \(2\)/],
    ['a root volume under 8 GiB', { rootVolumeSize: Size.gibibytes(4) }, /rootVolumeSize: got "4 GiB"; allowed: 8 to 16384 GiB/],
  ];

  // A loop rather than test.each: jest-each hangs formatting construct objects (Duration, Schedule) in its table.
  for (const [name, props, message, opts] of cases) {
    test(`fails on ${name}`, () => {
      expect(() => build(props, opts ?? {})).toThrow(message);
    });
  }

  test('reports every problem at once, with how to fix each', () => {
    let message = '';
    try {
      build({ minCapacity: -1, maxBatchSize: 0, targetPort: 1 });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^MultiAzFleet: invalid props \(3\):/);
    expect(message).toContain('minCapacity: got -1');
    expect(message).toContain('maxBatchSize: got 0');
    expect(message).toContain('targetPort: got 1; allowed: only together with listener. Fix: set listener, or remove targetPort');
  });
});

describe('MultiAzFleet boot contract', () => {
  test('the launch lifecycle hook is inside the group definition, ABANDON by default, with a heartbeat covering the boot budget', () => {
    const { template } = build();
    const t = template();
    t.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    const [boot] = groupBoots(t);
    expect(boot.launchHooks).toEqual([
      { LifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', DefaultResult: 'ABANDON', HeartbeatTimeout: bootHeartbeatTimeoutS() },
    ]);
    expect(boot.launchHooks[0].HeartbeatTimeout).toBeGreaterThan(DEFAULT_BOOT_BUDGET_S);
  });

  test('the group waits for every policy of its role, the default policy included', () => {
    const { template, fleet } = build({ codeDeploy: true });
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::app-artifacts/*'] }));
    const [boot] = groupBoots(template());
    expect(boot.policies).toEqual(expect.arrayContaining([expect.stringMatching(/^FleetBootPolicy/), expect.stringMatching(/^FleetInstanceRoleDefaultPolicy/)]));
    expect(boot.namingGroup).toEqual([]);
    for (const p of boot.policies) expect(boot.dependsOn).toContain(p);
  });

  test('addBootDependency makes the group wait for a policy the instances use at boot', () => {
    const { stack, template, fleet } = build();
    const policy = new iam.Policy(stack, 'Extra', { statements: [new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: ['arn:aws:ssm:eu-west-1:123456789012:parameter/app/*'] })] });
    policy.attachToRole(fleet.role);
    fleet.addBootDependency(policy);
    const [boot] = groupBoots(template());
    expect(boot.dependsOn).toContain(stack.getLogicalId(policy.node.defaultChild as iam.CfnPolicy));
  });

  test('instances may complete the launch action of their own group only: a tag condition on the group', () => {
    const { template, fleet } = build();
    const t = template();
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: Match.arrayWith([{ Key: FLEET_GROUP_TAG_KEY, Value: fleet.groupTagValue, PropagateAtLaunch: false }]),
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('FleetBootPolicy'),
      PolicyDocument: {
        Statement: [
          {
            Sid: 'CompleteOwnGroupsLaunch',
            Action: 'autoscaling:CompleteLifecycleAction',
            Effect: 'Allow',
            Resource: 'arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*',
            Condition: { StringEquals: { [`aws:ResourceTag/${FLEET_GROUP_TAG_KEY}`]: fleet.groupTagValue } },
          },
        ],
      },
    });
  });

  test('two fleets get different group tag values', () => {
    const stack = testStack();
    const vpc = importedVpc(stack);
    const a = new MultiAzFleet(stack, 'A', { vpc, machineImage: ec2.MachineImage.genericLinux(TEST_AMI) });
    const b = new MultiAzFleet(stack, 'B', { vpc, machineImage: ec2.MachineImage.genericLinux(TEST_AMI) });
    expect(a.groupTagValue).not.toEqual(b.groupTagValue);
  });

  test('metadata: IMDSv2, instance tags readable (the group name), hop limit 1 by default', () => {
    const [boot] = groupBoots(build().template());
    expect(boot.metadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'enabled' });
  });

  test('hop limit 2 only when asked (containers)', () => {
    const [boot] = groupBoots(build({ httpPutResponseHopLimit: 2 }).template());
    expect(boot.metadataOptions).toMatchObject({ HttpPutResponseHopLimit: 2 });
  });

  test('fails when httpPutResponseHopLimit is outside 1 to 64', () => {
    expect(() => build({ httpPutResponseHopLimit: 0 })).toThrow(/httpPutResponseHopLimit: got 0/);
    expect(() => build({ httpPutResponseHopLimit: 65 })).toThrow(/httpPutResponseHopLimit: got 65/);
  });

  test('user data is the boot contract: construct steps, then user data, then the CodeDeploy agent, then CONTINUE', () => {
    const { template, fleet } = build({ codeDeploy: true });
    fleet.addUserData('echo app');
    fleet.addBootStep({ name: 'late', commands: ['echo late'] }, { afterUserData: true });
    fleet.addBootStep({ name: 'tools', commands: ['echo tools'] }, { needsNodeRuntime: true });
    const ud = userDataText(template());
    expect(ud.startsWith('#!/bin/bash\n')).toBe(true);
    expect(ud).toContain('set -Eeuo pipefail');
    expect(bootSteps(ud)).toEqual(['codedeploy-agent-hold', 'node-runtime', 'tools', 'user-data', 'late', 'codedeploy-agent', 'lifecycle-continue']);
    expect(ud).not.toMatch(/(^|\s)node\s+\S*\.mjs/m);
  });

  test('without a step that needs it, no Node runtime is installed', () => {
    const { template, fleet } = build();
    fleet.addUserData('echo app');
    expect(bootSteps(userDataText(template()))).toEqual(['user-data', 'lifecycle-continue']);
  });

  test('the CodeDeploy agent is installed through the retried S3 download, started last and checked', () => {
    const { template } = build({ codeDeploy: true });
    const ud = userDataText(template());
    const agent = ud.slice(ud.indexOf('rf_step_codedeploy_agent() {'));
    expect(agent).toContain("s3_get 's3://aws-codedeploy-eu-west-1/latest/install'");
    expect(agent).toContain('systemctl is-active codedeploy-agent');
    expect(ud).not.toContain('wget');
  });
});

describe('MultiAzFleet notification topic key', () => {
  test('a topic with a key of this app: its policy lets the Auto Scaling service-linked role (and only it) use the key', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Ops', { masterKey: new kms.Key(stack, 'OpsKey') });
    new MultiAzFleet(stack, 'Fleet', { vpc: importedVpc(stack), machineImage: ec2.MachineImage.genericLinux(TEST_AMI), notificationTopic: topic });
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowPublish-autoscaling-notifications',
            Effect: 'Allow',
            // Any principal narrowed to the role: KMS refuses a policy naming a role that does not exist yet.
            Principal: { AWS: '*' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: {
              StringEquals: { 'aws:PrincipalAccount': '123456789012' },
              ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling' },
            },
          },
        ]),
      },
    });
  });

  test('an imported topic, or a topic with an imported key, draws a warning naming the role to allow', () => {
    const stack = testStack();
    const vpc = importedVpc(stack);
    const machineImage = ec2.MachineImage.genericLinux(TEST_AMI);
    new MultiAzFleet(stack, 'A', { vpc, machineImage, notificationTopic: sns.Topic.fromTopicArn(stack, 'Imported', 'arn:aws:sns:eu-west-1:123456789012:ops') });
    const importedKey = kms.Key.fromKeyArn(stack, 'TeamKey', 'arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666');
    new MultiAzFleet(stack, 'B', { vpc, machineImage, notificationTopic: new sns.Topic(stack, 'Team', { masterKey: importedKey }) });
    const a = Annotations.fromStack(stack);
    a.hasWarning('/Test/A', Match.stringLikeRegexp('notificationTopic: the topic is imported.*AWSServiceRoleForAutoScaling'));
    a.hasWarning('/Test/B', Match.stringLikeRegexp("notificationTopic: the topic's key is imported.*AWSServiceRoleForAutoScaling"));
  });
});
