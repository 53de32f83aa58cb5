/**
 * Wire bodies in each service's documented format, for the harness in ./server.ts. The envelopes follow the AWS API
 * references (each page is listed in test/fixtures/events/SOURCES.md, "Wire bodies"):
 * - EC2 query errors: `<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..</RequestID></Response>`
 *   (Amazon EC2 API Reference, "Error codes for the Amazon EC2 API", example error response);
 * - query errors of RDS, Auto Scaling and SNS: `<ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error>
 *   <RequestId>..</RequestId></ErrorResponse>`;
 * - JSON errors: `{"__type": "...#Code", "message": ".."}` (Amazon DynamoDB Developer Guide, "Error handling with DynamoDB");
 *   SQS and CloudWatch, which speak JSON with query compatibility, add the `x-amzn-query-error: Code;Sender` header
 *   (Amazon SQS Developer Guide, "Interpreting Amazon SQS JSON API responses");
 * - Route 53 REST errors: `<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>..`
 *   (Amazon Route 53 API Reference, "REST Responses", error responses).
 * Error codes, HTTP statuses and messages are the ones each operation's "Errors" section documents.
 */
import type { WireAnswer } from './server';

const REQUEST_ID = '7b7e3c5a-0a4b-4b8e-9d2f-example';

export const XMLNS = {
  ec2: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  rds: 'http://rds.amazonaws.com/doc/2014-10-31/',
  autoscaling: 'http://autoscaling.amazonaws.com/doc/2011-01-01/',
  sns: 'http://sns.amazonaws.com/doc/2010-03-31/',
  route53: 'https://route53.amazonaws.com/doc/2013-04-01/',
} as const;

/** Escapes text for an XML element. */
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const xml = (status: number, body: string): WireAnswer => ({ status, headers: { 'content-type': 'text/xml' }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` });

// ---------- success envelopes ----------

/** A query-protocol success (RDS, Auto Scaling, SNS): `<ActionResponse><ActionResult>inner</ActionResult><ResponseMetadata>..`. */
export function queryOk(service: 'rds' | 'autoscaling' | 'sns', action: string, innerXml = ''): WireAnswer {
  return xml(
    200,
    `<${action}Response xmlns="${XMLNS[service]}"><${action}Result>${innerXml}</${action}Result><ResponseMetadata><RequestId>${REQUEST_ID}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

/** A query-protocol success with no Result element (actions whose output is empty, e.g. SetInstanceProtection). */
export function queryOkEmpty(service: 'rds' | 'autoscaling' | 'sns', action: string): WireAnswer {
  return xml(200, `<${action}Response xmlns="${XMLNS[service]}"><ResponseMetadata><RequestId>${REQUEST_ID}</RequestId></ResponseMetadata></${action}Response>`);
}

/** An EC2 query success: `<ActionResponse xmlns=..><requestId>..</requestId>inner</ActionResponse>`. */
export function ec2Ok(action: string, innerXml = ''): WireAnswer {
  return xml(200, `<${action}Response xmlns="${XMLNS.ec2}"><requestId>${REQUEST_ID}</requestId>${innerXml}</${action}Response>`);
}

/** A JSON-protocol success. */
export function jsonOk(body: unknown = {}, version: '1.0' | '1.1' = '1.0'): WireAnswer {
  return { status: 200, headers: { 'content-type': `application/x-amz-json-${version}` }, body: JSON.stringify(body) };
}

/** A Route 53 REST/XML success. */
export function route53Ok(rootElement: string, innerXml: string, status = 200): WireAnswer {
  return xml(status, `<${rootElement} xmlns="${XMLNS.route53}">${innerXml}</${rootElement}>`);
}

// ---------- error envelopes ----------

/** An EC2 error, as the EC2 API Reference's example error response shows it. */
export function ec2Error(code: string, message: string, status = 400): WireAnswer {
  return xml(status, `<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${REQUEST_ID}</RequestID></Response>`);
}

/** A query-protocol error (RDS, Auto Scaling, SNS). */
export function queryError(code: string, message: string, status = 400, type: 'Sender' | 'Receiver' = 'Sender'): WireAnswer {
  return xml(status, `<ErrorResponse><Error><Type>${type}</Type><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error><RequestId>${REQUEST_ID}</RequestId></ErrorResponse>`);
}

/**
 * A JSON-protocol error. `namespace` prefixes the type as the services send it (`com.amazonaws.dynamodb.v20120810#`);
 * `queryError` adds the header that query-compatible services (SQS, CloudWatch) send with the query-era code.
 */
export function jsonError(type: string, message: string, opts: { status?: number; namespace?: string; version?: '1.0' | '1.1'; queryError?: string } = {}): WireAnswer {
  const headers: Record<string, string> = { 'content-type': `application/x-amz-json-${opts.version ?? '1.0'}` };
  if (opts.queryError) headers['x-amzn-query-error'] = opts.queryError;
  return { status: opts.status ?? 400, headers, body: JSON.stringify({ __type: `${opts.namespace ?? ''}${type}`, message }) };
}

/** A Route 53 REST error. */
export function route53Error(code: string, message: string, status = 400): WireAnswer {
  return xml(status, `<ErrorResponse xmlns="${XMLNS.route53}"><Error><Type>Sender</Type><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error><RequestId>${REQUEST_ID}</RequestId></ErrorResponse>`);
}

/** A 500 with an empty body (a service fault the SDK can only classify by status). */
export const internalError: WireAnswer = { status: 500, headers: { 'content-type': 'text/xml' }, body: '' };

// ---------- documented errors, per service (codes, statuses and messages from each operation's "Errors" section) ----------

export const rds = {
  /** DBInstanceNotFound, HTTP 404: "DBInstanceIdentifier doesn't refer to an existing DB instance." The SDK names it DBInstanceNotFoundFault. */
  dbInstanceNotFound: (id: string) => queryError('DBInstanceNotFound', `DBInstance ${id} not found.`, 404),
  /** DBInstanceAlreadyExists, HTTP 400: "The user already has a DB instance with the given identifier." */
  dbInstanceAlreadyExists: () => queryError('DBInstanceAlreadyExists', 'DB instance already exists'),
  /** InvalidDBInstanceState, HTTP 400: "The DB instance isn't in a valid state." */
  invalidDbInstanceState: (id: string) => queryError('InvalidDBInstanceState', `DB instance ${id} is not in available state.`),
  /** DBSnapshotNotFound, HTTP 404: "DBSnapshotIdentifier doesn't refer to an existing DB snapshot." */
  dbSnapshotNotFound: (id: string) => queryError('DBSnapshotNotFound', `DBSnapshot ${id} not found.`, 404),
  /** PointInTimeRestoreNotEnabled, HTTP 400. */
  pointInTimeRestoreNotEnabled: () => queryError('PointInTimeRestoreNotEnabled', 'SourceDBInstanceIdentifier refers to a DB instance with BackupRetentionPeriod equal to 0.'),
  /** InsufficientDBInstanceCapacity, HTTP 400: "The specified DB instance class isn't available in the specified Availability Zone." */
  insufficientCapacity: () => queryError('InsufficientDBInstanceCapacity', 'The specified DB instance class is not available in the specified Availability Zone.'),
  /** Common error Throttling, HTTP 400: "The request was denied due to request throttling." */
  throttling: () => queryError('Throttling', 'Rate exceeded'),
  /** Common error AccessDenied, HTTP 403 (fresh IAM grants propagate for a few seconds). */
  accessDenied: (action: string) => queryError('AccessDenied', `User: arn:aws:sts::123456789012:assumed-role/hook/fn is not authorized to perform: rds:${action}`, 403),
  /** Common error InternalFailure, HTTP 500: "The request processing has failed because of an unknown error, exception or failure." */
  internalFailure: () => queryError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500, 'Receiver'),
};

export const ec2 = {
  /** InvalidInstanceID.NotFound, HTTP 400 (the EC2 API Reference's example error response). */
  instanceNotFound: (id: string) => ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`),
  /** RequestLimitExceeded: "The maximum request rate permitted by the Amazon EC2 APIs has been exceeded for your account." */
  requestLimitExceeded: () => ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503),
  /** UnauthorizedOperation, HTTP 403: "You are not authorized to perform this operation." */
  unauthorizedOperation: () => ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403),
  /** InsufficientInstanceCapacity, HTTP 500 (server error table): "There is not enough capacity to fulfill your request." */
  insufficientInstanceCapacity: () => ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient capacity in the Availability Zone you requested.', 500),
  /** IncorrectState, HTTP 400: "The resource is in an incorrect state for the request." */
  incorrectState: (id: string) => ec2Error('IncorrectState', `The instance '${id}' is not in a state from which it can be modified.`),
  /** InvalidAllocationID.NotFound, HTTP 400. */
  allocationNotFound: (id: string) => ec2Error('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`),
  /** InternalError, HTTP 500 (server error table): "An internal error has occurred. Retry your request." */
  internalError: () => ec2Error('InternalError', 'An internal error has occurred.', 500),
  /** RouteAlreadyExists, HTTP 400: "A route for the specified CIDR block already exists in this route table." */
  routeAlreadyExists: (cidr: string) => ec2Error('RouteAlreadyExists', `The route identified by ${cidr} already exists.`),
  /** InvalidRouteTableID.NotFound, HTTP 400: "The specified route table does not exist." */
  routeTableNotFound: (id: string) => ec2Error('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`),
};

export const autoscaling = {
  /** ValidationError, HTTP 400 (CompleteLifecycleAction / RecordLifecycleActionHeartbeat on a token or instance that has no action). */
  noActiveLifecycleAction: (instanceId: string) => queryError('ValidationError', `No active Lifecycle Action found with instance ID ${instanceId}`),
  /** ValidationError, HTTP 400 (SetInstanceProtection on an instance that is not in the group). */
  notInGroup: (instanceId: string, group: string) => queryError('ValidationError', `The instance ${instanceId} is not part of Auto Scaling group ${group}.`),
  /** ValidationError, HTTP 400 (SetInstanceProtection on an instance that has left InService/Standby, e.g. Terminating:Wait). */
  protectionNotInService: (instanceId: string) => queryError('ValidationError', `The instance ${instanceId} is not in InService or Standby state.`),
  /** ResourceContention, HTTP 500: "You already have a pending update to an Amazon EC2 Auto Scaling resource." */
  resourceContention: () => queryError('ResourceContention', 'You already have a pending update to an Auto Scaling resource (for example, a group, instance, or load balancer).', 500, 'Receiver'),
  /** ScalingActivityInProgress, HTTP 400: "The operation can't be performed because there are scaling activities in progress." */
  scalingActivityInProgress: () => queryError('ScalingActivityInProgress', 'Scaling activities in progress'),
  /** Common error Throttling, HTTP 400. */
  throttling: () => queryError('Throttling', 'Rate exceeded'),
  /** Common error AccessDenied, HTTP 403. */
  accessDenied: (action: string) => queryError('AccessDenied', `User is not authorized to perform: autoscaling:${action}`, 403),
  /** Common error InternalFailure, HTTP 500: "The request processing has failed because of an unknown error, exception or failure." */
  internalFailure: () => queryError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500, 'Receiver'),
};

export const sns = {
  /** NotFound, HTTP 404: "Indicates that the requested resource does not exist." */
  notFound: () => queryError('NotFound', 'Topic does not exist', 404),
  /** AuthorizationError, HTTP 403. */
  authorizationError: () => queryError('AuthorizationError', 'User is not authorized to perform: SNS:Publish', 403),
  /** KMSAccessDenied, HTTP 400: "The ciphertext references a key that doesn't exist or that you don't have access to." */
  kmsAccessDenied: () => queryError('KMSAccessDenied', 'The ciphertext references a key that doesn\'t exist or that you don\'t have access to.'),
  /** Throttled, HTTP 429: "Indicates that the rate at which requests have been submitted for this action exceeds the limit for your Amazon Web Services account." */
  throttled: () => queryError('Throttled', 'Rate exceeded', 429),
};

const DDB = 'com.amazonaws.dynamodb.v20120810#';
export const dynamodb = {
  /** ConditionalCheckFailedException, HTTP 400: "The conditional request failed." */
  conditionalCheckFailed: () => jsonError('ConditionalCheckFailedException', 'The conditional request failed', { namespace: DDB }),
  /** ProvisionedThroughputExceededException, HTTP 400. */
  provisionedThroughputExceeded: () => jsonError('ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.', { namespace: DDB }),
  /** ResourceNotFoundException, HTTP 400 (the Developer Guide's example error response). */
  resourceNotFound: (table: string) => jsonError('ResourceNotFoundException', `Requested resource not found: Table: ${table} not found`, { namespace: DDB }),
  /** ThrottlingException, HTTP 400. */
  throttling: () => jsonError('ThrottlingException', 'Rate of requests exceeds the allowed throughput.', { namespace: 'com.amazon.coral.availability#' }),
  /** AccessDeniedException, HTTP 400. */
  accessDenied: (action: string) => jsonError('AccessDeniedException', `User is not authorized to perform: dynamodb:${action}`, { namespace: 'com.amazon.coral.service#' }),
};

export const secretsManager = {
  /** ResourceNotFoundException, HTTP 400: "Secrets Manager can't find the resource that you asked for." */
  resourceNotFound: () => jsonError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", { version: '1.1' }),
  /** DecryptionFailure, HTTP 400. */
  decryptionFailure: () => jsonError('DecryptionFailure', "Secrets Manager can't decrypt the protected secret text using the provided KMS key.", { version: '1.1' }),
  /** InvalidRequestException, HTTP 400 (for example a secret scheduled for deletion). */
  invalidRequest: () => jsonError('InvalidRequestException', 'You can\'t perform this operation on the secret because it was marked for deletion.', { version: '1.1' }),
  throttling: () => jsonError('ThrottlingException', 'Rate exceeded', { version: '1.1' }),
};

export const sqs = {
  /** QueueDoesNotExist (query code AWS.SimpleQueueService.NonExistentQueue), HTTP 400: "Ensure that the QueueUrl is correct and that the queue has not been deleted." */
  queueDoesNotExist: () => jsonError('QueueDoesNotExist', 'The specified queue does not exist.', { namespace: 'com.amazonaws.sqs#', queryError: 'AWS.SimpleQueueService.NonExistentQueue;Sender' }),
  /** ReceiptHandleIsInvalid, HTTP 400: "The specified receipt handle isn't valid." */
  receiptHandleIsInvalid: () => jsonError('ReceiptHandleIsInvalid', 'The input receipt handle is invalid.', { namespace: 'com.amazonaws.sqs#', queryError: 'ReceiptHandleIsInvalid;Sender' }),
  /** MessageNotInflight, HTTP 400: "The specified message isn't in flight." */
  messageNotInflight: () => jsonError('MessageNotInflight', 'The message referred to is not in flight.', { namespace: 'com.amazonaws.sqs#', queryError: 'AWS.SimpleQueueService.MessageNotInflight;Sender' }),
  /** RequestThrottled, HTTP 400. */
  requestThrottled: () => jsonError('RequestThrottled', 'Request is throttled.', { namespace: 'com.amazonaws.sqs#', queryError: 'RequestThrottled;Sender' }),
  /** Common error AccessDeniedException (query code AccessDenied), HTTP 400: "You do not have sufficient access to perform this action." */
  accessDenied: (action: string) =>
    jsonError('AccessDeniedException', `User: arn:aws:sts::123456789012:assumed-role/worker/i-0abc1234def567890 is not authorized to perform: sqs:${action}`, { namespace: 'com.amazon.coral.service#', queryError: 'AccessDenied;Sender' }),
};

export const cloudwatch = {
  /** InvalidParameterValue, HTTP 400 (PutMetricData). */
  invalidParameterValue: () => jsonError('InvalidParameterValueException', 'The value 1 for parameter MetricData.member.1.Value is invalid.', { namespace: 'com.amazonaws.cloudwatch#', queryError: 'InvalidParameterValue;Sender' }),
  /** Common error Throttling, HTTP 400. */
  throttling: () => jsonError('ThrottlingException', 'Rate exceeded', { namespace: 'com.amazon.coral.availability#', queryError: 'Throttling;Sender' }),
};

export const codedeploy = {
  /** DeploymentDoesNotExistException, HTTP 400: "The deployment with the user or Amazon Web Services account does not exist." */
  deploymentDoesNotExist: (id: string) => jsonError('DeploymentDoesNotExistException', `The deployment ${id} could not be found.`, { version: '1.1' }),
  /** DeploymentTargetDoesNotExistException, HTTP 400. */
  deploymentTargetDoesNotExist: (id: string) => jsonError('DeploymentTargetDoesNotExistException', `The provided target ID ${id} does not belong to the deployment.`, { version: '1.1' }),
  throttling: () => jsonError('ThrottlingException', 'Rate exceeded', { version: '1.1' }),
};

export const route53 = {
  /** NoSuchHostedZone, HTTP 404: "No hosted zone exists with the ID that you specified." */
  noSuchHostedZone: (zoneId: string) => route53Error('NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`, 404),
  /** PriorRequestNotComplete, HTTP 400: "If Amazon Route 53 can't process a request before the next request arrives, it will reject subsequent requests for the same hosted zone". */
  priorRequestNotComplete: () => route53Error('PriorRequestNotComplete', 'The request was rejected because Route 53 was still processing a prior request.'),
  /** Throttling, HTTP 400. */
  throttling: () => route53Error('Throttling', 'Rate exceeded'),
  /** InvalidChangeBatch, HTTP 400: "This exception contains a list of messages that might contain one or more error messages." */
  invalidChangeBatch: (message: string) => route53Error('InvalidChangeBatch', message),
  /**
   * InvalidChangeBatch in the `<InvalidChangeBatch><Messages><Message>` form, the modelled shape of the error (a list of
   * messages) as its own root element, which other SDKs (aws-sdk-swift #1447) customise for; SDK v3 for JavaScript
   * throws it as name "Unknown" with the parsed Messages.
   */
  invalidChangeBatchMessages: (...messages: string[]): WireAnswer =>
    xml(400, `<InvalidChangeBatch xmlns="${XMLNS.route53}"><Messages>${messages.map((m) => `<Message>${esc(m)}</Message>`).join('')}</Messages><RequestId>${REQUEST_ID}</RequestId></InvalidChangeBatch>`),
};

// ---------- success bodies built from the API references' example responses ----------

export interface RdsInstanceXml {
  readonly id: string;
  readonly status?: string;
  readonly address?: string;
  readonly port?: number;
  readonly multiAz?: boolean;
  readonly replicaSource?: string;
  readonly tags?: Record<string, string>;
  readonly latestRestorableTime?: string;
  readonly instanceClass?: string;
}

/**
 * One `<DBInstance>` element, in the element names and order of the RDS API Reference's DescribeDBInstances example
 * response (the fields the MySQL hooks read; the AWS CLI example in test/fixtures/events/rds-describe-db-instances-response.json
 * shows the same values).
 */
export function rdsDbInstance(i: RdsInstanceXml): string {
  const tags = Object.entries(i.tags ?? {})
    .map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`)
    .join('');
  return [
    '<DBInstance>',
    `<DBInstanceIdentifier>${esc(i.id)}</DBInstanceIdentifier>`,
    `<DBInstanceClass>${i.instanceClass ?? 'db.t3.small'}</DBInstanceClass>`,
    '<Engine>mysql</Engine>',
    `<DBInstanceStatus>${i.status ?? 'available'}</DBInstanceStatus>`,
    '<MasterUsername>masterawsuser</MasterUsername>',
    i.address ? `<Endpoint><Address>${esc(i.address)}</Address><Port>${i.port ?? 3306}</Port><HostedZoneId>Z2R2ITUGPM61AM</HostedZoneId></Endpoint>` : '',
    '<AllocatedStorage>20</AllocatedStorage>',
    `<MultiAZ>${i.multiAz ? 'true' : 'false'}</MultiAZ>`,
    '<EngineVersion>8.0.35</EngineVersion>',
    i.latestRestorableTime ? `<LatestRestorableTime>${i.latestRestorableTime}</LatestRestorableTime>` : '',
    i.replicaSource ? `<ReadReplicaSourceDBInstanceIdentifier>${esc(i.replicaSource)}</ReadReplicaSourceDBInstanceIdentifier>` : '',
    '<ReadReplicaDBInstanceIdentifiers/>',
    '<StorageEncrypted>true</StorageEncrypted>',
    `<DBInstanceArn>arn:aws:rds:eu-west-1:123456789012:db:${esc(i.id)}</DBInstanceArn>`,
    `<TagList>${tags}</TagList>`,
    '</DBInstance>',
  ].join('');
}

/** DescribeDBInstances answering these instances (and a Marker when there is another page). */
export function rdsDescribe(instances: readonly RdsInstanceXml[], marker?: string): WireAnswer {
  return queryOk('rds', 'DescribeDBInstances', `<DBInstances>${instances.map(rdsDbInstance).join('')}</DBInstances>${marker ? `<Marker>${esc(marker)}</Marker>` : ''}`);
}

/** An RDS action answering one `<DBInstance>` (PromoteReadReplica, ModifyDBInstance, CreateDBInstanceReadReplica, Restore*, Delete*). */
export function rdsInstanceResult(action: string, i: RdsInstanceXml): WireAnswer {
  return queryOk('rds', action, rdsDbInstance(i));
}

/** Route 53 ListResourceRecordSets with CNAME records (the API Reference's example response, CNAME records instead of SOA). */
export function route53ListCnames(records: ReadonlyArray<{ name: string; value: string; ttl: number }>, truncated = false): WireAnswer {
  const sets = records
    .map((r) => `<ResourceRecordSet><Name>${esc(r.name)}</Name><Type>CNAME</Type><TTL>${r.ttl}</TTL><ResourceRecords><ResourceRecord><Value>${esc(r.value)}</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>`)
    .join('');
  return route53Ok('ListResourceRecordSetsResponse', `<ResourceRecordSets>${sets}</ResourceRecordSets><IsTruncated>${truncated}</IsTruncated><MaxItems>1</MaxItems>`);
}

/** Route 53 ChangeResourceRecordSets: the API Reference's example response. */
export const route53ChangeOk = (): WireAnswer =>
  route53Ok('ChangeResourceRecordSetsResponse', '<ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>2017-02-10T01:36:41.958Z</SubmittedAt></ChangeInfo>');

/** DescribeAutoScalingInstances, in the API Reference's sample response layout. */
export function asgDescribeInstances(instances: ReadonlyArray<{ id: string; group: string; state?: string; protectedFromScaleIn?: boolean }>): WireAnswer {
  const members = instances
    .map(
      (i) =>
        `<member><HealthStatus>HEALTHY</HealthStatus><AutoScalingGroupName>${esc(i.group)}</AutoScalingGroupName><AvailabilityZone>eu-west-1a</AvailabilityZone><InstanceId>${i.id}</InstanceId><LaunchTemplate><LaunchTemplateId>lt-0b97b5a8a0b1c2d3e</LaunchTemplateId><LaunchTemplateName>my-launch-template</LaunchTemplateName><Version>1</Version></LaunchTemplate><LifecycleState>${i.state ?? 'InService'}</LifecycleState><ProtectedFromScaleIn>${i.protectedFromScaleIn ? 'true' : 'false'}</ProtectedFromScaleIn></member>`,
    )
    .join('');
  return queryOk('autoscaling', 'DescribeAutoScalingInstances', `<AutoScalingInstances>${members}</AutoScalingInstances>`);
}

export interface Ec2InstanceXml {
  readonly id: string;
  readonly state?: string;
  readonly privateIp?: string;
  readonly publicIp?: string;
  readonly tags?: Record<string, string>;
}

const EC2_STATE_CODES: Record<string, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

/** DescribeInstances, in the EC2 API Reference's example response layout (reservationSet / instancesSet items). */
export function ec2DescribeInstances(instances: readonly Ec2InstanceXml[], nextToken?: string): WireAnswer {
  const items = instances
    .map((i) => {
      const state = i.state ?? 'running';
      const tags = Object.entries(i.tags ?? {})
        .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
        .join('');
      return `<item><reservationId>r-1234567890abcdef0</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet><item><instanceId>${i.id}</instanceId><imageId>ami-0abcdef1234567890</imageId><instanceState><code>${EC2_STATE_CODES[state] ?? 16}</code><name>${state}</name></instanceState>${i.privateIp ? `<privateIpAddress>${i.privateIp}</privateIpAddress>` : ''}${i.publicIp ? `<ipAddress>${i.publicIp}</ipAddress>` : ''}<instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><tagSet>${tags}</tagSet></item></instancesSet></item>`;
    })
    .join('');
  return ec2Ok('DescribeInstances', `<reservationSet>${items}</reservationSet>${nextToken ? `<nextToken>${esc(nextToken)}</nextToken>` : ''}`);
}

/** An EC2 action whose answer is `<return>true</return>` (CreateTags, DeleteTags, ModifyInstanceAttribute, ...). */
export const ec2Return = (action: string): WireAnswer => ec2Ok(action, '<return>true</return>');
