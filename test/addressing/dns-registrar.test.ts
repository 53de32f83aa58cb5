import { Duration, Stack, Token, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_route53 as route53 } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { DnsRegistrar, RegisteredAddress, type DnsRegistrarProps } from '../../lib';
import { TEST_AMI, importedVpc, testStack } from '../helpers';
import { expectDeadLettersOf } from '../dead-letter-assertions';

function setup(props: Partial<DnsRegistrarProps> = {}) {
  const stack = testStack();
  const vpc = importedVpc(stack);
  const group = new autoscaling.AutoScalingGroup(stack, 'Group', {
    vpc,
    instanceType: new ec2.InstanceType('t3.small'),
    machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
  });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
  const registrar = new DnsRegistrar(stack, 'Registrar', { autoScalingGroup: group, hostedZone, recordName: 'www-cluster3', ...props });
  return { stack, group, registrar, template: () => Template.fromStack(stack) };
}

function env(stack: Stack): Record<string, unknown> {
  const fns = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  return Object.values(fns)[0].Properties.Environment.Variables;
}

describe('DnsRegistrar', () => {
  test('at defaults: a termination hook, three rules (hooks, launch/terminate, sweep) and the hook function', () => {
    const { template, registrar } = setup();
    const t = template();
    expect(registrar.recordFqdn).toBe('www-cluster3.example.com');
    t.resourceCountIs('AWS::AutoScaling::LifecycleHook', 1);
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      DefaultResult: 'CONTINUE',
      HeartbeatTimeout: 60,
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-launch Lifecycle Action', 'EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [Match.anyValue()], LifecycleHookName: [Match.anyValue()] },
      },
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ 'detail-type': ['EC2 Instance Launch Successful', 'EC2 Instance Terminate Successful'] }),
    });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    t.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Timeout: 180 });
    expect(t.toJSON()).toMatchSnapshot();
  });

  test('tells the function its record, zone, TTL and mode', () => {
    const { stack } = setup();
    expect(env(stack)).toMatchObject({
      HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ',
      RECORD_NAME: 'www-cluster3.example.com',
      RECORD_TTL: '60',
      SINGLE_HOST: 'false',
      ADDRESS_KIND: 'private',
      REGISTER_BEFORE_IN_SERVICE: 'false',
      DRAIN_SECONDS: '60',
    });
    expect(env(stack).LAUNCH_HOOK_NAME).toBeUndefined();
  });

  test('may change only its own A record in its zone (least privilege)', () => {
    const { template } = setup();
    template().hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'ChangeOnlyThisRecord',
            Effect: 'Allow',
            Action: 'route53:ChangeResourceRecordSets',
            Resource: 'arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ',
            Condition: {
              'ForAllValues:StringEquals': {
                'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['www-cluster3.example.com'],
                'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
                'route53:ChangeResourceRecordSetsActions': ['CREATE', 'DELETE'],
              },
            },
          },
          Match.objectLike({ Sid: 'CompleteOwnLifecycleActions', Action: 'autoscaling:CompleteLifecycleAction' }),
        ]),
      },
    });
  });

  test('a fully qualified recordName is kept as is', () => {
    expect(setup({ recordName: 'DB-Master.example.com' }).registrar.recordFqdn).toBe('db-master.example.com');
  });

  test('ttl, singleHost and address reach the function', () => {
    const { stack } = setup({ ttl: Duration.seconds(30), singleHost: true, address: RegisteredAddress.PUBLIC_IP });
    expect(env(stack)).toMatchObject({ RECORD_TTL: '30', SINGLE_HOST: 'true', ADDRESS_KIND: 'public', DRAIN_SECONDS: '30' });
  });

  test('drainTime sets how long a leaving instance waits (the hook heartbeat), at least 30 s', () => {
    const long = setup({ drainTime: Duration.minutes(2) });
    long.template().hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 120 });
    expect(env(long.stack).DRAIN_SECONDS).toBe('120');
    setup({ drainTime: Duration.seconds(10), ttl: Duration.seconds(5) }).template().hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 30 });
  });

  test('drainTime zero lets instances go at once (the function completes the action); the heartbeat is only a fallback', () => {
    const { stack, template } = setup({ drainTime: Duration.seconds(0) });
    expect(env(stack).DRAIN_SECONDS).toBe('0');
    template().hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 300 });
  });

  test('registerBeforeInService adds a launch hook, and the rule listens for both hooks', () => {
    const { stack, template, registrar } = setup({ registerBeforeInService: true });
    expect(registrar.launchHook).toBeDefined();
    template().resourceCountIs('AWS::AutoScaling::LifecycleHook', 2);
    template().hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', DefaultResult: 'CONTINUE' });
    expect(env(stack).REGISTER_BEFORE_IN_SERVICE).toBe('true');
    expect(env(stack).LAUNCH_HOOK_NAME).toEqual({ Ref: expect.stringMatching(/LaunchHook/) });
    template().hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { AutoScalingGroupName: Match.anyValue(), LifecycleHookName: [Match.anyValue(), Match.anyValue()] } }),
    });
  });

  test('sweepInterval sets the schedule', () => {
    setup({ sweepInterval: Duration.minutes(15) }).template().hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
  });

  test('warns when the TTL is high, and when the drain is shorter than the TTL', () => {
    const { stack } = setup({ ttl: Duration.minutes(10), drainTime: Duration.seconds(60) });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('ttl is 600 seconds'));
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('drainTime \\(60 s\\) is shorter than ttl'));
  });
});

describe('DnsRegistrar validation', () => {
  test('fails on a bad or wildcard record name', () => {
    expect(() => setup({ recordName: 'www cluster' })).toThrow(/recordName: got "www cluster"/);
    expect(() => setup({ recordName: '*.example.com' })).toThrow(/recordName: got "\*.example.com"; allowed: .*no wildcard/);
  });

  test('fails when a fully qualified recordName is outside the zone', () => {
    expect(() => setup({ recordName: 'www.example.org.' })).toThrow(/recordName: got "www.example.org."; allowed: a name inside example.com/);
  });

  test('fails when the zone name is a token', () => {
    const stack = testStack();
    const group = new autoscaling.AutoScalingGroup(stack, 'Group', {
      vpc: importedVpc(stack),
      instanceType: new ec2.InstanceType('t3.small'),
      machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    });
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z1', zoneName: Token.asString({ Ref: 'ZoneName' }) });
    expect(() => new DnsRegistrar(stack, 'R', { autoScalingGroup: group, hostedZone, recordName: 'www' })).toThrow(/hostedZone: got "a zone whose zoneName is a token"/);
  });

  test('fails on a TTL out of range', () => {
    expect(() => setup({ ttl: Duration.days(3) })).toThrow(/ttl: got "259200 seconds"; allowed: 0 to 172800/);
  });

  test('fails on a drain time beyond the lifecycle hook limit', () => {
    expect(() => setup({ drainTime: Duration.hours(3) })).toThrow(/drainTime: got "10800 seconds"; allowed: 0 to 7200/);
  });

  test('fails on a sweep interval that is not whole minutes from 1 minute to 1 day', () => {
    expect(() => setup({ sweepInterval: Duration.seconds(30) })).toThrow(/sweepInterval: got "30 seconds"/);
    expect(() => setup({ sweepInterval: Duration.days(2) })).toThrow(/sweepInterval: got "172800 seconds"/);
  });

  test('fails when registerBeforeInService is combined with singleHost', () => {
    expect(() => setup({ registerBeforeInService: true, singleHost: true })).toThrow(/registerBeforeInService: got true; allowed: false together with singleHost/);
  });
});


describe('DnsRegistrar dead letters', () => {
  test('lifecycle, launch/terminate and sweep events that fail after every retry land in an encrypted queue with an alarm', () => {
    const { stack, registrar, template } = setup();
    expect(expectDeadLettersOf(stack, template(), registrar.function, registrar.deadLetterQueue)).toBe(3);
    expect(registrar.deadLetterAlarm).toBeDefined();
  });
});
