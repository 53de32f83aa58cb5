import { AddTagsToResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { createHandler, type PromotionConfig, type PromotionState, type Step } from '../../lambda/mysql-promotion/index';
import { choosePlan, createReplicaAction, isReady, needsMultiAz, promoteAction, replicaIdFor } from '../../lambda/mysql-promotion/logic';
import * as wire from '../wire/bodies';
import { addressOf, CLUSTER, FakeWorld, MASTER, noWait, rdsError, REPLICA, silentLogger, ZONE } from './fake-rds';

const world = new FakeWorld();
const config: PromotionConfig = {
  cluster: CLUSTER,
  zoneId: ZONE,
  masterName: MASTER,
  replicaName: REPLICA,
  ttl: 30,
  replicaClass: 'db.m6g.large',
  securityGroupIds: ['sg-0123456789abcdef0'],
  backupRetentionDays: 14,
  multiAz: true,
  where: { region: 'eu-west-1', account: '123456789012', partition: 'aws' },
};
const handler = createHandler({ clients: () => ({ rds: new RDSClient({}), route53: new Route53Client({}) }), config: () => config, timing: noWait, logger: silentLogger });

/** What the Step Functions state machine does: the steps in order, await steps polled until ready. */
async function runMachine(input: { replica?: string } = {}, stopBefore?: Step): Promise<PromotionState> {
  const order: Step[] = ['plan', 'promote', 'awaitPromoted', 'retag', 'moveMaster', 'makeMultiAz', 'awaitAvailable', 'createReplica', 'awaitReplica', 'moveReplica'];
  let state: PromotionState = {};
  for (const step of order) {
    if (step === stopBefore) break;
    if (step.startsWith('await')) {
      for (let polls = 0; ; polls++) {
        state = await handler({ step, state });
        if (state.ready) break;
        if (polls > 20) throw new Error(`${step} never became ready`);
      }
    } else {
      state = await handler({ step, replica: input.replica, state });
    }
  }
  return state;
}

const NEW_REPLICA = replicaIdFor(CLUSTER, 'shop-replica-1');

beforeEach(() => {
  world.reset();
  world.standardSite();
});

describe('promotion logic', () => {
  const i = (id: string, extra: object = {}) => ({ id, status: 'available', address: addressOf(id), ...extra });

  test('chooses the first serving replica of the primary, or the one asked for', () => {
    const members = [i('p', { role: 'primary' }), i('r2', { replicaSource: 'p' }), i('r1', { replicaSource: 'p' }), i('x', { replicaSource: 'p', status: 'creating' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r1', oldPrimary: 'p' } });
    expect(choosePlan('c', members, 'r2')).toEqual({ ok: true, plan: { cluster: 'c', target: 'r2', oldPrimary: 'p' } });
  });

  test('resumes the promotion in progress instead of starting another', () => {
    const members = [i('p', { role: 'retired' }), i('r1', { role: 'primary', promotion: 'in-progress' }), i('r9', { replicaSource: 'r1' })];
    expect(choosePlan('c', members)).toEqual({ ok: true, plan: { cluster: 'c', target: 'r1', oldPrimary: undefined } });
    expect(choosePlan('c', members, 'r9')).toMatchObject({ ok: false, reason: expect.stringMatching(/promotion of r1 is under way/) });
  });

  test('refuses when there is nothing to promote or the request is not a replica', () => {
    expect(choosePlan('c', [i('p')])).toMatchObject({ ok: false, reason: expect.stringMatching(/no serving read replica/) });
    expect(choosePlan('c', [i('p')], 'p')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a read replica/) });
    expect(choosePlan('c', [i('p')], 'zz')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a member/) });
  });

  test('each step knows when it has nothing left to do', () => {
    expect(promoteAction(undefined)).toBe('missing');
    expect(promoteAction(i('r'))).toBe('already-promoted');
    expect(promoteAction(i('r', { replicaSource: 'p', status: 'modifying' }))).toBe('in-progress');
    expect(promoteAction(i('r', { replicaSource: 'p', status: 'backing-up' }))).toBe('not-yet');
    expect(promoteAction(i('r', { replicaSource: 'p' }))).toBe('promote');
    expect(isReady(i('r', { replicaSource: 'p' }), true)).toBe(false);
    expect(isReady(i('r'), true)).toBe(true);
    expect(needsMultiAz(i('r', { multiAz: false }), true)).toBe(true);
    expect(needsMultiAz(i('r', { multiAz: true }), true)).toBe(false);
    expect(needsMultiAz(i('r', { multiAz: false }), false)).toBe(false);
    expect(createReplicaAction(undefined, 'p')).toBe('create');
    expect(createReplicaAction(i('n', { replicaSource: 'arn:aws:rds:eu-west-1:1:db:p' }), 'p')).toBe('exists');
    expect(createReplicaAction(i('n'), 'p')).toBe('conflict');
  });

  test('the new replica id is stable, distinct per primary and within 63 characters', () => {
    expect(replicaIdFor('shop', 'a')).toBe(replicaIdFor('shop', 'a'));
    expect(replicaIdFor('shop', 'a')).not.toBe(replicaIdFor('shop', 'b'));
    expect(replicaIdFor('x'.repeat(80), 'a').length).toBeLessThanOrEqual(63);
  });
});

describe('promotion state machine steps', () => {
  test('promotes the replica, moves db-master, restores Multi-AZ, creates a fresh replica and moves db-replica', async () => {
    const state = await runMachine();
    expect(state.plan).toEqual({ cluster: CLUSTER, target: 'shop-replica-1', oldPrimary: 'shop-primary' });
    const promoted = world.instances.get('shop-replica-1')!;
    expect(promoted).toMatchObject({ replicaSource: undefined, multiAz: true, status: 'available' });
    expect(promoted.tags).toMatchObject({ 'resilient-fleet:mysql-role': 'primary', 'resilient-fleet:mysql-promotion': 'done' });
    expect(world.instances.get('shop-primary')!.tags['resilient-fleet:mysql-role']).toBe('retired');
    expect(world.instances.get(NEW_REPLICA)).toMatchObject({ replicaSource: 'shop-replica-1', status: 'available', tags: { 'resilient-fleet:mysql-cluster': CLUSTER, 'resilient-fleet:mysql-role': 'replica' } });
    expect(world.records.get(MASTER)).toEqual({ value: addressOf('shop-replica-1'), ttl: 30 });
    expect(world.records.get(REPLICA)).toEqual({ value: addressOf(NEW_REPLICA), ttl: 30 });
    expect(world.count('PromoteReadReplica')).toBe(1);
    expect(world.count('CreateDBInstanceReadReplica')).toBe(1);
  });

  test('a re-run after a failure half-way (creating the replica) finishes the same promotion and repeats nothing', async () => {
    // A client-side error the hook does not retry (RDS's documented InvalidParameterCombination), half-way through.
    world.failOnce('CreateDBInstanceReadReplica', wire.queryError('InvalidParameterCombination', 'We encountered an invalid parameter combination. Please try again.'));
    await expect(runMachine()).rejects.toThrow(/invalid parameter combination/);
    expect(world.records.get(MASTER)?.value).toBe(addressOf('shop-replica-1')); // db-master already moved
    expect(world.instances.get('shop-replica-1')!.tags['resilient-fleet:mysql-promotion']).toBe('in-progress');
    const before = world.count('PromoteReadReplica');

    const state = await runMachine(); // the operator starts the state machine again
    expect(state.plan?.target).toBe('shop-replica-1');
    expect(world.count('PromoteReadReplica')).toBe(before); // not promoted twice
    const replicas = [...world.instances.values()].filter((i) => i.replicaSource === 'shop-replica-1');
    expect(replicas.map((r) => r.id)).toEqual([NEW_REPLICA]);
    expect(world.records.get(REPLICA)?.value).toBe(addressOf(NEW_REPLICA));
    expect(world.instances.get('shop-replica-1')!.tags['resilient-fleet:mysql-promotion']).toBe('done');
  });

  test('a re-run after the replica was created but before db-replica moved creates no second replica', async () => {
    await runMachine({}, 'moveReplica');
    const creates = world.count('CreateDBInstanceReadReplica');
    await runMachine();
    expect(world.count('CreateDBInstanceReadReplica')).toBe(creates);
    expect([...world.instances.values()].filter((i) => i.replicaSource === 'shop-replica-1')).toHaveLength(1);
    expect(world.records.get(REPLICA)?.value).toBe(addressOf(NEW_REPLICA));
  });

  test('running every step twice in a row changes nothing the second time', async () => {
    await runMachine();
    const changes = world.count('ChangeResourceRecordSets');
    const snapshot = JSON.stringify([...world.instances.values()].map((i) => ({ ...i, pending: undefined })));
    for (const step of ['promote', 'retag', 'moveMaster', 'makeMultiAz', 'createReplica', 'moveReplica'] as Step[]) {
      await handler({ step, state: { plan: { cluster: CLUSTER, target: 'shop-replica-1', oldPrimary: 'shop-primary' }, newReplica: NEW_REPLICA } });
    }
    expect(world.count('ChangeResourceRecordSets')).toBe(changes);
    expect(JSON.stringify([...world.instances.values()].map((i) => ({ ...i, pending: undefined })))).toBe(snapshot);
  });

  test('after a finished promotion, a new execution promotes the fresh replica (a second, deliberate promotion)', async () => {
    await runMachine();
    const state = await handler({ step: 'plan' });
    expect(state.plan).toEqual({ cluster: CLUSTER, target: NEW_REPLICA, oldPrimary: 'shop-replica-1' });
  });

  test('a replica that is backing up is promoted by the await step once it is available (RDS refuses to promote it while backing up)', async () => {
    let state = await handler({ step: 'plan' });
    world.instances.get('shop-replica-1')!.status = 'backing-up';
    state = await handler({ step: 'promote', state });
    expect(state.done?.at(-1)).toMatch(/not-yet/);
    expect(world.count('PromoteReadReplica')).toBe(0);
    world.instances.get('shop-replica-1')!.status = 'available';
    state = await handler({ step: 'awaitPromoted', state });
    expect(state.ready).toBe(false);
    expect(world.count('PromoteReadReplica')).toBe(1);
    for (let i = 0; i < 5 && !state.ready; i++) state = await handler({ step: 'awaitPromoted', state });
    expect(state.ready).toBe(true);
    expect(world.count('PromoteReadReplica')).toBe(1);
  });

  test('a promotion already under way (InvalidDBInstanceState from RDS) counts as requested, not as a failure', async () => {
    const state = await handler({ step: 'plan' });
    world.failOnce('PromoteReadReplica', wire.rds.invalidDbInstanceState('shop-replica-1'));
    const out = await handler({ step: 'promote', state });
    expect(out.done?.at(-1)).toMatch(/already/);
  });

  test('retries RDS throttling on tags and Route 53 throttling on the names', async () => {
    world.failOnce('AddTagsToResource', wire.rds.throttling());
    world.failOnce('ChangeResourceRecordSets', wire.route53.throttling());
    world.failOnce('ChangeResourceRecordSets', wire.route53.priorRequestNotComplete());
    await runMachine();
    expect(world.records.get(MASTER)?.value).toBe(addressOf('shop-replica-1'));
  });

  test('the old primary deleted before the retag (RDS 404 DBInstanceNotFound) is skipped, not a failure', async () => {
    let state = await handler({ step: 'plan' });
    world.instances.delete('shop-primary');
    state = await handler({ step: 'retag', state });
    expect(state.done?.at(-1)).toMatch(/tagged shop-replica-1 primary, shop-primary gone/);
    expect(world.instances.get('shop-replica-1')!.tags['resilient-fleet:mysql-role']).toBe('primary');
  });

  test('the old primary deleted between the describe and its tag (AddTagsToResource 404) still converges', async () => {
    const state = await handler({ step: 'plan' });
    const oldArn = 'arn:aws:rds:eu-west-1:123456789012:db:shop-primary';
    world.rds.on(AddTagsToResourceCommand, { ResourceName: oldArn }).rejects(await rdsError(wire.rds.dbInstanceNotFound('shop-primary')));
    const out = await handler({ step: 'retag', state });
    expect(out.done?.at(-1)).toMatch(/tagged shop-replica-1 primary, shop-primary gone/);
    expect(world.instances.get('shop-replica-1')!.tags['resilient-fleet:mysql-role']).toBe('primary');
  });

  test('createReplica creates the replica when RDS says 404 DBInstanceNotFound for its name', async () => {
    const state = await runMachine({}, 'createReplica');
    expect(world.instances.has(NEW_REPLICA)).toBe(false);
    const out = await handler({ step: 'createReplica', state });
    expect(out.newReplica).toBe(NEW_REPLICA);
    expect(world.instances.get(NEW_REPLICA)).toMatchObject({ replicaSource: 'shop-replica-1', status: 'creating' });
  });

  test('refuses an unknown step and a step without its plan', async () => {
    await expect(handler({ step: 'launch' as Step })).rejects.toThrow(/unknown step "launch"/);
    await expect(handler({ step: 'promote' })).rejects.toThrow(/needs the plan/);
  });
});
