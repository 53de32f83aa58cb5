/**
 * A small fake of the RDS and Route 53 APIs the MySQL hooks use, behind aws-sdk-client-mock, so tests assert the world
 * that results (instances, tags, records) and not only the calls. Slow operations finish after a few describes.
 * Every error it throws is one the real SDK client parsed from the documented wire body (test/wire/parsed.ts), so the
 * hooks meet the same `name` / `Code` pair as in AWS (DBInstanceNotFoundFault / DBInstanceNotFound, HTTP 404).
 */
import {
  AddTagsToResourceCommand,
  CreateDBInstanceReadReplicaCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
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
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

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

/** The exception the real RDS client throws when RDS answers `answer`. */
export const rdsError = (answer: WireAnswer): Promise<Error> => parsedError(RDSClient, new DescribeDBInstancesCommand({}), answer);
/** The exception the real Route 53 client throws when Route 53 answers `answer`. */
export const route53Error = (answer: WireAnswer): Promise<Error> => parsedError(Route53Client, new ListResourceRecordSetsCommand({ HostedZoneId: ZONE }), answer);

const ROUTE53_COMMANDS = new Set(['ListResourceRecordSets', 'ChangeResourceRecordSets']);

export class FakeWorld {
  readonly instances = new Map<string, FakeInstance>();
  readonly records = new Map<string, { value: string; ttl: number }>();
  readonly rds = mockClient(RDSClient);
  readonly route53 = mockClient(Route53Client);
  /** Errors (or wire answers, parsed by the real client) to throw once from a command, by command name. */
  readonly failNext = new Map<string, Array<Error | WireAnswer>>();
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
    const take = async (name: string) => {
      this.calls.push(name);
      const queue = this.failNext.get(name);
      const err = queue?.shift();
      if (err instanceof Error) throw err;
      if (err) throw await (ROUTE53_COMMANDS.has(name) ? route53Error(err) : rdsError(err));
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
    this.rds.on(DescribeDBInstancesCommand).callsFake(async (input: { DBInstanceIdentifier?: string }) => {
      await take('DescribeDBInstances');
      tick();
      if (input.DBInstanceIdentifier) {
        const i = this.instances.get(input.DBInstanceIdentifier);
        if (!i) throw await rdsError(wire.rds.dbInstanceNotFound(input.DBInstanceIdentifier));
        return { DBInstances: [render(i)] };
      }
      return { DBInstances: [...this.instances.values()].map(render) };
    });
    this.rds.on(PromoteReadReplicaCommand).callsFake(async (input: { DBInstanceIdentifier: string }) => {
      await take('PromoteReadReplica');
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw await rdsError(wire.rds.dbInstanceNotFound(input.DBInstanceIdentifier));
      if (!i.replicaSource || i.status !== 'available') throw await rdsError(wire.rds.invalidDbInstanceState(input.DBInstanceIdentifier));
      i.status = 'modifying';
      i.pending = { ticks: 2, apply: (x) => { x.status = 'available'; x.replicaSource = undefined; } };
      return { DBInstance: { ...promoteResponse.DBInstance, DBInstanceArn: `arn:aws:rds:eu-west-1:123456789012:db:${i.id}`, ReadReplicaSourceDBInstanceIdentifier: i.replicaSource } };
    });
    this.rds.on(AddTagsToResourceCommand).callsFake(async (input: { ResourceName: string; Tags: Array<{ Key: string; Value: string }> }) => {
      await take('AddTagsToResource');
      const id = input.ResourceName.split(':').pop()!;
      const i = this.instances.get(id);
      if (!i) throw await rdsError(wire.rds.dbInstanceNotFound(id));
      for (const t of input.Tags) i.tags[t.Key] = t.Value;
      return {};
    });
    this.rds.on(ModifyDBInstanceCommand).callsFake(async (input: { DBInstanceIdentifier: string; MultiAZ?: boolean }) => {
      await take('ModifyDBInstance');
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw await rdsError(wire.rds.dbInstanceNotFound(input.DBInstanceIdentifier));
      if (i.status !== 'available') throw await rdsError(wire.rds.invalidDbInstanceState(input.DBInstanceIdentifier));
      i.status = 'modifying';
      i.pending = { ticks: 2, apply: (x) => { x.status = 'available'; x.multiAz = input.MultiAZ ?? x.multiAz; } };
      return {};
    });
    this.rds.on(CreateDBInstanceReadReplicaCommand).callsFake(async (input: { DBInstanceIdentifier: string; SourceDBInstanceIdentifier: string; Tags?: Array<{ Key: string; Value: string }> }) => {
      await take('CreateDBInstanceReadReplica');
      if (this.instances.has(input.DBInstanceIdentifier)) throw await rdsError(wire.rds.dbInstanceAlreadyExists());
      const src = this.instances.get(input.SourceDBInstanceIdentifier);
      if (!src) throw await rdsError(wire.rds.dbInstanceNotFound(input.SourceDBInstanceIdentifier));
      if (src.status !== 'available') throw await rdsError(wire.rds.invalidDbInstanceState(input.SourceDBInstanceIdentifier));
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
    this.rds.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake(async (input: { DBInstanceIdentifier: string; Tags?: Array<{ Key: string; Value: string }> }) => {
      await take('RestoreDBInstanceFromDBSnapshot');
      if (this.instances.has(input.DBInstanceIdentifier)) throw await rdsError(wire.rds.dbInstanceAlreadyExists());
      this.instances.set(input.DBInstanceIdentifier, {
        id: input.DBInstanceIdentifier,
        status: 'creating',
        multiAz: false,
        tags: Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])),
        pending: { ticks: 2, apply: (x) => { x.status = 'available'; x.address = `${x.id}.abcexample.eu-west-1.rds.amazonaws.com`; } },
      });
      return {};
    });
    this.rds.on(RestoreDBInstanceToPointInTimeCommand).callsFake(async (input: { SourceDBInstanceIdentifier: string; TargetDBInstanceIdentifier: string; Tags?: Array<{ Key: string; Value: string }> }) => {
      await take('RestoreDBInstanceToPointInTime');
      if (!this.instances.has(input.SourceDBInstanceIdentifier)) throw await rdsError(wire.rds.dbInstanceNotFound(input.SourceDBInstanceIdentifier));
      if (this.instances.has(input.TargetDBInstanceIdentifier)) throw await rdsError(wire.rds.dbInstanceAlreadyExists());
      this.instances.set(input.TargetDBInstanceIdentifier, {
        id: input.TargetDBInstanceIdentifier,
        status: 'creating',
        multiAz: false,
        tags: Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])),
        pending: { ticks: 2, apply: (x) => { x.status = 'available'; x.address = `${x.id}.abcexample.eu-west-1.rds.amazonaws.com`; } },
      });
      return {};
    });
    this.rds.on(DeleteDBInstanceCommand).callsFake(async (input: { DBInstanceIdentifier: string }) => {
      await take('DeleteDBInstance');
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw await rdsError(wire.rds.dbInstanceNotFound(input.DBInstanceIdentifier));
      i.status = 'deleting';
      i.pending = { ticks: 1, apply: (x) => this.instances.delete(x.id) };
      return {};
    });
    this.rds.on(DescribeDBSnapshotsCommand).callsFake(async (input: { DBInstanceIdentifier?: string }) => {
      await take('DescribeDBSnapshots');
      return {
        DBSnapshots: this.snapshots
          .filter((s) => s.instanceId === input.DBInstanceIdentifier)
          .map((s) => ({ DBSnapshotIdentifier: s.id, DBInstanceIdentifier: s.instanceId, Status: s.status, SnapshotCreateTime: new Date(s.created), SnapshotType: 'automated' })),
      };
    });
    this.route53.on(ListResourceRecordSetsCommand).callsFake(async (input: { StartRecordName: string }) => {
      await take('ListResourceRecordSets');
      const name = input.StartRecordName.replace(/\.$/, '');
      const rec = this.records.get(name);
      return { ResourceRecordSets: rec ? [{ Name: `${name}.`, Type: 'CNAME', TTL: rec.ttl, ResourceRecords: [{ Value: rec.value }] }] : [], IsTruncated: false, MaxItems: '1' };
    });
    this.route53.on(ChangeResourceRecordSetsCommand).callsFake(async (input: { ChangeBatch: { Changes: Array<{ Action: string; ResourceRecordSet: { Name: string; TTL: number; ResourceRecords: Array<{ Value: string }> } }> } }) => {
      await take('ChangeResourceRecordSets');
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

  /** The next call of `command` fails: with `err`, or with what the real client parses from the wire answer. */
  failOnce(command: string, err: Error | WireAnswer): void {
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
