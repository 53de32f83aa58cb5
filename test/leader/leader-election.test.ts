import { Duration, RemovalPolicy, Stack, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { LeaderElection, LeaderElectionProps, MultiAzFleet } from '../../lib';
import { TEST_AMI, importedVpc, testStack } from '../helpers';
import { NODE_BIN, NODE_PACKAGE } from '../../lib/private/node-runtime';
import { bootSteps, groupBoots, userDataText } from '../fleet/boot-assertions';
import { expectDeadLettersOf } from '../dead-letter-assertions';
import * as fc from 'fast-check';
import { leaderPk, runsPk } from '../../lambda/leader/logic';

function importedGroup(stack: Stack): autoscaling.IAutoScalingGroup {
  return autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', 'app-fleet');
}

function build(props: Partial<LeaderElectionProps> = {}) {
  const stack = testStack();
  const leader = new LeaderElection(stack, 'Leader', { autoScalingGroup: importedGroup(stack), ...props });
  return { stack, leader, template: Template.fromStack(stack) };
}

function withFleet() {
  const stack = testStack();
  const fleet = new MultiAzFleet(stack, 'Fleet', {
    vpc: importedVpc(stack),
    machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    minCapacity: 0,
    codeDeploy: true,
  });
  const leader = new LeaderElection(stack, 'Leader', { autoScalingGroup: fleet.autoScalingGroup });
  leader.installOn(fleet);
  return { stack, fleet, leader, template: Template.fromStack(stack) };
}

describe('LeaderElection defaults', () => {
  const { template } = build();

  test('keeps the ledger in an encrypted, point-in-time-recovered, retained DynamoDB table', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // SSEEnabled without a key: KMS with the AWS managed key (aws/dynamodb)
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  test('adds a terminate lifecycle hook that continues after two minutes at most', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      AutoScalingGroupName: 'app-fleet',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 120,
      DefaultResult: 'CONTINUE',
    });
  });

  test('runs one hook (Node 24, arm64) configured for the group', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: 120,
      Environment: {
        Variables: Match.objectLike({
          GROUP_NAME: 'app-fleet',
          TABLE_NAME: { Ref: Match.stringLikeRegexp('LeaderLedger') },
          HOOK_NAME: { Ref: Match.stringLikeRegexp('LeaderHandoverHook') },
          TAG_KEY: 'resilient-fleet:leader',
          PROTECT_LEADER: 'true',
          ABANDON_GRACE_MS: '300000',
        }),
      },
    });
  });

  test('listens to launches and terminate lifecycle actions of the group, and sweeps every 5 minutes', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance Launch Successful'], detail: { AutoScalingGroupName: ['app-fleet'] } },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: ['app-fleet'], LifecycleHookName: [{ Ref: Match.stringLikeRegexp('LeaderHandoverHook') }] },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test('lets the hook tag and protect only this group, and only with the leader tag key', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'Ledger',
            Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['app-fleet', 'app-fleet#leader'] } },
          }),
          Match.objectLike({
            Sid: 'ProtectAndReleaseOwnGroup',
            Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:SetInstanceProtection'],
            Resource: 'arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/app-fleet',
          }),
          Match.objectLike({
            Sid: 'TagOwnGroupLeader',
            Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
            Resource: 'arn:aws:ec2:eu-west-1:123456789012:instance/*',
            Condition: {
              StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': 'app-fleet' },
              'ForAllValues:StringEquals': { 'aws:TagKeys': ['resilient-fleet:leader'] },
            },
          }),
        ]),
      },
    });
  });

  test('matches the snapshot', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});

describe('LeaderElection with a MultiAzFleet', () => {
  const { template } = withFleet();

  const instancePolicy = () => {
    const [policy] = Object.values(template.findResources('AWS::IAM::Policy')).filter((r) => /^LeaderInstancePolicy/.test(r.Properties.PolicyName));
    return policy.Properties as { Roles: unknown[]; PolicyDocument: { Statement: Array<{ Sid: string; Action: string | string[]; Resource: unknown; Condition?: any }> } };
  };

  test('lets instances read the ledger and write every partition but the leader\'s, naming the ledger and never the group', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('LeaderInstancePolicy'),
      Roles: [{ Ref: Match.stringLikeRegexp('FleetInstanceRole') }],
      PolicyDocument: {
        Statement: [
          { Sid: 'ReadOwnGroup', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('LeaderLedger'), 'Arn'] } },
          {
            Sid: 'ClaimOwnGroupRuns',
            Effect: 'Allow',
            Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('LeaderLedger'), 'Arn'] },
            Condition: { 'ForAllValues:StringNotLike': { 'dynamodb:LeadingKeys': ['*#leader'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
          },
          Match.objectLike({ Action: 'autoscaling:DescribeAutoScalingInstances', Resource: '*' }),
        ],
      },
    });
    expect(JSON.stringify(instancePolicy())).not.toMatch(/FleetASG/);
  });

  test('the write condition refuses the leader item of any group and allows its runs partition (IAM StringLike on the hook\'s own keys)', () => {
    const [claim] = instancePolicy().PolicyDocument.Statement.filter((st) => st.Sid === 'ClaimOwnGroupRuns');
    const patterns: string[] = claim.Condition['ForAllValues:StringNotLike']['dynamodb:LeadingKeys'];
    // IAM StringLike: "*" is any run of characters, "?" one character, everything else literal and case-sensitive.
    const like = (value: string) =>
      patterns.some((p) => new RegExp(`^${p.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 's').test(value));
    // Auto Scaling group names: 1 to 255 printable ASCII characters; a name ending in "#leader" is refused at synth.
    const groupName = fc
      .string({ unit: fc.integer({ min: 33, max: 126 }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 255 })
      .filter((g) => !g.endsWith('#leader'));
    fc.assert(
      fc.property(groupName, (g) => {
        expect(like(leaderPk(g))).toBe(true);
        expect(like(runsPk(g))).toBe(false);
      }),
    );
  });

  test('installs leader-only and leader-status in user data, before the CodeDeploy agent starts', () => {
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: { UserData: unknown } } };
    const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('/usr/local/bin/leader-only');
    expect(userData).toContain('/usr/local/bin/leader-status');
    expect(userData).toContain('/etc/resilient-fleet/leader.json');
    expect(userData).toMatch(/LeaderLedger/);
    expect(userData.indexOf('leader-only')).toBeLessThan(userData.indexOf('systemctl start codedeploy-agent'));
  });

  test('gives the instances read access to exactly the tool object, not the asset bucket', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('FleetInstanceRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: Match.arrayWith([Match.stringLikeRegexp('^arn:aws:s3:::cdk-[a-z0-9]+-assets-123456789012-eu-west-1/[0-9a-f]{64}\\.mjs$')]),
          }),
        ]),
      },
    });
  });

  test('synthesizes without a dependency cycle between the group and the instance policy', () => {
    // Template.fromStack would throw on a cycle; the group waits for the leader's policy, the launch template need not.
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0] as { DependsOn?: string[] };
    expect((lt.DependsOn ?? []).some((d) => d.startsWith('LeaderInstancePolicy'))).toBe(false);
  });
});

describe('LeaderElection options', () => {
  test('sweepInterval sets the schedule', () => {
    build({ sweepInterval: Duration.minutes(10) }).template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
  });

  test('protectLeader: false tells the hook not to protect', () => {
    build({ protectLeader: false }).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PROTECT_LEADER: 'false' }) },
    });
  });

  test('tagKey changes the tag the hook writes and the tag key its role may use', () => {
    const { template, leader } = build({ tagKey: 'app:leader-term' });
    expect(leader.tagKey).toBe('app:leader-term');
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ TAG_KEY: 'app:leader-term' }) } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Condition: Match.objectLike({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['app:leader-term'] } }) })]),
      },
    });
  });

  test('handoverTimeout sets the lifecycle hook heartbeat', () => {
    build({ handoverTimeout: Duration.minutes(10) }).template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 600 });
  });

  test('abandonAfter sets the grace before a departed instance\'s run is abandoned', () => {
    build({ abandonAfter: Duration.minutes(30) }).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ABANDON_GRACE_MS: '1800000' }) },
    });
  });

  test('encryptionKey encrypts the ledger with a customer key and grants its use', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new LeaderElection(stack, 'Leader', { autoScalingGroup: importedGroup(stack), encryptionKey: key });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('LeaderHookRole'),
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt', 'kms:Encrypt']) })]) },
    });
  });

  test('removalPolicy DESTROY deletes the table with the stack and drops deletion protection', () => {
    build({ removalPolicy: RemovalPolicy.DESTROY }).template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  test('addToUserData installs the commands for any group and grants the given role', () => {
    const stack = testStack();
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const leader = new LeaderElection(stack, 'Leader', { autoScalingGroup: importedGroup(stack) });
    const userData = ec2.UserData.forLinux();
    leader.addToUserData(userData, role);
    expect(userData.render()).toContain('/usr/local/bin/leader-only');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('Role') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'ClaimOwnGroupRuns' })]) },
    });
  });

  test('userDataCommands returns the lines, for user data built some other way', () => {
    const { leader } = build();
    const lines = leader.userDataCommands();
    expect(lines.some((l) => l.includes('exec /usr/bin/node-24 /opt/resilient-fleet/leader/index.mjs only "$@"'))).toBe(true);
    expect(lines.some((l) => l.includes('exec /usr/bin/node-24 /opt/resilient-fleet/leader/index.mjs status "$@"'))).toBe(true);
  });
});

describe('LeaderElection validation', () => {
  const make = (props: Partial<LeaderElectionProps>) => () => build(props);
  test('fails when the group\'s name ends in "#leader" (its runs partition would look like the leader\'s)', () => {
    const stack = testStack();
    const named = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', 'batch#leader');
    expect(() => new LeaderElection(stack, 'Leader', { autoScalingGroup: named })).toThrow(/autoScalingGroup: got "batch#leader"; allowed: a group whose name does not end in "#leader"/);
  });
  test('fails when tagKey contains a slash (instance metadata cannot show it)', () => {
    expect(make({ tagKey: 'team/leader' })).toThrow(/tagKey: got "team\/leader"; allowed: 1 to 128 characters, no "\/" or spaces/);
  });
  test('fails when tagKey uses the reserved aws: prefix', () => {
    expect(make({ tagKey: 'aws:leader' })).toThrow(/tagKey: got "aws:leader".*not starting with "aws:"/);
  });
  test('fails when tagKey is longer than 128 characters', () => {
    expect(make({ tagKey: 'k'.repeat(129) })).toThrow(/tagKey: got "k{129}"/);
  });
  test('fails when sweepInterval is under a minute', () => {
    expect(make({ sweepInterval: Duration.seconds(30) })).toThrow(/sweepInterval: got "30 seconds"; allowed: whole minutes from 1 minute to 1 hour/);
  });
  test('fails when sweepInterval is not whole minutes', () => {
    expect(make({ sweepInterval: Duration.seconds(90) })).toThrow(/sweepInterval: got "1 minute 30 seconds"/);
  });
  test('fails when sweepInterval is over an hour', () => {
    expect(make({ sweepInterval: Duration.hours(2) })).toThrow(/sweepInterval: got "2 hours"/);
  });
  test('fails when handoverTimeout is under 30 seconds', () => {
    expect(make({ handoverTimeout: Duration.seconds(10) })).toThrow(/handoverTimeout: got "10 seconds"; allowed: 30 seconds to 2 hours/);
  });
  test('fails when handoverTimeout is over 2 hours', () => {
    expect(make({ handoverTimeout: Duration.hours(3) })).toThrow(/handoverTimeout: got "3 hours"/);
  });
  test('fails when abandonAfter is under a minute', () => {
    expect(make({ abandonAfter: Duration.seconds(5) })).toThrow(/abandonAfter: got "5 seconds"; allowed: 1 minute to 1 day/);
  });
  test('fails when abandonAfter is over a day', () => {
    expect(make({ abandonAfter: Duration.days(2) })).toThrow(/abandonAfter: got "2 days"/);
  });
  test('reports every problem at once', () => {
    expect(make({ tagKey: 'a b', sweepInterval: Duration.seconds(1), handoverTimeout: Duration.seconds(1) })).toThrow(/invalid props \(3\)/);
  });
});


describe('LeaderElection dead letters', () => {
  test('launch, terminate and sweep events that fail after every retry land in an encrypted queue with an alarm', () => {
    const { stack, leader, template } = build();
    expect(expectDeadLettersOf(stack, template, leader.function, leader.deadLetterQueue)).toBe(3);
    expect(leader.deadLetterAlarm).toBeDefined();
  });

  test('alarmTopic: the dead-letter alarm notifies it, and its key lets CloudWatch alarms use it', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Pager', { masterKey: new kms.Key(stack, 'PagerKey') });
    const leader = new LeaderElection(stack, 'Leader', { autoScalingGroup: importedGroup(stack), alarmTopic: topic });
    const t = Template.fromStack(stack);
    expectDeadLettersOf(stack, t, leader.function, leader.deadLetterQueue, /^Pager/);
    t.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]) } });
  });

  test('an imported alarmTopic draws a warning that its key cannot be checked', () => {
    const stack = testStack();
    new LeaderElection(stack, 'Leader', { autoScalingGroup: importedGroup(stack), alarmTopic: sns.Topic.fromTopicArn(stack, 'Pager', 'arn:aws:sns:eu-west-1:123456789012:pager') });
    Annotations.fromStack(stack).hasWarning('/Test/Leader', Match.stringLikeRegexp('alarmTopic: the topic is imported'));
  });
});

describe('LeaderElection on a MultiAzFleet boot contract', () => {
  const { template: t } = withFleet();

  test('installs the commands in their own step: after the Node runtime, before the CodeDeploy agent', () => {
    const ud = userDataText(t);
    expect(bootSteps(ud)).toEqual(['codedeploy-agent-hold', 'node-runtime', 'leader-commands', 'codedeploy-agent', 'lifecycle-continue']);
    expect(ud).toContain(`exec ${NODE_BIN} /opt/resilient-fleet/leader/index.mjs only "$@"`);
    expect(ud).toMatch(/s3_get 's3:\/\/cdk-[^']+\.mjs' \/opt\/resilient-fleet\/leader\/index\.mjs/);
  });

  test('the group waits for the leader\'s instance policy and every other policy of its role: none names the group', () => {
    const [boot] = groupBoots(t);
    expect(boot.policies).toContainEqual(expect.stringMatching(/^LeaderInstancePolicy/));
    expect(boot.namingGroup).toEqual([]);
    expect(boot.policies.filter((p) => !boot.dependsOn.includes(p))).toEqual([]);
  });

  test('a plain AutoScalingGroup of the same stack waits for the instance policy of its role too', () => {
    const stack = testStack();
    const group = new autoscaling.AutoScalingGroup(stack, 'Group', {
      vpc: importedVpc(stack),
      instanceType: new ec2.InstanceType('t3.micro'),
      machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    });
    new LeaderElection(stack, 'Leader', { autoScalingGroup: group });
    const [boot] = groupBoots(Template.fromStack(stack));
    expect(boot.namingGroup).toEqual([]);
    expect(boot.dependsOn).toContainEqual(expect.stringMatching(/^LeaderInstancePolicy/));
  });

  test('the plain user-data lines (outside the contract) install the supported runtime and stop on a failed download', () => {
    const { leader } = build();
    const lines = leader.userDataCommands();
    expect(lines).toContain(`rpm -q ${NODE_PACKAGE} > /dev/null 2>&1 || dnf install -y ${NODE_PACKAGE} || exit 1`);
    expect(lines.find((l) => l.startsWith('aws s3 cp'))).toMatch(/\|\| exit 1$/);
  });
});
