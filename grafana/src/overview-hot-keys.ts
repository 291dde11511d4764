import type { Thresholds } from '../../bundle/thresholds.js';
import { singleStat, timeSeries, valueTable } from './panels.js';
import type { Selectors } from './selectors.js';

/** The exporter's default top list: the "top 10". */
const SHOWN = 10;

const BY_KEY = 'cluster, key';

/**
 * The "Hot keys" row of the overview: the exporter's fleet-wide view, merged from every
 * client process's report (redscope_hotkey_*), and the near-cache that takes hot reads off
 * Redis (redscope_client_near_cache_*). The threshold is the one the clients report, the
 * number both hot-key alerts compare with, so it is drawn from a query, not thresholds.yaml.
 */
export function hotKeyPanels(t: Thresholds, s: Selectors) {
  const a = t.alerts;
  const rate = '[$__rate_interval]';
  // max, not sum, over targets: the reports live on the master, so two series of one key
  // (two exporters, or the old and the new master around a failover) are one count seen twice.
  const perKey = (metric: string) => `max by (${BY_KEY}) (${metric}${s.redis()})`;
  const top = (metric: string) => `topk(${SHOWN}, ${perKey(metric)})`;
  const threshold = {
    expr: `min by (cluster) (redscope_hotkey_threshold_per_minute${s.redis()})`,
    legend: '{{cluster}} threshold',
  };
  // Other columns keep the rows of the top list only: the exporter may export more keys.
  const ofTop = (metric: string) =>
    `${perKey(metric)} and on (${BY_KEY}) ${top('redscope_hotkey_rate_per_minute')}`;
  const nearCache = (metric: string) => `sum by (cluster) (rate(${metric}${s.apps()}${rate}))`;

  return {
    keysOverThreshold: singleStat({
      title: 'Keys over the hot-key threshold',
      description: `Keys whose fleet-wide access rate is at or above the threshold the clients are configured with (hotKeys.thresholdPerMinute), over every key the processes report, not only the top ${SHOWN}. Each fires RedisHotKey after ${a.RedisHotKey.for}.`,
      unit: 'none',
      width: 4,
      height: 8,
      redAbove: 1,
      queries: [
        {
          expr: `max by (cluster) (redscope_hotkey_keys_over_threshold${s.redis()})`,
          legend: '{{cluster}}',
        },
      ],
    }),
    topKeys: valueTable({
      title: `Top ${SHOWN} hot keys`,
      description: `The busiest keys now, merged over every client process (redacted names: a secret segment shows as #hash). Accesses/min counts every process's reads and writes of the key; Reaching Redis/min those a near-cache did not serve; Processes how many report it. Over the threshold for ${a.RedisHotKey.for}: RedisHotKey; still reaching Redis over it for ${a.RedisHotKeyNearCacheIneffective.for}: RedisHotKeyNearCacheIneffective.`,
      unit: 'opm',
      width: 20,
      height: 8,
      labels: [
        { label: 'cluster', header: 'Cluster' },
        { label: 'key', header: 'Key' },
      ],
      columns: [
        { header: 'Accesses/min', expr: top('redscope_hotkey_rate_per_minute') },
        { header: 'Reaching Redis/min', expr: ofTop('redscope_hotkey_redis_rate_per_minute') },
        { header: 'Processes', expr: ofTop('redscope_hotkey_processes'), unit: 'none' },
        {
          header: 'Over threshold',
          expr: ofTop('redscope_hotkey_over_threshold'),
          unit: 'bool_yes_no',
          redAbove: 1,
        },
      ],
      sortBy: 'Accesses/min',
    }),
    rate: timeSeries({
      title: 'Hot key access rate',
      description: `Accesses per minute of the ${SHOWN} busiest keys at each moment, over every client process, and the clients' hot-key threshold. Above the line for ${a.RedisHotKey.for}: RedisHotKey.`,
      unit: 'opm',
      min: 0,
      queries: [
        { expr: top('redscope_hotkey_rate_per_minute'), legend: '{{cluster}} {{key}}' },
        threshold,
      ],
    }),
    redisRate: timeSeries({
      title: 'Hot key accesses reaching Redis',
      description: `The part of each busy key's accesses that a client near-cache did not serve. A near-cache that works pulls a read-hot key under the threshold within one client window; above it for ${a.RedisHotKeyNearCacheIneffective.for}: RedisHotKeyNearCacheIneffective.`,
      unit: 'opm',
      min: 0,
      queries: [
        { expr: top('redscope_hotkey_redis_rate_per_minute'), legend: '{{cluster}} {{key}}' },
        threshold,
      ],
    }),
    nearCacheHitRatio: timeSeries({
      title: 'Near-cache hit ratio',
      description:
        'Hot-key reads served from process memory / all near-cache lookups, over the apps with hotKeys.nearCache.enabled. Low while a key is hot: the cache is not tracking, too small, or the key is written as often as read. No data: no app runs a near-cache.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      queries: [
        {
          expr: `${nearCache('redscope_client_near_cache_hits_total')}
/
((${nearCache('redscope_client_near_cache_hits_total')} + ${nearCache('redscope_client_near_cache_misses_total')}) > 0)`,
          legend: '{{cluster}}',
        },
      ],
    }),
  };
}
