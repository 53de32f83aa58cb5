/**
 * The promotion hook's AWS calls, each a single idempotent request: promote, tag, turn on Multi-AZ, create a read
 * replica. Names and descriptions come from lambda/mysql-shared/aws.ts.
 */
import { AddTagsToResourceCommand, CreateDBInstanceReadReplicaCommand, ModifyDBInstanceCommand, PromoteReadReplicaCommand } from '@aws-sdk/client-rds';
import { isAlreadyExists, isConflict, isNotFound, isThrottling } from '../shared/errors';
import { retry } from '../shared/retry';
import { MEMBER_TAG, PROMOTION_TAG, ROLE_TAG, type Clients, type Timing } from '../mysql-shared/aws';

export { defaultClients, describeInstance, describeMembers, readCname, upsert, type Clients, type Timing } from '../mysql-shared/aws';

const RETRY = { deadlineMs: 30_000, baseDelayMs: 200, maxDelayMs: 5_000 };

const arnOf = (region: string, account: string, partition: string, id: string) => `arn:${partition}:rds:${region}:${account}:db:${id}`;

export interface Where {
  readonly region: string;
  readonly account: string;
  readonly partition: string;
}

async function tag(clients: Clients, where: Where, id: string, tags: Array<{ Key: string; Value: string }>, timing: Timing): Promise<void> {
  await retry(() => clients.rds.send(new AddTagsToResourceCommand({ ResourceName: arnOf(where.region, where.account, where.partition, id), Tags: tags })), {
    retryable: isThrottling,
    ...RETRY,
    ...timing,
  });
}

/** Sets the role tag (primary, replica, retired); AddTagsToResource overwrites, so repeating it is harmless. */
export async function tagRole(clients: Clients, where: Where, id: string, cluster: string, role: string, timing: Timing = {}): Promise<void> {
  await tag(clients, where, id, [{ Key: MEMBER_TAG, Value: cluster }, { Key: ROLE_TAG, Value: role }], timing);
}

/**
 * Sets the role tag of an instance that may be gone by now (the old primary, being deleted or replaced): RDS answering
 * 404 DBInstanceNotFound means there is nothing left to tag, which is what a re-run must accept to converge.
 */
export async function tagRoleIfExists(clients: Clients, where: Where, id: string, cluster: string, role: string, timing: Timing = {}): Promise<'tagged' | 'gone'> {
  try {
    await tagRole(clients, where, id, cluster, role, timing);
    return 'tagged';
  } catch (err) {
    if (isNotFound(err)) return 'gone';
    throw err;
  }
}

/** Sets the promotion tag (in-progress, done). */
export async function tagPromotion(clients: Clients, where: Where, id: string, cluster: string, value: 'in-progress' | 'done', timing: Timing = {}): Promise<void> {
  await tag(clients, where, id, [{ Key: MEMBER_TAG, Value: cluster }, { Key: PROMOTION_TAG, Value: value }], timing);
}

/** PromoteReadReplica; "already promoting / not a replica" answers mean someone (we, earlier) already did it. */
export async function promote(clients: Clients, id: string, backupRetentionDays: number, timing: Timing = {}): Promise<'requested' | 'already'> {
  try {
    await retry(() => clients.rds.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: id, BackupRetentionPeriod: backupRetentionDays })), { retryable: isThrottling, ...RETRY, ...timing });
    return 'requested';
  } catch (err) {
    if (isConflict(err)) return 'already';
    throw err;
  }
}

export async function enableMultiAz(clients: Clients, id: string, timing: Timing = {}): Promise<'requested' | 'busy'> {
  try {
    await retry(() => clients.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, MultiAZ: true, DeletionProtection: true, ApplyImmediately: true })), { retryable: isThrottling, ...RETRY, ...timing });
    return 'requested';
  } catch (err) {
    if (isConflict(err)) return 'busy';
    throw err;
  }
}

export interface ReplicaSpec {
  readonly id: string;
  readonly sourceId: string;
  readonly cluster: string;
  readonly instanceClass: string;
  readonly securityGroupIds: readonly string[];
  readonly parameterGroup?: string;
}

/** CreateDBInstanceReadReplica; DBInstanceAlreadyExists means an earlier run created it. */
export async function createReplica(clients: Clients, spec: ReplicaSpec, timing: Timing = {}): Promise<'requested' | 'already'> {
  try {
    await retry(
      () =>
        clients.rds.send(
          new CreateDBInstanceReadReplicaCommand({
            DBInstanceIdentifier: spec.id,
            SourceDBInstanceIdentifier: spec.sourceId,
            DBInstanceClass: spec.instanceClass,
            VpcSecurityGroupIds: [...spec.securityGroupIds],
            DBParameterGroupName: spec.parameterGroup,
            MultiAZ: false,
            PubliclyAccessible: false,
            DeletionProtection: true,
            CopyTagsToSnapshot: true,
            AutoMinorVersionUpgrade: true,
            Tags: [{ Key: MEMBER_TAG, Value: spec.cluster }, { Key: ROLE_TAG, Value: 'replica' }],
          }),
        ),
      { retryable: isThrottling, ...RETRY, ...timing },
    );
    return 'requested';
  } catch (err) {
    if (isAlreadyExists(err)) return 'already';
    throw err;
  }
}
