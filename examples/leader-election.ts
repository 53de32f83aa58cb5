// examples/leader-election.ts: database migrations run once per deployment, and a continuous leader for singleton
// jobs that the nightly scale-to-zero cannot lose. Synthesize: npx cdk synth --app "npx tsx examples/leader-election.ts"
import { App, Duration, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { LeaderElection, MultiAzFleet } from 'resilient-fleet';

const app = new App();
const stack = new Stack(app, 'AppWithLeader');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
const machineImage = ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' });

const fleet = new MultiAzFleet(stack, 'Fleet', { vpc, machineImage, minCapacity: 0, codeDeploy: true });
const leader = new LeaderElection(stack, 'Leader', {
  autoScalingGroup: fleet.autoScalingGroup,
  sweepInterval: Duration.minutes(5), // how often the ledger is checked against the group
});
// Installs `leader-only` and `leader-status` through user data, before the CodeDeploy agent starts. Then, in an
// appspec hook:  leader-only -- bundle exec rake db:migrate
// and in cron:   leader-status --check && /opt/app/bin/send-reminders
leader.installOn(fleet);

app.synth();
