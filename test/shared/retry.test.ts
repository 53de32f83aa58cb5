import * as fc from 'fast-check';
import { backoffDelay, retry } from '../../lambda/shared/retry';

function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

const transient = (e: unknown) => (e as Error).name === 'Transient';
const err = (name: string) => Object.assign(new Error(name), { name });

describe('retry', () => {
  test('returns the first success after transient failures', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 3) throw err('Transient');
        return 'ok';
      },
      { retryable: transient, deadlineMs: 10_000, sleep: clock.sleep, now: clock.now, random: () => 1 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(clock.sleeps).toEqual([100, 200]);
  });

  test('throws a non-retryable error at once', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw err('Fatal');
        },
        { retryable: transient, deadlineMs: 10_000, sleep: clock.sleep, now: clock.now },
      ),
    ).rejects.toThrow('Fatal');
    expect(calls).toBe(1);
  });

  test('gives up at the deadline with the last error', async () => {
    const clock = fakeClock();
    await expect(
      retry(async () => { throw err('Transient'); }, { retryable: transient, deadlineMs: 1_000, sleep: clock.sleep, now: clock.now, random: () => 1 }),
    ).rejects.toThrow('Transient');
    expect(clock.now()).toBeLessThanOrEqual(1_000);
    expect(clock.sleeps.length).toBeGreaterThan(2);
  });

  test('stops after maxAttempts', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(
      retry(async () => { calls++; throw err('Transient'); }, { retryable: transient, deadlineMs: 1e9, maxAttempts: 4, sleep: clock.sleep, now: clock.now }),
    ).rejects.toThrow();
    expect(calls).toBe(4);
  });

  test('backoff stays within [0, min(max, base * 2^(n-1))) for any jitter', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 60_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, base, max, r) => {
        const d = backoffDelay(attempt, base, max, () => r);
        return d >= 0 && d <= Math.min(max, base * 2 ** (attempt - 1));
      }),
    );
  });
});
