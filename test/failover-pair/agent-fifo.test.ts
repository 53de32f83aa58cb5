/**
 * The agent's pure VRRP decisions, pinned value by value: the notify FIFO's line format, the effective state, every
 * transition of the view (the whole view, not only the state, since the next transition starts from it), and which
 * node owns the address and the route. Expected values are written out, never read from the module.
 */
import { INITIAL_VIEW, VrrpView, addressIsHere, effectiveState, nextView, parseFifoLine, planRoute } from '../../instance/failover-pair-agent/logic';

const K1 = '100@5000/101@5001';
const K2 = '200@9000/201@9001';

describe('parseFifoLine', () => {
  test.each([
    ['  INSTANCE "edge" MASTER 254', { instance: 'edge', event: 'MASTER' }],
    ['INSTANCE  "edge" \t BACKUP  253', { instance: 'edge', event: 'BACKUP' }],
    ['INSTANCE "" FAULT 0', { instance: '', event: 'FAULT' }],
    ['INSTANCE "vi_edge-2" STOP 254\r\n', { instance: 'vi_edge-2', event: 'STOP' }],
    ['INSTANCE "edge" MASTER_RX_LOWER_PRI 254', { instance: 'edge', event: 'MASTER_RX_LOWER_PRI' }],
    ['INSTANCE "edge" MASTER', { instance: 'edge', event: 'MASTER' }],
  ])('reads %j', (line, expected) => {
    expect(parseFifoLine(line)).toEqual(expected);
  });

  test.each([
    'x INSTANCE "edge" MASTER 254',
    'GROUP "INSTANCE "edge" MASTER 254',
    'INSTANCE "edge" MASTERS 254',
    'INSTANCE "edge" BACKUP_X 1',
    'INSTANCE "edge"MASTER 254',
    'INSTANCE"edge" MASTER 254',
    'INSTANCE "ed"ge" MASTER 254',
    'INSTANCE "edge" master 254',
  ])('ignores %j', (line) => {
    expect(parseFifoLine(line)).toBeUndefined();
  });
});

describe('effectiveState', () => {
  const view = (v: Partial<VrrpView>): VrrpView => ({ announced: 'MASTER', announcedBy: K1, keepalived: K1, running: true, ...v });
  test.each<[string, Partial<VrrpView>, string]>([
    ['what the running keepalived announced', {}, 'MASTER'],
    ['FAULT as announced', { announced: 'FAULT' }, 'FAULT'],
    ['BACKUP as announced', { announced: 'BACKUP' }, 'BACKUP'],
    ['STOP when that keepalived is frozen or dead', { running: false }, 'STOP'],
    ['STOP when no keepalived is known', { keepalived: undefined }, 'STOP'],
    ['STOP when nothing runs and nothing is known', { keepalived: undefined, running: false }, 'STOP'],
    ['BACKUP when another keepalived announced it (a restart)', { keepalived: K2 }, 'BACKUP'],
    ['BACKUP when nothing was announced by this keepalived', { announcedBy: undefined }, 'BACKUP'],
  ])('%s', (_, v, expected) => {
    expect(effectiveState(view(v))).toBe(expected);
  });

  test('the agent starts knowing nothing: STOP, not running', () => {
    expect(INITIAL_VIEW).toEqual({ announced: 'STOP', running: false });
    expect(effectiveState(INITIAL_VIEW)).toBe('STOP');
  });
});

describe('nextView', () => {
  const master: VrrpView = { announced: 'MASTER', announcedBy: K1, keepalived: K1, running: true };
  const backup: VrrpView = { announced: 'BACKUP', announcedBy: K1, keepalived: K1, running: true };

  test('a line with no probe yet is trusted: the FIFO itself names the keepalived, and MASTER takes the address', () => {
    expect(nextView(INITIAL_VIEW, { kind: 'fifo', event: 'MASTER' })).toEqual({
      view: { announced: 'MASTER', announcedBy: 'fifo', keepalived: 'fifo', running: true },
      state: 'MASTER',
      takeAddress: true,
    });
  });

  test('a line without a keepalived is credited to the probed one', () => {
    expect(nextView({ announced: 'STOP', keepalived: K2, running: true }, { kind: 'fifo', event: 'BACKUP' })).toEqual({
      view: { announced: 'BACKUP', announcedBy: K2, keepalived: K2, running: true },
      state: 'BACKUP',
      takeAddress: false,
    });
  });

  test('a line read while a new keepalived runs belongs to that keepalived, not the one probed before', () => {
    expect(nextView({ announced: 'BACKUP', announcedBy: K1, keepalived: K1, running: false }, { kind: 'fifo', event: 'MASTER', keepalived: K2 })).toEqual({
      view: { announced: 'MASTER', announcedBy: K2, keepalived: K2, running: true },
      state: 'MASTER',
      takeAddress: true,
    });
  });

  test('BACKUP to MASTER takes the address; MASTER repeated does not move it again', () => {
    expect(nextView(backup, { kind: 'fifo', event: 'MASTER', keepalived: K1 })).toEqual({ view: master, state: 'MASTER', takeAddress: true });
    expect(nextView(master, { kind: 'fifo', event: 'MASTER', keepalived: K1 })).toEqual({ view: master, state: 'MASTER', takeAddress: false });
  });

  test('MASTER_RX_LOWER_PRI while master is MASTER and takes the address back', () => {
    expect(nextView(master, { kind: 'fifo', event: 'MASTER_RX_LOWER_PRI', keepalived: K1 })).toEqual({ view: master, state: 'MASTER', takeAddress: true });
  });

  test('MASTER_RX_LOWER_PRI from backup is a becoming-master, and takes the address', () => {
    expect(nextView(backup, { kind: 'fifo', event: 'MASTER_RX_LOWER_PRI', keepalived: K1 })).toEqual({ view: master, state: 'MASTER', takeAddress: true });
  });

  test.each(['BACKUP', 'FAULT'] as const)('%s from master gives up the state and moves nothing (the new master takes the address)', (event) => {
    expect(nextView(master, { kind: 'fifo', event, keepalived: K1 })).toEqual({
      view: { announced: event, announcedBy: K1, keepalived: K1, running: true },
      state: event,
      takeAddress: false,
    });
  });

  test('BACKUP from backup moves nothing', () => {
    expect(nextView(backup, { kind: 'fifo', event: 'BACKUP', keepalived: K1 })).toEqual({ view: backup, state: 'BACKUP', takeAddress: false });
  });

  test('STOP is STOP and leaves whether keepalived runs to the probe (a frozen one stays not running)', () => {
    expect(nextView(master, { kind: 'fifo', event: 'STOP', keepalived: K1 })).toEqual({
      view: { announced: 'STOP', announcedBy: K1, keepalived: K1, running: true },
      state: 'STOP',
      takeAddress: false,
    });
    expect(nextView({ ...master, running: false }, { kind: 'fifo', event: 'STOP', keepalived: K1 })).toEqual({
      view: { announced: 'STOP', announcedBy: K1, keepalived: K1, running: false },
      state: 'STOP',
      takeAddress: false,
    });
  });

  test('a probe that sees the same keepalived still running changes nothing and moves nothing', () => {
    expect(nextView(master, { kind: 'probe', keepalived: K1, running: true })).toEqual({ view: master, state: 'MASTER', takeAddress: false });
  });

  test('a probe that finds the master frozen is STOP; the next probe that finds it running again takes the address', () => {
    const frozen = nextView(master, { kind: 'probe', keepalived: K1, running: false });
    expect(frozen).toEqual({ view: { ...master, running: false }, state: 'STOP', takeAddress: false });
    expect(nextView(frozen.view, { kind: 'probe', keepalived: K1, running: true })).toEqual({ view: master, state: 'MASTER', takeAddress: true });
  });

  test('a probe that finds no keepalived is STOP and not running, whatever the probe says of running', () => {
    for (const running of [true, false]) {
      expect(nextView(master, { kind: 'probe', running })).toEqual({
        view: { announced: 'MASTER', announcedBy: K1, running: false },
        state: 'STOP',
        takeAddress: false,
      });
    }
  });

  test('a probe that finds a restarted keepalived is BACKUP until that one announces', () => {
    expect(nextView(master, { kind: 'probe', keepalived: K2, running: true })).toEqual({
      view: { announced: 'MASTER', announcedBy: K1, keepalived: K2, running: true },
      state: 'BACKUP',
      takeAddress: false,
    });
  });
});

describe('addressIsHere', () => {
  const self = { instanceId: 'i-self', networkInterfaceId: 'eni-self' };
  test.each<[string, Parameters<typeof addressIsHere>[0], { instanceId: string; networkInterfaceId?: string }, boolean]>([
    ['associated with this instance', { instanceId: 'i-self', networkInterfaceId: 'eni-other' }, self, true],
    ['associated with this node\'s interface', { networkInterfaceId: 'eni-self' }, self, true],
    ['on another instance and interface', { instanceId: 'i-other', networkInterfaceId: 'eni-other' }, self, false],
    ['allocated but associated with nothing', {}, { instanceId: 'i-self' }, false],
    ['allocated, associated with nothing, node interface known', {}, self, false],
    ['on an interface, node interface unknown', { networkInterfaceId: 'eni-other' }, { instanceId: 'i-self' }, false],
    ['not found', undefined, self, false],
  ])('%s', (_, assoc, me, expected) => {
    expect(addressIsHere(assoc, me)).toBe(expected);
  });
});

describe('planRoute', () => {
  const cidr = '172.31.255.10/32';
  const self = { instanceId: 'i-self', networkInterfaceId: 'eni-self' };
  test.each<[string, Parameters<typeof planRoute>[0], string]>([
    ['no route for the address: create', [{ destinationCidrBlock: '10.0.0.0/16' }], 'create'],
    ['no route at all: create', [], 'create'],
    ['another destination on this interface is not the route', [{ destinationCidrBlock: '172.31.255.11/32', networkInterfaceId: 'eni-self' }], 'create'],
    ['route on this interface: nothing to do', [{ destinationCidrBlock: '10.0.0.0/16' }, { destinationCidrBlock: cidr, networkInterfaceId: 'eni-self', instanceId: 'i-self' }], 'noop'],
    ['route on this instance, no interface reported: nothing to do', [{ destinationCidrBlock: cidr, instanceId: 'i-self' }], 'noop'],
    ['route on another instance, no interface reported: replace', [{ destinationCidrBlock: cidr, instanceId: 'i-other' }], 'replace'],
    ['route on another interface of this instance: replace', [{ destinationCidrBlock: cidr, networkInterfaceId: 'eni-other', instanceId: 'i-self' }], 'replace'],
    ['route on another node: replace', [{ destinationCidrBlock: cidr, networkInterfaceId: 'eni-other', instanceId: 'i-other' }], 'replace'],
    ['blackhole route (target gone): replace', [{ destinationCidrBlock: cidr }], 'replace'],
  ])('%s', (_, routes, expected) => {
    expect(planRoute(routes, cidr, self)).toBe(expected);
  });
});
