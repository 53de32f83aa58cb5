// examples/address-stack.ts: Elastic IPs and names in their own long-lived stack, CNAME chains, a blue/green name,
// and a DnsRegistrar in a replaceable compute stack that keeps an A record equal to its group's instances.
// Synthesize: npx cdk synth --app "npx tsx examples/address-stack.ts"
import { App, Stack, StackProps, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AddressStack, BlueGreen, DnsRegistrar, MultiAzFleet, NameVisibility } from 'resilient-fleet';

/** Long-lived: the VPC. */
class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 3 });
  }
}

interface AppStackProps extends StackProps {
  readonly vpc: ec2.IVpc;
  readonly addresses: AddressStack;
  readonly copy: 'blue' | 'green';
}

/** Replaceable: one copy of the app, which registers its instances under app-<copy>.example.com. */
class AppStack extends Stack {
  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const fleet = new MultiAzFleet(this, 'Fleet', {
      vpc: props.vpc,
      machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
    });
    // SSM parameters, not exports: deleting or replacing this stack never changes the Addresses stack.
    const refs = props.addresses.referencesIn(this, 'Addresses');
    new DnsRegistrar(this, 'AppName', {
      autoScalingGroup: fleet.autoScalingGroup,
      hostedZone: refs.privateZone!, // the AddressStack has a private zone (privateZoneVpcs)
      recordName: `app-${props.copy}`, // A records = the group's in-service instances
    });
  }
}

const app = new App();
const network = new NetworkStack(app, 'Network');
const addresses = new AddressStack(app, 'Addresses', {
  zoneName: 'example.com',
  privateZoneVpcs: [network.vpc], // optional: a private zone of the same name (split horizon)
  terminationProtection: false, // on by default; off here so the example can be deleted
});
const edge = addresses.addElasticIp('edge'); // retained; allocation id published in SSM
addresses.addARecord('www-cluster3', [edge.attrPublicIp]);
addresses.addCname('www.site1', 'www-cluster3.example.com'); // www.site1 -> www-cluster3 -> the Elastic IP
addresses.addCname('db-master.site1', 'db-master-cluster3.example.com', { visibility: NameVisibility.PRIVATE });
addresses.addBlueGreenName('app-cluster3', {
  blueTarget: 'app-blue.example.com',
  greenTarget: 'app-green.example.com',
  active: BlueGreen.BLUE, // the one setting a swap changes
  visibility: NameVisibility.PRIVATE,
});

new AppStack(app, 'App-blue', { vpc: network.vpc, addresses, copy: 'blue' });
new AppStack(app, 'App-green', { vpc: network.vpc, addresses, copy: 'green' });

app.synth();
