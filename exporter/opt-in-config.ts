import { basename } from 'node:path';
import { ConfigError } from './config-errors.js';
import { compileLuaPattern, LuaPatternError } from './keys/lua-pattern.js';
import { globProblem } from './keys/redis-glob.js';

/** A key or key pattern and the logical database it lives in: redis_exporter's `db3=queue:*`. */
export interface KeySpec {
  readonly db: number;
  readonly key: string;
}

/** A key group pattern: the Lua pattern as configured and its translation. */
export interface KeyGroupPattern {
  readonly source: string;
  readonly regex: RegExp;
}

/** The key collectors (off unless a list is given). */
export interface KeyChecksConfig {
  /** Patterns whose matching keys get size, value and memory series (`--check-keys`). */
  readonly keys: readonly KeySpec[];
  /** Keys by name (`--check-single-keys`); a missing one has no series. */
  readonly singleKeys: readonly KeySpec[];
  /** redis_exporter's old behaviour: a missing single key reports size 0. */
  readonly missingSingleKeysAsZero: boolean;
  readonly streams: readonly KeySpec[];
  readonly singleStreams: readonly KeySpec[];
  /** Per-consumer stream series (default true). */
  readonly streamConsumers: boolean;
  /** Patterns whose keys are counted (`--count-keys`). */
  readonly countKeys: readonly KeySpec[];
  /** Lua patterns whose captures name a group (`--check-key-groups`). */
  readonly keyGroups: readonly KeyGroupPattern[];
  /** Groups per DB with their own series; the rest add up under `overflow`. */
  readonly maxDistinctKeyGroups: number;
  /** SCAN's COUNT per call: how much Redis does in one command. */
  readonly batchSize: number;
  /** Time the key collectors together may take per scrape (also at most half of what is left of the scrape). */
  readonly budgetMs: number;
  /**
   * Keys (key_checks) or stream series (streams) per collector and target, all
   * patterns together; past it, keys or streams are left out and counted.
   */
  readonly maxSeries: number;
  /** `replica`: the key collectors run only on replicas, so the master is never scanned. */
  readonly readFrom: 'any' | 'replica';
  /** Export key names from pattern matches as they are (redis_exporter's way) instead of redacted. */
  readonly rawKeyNames: boolean;
}

export interface ScriptSource {
  /** The file's base name: the `filename` label. */
  readonly name: string;
  readonly path: string;
  readonly text: string;
}

export interface ScriptsConfig {
  readonly scripts: readonly ScriptSource[];
  /** Redis functions, called with FCALL_RO. */
  readonly functions: readonly string[];
  /** EVAL/FCALL instead of EVAL_RO/FCALL_RO: a script may then write. */
  readonly allowWrites: boolean;
}

export interface ClientListConfig {
  readonly enabled: boolean;
  readonly includePort: boolean;
  readonly maxSeries: number;
}

export interface ConfigMetricsConfig {
  readonly enabled: boolean;
  /** CONFIG parameters exported; never one of SECRET_CONFIG_PARAMETERS. */
  readonly parameters: readonly string[];
}

/** The opt-in collectors' settings, all validated. */
export interface OptInConfig {
  readonly keyChecks: KeyChecksConfig;
  readonly scripts: ScriptsConfig;
  readonly clientList: ClientListConfig;
  readonly configMetrics: ConfigMetricsConfig;
}

export const OPT_IN_DEFAULTS = {
  /** redis_exporter's default; a key group above it folds into `overflow`. */
  maxDistinctKeyGroups: 100,
  /** SCAN COUNT 100 keeps one call well under a millisecond on a loaded Redis (redis_exporter uses 1000). */
  batchSize: 100,
  /** Per scrape, shared by every key collector; scans that need longer continue at the next scrape. */
  budgetSeconds: 1,
  /** Per collector: 10,000 series are what Prometheus handles easily from one target. */
  maxSeries: 10_000,
  /** CLIENT LIST series: one per connection, so a busy Redis needs a cap. */
  clientListMaxSeries: 200,
} as const;

/**
 * CONFIG parameters that hold passwords or private keys' passphrases: never
 * exported, even when listed (redis_exporter redacts them by default too).
 */
export const SECRET_CONFIG_PARAMETERS: readonly string[] = [
  'requirepass',
  'masterauth',
  'masteruser',
  'tls-key-file-pass',
  'tls-client-key-file-pass',
];

/**
 * What `config_metrics.enabled` exports without a list: the settings an
 * on-call engineer compares across nodes (memory, persistence, replication,
 * limits), none that names a file or a secret.
 */
export const DEFAULT_CONFIG_PARAMETERS: readonly string[] = [
  'maxmemory',
  'maxmemory-policy',
  'maxmemory-samples',
  'maxclients',
  'timeout',
  'tcp-keepalive',
  'databases',
  'hz',
  'io-threads',
  'appendonly',
  'appendfsync',
  'save',
  'repl-backlog-size',
  'repl-diskless-sync',
  'repl-timeout',
  'min-replicas-to-write',
  'min-replicas-max-lag',
  'replica-read-only',
  'replica-priority',
  'lazyfree-lazy-eviction',
  'lazyfree-lazy-expire',
  'activedefrag',
  'slowlog-log-slower-than',
  'slowlog-max-len',
  'latency-tracking',
  'latency-monitor-threshold',
  'lfu-log-factor',
  'lfu-decay-time',
  'notify-keyspace-events',
  'cluster-enabled',
];

type Raw = Record<string, unknown>;

/** Highest logical database number Redis accepts with the default `databases 16` is 15; configs may raise it. */
const MAX_DB = 10_000;

/** `db3=queue:*` → {db: 3, key: 'queue:*'}; no prefix means db 0, as in redis_exporter. */
function parseKeySpec(text: string): KeySpec {
  const match = /^db(\d+)=(.+)$/s.exec(text);
  if (!match) return { db: 0, key: text };
  const db = Number(match[1]);
  if (!Number.isInteger(db) || db > MAX_DB) {
    throw new Error(`database ${match[1]} is out of range`);
  }
  return { db, key: match[2] as string };
}

/** Parses the `key_checks`, `scripts`, `functions`, `client_list` and `config_metrics` settings. */
export function optInConfig(
  raw: Raw,
  describeKey: (path: string) => string,
  readFile: (path: string) => string,
): OptInConfig {
  const checks = (raw.key_checks ?? {}) as Raw;
  const specs = (key: string, patterns: boolean): KeySpec[] =>
    ((checks[key] as string[] | undefined) ?? []).map((text, index) => {
      const where = `${describeKey(`key_checks.${key}.${index}`)}`;
      let spec: KeySpec;
      try {
        spec = parseKeySpec(text);
      } catch (error) {
        throw new ConfigError(
          `${where}: value ${JSON.stringify(text)} is not allowed; ${(error as Error).message}`,
        );
      }
      const problem = patterns ? globProblem(spec.key) : undefined;
      if (problem !== undefined) {
        throw new ConfigError(
          `${where}: ${JSON.stringify(spec.key)} is not a valid Redis glob pattern: ${problem}`,
        );
      }
      return spec;
    });

  const keyGroups = ((checks.key_groups as string[] | undefined) ?? []).map((source, index) => {
    try {
      return { source, regex: compileLuaPattern(source) };
    } catch (error) {
      if (!(error instanceof LuaPatternError)) throw error;
      throw new ConfigError(
        `${describeKey(`key_checks.key_groups.${index}`)}: ${JSON.stringify(source)} is not a Lua pattern this exporter can use: ${error.message}`,
      );
    }
  });

  const keyChecks: KeyChecksConfig = {
    keys: specs('keys', true),
    singleKeys: specs('single_keys', false),
    missingSingleKeysAsZero: checks.missing_single_keys_as_zero === true,
    streams: specs('streams', true),
    singleStreams: specs('single_streams', false),
    streamConsumers: checks.exclude_stream_consumers !== true,
    countKeys: specs('count_keys', true),
    keyGroups,
    maxDistinctKeyGroups:
      (checks.max_distinct_key_groups as number | undefined) ??
      OPT_IN_DEFAULTS.maxDistinctKeyGroups,
    batchSize: (checks.batch_size as number | undefined) ?? OPT_IN_DEFAULTS.batchSize,
    budgetMs:
      ((checks.budget_seconds as number | undefined) ?? OPT_IN_DEFAULTS.budgetSeconds) * 1000,
    maxSeries: (checks.max_series as number | undefined) ?? OPT_IN_DEFAULTS.maxSeries,
    readFrom: checks.read_from === 'replica' ? 'replica' : 'any',
    rawKeyNames: checks.raw_key_names === true,
  };

  const scripts = ((raw.scripts as string[] | undefined) ?? []).map((path, index) => {
    const where = describeKey(`scripts.${index}`);
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      throw new ConfigError(`${where}: cannot read ${path}: ${(error as Error).message}`);
    }
    if (text.trim() === '') throw new ConfigError(`${where}: ${path} is empty`);
    return { name: basename(path), path, text };
  });
  const names = new Set<string>();
  for (const [index, script] of scripts.entries()) {
    if (names.has(script.name)) {
      throw new ConfigError(
        `${describeKey(`scripts.${index}`)}: a second script named ${script.name}; the filename label must tell them apart`,
      );
    }
    names.add(script.name);
  }

  const clients = (raw.client_list ?? {}) as Raw;
  const configRaw = (raw.config_metrics ?? {}) as Raw;
  const parameters = (configRaw.parameters as string[] | undefined) ?? DEFAULT_CONFIG_PARAMETERS;
  parameters.forEach((name, index) => {
    if (SECRET_CONFIG_PARAMETERS.includes(name)) {
      throw new ConfigError(
        `${describeKey(`config_metrics.parameters.${index}`)}: ${name} holds a secret and is never exported`,
      );
    }
  });

  return {
    keyChecks,
    scripts: {
      scripts,
      functions: (raw.functions as string[] | undefined) ?? [],
      allowWrites: raw.script_allow_writes === true,
    },
    clientList: {
      enabled: clients.enabled === true,
      includePort: clients.include_port === true,
      maxSeries: (clients.max_series as number | undefined) ?? OPT_IN_DEFAULTS.clientListMaxSeries,
    },
    configMetrics: { enabled: configRaw.enabled === true, parameters },
  };
}
