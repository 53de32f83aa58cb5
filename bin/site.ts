/**
 * The reference site: every construct of resilient-fleet composed into one deployable app, the way the
 * classic redundant site is built. bin/app.ts calls this; tests call it to synthesize the same site.
 */
import {
  Annotations,
  App,
  Duration,
  Stack,
  StackProps,
  aws_autoscaling as autoscaling,
  aws_ec2 as ec2,
  aws_kms as kms,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AddressStack, BlueGreen, DnsRegistrar, HaproxyClient, HaproxyFailoverPair, LaunchLoopGuard, LeaderElection, MultiAzFleet, NameVisibility } from '../lib';
import { ReplicatedMysql } from '../lib/mysql/replicated-mysql';
import { QueueWorkerFleet } from '../lib/workers/queue-worker-fleet';

/** The fixed example environment; cdk.context.json answers its AZ lookup, so no credentials are needed. */
export const SITE_ENV = { account: '123456789012', region: 'eu-west-1' };

/** An example Amazon Linux 2023 AMI id, as an image pipeline would publish it. Replace with your own. */
export const EXAMPLE_AMI = 'ami-0a1b2c3d4e5f67890';

/** The site's example domain; its public and private zones live in the Addresses stack. */
export const SITE_DOMAIN = 'example.com';

/** The two swappable copies of the app stack. */
export type AppCopy = 'blue' | 'green';

/** The stable name of the app: the edge sends traffic to it; the Addresses stack points it at app-blue or app-green. */
export const APP_CLUSTER_NAME = 'app-cluster3';

export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  /**
   * Carried by the TCP edge's nodes; app fleets admit it on the edge's backend ports. Owned here, by the long-lived
   * stack both sides already use, so that neither the Edge nor an App copy references the other: App copies and the
   * Edge can each be deleted, recreated or swapped without an export lock or a change to the other.
   */
  public readonly edgeSecurityGroup: ec2.SecurityGroup;

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
    // Outbound open: an App copy's allowFrom then adds no egress rule here (this stack never changes per copy).
    this.edgeSecurityGroup = new ec2.SecurityGroup(this, 'EdgeSecurityGroup', {
      vpc: this.vpc,
      description: 'Carried by the TCP edge (HAProxy pair) nodes; app fleets admit it on the edge backend ports',
      allowAllOutbound: true,
    });
  }
}

/**
 * The long-lived, retained Data stack: replicated MySQL with one logical database per site (each with its own
 * least-privilege users), db-master and db-replica names in a private zone, promotion and backup verification.
 */
export class DataStack extends Stack {
  public readonly mysql: ReplicatedMysql;

  constructor(scope: Construct, id: string, props: StackProps & { readonly vpc: ec2.IVpc }) {
    super(scope, id, props);
    const key = new kms.Key(this, 'AlarmKey', { enableKeyRotation: true, description: 'Encrypts the database alarm topic' });
    const alarms = new sns.Topic(this, 'DatabaseAlarms', { masterKey: key, enforceSSL: true });
    this.mysql = new ReplicatedMysql(this, 'Mysql', {
      vpc: props.vpc,
      clusterName: 'cluster1',
      sites: [{ name: 'shop' }, { name: 'blog' }],
      alarmTopic: alarms,
    });
  }
}

export interface AppStackProps extends StackProps {
  readonly vpc: ec2.IVpc;
  /**
   * The long-lived address stack. The app reads its zone ids from SSM parameters (weak references, no
   * Fn::ImportValue), so this stack can be deleted, recreated or duplicated without touching the addresses.
   */
  readonly addresses?: AddressStack;
  /** Which copy this is; its instances register under `app-<copy>.<domain>`. Must not depend on which copy is active. */
  readonly copy?: AppCopy;
  /** The edge's security group (from the Network stack), admitted on `edgePorts`. @default - the edge cannot reach the app */
  readonly edgeSecurityGroup?: ec2.ISecurityGroup;
  /** The ports the edge connects to on the app: streams and health checks. @default edgeBackendPorts() */
  readonly edgePorts?: ec2.Port[];
}

export class AppStack extends Stack {
  public readonly fleet: MultiAzFleet;
  /** Keeps app-<copy>.<domain> equal to the fleet's in-service instances (with `addresses` and `copy`). */
  public readonly registrar?: DnsRegistrar;
  /** Once-per-deployment commands (`leader-only -- <migration>`) and a continuous leader that the nightly stop cannot lose. */
  public readonly leader: LeaderElection;
  /** Stops a launch loop of the fleet at the third launch that never served, and publishes the evidence. */
  public readonly launchLoopGuard: LaunchLoopGuard;

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
    this.fleet.addUserData('dnf_install nginx', 'systemctl enable --now nginx', 'systemctl is-active nginx');
    // Migrations run once per deployment from a CodeDeploy hook (`leader-only -- <migration>`); singleton cron jobs
    // run behind `leader-status --check`. Installed before the CodeDeploy agent starts.
    // The fleet's topic also carries the hooks' dead-letter alarms: whoever watches the fleet hears of a lost event.
    this.leader = new LeaderElection(this, 'Leader', { autoScalingGroup: this.fleet.autoScalingGroup, alarmTopic: topic });
    this.leader.installOn(this.fleet);
    // A revision that cannot deploy to new instances makes the group relaunch them forever: stop it at the third.
    this.launchLoopGuard = this.fleet.guardLaunchLoops();
    if (props.edgeSecurityGroup) {
      // The rule lives here, on this copy's own group, and names the Network stack's group: the Edge never names an
      // App copy, and this copy does not care which copy is active (the edge resolves app-cluster3 to find it).
      for (const port of props.edgePorts ?? edgeBackendPorts()) {
        this.fleet.connections.allowFrom(props.edgeSecurityGroup, port, 'TCP edge (HAProxy pair): client streams and health checks');
      }
    }

    if (props.addresses && props.copy) {
      // The copy's own name (app-blue / app-green) in the private zone, kept equal to its in-service instances.
      // Which copy the stable name app-cluster3 points at is decided in the Addresses stack only.
      const refs = props.addresses.referencesIn(this, 'Addresses');
      this.registrar = new DnsRegistrar(this, 'AppName', {
        autoScalingGroup: this.fleet.autoScalingGroup,
        hostedZone: refs.privateZone!,
        recordName: `app-${props.copy}`,
        alarmTopic: topic,
      });
    }
  }
}

/** Where the Workers fleet's sample job is installed (its worker loop runs it for each message). */
export const SAMPLE_JOB_PATH = '/opt/app/process-one-job';

/**
 * The Workers fleet's sample job: one export request per message. It reads the body on stdin and writes it to
 * /var/lib/queue-worker/exports/<message id>.body (the only place the sandboxed job may write), then exits 0, so
 * job-guard deletes the message. An empty body exits 65 (EX_DATAERR): the message is received again and, after
 * the queue's maxReceiveCount, lands in the dead-letter queue.
 */
export const SAMPLE_JOB = `#!/bin/bash
set -euo pipefail
body="$(cat)"
if [ -z "$body" ]; then
  echo "process-one-job: empty message body" >&2
  exit 65
fi
out="\${EXPORT_DIR:-/var/lib/queue-worker/exports}"
mkdir -p "$out"
id="\${JOB_MESSAGE_ID:-$(printf '%s' "$body" | sha256sum | cut -c1-32)}"
id="\${id//[^A-Za-z0-9-]/_}"
tmp="$(mktemp "$out/.$id.XXXXXX")"
printf '%s\\n' "$body" > "$tmp"
mv -f "$tmp" "$out/$id.body"
echo "process-one-job: exported message $id (\${#body} bytes)"
`;

function dirOf(file: string): string {
  return file.slice(0, file.lastIndexOf('/'));
}

export interface WorkersStackProps extends StackProps {
  readonly vpc: ec2.IVpc;
}

/**
 * Replaceable: queue workers (image resizing, exports) on their own encrypted queue, scaled on the backlog per worker
 * from zero and back to zero, each job run under job-guard so a busy worker is never scaled in.
 */
export class WorkersStack extends Stack {
  public readonly workers: QueueWorkerFleet;
  /** Failed launches (every type and AZ out of capacity, a bad AMI) stop at the third, with the evidence. */
  public readonly launchLoopGuard: LaunchLoopGuard;

  constructor(scope: Construct, id: string, props: WorkersStackProps) {
    super(scope, id, props);
    const key = new kms.Key(this, 'NotificationKey', { enableKeyRotation: true, description: 'Encrypts the worker fleet notification topic' });
    const topic = new sns.Topic(this, 'FleetNotifications', { masterKey: key, enforceSSL: true });
    this.workers = new QueueWorkerFleet(this, 'Workers', {
      vpc: props.vpc,
      machineImage: ec2.MachineImage.genericLinux({ [SITE_ENV.region]: EXAMPLE_AMI }),
      maxCapacity: 6,
      acceptableLatency: Duration.minutes(10),
      averageJobDuration: Duration.minutes(2),
      jobTimeout: Duration.minutes(30),
      notificationTopic: topic,
      // One job at a time: job-guard receives a message (unprotected), runs this for it protected from scale-in
      // (body on stdin) and deletes the message on success.
      jobCommand: SAMPLE_JOB_PATH,
    });
    // The sample job, installed by user data at the path the worker loop runs (the fleet's worker service starts
    // after user data, as the unprivileged queue-worker user).
    this.workers.addUserData(
      `install -d -m 755 ${dirOf(SAMPLE_JOB_PATH)}`,
      `cat > ${SAMPLE_JOB_PATH} <<'SAMPLE_JOB_EOF'\n${SAMPLE_JOB}SAMPLE_JOB_EOF`,
      `chmod 755 ${SAMPLE_JOB_PATH}`,
    );
    this.launchLoopGuard = this.workers.fleet.guardLaunchLoops();
  }
}

/** The site's customers of the TCP edge, as data: a port each (9001, 9002, ...), some restricted to their own networks. */
export function exampleEdgeClients(count = 300): HaproxyClient[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `customer-${String(i + 1).padStart(4, '0')}`,
    port: 9001 + i,
    ...(i % 25 === 0 ? { allowFrom: [`198.51.100.${i % 256}/32`, '203.0.113.0/24'] } : {}),
  }));
}

/** The ports the edge connects to on the app instances: the customers' backend ports (as one range) and the check port. */
export function edgeBackendPorts(clients: HaproxyClient[] = exampleEdgeClients(), checkPort = 80): ec2.Port[] {
  const ports = clients.map((c) => c.backendPort ?? c.port);
  const [low, high] = [Math.min(...ports), Math.max(...ports)];
  return [low === high ? ec2.Port.tcp(low) : ec2.Port.tcpRange(low, high), ec2.Port.tcp(checkPort)];
}

export interface EdgeStackProps extends StackProps {
  readonly vpc: ec2.IVpc;
  /**
   * The long-lived address stack: the pair's Elastic IP (`edge`) is read from its SSM parameter (a weak reference),
   * and the app is reached by its stable name `app-cluster3.<zone>`.
   */
  readonly addresses: AddressStack;
  /** The Network stack's group that the app copies admit; the nodes carry it besides their own. */
  readonly edgeSecurityGroup: ec2.ISecurityGroup;
}

/**
 * The TCP edge: a HAProxy + keepalived pair routing a port per customer to the app; replaceable. It references no App
 * copy: HAProxy resolves app-cluster3 at run time (the Addresses stack's blue/green CNAME to app-blue or app-green, whose
 * A records each copy's DnsRegistrar keeps), so a blue/green swap or a deleted copy never changes this stack.
 */
export class EdgeStack extends Stack {
  public readonly pair: HaproxyFailoverPair;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    const refs = props.addresses.referencesIn(this, 'Addresses');
    this.pair = new HaproxyFailoverPair(this, 'Pair', {
      vpc: props.vpc,
      // Draining: the copy's DnsRegistrar takes a terminating instance out of its name and holds it for its drainTime;
      // HAProxy stops sending new streams to it within the TTL, open streams go on until then.
      backendName: props.addresses.fqdn(APP_CLUSTER_NAME),
      securityGroups: [props.edgeSecurityGroup],
      clients: exampleEdgeClients(),
      elasticIpAllocationId: refs.elasticIpAllocationId('edge'),
      // Customers on the VPN reach the pair at a private address outside the VPC range.
      vpnVirtualIp: '172.31.255.10',
      vpnRouteSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
  }
}

export interface SiteOptions {
  /** Which app stack receives traffic (`cdk deploy -c active=green`). Changes only the Addresses stack. @default 'blue' */
  readonly active?: AppCopy;
  /**
   * Percentage of answers for app-cluster3 that point at the active copy; the rest go to the other one
   * (`-c activeWeight=10` for a weighted step). @default 100
   */
  readonly activeWeight?: number;
  /** Which app copies exist. Removing one never changes the Addresses stack. @default ['blue', 'green'] */
  readonly appCopies?: AppCopy[];
}

/** Reads the blue/green choice from CDK context (`-c active=green -c activeWeight=10`), failing on a bad value. */
export function siteOptionsFromContext(app: App): SiteOptions {
  const active = app.node.tryGetContext('active') ?? 'blue';
  if (active !== 'blue' && active !== 'green') {
    throw new Error(`context "active": got ${JSON.stringify(active)}; allowed: "blue" or "green". Fix: cdk deploy -c active=green (or blue)`);
  }
  const weightText = app.node.tryGetContext('activeWeight');
  const activeWeight = weightText === undefined ? undefined : Number(weightText);
  if (activeWeight !== undefined && (!Number.isInteger(activeWeight) || activeWeight < 1 || activeWeight > 100)) {
    throw new Error(`context "activeWeight": got ${JSON.stringify(weightText)}; allowed: a whole percentage from 1 to 100. Fix: -c activeWeight=10, or leave it out for 100`);
  }
  return { active, activeWeight };
}

/** Builds every stack of the reference site into `app`. */
export function buildReferenceSite(app: App, options: SiteOptions = {}) {
  const network = new NetworkStack(app, 'Network', { env: SITE_ENV, description: 'resilient-fleet reference site: VPC over three AZs' });
  const addresses = buildAddresses(app, network, options);
  const data = new DataStack(app, 'Data', { env: SITE_ENV, vpc: network.vpc, description: 'resilient-fleet reference site: replicated MySQL with two site databases (long-lived, retained)' });
  const copies = options.appCopies ?? ['blue', 'green'];
  const appStack = (copy: AppCopy) =>
    copies.includes(copy)
      ? new AppStack(app, `App-${copy}`, {
          env: SITE_ENV,
          vpc: network.vpc,
          addresses,
          copy,
          edgeSecurityGroup: network.edgeSecurityGroup,
          description: `resilient-fleet reference site: app fleet (${copy}); swappable`,
        })
      : undefined;
  const appBlue = appStack('blue');
  const appGreen = appStack('green');
  const active = options.active ?? 'blue';
  if (!copies.includes(active)) {
    // Not an error: deleting a copy must not need the address stack to change. But the names would point at nothing.
    Annotations.of(addresses).addWarningV2(
      'resilient-fleet:activeCopyMissing',
      `The active app copy "${active}" is not in this app, so app-cluster3 points at a copy that does not exist. ` +
        `Deploy App-${active} first, or switch with -c active=${active === 'blue' ? 'green' : 'blue'}.`,
    );
  }
  const workers = new WorkersStack(app, 'Workers', {
    env: SITE_ENV,
    vpc: network.vpc,
    description: 'resilient-fleet reference site: queue workers scaled on backlog, from and to zero; replaceable',
  });
  // The edge follows app-cluster3 by DNS, so it neither depends on nor changes with the active copy.
  const edge = new EdgeStack(app, 'Edge', {
    env: SITE_ENV,
    vpc: network.vpc,
    addresses,
    edgeSecurityGroup: network.edgeSecurityGroup,
    description: 'resilient-fleet reference site: HAProxy failover pair, a port per customer; replaceable',
  });
  return { network, addresses, data, appBlue, appGreen, workers, edge };
}

/**
 * The long-lived, retained Addresses stack: public and private (split-horizon) zones of the site's domain, the Elastic
 * IP of the TCP edge (HAProxy pair), and the stable names. Names chain through low-TTL CNAMEs, so moving a site to
 * another cluster, or the app from blue to green, is a change of one record here and nowhere else.
 */
function buildAddresses(app: App, network: NetworkStack, options: SiteOptions): AddressStack {
  const addresses = new AddressStack(app, 'Addresses', {
    env: SITE_ENV,
    description: 'resilient-fleet reference site: hosted zones, Elastic IPs and stable names (long-lived, retained)',
    zoneName: SITE_DOMAIN,
    privateZoneVpcs: [network.vpc],
  });
  // The edge's address: the HAProxy pair associates it by allocation id read from SSM (elastic-ips/edge/allocation-id).
  const edge = addresses.addElasticIp('edge');
  // Cluster names resolve to the current servers; site names are CNAMEs to a cluster (one change moves a site).
  addresses.addARecord('www-cluster3', [edge.attrPublicIp]);
  addresses.addCname('www.site1', `www-cluster3.${SITE_DOMAIN}`);
  addresses.addCname('www.site2', `www-cluster3.${SITE_DOMAIN}`);
  // db-master-cluster3 follows the current database master (kept by the data tier); sites only ever name db-master.siteN.
  addresses.addCname('db-master.site1', `db-master-cluster3.${SITE_DOMAIN}`, { visibility: NameVisibility.PRIVATE });
  addresses.addCname('db-master.site2', `db-master-cluster3.${SITE_DOMAIN}`, { visibility: NameVisibility.PRIVATE });
  // The blue-green switch: app-cluster3 (what the edge sends traffic to) points at app-blue or app-green,
  // whose A records each copy's DnsRegistrar keeps equal to its in-service instances.
  addresses.addBlueGreenName(APP_CLUSTER_NAME, {
    blueTarget: `app-blue.${SITE_DOMAIN}`,
    greenTarget: `app-green.${SITE_DOMAIN}`,
    active: options.active === 'green' ? BlueGreen.GREEN : BlueGreen.BLUE,
    activeWeight: options.activeWeight,
    visibility: NameVisibility.PRIVATE,
  });
  return addresses;
}
