/**
 * The one-line status `redscope up` keeps updating: what an engineer glances
 * at during a drill. Read from the stack's Prometheus with the same series and
 * recording rules the dashboards use, so the line and the dashboards agree.
 */
import { type PromSample, promQuery } from './prometheus-api.js';

export interface StackStatus {
  /** Commands per second over every data node (the last two scrapes), or undefined before two scrapes. */
  readonly opsPerSecond: number | undefined;
  /** Keyspace hits per lookup, 0..1. */
  readonly hitRate: number | undefined;
  /**
   * The node that is master now (Sentinel), or how many masters answer (cluster);
   * undefined when no data node answers as master, null before Prometheus scraped any.
   */
  readonly master: string | undefined | null;
  /** Names of the alerts firing now, sorted, without duplicates. */
  readonly firing: readonly string[];
  /**
   * How many keys are at or above the clients' hot-key threshold (what `RedisHotKey`
   * alerts on), and the busiest reported key's accesses per minute.
   */
  readonly hotKeys: { readonly count: number; readonly topPerMinute: number | undefined };
}

const single = (samples: PromSample[]) =>
  samples[0] === undefined ? undefined : Number(samples[0].value[1]);

/**
 * Reads the status from Prometheus. `names` maps `host:port` to a node name
 * (redis-0, ...) for the master column.
 */
export async function readStackStatus(
  prometheus: string,
  names: Readonly<Record<string, string>>,
  cluster: boolean,
): Promise<StackStatus> {
  const [scraped, ops, hits, masters, alerts, hot, overThreshold] = await Promise.all([
    promQuery(prometheus, 'count(redis_up{job="redis"})'),
    // irate: right from the second scrape, where a 1m rate() would under-report for a minute.
    promQuery(prometheus, 'sum(irate(redis_commands_processed_total{job="redis"}[30s]))'),
    promQuery(prometheus, 'max(cluster:redis_keyspace_hits_per_lookup:ratio_rate1m)'),
    promQuery(
      prometheus,
      'redis_instance_info{job="redis", role="master"} and on (instance) redis_up == 1',
    ),
    promQuery(prometheus, 'ALERTS{alertstate="firing"}'),
    promQuery(prometheus, 'max(redscope_hotkey_rate_per_minute{job="redis"})'),
    promQuery(
      prometheus,
      'count(max by (key) (redscope_hotkey_rate_per_minute{job="redis"}) >= on () group_left min(redscope_hotkey_threshold_per_minute{job="redis"}))',
    ),
  ]);
  const masterNames = masters.map((m) => {
    const instance = m.metric.instance ?? '?';
    return names[instance] ? `${names[instance]} (${instance})` : instance;
  });
  return {
    opsPerSecond: single(ops),
    hitRate: single(hits),
    master: !single(scraped)
      ? null
      : cluster
        ? `${masters.length} masters`
        : masterNames.length > 1
          ? `${masterNames.length} masters: ${masterNames.sort().join(', ')}`
          : masterNames[0],
    firing: [...new Set(alerts.map((a) => a.metric.alertname ?? '?'))].sort(),
    hotKeys: { count: single(overThreshold) ?? 0, topPerMinute: single(hot) },
  };
}

const compact = (n: number) =>
  n >= 10_000
    ? `${(n / 1000).toFixed(0)}k`
    : n >= 1000
      ? `${(n / 1000).toFixed(1)}k`
      : n.toFixed(0);

/** One line, e.g. `12:00:05  1.2k ops/s · hit 98.1% · master redis-0 (…) · alerts: none · hot keys: 1 (top 900/min)`. */
export function formatStackStatus(status: StackStatus, now = new Date()): string {
  const time = `${now.toISOString().slice(11, 19)}Z`;
  const ops = status.opsPerSecond === undefined ? '-' : compact(status.opsPerSecond);
  const hit = status.hitRate === undefined ? '-' : `${(status.hitRate * 100).toFixed(1)}%`;
  const alerts = status.firing.length === 0 ? 'none' : status.firing.join(', ');
  const top = status.hotKeys.topPerMinute;
  const hot = `${status.hotKeys.count}${top === undefined ? '' : ` (busiest key ${compact(top)}/min)`}`;
  return `${time}  ${ops} ops/s · hit ${hit} · master ${status.master === null ? '(not scraped yet)' : (status.master ?? 'none')} · alerts firing: ${alerts} · hot keys: ${hot}`;
}
