/** The demo's defaults, shared by the app, `redscope demo` and the loader module of `redscope warm`. */
export const DEMO_DEFAULTS = {
  /** Prefix of every key the demo writes. */
  keyPrefix: 'demo:',
  /** Lifetime of a session in the cache, in seconds. */
  sessionTtlSeconds: 900,
  /** Demo accounts `user-0..N-1`. */
  users: 100,
  /**
   * Requests per second of the load, what `redscope up` runs: every panel
   * moves, and the demo process stays at a few % of a core (a closed loop at
   * full speed held it at ~95% and its own p99 over 10 ms).
   */
  rate: 40,
  /**
   * Share of the load's requests that read the busiest org's settings, the
   * hot key: 600/min at 40 requests/s, the app's hottest key by far (the next,
   * the visits counters, get about 100/min) yet well under the threshold below.
   */
  hotKeyShare: 0.25,
  /**
   * The hot-key threshold of the demo's clients, per minute. The client's
   * default, 1000, is under what the session cache alone makes of its
   * revocation counter: two reads per validation (a replica's and the
   * master's), 4,800/min at 40 requests/s, so `RedisHotKey` would fire on a
   * healthy demo. 10,000 leaves room up to about 80 requests/s.
   */
  hotKeyThresholdPerMinute: 10_000,
  /** Reads of the session cache's revocation counter per validation, for the warning above it. */
  counterReadsPerValidation: 2,
  /** Sessions of returning users the demo starts with, when it runs its load. */
  returningSessions: 200,
} as const;

/**
 * The session cache's key prefix under `keyPrefix` (its keys are
 * `<keyPrefix>session:<sha256 of the id>`): the namespace the usage record
 * ranks and the warmer warms.
 */
export function sessionNamespace(keyPrefix: string = DEMO_DEFAULTS.keyPrefix): string {
  return `${keyPrefix}session:`;
}

/**
 * The header on every request of the load (its value: the request's kind). The app
 * writes the request-finished line of only a sample of these, so a stack left running
 * does not fill its disk with the load's own requests; every other request is logged.
 */
export const LOAD_HEADER = 'x-demo-load';

/** Share of the load's requests whose request-finished line the app writes. */
export const LOGGED_LOAD_SHARE = 0.02;
