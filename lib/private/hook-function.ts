import {
  Duration,
  RemovalPolicy,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { bundleDir } from './assets';

/** The newest Node.js runtime aws-cdk-lib offers (Node 20 is end-of-life). */
export const HOOK_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface HookFunctionProps {
  /** Folder name under lambda/ (and assets/lambda/). */
  readonly hook: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Lambda hook from this library's prebuilt bundle (no bundling at synth time), with its own role and
 * log group, so its permissions are only what the construct grants it (no AWS managed policies) and its
 * logs are retained for a bounded time.
 */
export class HookFunction extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HookFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `resilient-fleet ${props.hook} hook`,
    });
    // Only this function's own log group: no AWSLambdaBasicExecutionRole (which allows every log group).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn, `${this.logGroup.logGroupArn}:*`],
      }),
    );
    this.function = new lambda.Function(this, 'Resource', {
      runtime: HOOK_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(bundleDir('lambda', props.hook)),
      description: props.description,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      timeout: props.timeout ?? Duration.minutes(1),
      memorySize: props.memorySize ?? 256,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
    });
  }
}
