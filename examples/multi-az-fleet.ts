// examples/multi-az-fleet.ts: a web fleet over every AZ, replaced rather than repaired, deployed with CodeDeploy,
// asleep at night. Synthesize it with no AWS account: npx cdk synth --app "npx tsx examples/multi-az-fleet.ts"
import { App, Stack, aws_autoscaling as autoscaling, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { MultiAzFleet } from 'resilient-fleet';

const app = new App();
// No `env`: the stack is environment-agnostic and synthesizes with no credentials and no cdk.context.json
// (CDK then assumes two AZs). With a fixed `env`, the VPC looks up the account's AZs: answer that lookup in
// cdk.context.json (see examples/reference-site.ts) or synth once with credentials.
const stack = new Stack(app, 'WebFleet');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });

const fleet = new MultiAzFleet(stack, 'Web', {
  vpc,
  // An AMI built as an artefact (Packer, EC2 Image Builder), or any IMachineImage.
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
  codeDeploy: true, // application + deployment group, rollback on failure
  minCapacity: 0,
  maxCapacity: 6,
  timeZone: 'Europe/Dublin',
  schedule: [
    { name: 'MorningStart', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '7', minute: '0' }), minCapacity: 3, desiredCapacity: 3 },
    { name: 'NightlyStop', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '20', minute: '0' }), minCapacity: 0, desiredCapacity: 0 },
  ],
});
fleet.addUserData('dnf install -y nginx', 'systemctl enable --now nginx'); // runs before the CodeDeploy agent starts
fleet.guardLaunchLoops(); // see examples/launch-loop-guard.ts

app.synth();
