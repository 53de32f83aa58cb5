/**
 * Classifies AWS errors the way every hook needs them: eventual consistency (NotFound right after a write),
 * throttling, and capacity. Works on SDK v3 ServiceExceptions (`name`) and on plain objects with `code`/`Code`.
 */

const NOT_FOUND = /(\.NotFound|NotFoundException|^NoSuchEntity$|^ResourceNotFoundException$|NotFoundFault$)/;

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'Rate exceeded',
]);

const CAPACITY = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientCapacityOnHost',
  'InsufficientFreeAddressesInSubnet',
  'Unsupported',
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
]);

/** The error's AWS code, whatever shape it arrived in. */
export function errorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; code?: unknown; Code?: unknown };
    for (const candidate of [e.code, e.Code, e.name]) {
      if (typeof candidate === 'string' && candidate !== 'Error') return candidate;
    }
  }
  return 'Unknown';
}

/** True for "does not exist (yet)" answers such as InvalidInstanceID.NotFound. */
export function isNotFound(err: unknown): boolean {
  return NOT_FOUND.test(errorName(err));
}

/** True for throttling and "try again" answers, including Route 53's PriorRequestNotComplete. */
export function isThrottling(err: unknown): boolean {
  const name = errorName(err);
  if (THROTTLING.has(name)) return true;
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === 429;
}

/** True for capacity errors that another instance type or AZ may not have. */
export function isCapacityError(err: unknown): boolean {
  return CAPACITY.has(errorName(err));
}

/** True for answers that a retry may fix: throttling, NotFound after a write, and 5xx. */
export function isTransient(err: unknown): boolean {
  if (isThrottling(err) || isNotFound(err)) return true;
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  const fault = (err as { $fault?: string } | undefined)?.$fault;
  return fault === 'server' || (meta?.httpStatusCode !== undefined && meta.httpStatusCode >= 500);
}
