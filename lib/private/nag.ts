import { Validations } from 'aws-cdk-lib';
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
