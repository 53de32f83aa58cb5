/**
 * job-guard's instance identity comes from the shared IMDSv2 client (lambda/shared/imds.ts), which the leader CLI uses too:
 * token first, AWS_EC2_METADATA_SERVICE_ENDPOINT honoured, empty answers and errors retried until a deadline.
 */
export { IMDS_BASE_URL, instanceIdentity, type ImdsOptions, type InstanceIdentity } from '../../lambda/shared/imds';
