/** The demo's defaults, shared by the app, `redscope demo` and the loader module of `redscope warm`. */
export const DEMO_DEFAULTS = {
  /** Prefix of every key the demo writes. */
  keyPrefix: 'demo:',
  /** Lifetime of a session in the cache, in seconds. */
  sessionTtlSeconds: 900,
  /** Demo accounts `user-0..N-1`. */
  users: 100,
} as const;

/**
 * The session cache's key prefix under `keyPrefix` (its keys are
 * `<keyPrefix>session:<sha256 of the id>`): the namespace the usage record
 * ranks and the warmer warms.
 */
export function sessionNamespace(keyPrefix: string = DEMO_DEFAULTS.keyPrefix): string {
  return `${keyPrefix}session:`;
}
