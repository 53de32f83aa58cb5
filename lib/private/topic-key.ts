import { Annotations, ArnFormat, Stack, Token, aws_iam as iam, aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';

/**
 * An AWS service that publishes to an SNS topic on a construct's behalf. When the topic is encrypted with a customer
 * managed key, SNS asks KMS for a data key as that publisher, so the key policy must let it use the key
 * (SNS Developer Guide, "Enable compatibility between event sources from AWS services and encrypted topics").
 */
export enum TopicPublisher {
  /**
   * CloudWatch alarm actions: `cloudwatch.amazonaws.com`, conditioned on `aws:SourceAccount` and `aws:SourceArn`
   * (the alarms of this account and Region), which CloudWatch sends.
   */
  CLOUDWATCH_ALARMS = 'cloudwatch-alarms',
  /**
   * Auto Scaling group notifications: published by the AWSServiceRoleForAutoScaling service-linked role, which SNS
   * names as an IAM role rather than a service principal, so no `aws:Source*` keys are sent.
   */
  AUTO_SCALING_NOTIFICATIONS = 'autoscaling-notifications',
  /**
   * EventBridge rule targets: `events.amazonaws.com`. The SNS guide says EventBridge sends no `aws:SourceAccount` /
   * `aws:SourceArn` to KMS, so a condition on them would drop every event; the topic policy carries the rule scope.
   */
  EVENTBRIDGE = 'eventbridge',
}

const KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey*'];

/** The service principal (or service-linked role) that KMS sees for a publisher, as a key policy names it. */
export function publisherPrincipal(stack: Stack, publisher: TopicPublisher): string {
  switch (publisher) {
    case TopicPublisher.CLOUDWATCH_ALARMS:
      return 'cloudwatch.amazonaws.com';
    case TopicPublisher.EVENTBRIDGE:
      return 'events.amazonaws.com';
    case TopicPublisher.AUTO_SCALING_NOTIFICATIONS:
      return autoScalingServiceLinkedRoleArn(stack);
  }
}

/** `arn:<partition>:iam::<account>:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling` */
export function autoScalingServiceLinkedRoleArn(stack: Stack): string {
  return stack.formatArn({
    service: 'iam',
    region: '',
    resource: 'role',
    resourceName: 'aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
  });
}

/**
 * The key policy statement that lets `publisher` use a topic key: kms:Decrypt and kms:GenerateDataKey*, with the
 * confused-deputy conditions the service sends. The Auto Scaling role is matched by `aws:PrincipalArn` under a `*`
 * principal in the same account, because KMS rejects a key policy that names a role which does not exist yet, and the
 * service-linked role appears only when the account's first Auto Scaling group is created (often in the same deploy).
 */
export function publisherKeyStatement(stack: Stack, publisher: TopicPublisher): iam.PolicyStatement {
  const sid = `AllowPublish-${publisher}`;
  switch (publisher) {
    case TopicPublisher.CLOUDWATCH_ALARMS:
      return new iam.PolicyStatement({
        sid,
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: KEY_ACTIONS,
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      });
    case TopicPublisher.EVENTBRIDGE:
      return new iam.PolicyStatement({
        sid,
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: KEY_ACTIONS,
        resources: ['*'],
      });
    case TopicPublisher.AUTO_SCALING_NOTIFICATIONS:
      return new iam.PolicyStatement({
        sid,
        principals: [new iam.AnyPrincipal()],
        actions: KEY_ACTIONS,
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:PrincipalAccount': stack.account },
          ArnEquals: { 'aws:PrincipalArn': autoScalingServiceLinkedRoleArn(stack) },
        },
      });
  }
}

const added = new WeakMap<IConstruct, Set<TopicPublisher>>();

/**
 * Makes sure `publisher` can publish to `topic`: when the topic's key is a key of this app, its policy gets the
 * statement (once per key and publisher); when the construct cannot see or change the key policy (an imported topic,
 * an imported key, the AWS managed key of SNS) it warns `scope`'s user with what to add. Returns whether the key policy
 * is known to allow the publisher (true also for a topic of this app without a key: nothing to allow).
 */
export function allowTopicPublisher(scope: Construct, topic: sns.ITopic, publisher: TopicPublisher, prop: string): boolean {
  const stack = Stack.of(scope);
  const principal = publisherPrincipal(stack, publisher);
  const who = publisher === TopicPublisher.AUTO_SCALING_NOTIFICATIONS ? `the role ${principal}` : principal;
  const warn = (why: string): false => {
    Annotations.of(scope).addWarningV2(
      `resilient-fleet:topicKeyUnverified:${publisher}`,
      `${prop}: ${why}, so this construct cannot check that ${who} may use it. If the topic is encrypted with a customer managed key, ` +
        `its key policy must allow ${who} kms:Decrypt and kms:GenerateDataKey*, or the messages are dropped without an error. ` +
        'Pass a topic (and key) defined in this app, or add that statement to the key policy and acknowledge this warning.',
    );
    return false;
  };
  const key = topic.masterKey;
  if (!key) {
    return topic instanceof sns.Topic ? true : warn('the topic is imported and its encryption key is unknown');
  }
  if (!Token.isUnresolved(key.keyArn) && /:alias\/aws\/sns$/.test(key.keyArn)) {
    return warn('the topic uses the AWS managed key of SNS (alias/aws/sns), whose policy no AWS service publisher can use');
  }
  if (!(key instanceof kms.Key)) return warn('the topic\'s key is imported and its key policy is not in this app');
  const done = added.get(key) ?? new Set<TopicPublisher>();
  if (!done.has(publisher)) {
    key.addToResourcePolicy(publisherKeyStatement(Stack.of(key), publisher));
    done.add(publisher);
    added.set(key, done);
  }
  return true;
}

export interface EncryptedTopicProps {
  /** Who publishes besides IAM principals granted with `grantPublish` (alarms, Auto Scaling, EventBridge). */
  readonly publishers: TopicPublisher[];
  readonly keyDescription: string;
  readonly displayName?: string;
  /** An existing key to encrypt with. @default - a new key with rotation */
  readonly key?: kms.IKey;
}

/** A topic encrypted with a customer managed key that its AWS service publishers may use, SSL enforced. */
export function encryptedTopic(scope: Construct, id: string, props: EncryptedTopicProps): { topic: sns.Topic; key: kms.IKey } {
  const key = props.key ?? new kms.Key(scope, `${id}Key`, { enableKeyRotation: true, description: props.keyDescription });
  const topic = new sns.Topic(scope, id, { masterKey: key, enforceSSL: true, displayName: props.displayName });
  for (const p of props.publishers) allowTopicPublisher(scope, topic, p, id);
  return { topic, key };
}
