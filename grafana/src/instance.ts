import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { QUANTILES, RECORDED } from '../../bundle/series.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { redscopeDashboard } from './dashboard-base.js';
import { alertList, percentile, row, singleStat, timeSeries } from './panels.js';
import { selectors } from './selectors.js';

/** Bump when the generated JSON changes (a test fails if the content changes without it). */
export const INSTANCE_VERSION = 3;

/** One Redis node in detail; alert dashboard_url links land here with the instance set. */
export function instanceDashboard(t: Thresholds): DashboardBuilder {
  const s = selectors(t.jobs);
  const a = t.alerts;
  const { uid, title } = DASHBOARDS.instance;
  const rate = '[$__rate_interval]';

  return redscopeDashboard(
    {
      uid,
      title,
      version: INSTANCE_VERSION,
      description:
        'One Redis node in detail: commands, latency per command, memory, clients, replication, persistence.',
      multiInstance: false,
    },
    t,
  )

    .withRow(row('State'))
    .withPanel(
      singleStat({
        title: 'Up',
        description: 'redis_up: 1 when the exporter reached this node on its last scrape.',
        unit: 'none',
        redBelow: 1,
        queries: [{ expr: `max(redis_up${s.redis()})`, legend: 'up' }],
      }),
    )
    .withPanel(
      singleStat({
        title: 'Is master',
        description: '1 when this node reports role master, 0 for a replica.',
        unit: 'none',
        queries: [
          {
            expr: `count(redis_instance_info${s.redis('role="master"')}) or vector(0)`,
            legend: 'master',
          },
        ],
      }),
    )
    .withPanel(
      singleStat({
        title: 'Uptime',
        description: 'Seconds since this Redis process started; a reset means a restart.',
        unit: 's',
        queries: [{ expr: `max(redis_uptime_in_seconds${s.redis()})`, legend: 'uptime' }],
      }),
    )
    .withPanel(
      singleStat({
        title: 'Memory used / max',
        description: `used_memory over maxmemory. Alert above ${a.RedisMemoryNearMax.ratio * 100}%.`,
        unit: 'percentunit',
        redAbove: a.RedisMemoryNearMax.ratio,
        queries: [
          {
            expr: `${RECORDED.memoryRatio}${s.recorded()}`,
            legend: 'memory',
          },
        ],
      }),
    )
    .withPanel(
      singleStat({
        title: 'Connected clients',
        description: 'Client connections, replicas and Sentinels included.',
        unit: 'short',
        queries: [{ expr: `sum(redis_connected_clients${s.redis()})`, legend: 'clients' }],
      }),
    )
    .withPanel(
      singleStat({
        title: 'Certificate time left',
        description: `Until this node's TLS certificate expires. Warning at ${a.RedisTLSCertificateExpiringSoon.days} days.`,
        unit: 's',
        redBelow: a.RedisTLSCertificateExpiringSoon.days * 86_400,
        queries: [
          {
            expr: `min(redscope_tls_certificate_expiry_timestamp_seconds${s.redis()}) - time()`,
            legend: 'time left',
          },
        ],
      }),
    )
    .withPanel(
      alertList(
        'Alerts on this instance',
        'Firing and pending alerts whose instance label is this node.',
        '{environment=~"$environment", instance=~"$instance"}',
      ),
    )

    .withRow(row('Commands'))
    .withPanel(
      timeSeries({
        title: 'Calls per command',
        description: 'Calls per second by command (INFO commandstats).',
        unit: 'ops',
        width: 12,
        queries: [
          {
            expr: `topk(15, sum by (cmd) (${RECORDED.instanceCmdRate}${s.recorded()}))`,
            legend: '{{cmd}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Mean time per command',
        description: 'Server time per call by command (usec_per_call): spots the expensive ones.',
        unit: 's',
        width: 12,
        queries: [
          {
            expr: `topk(15, ${RECORDED.instanceCmdMeanLatency}${s.recorded()})`,
            legend: '{{cmd}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Server latency p50 / p95 / p99',
        description: `Command execution time inside this node (LATENCY HISTOGRAM). Alert: p99 above ${a.RedisServerLatencyHigh.seconds * 1000} ms.`,
        unit: 's',
        width: 12,
        redAbove: a.RedisServerLatencyHigh.seconds,
        queries: QUANTILES.map((q) => ({
          expr: `${RECORDED.serverLatencyQuantile}${s.recorded(`quantile="${q}"`)}`,
          legend: percentile(q),
        })),
      }),
    )
    .withPanel(
      timeSeries({
        title: 'p99 latency per command',
        description: 'Server-side p99 by command: which command is slow.',
        unit: 's',
        width: 12,
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (cmd, le) (rate(redscope_redis_command_latency_seconds_bucket${s.redis()}${rate})))`,
            legend: '{{cmd}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Keyspace hits and misses',
        description: 'Lookups that found their key (hits) or not (misses), per second.',
        unit: 'ops',
        queries: [
          { expr: `sum(rate(redis_keyspace_hits_total${s.redis()}${rate}))`, legend: 'hits' },
          { expr: `sum(rate(redis_keyspace_misses_total${s.redis()}${rate}))`, legend: 'misses' },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Expired and evicted keys',
        description: 'Keys removed by TTL (expired) and by maxmemory (evicted), per second.',
        unit: 'ops',
        queries: [
          { expr: `sum(rate(redis_expired_keys_total${s.redis()}${rate}))`, legend: 'expired' },
          { expr: `sum(rate(redis_evicted_keys_total${s.redis()}${rate}))`, legend: 'evicted' },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Slow log',
        description: 'Entries in the slow log (commands slower than slowlog-log-slower-than).',
        unit: 'short',
        queries: [{ expr: `max(redis_slowlog_length${s.redis()})`, legend: 'slowlog length' }],
      }),
    )

    .withRow(row('Memory and clients'))
    .withPanel(
      timeSeries({
        title: 'Memory',
        description:
          'used_memory, RSS and maxmemory in bytes. RSS far above used means fragmentation.',
        unit: 'bytes',
        queries: [
          { expr: `sum(redis_memory_used_bytes${s.redis()})`, legend: 'used' },
          { expr: `sum(redis_memory_used_rss_bytes${s.redis()})`, legend: 'rss' },
          { expr: `sum(redis_memory_max_bytes${s.redis()})`, legend: 'maxmemory' },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Clients',
        description: 'Connected and blocked clients, and maxclients.',
        unit: 'short',
        queries: [
          { expr: `sum(redis_connected_clients${s.redis()})`, legend: 'connected' },
          { expr: `sum(redis_blocked_clients${s.redis()})`, legend: 'blocked' },
          { expr: `sum(redis_config_maxclients${s.redis()})`, legend: 'maxclients' },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Clients by name',
        description: 'Connections per CLIENT SETNAME name (capped list): which app holds them.',
        unit: 'short',
        queries: [
          {
            expr: `sum by (client_name) (redscope_redis_clients_by_name${s.redis()})`,
            legend: '{{client_name}}',
          },
        ],
      }),
    )

    .withRow(row('Replication and persistence'))
    .withPanel(
      timeSeries({
        title: 'Replica lag (as master)',
        description: `Seconds since each replica of this node last acknowledged. Alert above ${a.RedisReplicationLagHigh.seconds} s.`,
        unit: 's',
        redAbove: a.RedisReplicationLagHigh.seconds,
        queries: [
          {
            expr: `max by (slave_ip, slave_port) (redis_connected_slave_lag_seconds${s.redis()})`,
            legend: '{{slave_ip}}:{{slave_port}}',
          },
        ],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Link to master (as replica)',
        description: 'master_link_status of this node when it is a replica: 1 linked, 0 down.',
        unit: 'none',
        min: 0,
        max: 1,
        queries: [{ expr: `min(redis_master_link_up${s.redis()})`, legend: 'link up' }],
      }),
    )
    .withPanel(
      timeSeries({
        title: 'Persistence',
        description:
          'Last RDB save and AOF write status (1 ok, 0 failed) and changes since the last save.',
        unit: 'short',
        queries: [
          { expr: `min(redis_rdb_last_bgsave_status${s.redis()})`, legend: 'rdb ok' },
          { expr: `min(redis_aof_last_write_status${s.redis()})`, legend: 'aof ok' },
          {
            expr: `max(redis_rdb_changes_since_last_save${s.redis()})`,
            legend: 'changes since save',
          },
        ],
      }),
    );
}
