import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { QUANTILES, RECORDED } from '../../bundle/series.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { redscopeDashboard } from './dashboard-base.js';
import { clusterPanels } from './overview-cluster.js';
import { hotKeyPanels } from './overview-hot-keys.js';
import { warmingPanels } from './overview-warming.js';
import { alertList, percentile, row, singleStat, timeSeries } from './panels.js';
import { selectors } from './selectors.js';

/** Bump when the generated JSON changes (a test fails if the content changes without it). */
export const OVERVIEW_VERSION = 6;

export function overviewDashboard(t: Thresholds): DashboardBuilder {
  const s = selectors(t.jobs);
  const a = t.alerts;
  // New rows come last, so the panels above keep their ids: links and Grafana's state key on them.
  const hot = hotKeyPanels(t, s);
  const warming = warmingPanels(t, s);
  const cluster = clusterPanels(t, s);
  const { uid, title } = DASHBOARDS.overview;
  const rate = '[$__rate_interval]';

  return redscopeDashboard(
    {
      uid,
      title,
      version: OVERVIEW_VERSION,
      description:
        'Health of a Redis HA deployment watched by redscope (Sentinel or Redis Cluster): cache, traffic, latency, errors, connections, memory, replication, Sentinel, hot keys, cache warming and the Redis Cluster view (state, slots, shards).',
      multiInstance: true,
    },
    t,
  )

    .withRow(row('Now'))
    .withPanel(
      singleStat({
        title: 'Redis nodes up',
        description:
          'Data nodes the exporter reaches (redis_up). Fewer than expected: see the RedisDown alert.',
        unit: 'none',
        queries: [{ expr: `sum(redis_up${s.redis()})`, legend: 'up' }],
      }),
    )
    .withPanel(
      singleStat({
        title: 'Masters',
        description:
          'Reachable nodes that report role master: 1 per Sentinel deployment, one per shard on a Redis Cluster. 0 is wrong.',
        unit: 'none',
        queries: [
          { expr: `count(redis_instance_info${s.redis('role="master"')})`, legend: 'masters' },
        ],
        redBelow: 1,
      }),
    )
    .withPanel(
      singleStat({
        title: 'Sentinels up',
        description: `Sentinels that answer. Below the quorum (${t.sentinelQuorum}) no failover can happen.`,
        unit: 'none',
        queries: [{ expr: `sum(redis_up${s.sentinel()})`, legend: 'sentinels' }],
        redBelow: t.sentinelQuorum,
      }),
    )
    .withPanel(
      singleStat({
        title: 'Failovers in range',
        description:
          'Sentinel failovers (config epoch changes) in the selected time range. Each one cost a few seconds of write unavailability.',
        unit: 'none',
        queries: [
          {
            expr: `max(changes(redscope_sentinel_config_epoch${s.sentinel()}[$__range]))`,
            legend: 'failovers',
          },
        ],
        redAbove: 1,
      }),
    )
    .withPanel(
      singleStat({
        title: 'Cache hit rate',
        description: `Keyspace hits per lookup of each cluster, the series the RedisHitRateLow alert reads: it alerts below ${a.RedisHitRateLow.ratio * 100}% while there are more than ${a.RedisHitRateLow.minLookupsPerSecond} lookups/s. Whole clusters: the instance selection does not apply.`,
        unit: 'percentunit',
        queries: [
          {
            expr: `${RECORDED.clusterHitRatio}${s.clusterRecorded()}`,
            legend: '{{cluster}}',
          },
        ],
        redBelow: a.RedisHitRateLow.ratio,
      }),
    )
    .withPanel(
      singleStat({
        title: 'Client p99 latency',
        description: `p99 of Redis commands measured in the applications, per cluster. Target and alert: ${a.RedisLatencyHigh.seconds * 1000} ms.`,
        unit: 's',
        queries: [
          {
            expr: `${RECORDED.clientLatencyQuantile}${s.clusterRecorded('quantile="0.99"')}`,
            legend: '{{cluster}}',
          },
        ],
        redAbove: a.RedisLatencyHigh.seconds,
      }),
    )
    .withPanel(
      alertList(
        'Firing and pending alerts',
        'Alerts from the Prometheus rules of this environment; each links to its runbook through its runbook_url annotation.',
        '{environment=~"$environment"}',
      ),
    )

    .withRow(row('Cache and traffic'))
    .withPanel(
      timeSeries({
        title: 'Cache hit rate by instance',
        description: `Keyspace hits / (hits + misses) per node. The cluster-wide rate alerts below ${a.RedisHitRateLow.ratio * 100}%.`,
        unit: 'percentunit',
        min: 0,
        max: 1,
        redBelow: a.RedisHitRateLow.ratio,
        queries: [
          {
            expr: `${RECORDED.instanceHitRatio}${s.recorded()}`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Operations per second',
        description: 'Commands processed per second by each node (INFO stats).',
        unit: 'ops',
        queries: [
          {
            expr: `${RECORDED.instanceOpsRate}${s.recorded()}`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Top commands',
        description: 'The ten busiest commands across the selected nodes (INFO commandstats).',
        unit: 'ops',
        queries: [
          {
            expr: `topk(10, sum by (cmd) (${RECORDED.instanceCmdRate}${s.recorded()}))`,
            legend: '{{cmd}}',
          },
        ],
      }),
    )

    .withRow(row('Latency'))
    .withPanel(
      timeSeries({
        title: 'Client-side latency p50 / p95 / p99',
        description: `Command duration seen by applications through redscope/client, network included, per cluster. Alert: p99 above ${a.RedisLatencyHigh.seconds * 1000} ms.`,
        unit: 's',
        width: 12,
        redAbove: a.RedisLatencyHigh.seconds,
        queries: QUANTILES.map((q) => ({
          expr: `${RECORDED.clientLatencyQuantile}${s.clusterRecorded(`quantile="${q}"`)}`,
          legend: `{{cluster}} ${percentile(q)}`,
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Server-side latency p50 / p95 / p99',
        description: `Command execution time inside Redis (LATENCY HISTOGRAM), all commands, on the slowest selected node at each quantile. Alert: p99 above ${a.RedisServerLatencyHigh.seconds * 1000} ms on a node, so the p99 line crosses the threshold when some node does.`,
        unit: 's',
        width: 12,
        redAbove: a.RedisServerLatencyHigh.seconds,
        queries: QUANTILES.map((q) => ({
          expr: `max(${RECORDED.serverLatencyQuantile}${s.recorded(`quantile="${q}"`)})`,
          legend: percentile(q),
        })),
      }),
    )

    .withRow(row('Errors'))
    .withPanel(
      timeSeries({
        title: 'Client error rate',
        description: `Share of client commands that failed, per cluster. Alert above ${a.RedisErrorRateHigh.ratio * 100}%.`,
        unit: 'percentunit',
        redAbove: a.RedisErrorRateHigh.ratio,
        queries: [
          {
            expr: `${RECORDED.clientErrorRatio}${s.clusterRecorded()}`,
            legend: '{{cluster}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Client errors by type',
        description:
          'Failed client commands per second by error_type (connection, timeout, READONLY, NOREPLICAS, OOM...): the first hint at the cause.',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (error_type) (rate(redscope_client_command_errors_total${s.apps()}${rate}))`,
            legend: '{{error_type}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Server failed and rejected calls',
        description:
          'Calls that failed while running or were rejected before running, per node (INFO commandstats).',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (instance) (rate(redis_commands_failed_calls_total${s.redis()}${rate}))`,
            legend: '{{instance}} failed',
          },
          {
            expr: `sum by (instance) (rate(redis_commands_rejected_calls_total${s.redis()}${rate}))`,
            legend: '{{instance}} rejected',
          },
        ],
      }),
    )

    .withRow(row('Connections'))
    .withPanel(
      timeSeries({
        title: 'Connected clients / maxclients',
        description: `Share of maxclients in use per node. Alert above ${a.RedisClientsNearMax.ratio * 100}%; at 100% connections are rejected.`,
        unit: 'percentunit',
        redAbove: a.RedisClientsNearMax.ratio,
        queries: [
          {
            expr: `${RECORDED.clientsRatio}${s.recorded()}`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Rejected connections',
        description: 'Connections refused because maxclients was reached, per second.',
        unit: 'ops',
        redAbove: 0,
        queries: [
          {
            expr: `sum by (instance) (rate(redis_rejected_connections_total${s.redis()}${rate}))`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Client connections and reconnects',
        description:
          'Applications whose writer/reader connection is up, and reconnects per second. Reconnect spikes follow failovers.',
        unit: 'short',
        queries: [
          {
            expr: `sum by (role) (redscope_client_connection_up${s.apps()})`,
            legend: 'up {{role}}',
          },
          {
            expr: `sum by (role) (rate(redscope_client_reconnects_total${s.apps()}${rate}))`,
            legend: 'reconnects/s {{role}}',
          },
        ],
      }),
    )

    .withRow(row('Memory'))
    .withPanel(
      timeSeries({
        title: 'Memory used / maxmemory',
        description: `used_memory over maxmemory per node (nodes without maxmemory are not shown). Alert above ${a.RedisMemoryNearMax.ratio * 100}%.`,
        unit: 'percentunit',
        redAbove: a.RedisMemoryNearMax.ratio,
        queries: [
          {
            expr: `${RECORDED.memoryRatio}${s.recorded()}`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Memory used',
        description: 'used_memory per node, bytes.',
        unit: 'bytes',
        queries: [
          {
            expr: `sum by (instance) (redis_memory_used_bytes${s.redis()})`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Evicted keys',
        description: 'Keys evicted per second to stay under maxmemory. Any eviction alerts.',
        unit: 'ops',
        redAbove: a.RedisEvictions.perSecond,
        queries: [
          {
            expr: `sum by (instance) (rate(redis_evicted_keys_total${s.redis()}${rate}))`,
            legend: '{{instance}}',
          },
        ],
      }),
    )

    .withRow(row('Replication and Sentinel'))
    .withPanel(
      timeSeries({
        title: 'Replication lag',
        description: `Seconds since each replica last acknowledged its master. Alert above ${a.RedisReplicationLagHigh.seconds} s.`,
        unit: 's',
        redAbove: a.RedisReplicationLagHigh.seconds,
        queries: [
          {
            expr: `max by (instance, slave_ip, slave_port) (redis_connected_slave_lag_seconds${s.redis()})`,
            legend: '{{instance}} -> {{slave_ip}}:{{slave_port}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Replica link up',
        description: 'master_link_status per replica: 1 linked, 0 down.',
        unit: 'none',
        min: 0,
        max: 1,
        queries: [
          { expr: `min by (instance) (redis_master_link_up${s.redis()})`, legend: '{{instance}}' },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Sentinel view of the master',
        description:
          'Per Sentinel: master status ok (1) or down (0), and whether the quorum is reachable (CKQUORUM).',
        unit: 'none',
        min: 0,
        max: 1,
        queries: [
          {
            expr: `max by (instance, master_name) (redis_sentinel_master_status${s.sentinel()})`,
            legend: '{{instance}} master ok',
          },
          {
            expr: `max by (instance, master_name) (redis_sentinel_master_ckquorum_status${s.sentinel()})`,
            legend: '{{instance}} quorum ok',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Failovers',
        description:
          'Sentinel config epoch changes (one per failover) and failovers in progress, per master.',
        unit: 'none',
        queries: [
          {
            expr: `max by (master_name) (changes(redscope_sentinel_config_epoch${s.sentinel()}${rate}))`,
            legend: '{{master_name}} failovers',
          },
          {
            expr: `max by (master_name) (redscope_sentinel_failover_in_progress${s.sentinel()})`,
            legend: '{{master_name}} in progress',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'TLS certificate time left',
        description: `Time until each node's certificate expires. Warning at ${a.RedisTLSCertificateExpiringSoon.days} days, page at ${a.RedisTLSCertificateExpiryImminent.days}.`,
        unit: 's',
        redBelow: a.RedisTLSCertificateExpiringSoon.days * 86_400,
        queries: [
          {
            expr: `min by (instance, cn) (redscope_tls_certificate_expiry_timestamp_seconds${s.redis()}) - time()`,
            legend: '{{instance}} {{cn}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Persistence status',
        description:
          'Last RDB save and AOF write status per node: 1 ok, 0 failed (Redis then refuses writes).',
        unit: 'none',
        min: 0,
        max: 1,
        queries: [
          {
            expr: `min by (instance) (redis_rdb_last_bgsave_status${s.redis()})`,
            legend: '{{instance}} rdb',
          },
          {
            expr: `min by (instance) (redis_aof_last_write_status${s.redis()})`,
            legend: '{{instance}} aof',
          },
        ],
      }),
    )

    .withRow(row('Hot keys'))
    .withPanel(hot.keysOverThreshold)
    .withPanel(hot.topKeys)
    .withPanel(hot.rate)
    .withPanel(hot.redisRate)
    .withPanel(hot.nearCacheHitRatio)

    .withRow(row('Cache warming'))
    .withPanel(warming.timeline)
    .withPanel(warming.runs)
    .withPanel(warming.progress)
    .withPanel(warming.hitRate)
    .withPanel(warming.keysWarmed)
    .withPanel(warming.throughput)

    .withRow(row('Redis Cluster'))
    .withPanel(cluster.state)
    .withPanel(cluster.slotsFailing)
    .withPanel(cluster.mastersDown)
    .withPanel(cluster.withoutReplica)
    .withPanel(cluster.failovers)
    .withPanel(cluster.size)
    .withPanel(cluster.slots)
    .withPanel(cluster.opsPerShard)
    .withPanel(cluster.memoryPerShard)
    .withPanel(cluster.replicas)
    .withPanel(cluster.masterFailing)
    .withPanel(cluster.masters)
    .withPanel(cluster.shardMap);
}
