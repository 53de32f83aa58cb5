import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import fc from 'fast-check';
import { configFromEnv, createHandler, parseTrigger } from '../../lambda/mysql-name-follower/index';
import { decideNames, planChanges, type DbInstance } from '../../lambda/mysql-name-follower/logic';
import backupEvent from '../fixtures/events/rds-db-instance-event-backup.json';
import createdEvent from '../fixtures/events/rds-db-instance-event-created.json';
import deletedEvent from '../fixtures/events/rds-db-instance-event-deleted.json';
import failoverEvent from '../fixtures/events/rds-db-instance-event-failover.json';
import promotedEvent from '../fixtures/events/rds-db-instance-event-replica-promoted.json';
import resumedEvent from '../fixtures/events/rds-db-instance-event-replica-resumed.json';
import scheduledEvent from '../fixtures/events/eventbridge-scheduled-event.json';
import { addressOf, CLUSTER, FakeWorld, MASTER, noWait, REPLICA, silentLogger, ZONE } from './fake-rds';
import * as wire from '../wire/bodies';

const world = new FakeWorld();
const config = { cluster: CLUSTER, zoneId: ZONE, masterName: MASTER, replicaName: REPLICA, ttl: 30 };
const handler = createHandler({ clients: () => ({ rds: new RDSClient({}), route53: new Route53Client({}) }), config: () => config, timing: noWait, logger: silentLogger });
const member = { 'resilient-fleet:mysql-cluster': CLUSTER };

beforeEach(() => world.reset());

describe('decideNames', () => {
  const i = (id: string, extra: Partial<DbInstance> = {}): DbInstance => ({ id, status: 'available', address: addressOf(id), ...extra });

  test('names the standalone instance master and its replica db-replica', () => {
    const d = decideNames([i('a', { role: 'primary' }), i('b', { replicaSource: 'a' })], {});
    expect(d).toMatchObject({ master: addressOf('a'), replica: addressOf('b') });
  });

  test('prefers the instance tagged primary when a promotion left two standalone instances', () => {
    const d = decideNames([i('a', { role: 'retired' }), i('b', { role: 'primary' }), i('c', { replicaSource: 'arn:aws:rds:eu-west-1:123456789012:db:b' })], {});
    expect(d).toMatchObject({ master: addressOf('b'), replica: addressOf('c') });
  });

  test('leaves db-master alone when two untagged standalone instances make it ambiguous', () => {
    const d = decideNames([i('a'), i('b')], {});
    expect(d.master).toBeUndefined();
    expect(d.notes.join()).toMatch(/several standalone/);
  });

  test('points db-replica at the master when no replica serves, and never empties a name', () => {
    expect(decideNames([i('a'), i('b', { replicaSource: 'a', status: 'creating', address: undefined })], {})).toMatchObject({ master: addressOf('a'), replica: addressOf('a') });
    expect(decideNames([], { master: 'old.example', replica: 'old-r.example' })).toMatchObject({ master: 'old.example', replica: 'old-r.example' });
  });

  test('keeps the current replica among several, so names do not flap', () => {
    const d = decideNames([i('a'), i('b', { replicaSource: 'a' }), i('c', { replicaSource: 'a' })], { replica: addressOf('c') });
    expect(d.replica).toBe(addressOf('c'));
  });

  test('property: the answer never depends on the order DescribeDBInstances lists instances in', () => {
    const arb = fc.array(
      fc.record({
        id: fc.constantFrom('a', 'b', 'c', 'd'),
        status: fc.constantFrom('available', 'creating', 'deleting', 'modifying'),
        source: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
        role: fc.option(fc.constantFrom('primary', 'retired', 'replica'), { nil: undefined }),
      }),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(arb, (raw) => {
        const unique = [...new Map(raw.map((r) => [r.id, r])).values()].map((r) => i(r.id, { status: r.status, replicaSource: r.source === r.id ? undefined : r.source, role: r.role }));
        const a = decideNames(unique, {});
        const b = decideNames([...unique].reverse(), {});
        return a.master === b.master && a.replica === b.replica;
      }),
    );
  });

  test('planChanges upserts only what differs, with the configured TTL', () => {
    const desired = { master: 'a.example', replica: 'b.example', notes: [] };
    expect(planChanges({ master: 'm', replica: 'r' }, { master: { value: 'a.example.', ttl: 30 }, replica: { value: 'x.example', ttl: 30 } }, desired, 30)).toEqual([{ name: 'r', value: 'b.example', ttl: 30 }]);
    expect(planChanges({ master: 'm', replica: 'r' }, { master: { value: 'a.example', ttl: 300 }, replica: { value: 'b.example', ttl: 30 } }, desired, 30)).toEqual([{ name: 'm', value: 'a.example', ttl: 30 }]);
  });
});

describe('parseTrigger', () => {
  test.each([
    ['failover (RDS-EVENT-0049)', failoverEvent, 'RDS-EVENT-0049 my-db-instance'],
    ['creation (RDS-EVENT-0005)', createdEvent, 'RDS-EVENT-0005 my-db-instance'],
    ['deletion (RDS-EVENT-0003)', deletedEvent, 'RDS-EVENT-0003 my-db-instance'],
    ['read replica resumed (RDS-EVENT-0046)', resumedEvent, 'RDS-EVENT-0046 my-db-instance'],
    ['read replica terminated by a promotion (RDS-EVENT-0057)', promotedEvent, 'RDS-EVENT-0057 my-db-instance'],
    ['the scheduled sweep', scheduledEvent, 'sweep'],
  ])('wakes on %s', (_name, event, expected) => {
    expect(parseTrigger(event)).toBe(expected);
  });

  test('ignores backups and anything that is not an RDS instance event', () => {
    expect(parseTrigger(backupEvent)).toBeUndefined();
    expect(parseTrigger({ source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' })).toBeUndefined();
    expect(parseTrigger(undefined)).toBeUndefined();
  });

  test('reads its configuration from the environment and refuses a TTL above 60 s', () => {
    const env = { CLUSTER_NAME: 'shop', HOSTED_ZONE_ID: '/hostedzone/Z1', MASTER_NAME: MASTER, REPLICA_NAME: REPLICA, RECORD_TTL: '30' };
    expect(configFromEnv(env)).toEqual({ cluster: 'shop', zoneId: 'Z1', masterName: MASTER, replicaName: REPLICA, ttl: 30 });
    expect(() => configFromEnv({ ...env, RECORD_TTL: '300' })).toThrow(/RECORD_TTL must be 0 to 60/);
    expect(() => configFromEnv({ ...env, CLUSTER_NAME: undefined })).toThrow(/CLUSTER_NAME/);
  });
});

describe('name follower handler', () => {
  test('a failover event with everything already right changes nothing', async () => {
    world.standardSite();
    const out = await handler(failoverEvent);
    expect(out.changed).toEqual([]);
    expect(world.count('ChangeResourceRecordSets')).toBe(0);
  });

  test('after a promotion, db-master follows the instance tagged primary (db-replica already names it)', async () => {
    world.standardSite();
    world.instances.get('shop-primary')!.tags['resilient-fleet:mysql-role'] = 'retired';
    const promoted = world.instances.get('shop-replica-1')!;
    promoted.replicaSource = undefined;
    promoted.tags['resilient-fleet:mysql-role'] = 'primary';
    const out = await handler(promotedEvent);
    expect(out.changed).toEqual([MASTER]);
    expect(world.records.get(MASTER)).toEqual({ value: addressOf('shop-replica-1'), ttl: 30 });
    expect(world.records.get(REPLICA)).toEqual({ value: addressOf('shop-replica-1'), ttl: 30 });
  });

  test('a replica created later takes db-replica; a duplicate of the event changes nothing twice', async () => {
    world.standardSite();
    world.instances.delete('shop-replica-1');
    world.records.set(REPLICA, { value: addressOf('shop-primary'), ttl: 30 });
    world.add({ id: 'shop-r-new', replicaSource: 'shop-primary', tags: { ...member, 'resilient-fleet:mysql-role': 'replica' } });
    await handler(createdEvent);
    expect(world.records.get(REPLICA)?.value).toBe(addressOf('shop-r-new'));
    const again = await handler(createdEvent);
    expect(again.changed).toEqual([]);
    expect(world.count('ChangeResourceRecordSets')).toBe(1);
  });

  test('a deleted replica moves db-replica to the master; instances of other clusters never count', async () => {
    world.standardSite();
    world.instances.delete('shop-replica-1');
    world.add({ id: 'other-replica', replicaSource: 'shop-primary', tags: { 'resilient-fleet:mysql-cluster': 'other' } });
    await handler(deletedEvent);
    expect(world.records.get(REPLICA)?.value).toBe(addressOf('shop-primary'));
  });

  test('creates both names when the zone has none yet (first sweep)', async () => {
    world.standardSite();
    world.records.clear();
    const out = await handler(scheduledEvent);
    expect(out.changed).toEqual([MASTER, REPLICA]);
  });

  test('retries Route 53 throttling and PriorRequestNotComplete, then succeeds', async () => {
    world.standardSite();
    world.records.clear();
    // Route 53's documented REST error bodies, parsed by the real client.
    world.failOnce('ChangeResourceRecordSets', wire.route53.throttling());
    world.failOnce('ChangeResourceRecordSets', wire.route53.priorRequestNotComplete());
    await handler(scheduledEvent);
    expect(world.count('ChangeResourceRecordSets')).toBe(3);
    expect(world.records.get(MASTER)?.value).toBe(addressOf('shop-primary'));
  });

  test('an ignored event makes no AWS call', async () => {
    world.standardSite();
    const out = await handler(backupEvent);
    expect(out.trigger).toBe('ignored');
    expect(world.calls).toEqual([]);
  });
});
