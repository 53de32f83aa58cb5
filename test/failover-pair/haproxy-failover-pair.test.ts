import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_s3_assets as s3assets, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { HaproxyFailoverPair, HaproxyFailoverPairProps, MultiAzFleet } from '../../lib';
import { TEST_AMI, importedVpc, testStack } from '../helpers';
import { BOOT_LIFECYCLE_HOOK_NAME, FLEET_GROUP_TAG_KEY } from '../../lib/private/boot-contract';
import { NODE_BIN } from '../../lib/private/node-runtime';
import { bootSteps, groupBoots, userDataText } from '../fleet/boot-assertions';

const CLIENTS = [
  { name: 'acme', port: 9001 },
  { name: 'globex', port: 9002, backendPort: 7002 },
  { name: 'initech', port: 9003, allowFrom: ['203.0.113.0/24'] },
];

function build(extra: Partial<HaproxyFailoverPairProps> = {}, opts: { azs?: number; importedGroup?: boolean; noGroup?: boolean } = {}) {
  const stack = testStack();
  const vpc = importedVpc(stack, opts.azs ?? 3);
  const backendGroup = opts.noGroup
    ? undefined
    : opts.importedGroup
    ? autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Imported', 'app-asg')
    : new MultiAzFleet(stack, 'App', { vpc, machineImage: ec2.MachineImage.genericLinux(TEST_AMI) }).autoScalingGroup;
  const pair = new HaproxyFailoverPair(stack, 'Pair', {
    vpc,
    backendGroup,
    machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    ...('clientsFile' in extra ? {} : { clients: CLIENTS }),
    ...extra,
  });
  return { stack, pair, vpc, template: () => Template.fromStack(stack) };
}

function userData(template: Template, index = 0): string {
  const lts = Object.values(template.findResources('AWS::EC2::LaunchTemplate')).filter((r) => JSON.stringify(r).includes('rfha'));
  return JSON.stringify((lts[index] as { Properties: { LaunchTemplateData: { UserData: unknown } } }).Properties.LaunchTemplateData.UserData);
}

describe('HaproxyFailoverPair defaults', () => {
  const { template, pair } = build();
  const t = template();

  test('matches the snapshot', () => {
    expect(t.toJSON()).toMatchSnapshot();
  });

  test('two single-instance groups, one per Availability Zone, replaced automatically', () => {
    t.resourcePropertiesCountIs('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '1' }, 2);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '1', VPCZoneIdentifier: ['subnet-0pub0'], HealthCheckType: 'EC2' });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '1', VPCZoneIdentifier: ['subnet-0pub1'] });
    expect(pair.availabilityZones).toEqual(['eu-west-1a', 'eu-west-1b']);
    expect(pair.nodes).toHaveLength(2);
  });

  test('VRRP (IP protocol 112) is allowed only from the pair\'s own security group', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: '112',
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('PairSecurityGroup'), 'GroupId'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('PairSecurityGroup'), 'GroupId'] },
    });
    const sg = Object.values(t.findResources('AWS::EC2::SecurityGroup')).find((r) => JSON.stringify(r).includes('VRRP only between')) as { Properties: { SecurityGroupIngress?: Array<{ IpProtocol: string; CidrIp?: string }> } };
    expect((sg.Properties.SecurityGroupIngress ?? []).filter((r) => r.IpProtocol === '112')).toEqual([]);
  });

  test('client ports open as one range, and the app admits the pair on the backend ports and check port', () => {
    const sg = Object.values(t.findResources('AWS::EC2::SecurityGroup')).find((r) => JSON.stringify(r).includes('VRRP only between')) as { Properties: { SecurityGroupIngress: unknown[] } };
    expect(sg.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 9001, ToPort: 9003, CidrIp: '0.0.0.0/0' }),
    ]);
    for (const [from, to] of [[80, 80], [7002, 7002], [9001, 9001], [9003, 9003]]) {
      t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { IpProtocol: 'tcp', FromPort: from, ToPort: to, SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('PairSecurityGroup'), 'GroupId'] } });
    }
  });

  test('creates a retained Elastic IP when none is passed', () => {
    t.hasResource('AWS::EC2::EIP', { Properties: { Domain: 'vpc' }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(pair.publicIp).toBeDefined();
  });

  test('IMDSv2, encrypted root volume, no SSH key', () => {
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
        KeyName: Match.absent(),
      }),
    });
  });

  test('the nodes differ only in priority (254, 253): roles settled by the stack, peers found by tag at boot', () => {
    expect(userData(t, 0)).toContain('RFHA_PRIORITY=254');
    expect(userData(t, 1)).toContain('RFHA_PRIORITY=253');
    expect(userData(t, 0).replace('RFHA_PRIORITY=254', '')).toEqual(userData(t, 1).replace('RFHA_PRIORITY=253', ''));
    expect(userData(t, 0)).toContain('index.mjs boot');
    expect(userData(t, 0)).not.toMatch(/\b10\.\d+\.\d+\.\d+\b/);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: Match.arrayWith([Match.objectLike({ Key: 'resilient-fleet:failover-pair', PropagateAtLaunch: true })]),
    });
  });

  test('may move only its own Elastic IP, to its own tagged instances', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'MoveThisPairsElasticIp', Action: 'ec2:AssociateAddress', Resource: Match.arrayWith([{ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':elastic-ip/'), { 'Fn::GetAtt': [Match.stringLikeRegexp('PairElasticIp'), 'AllocationId'] }])] }]) }),
          Match.objectLike({ Sid: 'ToThisPairsNodes', Condition: { StringEquals: { 'aws:ResourceTag/resilient-fleet:failover-pair': Match.stringLikeRegexp('Pair') } } }),
        ]),
      },
    });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).not.toContain('ReplaceRoute');
  });

  test('may associate the address only with network interfaces in the nodes\' own subnets, and modifies no instance attribute', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'OnlyInterfacesInTheNodesSubnets',
            Effect: 'Deny',
            Action: 'ec2:AssociateAddress',
            Resource: 'arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
            Condition: {
              ArnNotEqualsIfExists: { 'ec2:Subnet': ['arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0pub0', 'arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-0pub1'] },
            },
          },
        ]),
      },
    });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).not.toContain('ec2:ModifyInstanceAttribute');
    expect(policies).not.toContain('ec2:ReplaceRoute');
  });

  test('holds terminating app instances while HAProxy drains them', () => {
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 60,
      DefaultResult: 'CONTINUE',
      AutoScalingGroupName: { Ref: Match.stringLikeRegexp('AppASG|App') },
    });
  });

  test('may end the drain early only on the app group it tags', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: Match.arrayWith([Match.objectLike({ Key: 'resilient-fleet:failover-pair-backend', PropagateAtLaunch: false })]),
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'EndTheDrainOfTheAppGroup', Action: 'autoscaling:CompleteLifecycleAction', Condition: { StringEquals: { 'aws:ResourceTag/resilient-fleet:failover-pair-backend': Match.stringLikeRegexp('Pair') } } }),
        ]),
      },
    });
    expect(userData(t)).toContain('RFHA_DRAIN_HOOK=');
  });

  test('exposes the sorted client list', () => {
    expect(pair.clients.map((c) => c.port)).toEqual([9001, 9002, 9003]);
  });
});

describe('HaproxyFailoverPair options', () => {
  test('uses a given Elastic IP allocation id and creates none', () => {
    const { template, pair } = build({ elasticIpAllocationId: 'eipalloc-0123456789abcdef0' });
    const t = template();
    t.resourceCountIs('AWS::EC2::EIP', 0);
    expect(pair.elasticIpAllocationId).toBe('eipalloc-0123456789abcdef0');
    expect(userData(t)).toContain('RFHA_ALLOCATION_ID=eipalloc-0123456789abcdef0');
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).toContain(':elastic-ip/eipalloc-0123456789abcdef0');
  });

  test('routes a VPN virtual IP through the chosen route tables, and may replace only those routes', () => {
    const { template } = build({ vpnVirtualIp: '172.31.255.10', vpnRouteSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
    const t = template();
    expect(userData(t)).toContain('RFHA_VPN_CIDR=172.31.255.10/32');
    expect(userData(t)).toContain('RFHA_ROUTE_TABLES=rtb-0prv0,rtb-0prv1,rtb-0prv2');
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'RouteTheVpnVirtualIp', Action: ['ec2:CreateRoute', 'ec2:ReplaceRoute'] })]) },
    });
    // The source/destination check, and no other attribute, where IAM puts the attribute in the request context.
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'ToThisPairsNodes', Action: ['ec2:AssociateAddress', 'ec2:ModifyInstanceAttribute'], Condition: { StringEquals: { 'aws:ResourceTag/resilient-fleet:failover-pair': Match.stringLikeRegexp('Pair') } } }),
          { Sid: 'OnlyTheSourceDestCheck', Effect: 'Deny', Action: 'ec2:ModifyInstanceAttribute', Resource: '*', Condition: { StringNotEqualsIgnoreCaseIfExists: { 'ec2:Attribute': 'SourceDestCheck' } } },
        ]),
      },
    });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('route-table/rtb-0prv0');
    expect(policies).not.toContain('route-table/rtb-0pub0');
    expect(policies).toContain('ec2:ModifyInstanceAttribute');
  });

  test('routes the VPN virtual IP in every subnet\'s route table by default, and warns that every route there may be changed', () => {
    const { template, stack } = build({ vpnVirtualIp: '172.31.255.10' });
    expect(userData(template())).toContain('rtb-0pub0,rtb-0pub1,rtb-0pub2,rtb-0prv0,rtb-0prv1,rtb-0prv2,rtb-0iso0,rtb-0iso1,rtb-0iso2');
    Annotations.fromStack(stack).hasWarning(
      '/Test/Pair',
      Match.stringLikeRegexp('vpnRouteSubnets is not set, so the nodes may create or replace any route .* in all 9 route tables of the VPC; IAM cannot limit these calls to the route of vpnVirtualIp 172\\.31\\.255\\.10/32\\. Set vpnRouteSubnets'),
    );
    // A chosen selection is the user's decision: no warning.
    const chosen = build({ vpnVirtualIp: '172.31.255.10', vpnRouteSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
    chosen.template();
    expect(Annotations.fromStack(chosen.stack).findWarning('/Test/Pair', Match.stringLikeRegexp('vpnRouteSubnets'))).toEqual([]);
  });

  test('reads the clients from a JSON file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-clients-'));
    try {
      const file = path.join(dir, 'clients.json');
      fs.writeFileSync(file, JSON.stringify({ clients: [{ name: 'a', port: 12000 }, { name: 'b', port: 12001 }] }));
      const { pair, template } = build({ clientsFile: file });
      expect(pair.clients.map((c) => c.name)).toEqual(['a', 'b']);
      template().hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ FromPort: 12000, ToPort: 12001 })] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a thousand clients over scattered ports stay within the security group rule limit', () => {
    const clients = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, port: 10000 + i * 2 }));
    const { template } = build({ clients });
    const sg = Object.values(template().findResources('AWS::EC2::SecurityGroup')).find((r) => JSON.stringify(r).includes('VRRP only between')) as { Properties: { SecurityGroupIngress: unknown[] } };
    expect(sg.Properties.SecurityGroupIngress).toEqual([expect.objectContaining({ FromPort: 10000, ToPort: 11998 })]);
  });

  test('clientPeer restricts who may connect', () => {
    const { template } = build({ clientPeer: ec2.Peer.ipv4('198.51.100.0/24') });
    template().hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: '198.51.100.0/24', FromPort: 9001 })] });
  });

  test('advertInterval, failbackDelay, virtualRouterId, statsPort, backendCheckPort, maxBackendServers, maxConnections and drainTime reach the files and the hook', () => {
    const { template, stack, pair } = build({
      advertInterval: Duration.millis(100),
      failbackDelay: Duration.seconds(30),
      virtualRouterId: 77,
      statsPort: 9999,
      backendCheckPort: 8080,
      maxBackendServers: 16,
      maxConnections: 2000,
      drainTime: Duration.minutes(5),
    });
    const t = template();
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { HeartbeatTimeout: 300 });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 8080, ToPort: 8080 });
    // The files themselves, as staged for the nodes' Config asset.
    const dir = configDir(stack, pair);
    const staged = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    const keepalived = fs.readdirSync(dir).filter((f) => /^keepalived.*\.conf$/.test(f)).map(staged).join('\n');
    expect(keepalived).toMatch(/^\s*virtual_router_id 77$/m);
    expect(keepalived).toMatch(/^\s*advert_int 0\.1$/m);
    expect(keepalived).toMatch(/^\s*preempt_delay 30$/m);
    const haproxy = staged('haproxy.cfg');
    expect(haproxy).toMatch(/^\s*maxconn 2000$/m);
    expect(haproxy).toMatch(/^\s*bind 127\.0\.0\.1:9999$/m);
    const backend = fs.readdirSync(dir).filter((f) => f.endsWith('.cfg') || f.endsWith('.head')).map(staged).join('\n');
    expect(backend).toMatch(/check port 8080 /);
    expect(backend).toMatch(/# slots: 16\b/);
    // The stats port is for the node itself: no ingress rule of the template opens it (a bare search of the template
    // for "9999" also meets asset hashes, which change with every asset).
    const json = JSON.stringify(t.toJSON());
    expect(json).toMatch(/"FromPort":8080/);
    expect(json).not.toMatch(/"(FromPort|ToPort)":9999\b/);
  });

  test('instanceType, notificationTopic and an imported backend group', () => {
    const stack = testStack();
    const vpc = importedVpc(stack);
    const topic = new sns.Topic(stack, 'Topic');
    new HaproxyFailoverPair(stack, 'Pair', {
      vpc,
      backendGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Imported', 'app-asg'),
      clients: CLIENTS,
      machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.C7G, ec2.InstanceSize.XLARGE),
      notificationTopic: topic,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ InstanceType: 'c7g.xlarge' }) });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { NotificationConfigurations: [Match.objectLike({ TopicARN: { Ref: Match.stringLikeRegexp('Topic') } })] });
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { AutoScalingGroupName: 'app-asg' });
    expect(userDataOfAny(t)).toContain('RFHA_BACKEND_GROUP=app-asg');
  });

  test('warns about an advert interval below 50 ms', () => {
    const { stack } = build({ advertInterval: Duration.millis(20) });
    Annotations.fromStack(stack).hasWarning('/Test/Pair', Match.stringLikeRegexp('advertInterval is 20 ms'));
  });

  test('synth is deterministic', () => {
    const a = JSON.stringify(build().template().toJSON());
    const b = JSON.stringify(build().template().toJSON());
    expect(a).toEqual(b);
  });
});

function userDataOfAny(t: Template): string {
  return JSON.stringify(t.findResources('AWS::EC2::LaunchTemplate'));
}

describe('HaproxyFailoverPair validation', () => {
  const cases: Array<[string, Partial<HaproxyFailoverPairProps>, RegExp, { azs?: number; noGroup?: boolean }?]> = [
    ['both clients and clientsFile', { clients: CLIENTS, clientsFile: 'x.json' }, /clientsFile: got "x.json"; allowed: either clients or clientsFile, not both/],
    ['a missing clientsFile', { clients: undefined, clientsFile: 'does-not-exist.json' }, /clientsFile: cannot read "does-not-exist.json"/],
    ['duplicate client names', { clients: [{ name: 'a', port: 9001 }, { name: 'a', port: 9002 }] }, /clients\[1\]\.name: got "a"; allowed: a name used once/],
    ['duplicate client ports', { clients: [{ name: 'a', port: 9001 }, { name: 'b', port: 9001 }] }, /clients\[1\]\.port: got 9001; allowed: a port used once/],
    ['a port outside the allowed range', { clients: [{ name: 'a', port: 443 }] }, /clients\[0\]\.port: got 443; allowed: an integer from 1024 to 65535/],
    ['a port outside a narrowed range', { minClientPort: 9000, maxClientPort: 9100, clients: [{ name: 'a', port: 9200 }] }, /clients\[0\]\.port: got 9200; allowed: an integer from 9000 to 9100/],
    ["a port that collides with the pair's stats port", { clients: [{ name: 'a', port: 8404 }] }, /statsPort is 8404/],
    ["a port that collides with a moved stats port", { statsPort: 9002 }, /clients\[1\]\.port: got 9002; allowed: a port other than the pair's own \(statsPort is 9002\)/],
    ['an empty client list', { clients: [] }, /clients: got \[\]; allowed: at least one client/],
    ['minClientPort above maxClientPort', { minClientPort: 20000, maxClientPort: 10000 }, /minClientPort: got 20000; allowed: at most maxClientPort \(10000\)/],
    ['a bad statsPort', { statsPort: 70000 }, /statsPort: got 70000/],
    ['a bad listenerPort', { listenerPort: 0 }, /listenerPort: got 0; allowed: an integer from 1 to 65535/],
    ['a listenerPort equal to the stats port', { listenerPort: 8404 }, /listenerPort: got 8404; allowed: a port other than statsPort \(8404\): both are bound on 127\.0\.0\.1\. Fix: choose another listenerPort or statsPort/],
    ['a statsPort moved onto the listener port', { statsPort: 8405 }, /listenerPort: got 8405; allowed: a port other than statsPort \(8405\)/],
    ['a bad backendCheckPort', { backendCheckPort: 0 }, /backendCheckPort: got 0/],
    ['a bad virtualRouterId', { virtualRouterId: 256 }, /virtualRouterId: got 256; allowed: an integer from 1 to 255/],
    ['a bad maxBackendServers', { maxBackendServers: 0 }, /maxBackendServers: got 0/],
    ['a bad maxConnections', { maxConnections: 10 }, /maxConnections: got 10/],
    ['an advertInterval that is not whole centiseconds', { advertInterval: Duration.millis(55) }, /advertInterval: got "55 ms"; allowed: a multiple of 10 ms/],
    ['an advertInterval too long', { advertInterval: Duration.seconds(60) }, /advertInterval: got "60000 ms"/],
    ['a failbackDelay in fractions of a second', { failbackDelay: Duration.millis(1500) }, /failbackDelay: got "1.5 seconds"; allowed: whole seconds from 0 to 1000/],
    ['a failbackDelay too long', { failbackDelay: Duration.minutes(20) }, /failbackDelay: got "1200 seconds"/],
    ['a drainTime too short', { drainTime: Duration.seconds(10) }, /drainTime: got "10 seconds"; allowed: whole seconds from 30 to 7200/],
    ['an allocation id that is an address', { elasticIpAllocationId: '203.0.113.25' }, /elasticIpAllocationId: got "203.0.113.25"; allowed: an allocation id/],
    ['a VPN virtual IP that is not an address', { vpnVirtualIp: '172.31.255.10/32' }, /vpnVirtualIp: got "172.31.255.10\/32"; allowed: an IPv4 address/],
    ['a VPN virtual IP inside the VPC', { vpnVirtualIp: '10.0.200.1' }, /vpnVirtualIp: got "10.0.200.1"; allowed: an address outside the VPC's range \(10.0.0.0\/16\)/],
    ['vpnRouteSubnets without vpnVirtualIp', { vpnRouteSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } }, /vpnRouteSubnets: got "a subnet selection"; allowed: only together with vpnVirtualIp/],
    ['subnets in one Availability Zone', {}, /vpcSubnets: got \["eu-west-1a"\]; allowed: subnets in at least 2 Availability Zones/, { azs: 1 }],
    ['both backendGroup and backendName', { backendName: 'app-cluster3.example.com' }, /backendName: got "app-cluster3.example.com"; allowed: either backendGroup or backendName, not both/],
    ['neither backendGroup nor backendName', {}, /backendGroup: got undefined; allowed: an Auto Scaling group \(backendGroup\) or a DNS name \(backendName\)/, { noGroup: true }],
    ['a backendName that is not a full DNS name', { backendName: 'app cluster3' }, /backendName: got "app cluster3"; allowed: a fully qualified DNS name/, { noGroup: true }],
    ['a drainTime with backendName', { backendName: 'app-cluster3.example.com', drainTime: Duration.seconds(60) }, /drainTime: got "1 minute"; allowed: only together with backendGroup/, { noGroup: true }],
  ];
  // Every row gets its options object: jest would take a missing fourth argument for a done callback.
  test.each(cases.map(([what, extra, message, opts]) => [what, extra, message, opts ?? {}] as const))('fails on %s', (_what, extra, message, opts) => {
    expect(() => build(extra, opts)).toThrow(message);
  });

  test('fails without clients or clientsFile', () => {
    const stack = new Stack();
    const vpc = importedVpc(testStack());
    expect(
      () => new HaproxyFailoverPair(stack, 'Pair', { vpc, backendGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'G', 'g') }),
    ).toThrow(/clients: got undefined; allowed: a client list \(clients\) or a JSON file \(clientsFile\)/);
  });

  test('reports every problem at once', () => {
    expect(() => build({ virtualRouterId: 0, statsPort: 0, clients: [{ name: 'a', port: 1 }] })).toThrow(/invalid props \(3\)/);
  });
});

describe('HaproxyFailoverPair with backendName (DNS mode)', () => {
  const { template, stack, pair } = build({ backendName: 'app-cluster3.example.com' }, { noGroup: true });
  const t = template();

  test('HAProxy resolves the name itself: the agent is told the name and no app group', () => {
    const ud = userData(t);
    expect(ud).toContain('RFHA_BACKEND_NAME=app-cluster3.example.com');
    expect(ud).not.toContain('RFHA_BACKEND_GROUP');
    expect(ud).not.toContain('RFHA_DRAIN_HOOK');
  });

  test('ships the complete app backend with a server-template over the name, sized by maxBackendServers', () => {
    const dir = configDir(stack, pair);
    expect(fs.readFileSync(path.join(dir, 'app-backend.cfg'), 'utf8')).toContain('server-template app 64 app-cluster3.example.com resolvers vpc resolve-prefer ipv4 init-addr last,none check');
    expect(fs.readFileSync(path.join(dir, 'haproxy.cfg'), 'utf8')).toMatch(/resolvers vpc\n  parse-resolv-conf\n/);
    const small = build({ backendName: 'app.example.com', maxBackendServers: 8 }, { noGroup: true });
    expect(fs.readFileSync(path.join(configDir(small.stack, small.pair), 'app-backend.cfg'), 'utf8')).toContain('server-template app 8 app.example.com ');
  });

  test('puts no lifecycle hook, tag or ingress rule on any app group, and may not call Auto Scaling', () => {
    t.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1); // VRRP between the two nodes only
    // Only the nodes' own boot policy names Auto Scaling: completing their own groups' launch action (boot contract).
    const policies = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => !/BootPolicy/.test(id));
    expect(JSON.stringify(policies)).not.toContain('autoscaling:');
    expect(JSON.stringify(t.toJSON())).not.toContain('failover-pair-backend');
  });

  test('the nodes carry the extra securityGroups besides their own', () => {
    const edge = ec2.SecurityGroup.fromSecurityGroupId(new Stack(), 'Edge', 'sg-0edge0000000000');
    const extra = build({ backendName: 'app-cluster3.example.com', securityGroups: [edge] }, { noGroup: true }).template();
    const lts = Object.values(extra.findResources('AWS::EC2::LaunchTemplate')) as Array<{ Properties: { LaunchTemplateData: { SecurityGroupIds: unknown[] } } }>;
    expect(lts).toHaveLength(2);
    for (const lt of lts) {
      expect(lt.Properties.LaunchTemplateData.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^PairSecurityGroup/), 'GroupId'] }, 'sg-0edge0000000000']);
    }
  });
});

/** Where the pair's rendered files were staged for its Config asset. */
function configDir(stack: Stack, pair: HaproxyFailoverPair): string {
  const asset = pair.node.findChild('Config') as s3assets.Asset;
  const outdir = (stack.node.root as App).outdir;
  return path.isAbsolute(asset.assetPath) ? asset.assetPath : path.join(outdir, asset.assetPath);
}

describe('HaproxyFailoverPair node boot contract', () => {
  const { stack } = build();
  const t = Template.fromStack(stack);
  const boots = groupBoots(t).filter((b) => /^PairNode/.test(b.group));

  test('each node group holds its launch lifecycle hook in its own definition, ABANDON by default', () => {
    expect(boots).toHaveLength(2);
    for (const b of boots) expect(b.launchHooks).toEqual([expect.objectContaining({ LifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME, DefaultResult: 'ABANDON' })]);
  });

  test('each node group waits for every policy of the nodes\' role (the EC2 instance policy included)', () => {
    for (const b of boots) {
      expect(b.policies).toEqual(expect.arrayContaining([expect.stringMatching(/^PairInstancePolicy/), expect.stringMatching(/^PairBootPolicy/), expect.stringMatching(/^PairInstanceRoleDefaultPolicy/)]));
      for (const p of b.policies) expect(b.dependsOn).toContain(p);
    }
  });

  test('the nodes may complete the launch action of this pair\'s groups only (tag condition)', () => {
    const tag = (t.findResources('AWS::AutoScaling::AutoScalingGroup')[boots[0].group].Properties.Tags as Array<{ Key: string; Value: string }>).find((x) => x.Key === FLEET_GROUP_TAG_KEY)!;
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('PairBootPolicy'),
      PolicyDocument: {
        Statement: [Match.objectLike({ Action: 'autoscaling:CompleteLifecycleAction', Condition: { StringEquals: { [`aws:ResourceTag/${FLEET_GROUP_TAG_KEY}`]: tag.Value } } })],
      },
    });
  });

  test('launch templates: hop limit 1 and instance metadata tags (the group name for the lifecycle call)', () => {
    for (const b of boots) expect(b.metadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'enabled' });
  });

  test('the node boots in named steps, runs the agent with NODE_BIN (retried), and starts every rendered unit last', () => {
    const count = Object.keys(t.findResources('AWS::EC2::LaunchTemplate')).length;
    const ud = [...Array(count).keys()].map((i) => userDataText(t, i)).find((u) => u.includes('boot contract: HaproxyFailoverPair'))!;
    expect(bootSteps(ud)).toEqual(['packages', 'node-runtime', 'files', 'agent-boot', 'services', 'lifecycle-continue']);
    expect(ud).toContain(`retry ${NODE_BIN} /opt/rfha/agent/index.mjs boot`);
    expect(ud).toContain('for unit in /etc/rfha/rfha-*.service; do');
    expect(ud).not.toMatch(/(^|\s)node\s+\S*\.mjs/m);
  });
});
