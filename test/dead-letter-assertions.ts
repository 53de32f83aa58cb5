/**
 * The dead-letter wiring every event-driven hook must have (lib/private/dead-letters.ts), asserted on a template.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';

/** Every rule that targets `fn` sends undeliverable events to `queue`; the function's failed invocations go there too. */
export function expectDeadLettersOf(stack: Stack, t: Template, fn: { node: { defaultChild?: unknown } }, queue: { node: { defaultChild?: unknown } }, alarmTopic?: RegExp): number {
  const fnId = stack.getLogicalId(fn.node.defaultChild as never);
  const queueId = stack.getLogicalId(queue.node.defaultChild as never);
  const queueArn = { 'Fn::GetAtt': [queueId, 'Arn'] };
  const rules = Object.values(t.findResources('AWS::Events::Rule')) as Array<{ Properties: { Targets: Array<Record<string, unknown>> } }>;
  const targetsOfFn = rules.flatMap((r) => r.Properties.Targets).filter((tg) => JSON.stringify(tg.Arn) === JSON.stringify({ 'Fn::GetAtt': [fnId, 'Arn'] }));
  expect(targetsOfFn.length).toBeGreaterThan(0);
  for (const tg of targetsOfFn) expect(tg.DeadLetterConfig).toEqual({ Arn: queueArn });
  t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: fnId }, DestinationConfig: { OnFailure: { Destination: queueArn } } });
  expect(t.findResources('AWS::SQS::Queue')[queueId].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
  t.hasResourceProperties('AWS::SQS::QueuePolicy', {
    Queues: [{ Ref: queueId }],
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' })]) },
  });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    ...(alarmTopic ? { AlarmActions: [{ Ref: Match.stringLikeRegexp(alarmTopic.source) }] } : {}),
  });
  return targetsOfFn.length;
}
