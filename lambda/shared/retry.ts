/**
 * Retries with exponential backoff, full jitter and a deadline: what the SDK's own retry strategy lacks
 * for eventual consistency (an instance "not found" just after launch, a tag on an instance that the
 * API cannot see yet). The SDK already retries throttling inside each call; this wraps whole operations.
 */

export interface RetryOptions {
  /** Which errors to retry. Default: none (every error is final). */
  readonly retryable: (err: unknown) => boolean;
  /** Give up once this many milliseconds have passed since the first attempt. */
  readonly deadlineMs: number;
  /** First backoff, doubled each attempt. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Largest single backoff. Default 5000 ms. */
  readonly maxDelayMs?: number;
  /** Largest number of attempts. Default unlimited (the deadline bounds it). */
  readonly maxAttempts?: number;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called before each retry, for logging. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The backoff before retry number `attempt` (1-based), with full jitter. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Runs `fn` until it succeeds, a non-retryable error is thrown, or the deadline or attempt limit is reached. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 5000;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const outOfAttempts = options.maxAttempts !== undefined && attempt >= options.maxAttempts;
      if (!options.retryable(err) || outOfAttempts) throw err;
      const delay = backoffDelay(attempt, base, max, random);
      if (now() + delay - started > options.deadlineMs) throw err;
      options.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
