import { Token, aws_route53 as route53, aws_ssm as ssm } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PropsValidator, requireProps } from '../private/validation';
import { isDomainName, isParameterPrefix } from './names';

/** Props of `AddressReferences`. */
export interface AddressReferencesProps {
  /** The `parameterPrefix` of the AddressStack (a plain string). */
  readonly parameterPrefix: string;
  /** The AddressStack's zone name, for example 'example.com'. */
  readonly zoneName: string;
  /** Whether the AddressStack has a private zone. @default false */
  readonly privateZone?: boolean;
  /** Names of the AddressStack's Elastic IPs that this stack may ask for. @default - any name */
  readonly elasticIpNames?: string[];
}

/**
 * A compute stack's view of an AddressStack, through weak references: SSM parameters with plain names, resolved
 * by CloudFormation at deploy time (`AWS::SSM::Parameter::Value<String>` template parameters).
 *
 * Why not exports or automatic cross-stack references: `Fn::ImportValue` locks the exporting stack (an export that
 * another stack imports can neither change nor be deleted), and automatic references (strong or weak) add outputs to
 * the address stack for each consumer, so adding or deleting a compute stack would change the address stack's
 * template. With parameters, the address stack writes the same fixed set whoever reads it, and a compute stack can be
 * deleted, recreated or duplicated (blue/green) without touching it. The cost: a consumer sees a new value only when it
 * is deployed again, and the address stack must be deployed first (`AddressStack.referencesIn` adds that dependency).
 */
export class AddressReferences extends Construct {
  private readonly prefix: string;
  private readonly elasticIpNames?: string[];
  private readonly zoneName: string;
  private readonly hasPrivateZone: boolean;
  private publicZoneRef?: route53.IHostedZone;
  private privateZoneRef?: route53.IHostedZone;

  constructor(scope: Construct, id: string, props: AddressReferencesProps) {
    super(scope, id);
    requireProps(this, 'AddressReferences', props, { parameterPrefix: 'the AddressStack\'s parameterPrefix, for example \'/resilient-fleet/addresses/example.com\'', zoneName: 'the AddressStack\'s zoneName, for example \'example.com\'' });
    const check = new PropsValidator('AddressReferences', this);
    check.check(
      Token.isUnresolved(props.parameterPrefix) || !isParameterPrefix(props.parameterPrefix),
      'parameterPrefix',
      props.parameterPrefix,
      'the plain SSM path prefix of the AddressStack, such as "/resilient-fleet/addresses/example.com"',
      'pass addressStack.parameterPrefix, or use addressStack.referencesIn(this, id)',
    );
    check.check(
      Token.isUnresolved(props.zoneName) || !isDomainName(props.zoneName.replace(/\.$/, '')),
      'zoneName',
      props.zoneName,
      'the AddressStack\'s zone name as a plain string, such as "example.com"',
      'pass addressStack.zoneName',
    );
    check.throwIfAny();
    this.prefix = props.parameterPrefix;
    this.elasticIpNames = props.elasticIpNames;
    this.zoneName = props.zoneName.replace(/\.$/, '');
    this.hasPrivateZone = props.privateZone ?? false;
  }

  /**
   * The public hosted zone (id from SSM at deploy time, name known at synth time). Created on first use, so a stack
   * that never uses it has no unused template parameter.
   */
  public get publicZone(): route53.IHostedZone {
    this.publicZoneRef ??= route53.HostedZone.fromHostedZoneAttributes(this, 'PublicZone', {
      hostedZoneId: this.value('zones/public/id'),
      zoneName: this.zoneName,
    });
    return this.publicZoneRef;
  }

  /** The private hosted zone, when the AddressStack has one (created on first use). */
  public get privateZone(): route53.IHostedZone | undefined {
    if (!this.hasPrivateZone) return undefined;
    this.privateZoneRef ??= route53.HostedZone.fromHostedZoneAttributes(this, 'PrivateZone', {
      hostedZoneId: this.value('zones/private/id'),
      zoneName: this.zoneName,
    });
    return this.privateZoneRef;
  }

  /** The allocation id of the AddressStack's Elastic IP `name` (for an EIP association in this stack). */
  public elasticIpAllocationId(name: string): string {
    this.checkElasticIp(name);
    return this.value(`elastic-ips/${name}/allocation-id`);
  }

  /** The public IPv4 address of the AddressStack's Elastic IP `name`. */
  public elasticIpAddress(name: string): string {
    this.checkElasticIp(name);
    return this.value(`elastic-ips/${name}/address`);
  }

  /** The name of the SSM parameter that holds `suffix`, for code that reads it at run time. */
  public parameterName(suffix: string): string {
    return `${this.prefix}/${suffix}`;
  }

  private checkElasticIp(name: string): void {
    if (this.elasticIpNames && !this.elasticIpNames.includes(name)) {
      throw new Error(
        `AddressReferences: invalid props (1):\n  - name: got ${JSON.stringify(name)}; allowed: one of the AddressStack's Elastic IPs (${this.elasticIpNames.map((n) => JSON.stringify(n)).join(', ') || 'none'}). ` +
          'Fix: add it with addressStack.addElasticIp(name) before calling referencesIn, or use one of those names',
      );
    }
  }

  private value(suffix: string): string {
    return ssm.StringParameter.valueForStringParameter(this, this.parameterName(suffix));
  }
}
