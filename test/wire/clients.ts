/**
 * Builds a real SDK v3 client pointed at a WireServer: its endpoint, fake credentials, a region, and a retry strategy
 * with a settable attempt count and (by default) no backoff delay, so tests of the SDK's own retries stay fast.
 */
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { WireServer } from './server';

export interface WireClientOptions {
  /** Total attempts the SDK makes per call (1 = no SDK retry). Default 1. */
  readonly maxAttempts?: number;
  /** Delay before each SDK retry, in ms. Default 0. */
  readonly retryDelayMs?: number;
  readonly region?: string;
  /** Extra client configuration (e.g. useQueueUrlAsEndpoint for SQS). */
  readonly config?: Record<string, unknown>;
}

export const FAKE_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

/** `wireClient(RDSClient, server)`: an RDS client whose every call goes to the harness. Call `client.destroy()` when done. */
export function wireClient<C>(Ctor: new (config: any) => C, server: WireServer, options: WireClientOptions = {}): C {
  const maxAttempts = options.maxAttempts ?? 1;
  return new Ctor({
    endpoint: server.url,
    region: options.region ?? 'eu-west-1',
    credentials: FAKE_CREDENTIALS,
    maxAttempts,
    retryStrategy: new ConfiguredRetryStrategy(maxAttempts, options.retryDelayMs ?? 0),
    ...options.config,
  });
}

/** What a call threw (fails the test if it did not throw). */
export async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, it succeeded');
}
