import { Counter, Gauge, type Registry } from 'prom-client';
import { assertUnregistered } from '../instrumentation/metrics.js';
import type { HotKeySnapshot } from './hot-keys.js';
import type { NearCacheStats } from './near-cache.js';

/** The client's hot-key and near-cache families, on the app's own registry. */
export const HOTKEY_METRIC_NAMES = {
  rate: 'redscope_client_hotkey_rate_per_minute',
  redisRate: 'redscope_client_hotkey_redis_rate_per_minute',
  keysOverThreshold: 'redscope_client_hotkey_keys_over_threshold',
  threshold: 'redscope_client_hotkey_threshold_per_minute',
  sketchBytes: 'redscope_client_hotkey_sketch_bytes',
  reports: 'redscope_client_hotkey_reports_total',
  nearCacheHits: 'redscope_client_near_cache_hits_total',
  nearCacheMisses: 'redscope_client_near_cache_misses_total',
  nearCacheInvalidations: 'redscope_client_near_cache_invalidations_total',
  nearCacheEntries: 'redscope_client_near_cache_entries',
  nearCacheFlushes: 'redscope_client_near_cache_flushes_total',
  nearCacheTracking: 'redscope_client_near_cache_tracking',
} as const;

/** The figures the hot-key families read at scrape time. */
export interface HotKeySource {
  snapshot(limit: number): HotKeySnapshot;
  nearCacheStats(): NearCacheStats | undefined;
  reportCounts(): { readonly published: number; readonly failed: number } | undefined;
}

export interface HotKeyMetrics {
  unregister(): void;
}

/**
 * Registers the hot-key families on the app's registry: this process's top
 * `top` keys (redacted), and the near-cache's counts when it is on. `source`
 * is read at scrape time (it is created after the metrics, so a registry
 * conflict throws before any connection opens).
 */
export function registerHotKeyMetrics(
  registry: Registry,
  source: () => HotKeySource | undefined,
  top: number,
): HotKeyMetrics {
  const names = Object.values(HOTKEY_METRIC_NAMES);
  assertUnregistered(
    registry,
    names,
    'instrument the client once per registry, or detach() / close() the previous one first',
  );
  const registers = [registry];
  new Gauge({
    name: HOTKEY_METRIC_NAMES.rate,
    help: "Accesses per minute of this process's hottest keys (names redacted), over the hot-key window.",
    labelNames: ['key'],
    registers,
    collect() {
      this.reset();
      for (const k of source()?.snapshot(top).keys ?? []) this.set({ key: k.key }, k.rate);
    },
  });
  new Gauge({
    name: HOTKEY_METRIC_NAMES.redisRate,
    help: "Of a hot key's accesses per minute, those that reached Redis (not answered by the near-cache).",
    labelNames: ['key'],
    registers,
    collect() {
      this.reset();
      for (const k of source()?.snapshot(top).keys ?? []) this.set({ key: k.key }, k.redisRate);
    },
  });
  new Gauge({
    name: HOTKEY_METRIC_NAMES.keysOverThreshold,
    help: 'Keys at or over the hot-key threshold in this process.',
    registers,
    collect() {
      this.set(source()?.snapshot(0).keysOverThreshold ?? 0);
    },
  });
  new Gauge({
    name: HOTKEY_METRIC_NAMES.threshold,
    help: 'Accesses per minute at which a key counts as hot in this process.',
    registers,
    collect() {
      const threshold = source()?.snapshot(0).thresholdPerMinute;
      if (threshold !== undefined) this.set(threshold);
    },
  });
  new Gauge({
    name: HOTKEY_METRIC_NAMES.sketchBytes,
    help: 'Memory the hot-key sketch holds, key names included (by its own accounting).',
    registers,
    collect() {
      this.set(source()?.snapshot(0).sketchBytes ?? 0);
    },
  });
  new Counter({
    name: HOTKEY_METRIC_NAMES.reports,
    help: 'Hot-key reports this process wrote to Redis (published) or could not (failed).',
    labelNames: ['result'],
    registers,
    collect() {
      this.reset();
      const counts = source()?.reportCounts();
      this.inc({ result: 'published' }, counts?.published ?? 0);
      this.inc({ result: 'failed' }, counts?.failed ?? 0);
    },
  });
  const near = () => source()?.nearCacheStats();
  new Counter({
    name: HOTKEY_METRIC_NAMES.nearCacheHits,
    help: 'Reads answered by the near-cache without Redis.',
    registers,
    collect() {
      this.reset();
      this.inc(near()?.hits ?? 0);
    },
  });
  new Counter({
    name: HOTKEY_METRIC_NAMES.nearCacheMisses,
    help: 'Reads of hot keys the near-cache could not answer (sent to Redis, and cached from the reply).',
    registers,
    collect() {
      this.reset();
      this.inc(near()?.misses ?? 0);
    },
  });
  new Counter({
    name: HOTKEY_METRIC_NAMES.nearCacheInvalidations,
    help: 'Keys dropped from the near-cache because Redis said they changed (its invalidation messages).',
    registers,
    collect() {
      this.reset();
      this.inc(near()?.invalidations ?? 0);
    },
  });
  new Gauge({
    name: HOTKEY_METRIC_NAMES.nearCacheEntries,
    help: 'Entries in the near-cache.',
    registers,
    collect() {
      this.set(near()?.entries ?? 0);
    },
  });
  new Counter({
    name: HOTKEY_METRIC_NAMES.nearCacheFlushes,
    help: 'Times the whole near-cache was emptied, by reason (connection_lost, flushall, tracking_failed, closed).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of near()?.flushes ?? []) this.inc({ reason }, count);
    },
  });
  new Gauge({
    name: HOTKEY_METRIC_NAMES.nearCacheTracking,
    help: "1 while Redis tracks the near-cache's keys (invalidations flow) and reads of hot keys may be answered from it.",
    registers,
    collect() {
      this.set(near()?.tracking === true ? 1 : 0);
    },
  });
  return {
    unregister() {
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
