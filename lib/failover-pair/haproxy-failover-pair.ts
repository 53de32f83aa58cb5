import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Annotations,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Tags,
  Token,
  aws_autoscaling as autoscaling,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_s3_assets as s3assets,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { bundleDir } from '../private/assets';
import { BOOT_LIFECYCLE_HOOK_NAME, FLEET_GROUP_TAG_KEY, bootLifecycleHookSpecification, bootLifecycleStatePolicy, nodeRuntimeStep, renderBootScript } from '../private/boot-contract';
import { acknowledgeNag, nagRender } from '../private/nag';
import { isDomainName } from '../addressing/names';
import { PropsValidator, knownVpcCidrs, requireProps } from '../private/validation';
import { HaproxyClient, clientProblems, loadClientsFile, portRanges } from './clients';
import { renderHaproxyConfig } from './haproxy-config';
import { DEFAULT_PRIORITIES, markerAddress, renderKeepalivedConfig } from './keepalived-config';
import { renderCheckScript, renderSupervisorScript, renderSystemdUnits } from './scripts-config';
import { NODE_BIN } from '../private/node-runtime';

/** Props of `HaproxyFailoverPair`. */
export interface HaproxyFailoverPairProps {
  /** The VPC of the pair (and of the app fleet behind it). */
  readonly vpc: ec2.IVpc;

  /**
   * Subnets of the two nodes: the pair uses the first two Availability Zones of the selection, one node in each.
   * Public subnets, so that the Elastic IP can be associated with a node.
   * @default - the public subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The app instances behind the pair: a MultiAzFleet's `autoScalingGroup` or any Auto Scaling group. Its
   * InService instances are found at run time (nothing typed by hand); a terminating instance is drained
   * first (see `drainTime`). When the group is `IConnectable`, its security group admits the pair on the
   * backend ports and `backendCheckPort`. An `AutoScalingGroup` of this app is tagged so that the pair may end a
   * drain early; an imported group needs the tag `resilient-fleet:failover-pair-backend` (value: the pair's
   * unique id) for that, else each drain lasts `drainTime`. Conflicts with `backendName`; exactly one of the two
   * is required.
   * @default - none: `backendName` is used
   */
  readonly backendGroup?: autoscaling.IAutoScalingGroup;

  /**
   * The app instances behind the pair as a DNS name (for example `app-cluster3.example.com`, kept equal to the
   * in-service instances by a `DnsRegistrar`, possibly through a blue/green CNAME of an `AddressStack`). HAProxy
   * resolves it itself at run time through the VPC's resolver (`server-template` with `maxBackendServers` slots):
   * instances that enter or leave the name, and a CNAME moved to another target, are followed within the record's
   * TTL plus a few seconds, without a reload; the pair then references no app stack. No lifecycle hook is put on
   * any app group: draining comes from the registrar, which removes a terminating instance from the name and holds
   * it for its `drainTime` (new streams stop within the TTL, open streams go on until then). The app's security
   * group is not changed either: admit the nodes yourself, for example with a group in `securityGroups` that the
   * app allows. Conflicts with `backendGroup`; exactly one of the two is required.
   * @default - none: `backendGroup` is used
   */
  readonly backendName?: string;

  /**
   * More security groups for the two nodes, besides the pair's own (which holds the client ports and VRRP). For
   * example a long-lived group that app fleets in other stacks admit, so that no stack references another's
   * security group.
   * @default - only the pair's own security group
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The clients, as data: `{ name, port }` each, with optional `backendPort` and `allowFrom`. Conflicts with
   * `clientsFile`; exactly one of the two is required.
   * @default - none: `clientsFile` is used
   */
  readonly clients?: HaproxyClient[];

  /**
   * Path of a JSON file holding the clients (an array, or `{ "clients": [...] }`), read at synth time.
   * Conflicts with `clients`.
   * @default - none: `clients` is used
   */
  readonly clientsFile?: string;

  /** Lowest port a client may use. @default 1024 */
  readonly minClientPort?: number;

  /** Highest port a client may use. @default 65535 */
  readonly maxClientPort?: number;

  /**
   * The Elastic IP that public clients connect to, by allocation id (for example from an `AddressStack`, so
   * that the address outlives this stack). The master associates it with itself on every failover.
   * @default - a new Elastic IP, retained when the stack is deleted
   */
  readonly elasticIpAllocationId?: string;

  /**
   * A private virtual IPv4 address for clients that arrive over VPN, outside the VPC's range. The master
   * routes it to itself in the route tables of `vpnRouteSubnets` (ReplaceRoute) on every failover.
   * @default - no VPN virtual address
   */
  readonly vpnVirtualIp?: string;

  /**
   * Subnets whose route tables carry the route of `vpnVirtualIp`. Needs `vpnVirtualIp`.
   * @default - every subnet of the VPC
   */
  readonly vpnRouteSubnets?: ec2.SubnetSelection;

  /** Who may connect to the client ports. @default ec2.Peer.anyIpv4() */
  readonly clientPeer?: ec2.IPeer;

  /**
   * VRRP advert interval (VRRPv3: a multiple of 10 ms). The backup declares the master dead after about
   * three intervals. Below 50 ms, a saturated CPU causes false failovers (a warning says so).
   * @default Duration.millis(50)
   */
  readonly advertInterval?: Duration;

  /**
   * How long a recovered preferred node waits before it takes the address back (keepalived `preempt_delay`),
   * so that a flapping HAProxy does not move the address back and forth. Whole seconds, 0 to 1000.
   * @default Duration.seconds(10)
   */
  readonly failbackDelay?: Duration;

  /** VRRP virtual router id, 1 to 255 (unicast: it only has to differ from other pairs that share the nodes' subnets). @default 51 */
  readonly virtualRouterId?: number;

  /** Port of HAProxy's stats page, bound on 127.0.0.1 on each node; no client may use it. @default 8404 */
  readonly statsPort?: number;

  /**
   * Port of HAProxy's one client listener, bound on 127.0.0.1 on each node. Client ports are not bound one by one:
   * the kernel hands every connection to a client port to this listener (nftables TPROXY, destination kept), so a
   * reload passes one socket to the new worker instead of one per client. Not reachable from the network itself.
   * @default 8405
   */
  readonly listenerPort?: number;

  /** Port on the app instances that HAProxy health-checks (TCP). @default 80 */
  readonly backendCheckPort?: number;

  /** Server slots in HAProxy's app backend: the most app instances that can take traffic at once. @default 64 */
  readonly maxBackendServers?: number;

  /** HAProxy's global maxconn: concurrent client connections per node. @default 50000 */
  readonly maxConnections?: number;

  /**
   * How long a terminating app instance is held (a termination lifecycle hook on `backendGroup`) while HAProxy
   * drains it. 30 seconds to 2 hours. Only with `backendGroup`: with `backendName`, the `DnsRegistrar`'s
   * `drainTime` holds the instance.
   * @default Duration.seconds(60)
   */
  readonly drainTime?: Duration;

  /** @default ec2.InstanceType.of(ec2.InstanceClass.C7I, ec2.InstanceSize.LARGE) */
  readonly instanceType?: ec2.InstanceType;

  /** An Amazon Linux 2023 image (the user data uses dnf and systemd). @default ec2.MachineImage.latestAmazonLinux2023() */
  readonly machineImage?: ec2.IMachineImage;

  /** SNS topic told of every launch, termination and failure of the two node groups. @default - no notifications */
  readonly notificationTopic?: sns.ITopic;
}

/** Tag on both nodes by which each finds the other (and IAM scopes what they may do). */
export const PAIR_TAG_KEY = 'resilient-fleet:failover-pair';
/** Tag on the app group naming the pair allowed to end its instances' drain early (CompleteLifecycleAction). */
export const DRAIN_TAG_KEY = 'resilient-fleet:failover-pair-backend';

const CONFIG_DIR = '/etc/rfha';
const RUN_DIR = '/run/rfha';
const AGENT_DIR = '/opt/rfha/agent';
const MAX_SG_RANGES = 40;

/**
 * Two HAProxy nodes in two Availability Zones with keepalived (unicast VRRP) between them, in front of an
 * app fleet, routing a port per client. Each node is a single-instance Auto Scaling group, so a lost node
 * is replaced and rejoins as backup with no human step. Roles are settled by the stack (priorities 254 and
 * 253, both starting as BACKUP), peers at boot (each finds the other by tag); no address is typed anywhere.
 * On becoming master a node moves the Elastic IP (AssociateAddress with reassociation) and, optionally, the
 * route of a VPN virtual address to itself.
 */
export class HaproxyFailoverPair extends Construct {
  /** The two node groups (preferred node first). */
  public readonly nodes: autoscaling.AutoScalingGroup[];
  /** The nodes' security group. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** For `connections.allowFrom(...)`. */
  public readonly connections: ec2.Connections;
  /** The nodes' role. */
  public readonly role: iam.Role;
  /** The allocation id of the Elastic IP clients connect to. */
  public readonly elasticIpAllocationId: string;
  /** The Elastic IP's address, when this construct created it. */
  public readonly publicIp?: string;
  /** The client list in force (from `clients` or `clientsFile`), sorted by port. */
  public readonly clients: HaproxyClient[];
  /** The Availability Zones of the two nodes. */
  public readonly availabilityZones: string[];

  constructor(scope: Construct, id: string, props: HaproxyFailoverPairProps) {
    super(scope, id);
    requireProps(this, 'HaproxyFailoverPair', props, { vpc: 'an ec2.IVpc, for example new ec2.Vpc(this, \'Vpc\', { maxAzs: 3 }) or ec2.Vpc.fromLookup(this, \'Vpc\', { vpcId }), with public subnets in two Availability Zones' });
    const statsPort = props.statsPort ?? 8404;
    const listenerPort = props.listenerPort ?? 8405;
    const minClientPort = props.minClientPort ?? 1024;
    const maxClientPort = props.maxClientPort ?? 65535;
    const backendCheckPort = props.backendCheckPort ?? 80;
    const advertMs = (props.advertInterval ?? Duration.millis(50)).toMilliseconds();
    const failbackS = (props.failbackDelay ?? Duration.seconds(10)).toSeconds({ integral: false });
    const virtualRouterId = props.virtualRouterId ?? 51;
    const maxBackendServers = props.maxBackendServers ?? 64;
    const maxConnections = props.maxConnections ?? 50000;
    const drainS = (props.drainTime ?? Duration.seconds(60)).toSeconds({ integral: false });

    const subnetSelection = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PUBLIC };
    const selected = props.vpc.selectSubnets(subnetSelection);
    const byAz = new Map<string, ec2.ISubnet>();
    for (const s of selected.subnets) if (!byAz.has(s.availabilityZone)) byAz.set(s.availabilityZone, s);
    const azs = [...byAz.keys()].sort().slice(0, 2);
    this.availabilityZones = azs;

    // ---- validation: every problem at once ----
    const check = new PropsValidator('HaproxyFailoverPair', this);
    check.check(props.backendGroup !== undefined && props.backendName !== undefined, 'backendName', props.backendName, 'either backendGroup or backendName, not both', 'remove one of the two: backendName to follow a DNS name, backendGroup to follow an Auto Scaling group');
    check.check(props.backendGroup === undefined && props.backendName === undefined, 'backendGroup', undefined, 'an Auto Scaling group (backendGroup) or a DNS name (backendName)', 'pass the app fleet\'s autoScalingGroup as backendGroup, or its name such as "app-cluster3.example.com" as backendName');
    if (props.backendName !== undefined && !Token.isUnresolved(props.backendName)) {
      check.check(!isDomainName(props.backendName.replace(/\.$/, '')) || !props.backendName.includes('.'), 'backendName', props.backendName, 'a fully qualified DNS name such as "app-cluster3.example.com"', 'give the full name, with its zone');
    }
    check.check(props.backendName !== undefined && props.drainTime !== undefined, 'drainTime', props.drainTime?.toHumanString(), 'only together with backendGroup (with backendName the DnsRegistrar\'s drainTime holds terminating instances)', 'remove drainTime, or set drainTime on the DnsRegistrar');
    check.check(props.clients !== undefined && props.clientsFile !== undefined, 'clientsFile', props.clientsFile, 'either clients or clientsFile, not both', 'remove one of the two');
    check.check(props.clients === undefined && props.clientsFile === undefined, 'clients', undefined, 'a client list (clients) or a JSON file (clientsFile)', 'list the clients as { name, port } objects');
    let clients: HaproxyClient[] = props.clients ?? [];
    if (props.clientsFile !== undefined && props.clients === undefined) {
      try {
        clients = loadClientsFile(props.clientsFile);
      } catch (e) {
        check.add((e as Error).message);
      }
    }
    check.integerInRange('minClientPort', props.minClientPort, 1, 65535);
    check.integerInRange('maxClientPort', props.maxClientPort, 1, 65535);
    check.check(minClientPort > maxClientPort, 'minClientPort', minClientPort, `at most maxClientPort (${maxClientPort})`, 'swap or correct the two values');
    check.integerInRange('statsPort', props.statsPort, 1, 65535);
    check.integerInRange('listenerPort', props.listenerPort, 1, 65535);
    check.check(listenerPort === statsPort, 'listenerPort', listenerPort, `a port other than statsPort (${statsPort}): both are bound on 127.0.0.1`, 'choose another listenerPort or statsPort');
    check.integerInRange('backendCheckPort', props.backendCheckPort, 1, 65535);
    check.integerInRange('virtualRouterId', props.virtualRouterId, 1, 255);
    check.integerInRange('maxBackendServers', props.maxBackendServers, 1, 1000);
    check.integerInRange('maxConnections', props.maxConnections, 100, 1_000_000);
    if (props.clients !== undefined || props.clientsFile !== undefined) {
      for (const p of clientProblems(clients, { minPort: minClientPort, maxPort: maxClientPort, reserved: [{ prop: 'statsPort', port: statsPort }] }, props.clientsFile && !props.clients ? `clientsFile ${JSON.stringify(props.clientsFile)}` : 'clients')) {
        check.add(p);
      }
    }
    if (!Token.isUnresolved(advertMs)) {
      check.check(advertMs < 10 || advertMs > 40950 || advertMs % 10 !== 0, 'advertInterval', `${advertMs} ms`, 'a multiple of 10 ms from 10 ms to 40.95 s (VRRPv3 centiseconds)', 'use for example Duration.millis(50)');
    }
    if (!Token.isUnresolved(failbackS)) {
      check.check(!Number.isInteger(failbackS) || failbackS < 0 || failbackS > 1000, 'failbackDelay', `${failbackS} seconds`, 'whole seconds from 0 to 1000', 'use for example Duration.seconds(10)');
    }
    if (!Token.isUnresolved(drainS)) {
      check.check(!Number.isInteger(drainS) || drainS < 30 || drainS > 7200, 'drainTime', `${drainS} seconds`, 'whole seconds from 30 to 7200 (a lifecycle hook heartbeat)', 'use for example Duration.seconds(60)');
    }
    if (props.elasticIpAllocationId !== undefined && !Token.isUnresolved(props.elasticIpAllocationId)) {
      check.check(!/^eipalloc-[0-9a-f]{8,17}$/.test(props.elasticIpAllocationId), 'elasticIpAllocationId', props.elasticIpAllocationId, 'an allocation id such as "eipalloc-0123456789abcdef0"', 'pass the AllocationId of the Elastic IP (not its address)');
    }
    if (props.vpnVirtualIp !== undefined && !Token.isUnresolved(props.vpnVirtualIp)) {
      const vip = props.vpnVirtualIp;
      const valid = isIpv4(vip);
      check.check(!valid, 'vpnVirtualIp', vip, 'an IPv4 address such as "172.31.255.10"', 'give one address, without a prefix length');
      // A new ec2.Vpc's vpcCidrBlock is a token: its configured range is read from the AWS::EC2::VPC resource.
      for (const cidr of valid ? knownVpcCidrs(props.vpc) : []) {
        check.check(inCidr(vip, cidr), 'vpnVirtualIp', vip, `an address outside the VPC's range (${cidr}): the VPC routes its own range locally and would never use the route`, 'choose an address outside the VPC range, for example in 172.31.255.0/24 when the VPC is 10.0.0.0/16');
      }
    }
    check.check(props.vpnRouteSubnets !== undefined && props.vpnVirtualIp === undefined, 'vpnRouteSubnets', 'a subnet selection', 'only together with vpnVirtualIp', 'set vpnVirtualIp, or remove vpnRouteSubnets');
    const allAzsKnown = [...byAz.keys()].every((az) => !Token.isUnresolved(az));
    check.check(allAzsKnown && azs.length < 2, 'vpcSubnets', azs, 'subnets in at least 2 Availability Zones (one node in each)', 'select public subnets in two Availability Zones');
    check.throwIfAny();

    if (!Token.isUnresolved(advertMs) && advertMs < 50) {
      Annotations.of(this).addWarningV2(
        'resilient-fleet:advertIntervalBelow50ms',
        `HaproxyFailoverPair: advertInterval is ${advertMs} ms. Below 50 ms a saturated CPU delays adverts enough to cause false failovers (measured at 10 ms). Use 50 ms or more, or acknowledge this warning.`,
      );
    }

    this.clients = [...clients].sort((a, b) => a.port - b.port);
    const stack = Stack.of(this);
    const pairId = Names.uniqueId(this);

    // ---- network ----
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'HaproxyFailoverPair nodes: client ports in, VRRP only between the two nodes',
      allowAllOutbound: true,
    });
    this.connections = this.securityGroup.connections;
    const clientPeer = props.clientPeer ?? ec2.Peer.anyIpv4();
    for (const [from, to] of sgRanges(this.clients.map((c) => c.port))) {
      this.securityGroup.addIngressRule(clientPeer, from === to ? ec2.Port.tcp(from) : ec2.Port.tcpRange(from, to), `client ports ${from}-${to}`);
    }
    this.securityGroup.addIngressRule(this.securityGroup, new ec2.Port({ protocol: ec2.Protocol.VRRP, stringRepresentation: 'VRRP' }), 'VRRP (IP protocol 112) between the two nodes only');
    if (props.clientPeer === undefined) {
      acknowledgeNag(this.securityGroup, 'AwsSolutions-EC23', 'A public TCP edge: clients connect from the internet to their own ports only; HAProxy refuses any port that is not a client\'s, and allowFrom restricts sources per client.');
    }
    // The app's rules live here, with the pair (not in the app's stack): the pair depends on the app, never the reverse.
    // With backendName the pair knows no app group: the app admits the nodes itself (see `securityGroups`).
    const backendGroups = (props.backendGroup as unknown as Partial<ec2.IConnectable> | undefined)?.connections?.securityGroups ?? [];
    const backendRanges = sgRanges([...this.clients.map((c) => c.backendPort ?? c.port), backendCheckPort]);
    backendGroups.forEach((group, g) =>
      backendRanges.forEach(([from, to], r) => {
        new ec2.CfnSecurityGroupIngress(this, `AppIngress${g}x${r}`, {
          groupId: group.securityGroupId,
          sourceSecurityGroupId: this.securityGroup.securityGroupId,
          ipProtocol: 'tcp',
          fromPort: from,
          toPort: to,
          description: `HaproxyFailoverPair ${pairId}: client streams and health checks`,
        });
      }),
    );

    // ---- addresses ----
    if (props.elasticIpAllocationId) {
      this.elasticIpAllocationId = props.elasticIpAllocationId;
    } else {
      const eip = new ec2.CfnEIP(this, 'ElasticIp', { domain: 'vpc', tags: [{ key: 'Name', value: `${pairId} clients` }] });
      eip.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.elasticIpAllocationId = eip.attrAllocationId;
      this.publicIp = eip.attrPublicIp;
    }
    const routeTableIds = props.vpnVirtualIp
      ? [...new Set(props.vpc.selectSubnets(props.vpnRouteSubnets ?? { subnets: [...props.vpc.publicSubnets, ...props.vpc.privateSubnets, ...props.vpc.isolatedSubnets] }).subnets.map((s) => s.routeTable.routeTableId))]
      : [];
    if (props.vpnVirtualIp && props.vpnRouteSubnets === undefined && routeTableIds.length > 1) {
      // IAM cannot limit CreateRoute/ReplaceRoute to one destination CIDR: the route tables are the blast radius.
      Annotations.of(this).addWarningV2(
        'resilient-fleet:vpnRouteSubnetsDefaultAll',
        `HaproxyFailoverPair: vpnRouteSubnets is not set, so the nodes may create or replace any route (a NAT or internet default route included) in all ${routeTableIds.length} route tables of the VPC; IAM cannot limit these calls to the route of vpnVirtualIp ${props.vpnVirtualIp}/32. Set vpnRouteSubnets to the subnets whose traffic must reach the VPN address (for example { subnetGroupName: 'App' }), or acknowledge this warning.`,
      );
    }

    // ---- permissions: only this pair's address, route tables and tagged instances ----
    this.role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'HaproxyFailoverPair nodes: find the peer and the app instances, move the clients\' address',
    });
    this.role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'));
    acknowledgeNag(this.role, 'AwsSolutions-IAM4', 'AmazonSSMManagedInstanceCore is the AWS-maintained policy for Session Manager, which replaces SSH keys and port 22.', 'Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore');
    const arn = (resource: string) => stack.formatArn({ service: 'ec2', resource, resourceName: '*' });
    const tagCondition = { StringEquals: { [`aws:ResourceTag/${PAIR_TAG_KEY}`]: pairId } };
    const policy = new iam.Policy(this, 'InstancePolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'DescribeHasNoResourceScope',
          actions: [...(props.backendGroup ? ['autoscaling:DescribeAutoScalingGroups'] : []), 'ec2:DescribeInstances', 'ec2:DescribeAddresses', 'ec2:DescribeRouteTables'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'MoveThisPairsElasticIp',
          actions: ['ec2:AssociateAddress'],
          resources: [stack.formatArn({ service: 'ec2', resource: 'elastic-ip', resourceName: this.elasticIpAllocationId }), arn('network-interface')],
        }),
        new iam.PolicyStatement({
          sid: 'ToThisPairsNodes',
          actions: ['ec2:AssociateAddress', ...(props.vpnVirtualIp ? ['ec2:ModifyInstanceAttribute'] : [])],
          resources: [arn('instance')],
          conditions: tagCondition,
        }),
        // The network interface an address is associated with changes with every node, so it cannot be named; it
        // can be kept to the nodes' own subnets. A Deny with IfExists narrows without ever denying the pair's own
        // call: where EC2 puts the key in the request context it must name a node subnet.
        new iam.PolicyStatement({
          sid: 'OnlyInterfacesInTheNodesSubnets',
          effect: iam.Effect.DENY,
          actions: ['ec2:AssociateAddress'],
          resources: [arn('network-interface')],
          conditions: { ArnNotEqualsIfExists: { 'ec2:Subnet': azs.map((az) => stack.formatArn({ service: 'ec2', resource: 'subnet', resourceName: byAz.get(az)!.subnetId })) } },
        }),
        // The Service Authorization Reference lists ec2:Attribute for ModifyInstanceAttribute (reports say it is not
        // always in the request context): any attribute other than the source/destination check is denied where it is.
        ...(props.vpnVirtualIp
          ? [
              new iam.PolicyStatement({
                sid: 'OnlyTheSourceDestCheck',
                effect: iam.Effect.DENY,
                actions: ['ec2:ModifyInstanceAttribute'],
                resources: ['*'],
                conditions: { StringNotEqualsIgnoreCaseIfExists: { 'ec2:Attribute': 'SourceDestCheck' } },
              }),
            ]
          : []),
        ...(routeTableIds.length > 0
          ? [
              new iam.PolicyStatement({
                sid: 'RouteTheVpnVirtualIp',
                actions: ['ec2:ReplaceRoute', 'ec2:CreateRoute'],
                resources: routeTableIds.map((rt) => stack.formatArn({ service: 'ec2', resource: 'route-table', resourceName: rt })),
              }),
            ]
          : []),
      ],
    });
    policy.attachToRole(this.role);
    const nagArn = (resource: string) =>
      `arn:${nagToken(stack.partition, '<AWS::Partition>')}:ec2:${nagToken(stack.region, '<AWS::Region>')}:${nagToken(stack.account, '<AWS::AccountId>')}:${resource}/*`;
    acknowledgeNag(policy, 'AwsSolutions-IAM5', 'DescribeAutoScalingGroups, DescribeInstances, DescribeAddresses and DescribeRouteTables support no resource-level permissions.', 'Resource::*');
    acknowledgeNag(policy, 'AwsSolutions-IAM5', 'AssociateAddress (and ModifyInstanceAttribute for the VPN address) only on instances tagged as this pair (aws:ResourceTag condition); instance ids change with every replacement.', `Resource::${nagArn('instance')}`);
    acknowledgeNag(policy, 'AwsSolutions-IAM5', 'AssociateAddress also authorizes the target network interface, which changes with every node replacement; the statement is limited to this pair\'s own Elastic IP.', `Resource::${nagArn('network-interface')}`);

    // ---- files: rendered here, shipped as an asset ----
    const paths = { configDir: CONFIG_DIR, runDir: RUN_DIR };
    const files: Record<string, string> = {
      ...renderHaproxyConfig({ clients: this.clients, paths, maxConnections, backendCheckPort, backendSlots: maxBackendServers, statsPort, listenerPort, hardStopAfterSeconds: 3600, backendName: props.backendName }),
      'keepalived.conf': renderKeepalivedConfig({ paths, virtualRouterId, advertIntervalMs: advertMs, preemptDelaySeconds: failbackS }),
      'check-haproxy.sh': renderCheckScript({ paths }),
      'haproxy-supervisor.sh': renderSupervisorScript({ paths, configFiles: [`${CONFIG_DIR}/haproxy.cfg`, `${CONFIG_DIR}/app-backend.cfg`], readinessPort: statsPort, restartDelaySeconds: 2 }),
      ...renderSystemdUnits({
        configDir: CONFIG_DIR,
        runDir: RUN_DIR,
        agentDir: AGENT_DIR,
        haproxyFileLimit: 2 * maxConnections + this.clients.length + 1024,
        nodeBinary: NODE_BIN,
        lowestPort: Math.min(statsPort, listenerPort),
        markerAddress: markerAddress(virtualRouterId),
        vpnVirtualIp: props.vpnVirtualIp,
      }),
    };
    // Written once per distinct content (the asset hash covers the content, not this directory's name).
    const digest = crypto.createHash('sha256').update(JSON.stringify(Object.entries(files).sort())).digest('hex').slice(0, 20);
    const configDir = path.join(os.tmpdir(), `rfha-config-${digest}`);
    fs.mkdirSync(configDir, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(configDir, name), text);
    const configAsset = new s3assets.Asset(this, 'Config', { path: configDir });
    const agentAsset = new s3assets.Asset(this, 'Agent', { path: bundleDir('instance', 'failover-pair-agent') });
    // Exactly the two objects, not the bootstrap bucket's wildcard read that grantRead gives.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [configAsset, agentAsset].map((a) => a.bucket.arnForObjects(a.s3ObjectKey)) }),
    );

    // Auto Scaling group mode only (with backendName the DnsRegistrar's hook holds terminating instances, and the pair
    // touches no app group):
    // a terminating app instance is held while HAProxy drains it: the master's agent sets it to drain within one sync
    // round and lets the termination go on (CompleteLifecycleAction) once it holds no session, or the hook times out.
    let backendEnv: string[];
    if (props.backendGroup) {
      const drainHook = new autoscaling.LifecycleHook(this, 'DrainHook', {
        autoScalingGroup: props.backendGroup,
        lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
        heartbeatTimeout: Duration.seconds(drainS),
        defaultResult: autoscaling.DefaultResult.CONTINUE,
      });
      // Scoped by a tag on the app group (an Auto Scaling group ARN always has a wildcard for its id). An imported group
      // must carry the tag itself, or the hook simply runs to its timeout.
      if (props.backendGroup instanceof autoscaling.AutoScalingGroup) {
        Tags.of(props.backendGroup).add(DRAIN_TAG_KEY, pairId, { applyToLaunchedInstances: false });
      }
      policy.addStatements(
        new iam.PolicyStatement({
          sid: 'EndTheDrainOfTheAppGroup',
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: ['*'],
          conditions: { StringEquals: { [`aws:ResourceTag/${DRAIN_TAG_KEY}`]: pairId } },
        }),
      );
      backendEnv = [`RFHA_BACKEND_GROUP=${props.backendGroup.autoScalingGroupName}`, `RFHA_DRAIN_HOOK=${drainHook.lifecycleHookName}`];
    } else {
      // The agent leaves the app servers to HAProxy's resolvers (app-backend.cfg ships complete in the asset).
      backendEnv = [`RFHA_BACKEND_NAME=${props.backendName}`];
    }

    // ---- the two nodes ----
    // Each node completes the launch action of its group (both node groups carry the pair's tag: the nodes share one
    // role, so a node could also complete its peer group's launch action, never another pair's or fleet's).
    const nodeGroups = `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/*`;
    const bootPolicy = new iam.Policy(this, 'BootPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'CompleteThisPairsLaunch',
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: [nodeGroups],
          conditions: { StringEquals: { [`aws:ResourceTag/${FLEET_GROUP_TAG_KEY}`]: pairId } },
        }),
      ],
    });
    bootPolicy.attachToRole(this.role);
    const bootStatePolicy = bootLifecycleStatePolicy(this, 'BootPolicyLifecycleState', this.role, nodeGroups, pairId);
    acknowledgeNag(
      bootPolicy,
      'AwsSolutions-IAM5',
      'An Auto Scaling group ARN holds a random id and the node groups cannot be named here without a dependency cycle; the aws:ResourceTag condition limits CompleteLifecycleAction to this pair\'s two node groups.',
      `Resource::${nagRender(stack, nodeGroups)}`,
    );
    this.nodes = azs.map((az, i) => {
      const env = [
        `RFHA_CONFIG_DIR=${CONFIG_DIR}`,
        `RFHA_RUN_DIR=${RUN_DIR}`,
        `RFHA_PRIORITY=${DEFAULT_PRIORITIES[i]}`,
        `RFHA_PAIR_TAG_KEY=${PAIR_TAG_KEY}`,
        `RFHA_PAIR_TAG_VALUE=${pairId}`,
        ...backendEnv,
        `RFHA_ALLOCATION_ID=${this.elasticIpAllocationId}`,
        ...(props.vpnVirtualIp ? [`RFHA_VPN_CIDR=${props.vpnVirtualIp}/32`, `RFHA_ROUTE_TABLES=${routeTableIds.join(',')}`] : []),
        'RFHA_SYNC_SECONDS=10',
      ];
      const s3Url = (a: s3assets.Asset) => `s3://${a.s3BucketName}/${a.s3ObjectKey}`;
      const userData = ec2.UserData.custom(
        renderBootScript({
          description: `HaproxyFailoverPair ${this.node.path} node`,
          lifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME,
          region: stack.region,
          steps: [
            { name: 'packages', commands: ['dnf_install haproxy keepalived nftables unzip'] },
            nodeRuntimeStep(),
            {
              name: 'files',
              commands: [
                `install -d -m 755 ${CONFIG_DIR} ${AGENT_DIR}`,
                `s3_get '${s3Url(configAsset)}' /opt/rfha/config.zip`,
                `s3_get '${s3Url(agentAsset)}' /opt/rfha/agent.zip`,
                `unzip -o -q /opt/rfha/config.zip -d ${CONFIG_DIR}`,
                `unzip -o -q /opt/rfha/agent.zip -d ${AGENT_DIR}`,
                `chmod 755 ${CONFIG_DIR}/*.sh`,
                `cat > ${CONFIG_DIR}/node.env <<'RFHA_ENV'`,
                ...env,
                'RFHA_ENV',
              ],
            },
            {
              // Role and peer are settled here: node.conf, peers.conf and the app servers, from IMDS, tags and the app
              // group. Retried: right after the role's policies are created, EC2 may deny for seconds.
              name: 'agent-boot',
              commands: ['set -a', '# shellcheck source=/dev/null # written by the files step', `. ${CONFIG_DIR}/node.env`, 'set +a', `retry ${NODE_BIN} ${AGENT_DIR}/index.mjs boot`],
            },
            {
              // Every unit the pair renders (HAProxy, keepalived, the agent, and the VPN address when set); what must
              // hold on every start lives in these units, not here.
              name: 'services',
              commands: [
                'local unit units=()',
                `for unit in ${CONFIG_DIR}/rfha-*.service; do`,
                '  install -m 644 "$unit" /etc/systemd/system/',
                '  units+=("${unit##*/}")',
                'done',
                'systemctl daemon-reload',
                'systemctl enable --now "${units[@]}"',
                'systemctl is-active "${units[@]}"',
              ],
            },
          ],
        }),
      );
      const launchTemplate = new ec2.LaunchTemplate(this, `Node${i + 1}LaunchTemplate`, {
        machineImage: props.machineImage ?? ec2.MachineImage.latestAmazonLinux2023(),
        instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.C7I, ec2.InstanceSize.LARGE),
        requireImdsv2: true,
        httpPutResponseHopLimit: 1,
        // The boot contract reads its group's name from the instance tag aws:autoscaling:groupName through IMDS.
        instanceMetadataTags: true,
        role: this.role,
        securityGroup: this.securityGroup,
        userData,
        detailedMonitoring: true,
        blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
      });
      for (const extra of props.securityGroups ?? []) launchTemplate.addSecurityGroup(extra);
      const group = new autoscaling.AutoScalingGroup(this, `Node${i + 1}`, {
        vpc: props.vpc,
        vpcSubnets: { subnets: [byAz.get(az)!] },
        launchTemplate,
        minCapacity: 1,
        maxCapacity: 1,
        healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
        notifications: props.notificationTopic ? [{ topic: props.notificationTopic }] : undefined,
        groupMetrics: [autoscaling.GroupMetrics.all()],
      });
      // The boot's launch hook inside the group's own definition (so the first instance is held too: aws-cdk#7712), and
      // the group waits for every policy its instance uses at boot (the role's default policy is the role's child).
      (group.node.defaultChild as autoscaling.CfnAutoScalingGroup).lifecycleHookSpecificationList = [bootLifecycleHookSpecification()];
      Tags.of(group).add(FLEET_GROUP_TAG_KEY, pairId, { applyToLaunchedInstances: false });
      group.node.addDependency(this.role, policy, bootPolicy, bootStatePolicy);
      Tags.of(group).add(PAIR_TAG_KEY, pairId, { applyToLaunchedInstances: true });
      Tags.of(group).add('Name', `${pairId}-node${i + 1}`, { applyToLaunchedInstances: true });
      if (!props.notificationTopic) {
        acknowledgeNag(group, 'AwsSolutions-AS3', 'A node group holds one instance that replaces itself and rejoins the pair as backup; pass notificationTopic to be told of each replacement.');
      }
      return group;
    });

  }
}

/** Port ranges for security group rules: exact ranges when few, else one covering range (HAProxy binds only client ports). */
function sgRanges(ports: number[]): Array<[number, number]> {
  const ranges = portRanges(ports);
  if (ranges.length <= MAX_SG_RANGES) return ranges;
  return [[ranges[0][0], ranges[ranges.length - 1][1]]];
}

function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(base) / size) * size;
  return toInt(ip) >= start && toInt(ip) < start + size;
}

/** How cdk-nag prints a value in a finding id: literal when known at synth time, else the pseudo parameter. */
function nagToken(value: string, pseudo: string): string {
  return Token.isUnresolved(value) ? pseudo : value;
}

