import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadThresholds, type Thresholds } from '../../../bundle/thresholds.js';
import { HOTKEY_METRIC_NAMES } from '../../../client/hotkeys/hotkey-metrics.js';
import { CLIENT_METRIC_NAMES } from '../../../client/instrumentation/metrics.js';
import { SESSION_METRIC_NAMES } from '../../../client/session/session-metrics.js';
import { WARMING_METRIC_NAMES } from '../../../client/warming/warming-metrics.js';
import type { AlertRule, RecordingRule, RuleGroup } from '../../../prometheus/src/rule-types.js';
import { requireBinary, type SystemBinary } from '../../../stack/binaries.js';
import { packageRoot } from '../../../stack/repo-paths.js';

/** Paths of the config bundle in this checkout. */
export const ROOT = packageRoot();
export const repoPath = (...parts: string[]) => join(ROOT, ...parts);

export function thresholds(): Thresholds {
  return loadThresholds();
}

export function readYaml<T>(...parts: string[]): T {
  return yaml.load(readFileSync(repoPath(...parts), 'utf8')) as T;
}

/** The committed alert rules (what Prometheus loads), not what the generator would emit. */
export function committedAlertRules(): AlertRule[] {
  const file = readYaml<{ groups: RuleGroup<AlertRule>[] }>(
    'prometheus',
    'rules',
    'redscope-alerts.yml',
  );
  return file.groups.flatMap((g) => g.rules);
}

export function committedRecordingRules(): RecordingRule[] {
  const file = readYaml<{ groups: RuleGroup<RecordingRule>[] }>(
    'prometheus',
    'rules',
    'redscope-recording.yml',
  );
  return file.groups.flatMap((g) => g.rules);
}

export function runbookFiles(): string[] {
  return readdirSync(repoPath('runbooks')).filter((f) => f.endsWith('.md') && f !== 'README.md');
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** The whole environment of the process (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a system binary (found with requireBinary, so a missing one fails loudly). */
export function run(
  binary: SystemBinary,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return runCommand(requireBinary(binary), args, options);
}

/** Runs `command` (a path, or a name on PATH), resolving with its exit code and output, never rejecting. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      {
        cwd: options.cwd ?? ROOT,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 << 20,
        ...(options.env ? { env: options.env } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Metric families rules and dashboards may use: the redscope_* naming contract (fixed
 * in the exporter and client issues) plus what redis_exporter 1.45 exports, captured in
 * fixtures/redis-exporter-1.45-families.txt.
 */
export const CONTRACT_FAMILIES = [
  'redscope_exporter_scrape_duration_seconds',
  'redscope_exporter_scrape_errors_total',
  'redscope_exporter_collector_success',
  'redscope_exporter_collector_duration_seconds',
  'redscope_redis_command_latency_seconds',
  'redscope_redis_clients_by_name',
  'redscope_tls_certificate_expiry_timestamp_seconds',
  'redscope_sentinel_master_info',
  'redscope_sentinel_failover_in_progress',
  'redscope_sentinel_quorum_reachable',
  'redscope_sentinel_config_epoch',
  'redscope_sentinel_agreeing_sentinels',
  'redscope_sentinel_replica_link_up',
  'redscope_sentinel_replica_lag_seconds',
  'redscope_sentinel_failovers_total',
  'redscope_sentinel_last_failover_duration_seconds',
  'redscope_sentinel_up',
  // Hot keys, merged by the exporter from the clients' reports (issue #13's contract).
  'redscope_hotkey_rate_per_minute',
  'redscope_hotkey_redis_rate_per_minute',
  'redscope_hotkey_processes',
  'redscope_hotkey_over_threshold',
  'redscope_hotkey_threshold_per_minute',
  'redscope_hotkey_keys_over_threshold',
  'redscope_hotkey_reports',
  'redscope_hotkey_reports_invalid',
  'redscope_hotkey_report_age_seconds',
  'redscope_hotkey_lfu_available',
  'redscope_hotkey_lfu_frequency',
  'redscope_hotkey_lfu_keys_sampled',
  // Cache warming, from the clients' status records (issue #14's contract).
  'redscope_warming_state',
  'redscope_warming_keys_warmed',
  'redscope_warming_keys_planned',
  'redscope_warming_progress_ratio',
  'redscope_warming_duration_seconds',
  'redscope_warming_errors',
  'redscope_warming_last_update_age_seconds',
  'redscope_warming_records',
  'redscope_warming_records_invalid',
  // Redis Cluster: each node's role and shard and its view of every shard (issue #17's contract).
  'redscope_cluster_node_info',
  'redscope_cluster_shard_slots',
  'redscope_cluster_shard_replicas',
  'redscope_cluster_shard_master_failing',
  // The client's families, from the code that registers them.
  ...Object.values(CLIENT_METRIC_NAMES),
  ...Object.values(WARMING_METRIC_NAMES),
  ...Object.values(SESSION_METRIC_NAMES),
  ...Object.values(HOTKEY_METRIC_NAMES),
] as const;

const HISTOGRAMS = [
  'redscope_exporter_scrape_duration_seconds',
  'redscope_redis_command_latency_seconds',
  'redscope_client_command_duration_seconds',
  'redscope_session_load_duration_seconds',
];

/** Every series name a query may select: families, histogram/summary children, `up`. */
export function knownSeriesNames(): Set<string> {
  const names = new Set<string>(['up', ...CONTRACT_FAMILIES]);
  for (const h of HISTOGRAMS) for (const s of ['_bucket', '_sum', '_count']) names.add(h + s);
  const fixture = readFileSync(
    repoPath('test', 'bundle', 'fixtures', 'redis-exporter-1.45-families.txt'),
    'utf8',
  );
  for (const line of fixture.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [name, type] = line.split(' ');
    if (!name) continue;
    names.add(name);
    if (type === 'summary' || type === 'histogram') {
      for (const s of ['_sum', '_count', '_bucket']) names.add(name + s);
    }
  }
  for (const rule of committedRecordingRules()) names.add(rule.record);
  return names;
}
