/**
 * The reference site: every construct of resilient-fleet composed into one deployable app, the way the
 * classic redundant site is built. bin/app.ts calls this; tests call it to synthesize the same site.
 */
import {
  App,
  Stack,
  StackProps,
  aws_autoscaling as autoscaling,
  aws_ec2 as ec2,
  aws_kms as kms,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MultiAzFleet } from '../lib';

/** The fixed example environment; cdk.context.json answers its AZ lookup, so no credentials are needed. */
export const SITE_ENV = { account: '123456789012', region: 'eu-west-1' };

/** An example Amazon Linux 2023 AMI id, as an image pipeline would publish it. Replace with your own. */
export const EXAMPLE_AMI = 'ami-0a1b2c3d4e5f67890';

export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways: 3, // one per AZ: losing an AZ must not cut the others off
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    this.vpc.addFlowLog('FlowLog');
  }
}

export interface AppStackProps extends StackProps {
  readonly vpc: ec2.IVpc;
}

export class AppStack extends Stack {
  public readonly fleet: MultiAzFleet;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const key = new kms.Key(this, 'NotificationKey', {
      enableKeyRotation: true,
      description: 'Encrypts the app fleet notification topic',
    });
    const topic = new sns.Topic(this, 'FleetNotifications', { masterKey: key, enforceSSL: true });
    this.fleet = new MultiAzFleet(this, 'Fleet', {
      vpc: props.vpc,
      machineImage: ec2.MachineImage.genericLinux({ [SITE_ENV.region]: EXAMPLE_AMI }),
      minCapacity: 0,
      maxCapacity: 6,
      minInstancesInService: 2,
      codeDeploy: true,
      notificationTopic: topic,
      timeZone: 'Europe/Dublin',
      schedule: [
        // Dev and test fleets sleep on weeknights and weekends and wake up before people do.
        { name: 'MorningStart', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '7', minute: '0' }), minCapacity: 3, desiredCapacity: 3 },
        { name: 'NightlyStop', schedule: autoscaling.Schedule.cron({ weekDay: 'MON-FRI', hour: '20', minute: '0' }), minCapacity: 0, desiredCapacity: 0 },
      ],
    });
    this.fleet.addUserData('dnf install -y nginx', 'systemctl enable --now nginx');
  }
}

export interface SiteOptions {
  /** Which app stack receives traffic. */
  readonly active?: 'blue' | 'green';
}

/** Builds every stack of the reference site into `app`. */
export function buildReferenceSite(app: App, _options: SiteOptions = {}) {
  const network = new NetworkStack(app, 'Network', { env: SITE_ENV, description: 'resilient-fleet reference site: VPC over three AZs' });
  const appBlue = new AppStack(app, 'App-blue', { env: SITE_ENV, vpc: network.vpc, description: 'resilient-fleet reference site: app fleet (blue)' });
  return { network, appBlue };
}
