import { Errors, Stack, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_events as events, aws_route53 as route53 } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AddressReferences, AddressStack, DnsRegistrar, HaproxyFailoverPair, LaunchLoopGuard, LeaderElection, MultiAzFleet, QueueWorkerFleet, ReplicatedMysql } from '../../lib';
import { TEST_AMI, TEST_ENV, importedVpc, testApp, testStack } from '../helpers';

const ami = () => ec2.MachineImage.genericLinux(TEST_AMI);
const group = (stack: Stack) => autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', 'app-asg');
const zone = (stack: Stack) => route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });

/** What a construct threw: the error itself, so tests can check its type and construct path as well as the text. */
function thrown(build: () => unknown): Error & { constructPath?: string } {
  try {
    build();
  } catch (e) {
    return e as Error & { constructPath?: string };
  }
  throw new Error('expected the construct to throw');
}

/** JavaScript callers have no compiler: these build props the types would refuse. */
const js = <T>(props: unknown): T => props as T;

describe('MultiAzFleet fails when', () => {
  const fleet = (schedule: ConstructorParameters<typeof MultiAzFleet>[2]['schedule'], extra: object = {}) => {
    const stack = testStack();
    return () => new MultiAzFleet(stack, 'Fleet', { vpc: importedVpc(stack), machineImage: ami(), minCapacity: 2, maxCapacity: 6, schedule, ...extra });
  };

  test("a scheduled action's cron has hour '25' (Schedule.cron)", () => {
    const e = thrown(fleet([{ name: 'Morning', schedule: autoscaling.Schedule.cron({ hour: '25', minute: '0' }), minCapacity: 2 }]));
    expect(e.message).toContain('MultiAzFleet: invalid props (1):\n  - schedule[0].schedule: got "0 25 * * *"; allowed: a 5-field Unix cron expression');
    expect(e.message).toContain('the hour field "25" has 25, outside 0 to 23. Fix: write hour as a value from 0 to 23');
  });

  test("a scheduled action's expression has day-of-week 'MON-FRY' (Schedule.expression)", () => {
    expect(() => fleet([{ name: 'Morning', schedule: autoscaling.Schedule.expression('0 7 * * MON-FRY'), minCapacity: 2 }])()).toThrow(
      /schedule\[0\]\.schedule: got "0 7 \* \* MON-FRY"; allowed: .*the day-of-week field "MON-FRY" has "FRY", which is not a number or a name \(SUN, MON, TUE, WED, THU, FRI, SAT\)\. Fix: write day-of-week as/,
    );
  });

  test('a scheduled action is written in EventBridge syntax', () => {
    expect(() => fleet([{ name: 'Morning', schedule: autoscaling.Schedule.expression('cron(0 7 ? * MON-FRI *)'), desiredCapacity: 3 }])()).toThrow(/schedule\[0\]\.schedule: .*not accepted by Auto Scaling/);
  });

  test("a scheduled minCapacity is above the group's maxCapacity (and one at it is fine)", () => {
    expect(() => fleet([{ name: 'Peak', schedule: autoscaling.Schedule.cron({ hour: '7', minute: '0' }), minCapacity: 7 }])()).toThrow(
      /schedule\[0\]\.minCapacity: got 7; allowed: at most the group's maxCapacity \(6\)/,
    );
    expect(() => fleet([{ name: 'Peak', schedule: autoscaling.Schedule.cron({ hour: '7', minute: '0' }), minCapacity: 6 }])()).not.toThrow();
  });

  test("a scheduled desiredCapacity is outside the group's range, or maxCapacity below its minimum", () => {
    const at7 = autoscaling.Schedule.cron({ hour: '7', minute: '0' });
    expect(() => fleet([{ name: 'A', schedule: at7, desiredCapacity: 7 }])()).toThrow(/schedule\[0\]\.desiredCapacity: got 7; allowed: between the group's minCapacity \(2\) and the group's maxCapacity \(6\)/);
    expect(() => fleet([{ name: 'A', schedule: at7, maxCapacity: 1 }])()).toThrow(/schedule\[0\]\.maxCapacity: got 1; allowed: at least the group's minCapacity \(2\)/);
    expect(() => fleet([{ name: 'Night', schedule: at7, minCapacity: 0, maxCapacity: 0, desiredCapacity: 0 }])()).not.toThrow();
  });

  test('a scheduled action has the cron string itself as its schedule (JavaScript)', () => {
    expect(() => fleet([js({ name: 'A', schedule: '0 7 * * MON-FRI', desiredCapacity: 3 })])()).toThrow(
      /^MultiAzFleet: invalid props \(1\):\n {2}- schedule\[0\]\.schedule: got "0 7 \* \* MON-FRI"; allowed: an autoscaling\.Schedule \(a string or other object is not one\)\. Fix: build it with Schedule\.expression/,
    );
  });

  test('a scheduled action has no schedule (JavaScript)', () => {
    expect(() => fleet([js({ name: 'A', desiredCapacity: 1 })])()).toThrow(/schedule\[0\]\.schedule: got undefined; allowed: an autoscaling.Schedule \(required\)/);
  });

  test('vpc or machineImage is missing (JavaScript), with a validation error scoped to the construct', () => {
    const stack = testStack();
    const e = thrown(() => new MultiAzFleet(stack, 'Fleet', js({ machineImage: undefined })));
    expect(e.message).toMatch(/^MultiAzFleet: invalid props \(2\):\n {2}- vpc: got undefined; allowed: an ec2.IVpc, .*\(required\)\. Fix: pass vpc\n {2}- machineImage: got undefined/);
    expect(e).not.toBeInstanceOf(TypeError);
    expect(Errors.isValidationError(e)).toBe(true);
    expect(e.constructPath).toBe('Test/Fleet');
  });

  test('the props object itself is missing (JavaScript)', () => {
    const stack = testStack();
    expect(() => new MultiAzFleet(stack, 'Fleet', js(undefined))).toThrow(/props: got undefined; allowed: a props object with vpc, machineImage/);
  });

  test('every other props error is a scoped ValidationError too', () => {
    const e = thrown(fleet(undefined, { minCapacity: 9 }));
    expect(Errors.isValidationError(e)).toBe(true);
    expect(e.constructPath).toBe('Test/Fleet');
  });
});

describe('HaproxyFailoverPair fails when', () => {
  const pair = (vpc: (s: Stack) => ec2.IVpc, vpnVirtualIp: string) => {
    const stack = testStack();
    const v = vpc(stack);
    return () => new HaproxyFailoverPair(stack, 'Pair', { vpc: v, backendName: 'app-cluster3.example.com', clients: [{ name: 'acme', port: 9001 }], machineImage: ami(), vpnVirtualIp });
  };

  test("vpnVirtualIp is inside a new ec2.Vpc's configured range (its vpcCidrBlock is a token)", () => {
    const newVpc = (s: Stack) => new ec2.Vpc(s, 'Vpc', { ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16'), maxAzs: 2 });
    expect(pair(newVpc, '10.20.255.10')).toThrow(/vpnVirtualIp: got "10.20.255.10"; allowed: an address outside the VPC's range \(10.20.0.0\/16\)/);
    expect(pair(newVpc, '10.21.0.1')).not.toThrow();
    expect(pair(newVpc, '10.19.255.255')).not.toThrow();
  });

  test("vpnVirtualIp is inside the default range of a new ec2.Vpc (10.0.0.0/16)", () => {
    expect(pair((s) => new ec2.Vpc(s, 'Vpc', { maxAzs: 2 }), '10.0.0.5')).toThrow(/vpnVirtualIp: got "10.0.0.5"; allowed: an address outside the VPC's range \(10.0.0.0\/16\)/);
  });

  test('vpnVirtualIp is inside an imported VPC range, as before', () => {
    expect(pair(importedVpc, '10.0.200.1')).toThrow(/vpnVirtualIp: got "10.0.200.1"/);
    expect(pair(importedVpc, '172.31.255.10')).not.toThrow();
  });

  test('vpnVirtualIp with a VPC imported without vpcCidrBlock is not compared (and not aws-cdk-lib\'s "not supplied" error)', () => {
    const noCidr = (s: Stack) => ec2.Vpc.fromVpcAttributes(s, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      publicSubnetIds: ['subnet-0pub0', 'subnet-0pub1'],
      publicSubnetRouteTableIds: ['rtb-0pub0', 'rtb-0pub1'],
    });
    expect(pair(noCidr, '10.0.200.1')).not.toThrow();
  });

  test('vpc is missing (JavaScript)', () => {
    const stack = testStack();
    const e = thrown(() => new HaproxyFailoverPair(stack, 'Pair', js({ backendName: 'app.example.com', clients: [{ name: 'a', port: 9001 }] })));
    expect(e.message).toMatch(/^HaproxyFailoverPair: invalid props \(1\):\n {2}- vpc: got undefined; allowed: an ec2.IVpc/);
    expect(e.constructPath).toBe('Test/Pair');
  });
});

describe('ReplicatedMysql fails when', () => {
  test('the VPC has no isolated subnets and vpcSubnets is not set: names ReplicatedMysql and vpcSubnets and explains the default', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }); // public and private-with-egress subnets only
    const e = thrown(() => new ReplicatedMysql(stack, 'Db', { vpc, clusterName: 'shop' }));
    expect(e.message).toMatch(/^ReplicatedMysql: invalid props \(1\):\n {2}- vpcSubnets: got undefined; allowed: .*by default the VPC's isolated subnets .*this VPC has none\. Fix: add an isolated subnet group .* or choose the subnets: vpcSubnets: \{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS \}/);
    expect(e.message).not.toMatch(/There are no 'Isolated' subnet groups/);
    expect(e.constructPath).toBe('Test/Db');
  });

  test('following the fix (vpcSubnets on a VPC without isolated subnets) synthesizes', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    new ReplicatedMysql(stack, 'Db', { vpc, clusterName: 'shop', vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
    Template.fromStack(stack).resourceCountIs('AWS::RDS::DBSubnetGroup', 1);
  });

  test('the VPC has no subnets with egress for the provisioner and backup check, and lambdaSubnets is not set', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    expect(() => new ReplicatedMysql(stack, 'Db', { vpc, clusterName: 'shop' })).toThrow(/lambdaSubnets: got undefined; allowed: .*private subnets with egress, and this VPC has none/);
  });

  test('verifySchedule has an invalid cron field', () => {
    const stack = testStack();
    expect(() => new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', verifySchedule: events.Schedule.cron({ minute: '0', hour: '25' }) })).toThrow(
      /verifySchedule: got "cron\(0 25 \* \* \? \*\)"; allowed: an EventBridge cron expression .*the hours field "25" has 25, outside 0 to 23/,
    );
  });

  test('verifySchedule is the cron string itself (JavaScript)', () => {
    const stack = testStack();
    expect(() => new ReplicatedMysql(stack, 'Db', js({ vpc: importedVpc(stack), clusterName: 'shop', verifySchedule: 'cron(0 7 ? * MON-FRI *)' }))).toThrow(
      /verifySchedule: got "cron\(0 7 \? \* MON-FRI \*\)"; allowed: an events\.Schedule \(a string or other object is not one\)\. Fix: build it with events\.Schedule\.expression/,
    );
  });

  test('vpc and clusterName are missing (JavaScript)', () => {
    const stack = testStack();
    expect(() => new ReplicatedMysql(stack, 'Db', js({}))).toThrow(/ReplicatedMysql: invalid props \(2\):\n {2}- vpc: got undefined.*\n {2}- clusterName: got undefined/);
  });
});

describe('every construct names its missing required props (JavaScript), never a TypeError', () => {
  test('DnsRegistrar with hostedZone: undefined', () => {
    const stack = testStack();
    const e = thrown(() => new DnsRegistrar(stack, 'Registrar', js({ autoScalingGroup: group(stack), hostedZone: undefined, recordName: 'www' })));
    expect(e.message).toBe(
      'DnsRegistrar: invalid props (1):\n  - hostedZone: got undefined; allowed: a route53.IHostedZone, for example the public or private zone of an AddressStack (required). Fix: pass hostedZone',
    );
    expect(e.constructPath).toBe('Test/Registrar');
  });

  test('DnsRegistrar without autoScalingGroup and recordName', () => {
    const stack = testStack();
    expect(() => new DnsRegistrar(stack, 'Registrar', js({ hostedZone: zone(stack) }))).toThrow(/invalid props \(2\):\n {2}- autoScalingGroup: got undefined.*\n {2}- recordName: got undefined/);
  });

  test('LaunchLoopGuard without autoScalingGroup', () => {
    const stack = testStack();
    expect(() => new LaunchLoopGuard(stack, 'Guard', js({}))).toThrow(/^LaunchLoopGuard: invalid props \(1\):\n {2}- autoScalingGroup: got undefined; allowed: an autoscaling.IAutoScalingGroup/);
  });

  test('LeaderElection without autoScalingGroup', () => {
    const stack = testStack();
    expect(() => new LeaderElection(stack, 'Leader', js({ tagKey: 'leader' }))).toThrow(/^LeaderElection: invalid props \(1\):\n {2}- autoScalingGroup: got undefined/);
  });

  test('QueueWorkerFleet without vpc', () => {
    const stack = testStack();
    expect(() => new QueueWorkerFleet(stack, 'Workers', js({ machineImage: ami() }))).toThrow(/^QueueWorkerFleet: invalid props \(1\):\n {2}- vpc: got undefined; allowed: an ec2.IVpc/);
  });

  test('AddressReferences without parameterPrefix', () => {
    const stack = testStack();
    expect(() => new AddressReferences(stack, 'Refs', js({ zoneName: 'example.com' }))).toThrow(/^AddressReferences: invalid props \(1\):\n {2}- parameterPrefix: got undefined/);
  });

  test('AddressStack without props or zoneName', () => {
    expect(() => new AddressStack(testApp(), 'Addresses', js(undefined))).toThrow(/^AddressStack: invalid props \(2\):\n {2}- props: got undefined.*\n {2}- zoneName: got undefined/);
    expect(() => new AddressStack(testApp(), 'Addresses', js({ env: TEST_ENV }))).toThrow(/^AddressStack: invalid props \(1\):\n {2}- zoneName: got undefined; allowed: the public zone's domain name/);
  });
});

describe('nested required fields from JavaScript are validation errors too', () => {
  test('MultiAzFleet: an empty schedule entry', () => {
    const stack = testStack();
    expect(() => new MultiAzFleet(stack, 'Fleet', { vpc: importedVpc(stack), machineImage: ami(), schedule: [js(undefined)] })).toThrow(/^MultiAzFleet: invalid props \(1\):\n {2}- schedule\[0\]: got undefined; allowed: a scheduled capacity/);
  });

  test('ReplicatedMysql: a site without a name', () => {
    const stack = testStack();
    expect(() => new ReplicatedMysql(stack, 'Db', { vpc: importedVpc(stack), clusterName: 'shop', sites: [js({ databaseName: 'shop' })] })).toThrow(/^ReplicatedMysql: invalid props \(1\):\n {2}- sites\[0\]\.name: got undefined; allowed: a site name \(required\)/);
  });

  test('HaproxyFailoverPair: a client without a port', () => {
    const stack = testStack();
    expect(() => new HaproxyFailoverPair(stack, 'Pair', { vpc: importedVpc(stack), backendName: 'app.example.com', clients: [js({ name: 'acme' })] })).toThrow(/clients\[0\]\.port: got undefined/);
  });

  test('AddressStack.addCname without a name and target, addBlueGreenName without targets', () => {
    const addresses = new AddressStack(testApp(), 'Addresses', { env: TEST_ENV, zoneName: 'example.com' });
    const e = thrown(() => addresses.addCname(js(undefined), js(undefined)));
    expect(e.message).toMatch(/^AddressStack\.addCname: invalid props \(2\):\n {2}- recordName: got undefined; allowed: a DNS name relative to example.com \(required\).*\n {2}- target: got undefined; allowed: a fully qualified DNS name .*\(required\)/);
    expect(e.constructPath).toBe('Addresses');
    expect(() => addresses.addBlueGreenName('app', js({ active: 'blue' }))).toThrow(/blueTarget: got undefined; allowed: a fully qualified DNS name .*\(required\)[\s\S]*greenTarget: got undefined/);
  });
});
