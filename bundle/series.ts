/**
 * The series contract between the rule generator and the dashboards: which recorded
 * series exist, which labels they keep, and how each side selects a job.
 */

/**
 * Recorded series, named `level:metric:operations` (Prometheus' naming practice). The
 * alert rules and the dashboards read these names; prometheus/src/recording.ts defines them.
 */
export const RECORDED = {
  instanceHitRatio: 'instance:redis_keyspace_hits_per_lookup:ratio_rate1m',
  clusterHitRatio: 'cluster:redis_keyspace_hits_per_lookup:ratio_rate1m',
  clusterLookupsRate: 'cluster:redis_keyspace_lookups:rate1m',
  instanceOpsRate: 'instance:redis_commands_processed:rate1m',
  clusterOpsRate: 'cluster:redis_commands_processed:rate1m',
  instanceCmdRate: 'instance_cmd:redis_commands:rate1m',
  instanceCmdMeanLatency: 'instance_cmd:redis_commands_duration_seconds:mean_rate1m',
  serverLatencyQuantile:
    'instance_quantile:redscope_redis_command_latency_seconds:histogram_quantile_rate1m',
  clientLatencyQuantile:
    'cluster_quantile:redscope_client_command_duration_seconds:histogram_quantile_rate1m',
  clientCommandsRate: 'cluster:redscope_client_commands:rate1m',
  clientErrorsRate: 'cluster:redscope_client_command_errors:rate1m',
  clientErrorRatio: 'cluster:redscope_client_command_errors_per_command:ratio_rate1m',
  serverErrorRatio: 'instance:redis_commands_failed_per_call:ratio_rate1m',
  memoryRatio: 'instance:redis_memory_used_per_max:ratio',
  clientsRatio: 'instance:redis_connected_clients_per_maxclients:ratio',
  replicationLag: 'instance:redis_connected_slave_lag_seconds:max',
} as const;

/**
 * Hash slots of every Redis Cluster, fixed by Redis. client/common/cluster-nodes.ts has the
 * same number for the client and the exporter; the bundle may not import them (its
 * generators run on their own, see test/bundle/layering.test.ts).
 */
export const CLUSTER_SLOTS = 16384;

/** The `quantile` label values of the `*_quantile:` recorded series. */
export const QUANTILES = ['0.5', '0.95', '0.99'] as const;

/**
 * What an `instance` level series keeps after aggregation (job is dropped), and what a
 * `cluster` level one keeps: a cluster series has no instance label to filter on.
 */
export const INSTANCE_LABELS = ['environment', 'cluster', 'instance'] as const;
export const CLUSTER_LABELS = ['environment', 'cluster'] as const;

export type RecordedLevel = 'instance' | 'cluster';

/** The level of a recorded series by its name (`instance_cmd:...` is instance level), or undefined for a raw metric. */
export function recordedLevel(name: string): RecordedLevel | undefined {
  if (!name.includes(':')) return undefined;
  const level = name.slice(0, name.indexOf(':')).split('_')[0];
  return level === 'instance' || level === 'cluster' ? level : undefined;
}

/** Families that applications export through redscope/client: scraped by the apps job, whose `instance` is an app. */
export const APP_FAMILY = /^redscope_(client|session)_/;

/** The matcher that selects one scrape job, as rules and dashboards both write it. */
export const jobMatcher = (job: string): string => `job="${job}"`;
