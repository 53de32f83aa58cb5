/**
 * Errors for flow tests that use aws-sdk-client-mock: instead of typing an exception by hand (which proves nothing about
 * what the SDK throws), send one real call through the real client to a shared harness that answers with the documented
 * wire body, and hand back the exception the SDK itself built. `mockClient(X)` stubs `X.prototype.send`, so the probe
 * calls the SDK's base `Client.prototype.send`, which the mock leaves alone.
 */
import type { WireServer, WireAnswer } from './server';
import { WireServer as Server } from './server';
import { wireClient } from './clients';

let shared: Promise<WireServer> | undefined;
let queue: Promise<unknown> = Promise.resolve();

interface SdkClient {
  send(command: unknown): Promise<unknown>;
  destroy(): void;
}

/**
 * The exception that `Ctor`'s real client throws for `command` when the service answers `answer`.
 * Calls are serialised, so concurrent tests in one file cannot swap answers.
 */
export function parsedError<C extends SdkClient>(Ctor: new (config: any) => C, command: unknown, answer: WireAnswer): Promise<Error> {
  const run = async (): Promise<Error> => {
    const server = await (shared ??= Server.start().then((s) => s.unref()));
    server.reset();
    server.onAny(answer);
    const client = wireClient(Ctor, server);
    const baseSend = Object.getPrototypeOf(Ctor.prototype).send as (this: C, c: unknown) => Promise<unknown>;
    try {
      await baseSend.call(client, command);
    } catch (err) {
      return err as Error;
    } finally {
      client.destroy();
    }
    throw new Error(`parsedError: the answer (HTTP ${answer.status}) did not make the SDK throw`);
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}
