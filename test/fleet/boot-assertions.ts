import { Template } from 'aws-cdk-lib/assertions';

/** What a synthesized group's instances need at boot, and what the group waits for. */
export interface GroupBoot {
  readonly group: string;
  readonly role: string;
  /** Every AWS::IAM::Policy attached to the instances' role. */
  readonly policies: string[];
  /** Those that name the group itself (so the group cannot wait for them without a cycle). */
  readonly namingGroup: string[];
  readonly dependsOn: string[];
  /** The launch hooks inside the group's own definition. */
  readonly launchHooks: Array<{ LifecycleHookName: string; DefaultResult: string; HeartbeatTimeout: number }>;
  /** The launch template's metadata options. */
  readonly metadataOptions: Record<string, unknown>;
}

type Resource = { Type: string; Properties?: Record<string, any>; DependsOn?: string | string[] };

/** Follows each group to its launch template, instance profile and role, and collects the role's policies. */
export function groupBoots(template: Template): GroupBoot[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const out: GroupBoot[] = [];
  for (const [group, res] of Object.entries(resources)) {
    if (res.Type !== 'AWS::AutoScaling::AutoScalingGroup') continue;
    const ltRef = JSON.stringify(res.Properties?.LaunchTemplate ?? res.Properties?.MixedInstancesPolicy ?? {});
    const lt = Object.keys(resources).find((id) => resources[id].Type === 'AWS::EC2::LaunchTemplate' && ltRef.includes(`"${id}"`));
    if (!lt) throw new Error(`no launch template for ${group}`);
    const data = resources[lt].Properties!.LaunchTemplateData;
    const profile = data.IamInstanceProfile.Arn['Fn::GetAtt'][0] as string;
    const role = resources[profile].Properties!.Roles[0].Ref as string;
    const policies = Object.keys(resources).filter(
      (id) => resources[id].Type === 'AWS::IAM::Policy' && JSON.stringify(resources[id].Properties?.Roles ?? []).includes(`{"Ref":"${role}"}`),
    );
    const namingGroup = policies.filter((id) => JSON.stringify(resources[id].Properties).includes(`{"Ref":"${group}"}`));
    const dependsOn = res.DependsOn === undefined ? [] : Array.isArray(res.DependsOn) ? res.DependsOn : [res.DependsOn];
    const launchHooks = (res.Properties?.LifecycleHookSpecificationList ?? []).filter((h: any) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING');
    out.push({ group, role, policies, namingGroup, dependsOn, launchHooks, metadataOptions: data.MetadataOptions ?? {} });
  }
  return out;
}

/** The user data of a launch template, with tokens shown as `${Ref}` / `${Logical.Attr}`. */
export function userDataText(template: Template, index = 0): string {
  const lts = Object.values(template.findResources('AWS::EC2::LaunchTemplate')) as Array<{ Properties: { LaunchTemplateData: { UserData: any } } }>;
  const render = (v: any): string => {
    if (typeof v === 'string') return v;
    if (v?.Ref) return `\${${v.Ref}}`;
    if (v?.['Fn::GetAtt']) return `\${${v['Fn::GetAtt'].join('.')}}`;
    if (v?.['Fn::Join']) return v['Fn::Join'][1].map(render).join(v['Fn::Join'][0]);
    return JSON.stringify(v);
  };
  return render(lts[index].Properties.LaunchTemplateData.UserData['Fn::Base64']);
}

/** Names of the boot steps, in the order the script runs them. */
export function bootSteps(userData: string): string[] {
  return [...userData.matchAll(/^step ([a-z0-9-]+) rf_step_/gm)].map((m) => m[1]);
}
