// examples/launch-loop-guard.ts: stop a CodeDeploy launch loop at the third launch that never served, and page
// with the evidence. Synthesize: npx cdk synth --app "npx tsx examples/launch-loop-guard.ts"
import { App, Duration, Stack, aws_ec2 as ec2, aws_sns_subscriptions as subscriptions } from 'aws-cdk-lib';
import { LaunchLoopCircuitBreaker, LaunchLoopGuard, MultiAzFleet } from 'resilient-fleet';

const app = new App();
const stack = new Stack(app, 'GuardedFleet');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
const fleet = new MultiAzFleet(stack, 'Fleet', {
  vpc,
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
  codeDeploy: true,
});

// The short form: fleet.guardLaunchLoops() passes the fleet's group and deployment group.
// The long form, for any Auto Scaling group, with the options that matter:
const guard = new LaunchLoopGuard(stack, 'Guard', {
  autoScalingGroup: fleet.autoScalingGroup,
  deploymentGroup: fleet.deploymentGroup, // failed launch deployments count at once, and their error is reported
  shortLivedLaunches: 3, // launches that never served which confirm a loop
  window: Duration.minutes(30), // ... within this window
  circuitBreaker: LaunchLoopCircuitBreaker.SUSPEND_LAUNCH, // or HOLD_CAPACITY, or OFF (notify only)
});
// The notification carries the evidence: instance ids, the deployment's error, its script log and console output.
guard.topic.addSubscription(new subscriptions.EmailSubscription('oncall@example.com'));

app.synth();
