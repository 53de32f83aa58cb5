// examples/haproxy-failover-pair.ts: a port per client on a HAProxy + keepalived pair in two AZs, in front of an app
// fleet; the Elastic IP moves to the backup in milliseconds when HAProxy dies on the master.
// Synthesize: npx cdk synth --app "npx tsx examples/haproxy-failover-pair.ts"
import { App, CfnOutput, Duration, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { HaproxyFailoverPair, MultiAzFleet } from 'resilient-fleet';

const app = new App();
const stack = new Stack(app, 'TcpEdge');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
const fleet = new MultiAzFleet(stack, 'App', {
  vpc,
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
});

const pair = new HaproxyFailoverPair(stack, 'Edge', {
  vpc,
  backendGroup: fleet.autoScalingGroup, // a MultiAzFleet or any Auto Scaling group (or backendName: a DNS name)
  clients: [
    { name: 'acme', port: 9001 },
    { name: 'globex', port: 9002, backendPort: 7002 }, // optional: another port on the app
    { name: 'initech', port: 9003, allowFrom: ['203.0.113.0/24'] }, // optional: only from these sources
  ], // or clientsFile: 'clients.json' (an array, or { "clients": [...] })
  // elasticIpAllocationId: ...,       // e.g. from an AddressStack; default: a new, retained Elastic IP
  vpnVirtualIp: '172.31.255.10', // optional: a private address for VPN clients, outside the VPC's range
  vpnRouteSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, // where traffic must reach it (the nodes may change any route there)
  advertInterval: Duration.millis(50), // VRRPv3 advert interval (the default)
  failbackDelay: Duration.seconds(10), // the preferred node takes the address back this long after it is healthy
});
// The pair adds the ingress rules its nodes need to the app group's security group (client backend ports and the
// check port, from the pair's group only); nothing else wires them together.
new CfnOutput(stack, 'EdgeAllocationId', { value: pair.elasticIpAllocationId });

app.synth();
