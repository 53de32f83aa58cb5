/**
 * The user data of a synthesized launch template, as EC2 would hand it to cloud-init: the template's
 * `UserData: { Fn::Base64: ... }` resolved with a small resolver that substitutes what the lab knows for the
 * pseudo parameters, Refs, attributes and cross-stack outputs. Nothing is re-rendered: the text is the template's.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly DependsOn?: string | string[];
}

export interface Template {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Type: string; Default?: string }>;
}

export const ACCOUNT = '123456789012';

/** SQS's regional host name, as queue URLs carry it. */
export const sqsHost = (region: string): string => `sqs.${region}.amazonaws.com`;

export function readTemplate(outdir: string, stack: string): Template {
  return JSON.parse(fs.readFileSync(path.join(outdir, `${stack}.template.json`), 'utf8'));
}

/** What the lab substitutes for each kind of reference; every value is a plain string. */
export class Resolver {
  constructor(
    private readonly template: Template,
    private readonly stack: string,
    private readonly region: string,
  ) {}

  /**
   * A queue's Ref is its URL. The SDK sends SQS calls to the queue URL's host whatever its endpoint setting says
   * (useQueueUrlAsEndpoint), so on the instance SQS's host name is the lab's SQS: /etc/hosts points it at the VPC
   * side, where the fake answers https with a certificate from the lab's own CA (NODE_EXTRA_CA_CERTS).
   */
  public queueUrl(logicalId: string): string {
    return `https://${sqsHost(this.region)}/${ACCOUNT}/${this.stack}-${logicalId}`;
  }

  public ref(id: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Region': this.region,
      'AWS::AccountId': ACCOUNT,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': this.stack,
      'AWS::StackId': `arn:aws:cloudformation:${this.region}:${ACCOUNT}:stack/${this.stack}/lab`,
      'AWS::NoValue': '',
    };
    if (id in pseudo) return pseudo[id];
    const param = this.template.Parameters?.[id];
    if (param) {
      // SSM parameters read at deploy time: the Elastic IP's allocation id is the one the site reads that way.
      if (/allocationid/i.test(id)) return 'eipalloc-0lab00000000000001';
      return param.Default ?? `lab-${id}`;
    }
    const res = this.template.Resources[id];
    if (!res) throw new Error(`user data refers to ${id}, which is neither a parameter nor a resource of ${this.stack}`);
    if (res.Type === 'AWS::SQS::Queue') return this.queueUrl(id);
    return `${this.stack}-${id}`;
  }

  public getAtt(id: string, attr: string): string {
    const res = this.template.Resources[id];
    if (res?.Type === 'AWS::SQS::Queue' && attr === 'QueueUrl') return this.queueUrl(id);
    if (attr === 'Arn') return `arn:aws:lab:${this.region}:${ACCOUNT}:${this.stack}/${id}`;
    return `${this.stack}-${id}-${attr}`;
  }

  public stackOutput(name: string): string {
    // Route tables are what the Edge's user data imports from the Network stack.
    if (/RouteTable/.test(name)) return `rtb-0lab${hash(name)}`;
    return `lab-${name}`;
  }

  public resolve(v: unknown): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (Array.isArray(v)) throw new Error(`a list where a string was expected: ${JSON.stringify(v).slice(0, 200)}`);
    const o = v as Record<string, any>;
    const [fn] = Object.keys(o);
    const arg = o[fn];
    switch (fn) {
      case 'Ref':
        return this.ref(arg);
      case 'Fn::GetAtt':
        return Array.isArray(arg) ? this.getAtt(arg[0], arg[1]) : this.getAtt(...(arg.split('.') as [string, string]));
      case 'Fn::Join':
        return this.list(arg[1]).join(arg[0]);
      case 'Fn::Base64':
        return this.resolve(arg);
      case 'Fn::GetStackOutput':
        return this.stackOutput(arg.OutputName);
      case 'Fn::ImportValue':
        return this.stackOutput(this.resolve(arg));
      case 'Fn::Select':
        return this.list(arg[1])[Number(arg[0])];
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
        return text.replace(/\$\{([^}!]+)\}/g, (_: string, name: string) =>
          name in vars ? this.resolve(vars[name]) : name.includes('.') ? this.getAtt(...(name.split('.') as [string, string])) : this.ref(name),
        );
      }
      default:
        throw new Error(`the lab's resolver does not know ${fn}`);
    }
  }

  private list(v: unknown): string[] {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x));
    const o = v as Record<string, any>;
    if (o['Fn::Split']) return this.resolve(o['Fn::Split'][1]).split(o['Fn::Split'][0]);
    if (o['Fn::GetAZs'] !== undefined) return ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
    throw new Error(`a list the lab cannot resolve: ${JSON.stringify(v).slice(0, 200)}`);
  }
}

function hash(s: string): string {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(9, '0').slice(0, 9);
}

export interface LaunchTemplateBoot {
  readonly stack: string;
  readonly launchTemplateId: string;
  readonly groupId: string;
  /** The user data, decoded. */
  readonly script: string;
  /** The group's tags that propagate to its instances. */
  readonly tags: Record<string, string>;
  /** The launch lifecycle hook inside the group's definition, if any. */
  readonly launchHookName?: string;
  readonly launchHookDefaultResult?: string;
  readonly launchHookHeartbeatSeconds?: number;
  /** Whether the template asks for instance metadata tags (so aws:autoscaling:groupName is readable). */
  readonly instanceMetadataTags: boolean;
}

/** Every launch template of a stack with the group that launches it. */
export function launchTemplateBoots(outdir: string, stack: string, region = 'eu-west-1'): LaunchTemplateBoot[] {
  const template = readTemplate(outdir, stack);
  const resolver = new Resolver(template, stack, region);
  const out: LaunchTemplateBoot[] = [];
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type !== 'AWS::EC2::LaunchTemplate') continue;
    const data = res.Properties?.LaunchTemplateData ?? {};
    if (!data.UserData) continue;
    const group = Object.entries(template.Resources).find(
      ([, r]) => r.Type === 'AWS::AutoScaling::AutoScalingGroup' && JSON.stringify(r.Properties?.LaunchTemplate ?? r.Properties?.MixedInstancesPolicy ?? {}).includes(`"${id}"`),
    );
    if (!group) throw new Error(`${stack}: no Auto Scaling group launches ${id}`);
    const [groupId, groupRes] = group;
    const tags: Record<string, string> = {};
    for (const t of groupRes.Properties?.Tags ?? []) if (t.PropagateAtLaunch !== false && t.PropagateAtLaunch !== 'false') tags[t.Key] = resolver.resolve(t.Value);
    const hook = (groupRes.Properties?.LifecycleHookSpecificationList ?? []).find((h: any) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING');
    out.push({
      stack,
      launchTemplateId: id,
      groupId,
      script: resolver.resolve(data.UserData),
      tags,
      launchHookName: hook ? resolver.resolve(hook.LifecycleHookName) : undefined,
      launchHookDefaultResult: hook?.DefaultResult,
      launchHookHeartbeatSeconds: hook?.HeartbeatTimeout === undefined ? undefined : Number(hook.HeartbeatTimeout),
      instanceMetadataTags: data.MetadataOptions?.InstanceMetadataTags === 'enabled',
    });
  }
  return out;
}

export interface S3Object {
  readonly file: string;
  readonly packaging: 'file' | 'zip';
}

/** The objects `cdk deploy` would upload for the stacks' file assets: bucket/key -> the file in cdk.out. */
export function assetObjects(outdir: string): Map<string, S3Object> {
  const out = new Map<string, S3Object>();
  for (const f of fs.readdirSync(outdir).filter((x) => x.endsWith('.assets.json'))) {
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, f), 'utf8'));
    for (const asset of Object.values<any>(manifest.files ?? {})) {
      for (const d of Object.values<any>(asset.destinations)) {
        out.set(`${d.bucketName}/${d.objectKey}`, { file: path.join(outdir, asset.source.path), packaging: asset.source.packaging ?? 'file' });
      }
    }
  }
  return out;
}
