// examples/reference-site.ts: the classic redundant site in seven stacks, the way this repository's bin/app.ts builds
// it (shortened): long-lived Network, Addresses and Data; replaceable App-blue / App-green, Edge and Workers.
// Its stacks have a fixed env, so the VPC's AZ lookup must be answered: copy examples/cdk.context.json next to your
// cdk.json (or synth once with credentials). Synthesize: npx cdk synth --app "npx tsx examples/reference-site.ts"
import { App, Duration, Stack, StackProps, aws_autoscaling as autoscaling, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AddressStack, BlueGreen, DnsRegistrar, HaproxyFailoverPair, LeaderElection, MultiAzFleet, NameVisibility, QueueWorkerFleet, ReplicatedMysql } from 'resilient-fleet';

const env = { account: '123456789012', region: 'eu-west-1' }; // your account and Region
const machineImage = ec2.MachineImage.genericLinux({ [env.region]: 'ami-0123456789abcdef0' }); // your AMI
const clients = [9001, 9002, 9003].map((port, i) => ({ name: `customer-${i + 1}`, port }));

interface SiteProps extends StackProps {
  readonly vpc: ec2.IVpc;
  readonly addresses: AddressStack;
}

/** Long-lived: a VPC over three AZs with public, private (egress) and isolated subnets; a group the edge carries. */
class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly edgeGroup: ec2.SecurityGroup;
  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    this.edgeGroup = new ec2.SecurityGroup(this, 'EdgeGroup', { vpc: this.vpc, description: 'Carried by the TCP edge nodes' });
  }
}

/** Replaceable, swappable: one copy of the app (blue or green) with its leader, launch-loop guard and name. */
class AppStack extends Stack {
  constructor(scope: Construct, id: string, props: SiteProps & { readonly copy: 'blue' | 'green'; readonly edgeGroup: ec2.ISecurityGroup }) {
    super(scope, id, props);
    const fleet = new MultiAzFleet(this, 'Fleet', {
      vpc: props.vpc,
      machineImage,
      codeDeploy: true,
      minCapacity: 0,
      maxCapacity: 6,
      timeZone: 'Europe/Dublin',
      schedule: [
        { name: 'MorningStart', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '7', minute: '0' }), minCapacity: 3, desiredCapacity: 3 },
        { name: 'NightlyStop', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '20', minute: '0' }), minCapacity: 0, desiredCapacity: 0 },
      ],
    });
    new LeaderElection(this, 'Leader', { autoScalingGroup: fleet.autoScalingGroup }).installOn(fleet);
    fleet.guardLaunchLoops();
    fleet.connections.allowFrom(props.edgeGroup, ec2.Port.tcpRange(9001, 9003), 'client streams from the edge');
    fleet.connections.allowFrom(props.edgeGroup, ec2.Port.tcp(80), 'health checks from the edge');
    const refs = props.addresses.referencesIn(this, 'Addresses');
    new DnsRegistrar(this, 'AppName', { autoScalingGroup: fleet.autoScalingGroup, hostedZone: refs.privateZone!, recordName: `app-${props.copy}` });
  }
}

const app = new App();
const network = new NetworkStack(app, 'Network', { env });
const vpc = network.vpc;

const addresses = new AddressStack(app, 'Addresses', { env, zoneName: 'example.com', privateZoneVpcs: [vpc] });
const edgeIp = addresses.addElasticIp('edge');
addresses.addARecord('www-cluster3', [edgeIp.attrPublicIp]);
addresses.addCname('www.site1', 'www-cluster3.example.com');
addresses.addBlueGreenName('app-cluster3', {
  blueTarget: 'app-blue.example.com',
  greenTarget: 'app-green.example.com',
  active: app.node.tryGetContext('active') === 'green' ? BlueGreen.GREEN : BlueGreen.BLUE,
  visibility: NameVisibility.PRIVATE,
});

const data = new Stack(app, 'Data', { env });
new ReplicatedMysql(data, 'Mysql', { vpc, clusterName: 'cluster1', sites: [{ name: 'shop' }, { name: 'blog' }] });

for (const copy of ['blue', 'green'] as const) {
  new AppStack(app, `App-${copy}`, { env, vpc, addresses, copy, edgeGroup: network.edgeGroup });
}

const edge = new Stack(app, 'Edge', { env });
new HaproxyFailoverPair(edge, 'Pair', {
  vpc,
  backendName: addresses.fqdn('app-cluster3'), // follows the blue/green name; references no App copy
  securityGroups: [network.edgeGroup],
  clients,
  elasticIpAllocationId: addresses.referencesIn(edge, 'Addresses').elasticIpAllocationId('edge'),
});

const workers = new Stack(app, 'Workers', { env });
new QueueWorkerFleet(workers, 'Workers', {
  vpc,
  machineImage,
  acceptableLatency: Duration.minutes(10),
  averageJobDuration: Duration.minutes(2),
}).fleet.guardLaunchLoops();

app.synth();
