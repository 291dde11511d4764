import { DASHBOARDS, type DashboardKey } from '../../bundle/dashboard-uids.js';
import { CLUSTER_SLOTS, jobMatcher, RECORDED } from '../../bundle/series.js';
import type { AlertName, Thresholds } from '../../bundle/thresholds.js';
import type { AlertRule, RuleGroup, Severity } from './rule-types.js';

interface AlertSpec {
  readonly expr: string;
  readonly severity: Severity;
  readonly summary: string;
  readonly description: string;
  /** Go template that formats `$value` for the notification. */
  readonly value: string;
  /** Instance-level alerts open the drill-down; cluster-level ones the overview. */
  readonly dashboard: DashboardKey;
}

const DAY = 86_400;

/** The runbook of an alert: the one place that ties rules, runbooks/ and Alertmanager together. */
export function runbookUrl(t: Thresholds, alert: string): string {
  return `${t.links.runbookBaseUrl}/${alert}.md`;
}

function dashboardUrl(t: Thresholds, key: DashboardKey): string {
  const { uid, slug } = DASHBOARDS[key];
  const vars =
    key === 'instance'
      ? 'var-environment={{ $labels.environment }}&var-instance={{ $labels.instance }}'
      : 'var-environment={{ $labels.environment }}';
  return `${t.links.grafanaUrl}/d/${uid}/${slug}?${vars}`;
}

function specs(t: Thresholds): Record<AlertName, AlertSpec> {
  const a = t.alerts;
  const redis = jobMatcher(t.jobs.redis);
  const sentinel = jobMatcher(t.jobs.sentinel);
  const exporter = jobMatcher(t.jobs.exporter);
  const apps = jobMatcher(t.jobs.apps);
  return {
    RedisDown: {
      // The second branch is the exporter's /scrape for this target failing: an exporter
      // that cannot be scraped pages too instead of going quiet.
      expr: `redis_up{${redis}} == 0 or up{${redis}} == 0`,
      severity: 'critical',
      summary: 'Redis {{ $labels.instance }} is down',
      description:
        'Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} does not answer the exporter, or the exporter cannot be scraped for it. Clients pointed at it fail; if it was the master, Sentinel should fail over within seconds.',
      value: '{{ $value }}',
      dashboard: 'instance',
    },
    RedscopeExporterDown: {
      expr: `up{${exporter}} == 0`,
      severity: 'critical',
      summary: 'redscope exporter {{ $labels.instance }} cannot be scraped',
      description:
        'Prometheus cannot scrape the redscope exporter {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }}. Every Redis and Sentinel alert of this cluster is blind until it is back.',
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    RedisNoMaster: {
      expr: `(
  count by (environment, cluster) (redis_sentinel_master_status{${sentinel}} == 0) >= ${t.sentinelQuorum}
)
or
(
  count by (environment, cluster) (redis_up{${redis}} == 1)
  unless on (environment, cluster)
  count by (environment, cluster) (redis_instance_info{${redis}, role="master"})
)`,
      severity: 'critical',
      summary: 'Redis cluster {{ $labels.cluster }} has no reachable master',
      description: `In {{ $labels.environment }}/{{ $labels.cluster }} either at least ${t.sentinelQuorum} Sentinels see the master as down or no reachable Redis reports role master, for longer than a failover takes. Writes fail until a master is back.`,
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    RedisFailover: {
      expr: `max by (environment, cluster, master_name) (changes(redscope_sentinel_config_epoch{${sentinel}}[${a.RedisFailover.window}])) > 0
or
max by (environment, cluster, master_name) (increase(redscope_sentinel_failovers_total{${sentinel}}[${a.RedisFailover.window}])) > 0`,
      severity: 'warning',
      summary: 'Sentinel failed over master {{ $labels.master_name }}',
      description: `Sentinel promoted a new master for {{ $labels.master_name }} in {{ $labels.environment }}/{{ $labels.cluster }} within the last ${a.RedisFailover.window}. Check that the old master comes back as a replica and that clients followed.`,
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    RedisSentinelQuorumLost: {
      expr: `max by (environment, cluster, master_name) (redis_sentinel_master_ckquorum_status{${sentinel}}) == 0
or
max by (environment, cluster, master_name) (redscope_sentinel_quorum_reachable{${sentinel}}) == 0
or on (environment, cluster)
sum by (environment, cluster) (redis_up{${sentinel}}) < ${t.sentinelQuorum}`,
      severity: 'critical',
      summary: 'Sentinel quorum lost in {{ $labels.cluster }}',
      description: `Fewer than ${t.sentinelQuorum} Sentinels of {{ $labels.environment }}/{{ $labels.cluster }} can agree: a failing master would NOT be replaced. Restore Sentinels before anything else fails.`,
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    RedisSentinelDown: {
      expr: `redis_up{${sentinel}} == 0 or up{${sentinel}} == 0 or redscope_sentinel_up{${sentinel}} == 0`,
      severity: 'warning',
      summary: 'Sentinel {{ $labels.instance }} is down',
      description:
        'Sentinel {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} does not answer. The quorum still holds while enough others are up, but one more loss stops failover.',
      value: '{{ $value }}',
      dashboard: 'instance',
    },
    RedisClientSentinelsUnheard: {
      expr: `redscope_client_sentinel_subscriptions{${apps}} == 0`,
      severity: 'critical',
      summary: 'App {{ $labels.instance }} hears no Sentinel: its durable writes are refused',
      description:
        'The app {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} has lost its event subscription to every Sentinel. It cannot see a failover begin, so it refuses every durable write (sessions cannot be created or revoked) until it hears one again.',
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    RedisClientDurableWritesFenced: {
      expr: `redscope_client_durable_writes_fenced{${apps}} == 1`,
      severity: 'critical',
      summary: 'App {{ $labels.instance }} has refused durable writes for a minute',
      description:
        'The app {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} refuses every durable write: it hears fewer than a majority of the Sentinels, or a failover has not reached its connection. Sessions cannot be created or revoked.',
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    RedisReplicaLinkDown: {
      expr: `redis_master_link_up{${redis}} == 0`,
      severity: 'warning',
      summary: 'Replica {{ $labels.instance }} lost its link to the master',
      description:
        'Replica {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} is not connected to its master {{ $labels.master_host }}:{{ $labels.master_port }}. Reads it serves go stale, and with min-replicas-to-write the master may refuse writes.',
      value: '{{ $value }}',
      dashboard: 'instance',
    },
    RedisReplicationLagHigh: {
      expr: `redis_connected_slave_lag_seconds{${redis}} > ${a.RedisReplicationLagHigh.seconds}`,
      severity: 'warning',
      summary:
        'Replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} lags master {{ $labels.instance }}',
      description: `Master {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} last heard from replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} {{ $value | humanizeDuration }} ago (threshold ${a.RedisReplicationLagHigh.seconds}s). Reads from it are stale; a failover to it would lose writes.`,
      value: '{{ $value | humanizeDuration }}',
      dashboard: 'instance',
    },
    RedisMemoryNearMax: {
      expr: `${RECORDED.memoryRatio} > ${a.RedisMemoryNearMax.ratio}`,
      severity: 'warning',
      summary: 'Redis {{ $labels.instance }} memory is near maxmemory',
      description: `Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} uses {{ $value | humanizePercentage }} of maxmemory (threshold ${a.RedisMemoryNearMax.ratio * 100}%). At 100% it evicts keys or refuses writes, depending on maxmemory-policy.`,
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'instance',
    },
    RedisEvictions: {
      expr: `sum by (environment, cluster, instance) (rate(redis_evicted_keys_total{${redis}}[1m])) > ${a.RedisEvictions.perSecond}`,
      severity: 'warning',
      summary: 'Redis {{ $labels.instance }} is evicting keys',
      description:
        'Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} evicts {{ $value | humanize }} keys/s to stay under maxmemory. Evicted sessions log users out; evicted cache entries raise load on the database.',
      value: '{{ $value | humanize }} keys/s',
      dashboard: 'instance',
    },
    RedisRejectedConnections: {
      expr: `sum by (environment, cluster, instance) (increase(redis_rejected_connections_total{${redis}}[1m])) > ${a.RedisRejectedConnections.count}`,
      severity: 'warning',
      summary: 'Redis {{ $labels.instance }} rejects connections',
      description:
        'Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} rejected {{ $value | humanize }} connections in the last minute because it reached maxclients. Clients that cannot connect fail their requests.',
      value: '{{ $value | humanize }} in 1m',
      dashboard: 'instance',
    },
    RedisClientsNearMax: {
      expr: `${RECORDED.clientsRatio} > ${a.RedisClientsNearMax.ratio}`,
      severity: 'warning',
      summary: 'Redis {{ $labels.instance }} is near maxclients',
      description: `Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} has {{ $value | humanizePercentage }} of maxclients connected (threshold ${a.RedisClientsNearMax.ratio * 100}%). Above 100% new connections are rejected; look for a connection leak.`,
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'instance',
    },
    RedisHitRateLow: {
      expr: `${RECORDED.clusterHitRatio} < ${a.RedisHitRateLow.ratio}
and on (environment, cluster)
${RECORDED.clusterLookupsRate} > ${a.RedisHitRateLow.minLookupsPerSecond}`,
      severity: 'warning',
      summary: 'Cache hit rate of {{ $labels.cluster }} is low',
      description: `Only {{ $value | humanizePercentage }} of key lookups in {{ $labels.environment }}/{{ $labels.cluster }} hit (threshold ${a.RedisHitRateLow.ratio * 100}%). Misses go to the database: expect higher latency and database load.`,
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'overview',
    },
    RedisLatencyHigh: {
      expr: `${RECORDED.clientLatencyQuantile}{quantile="0.99"} > ${a.RedisLatencyHigh.seconds}`,
      severity: 'warning',
      summary: 'Client-side p99 Redis latency in {{ $labels.cluster }} is high',
      description: `Applications in {{ $labels.environment }}/{{ $labels.cluster }} see a p99 Redis command latency of {{ $value | humanizeDuration }} (target ${a.RedisLatencyHigh.seconds * 1000} ms), measured in the client including the network.`,
      value: '{{ $value | humanizeDuration }}',
      dashboard: 'overview',
    },
    RedisServerLatencyHigh: {
      expr: `${RECORDED.serverLatencyQuantile}{quantile="0.99"} > ${a.RedisServerLatencyHigh.seconds}`,
      severity: 'warning',
      summary: 'Server-side p99 latency of Redis {{ $labels.instance }} is high',
      description: `Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} takes {{ $value | humanizeDuration }} at p99 to run a command (target ${a.RedisServerLatencyHigh.seconds * 1000} ms), measured inside Redis: slow commands, big keys or a blocked event loop.`,
      value: '{{ $value | humanizeDuration }}',
      dashboard: 'instance',
    },
    RedisErrorRateHigh: {
      expr: `${RECORDED.clientErrorRatio} > ${a.RedisErrorRateHigh.ratio}`,
      severity: 'warning',
      summary: 'Redis command error rate in {{ $labels.cluster }} is high',
      description: `{{ $value | humanizePercentage }} of Redis commands sent by applications in {{ $labels.environment }}/{{ $labels.cluster }} fail (threshold ${a.RedisErrorRateHigh.ratio * 100}%). See the error_type breakdown on the dashboard.`,
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'overview',
    },
    RedisTLSCertificateExpiringSoon: {
      expr: `redscope_tls_certificate_expiry_timestamp_seconds{job=~"${t.jobs.redis}|${t.jobs.sentinel}"} - time() < ${a.RedisTLSCertificateExpiringSoon.days * DAY}`,
      severity: 'warning',
      summary: `TLS certificate {{ $labels.cn }} of {{ $labels.instance }} expires within ${a.RedisTLSCertificateExpiringSoon.days} days`,
      description:
        'The certificate {{ $labels.cn }} served by {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} expires in {{ $value | humanizeDuration }}. Renew it now, while there is time to roll it out node by node.',
      value: '{{ $value | humanizeDuration }}',
      dashboard: 'instance',
    },
    RedisTLSCertificateExpiryImminent: {
      expr: `redscope_tls_certificate_expiry_timestamp_seconds{job=~"${t.jobs.redis}|${t.jobs.sentinel}"} - time() < ${a.RedisTLSCertificateExpiryImminent.days * DAY}`,
      severity: 'critical',
      summary: `TLS certificate {{ $labels.cn }} of {{ $labels.instance }} expires within ${a.RedisTLSCertificateExpiryImminent.days} days`,
      description:
        'The certificate {{ $labels.cn }} served by {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} expires in {{ $value | humanizeDuration }}. When it does, every client, replica and Sentinel handshake with it fails.',
      value: '{{ $value | humanizeDuration }}',
      dashboard: 'instance',
    },
    RedisPersistenceFailing: {
      // AOF status only counts where AOF is on; a node without `save` never runs BGSAVE,
      // so its RDB status stays ok.
      expr: `redis_rdb_last_bgsave_status{${redis}} == 0
or
(
  (redis_aof_last_write_status{${redis}} == 0 or redis_aof_last_bgrewrite_status{${redis}} == 0)
  and on (environment, cluster, instance)
  redis_aof_enabled{${redis}} == 1
)`,
      severity: 'critical',
      summary: 'Redis {{ $labels.instance }} cannot persist to disk',
      description:
        'The last RDB save or AOF write/rewrite of Redis {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} failed. With stop-writes-on-bgsave-error Redis refuses writes; a restart would lose data.',
      value: '{{ $value }}',
      dashboard: 'instance',
    },
    RedscopeExporterScrapeErrors: {
      expr: `sum by (environment, cluster, instance, target) (rate(redscope_exporter_scrape_errors_total{${exporter}}[5m]))
/
(sum by (environment, cluster, instance, target) (rate(redscope_exporter_scrape_duration_seconds_count{${exporter}}[5m])) > 0)
> ${a.RedscopeExporterScrapeErrors.ratio}`,
      severity: 'warning',
      summary: 'redscope exporter {{ $labels.instance }} fails to scrape {{ $labels.target }}',
      description: `{{ $value | humanizePercentage }} of the scrapes of {{ $labels.target }} by exporter {{ $labels.instance }} in {{ $labels.environment }}/{{ $labels.cluster }} fail (threshold ${a.RedscopeExporterScrapeErrors.ratio * 100}%). The reason label of redscope_exporter_scrape_errors_total says why (refused, timeout, auth, tls, protocol).`,
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'overview',
    },
    RedisHotKey: {
      // The rate compared with the exported threshold rather than redscope_hotkey_over_threshold
      // == 1 (the same test, done by the exporter): so $value is the rate the notification
      // names. max, not sum: the reports live on the master, so two series of one key (two
      // exporters, or the old and the new master around a failover) are one count seen twice.
      expr: hotKeyOverThreshold('redscope_hotkey_rate_per_minute', redis),
      severity: 'warning',
      summary: 'Key {{ $labels.key }} is hot: {{ $value | humanize }} accesses/min',
      description:
        'Clients in {{ $labels.environment }}/{{ $labels.cluster }} access the key {{ $labels.key }} (name redacted) {{ $value | humanize }} times a minute, summed over every process that reports it: at or above the hot-key threshold the clients are configured with (hotKeys.thresholdPerMinute). One key lives on one Redis thread, one shard and one link, which it can saturate while the rest of the keyspace is idle.',
      value: '{{ $value | humanize }}/min',
      dashboard: 'overview',
    },
    RedisHotKeyNearCacheIneffective: {
      expr: hotKeyOverThreshold('redscope_hotkey_redis_rate_per_minute', redis),
      severity: 'warning',
      summary:
        'Hot key {{ $labels.key }} still reaches Redis {{ $value | humanize }} times a minute',
      description: `For ${a.RedisHotKeyNearCacheIneffective.for}, {{ $value | humanize }} accesses a minute to the hot key {{ $labels.key }} (name redacted) in {{ $labels.environment }}/{{ $labels.cluster }} have reached Redis instead of a client near-cache: still at or above the hot-key threshold. The near-cache is off (hotKeys.nearCache.enabled), not tracking, or the key is hot on writes, which no near-cache absorbs.`,
      value: '{{ $value | humanize }}/min',
      dashboard: 'overview',
    },
    RedisCacheWarmingFailed: {
      // $value is how far the run got (the progress ratio), not the state's 1.
      expr: `${warmingRun('redscope_warming_progress_ratio', redis)}
and on (${WARMING_RUN})
${warmingRun('redscope_warming_state', `${redis}, state="failed"`)} == 1`,
      severity: 'warning',
      summary:
        'Cache warming of {{ $labels.namespace }} on {{ $labels.instance_id }} failed at {{ $value | humanizePercentage }}',
      description:
        'The warming run of the namespace {{ $labels.namespace }} by the app instance {{ $labels.instance_id }} in {{ $labels.environment }}/{{ $labels.cluster }} ended in failed after {{ $value | humanizePercentage }} of its plan. The keys it did not warm miss until live traffic fills them, and every miss loads from the source of truth. The reason field of its status record (kept 10 minutes) and the redis.warming_finished log line say why.',
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'overview',
    },
    RedisCacheWarmingStalled: {
      // Progress, not redscope_warming_last_update_age_seconds: the app rewrites its record
      // every progressEveryMs whether or not a key moved, and a record it stops rewriting
      // expires after 3 updates, so the age never grows past seconds (thresholds.yaml).
      // The run must be as old as the window, or a run's first samples (all 0) would fire.
      expr: `${warmingRun('redscope_warming_progress_ratio', redis)}
and on (${WARMING_RUN})
${warmingRun('redscope_warming_state', `${redis}, state="running"`)} == 1
and on (${WARMING_RUN})
${warmingRun('redscope_warming_duration_seconds', redis)} >= ${a.RedisCacheWarmingStalled.seconds}
unless on (${WARMING_RUN})
max by (${WARMING_RUN}) (changes(redscope_warming_progress_ratio{${redis}}[${a.RedisCacheWarmingStalled.seconds}s])) > 0`,
      severity: 'warning',
      summary:
        'Cache warming of {{ $labels.namespace }} on {{ $labels.instance_id }} is stuck at {{ $value | humanizePercentage }}',
      description: `For ${a.RedisCacheWarmingStalled.seconds}s, the warming run of the namespace {{ $labels.namespace }} by the app instance {{ $labels.instance_id }} in {{ $labels.environment }}/{{ $labels.cluster }} has stayed running at {{ $value | humanizePercentage }} of its plan without warming or skipping one key, while the app still updates its status record. Its loader or source Redis hangs or fails every retry, or its rate limit has backed off to nothing because live latency or errors stay high; meanwhile the cache stays cold.`,
      value: '{{ $value | humanizePercentage }}',
      dashboard: 'overview',
    },
    ...clusterSpecs(t),
  };
}

/** The labels that name one shard of one Redis Cluster deployment. */
const SHARD = 'environment, cluster, shard';

/**
 * Redis Cluster alerts. Every node reports CLUSTER INFO and its own view of every shard
 * (redscope_cluster_*), so the shard alerts aggregate the views per shard. The Sentinel
 * alerts above need no guard for a cluster: they read redis_sentinel_* / redscope_sentinel_*
 * (which cluster nodes do not export) or per-node facts that hold on a cluster too (a
 * master exists, a replica's link is up); prometheus/tests/cluster.test.yml proves that a
 * healthy cluster fires nothing.
 */
function clusterSpecs(t: Thresholds) {
  const a = t.alerts;
  const redis = jobMatcher(t.jobs.redis);
  const where = '{{ $labels.environment }}/{{ $labels.cluster }}';
  const failing = `redscope_cluster_shard_master_failing{${redis}}`;
  return {
    RedisClusterStateNotOk: {
      expr: `redis_cluster_state{${redis}} == 0`,
      severity: 'critical',
      summary: 'Redis Cluster node {{ $labels.instance }} reports cluster_state fail',
      description: `Node {{ $labels.instance }} of the Redis Cluster ${where} has reported cluster_state:fail for ${a.RedisClusterStateNotOk.for}: it answers CLUSTERDOWN to every command. Some hash slots have no working master (see RedisClusterSlotsFailing and RedisClusterShardMasterDown), or this node is cut off from the majority of masters.`,
      value: '{{ $value }}',
      dashboard: 'overview',
    },
    // Two alerts, not one whose severity depends on the condition: FAIL is the majority's
    // verdict and stops the cluster (a page), PFAIL one node's suspicion that every real
    // failure passes through for a second (a warning, after a minute). Each needs its own
    // \`for\`, route and runbook, which Prometheus and Alertmanager key on the alert name.
    RedisClusterSlotsFailing: {
      expr: `max by (environment, cluster) (redis_cluster_slots_fail{${redis}}) > 0
or
${CLUSTER_SLOTS} - min by (environment, cluster) (redis_cluster_slots_assigned{${redis}}) > 0`,
      severity: 'critical',
      summary:
        '{{ $value }} hash slots of Redis Cluster {{ $labels.cluster }} have no working master',
      description: `In the Redis Cluster ${where}, {{ $value }} of the ${CLUSTER_SLOTS} hash slots are served by a master the cluster has voted FAIL, or by no master at all, for ${a.RedisClusterSlotsFailing.for}. Keys in those slots cannot be read or written; with cluster-require-full-coverage yes every node refuses every command (CLUSTERDOWN).`,
      value: '{{ $value }} slots',
      dashboard: 'overview',
    },
    RedisClusterSlotsPFail: {
      expr: `max by (environment, cluster) (redis_cluster_slots_pfail{${redis}}) > 0`,
      severity: 'warning',
      summary:
        '{{ $value }} hash slots of Redis Cluster {{ $labels.cluster }} are suspected failing',
      description: `For ${a.RedisClusterSlotsPFail.for}, some node of the Redis Cluster ${where} has suspected (PFAIL) the master of {{ $value }} hash slots without a majority confirming it: a partial network partition or a master that stalls for about the node timeout. Clients that reach the master are served; a second fault can turn it into a failover.`,
      value: '{{ $value }} slots',
      dashboard: 'overview',
    },
    // More than half of the reporting nodes, not any one (max): a node cut off from one
    // master alone flags it PFAIL forever, which is RedisClusterSlotsPFail (a warning),
    // not a dead master. A dead master is flagged by every node within the node timeout.
    RedisClusterShardMasterDown: {
      expr: `sum by (${SHARD}) (${failing})
> on (${SHARD})
(count by (${SHARD}) (${failing}) / 2)`,
      severity: 'critical',
      summary:
        'The master of shard {{ $labels.shard }} of Redis Cluster {{ $labels.cluster }} is down',
      description: `{{ $value }} nodes of the Redis Cluster ${where} (more than half of those reporting) have flagged the master of shard {{ $labels.shard }} (the shard whose lowest hash slot is {{ $labels.shard }}) as failing for ${a.RedisClusterShardMasterDown.for}, longer than a failover takes: no replica has taken over. Its slots refuse every command, and so does the whole cluster while cluster-require-full-coverage is yes.`,
      value: '{{ $value }} nodes',
      dashboard: 'overview',
    },
    RedisClusterShardWithoutReplica: {
      expr: `min by (${SHARD}) (redscope_cluster_shard_replicas{${redis}}) < 1`,
      severity: 'warning',
      summary:
        'Shard {{ $labels.shard }} of Redis Cluster {{ $labels.cluster }} has no healthy replica',
      description: `For ${a.RedisClusterShardWithoutReplica.for}, some node of the Redis Cluster ${where} has seen no connected, healthy replica of shard {{ $labels.shard }}. If its master fails now, no replica can take over and the shard's slots (with full coverage required, the whole cluster) go down. Usual cause: a failover promoted the only replica and the old master has not rejoined.`,
      value: '{{ $value }} replicas',
      dashboard: 'overview',
    },
    // Distinct node ids that served the shard as master within the window: a promoted
    // replica is a new id, a restarted master keeps its id (nodes.conf). max_over_time
    // keeps the old master's series, which went stale when its role changed or it died.
    // Masters without slots (shard="") are not shards.
    RedisClusterFailover: {
      expr: `count by (${SHARD}) (
  max by (${SHARD}, node_id) (
    max_over_time(redscope_cluster_node_info{${redis}, role="master", shard!=""}[${a.RedisClusterFailover.window}])
  )
) > 1`,
      severity: 'warning',
      summary: 'Shard {{ $labels.shard }} of Redis Cluster {{ $labels.cluster }} failed over',
      description: `Shard {{ $labels.shard }} of the Redis Cluster ${where} was served by {{ $value }} different master nodes within the last ${a.RedisClusterFailover.window}: a replica was promoted (automatic failover or CLUSTER FAILOVER). Check that the old master rejoined as a replica and that clients followed the new slot map.`,
      value: '{{ $value }} masters',
      dashboard: 'overview',
    },
  } satisfies Partial<Record<AlertName, AlertSpec>>;
}

/** The labels of one warming run: the exporter's instance_id is the app instance, not the Redis target. */
const WARMING_RUN = 'environment, cluster, instance_id, namespace';

/**
 * A warming gauge per run. max, not sum, over targets: the status records live on the
 * master, so two series of one run (two exporters, or the old and the new master around a
 * failover) are one record seen twice.
 */
function warmingRun(metric: string, selector: string): string {
  return `max by (${WARMING_RUN}) (${metric}{${selector}})`;
}

/**
 * Keys whose fleet-wide `metric` (a per-key rate gauge of the exporter) is at or above the
 * threshold the clients report. The threshold is the clients' (hotKeys.thresholdPerMinute),
 * not a copy in thresholds.yaml, so alert, dashboard and `redscope hotkeys` agree on which
 * keys are hot; min over targets like the exporter's own min over reports.
 */
function hotKeyOverThreshold(metric: string, selector: string): string {
  return `max by (environment, cluster, key) (${metric}{${selector}})
>= on (environment, cluster) group_left
min by (environment, cluster) (redscope_hotkey_threshold_per_minute{${selector}})`;
}

/** The alert rules, generated from the thresholds; names are the runbooks' file names. */
export function alertGroups(t: Thresholds): RuleGroup<AlertRule>[] {
  const rules = Object.entries(specs(t)).map(([name, spec]): AlertRule => {
    const timing = t.alerts[name as AlertName];
    const keep = timing.keepFiringFor ?? t.defaultKeepFiringFor;
    return {
      alert: name,
      expr: spec.expr,
      for: timing.for,
      ...(keep === '0s' ? {} : { keep_firing_for: keep }),
      labels: { severity: spec.severity },
      annotations: {
        summary: spec.summary,
        description: spec.description,
        value: spec.value,
        runbook_url: runbookUrl(t, name),
        dashboard_url: dashboardUrl(t, spec.dashboard),
      },
    };
  });
  // The alerts that say a node or the exporter is gone, or that a failover happened, read
  // raw series with no `for:`: evaluated every second, the time to the page loses most of
  // the evaluation interval (up to 5 s) for the price of three cheap expressions a second
  // (`npm run bench -- alert-latency`).
  const fast = rules.filter((r) => FAST_PATH.has(r.alert));
  return [
    { name: 'redscope-availability', interval: '1s', rules: fast },
    {
      name: 'redscope-alerts',
      interval: '5s',
      rules: rules.filter((r) => !FAST_PATH.has(r.alert)),
    },
  ];
}

/** Alerts evaluated every second (see alertGroups). */
const FAST_PATH: ReadonlySet<string> = new Set([
  'RedisDown',
  'RedscopeExporterDown',
  'RedisFailover',
]);
