import { FleetModel } from './model';

/** Delivers every queued event in order, each invocation seeing the current group, and lets them write. */
function processEvents(m: FleetModel): void {
  while (m.events.length > 0) {
    m.deliver(0, 'normal', 0, true);
    m.step(0);
  }
}

/** Runs leader-only on every in-service instance at once (CodeDeploy with all hosts at a time), to the end. */
function deployEverywhere(m: FleetModel): string {
  const key = m.deploy(0xff);
  for (let guard = 0; m.procs.length > 0; guard++) {
    if (guard > 1000) throw new Error('deployment did not finish');
    m.procStep(guard);
  }
  return key;
}

describe('the Beanstalk incident, replayed', () => {
  test('two instances, deploy, scale both to zero at night, scale up in the morning, deploy again: the migration runs once per deployment and a leader exists each morning', () => {
    const m = new FleetModel();
    const leaders: Array<{ morning: number; leader: string | undefined; term: number }> = [];

    // Day 0: two instances come up and a deployment runs its migration.
    m.setDesired(2);
    m.settle();
    processEvents(m);
    leaders.push({ morning: 0, leader: m.leader?.leader, term: m.leader?.term ?? 0 });
    const deployments = [deployEverywhere(m)];

    for (let day = 1; day <= 3; day++) {
      // Night: the schedule scales the fleet to zero. The protected leader is released and goes last.
      m.setDesired(0);
      processEvents(m);
      m.reconcile();
      processEvents(m);
      expect(m.live()).toHaveLength(0);
      expect(m.leader?.leader).toBeUndefined(); // vacant, not pointing at a terminated instance

      // Morning: two fresh instances (new instance ids: every instance has been replaced).
      m.setDesired(2);
      m.settle();
      processEvents(m); // the launch events alone elect; no sweep needed
      const leader = m.leader?.leader;
      expect(leader).toBeDefined();
      expect(m.find(leader!)?.state).toBe('inService');
      leaders.push({ morning: day, leader, term: m.leader!.term });

      deployments.push(deployEverywhere(m));
    }

    // Each deployment's migration ran exactly once, on one instance, although both instances ran leader-only.
    for (const key of deployments) expect(m.successes.get(key)).toBe(1);
    // A leader every morning, each a new instance with a larger term (fencing token).
    expect(leaders.map((l) => l.term)).toEqual([1, 2, 3, 4]);
    expect(new Set(leaders.map((l) => l.leader)).size).toBe(4);
    // Even a single remaining instance is the leader: scale in to one in the evening.
    m.setDesired(1);
    processEvents(m);
    m.reconcile();
    processEvents(m);
    expect(m.live()).toHaveLength(1);
    expect(m.leader?.leader).toBe(m.live()[0].id);
  });

  test('a failed migration is claimed again by the next attempt; a finished one is never repeated', () => {
    const m = new FleetModel();
    m.setDesired(2);
    m.settle();
    processEvents(m);
    const key = m.deploy(0b1, 0b1); // the only attempt fails
    while (m.procs.length > 0) m.procStep(0);
    expect(m.runs.get(key)?.status).toBe('FAILED');
    m.startProc(m.live()[1], key, true); // a retry of the hook on another instance
    while (m.procs.length > 0) m.procStep(0);
    expect(m.runs.get(key)).toMatchObject({ status: 'DONE', attempt: 2 });
    m.startProc(m.live()[0], key, true);
    while (m.procs.length > 0) m.procStep(0);
    expect(m.successes.get(key)).toBe(1);
  });
});
