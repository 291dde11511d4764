/**
 * Findings `promtool check metrics` reports on names redis_exporter 1.45 chose;
 * we keep those names so dashboards keep working. Anything else fails a test.
 */
export const INHERITED_PROMTOOL_FINDINGS = [
  'redis_aof_current_rewrite_duration_sec metric names should not contain abbreviated units',
  'redis_aof_last_rewrite_duration_sec metric names should not contain abbreviated units',
  'redis_rdb_current_bgsave_duration_sec metric names should not contain abbreviated units',
  'redis_rdb_last_bgsave_duration_sec metric names should not contain abbreviated units',
  'redis_dump_payload_sanitizations counter metrics should have "_total" suffix',
  'redis_io_threaded_reads_processed counter metrics should have "_total" suffix',
  'redis_io_threaded_writes_processed counter metrics should have "_total" suffix',
  'redis_total_error_replies counter metrics should have "_total" suffix',
  'redis_total_reads_processed counter metrics should have "_total" suffix',
  'redis_total_writes_processed counter metrics should have "_total" suffix',
  'redis_unexpected_error_replies counter metrics should have "_total" suffix',
  'redis_expired_time_cap_reached_total non-counter metrics should not have "_total" suffix',
  'redis_migrate_cached_sockets_total non-counter metrics should not have "_total" suffix',
  // Cluster nodes: 1.45 exports CLUSTER INFO's message counts as gauges.
  'redis_cluster_messages_received_total non-counter metrics should not have "_total" suffix',
  'redis_cluster_messages_sent_total non-counter metrics should not have "_total" suffix',
];
