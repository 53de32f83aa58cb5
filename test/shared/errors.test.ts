/**
 * The error classification against what the real SDK v3 clients throw when a service answers in its documented wire
 * format (test/wire): no error object is typed by hand here.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  classify,
  ERROR_CODES,
  errorCodes,
  errorName,
  hasCode,
  isAccessDenied,
  isAlreadyExists,
  isCapacityError,
  isConflict,
  isNotFound,
  isThrottling,
  isTransient,
  isTransientAfterCreate,
  type ErrorClass,
} from '../../lambda/shared/errors';
import * as wire from '../wire/bodies';
import { thrown, wireClient } from '../wire/clients';
import { WireServer, type WireAnswer } from '../wire/server';

let server: WireServer;
let clients: { send(c: unknown): Promise<unknown>; destroy(): void }[] = [];
beforeAll(async () => {
  server = await WireServer.start();
});
afterEach(() => server.reset());
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server.close();
});

type Call = 'rds' | 'ec2' | 'asg' | 'sns' | 'ddb' | 'sqs' | 'sm' | 'cw' | 'cd' | 'r53';
const OPERATION: Record<Call, string> = {
  rds: 'DescribeDBInstances',
  ec2: 'DescribeInstances',
  asg: 'CompleteLifecycleAction',
  sns: 'Publish',
  ddb: 'PutItem',
  sqs: 'DeleteMessage',
  sm: 'GetSecretValue',
  cw: 'PutMetricData',
  cd: 'GetDeployment',
  r53: 'ListResourceRecordSets',
};

/** Sends one call of that service to the harness, which answers `answer`; returns what the SDK threw. */
async function sdkError(call: Call, answer: WireAnswer): Promise<any> {
  server.on(OPERATION[call], answer);
  const make = <C>(Ctor: new (c: any) => C) => {
    const c = wireClient(Ctor, server) as any;
    clients.push(c);
    return c;
  };
  switch (call) {
    case 'rds':
      return thrown(make(RDSClient).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'shop-b' })));
    case 'ec2':
      return thrown(make(EC2Client).send(new DescribeInstancesCommand({ InstanceIds: ['i-0598c7d356eba48d7'] })));
    case 'asg':
      return thrown(make(AutoScalingClient).send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: 'web', LifecycleHookName: 'launch', LifecycleActionResult: 'CONTINUE', InstanceId: 'i-1' })));
    case 'sns':
      return thrown(make(SNSClient).send(new PublishCommand({ TopicArn: 'arn:aws:sns:eu-west-1:123456789012:alarms', Message: 'x' })));
    case 'ddb':
      return thrown(make(DynamoDBClient).send(new PutItemCommand({ TableName: 'ledger', Item: { pk: { S: 'leader' } } })));
    case 'sqs':
      return thrown(make(SQSClient).send(new DeleteMessageCommand({ QueueUrl: `${server.url}/123456789012/jobs`, ReceiptHandle: 'r' })));
    case 'sm':
      return thrown(make(SecretsManagerClient).send(new GetSecretValueCommand({ SecretId: 'db/master' })));
    case 'cw':
      return thrown(make(CloudWatchClient).send(new PutMetricDataCommand({ Namespace: 'ResilientFleet', MetricData: [{ MetricName: 'm', Value: 1 }] })));
    case 'cd':
      return thrown(make(CodeDeployClient).send(new GetDeploymentCommand({ deploymentId: 'd-1' })));
    case 'r53':
      return thrown(make(Route53Client).send(new ListResourceRecordSetsCommand({ HostedZoneId: 'Z1' })));
  }
}

describe('AWS error classification, on errors the real SDK parsed from documented wire bodies', () => {
  test('RDS 404 DBInstanceNotFound is not found: the SDK names it DBInstanceNotFoundFault and keeps the wire Code', async () => {
    const err = await sdkError('rds', wire.rds.dbInstanceNotFound('shop-b'));
    expect(err.name).toBe('DBInstanceNotFoundFault');
    expect(err.Code).toBe('DBInstanceNotFound');
    expect(err.$metadata.httpStatusCode).toBe(404);
    expect(isNotFound(err)).toBe(true);
    expect(classify(err)).toBe('notFound');
    expect(errorCodes(err)).toEqual(expect.arrayContaining(['DBInstanceNotFound', 'DBInstanceNotFoundFault']));
    expect(hasCode(err, 'DBInstanceNotFound')).toBe(true);
    expect(hasCode(err, 'DBInstanceNotFoundFault')).toBe(true);
  });

  const cases: Array<[string, Call, () => WireAnswer, ErrorClass | undefined]> = [
    ['EC2 InvalidInstanceID.NotFound', 'ec2', () => wire.ec2.instanceNotFound('i-0598c7d356eba48d7'), 'notFound'],
    ['EC2 RequestLimitExceeded', 'ec2', () => wire.ec2.requestLimitExceeded(), 'throttling'],
    ['EC2 UnauthorizedOperation', 'ec2', () => wire.ec2.unauthorizedOperation(), 'accessDenied'],
    ['EC2 InsufficientInstanceCapacity', 'ec2', () => wire.ec2.insufficientInstanceCapacity(), 'capacity'],
    ['EC2 IncorrectState', 'ec2', () => wire.ec2.incorrectState('i-1'), 'conflict'],
    ['EC2 InvalidAllocationID.NotFound', 'ec2', () => wire.ec2.allocationNotFound('eipalloc-1'), 'notFound'],
    ['RDS DBInstanceAlreadyExists', 'rds', () => wire.rds.dbInstanceAlreadyExists(), 'alreadyExists'],
    ['RDS InvalidDBInstanceState', 'rds', () => wire.rds.invalidDbInstanceState('shop-a'), 'conflict'],
    ['RDS DBSnapshotNotFound', 'rds', () => wire.rds.dbSnapshotNotFound('snap'), 'notFound'],
    ['RDS Throttling', 'rds', () => wire.rds.throttling(), 'throttling'],
    ['RDS InsufficientDBInstanceCapacity', 'rds', () => wire.rds.insufficientCapacity(), 'capacity'],
    ['RDS AccessDenied (IAM propagation)', 'rds', () => wire.rds.accessDenied('DescribeDBInstances'), 'accessDenied'],
    ['Auto Scaling ResourceContention', 'asg', () => wire.autoscaling.resourceContention(), 'conflict'],
    ['Auto Scaling ScalingActivityInProgress', 'asg', () => wire.autoscaling.scalingActivityInProgress(), 'conflict'],
    ['Auto Scaling Throttling', 'asg', () => wire.autoscaling.throttling(), 'throttling'],
    ['Auto Scaling ValidationError (no active lifecycle action)', 'asg', () => wire.autoscaling.noActiveLifecycleAction('i-1'), undefined],
    ['Auto Scaling AccessDenied', 'asg', () => wire.autoscaling.accessDenied('CompleteLifecycleAction'), 'accessDenied'],
    ['SNS NotFound', 'sns', () => wire.sns.notFound(), 'notFound'],
    ['SNS Throttled (429)', 'sns', () => wire.sns.throttled(), 'throttling'],
    ['SNS AuthorizationError', 'sns', () => wire.sns.authorizationError(), 'accessDenied'],
    ['SNS KMSAccessDenied', 'sns', () => wire.sns.kmsAccessDenied(), 'accessDenied'],
    ['DynamoDB ConditionalCheckFailedException', 'ddb', () => wire.dynamodb.conditionalCheckFailed(), 'conflict'],
    ['DynamoDB ProvisionedThroughputExceededException', 'ddb', () => wire.dynamodb.provisionedThroughputExceeded(), 'throttling'],
    ['DynamoDB ResourceNotFoundException', 'ddb', () => wire.dynamodb.resourceNotFound('ledger'), 'notFound'],
    ['DynamoDB AccessDeniedException', 'ddb', () => wire.dynamodb.accessDenied('PutItem'), 'accessDenied'],
    ['SQS QueueDoesNotExist (AWS.SimpleQueueService.NonExistentQueue)', 'sqs', () => wire.sqs.queueDoesNotExist(), 'notFound'],
    ['SQS RequestThrottled', 'sqs', () => wire.sqs.requestThrottled(), 'throttling'],
    ['SQS ReceiptHandleIsInvalid', 'sqs', () => wire.sqs.receiptHandleIsInvalid(), undefined],
    ['Secrets Manager ResourceNotFoundException', 'sm', () => wire.secretsManager.resourceNotFound(), 'notFound'],
    ['Secrets Manager DecryptionFailure', 'sm', () => wire.secretsManager.decryptionFailure(), undefined],
    ['CloudWatch Throttling', 'cw', () => wire.cloudwatch.throttling(), 'throttling'],
    ['CloudWatch InvalidParameterValue', 'cw', () => wire.cloudwatch.invalidParameterValue(), undefined],
    ['CodeDeploy DeploymentDoesNotExistException', 'cd', () => wire.codedeploy.deploymentDoesNotExist('d-1'), 'notFound'],
    ['Route 53 PriorRequestNotComplete', 'r53', () => wire.route53.priorRequestNotComplete(), 'throttling'],
    ['Route 53 Throttling', 'r53', () => wire.route53.throttling(), 'throttling'],
    ['Route 53 NoSuchHostedZone (a configuration error, never retried)', 'r53', () => wire.route53.noSuchHostedZone('Z1'), undefined],
  ];

  test.each(cases)('%s (%s client) is classed %s', async (_label, call, answer, expected) => {
    const err = await sdkError(call, answer());
    expect(classify(err)).toBe(expected);
    expect(isNotFound(err)).toBe(expected === 'notFound');
    expect(isThrottling(err)).toBe(expected === 'throttling');
    expect(isCapacityError(err)).toBe(expected === 'capacity');
    expect(isAccessDenied(err)).toBe(expected === 'accessDenied');
    expect(isConflict(err)).toBe(expected === 'conflict');
    expect(isAlreadyExists(err)).toBe(expected === 'alreadyExists');
  });

  test('an HTTP 429 with a code nobody listed is still throttling', async () => {
    const err = await sdkError('rds', wire.queryError('SomethingNew', 'slow down', 429));
    expect(errorName(err)).toBe('SomethingNew');
    expect(isThrottling(err)).toBe(true);
  });

  test('server faults, throttling and NotFound are transient; client errors and access denied are not', async () => {
    expect(isTransient(await sdkError('asg', wire.autoscaling.resourceContention()))).toBe(true);
    expect(isTransient(await sdkError('ec2', wire.internalError))).toBe(true);
    expect(isTransient(await sdkError('ec2', wire.ec2.instanceNotFound('i-1')))).toBe(true);
    expect(isTransient(await sdkError('rds', wire.rds.throttling()))).toBe(true);
    expect(isTransient(await sdkError('ec2', wire.ec2Error('InvalidParameterValue', 'bad')))).toBe(false);
    expect(isTransient(await sdkError('rds', wire.rds.accessDenied('AddTagsToResource')))).toBe(false);
  });

  test('right after a create, access denied is worth retrying too (IAM propagation); nowhere else', async () => {
    const denied = await sdkError('asg', wire.autoscaling.accessDenied('DescribeAutoScalingInstances'));
    expect(isTransient(denied)).toBe(false);
    expect(isTransientAfterCreate(denied)).toBe(true);
    expect(isTransientAfterCreate(await sdkError('ec2', wire.ec2Error('InvalidParameterValue', 'bad')))).toBe(false);
  });

  test('errorName prefers the wire code and ignores the generic "Error" name', async () => {
    expect(errorName(await sdkError('sqs', wire.sqs.queueDoesNotExist()))).toBe('AWS.SimpleQueueService.NonExistentQueue');
    expect(errorName(await sdkError('ddb', wire.dynamodb.conditionalCheckFailed()))).toBe('ConditionalCheckFailedException');
    expect(errorName(new Error('boom'))).toBe('Unknown');
    expect(errorName(undefined)).toBe('Unknown');
  });

  test('reads Node and older-SDK errors that carry only a code', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(errorName(reset)).toBe('ECONNRESET');
    expect(classify(reset)).toBeUndefined();
  });

  test('the table lists each code under one class only, so classification is unambiguous', () => {
    const classOf = new Map<string, string>();
    for (const table of Object.values(ERROR_CODES)) {
      for (const [cls, codes] of Object.entries(table)) {
        for (const code of codes ?? []) {
          expect([undefined, cls]).toContain(classOf.get(code));
          classOf.set(code, cls);
        }
      }
    }
  });
});
