import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag AwsSolutions finding on exactly one construct, with the reason a reviewer needs.
 * The library acknowledges only what is true by design; users see everything else.
 * `finding` narrows it to one finding of a rule (for example `Policy::arn:<AWS::Partition>:iam::aws:policy/X`).
 */
export function acknowledgeNag(construct: IConstruct, rule: string, reason: string, finding?: string): void {
  const id = `AwsSolutions::${rule}${finding ? `[${finding}]` : ''}`;
  Validations.of(construct).acknowledge({ id, reason });
}

/**
 * How cdk-nag prints a value in a finding id: literal text as is, `<Logical.Attr>` for GetAtt, `<Ref>` for Ref
 * (so `<AWS::Region>`, `<AWS::Partition>`), Fn::Join flattened. Lets an acknowledgement name exactly one finding.
 */
export function nagRender(stack: Stack, value: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.Ref === 'string') return `<${o.Ref}>`;
      if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      if (Array.isArray(o['Fn::Join'])) {
        const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(sep);
      }
    }
    return JSON.stringify(v);
  };
  return render(stack.resolve(value));
}
