import { Counter, Histogram, type Registry } from 'prom-client';
import { assertUnregistered } from '../instrumentation/metrics.js';

/** The session cache's families, updated by the cache itself (not on the per-command path). */
export interface SessionMetrics {
  readonly hits: Counter;
  readonly misses: Counter;
  readonly loadDuration: Histogram;
}

export const SESSION_METRIC_NAMES = {
  hits: 'redscope_session_cache_hits_total',
  misses: 'redscope_session_cache_misses_total',
  loadDuration: 'redscope_session_load_duration_seconds',
} as const;

/** Loader latency: a database round trip, 1 ms to 10 s. */
const LOAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Registers the session families on the app's registry; throws ConfigError when they are there already. */
export function registerSessionMetrics(registry: Registry): SessionMetrics {
  assertUnregistered(
    registry,
    Object.values(SESSION_METRIC_NAMES),
    'create one session cache per registry',
  );
  const registers = [registry];
  return {
    hits: new Counter({
      name: SESSION_METRIC_NAMES.hits,
      help: 'Session validations answered from Redis.',
      registers,
    }),
    misses: new Counter({
      name: SESSION_METRIC_NAMES.misses,
      help: 'Session validations that had to call the loader (not in Redis).',
      registers,
    }),
    loadDuration: new Histogram({
      name: SESSION_METRIC_NAMES.loadDuration,
      help: 'Time the session loader took on a cache miss.',
      buckets: LOAD_BUCKETS,
      registers,
    }),
  };
}
