/**
 * A small fake of the RDS and Route 53 APIs the MySQL hooks use, behind aws-sdk-client-mock, so tests assert the world
 * that results (instances, tags, records) and not only the calls. Slow operations finish after a few describes.
 */
import {
  AddTagsToResourceCommand,
  CreateDBInstanceReadReplicaCommand,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBInstanceStateFault,
  ModifyDBInstanceCommand,
  PromoteReadReplicaCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import describeResponse from '../fixtures/events/rds-describe-db-instances-response.json';
import promoteResponse from '../fixtures/events/rds-promote-read-replica-response.json';

export interface FakeInstance {
  id: string;
  status: string;
  address?: string;
  replicaSource?: string;
  multiAz: boolean;
  tags: Record<string, string>;
  latestRestorableTime?: string;
  /** Status and changes applied after `ticks` more describes. */
  pending?: { ticks: number; apply: (i: FakeInstance) => void };
}

export const CLUSTER = 'shop';
export const ZONE = 'Z0123456789ABCDEFGHIJ';
export const MASTER = 'db-master.shop.db.internal';
export const REPLICA = 'db-replica.shop.db.internal';

const fault = <T extends Error>(Ctor: new (o: { message: string; $metadata: object }) => T, message: string): T => new Ctor({ message, $metadata: {} });

export class FakeWorld {
  readonly instances = new Map<string, FakeInstance>();
  readonly records = new Map<string, { value: string; ttl: number }>();
  readonly rds = mockClient(RDSClient);
  readonly route53 = mockClient(Route53Client);
  /** Errors to throw once from a command, by command name. */
  readonly failNext = new Map<string, Error[]>();
  snapshots: Array<{ id: string; instanceId: string; status: string; created: string }> = [];
  calls: string[] = [];

  constructor() {
    this.reset();
  }

  reset(): void {
    this.rds.reset();
    this.route53.reset();
    this.instances.clear();
    this.records.clear();
    this.failNext.clear();
    this.calls = [];
    const take = (name: string) => {
      this.calls.push(name);
      const queue = this.failNext.get(name);
      const err = queue?.shift();
      if (err) throw err;
    };
    const template = describeResponse.DBInstances[0];
    const render = (i: FakeInstance): DBInstance => ({
      ...template,
      DBInstanceIdentifier: i.id,
      DBInstanceStatus: i.status,
      DBInstanceArn: `arn:aws:rds:eu-west-1:123456789012:db:${i.id}`,
      Endpoint: i.address ? { ...template.Endpoint, Address: i.address } : undefined,
      MultiAZ: i.multiAz,
      ReadReplicaSourceDBInstanceIdentifier: i.replicaSource,
      LatestRestorableTime: i.latestRestorableTime ? new Date(i.latestRestorableTime) : undefined,
      TagList: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
    });
    const tick = () => {
      for (const i of this.instances.values()) {
        if (i.pending && --i.pending.ticks <= 0) {
          const p = i.pending;
          i.pending = undefined;
          p.apply(i);
        }
      }
    };
    this.rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier?: string }) => {
      take('DescribeDBInstances');
      tick();
      if (input.DBInstanceIdentifier) {
        const i = this.instances.get(input.DBInstanceIdentifier);
        if (!i) throw fault(DBInstanceNotFoundFault, `DBInstance ${input.DBInstanceIdentifier} not found.`);
        return { DBInstances: [render(i)] };
      }
      return { DBInstances: [...this.instances.values()].map(render) };
    });
    this.rds.on(PromoteReadReplicaCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      take('PromoteReadReplica');
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw fault(DBInstanceNotFoundFault, 'not found');
      if (!i.replicaSource || i.status !== 'available') throw fault(InvalidDBInstanceStateFault, 'DB Instance is not a read replica or is not available.');
      i.status = 'modifying';
      i.pending = { ticks: 2, apply: (x) => { x.status = 'available'; x.replicaSource = undefined; } };
      return { DBInstance: { ...promoteResponse.DBInstance, DBInstanceArn: `arn:aws:rds:eu-west-1:123456789012:db:${i.id}`, ReadReplicaSourceDBInstanceIdentifier: i.replicaSource } };
    });
    this.rds.on(AddTagsToResourceCommand).callsFake((input: { ResourceName: string; Tags: Array<{ Key: string; Value: string }> }) => {
      take('AddTagsToResource');
      const id = input.ResourceName.split(':').pop()!;
      const i = this.instances.get(id);
      if (!i) throw fault(DBInstanceNotFoundFault, 'not found');
      for (const t of input.Tags) i.tags[t.Key] = t.Value;
      return {};
    });
    this.rds.on(ModifyDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string; MultiAZ?: boolean }) => {
      take('ModifyDBInstance');
      const i = this.instances.get(input.DBInstanceIdentifier)!;
      if (i.status !== 'available') throw fault(InvalidDBInstanceStateFault, 'not available');
      i.status = 'modifying';
      i.pending = { ticks: 2, apply: (x) => { x.status = 'available'; x.multiAz = input.MultiAZ ?? x.multiAz; } };
      return {};
    });
    this.rds.on(CreateDBInstanceReadReplicaCommand).callsFake((input: { DBInstanceIdentifier: string; SourceDBInstanceIdentifier: string; Tags?: Array<{ Key: string; Value: string }> }) => {
      take('CreateDBInstanceReadReplica');
      if (this.instances.has(input.DBInstanceIdentifier)) throw fault(DBInstanceAlreadyExistsFault, 'DB instance already exists');
      const src = this.instances.get(input.SourceDBInstanceIdentifier);
      if (!src || src.status !== 'available') throw fault(InvalidDBInstanceStateFault, 'source not available');
      const tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value]));
      this.instances.set(input.DBInstanceIdentifier, {
        id: input.DBInstanceIdentifier,
        status: 'creating',
        replicaSource: input.SourceDBInstanceIdentifier,
        multiAz: false,
        tags,
        pending: { ticks: 3, apply: (x) => { x.status = 'available'; x.address = `${x.id}.abcexample.eu-west-1.rds.amazonaws.com`; } },
      });
      return { DBInstance: { DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: 'creating' } };
    });
    this.rds.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake((input: { DBInstanceIdentifier: string; Tags?: Array<{ Key: string; Value: string }> }) => {
      take('RestoreDBInstanceFromDBSnapshot');
      if (this.instances.has(input.DBInstanceIdentifier)) throw fault(DBInstanceAlreadyExistsFault, 'DB instance already exists');
      this.instances.set(input.DBInstanceIdentifier, {
        id: input.DBInstanceIdentifier,
        status: 'creating',
        multiAz: false,
        tags: Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])),
        pending: { ticks: 2, apply: (x) => { x.status = 'available'; x.address = `${x.id}.abcexample.eu-west-1.rds.amazonaws.com`; } },
      });
      return {};
    });
    this.rds.on(RestoreDBInstanceToPointInTimeCommand).callsFake((input: { SourceDBInstanceIdentifier: string; TargetDBInstanceIdentifier: string; Tags?: Array<{ Key: string; Value: string }> }) => {
      take('RestoreDBInstanceToPointInTime');
      if (!this.instances.has(input.SourceDBInstanceIdentifier)) throw fault(DBInstanceNotFoundFault, 'source not found');
      if (this.instances.has(input.TargetDBInstanceIdentifier)) throw fault(DBInstanceAlreadyExistsFault, 'DB instance already exists');
      this.instances.set(input.TargetDBInstanceIdentifier, {
        id: input.TargetDBInstanceIdentifier,
        status: 'creating',
        multiAz: false,
        tags: Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])),
        pending: { ticks: 2, apply: (x) => { x.status = 'available'; x.address = `${x.id}.abcexample.eu-west-1.rds.amazonaws.com`; } },
      });
      return {};
    });
    this.rds.on(DeleteDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      take('DeleteDBInstance');
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw fault(DBInstanceNotFoundFault, 'not found');
      i.status = 'deleting';
      i.pending = { ticks: 1, apply: (x) => this.instances.delete(x.id) };
      return {};
    });
    this.rds.on(DescribeDBSnapshotsCommand).callsFake((input: { DBInstanceIdentifier?: string }) => {
      take('DescribeDBSnapshots');
      return {
        DBSnapshots: this.snapshots
          .filter((s) => s.instanceId === input.DBInstanceIdentifier)
          .map((s) => ({ DBSnapshotIdentifier: s.id, DBInstanceIdentifier: s.instanceId, Status: s.status, SnapshotCreateTime: new Date(s.created), SnapshotType: 'automated' })),
      };
    });
    this.route53.on(ListResourceRecordSetsCommand).callsFake((input: { StartRecordName: string }) => {
      take('ListResourceRecordSets');
      const name = input.StartRecordName.replace(/\.$/, '');
      const rec = this.records.get(name);
      return { ResourceRecordSets: rec ? [{ Name: `${name}.`, Type: 'CNAME', TTL: rec.ttl, ResourceRecords: [{ Value: rec.value }] }] : [], IsTruncated: false, MaxItems: '1' };
    });
    this.route53.on(ChangeResourceRecordSetsCommand).callsFake((input: { ChangeBatch: { Changes: Array<{ Action: string; ResourceRecordSet: { Name: string; TTL: number; ResourceRecords: Array<{ Value: string }> } }> } }) => {
      take('ChangeResourceRecordSets');
      for (const c of input.ChangeBatch.Changes) {
        this.records.set(c.ResourceRecordSet.Name.replace(/\.$/, ''), { value: c.ResourceRecordSet.ResourceRecords[0].Value, ttl: c.ResourceRecordSet.TTL });
      }
      return { ChangeInfo: { Id: '/change/C2682N5HXP0BZ4', Status: 'PENDING', SubmittedAt: new Date('2017-02-10T01:36:41.958Z') } };
    });
  }

  add(i: Partial<FakeInstance> & { id: string }): FakeInstance {
    const full: FakeInstance = { status: 'available', address: `${i.id}.abcexample.eu-west-1.rds.amazonaws.com`, multiAz: false, tags: {}, ...i };
    this.instances.set(i.id, full);
    return full;
  }

  /** The site as the stack creates it: a Multi-AZ primary and one replica, both tagged, names pointing at them. */
  standardSite(): void {
    this.add({ id: 'shop-primary', multiAz: true, tags: { 'resilient-fleet:mysql-cluster': CLUSTER, 'resilient-fleet:mysql-role': 'primary' } });
    this.add({ id: 'shop-replica-1', replicaSource: 'shop-primary', tags: { 'resilient-fleet:mysql-cluster': CLUSTER, 'resilient-fleet:mysql-role': 'replica' } });
    this.add({ id: 'someone-else', tags: {} });
    this.records.set(MASTER, { value: 'shop-primary.abcexample.eu-west-1.rds.amazonaws.com', ttl: 30 });
    this.records.set(REPLICA, { value: 'shop-replica-1.abcexample.eu-west-1.rds.amazonaws.com', ttl: 30 });
  }

  failOnce(command: string, err: Error): void {
    const q = this.failNext.get(command) ?? [];
    q.push(err);
    this.failNext.set(command, q);
  }

  count(command: string): number {
    return this.calls.filter((c) => c === command).length;
  }
}

export const addressOf = (id: string): string => `${id}.abcexample.eu-west-1.rds.amazonaws.com`;

export const silentLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Retry timing that never waits. */
export const noWait = { sleep: async () => undefined, random: () => 0.5 };
