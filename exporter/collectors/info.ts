import { compatFamily, type FamilySpec, type MetricType } from '../exposition.js';
import { numeric } from '../info-parser.js';
import { type Collector, INFO_ALL } from './types.js';

/** How one INFO field becomes a sample: redis_exporter 1.45's name and type for it. */
interface FieldRule {
  readonly field: string;
  readonly metric: string;
  readonly type: MetricType;
  /** Multiplier to base units (latest_fork_usec -> seconds). */
  readonly scale?: number;
}

const g = (field: string, metric = field, scale?: number): FieldRule => ({
  field,
  metric,
  type: 'gauge',
  ...(scale ? { scale } : {}),
});
const c = (field: string, metric = field): FieldRule => ({ field, metric, type: 'counter' });

// The table mirrors what redis_exporter 1.45 emits for a Redis 7 master, replica
// and Sentinel (checked by test/exporter/compatibility.int.test.ts), including
// its odd choices (`migrate_cached_sockets_total` is a gauge there, so here too).
const RULES: readonly FieldRule[] = [
  // Server
  g('uptime_in_seconds'),
  g('process_id'),
  g('io_threads_active'),
  // Clients
  g('connected_clients'),
  g('blocked_clients'),
  g('tracking_clients'),
  g('clients_in_timeout_table'),
  g('cluster_connections'),
  g('client_recent_max_output_buffer', 'client_recent_max_output_buffer_bytes'),
  g('client_recent_max_input_buffer', 'client_recent_max_input_buffer_bytes'),
  // Memory
  g('allocator_active', 'allocator_active_bytes'),
  g('allocator_allocated', 'allocator_allocated_bytes'),
  g('allocator_resident', 'allocator_resident_bytes'),
  g('allocator_frag_ratio'),
  g('allocator_frag_bytes'),
  g('allocator_rss_ratio'),
  g('allocator_rss_bytes'),
  g('used_memory', 'memory_used_bytes'),
  g('used_memory_rss', 'memory_used_rss_bytes'),
  g('used_memory_peak', 'memory_used_peak_bytes'),
  g('used_memory_lua', 'memory_used_lua_bytes'),
  g('used_memory_overhead', 'memory_used_overhead_bytes'),
  g('used_memory_startup', 'memory_used_startup_bytes'),
  g('used_memory_dataset', 'memory_used_dataset_bytes'),
  g('used_memory_scripts', 'memory_used_scripts_bytes'),
  g('maxmemory', 'memory_max_bytes'),
  g('number_of_cached_scripts'),
  g('mem_fragmentation_ratio'),
  g('mem_fragmentation_bytes'),
  g('mem_clients_slaves'),
  g('mem_clients_normal'),
  g('mem_not_counted_for_evict', 'mem_not_counted_for_eviction_bytes'),
  g('lazyfree_pending_objects'),
  g('active_defrag_running'),
  // Persistence
  g('loading', 'loading_dump_file'),
  g('rdb_changes_since_last_save'),
  g('rdb_bgsave_in_progress'),
  g('rdb_last_save_time', 'rdb_last_save_timestamp_seconds'),
  g('rdb_last_bgsave_status'),
  g('rdb_last_bgsave_time_sec', 'rdb_last_bgsave_duration_sec'),
  g('rdb_current_bgsave_time_sec', 'rdb_current_bgsave_duration_sec'),
  g('rdb_last_cow_size', 'rdb_last_cow_size_bytes'),
  g('aof_enabled'),
  g('aof_rewrite_in_progress'),
  g('aof_rewrite_scheduled'),
  g('aof_last_rewrite_time_sec', 'aof_last_rewrite_duration_sec'),
  g('aof_current_rewrite_time_sec', 'aof_current_rewrite_duration_sec'),
  g('aof_last_cow_size', 'aof_last_cow_size_bytes'),
  g('aof_current_size', 'aof_current_size_bytes'),
  g('aof_base_size', 'aof_base_size_bytes'),
  g('aof_pending_rewrite'),
  g('aof_buffer_length'),
  g('aof_rewrite_buffer_length'),
  g('aof_pending_bio_fsync'),
  g('aof_delayed_fsync'),
  g('aof_last_bgrewrite_status'),
  g('aof_last_write_status'),
  g('module_fork_in_progress'),
  g('module_fork_last_cow_size'),
  // Stats
  c('total_connections_received', 'connections_received_total'),
  c('total_commands_processed', 'commands_processed_total'),
  c('total_net_input_bytes', 'net_input_bytes_total'),
  c('total_net_output_bytes', 'net_output_bytes_total'),
  c('rejected_connections', 'rejected_connections_total'),
  g('sync_full', 'replica_resyncs_full'),
  g('sync_partial_ok', 'replica_partial_resync_accepted'),
  g('sync_partial_err', 'replica_partial_resync_denied'),
  c('expired_keys', 'expired_keys_total'),
  g('expired_stale_perc', 'expired_stale_percentage'),
  g('expired_time_cap_reached_count', 'expired_time_cap_reached_total'),
  c('evicted_keys', 'evicted_keys_total'),
  c('keyspace_hits', 'keyspace_hits_total'),
  c('keyspace_misses', 'keyspace_misses_total'),
  g('pubsub_channels'),
  g('pubsub_patterns'),
  g('latest_fork_usec', 'latest_fork_seconds', 1e-6),
  g('migrate_cached_sockets', 'migrate_cached_sockets_total'),
  g('slave_expires_tracked_keys'),
  g('active_defrag_hits', 'defrag_hits'),
  g('active_defrag_misses', 'defrag_misses'),
  g('active_defrag_key_hits', 'defrag_key_hits'),
  g('active_defrag_key_misses', 'defrag_key_misses'),
  g('tracking_total_keys'),
  g('tracking_total_items'),
  g('tracking_total_prefixes'),
  c('unexpected_error_replies'),
  c('total_error_replies'),
  c('dump_payload_sanitizations'),
  c('total_reads_processed'),
  c('total_writes_processed'),
  c('io_threaded_reads_processed'),
  c('io_threaded_writes_processed'),
  // Replication
  g('connected_slaves'),
  g('repl_backlog_size', 'replication_backlog_bytes'),
  g('repl_backlog_active', 'repl_backlog_is_active'),
  g('repl_backlog_first_byte_offset'),
  g('repl_backlog_histlen', 'repl_backlog_history_bytes'),
  g('master_repl_offset'),
  g('second_repl_offset'),
  g('slave_priority'),
  // CPU
  c('used_cpu_sys', 'cpu_sys_seconds_total'),
  c('used_cpu_user', 'cpu_user_seconds_total'),
  c('used_cpu_sys_children', 'cpu_sys_children_seconds_total'),
  c('used_cpu_user_children', 'cpu_user_children_seconds_total'),
  c('used_cpu_sys_main_thread', 'cpu_sys_main_thread_seconds_total'),
  c('used_cpu_user_main_thread', 'cpu_user_main_thread_seconds_total'),
  // Cluster
  g('cluster_enabled'),
];

const ruleFamilies = new Map<string, { rule: FieldRule; spec: FamilySpec }>();
for (const rule of RULES) {
  const spec = compatFamily({
    name: `redis_${rule.metric}`,
    type: rule.type,
    help:
      rule.scale !== undefined
        ? `INFO ${rule.field}, converted to base units`
        : `INFO field ${rule.field}`,
    labels: [],
    source: `INFO ALL: ${rule.field}`,
  });
  ruleFamilies.set(rule.field, { rule, spec });
}

/** Status fields whose text value maps to 1 (ok) or 0. */
const STATUS_FIELDS = new Set([
  'rdb_last_bgsave_status',
  'aof_last_bgrewrite_status',
  'aof_last_write_status',
]);

export const startTimeFamily = compatFamily({
  name: 'redis_start_time_seconds',
  type: 'gauge',
  help: 'Start time of the Redis instance since unix epoch in seconds.',
  labels: [],
  source: 'INFO ALL: uptime_in_seconds, subtracted from the scrape time',
});

export const instanceInfoFamily = compatFamily({
  name: 'redis_instance_info',
  type: 'gauge',
  help: 'Information about the Redis instance',
  labels: [
    'maxmemory_policy',
    'os',
    'process_id',
    'redis_build_id',
    'redis_mode',
    'redis_version',
    'role',
    'run_id',
    'tcp_port',
  ],
  source: 'INFO ALL: server and replication fields',
});

export const infoCollector: Collector = {
  name: 'info',
  modes: ['redis', 'sentinel'],
  commands: [INFO_ALL],
  families: [...[...ruleFamilies.values()].map((r) => r.spec), startTimeFamily, instanceInfoFamily],
  collect(context, sink) {
    const { fields } = context.info();
    for (const [field, value] of fields) {
      const entry = ruleFamilies.get(field);
      if (!entry) continue;
      let n: number | undefined;
      if (STATUS_FIELDS.has(field)) n = value === 'ok' ? 1 : 0;
      else n = numeric(value);
      if (n === undefined) continue;
      sink.add(entry.spec, entry.rule.scale !== undefined ? n * entry.rule.scale : n);
    }
    const uptime = numeric(fields.get('uptime_in_seconds'));
    if (uptime !== undefined) sink.add(startTimeFamily, Math.round(context.nowSeconds - uptime));
    sink.add(
      instanceInfoFamily,
      1,
      fields.get('maxmemory_policy') ?? '',
      fields.get('os') ?? '',
      fields.get('process_id') ?? '',
      fields.get('redis_build_id') ?? '',
      fields.get('redis_mode') ?? fields.get('server_mode') ?? '',
      fields.get('redis_version') ?? '',
      fields.get('role') ?? '',
      fields.get('run_id') ?? '',
      fields.get('tcp_port') ?? '',
    );
  },
};
