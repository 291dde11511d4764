import {
  CLUSTER_LABELS,
  INSTANCE_LABELS,
  jobMatcher,
  QUANTILES,
  RECORDED,
} from '../../bundle/series.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import type { RecordingRule, RuleGroup } from './rule-types.js';

const BY_INSTANCE = INSTANCE_LABELS.join(', ');
const BY_CLUSTER = CLUSTER_LABELS.join(', ');

/** The rules that define the recorded series named in bundle/series.ts. */
export function recordingGroups(t: Thresholds): RuleGroup<RecordingRule>[] {
  const redis = jobMatcher(t.jobs.redis);
  const apps = jobMatcher(t.jobs.apps);
  const rate = (metric: string, selector: string, by: string) =>
    `sum by (${by}) (rate(${metric}{${selector}}[1m]))`;

  const ratios: RecordingRule[] = [
    {
      record: RECORDED.instanceHitRatio,
      expr: `${rate('redis_keyspace_hits_total', redis, BY_INSTANCE)}
/
(
  (${rate('redis_keyspace_hits_total', redis, BY_INSTANCE)} + ${rate('redis_keyspace_misses_total', redis, BY_INSTANCE)}) > 0
)`,
    },
    {
      record: RECORDED.clusterLookupsRate,
      expr: `${rate('redis_keyspace_hits_total', redis, BY_CLUSTER)} + ${rate('redis_keyspace_misses_total', redis, BY_CLUSTER)}`,
    },
    {
      record: RECORDED.clusterHitRatio,
      expr: `${rate('redis_keyspace_hits_total', redis, BY_CLUSTER)} / (${RECORDED.clusterLookupsRate} > 0)`,
    },
    {
      record: RECORDED.instanceOpsRate,
      expr: rate('redis_commands_processed_total', redis, BY_INSTANCE),
    },
    {
      record: RECORDED.clusterOpsRate,
      expr: `sum by (${BY_CLUSTER}) (${RECORDED.instanceOpsRate})`,
    },
    {
      record: RECORDED.instanceCmdRate,
      expr: rate('redis_commands_total', redis, `${BY_INSTANCE}, cmd`),
    },
    {
      record: RECORDED.instanceCmdMeanLatency,
      expr: `${rate('redis_commands_duration_seconds_total', redis, `${BY_INSTANCE}, cmd`)} / (${RECORDED.instanceCmdRate} > 0)`,
    },
    // Failed (errored while running) plus rejected (refused before running) calls.
    {
      record: RECORDED.serverErrorRatio,
      expr: `(
  ${rate('redis_commands_failed_calls_total', redis, BY_INSTANCE)}
  + ${rate('redis_commands_rejected_calls_total', redis, BY_INSTANCE)}
)
/
(
  (${rate('redis_commands_total', redis, BY_INSTANCE)} + ${rate('redis_commands_rejected_calls_total', redis, BY_INSTANCE)}) > 0
)`,
    },
    {
      record: RECORDED.clientCommandsRate,
      expr: rate('redscope_client_commands_total', apps, BY_CLUSTER),
    },
    {
      record: RECORDED.clientErrorsRate,
      // No error yet means no error_type series at all: 0 wherever the apps run commands,
      // so the error ratio (and RedisErrorRateHigh) reads 0, not "no data".
      expr: `${rate('redscope_client_command_errors_total', apps, BY_CLUSTER)}\nor\n${RECORDED.clientCommandsRate} * 0`,
    },
    {
      record: RECORDED.clientErrorRatio,
      expr: `${RECORDED.clientErrorsRate} / (${RECORDED.clientCommandsRate} > 0)`,
    },
    {
      record: RECORDED.memoryRatio,
      expr: `sum by (${BY_INSTANCE}) (redis_memory_used_bytes{${redis}})
/
(sum by (${BY_INSTANCE}) (redis_memory_max_bytes{${redis}}) > 0)`,
    },
    {
      record: RECORDED.clientsRatio,
      expr: `sum by (${BY_INSTANCE}) (redis_connected_clients{${redis}})
/
(sum by (${BY_INSTANCE}) (redis_config_maxclients{${redis}}) > 0)`,
    },
    {
      record: RECORDED.replicationLag,
      expr: `max by (${BY_INSTANCE}) (redis_connected_slave_lag_seconds{${redis}})`,
    },
  ];

  const latency: RecordingRule[] = QUANTILES.flatMap((q) => [
    {
      record: RECORDED.serverLatencyQuantile,
      expr: `histogram_quantile(${q}, sum by (${BY_INSTANCE}, le) (rate(redscope_redis_command_latency_seconds_bucket{${redis}}[1m])))`,
      labels: { quantile: q },
    },
    {
      record: RECORDED.clientLatencyQuantile,
      expr: `histogram_quantile(${q}, sum by (${BY_CLUSTER}, le) (rate(redscope_client_command_duration_seconds_bucket{${apps}}[1m])))`,
      labels: { quantile: q },
    },
  ]);

  // 5 s like the scrape interval: the fast path from fault to page reads these.
  return [
    { name: 'redscope-recording', interval: '5s', rules: ratios },
    { name: 'redscope-latency', interval: '5s', rules: latency },
  ];
}
