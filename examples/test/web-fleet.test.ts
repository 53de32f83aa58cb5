// examples/test/web-fleet.test.ts: a snapshot test of your own stack. The serializer in jest.config.js replaces the
// library's asset hashes with [ASSET HASH], so the snapshot does not change when a resilient-fleet release does.
import { App, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MultiAzFleet } from 'resilient-fleet';

test('the web fleet matches its snapshot', () => {
  const app = new App();
  const stack = new Stack(app, 'WebFleet');
  const fleet = new MultiAzFleet(stack, 'Web', {
    vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 }),
    machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
    codeDeploy: true,
  });
  fleet.guardLaunchLoops();
  expect(Template.fromStack(stack).toJSON()).toMatchSnapshot();
});
