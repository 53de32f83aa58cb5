import * as fc from 'fast-check';
import { FleetModel } from './model';
import { propertyRuns } from '../property-runs';

/**
 * One operation of a schedule, decoded from a random integer, so fast-check generates (and shrinks) plain
 * integer arrays: cheap enough for 10,000 schedules in a few seconds.
 */
function apply(m: FleetModel, v: number): void {
  const kind = v % 16;
  const a = Math.floor(v / 16);
  const p = a % 8;
  const q = Math.floor(a / 8);
  m.now += 1 + (q % 3);
  switch (kind) {
    case 0: // scale out
      m.setDesired(Math.min(6, m.desired + 1 + (p % 3)), q);
      break;
    case 1: // scale in
      m.setDesired(Math.max(0, m.desired - 1 - (p % 2)), q);
      break;
    case 2: // the nightly stop
      m.setDesired(0, q);
      break;
    case 3: // pending instances finish booting
      m.settle();
      break;
    case 4: // an event is delivered normally, to an invocation that may see a stale group
    case 5:
      m.deliver(p, 'normal', q % 4, (q & 4) === 0);
      break;
    case 6: // an event is lost
      m.deliver(p, 'drop', 0, false);
      break;
    case 7: // an event is delivered twice (it stays queued: delivered again later, out of order)
      m.deliver(p, 'duplicate', q % 4, (q & 4) === 0);
      break;
    case 8: // an in-flight invocation writes now (concurrent invocations interleave here)
    case 9:
      m.step(p);
      break;
    case 10: // an instance fails its health check
    {
      const live = m.live();
      if (live.length > 0) live[p % live.length].healthy = false;
      m.reconcile(q);
      break;
    }
    case 11: // lifecycle hooks time out (hook not run): terminating instances go
      m.timeoutLifecycle();
      m.reconcile(q);
      break;
    case 12: // the scheduled sweep
      m.sweep();
      m.checkLeaderAfterSweep();
      break;
    case 13: // a deployment: leader-only starts on several instances at once
      m.deploy(q, p === 7 ? 0b10 : p === 6 ? 0b1 : 0);
      break;
    case 14: // leader-only processes advance
      m.procStep(p);
      m.procStep(q);
      break;
    case 15: // a reboot, or a leader-only process killed on a live instance
    {
      const live = m.live();
      if ((q & 1) === 0 && live.length > 0) m.reboot(live[p % live.length]);
      else m.killProc(p);
      break;
    }
  }
  m.checkTags();
  m.snapshot();
}

describe('LeaderElection properties (pure model of logic.ts)', () => {
  test('over 10,000 random schedules: one leader per term, terms strictly increase, a leader after every sweep, every deployment runs exactly once', () => {
    let schedules = 0;
    let elections = 0;
    let deployments = 0;
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1 << 20 }), { minLength: 5, maxLength: 80 }), (ops) => {
        const m = new FleetModel();
        for (const v of ops) apply(m, v);
        m.drain();
        m.sweep();
        m.checkLeaderAfterSweep();
        schedules++;
        elections += m.terms.size;
        deployments += m.deployments.length;
      }),
      { numRuns: propertyRuns(10_000) },
    );
    expect(schedules).toBeGreaterThanOrEqual(propertyRuns(10_000));
    // The schedules must actually exercise elections and deployments, not trivially pass.
    expect(elections).toBeGreaterThan(propertyRuns(10_000));
    expect(deployments).toBeGreaterThan(propertyRuns(5_000));
  });
});
