import { RECORDED } from '../../bundle/series.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { stateTimeline, timeSeries, type ValueText, valueTable } from './panels.js';
import type { Selectors } from './selectors.js';

/** One warming run: the app instance (the exporter's instance_id) and the key prefix it warms. */
const BY_RUN = 'cluster, instance_id, namespace';
const RUN_LEGEND = '{{cluster}} {{instance_id}} {{namespace}}';

/**
 * The states of a run's status record, coded so that sorting by the code puts failed runs
 * first and running ones next: the rows the on-call looks for.
 */
const STATES = [
  { state: 'done', value: 1, text: 'Done', color: 'green' },
  { state: 'cancelled', value: 2, text: 'Cancelled', color: 'orange' },
  { state: 'running', value: 3, text: 'Running', color: 'blue' },
  { state: 'failed', value: 4, text: 'Failed', color: 'red' },
] as const satisfies readonly (ValueText & { readonly state: string })[];

/**
 * The "Cache warming" row of the overview: each app's warming runs as the exporter reads
 * them from their status records on the master (redscope_warming_*), the apps' own
 * counters (redscope_client_warming_*), and the hit rate the runs are there to raise.
 */
export function warmingPanels(t: Thresholds, s: Selectors) {
  const a = t.alerts;
  const rate = '[$__rate_interval]';
  // max, not sum, over targets: the records live on the master, so two series of one run
  // (two exporters, or the old and the new master around a failover) are one record seen twice.
  const perRun = (metric: string) => `max by (${BY_RUN}) (${metric}${s.redis()})`;
  // The state label as a number (exporter: 1 for the current state, 0 for the others), so
  // one series per run can carry it: the others multiply to 0 and max keeps the current one.
  const stateCode = `max by (${BY_RUN}) (
  ${STATES.map((st) => `redscope_warming_state${s.redis(`state="${st.state}"`)} * ${st.value}`).join('\n  or ')}
)`;
  const appsRate = (metric: string) => `sum by (cluster) (rate(${metric}${s.apps()}${rate}))`;
  const stalled = a.RedisCacheWarmingStalled.seconds;

  return {
    timeline: stateTimeline({
      title: 'Warming runs over time',
      description: `The state of each app instance's warming run per namespace, from its status record: Running, then Done (finished, or reached its target hit rate), Cancelled or Failed. An ended run stays 10 minutes. Failed fires RedisCacheWarmingFailed; Running without progress for ${stalled}s fires RedisCacheWarmingStalled. A Running row that stops without an end state: the app died or was restarted mid-run.`,
      queries: [{ expr: stateCode, legend: RUN_LEGEND }],
      states: STATES,
    }),
    runs: valueTable({
      title: 'Warming runs',
      description: `Each run the exporter sees now, failed ones first: its state, how far it got ((warmed + skipped) / planned), keys written, keys planned, keys that failed to load or write, how long it has run, and the age of its status record (the app rewrites it every few seconds while running). Details: the record's reason field, and \`redscope warm --dry-run\` for what a new run would warm.`,
      unit: 'none',
      width: 12,
      height: 8,
      labels: [
        { label: 'cluster', header: 'Cluster' },
        { label: 'instance_id', header: 'App instance' },
        { label: 'namespace', header: 'Namespace' },
      ],
      columns: [
        { header: 'State', expr: stateCode, texts: STATES },
        {
          header: 'Progress',
          expr: perRun('redscope_warming_progress_ratio'),
          unit: 'percentunit',
        },
        { header: 'Warmed', expr: perRun('redscope_warming_keys_warmed') },
        { header: 'Planned', expr: perRun('redscope_warming_keys_planned') },
        { header: 'Errors', expr: perRun('redscope_warming_errors'), redAbove: 1 },
        { header: 'Duration', expr: perRun('redscope_warming_duration_seconds'), unit: 's' },
        {
          header: 'Record age',
          expr: perRun('redscope_warming_last_update_age_seconds'),
          unit: 's',
        },
      ],
      sortBy: 'State',
    }),
    progress: timeSeries({
      title: 'Warming progress',
      description: `(Keys warmed + keys skipped because live traffic had filled them) / keys planned, per run. A healthy run climbs to 100% within seconds to minutes; a flat line while Running for ${stalled}s fires RedisCacheWarmingStalled. Compare with the hit rate beside it.`,
      unit: 'percentunit',
      width: 12,
      min: 0,
      max: 1,
      queries: [{ expr: perRun('redscope_warming_progress_ratio'), legend: RUN_LEGEND }],
    }),
    hitRate: timeSeries({
      title: 'Hit rate during warming',
      description: `What warming is for: the session cache's hit ratio (validations served from Redis / all validations, from the apps' redscope_session_* counters) and Redis' keyspace hit ratio (the series RedisHitRateLow reads, alerting below ${a.RedisHitRateLow.ratio * 100}%), per cluster. After a cold start, warming aims at 90% within 30 s; read it against the runs' progress and states above.`,
      unit: 'percentunit',
      width: 12,
      min: 0,
      max: 1,
      redBelow: a.RedisHitRateLow.ratio,
      queries: [
        {
          expr: `${appsRate('redscope_session_cache_hits_total')}
/
((${appsRate('redscope_session_cache_hits_total')} + ${appsRate('redscope_session_cache_misses_total')}) > 0)`,
          legend: '{{cluster}} sessions',
        },
        {
          expr: `${RECORDED.clusterHitRatio}${s.clusterRecorded()}`,
          legend: '{{cluster}} Redis keyspace',
        },
      ],
    }),
    keysWarmed: timeSeries({
      title: 'Keys warmed',
      description:
        "Keys each run has written so far, from its status record (the table says how many it planned). It grows in steps of one batch and stays at the run's total for 10 minutes after the run ends.",
      unit: 'none',
      width: 12,
      min: 0,
      queries: [{ expr: perRun('redscope_warming_keys_warmed'), legend: RUN_LEGEND }],
    }),
    throughput: timeSeries({
      title: 'Warming throughput and rate limit',
      description:
        "Keys per second the apps' warmers handle, by namespace and result (warmed; skipped: live traffic had filled the key, or it is gone; failed: loader or write error), and the rate their token buckets allow now. The limit halves while live latency or errors rise and climbs back after: a limit near 0 is a warmer that backed off.",
      unit: 'ops',
      width: 12,
      min: 0,
      queries: [
        {
          expr: `sum by (namespace, result) (rate(redscope_client_warming_keys_total${s.apps()}${rate}))`,
          legend: '{{namespace}} {{result}}',
        },
        {
          expr: `sum by (namespace) (
  redscope_client_warming_rate_limit${s.apps()}
  and on (environment, instance, namespace)
  redscope_client_warming_running${s.apps()} == 1
)`,
          legend: '{{namespace}} rate limit',
        },
      ],
    }),
  };
}
