/** The structured logger every hook writes through: one JSON object a line, the level and hook on each, errors readable. */
import { createLogger } from '../../lambda/shared/log';

describe('createLogger', () => {
  test('writes one JSON object a line with the level, the hook, the message and the fields', () => {
    const lines: string[] = [];
    const log = createLogger('dns-registrar', (l) => lines.push(l));
    log.debug('d');
    log.info('registered', { instanceId: 'i-0598c7d356eba48d7', records: 2 });
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { level: 'DEBUG', hook: 'dns-registrar', message: 'd' },
      { level: 'INFO', hook: 'dns-registrar', message: 'registered', instanceId: 'i-0598c7d356eba48d7', records: 2 },
      { level: 'WARN', hook: 'dns-registrar', message: 'w' },
      { level: 'ERROR', hook: 'dns-registrar', message: 'e' },
    ]);
  });

  test('an Error field is logged as its name and message (JSON.stringify of an Error is {})', () => {
    const lines: string[] = [];
    const err = new RangeError('weight 300 out of range');
    createLogger('leader', (l) => lines.push(l)).error('failed', { err, attempt: 3 });
    expect(JSON.parse(lines[0])).toEqual({ level: 'ERROR', hook: 'leader', message: 'failed', err: { name: 'RangeError', message: 'weight 300 out of range' }, attempt: 3 });
  });

  test('by default each line goes to stdout, newline-terminated (what Lambda ships to CloudWatch Logs)', () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      createLogger('worker-drain').info('drained', { instanceId: 'i-1' });
      expect(spy.mock.calls.map((c) => c[0])).toEqual([`${JSON.stringify({ level: 'INFO', hook: 'worker-drain', message: 'drained', instanceId: 'i-1' })}\n`]);
    } finally {
      spy.mockRestore();
    }
  });
});
