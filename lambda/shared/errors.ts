/**
 * One classification of AWS errors for every hook and instance program: not found (eventual consistency right after a
 * write), throttling, capacity, access denied (IAM propagation right after a role or grant is created), conflict (the
 * resource is busy or in another state), and already exists.
 *
 * It is built from a table of the error codes each service's API reference documents, and an error matches a code when
 * ANY of the names it carries does: SDK v3 puts the modelled exception in `name` and the service's wire code in `Code`
 * (query protocols) or in the `x-amzn-query-error` header (SQS, CloudWatch), and they differ: RDS answers HTTP 404
 * `<Code>DBInstanceNotFound</Code>`, which the SDK throws as `name: 'DBInstanceNotFoundFault'`, `Code: 'DBInstanceNotFound'`.
 * Plain objects with `code` / `Code` (older SDKs, Node errors) are read the same way.
 */

export type ErrorClass = 'notFound' | 'throttling' | 'capacity' | 'accessDenied' | 'conflict' | 'alreadyExists';

/**
 * The documented codes, per service and class. Both spellings are listed where the SDK's exception name differs from
 * the wire code (RDS `...Fault`, SQS's query-era `AWS.SimpleQueueService.*`), so either alone still matches.
 */
export const ERROR_CODES: Readonly<Record<string, Readonly<Partial<Record<ErrorClass, readonly string[]>>>>> = {
  ec2: {
    // EC2 API Reference, "Error codes": every "<Resource>ID.NotFound" / "<Resource>.NotFound" code (matched by suffix too).
    notFound: ['InvalidInstanceID.NotFound', 'InvalidAllocationID.NotFound', 'InvalidAssociationID.NotFound', 'InvalidRouteTableID.NotFound', 'InvalidRoute.NotFound', 'InvalidGroup.NotFound', 'InvalidNetworkInterfaceID.NotFound', 'InvalidAMIID.NotFound'],
    throttling: ['RequestLimitExceeded', 'EC2ThrottledException'],
    capacity: ['InsufficientInstanceCapacity', 'InsufficientHostCapacity', 'InsufficientReservedInstanceCapacity', 'InsufficientCapacity', 'InsufficientCapacityOnHost', 'InsufficientFreeAddressesInSubnet', 'Unsupported', 'SpotMaxPriceTooLow', 'MaxSpotInstanceCountExceeded'],
    accessDenied: ['UnauthorizedOperation', 'Client.UnauthorizedOperation'],
    conflict: ['IncorrectState', 'IncorrectInstanceState', 'Resource.AlreadyAssociated'],
    alreadyExists: ['RouteAlreadyExists', 'InvalidGroup.Duplicate', 'InvalidPermission.Duplicate'],
  },
  rds: {
    notFound: ['DBInstanceNotFound', 'DBInstanceNotFoundFault', 'DBSnapshotNotFound', 'DBSnapshotNotFoundFault', 'DBClusterNotFoundFault', 'DBParameterGroupNotFound', 'DBParameterGroupNotFoundFault', 'DBSubnetGroupNotFoundFault', 'OptionGroupNotFoundFault', 'DBInstanceAutomatedBackupNotFound', 'DBInstanceAutomatedBackupNotFoundFault'],
    throttling: ['Throttling', 'ThrottlingException'],
    capacity: ['InsufficientDBInstanceCapacity', 'InsufficientDBInstanceCapacityFault', 'StorageQuotaExceeded', 'StorageQuotaExceededFault'],
    accessDenied: ['AccessDenied', 'AccessDeniedException'],
    conflict: ['InvalidDBInstanceState', 'InvalidDBInstanceStateFault', 'InvalidDBSnapshotState', 'InvalidDBSnapshotStateFault', 'InvalidDBClusterStateFault'],
    alreadyExists: ['DBInstanceAlreadyExists', 'DBInstanceAlreadyExistsFault', 'DBSnapshotAlreadyExists', 'DBSnapshotAlreadyExistsFault'],
  },
  autoscaling: {
    throttling: ['Throttling'],
    accessDenied: ['AccessDenied', 'AccessDeniedException'],
    conflict: ['ResourceContention', 'ResourceContentionFault', 'ScalingActivityInProgress', 'ScalingActivityInProgressFault', 'ResourceInUse', 'ResourceInUseFault'],
    alreadyExists: ['AlreadyExists', 'AlreadyExistsFault'],
  },
  sns: {
    notFound: ['NotFound', 'NotFoundException'],
    throttling: ['Throttled', 'ThrottledException', 'KMSThrottling', 'KMSThrottlingException'],
    accessDenied: ['AuthorizationError', 'AuthorizationErrorException', 'KMSAccessDenied', 'KMSAccessDeniedException'],
  },
  dynamodb: {
    notFound: ['ResourceNotFoundException'],
    throttling: ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'],
    accessDenied: ['AccessDeniedException'],
    conflict: ['ConditionalCheckFailedException', 'TransactionConflictException'],
  },
  sqs: {
    notFound: ['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue'],
    throttling: ['RequestThrottled', 'ThrottlingException'],
    accessDenied: ['AccessDenied', 'AccessDeniedException'],
    conflict: ['MessageNotInflight', 'AWS.SimpleQueueService.MessageNotInflight'],
  },
  secretsmanager: {
    notFound: ['ResourceNotFoundException'],
    throttling: ['ThrottlingException'],
    accessDenied: ['AccessDeniedException'],
    alreadyExists: ['ResourceExistsException'],
  },
  monitoring: {
    throttling: ['Throttling', 'ThrottlingException'],
    accessDenied: ['AccessDenied', 'AccessDeniedException'],
  },
  codedeploy: {
    notFound: ['DeploymentDoesNotExistException', 'DeploymentTargetDoesNotExistException', 'DeploymentGroupDoesNotExistException', 'ApplicationDoesNotExistException'],
    throttling: ['ThrottlingException'],
  },
  route53: {
    // NoSuchHostedZone is a wrong configuration, not a consistency delay: it is not "not found" here, so nothing retries it.
    throttling: ['Throttling', 'ThrottlingException', 'PriorRequestNotComplete'],
    accessDenied: ['AccessDenied', 'AccessDeniedException'],
    conflict: ['ConcurrentModification'],
  },
  // Codes common to every query and JSON service (CommonErrors pages), and older spellings that SDKs and proxies still use.
  common: {
    notFound: ['NoSuchEntity'],
    throttling: ['ThrottlingException', 'ThrottledException', 'TooManyRequestsException', 'RequestThrottledException', 'SlowDown', 'Rate exceeded'],
    accessDenied: ['AccessDenied', 'AccessDeniedException', 'NotAuthorized'],
  },
};

const BY_CLASS = new Map<ErrorClass, Set<string>>();
for (const table of Object.values(ERROR_CODES)) {
  for (const [cls, codes] of Object.entries(table) as Array<[ErrorClass, readonly string[]]>) {
    const set = BY_CLASS.get(cls) ?? new Set<string>();
    for (const c of codes) set.add(c);
    BY_CLASS.set(cls, set);
  }
}

/** EC2's NotFound family ("InvalidXxxID.NotFound"), and the modelled "...NotFoundFault" / "...NotFoundException" names. */
const NOT_FOUND_SUFFIX = /(\.NotFound|NotFoundFault|NotFoundException)$/;

const GENERIC = new Set(['Error', 'Unknown', 'UnknownError', '']);

/** Every code the error carries: the SDK's exception `name`, the wire `Code` / `code`, and a nested `Error.Code`. */
export function errorCodes(err: unknown): string[] {
  if (!err || typeof err !== 'object') return [];
  const e = err as { name?: unknown; code?: unknown; Code?: unknown; Error?: { Code?: unknown } };
  const out: string[] = [];
  for (const candidate of [e.code, e.Code, e.Error?.Code, e.name]) {
    if (typeof candidate === 'string' && !GENERIC.has(candidate) && !out.includes(candidate)) out.push(candidate);
  }
  return out;
}

/** The error's AWS code, whatever shape it arrived in (the wire code first, then the exception name). */
export function errorName(err: unknown): string {
  return errorCodes(err)[0] ?? 'Unknown';
}

/** True when any of the error's names or codes is one of `codes`. */
export function hasCode(err: unknown, ...codes: string[]): boolean {
  return errorCodes(err).some((c) => codes.includes(c));
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function inClass(err: unknown, cls: ErrorClass): boolean {
  const set = BY_CLASS.get(cls)!;
  return errorCodes(err).some((c) => set.has(c));
}

/** True for "does not exist (yet)" answers: InvalidInstanceID.NotFound, DBInstanceNotFound(Fault), ResourceNotFoundException, ... */
export function isNotFound(err: unknown): boolean {
  return inClass(err, 'notFound') || errorCodes(err).some((c) => NOT_FOUND_SUFFIX.test(c));
}

/** True for throttling and "try again" answers, including Route 53's PriorRequestNotComplete and any HTTP 429. */
export function isThrottling(err: unknown): boolean {
  return inClass(err, 'throttling') || httpStatus(err) === 429;
}

/** True for capacity errors that another instance type, class or AZ may not have. */
export function isCapacityError(err: unknown): boolean {
  return inClass(err, 'capacity');
}

/**
 * True for "not authorized" answers (AccessDenied, AccessDeniedException, UnauthorizedOperation, SNS AuthorizationError).
 * Right after a role or grant is created this is IAM propagating: retry it with a short deadline there, nowhere else.
 */
export function isAccessDenied(err: unknown): boolean {
  return inClass(err, 'accessDenied');
}

/** True when the resource is in another state or was changed under us: IncorrectState, InvalidDBInstanceState, ConditionalCheckFailed, ... */
export function isConflict(err: unknown): boolean {
  return inClass(err, 'conflict');
}

/** True when a create found the resource already there (an earlier run made it): DBInstanceAlreadyExists(Fault), RouteAlreadyExists, ... */
export function isAlreadyExists(err: unknown): boolean {
  return inClass(err, 'alreadyExists');
}

/** The class of an error, or undefined when it is none of them. */
export function classify(err: unknown): ErrorClass | undefined {
  if (isNotFound(err)) return 'notFound';
  if (isThrottling(err)) return 'throttling';
  if (isCapacityError(err)) return 'capacity';
  if (isAccessDenied(err)) return 'accessDenied';
  if (isAlreadyExists(err)) return 'alreadyExists';
  if (isConflict(err)) return 'conflict';
  return undefined;
}

/** True for a server-side fault (HTTP 5xx or the SDK's `$fault: 'server'`). */
export function isServerFault(err: unknown): boolean {
  const status = httpStatus(err);
  const fault = (err as { $fault?: string } | undefined)?.$fault;
  return fault === 'server' || (status !== undefined && status >= 500);
}

/** True for answers that a retry may fix: throttling, NotFound after a write, and server faults. */
export function isTransient(err: unknown): boolean {
  return isThrottling(err) || isNotFound(err) || isServerFault(err);
}

/**
 * isTransient, plus access denied: for the first calls of a program that starts with a role or grant created moments
 * earlier (an instance at boot), where IAM is still propagating. Use it only there, with a deadline: elsewhere an access
 * error is a wrong policy and must fail at once.
 */
export function isTransientAfterCreate(err: unknown): boolean {
  return isTransient(err) || isAccessDenied(err);
}
