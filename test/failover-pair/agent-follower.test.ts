/**
 * The agent's new paths: keepalived's notify FIFO read in order by one process, the take-back on a lower-priority
 * advert, and no MASTER state left behind by a keepalived that died or froze. The pure view (logic.ts) is tested
 * directly and by property; the follower (follower.ts) on a real FIFO with a stand-in keepalived probe.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { INITIAL_VIEW, VrrpInput, VrrpView, effectiveState, nextView, parseFifoLine } from '../../instance/failover-pair-agent/logic';
import { KeepalivedProbe, VrrpFollower, probeKeepalived } from '../../instance/failover-pair-agent/follower';
import { until } from './lab/lab';

const K1 = '100@5000/101@5001';
const K2 = '200@9000/201@9001';
const run = (inputs: VrrpInput[], from: VrrpView = INITIAL_VIEW) => {
  let view = from;
  return inputs.map((input) => {
    const r = nextView(view, input);
    view = r.view;
    return { state: r.state, take: r.takeAddress };
  });
};

describe('parseFifoLine', () => {
  test.each([
    ['INSTANCE "edge" MASTER 254', { instance: 'edge', event: 'MASTER' }],
    ['INSTANCE "edge" BACKUP 253\n', { instance: 'edge', event: 'BACKUP' }],
    ['INSTANCE "edge" FAULT 254', { instance: 'edge', event: 'FAULT' }],
    ['INSTANCE "edge" STOP 254', { instance: 'edge', event: 'STOP' }],
    ['INSTANCE "edge" MASTER_RX_LOWER_PRI 254', { instance: 'edge', event: 'MASTER_RX_LOWER_PRI' }],
  ])('reads %j', (line, expected) => {
    expect(parseFifoLine(line)).toEqual(expected);
  });
  test.each(['GROUP "g" MASTER', 'INSTANCE "edge" MASTER_PRIORITY 254', 'INSTANCE edge MASTER 254', ''])('ignores %j', (line) => {
    expect(parseFifoLine(line)).toBeUndefined();
  });
});

describe('the VRRP view', () => {
  test('takes the address on MASTER only, and gives nothing up on BACKUP or FAULT (the new master takes it)', () => {
    expect(
      run([
        { kind: 'probe', keepalived: K1, running: true },
        { kind: 'fifo', event: 'BACKUP', keepalived: K1 },
        { kind: 'fifo', event: 'MASTER', keepalived: K1 },
        { kind: 'fifo', event: 'FAULT', keepalived: K1 },
        { kind: 'fifo', event: 'BACKUP', keepalived: K1 },
      ]),
    ).toEqual([
      { state: 'BACKUP', take: false },
      { state: 'BACKUP', take: false },
      { state: 'MASTER', take: true },
      { state: 'FAULT', take: false },
      { state: 'BACKUP', take: false },
    ]);
  });

  test('a master that hears a lower-priority master takes the address back, every time it hears one', () => {
    const master = nextView(nextView(INITIAL_VIEW, { kind: 'probe', keepalived: K1, running: true }).view, { kind: 'fifo', event: 'MASTER', keepalived: K1 }).view;
    expect(run([{ kind: 'fifo', event: 'MASTER_RX_LOWER_PRI', keepalived: K1 }, { kind: 'fifo', event: 'MASTER_RX_LOWER_PRI', keepalived: K1 }], master)).toEqual([
      { state: 'MASTER', take: true },
      { state: 'MASTER', take: true },
    ]);
  });

  test('a killed keepalived leaves no MASTER behind, and its restart is BACKUP until it says otherwise', () => {
    const master = nextView(nextView(INITIAL_VIEW, { kind: 'probe', keepalived: K1, running: true }).view, { kind: 'fifo', event: 'MASTER', keepalived: K1 }).view;
    expect(
      run(
        [
          { kind: 'probe', running: false },
          { kind: 'probe', keepalived: K2, running: true },
          { kind: 'fifo', event: 'MASTER', keepalived: K2 },
        ],
        master,
      ),
    ).toEqual([
      { state: 'STOP', take: false },
      { state: 'BACKUP', take: false },
      { state: 'MASTER', take: true },
    ]);
  });

  test('a frozen master is not master; woken, it takes the address back at once (keepalived never left MASTER)', () => {
    const master = nextView(nextView(INITIAL_VIEW, { kind: 'probe', keepalived: K1, running: true }).view, { kind: 'fifo', event: 'MASTER', keepalived: K1 }).view;
    expect(run([{ kind: 'probe', keepalived: K1, running: false }, { kind: 'probe', keepalived: K1, running: true }], master)).toEqual([
      { state: 'STOP', take: false },
      { state: 'MASTER', take: true },
    ]);
  });

  test('keepalived stopping (STOP on the FIFO) is not master', () => {
    const master = nextView(nextView(INITIAL_VIEW, { kind: 'probe', keepalived: K1, running: true }).view, { kind: 'fifo', event: 'MASTER', keepalived: K1 }).view;
    expect(run([{ kind: 'fifo', event: 'STOP', keepalived: K1 }], master)).toEqual([{ state: 'STOP', take: false }]);
  });

  test('property: MASTER only while the keepalived that announced MASTER runs, and a move only when MASTER', () => {
    const id = fc.constantFrom(K1, K2, undefined);
    const input: fc.Arbitrary<VrrpInput> = fc.oneof(
      fc.record({ kind: fc.constant('fifo' as const), event: fc.constantFrom('MASTER', 'BACKUP', 'FAULT', 'STOP', 'MASTER_RX_LOWER_PRI' as const), keepalived: id }),
      fc.record({ kind: fc.constant('probe' as const), keepalived: id, running: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(input, { maxLength: 40 }), (inputs) => {
        let view = INITIAL_VIEW;
        let lastProbe: { keepalived?: string; running: boolean } | undefined;
        let lastMasterBy: string | undefined;
        for (const i of inputs) {
          const r = nextView(view, i);
          view = r.view;
          if (i.kind === 'probe') lastProbe = i;
          if (i.kind === 'fifo') lastMasterBy = i.event === 'MASTER' || i.event === 'MASTER_RX_LOWER_PRI' ? view.announcedBy : undefined;
          expect(r.state).toBe(effectiveState(view));
          if (r.takeAddress) expect(r.state).toBe('MASTER');
          if (r.state === 'MASTER') {
            expect(lastMasterBy).toBeDefined();
            expect(view.keepalived).toBe(lastMasterBy);
            // Right after a probe, MASTER needs that probe to have seen keepalived running.
            if (i.kind === 'probe') expect(lastProbe!.running && lastProbe!.keepalived !== undefined).toBe(true);
          }
        }
      }),
    );
  });
});

describe('probeKeepalived', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-probe-'));
  const proc = path.join(dir, 'proc');
  const pidFiles = [path.join(dir, 'keepalived.pid'), path.join(dir, 'vrrp.pid')];
  const stat = (pid: number, state: string, start: number) => {
    fs.mkdirSync(path.join(proc, String(pid)), { recursive: true });
    // comm with a space and a parenthesis, as /proc allows.
    fs.writeFileSync(path.join(proc, String(pid), 'stat'), `${pid} (keep (alived)) ${state} 1 ${Array.from({ length: 17 }, () => '0').join(' ')} ${start} 0 0\n`);
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('names both processes by pid and start time while they run', () => {
    fs.writeFileSync(pidFiles[0], '10\n');
    fs.writeFileSync(pidFiles[1], '11\n');
    stat(10, 'S', 555);
    stat(11, 'R', 556);
    expect(probeKeepalived(pidFiles, proc)).toEqual({ keepalived: '10@555/11@556', running: true });
  });
  test('a stopped (SIGSTOP) or zombie process is not running', () => {
    stat(11, 'T', 556);
    expect(probeKeepalived(pidFiles, proc)).toEqual({ keepalived: '10@555/11@556', running: false });
    stat(11, 'Z', 556);
    expect(probeKeepalived(pidFiles, proc).running).toBe(false);
  });
  test('a missing pid file or process is not running', () => {
    fs.rmSync(path.join(proc, '11'), { recursive: true });
    expect(probeKeepalived(pidFiles, proc)).toEqual({ running: false });
    fs.rmSync(pidFiles[1]);
    expect(probeKeepalived(pidFiles, proc)).toEqual({ running: false });
  });
});

describe('VrrpFollower on a real FIFO', () => {
  let dir: string;
  let follower: VrrpFollower | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-follow-'));
  });
  afterEach(() => {
    follower?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(probe: () => KeepalivedProbe, takeAddress = async () => 'moved') {
    const states: string[] = [];
    const events: string[] = [];
    const takes: string[] = [];
    const fifo = path.join(dir, 'vrrp.fifo');
    execFileSync('mkfifo', [fifo]);
    follower = new VrrpFollower({
      fifo,
      stateFile: path.join(dir, 'vrrp.state'),
      probe,
      takeAddress: async (stillMaster) => {
        takes.push(stillMaster() ? 'master' : 'not master');
        return takeAddress();
      },
      probeMs: 5,
      recheckMs: 60_000,
      rxLowerGapMs: 0,
      onEvent: (e) => {
        if (e.msg === 'vrrp state') states.push(String(e.state));
        if (e.msg === 'vrrp event') events.push(String(e.event));
      },
    });
    follower.start();
    // keepalived writes the FIFO as a separate writer; each line is one write.
    const writer = fs.openSync(fifo, 'w');
    const say = (...events: string[]) => {
      for (const e of events) fs.writeSync(writer, `INSTANCE "edge" ${e} 254\n`);
    };
    return { states, events, takes, say, close: () => fs.closeSync(writer), stateFile: path.join(dir, 'vrrp.state') };
  }

  test('applies transitions in the order keepalived wrote them, one state file written by this process only', async () => {
    const f = start(() => ({ keepalived: K1, running: true }));
    f.say('BACKUP', 'MASTER', 'BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER');
    await until('seven transitions', () => f.states.length >= 7, 5_000, 5);
    f.close();
    expect(f.states).toEqual(['BACKUP', 'MASTER', 'BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER']);
    expect(fs.readFileSync(f.stateFile, 'utf8')).toBe('MASTER\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['vrrp.fifo', 'vrrp.state']);
  });

  test('takes the address back on MASTER_RX_LOWER_PRI, and every move runs as master', async () => {
    const f = start(() => ({ keepalived: K1, running: true }));
    f.say('MASTER');
    await until('first move', () => f.takes.length === 1, 5_000, 5);
    f.say('MASTER_RX_LOWER_PRI');
    await until('take-back', () => f.takes.length === 2, 5_000, 5);
    f.say('BACKUP', 'MASTER_RX_LOWER_PRI');
    await until('state BACKUP', () => f.states.includes('BACKUP'), 5_000, 5);
    // The stray event after BACKUP came from the same keepalived: it is its view, so it is master again.
    await until('third move', () => f.takes.length === 3, 5_000, 5);
    f.close();
    expect(f.takes).toEqual(['master', 'master', 'master']);
  });

  test('moves run one at a time; events during a move fold into one more move', async () => {
    let release!: () => void;
    let calls = 0;
    const f = start(
      () => ({ keepalived: K1, running: true }),
      () => {
        calls++;
        return calls === 1 ? new Promise<string>((r) => (release = () => r('moved'))) : Promise.resolve('already-here');
      },
    );
    f.say('MASTER');
    await until('first move started', () => calls === 1, 5_000, 5);
    f.say('MASTER_RX_LOWER_PRI', 'MASTER_RX_LOWER_PRI', 'MASTER_RX_LOWER_PRI');
    await until('events read', () => f.events.length === 3, 5_000, 5);
    expect(calls).toBe(1);
    release();
    await until('one folded move', () => calls === 2, 5_000, 5);
    f.close();
    expect(f.takes).toHaveLength(2);
  });

  test('keepalived killed: the state file says STOP and a move in progress sees it is no longer master', async () => {
    let probe: KeepalivedProbe = { keepalived: K1, running: true };
    let stillMasterAtEnd: boolean | undefined;
    let release!: () => void;
    const fifo = path.join(dir, 'vrrp.fifo');
    execFileSync('mkfifo', [fifo]);
    follower = new VrrpFollower({
      fifo,
      stateFile: path.join(dir, 'vrrp.state'),
      probe: () => probe,
      takeAddress: (stillMaster) =>
        new Promise((r) => {
          release = () => {
            stillMasterAtEnd = stillMaster();
            r('abandoned');
          };
        }),
      probeMs: 5,
      recheckMs: 60_000,
    });
    follower.start();
    const writer = fs.openSync(fifo, 'w');
    fs.writeSync(writer, 'INSTANCE "edge" MASTER 254\n');
    await until('MASTER', () => follower!.state === 'MASTER', 5_000, 5);
    probe = { running: false };
    await until('STOP', () => fs.readFileSync(path.join(dir, 'vrrp.state'), 'utf8') === 'STOP\n', 5_000, 5);
    release();
    await until('move ended', () => stillMasterAtEnd !== undefined, 5_000, 5);
    fs.closeSync(writer);
    expect(stillMasterAtEnd).toBe(false);
    expect(follower.state).toBe('STOP');
  });

  test('creates the FIFO when keepalived has not yet, and survives keepalived closing and reopening it', async () => {
    const fifo = path.join(dir, 'new', 'vrrp.fifo');
    const states: string[] = [];
    follower = new VrrpFollower({
      fifo,
      stateFile: path.join(dir, 'vrrp.state'),
      probe: () => ({ keepalived: K1, running: true }),
      takeAddress: async () => 'moved',
      probeMs: 5,
      onEvent: (e) => {
        if (e.msg === 'vrrp state') states.push(String(e.state));
      },
    });
    follower.start();
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    for (const event of ['MASTER', 'BACKUP']) {
      const w = fs.openSync(fifo, 'w');
      fs.writeSync(w, `INSTANCE "edge" ${event} 254\n`);
      fs.closeSync(w);
      await until(event, () => states.at(-1) === event, 5_000, 5);
    }
    expect(states).toEqual(['BACKUP', 'MASTER', 'BACKUP']);
  });

  test('follows the FIFO when keepalived deletes it and creates a new one (its restart)', async () => {
    const f = start(() => ({ keepalived: K1, running: true }));
    f.say('MASTER');
    await until('MASTER', () => f.states.at(-1) === 'MASTER', 5_000, 5);
    f.close();
    const fifo = path.join(dir, 'vrrp.fifo');
    fs.rmSync(fifo);
    execFileSync('mkfifo', [fifo]);
    // Written before the reader reopened: keepalived holds it open read-write, so the line waits in the pipe.
    const w = fs.openSync(fifo, fs.constants.O_RDWR);
    fs.writeSync(w, 'INSTANCE "edge" FAULT 254\n');
    await until('FAULT from the new FIFO', () => f.states.at(-1) === 'FAULT', 5_000, 5);
    fs.closeSync(w);
  });
});
