import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { errorName, isCapacityError, isNotFound, isThrottling, isTransient } from '../../lambda/shared/errors';

function sdkError(name: string, status = 400, fault: 'client' | 'server' = 'client') {
  return new EC2ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: name });
}

describe('AWS error classification', () => {
  test.each([
    ['InvalidInstanceID.NotFound', true],
    ['InvalidAllocationID.NotFound', true],
    ['ResourceNotFoundException', true],
    ['DBInstanceNotFoundFault', true],
    ['NoSuchHostedZone', false],
    ['UnauthorizedOperation', false],
  ])('%s is NotFound: %s', (name, expected) => {
    expect(isNotFound(sdkError(name))).toBe(expected);
  });

  test.each([
    ['RequestLimitExceeded', true],
    ['Throttling', true],
    ['ThrottlingException', true],
    ['PriorRequestNotComplete', true],
    ['ProvisionedThroughputExceededException', true],
    ['ValidationError', false],
  ])('%s is throttling: %s', (name, expected) => {
    expect(isThrottling(sdkError(name))).toBe(expected);
  });

  test('an HTTP 429 without a known code is throttling', () => {
    expect(isThrottling(sdkError('SomethingNew', 429))).toBe(true);
  });

  test.each([
    ['InsufficientInstanceCapacity', true],
    ['InsufficientFreeAddressesInSubnet', true],
    ['InvalidAMIID.NotFound', false],
  ])('%s is a capacity error: %s', (name, expected) => {
    expect(isCapacityError(sdkError(name))).toBe(expected);
  });

  test('server faults are transient, client errors are not', () => {
    expect(isTransient(sdkError('InternalError', 500, 'server'))).toBe(true);
    expect(isTransient(sdkError('InvalidParameterValue', 400))).toBe(false);
    expect(isTransient(sdkError('InvalidInstanceID.NotFound'))).toBe(true);
  });

  test('reads the code from plain objects and ignores the generic "Error" name', () => {
    expect(errorName({ code: 'Throttling' })).toBe('Throttling');
    expect(errorName({ Code: 'RequestLimitExceeded' })).toBe('RequestLimitExceeded');
    expect(errorName(new Error('boom'))).toBe('Unknown');
    expect(errorName(undefined)).toBe('Unknown');
  });
});
