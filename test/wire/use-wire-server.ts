/**
 * The jest hooks every wire test file needs, registered once: a WireServer started before the file's tests, after each test
 * a check that no request went unanswered and a reset, and at the end every client made through `client()` destroyed
 * and the server closed. `sleep` is an instant retry sleep that records each delay in `sleeps` (cleared after each test).
 * Create clients in the file's own beforeAll (it runs after this one).
 */
import { wireClient, type WireClientOptions } from './clients';
import { WireServer } from './server';

export interface WireFixture {
  readonly server: WireServer;
  readonly sleeps: number[];
  readonly sleep: (ms: number) => Promise<void>;
  client<C extends { destroy(): void }>(Ctor: new (config: any) => C, options?: WireClientOptions): C;
}

export function useWireServer(): WireFixture {
  const made: Array<{ destroy(): void }> = [];
  let server: WireServer | undefined;
  const sleeps: number[] = [];
  const fixture: WireFixture = {
    get server() {
      if (!server) throw new Error('useWireServer: the server starts in beforeAll; use it inside a hook or a test');
      return server;
    },
    sleeps,
    sleep: async (ms) => void sleeps.push(ms),
    client(Ctor, options) {
      const c = wireClient(Ctor, fixture.server, options);
      made.push(c);
      return c;
    },
  };
  beforeAll(async () => {
    server = await WireServer.start();
  });
  afterEach(() => {
    expect(fixture.server.unanswered.map((r) => r.operation)).toEqual([]);
    fixture.server.reset();
    sleeps.length = 0;
  });
  afterAll(async () => {
    for (const c of made) c.destroy();
    await server?.close();
  });
  return fixture;
}
