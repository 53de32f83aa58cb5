import {
  Annotations,
  Duration,
  RemovalPolicy,
  Stack,
  StackProps,
  Tags,
  Token,
  aws_ec2 as ec2,
  aws_route53 as route53,
  aws_ssm as ssm,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PropsValidator, describe, requireProps } from '../private/validation';
import { AddressReferences } from './address-references';
import { isDomainName, isIpv4, isRecordName, isParameterPrefix } from './names';

/** Which of the split-horizon zones holds a name. */
export enum NameVisibility {
  /** Only the public zone: what the internet resolves. */
  PUBLIC = 'PUBLIC',
  /** Only the private zone: what the associated VPCs resolve. Needs `privateZoneVpcs`. */
  PRIVATE = 'PRIVATE',
  /**
   * Both zones. With a private zone of the same name, the VPCs see only the private zone, so a name that must resolve
   * inside and outside needs a record in each.
   */
  PUBLIC_AND_PRIVATE = 'PUBLIC_AND_PRIVATE',
}

/** One of the two copies of a swappable compute stack. */
export enum BlueGreen {
  BLUE = 'blue',
  GREEN = 'green',
}

/** Props of `AddressStack`. */
export interface AddressStackProps extends StackProps {
  /**
   * The domain the stack holds names in, for example 'example.com'. A public hosted zone of this name is created
   * and retained.
   */
  readonly zoneName: string;

  /**
   * VPCs that resolve a private hosted zone of the same name (split horizon): inside them, names resolve to private
   * addresses; outside, to public ones. Names are put in either zone with `NameVisibility`.
   * @default - no private zone
   */
  readonly privateZoneVpcs?: ec2.IVpc[];

  /**
   * Time to live of the names this stack creates. Keep it low: it is how long a swap or a failover takes to reach
   * clients that cached the old answer.
   * @default Duration.seconds(60)
   */
  readonly recordTtl?: Duration;

  /**
   * Prefix of the SSM parameters through which compute stacks find the zones and Elastic IPs (weak references:
   * no CloudFormation export locks this stack). It must be a plain string, known at synth time.
   * @default '/resilient-fleet/addresses/<zoneName>'
   */
  readonly parameterPrefix?: string;
}

/** Options for a name added to an `AddressStack`. */
export interface NameOptions {
  /**
   * Which zone(s) hold the name.
   * @default - NameVisibility.PUBLIC_AND_PRIVATE when the stack has a private zone, else NameVisibility.PUBLIC
   */
  readonly visibility?: NameVisibility;

  /** Time to live of this name. @default - the stack's `recordTtl` */
  readonly ttl?: Duration;
}

/** Options of `AddressStack.addElasticIp`. */
export interface ElasticIpOptions {
  /**
   * A name (relative to the zone, or fully qualified in it) whose A record points at the address, in the public zone.
   * @default - no name
   */
  readonly recordName?: string;
}

/** Options of `AddressStack.addBlueGreenName`. */
export interface BlueGreenNameOptions extends NameOptions {
  /** The name the blue copy answers to, for example 'app-blue.example.com' (kept up to date by its DnsRegistrar). */
  readonly blueTarget: string;
  /** The name the green copy answers to, for example 'app-green.example.com'. */
  readonly greenTarget: string;
  /** Which copy receives traffic. Changing it changes only this stack's records (two weights). */
  readonly active: BlueGreen;
  /**
   * Percentage of answers that point at the active copy; the rest point at the other one. Below 100 it is a
   * weighted step of a gradual swap (for example 10, 50, 100).
   * @default 100
   */
  readonly activeWeight?: number;
}

/** What a blue-green name created. */
export interface BlueGreenRecords {
  /** The weighted CNAME records pointing at the blue copy (one per zone). */
  readonly blue: route53.CnameRecord[];
  /** The weighted CNAME records pointing at the green copy (one per zone). */
  readonly green: route53.CnameRecord[];
}

const DEFAULT_TTL = Duration.seconds(60);
const MAX_SENSIBLE_TTL_S = 300;

/**
 * A small, long-lived stack for the addresses and names that must outlive compute stacks: a public hosted zone,
 * optionally a private zone of the same name (split horizon), Elastic IPs, and stable names including CNAME chains
 * (www.site1 -> www-cluster3 -> the current servers) and blue-green names.
 *
 * Compute stacks never import its outputs: they read SSM parameters with plain names (`referencesIn`), resolved at
 * deploy time. So deleting, recreating or duplicating a compute stack never touches this stack, and this stack can
 * change a name without an export lock. Every resource is retained on delete and on replacement, and the stack has
 * termination protection.
 */
export class AddressStack extends Stack {
  /** The public hosted zone. */
  public readonly publicZone: route53.PublicHostedZone;
  /** The private hosted zone of the same name, when `privateZoneVpcs` is set. */
  public readonly privateZone?: route53.PrivateHostedZone;
  /** The zone's domain name, without a trailing dot. */
  public readonly zoneName: string;
  /** Prefix of the SSM parameters this stack writes (a plain string). */
  public readonly parameterPrefix: string;
  /** Default time to live of the names. */
  public readonly recordTtl: Duration;

  private readonly elasticIps = new Map<string, ec2.CfnEIP>();
  private readonly names = new Set<string>();

  constructor(scope: Construct, id: string, props: AddressStackProps) {
    super(scope, id, { ...props, terminationProtection: props?.terminationProtection ?? true });
    requireProps(this, 'AddressStack', props, { zoneName: "the public zone's domain name, for example 'example.com'" });
    this.zoneName = (props.zoneName ?? '').replace(/\.$/, '').toLowerCase();
    this.parameterPrefix = props.parameterPrefix ?? `/resilient-fleet/addresses/${this.zoneName}`;
    this.recordTtl = props.recordTtl ?? DEFAULT_TTL;
    this.validate(props);

    this.publicZone = new route53.PublicHostedZone(this, 'PublicZone', {
      zoneName: this.zoneName,
      comment: 'resilient-fleet AddressStack: public names (retained)',
    });
    this.retain(this.publicZone);
    this.parameter('PublicZoneIdParameter', 'zones/public/id', this.publicZone.hostedZoneId, 'Public hosted zone id');

    const vpcs = props.privateZoneVpcs ?? [];
    if (vpcs.length > 0) {
      this.privateZone = new route53.PrivateHostedZone(this, 'PrivateZone', {
        zoneName: this.zoneName,
        vpc: vpcs[0],
        comment: 'resilient-fleet AddressStack: private names, split horizon (retained)',
      });
      vpcs.slice(1).forEach((vpc) => this.privateZone!.addVpc(vpc));
      this.retain(this.privateZone);
      this.parameter('PrivateZoneIdParameter', 'zones/private/id', this.privateZone.hostedZoneId, 'Private hosted zone id');
    }
  }

  /**
   * Allocates an Elastic IP (retained), publishes its allocation id and address as SSM parameters for compute
   * stacks, and optionally names it in the public zone.
   * @param name a short stable name, for example 'edge'; it is part of construct ids and parameter names
   */
  public addElasticIp(name: string, options: ElasticIpOptions = {}): ec2.CfnEIP {
    const check = new PropsValidator('AddressStack.addElasticIp', this);
    check.check(!/^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(name), 'name', name, 'letters, digits and "-", starting with a letter, at most 63 characters', 'use a short stable name such as "edge"');
    check.check(this.elasticIps.has(name), 'name', name, 'a name used once per stack', 'give each Elastic IP its own name');
    if (options.recordName !== undefined) this.checkRecordName(check, 'recordName', options.recordName);
    check.throwIfAny();

    const eip = new ec2.CfnEIP(this, `ElasticIp-${name}`, { domain: 'vpc' });
    Tags.of(eip).add('Name', `${this.zoneName} ${name}`);
    this.retain(eip);
    this.elasticIps.set(name, eip);
    this.parameter(`ElasticIp-${name}-AllocationIdParameter`, `elastic-ips/${name}/allocation-id`, eip.attrAllocationId, `Allocation id of the ${name} Elastic IP`);
    this.parameter(`ElasticIp-${name}-AddressParameter`, `elastic-ips/${name}/address`, eip.attrPublicIp, `Public IPv4 address of the ${name} Elastic IP`);
    if (options.recordName !== undefined) {
      this.addARecord(options.recordName, [eip.attrPublicIp], { visibility: NameVisibility.PUBLIC });
    }
    return eip;
  }

  /** The Elastic IP added under `name`, if any. */
  public elasticIp(name: string): ec2.CfnEIP | undefined {
    return this.elasticIps.get(name);
  }

  /**
   * A stable A record (one per zone of `visibility`) with fixed addresses, for example a front end's Elastic IP.
   * Names kept equal to a changing fleet belong to a `DnsRegistrar` instead.
   */
  public addARecord(recordName: string, values: string[], options: NameOptions = {}): route53.ARecord[] {
    const check = new PropsValidator('AddressStack.addARecord', this);
    const visibility = this.visibility(options);
    this.checkName(check, recordName, visibility, options);
    check.check(values.length === 0, 'values', values, 'at least one IPv4 address', 'pass the addresses the name should resolve to');
    for (const v of values) {
      if (!Token.isUnresolved(v)) check.check(!isIpv4(v), 'values', v, 'IPv4 addresses such as 203.0.113.10', 'pass IPv4 addresses, or use addCname for a name');
    }
    check.throwIfAny();
    this.names.add(`${this.fqdn(recordName)}|${visibility}`);
    return this.zonesOf(visibility).map(([suffix, zone]) => {
      const record = new route53.ARecord(this, `A-${recordName}${suffix}`, {
        zone,
        recordName,
        target: route53.RecordTarget.fromIpAddresses(...values),
        ttl: options.ttl ?? this.recordTtl,
      });
      this.retain(record);
      return record;
    });
  }

  /**
   * A CNAME: one link of a chain such as www.site1 -> www-cluster3 -> the servers. Moving a site to another cluster
   * is then one change of one record, here.
   */
  public addCname(recordName: string, target: string, options: NameOptions = {}): route53.CnameRecord[] {
    const check = new PropsValidator('AddressStack.addCname', this);
    const visibility = this.visibility(options);
    this.checkName(check, recordName, visibility, options);
    this.checkNotApex(check, recordName);
    this.checkTarget(check, 'target', target, recordName);
    check.throwIfAny();
    this.names.add(`${this.fqdn(recordName)}|${visibility}`);
    return this.zonesOf(visibility).map(([suffix, zone]) => {
      const record = new route53.CnameRecord(this, `Cname-${recordName}${suffix}`, {
        zone,
        recordName,
        domainName: target,
        ttl: options.ttl ?? this.recordTtl,
      });
      this.retain(record);
      return record;
    });
  }

  /**
   * A name that points at the blue or the green copy of a compute stack: two weighted CNAMEs (set identifiers
   * 'blue' and 'green'), so a swap is an in-place change of two weights in this stack and nothing else. Weight 0
   * means no answers while the other copy is healthy.
   */
  public addBlueGreenName(recordName: string, options: BlueGreenNameOptions): BlueGreenRecords {
    const check = new PropsValidator('AddressStack.addBlueGreenName', this);
    const visibility = this.visibility(options);
    this.checkName(check, recordName, visibility, options);
    this.checkNotApex(check, recordName);
    this.checkTarget(check, 'blueTarget', options.blueTarget, recordName);
    this.checkTarget(check, 'greenTarget', options.greenTarget, recordName);
    check.check(
      !Token.isUnresolved(options.blueTarget) && options.blueTarget === options.greenTarget,
      'greenTarget',
      options.greenTarget,
      'a name other than blueTarget',
      'give each copy its own name, for example app-blue and app-green',
    );
    check.check(
      !Object.values(BlueGreen).includes(options.active),
      'active',
      options.active,
      'BlueGreen.BLUE or BlueGreen.GREEN',
      'choose which copy receives traffic',
    );
    check.integerInRange('activeWeight', options.activeWeight, 1, 100, 'set activeWeight to a percentage from 1 to 100 (100: every answer points at the active copy)');
    check.throwIfAny();
    this.names.add(`${this.fqdn(recordName)}|${visibility}`);

    const activeWeight = options.activeWeight ?? 100;
    const weightOf = (side: BlueGreen) => (side === options.active ? activeWeight : 100 - activeWeight);
    const make = (side: BlueGreen, target: string) =>
      this.zonesOf(visibility).map(([suffix, zone]) => {
        const record = new route53.CnameRecord(this, `BlueGreen-${recordName}${suffix}-${side}`, {
          zone,
          recordName,
          domainName: target,
          ttl: options.ttl ?? this.recordTtl,
          setIdentifier: side,
          weight: weightOf(side),
          comment: `${side} copy; weight ${weightOf(side)} of 100`,
        });
        this.retain(record);
        return record;
      });
    return { blue: make(BlueGreen.BLUE, options.blueTarget), green: make(BlueGreen.GREEN, options.greenTarget) };
  }

  /** A fully qualified name in this stack's zone, for a relative one ('www' -> 'www.example.com'). */
  public fqdn(recordName: string): string {
    const name = recordName.replace(/\.$/, '').toLowerCase();
    return name === this.zoneName || name.endsWith(`.${this.zoneName}`) ? name : `${name}.${this.zoneName}`;
  }

  /**
   * Weak references to this stack's zones and Elastic IPs for a compute stack: SSM parameters resolved at deploy
   * time. The consumer's template holds only parameter names, so it does not change this stack, and this stack can
   * be changed while consumers exist. The consumer's stack is made to deploy after this one.
   */
  public referencesIn(scope: Construct, id: string): AddressReferences {
    const consumer = Stack.of(scope);
    if (consumer !== this) consumer.addStackDependency(this, 'reads the zone ids and Elastic IPs from SSM parameters written by the address stack');
    return new AddressReferences(scope, id, {
      parameterPrefix: this.parameterPrefix,
      zoneName: this.zoneName,
      privateZone: this.privateZone !== undefined,
      elasticIpNames: [...this.elasticIps.keys()],
    });
  }

  private retain(resource: { applyRemovalPolicy(policy: RemovalPolicy): void }): void {
    // Addresses and names outlive this stack: kept on delete, and kept (not deleted) if an update replaces them.
    resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }

  private parameter(id: string, suffix: string, value: string, description: string): ssm.StringParameter {
    return new ssm.StringParameter(this, id, {
      parameterName: `${this.parameterPrefix}/${suffix}`,
      stringValue: value,
      description: `${description} (resilient-fleet AddressStack ${this.zoneName}); read by compute stacks at deploy time`,
    });
  }

  private visibility(options: NameOptions): NameVisibility {
    return options.visibility ?? (this.privateZone ? NameVisibility.PUBLIC_AND_PRIVATE : NameVisibility.PUBLIC);
  }

  private zonesOf(visibility: NameVisibility): Array<[string, route53.IHostedZone]> {
    const zones: Array<[string, route53.IHostedZone]> = [];
    if (visibility !== NameVisibility.PRIVATE) zones.push(['', this.publicZone]);
    if (visibility !== NameVisibility.PUBLIC && this.privateZone) zones.push(['-private', this.privateZone]);
    return zones;
  }

  private checkName(check: PropsValidator, recordName: string, visibility: NameVisibility, options: NameOptions): void {
    this.checkRecordName(check, 'recordName', recordName);
    check.check(
      visibility !== NameVisibility.PUBLIC && !this.privateZone,
      'visibility',
      visibility,
      'NameVisibility.PUBLIC when the stack has no private zone',
      'set privateZoneVpcs on the AddressStack, or use NameVisibility.PUBLIC',
    );
    if (options.ttl) this.checkTtl(check, 'ttl', options.ttl);
    if (!Token.isUnresolved(recordName)) {
      const clash = [...this.names].some((n) => n.split('|')[0] === this.fqdn(recordName) && overlaps(n.split('|')[1] as NameVisibility, visibility));
      check.check(clash, 'recordName', recordName, 'a name added once per zone', 'add each name once; use addBlueGreenName for a name with two targets');
    }
  }

  private checkRecordName(check: PropsValidator, prop: string, recordName: string): void {
    if (recordName === undefined || recordName === null) {
      check.check(true, prop, recordName, `a DNS name relative to ${this.zoneName} (required)`, `pass ${prop}, for example "www-cluster3"`);
      return;
    }
    if (Token.isUnresolved(recordName)) return;
    const fqdn = this.fqdn(recordName);
    check.check(
      !isRecordName(recordName) || !isDomainName(fqdn),
      prop,
      recordName,
      `a DNS name relative to ${this.zoneName} (for example "www-cluster3") or inside it (for example "www.site1.${this.zoneName}")`,
      'use letters, digits and "-" in dot-separated labels of at most 63 characters',
    );
    check.check(
      recordName.endsWith('.') && !recordName.replace(/\.$/, '').toLowerCase().endsWith(this.zoneName),
      prop,
      recordName,
      `a name inside ${this.zoneName}`,
      'drop the trailing dot to make the name relative to the zone',
    );
  }

  private checkNotApex(check: PropsValidator, recordName: string): void {
    if (recordName === undefined || recordName === null || Token.isUnresolved(recordName)) return;
    check.check(
      this.fqdn(recordName) === this.zoneName,
      'recordName',
      recordName,
      `a name below the zone apex (DNS allows no CNAME at ${this.zoneName} itself)`,
      'use a name such as "www", or addARecord for the apex',
    );
  }

  private checkTarget(check: PropsValidator, prop: string, target: string, recordName: string): void {
    if (target === undefined || target === null) {
      check.check(true, prop, target, 'a fully qualified DNS name such as "www-cluster3.example.com" (required)', `pass ${prop}`);
      return;
    }
    if (Token.isUnresolved(target)) return;
    check.check(!isDomainName(target.replace(/\.$/, '')), prop, target, 'a fully qualified DNS name such as "www-cluster3.example.com"', 'give the full name the CNAME points at');
    check.check(
      !Token.isUnresolved(recordName) && target.replace(/\.$/, '').toLowerCase() === this.fqdn(recordName),
      prop,
      target,
      'a name other than the record itself',
      'point the CNAME at the next name of the chain',
    );
  }

  private checkTtl(check: PropsValidator, prop: string, ttl: Duration): void {
    const s = ttl.toSeconds();
    if (Token.isUnresolved(s)) return;
    check.check(s < 0 || s > 172_800 || !Number.isInteger(s), prop, `${s} seconds`, '0 to 172800 whole seconds', 'use a low TTL such as Duration.seconds(60)');
    if (s > MAX_SENSIBLE_TTL_S) {
      Annotations.of(this).addWarningV2(
        'resilient-fleet:addressTtlHigh',
        `AddressStack: ${prop} is ${s} seconds. Clients keep the old answer that long after a swap or failover; ` +
          `keep names that move at ${MAX_SENSIBLE_TTL_S} seconds or less, or acknowledge this warning.`,
      );
    }
  }

  private validate(props: AddressStackProps): void {
    const check = new PropsValidator('AddressStack', this);
    if (!Token.isUnresolved(props.zoneName)) {
      check.check(
        !isDomainName(this.zoneName) || !this.zoneName.includes('.'),
        'zoneName',
        props.zoneName,
        'a domain name with at least two labels, such as "example.com"',
        'pass the domain you own, without "http://" or a path',
      );
    } else {
      check.add(`zoneName: got a token (${describe(props.zoneName)}); allowed: a plain string. Fix: the zone name is part of the SSM parameter names and record names, so pass it literally`);
    }
    check.check(
      props.privateZoneVpcs !== undefined && props.privateZoneVpcs.length === 0,
      'privateZoneVpcs',
      [],
      'at least one VPC',
      'pass the VPCs that should see private names, or leave privateZoneVpcs out for no private zone',
    );
    if (props.parameterPrefix !== undefined) {
      check.check(
        Token.isUnresolved(props.parameterPrefix) || !isParameterPrefix(props.parameterPrefix),
        'parameterPrefix',
        props.parameterPrefix,
        'a plain SSM parameter path such as "/site/addresses": starts with "/", no trailing "/", letters, digits and _.-/ only',
        'compute stacks read these names at synth time, so use a literal path',
      );
    }
    if (props.recordTtl) this.checkTtl(check, 'recordTtl', props.recordTtl);
    check.throwIfAny();
  }
}

function overlaps(a: NameVisibility, b: NameVisibility): boolean {
  if (a === NameVisibility.PUBLIC_AND_PRIVATE || b === NameVisibility.PUBLIC_AND_PRIVATE) return true;
  return a === b;
}
