import * as path from 'path';
import { App, AppProps, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';

const root = path.join(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cdkJson = require(path.join(root, 'cdk.json')) as { context: Record<string, unknown> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cdkContext = require(path.join(root, 'cdk.context.json')) as Record<string, unknown>;

/** The feature flags and cached lookups the reference app synthesizes with (cdk.json + cdk.context.json). */
export const APP_CONTEXT: Record<string, unknown> = { ...cdkJson.context, ...cdkContext };

export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' };

/** An App with the project's feature flags; built-in CloudFormation validation off unless asked for. */
export function testApp(props: AppProps = {}): App {
  return new App({ ...props, context: { ...APP_CONTEXT, ...props.context } });
}

/** A stack with the fixed example env (three AZs from cdk.context.json). */
export function testStack(app: App = testApp(), id = 'Test'): Stack {
  return new Stack(app, id, { env: TEST_ENV });
}

/** A VPC imported by attributes, so no test needs a lookup. Three AZs, private and public subnets. */
export function importedVpc(stack: Stack, azCount = 3): ec2.IVpc {
  const azs = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'].slice(0, azCount);
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '10.0.0.0/16',
    availabilityZones: azs,
    publicSubnetIds: azs.map((_, i) => `subnet-0pub${i}`),
    publicSubnetRouteTableIds: azs.map((_, i) => `rtb-0pub${i}`),
    privateSubnetIds: azs.map((_, i) => `subnet-0prv${i}`),
    privateSubnetRouteTableIds: azs.map((_, i) => `rtb-0prv${i}`),
    isolatedSubnetIds: azs.map((_, i) => `subnet-0iso${i}`),
    isolatedSubnetRouteTableIds: azs.map((_, i) => `rtb-0iso${i}`),
  });
}

/** An AMI from an image pipeline, as users pass it. */
export const TEST_AMI = { 'eu-west-1': 'ami-0123456789abcdef0' };
