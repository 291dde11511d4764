/**
 * The loader module of `redscope warm` for the demo's sessions: reads them
 * from the folder the demo keeps them in (`redscope demo --database-dir`,
 * given here as REDSCOPE_DEMO_DATABASE), by the hash their cache key ends
 * with, and hands them over as the session cache stores them.
 *
 * ```sh
 * REDSCOPE_DEMO_DATABASE=/path/to/database redscope warm --namespace demo:session: \
 *   --loader dist/demo/session-loader.js --redis-url redis://127.0.0.1:6379
 * ```
 * (`redscope up` prints the whole command for its stack.)
 */
import { DEMO_DEFAULTS } from './defaults.js';
import { DirectorySessionStore, isSessionHash } from './session-store.js';

const DATABASE_ENV = 'REDSCOPE_DEMO_DATABASE';

// A loader module is an entry point of its own, like a CLI: its settings come from the environment.
const dir = process.env[DATABASE_ENV];
if (dir === undefined || dir === '') {
  throw new Error(
    `${DATABASE_ENV} is not set: give the folder of the demo's sessions (its --database-dir)`,
  );
}
const store = new DirectorySessionStore(dir);

/** The TTL of the sessions written: the demo's session lifetime in the cache. */
export const ttlSeconds = DEMO_DEFAULTS.sessionTtlSeconds;

/** `<prefix>session:<hash>` -> the session's JSON, or null when it is gone (logged out). */
export async function load(keys: readonly string[]): Promise<Map<string, string | null>> {
  const values = new Map<string, string | null>();
  await Promise.all(
    keys.map(async (key) => {
      const hash = key.slice(key.lastIndexOf(':') + 1);
      const session = isSessionHash(hash) ? await store.get(hash) : undefined;
      values.set(key, session === undefined ? null : JSON.stringify(session));
    }),
  );
  return values;
}
