import { HOTKEY_TOP_CAP } from '../client/common/hotkey-report.js';

/** `[dbN=]PATTERN` items, redis_exporter's spelling of a key or pattern and its logical database. */
const keyPatternList = {
  type: 'array',
  maxItems: 1000,
  items: { type: 'string', minLength: 1 },
} as const;

/**
 * JSON Schema of the exporter's settings, in the YAML file's spelling. Flags
 * and env vars are mapped onto the same keys before validation, so one schema
 * checks every source and every error names the key the user typed.
 */
export const exporterConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    redis_url: {
      type: 'string',
      pattern: '^(rediss?://)?[^\\s]+$',
      description: 'redis://HOST:PORT or rediss://HOST:PORT, the target of /metrics',
    },
    username: { type: 'string', minLength: 1, description: 'ACL user for --redis-url' },
    password_file: {
      type: 'string',
      minLength: 1,
      description: 'File holding the password for --redis-url',
    },
    sentinels: {
      type: 'array',
      items: {
        type: 'string',
        // `%` passes so that a zone id (`[fe80::1%eth0]`) is refused by parseTarget, which says why.
        pattern: '^(rediss?://)?(\\[[0-9a-zA-Z:.%]+\\]|[^\\s:/\\[\\]]+):[0-9]{1,5}$',
        description:
          '[rediss://]HOST:PORT, HOST a DNS name, an IPv4 address or an IPv6 address in brackets (rediss://[fd00::5]:26379)',
      },
      description:
        'Sentinels as host:port (a DNS name, an IPv4 address or [IPv6]), to find the master of --master-name',
    },
    master_name: { type: 'string', minLength: 1 },
    listen: {
      type: 'string',
      pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^\\s:\\[\\]]*):[0-9]{1,5}$',
      description: 'HOST:PORT of the exporter HTTP server',
    },
    allow_targets: { type: 'array', items: { type: 'string', minLength: 1 } },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1 },
        cert: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1 },
        insecure_skip_verify: { type: 'boolean' },
      },
    },
    credentials_file: { type: 'string', minLength: 1 },
    web_config_file: { type: 'string', minLength: 1 },
    scrape_timeout_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
    client_name_cap: { type: 'integer', minimum: 0, maximum: 10000 },
    log_level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    hotkeys: {
      type: 'object',
      additionalProperties: false,
      properties: {
        top: {
          type: 'integer',
          minimum: 1,
          maximum: HOTKEY_TOP_CAP,
          description: 'Keys of the fleet-wide top list exported as series',
        },
        secret_file: {
          type: 'string',
          minLength: 1,
          description:
            'File holding the redaction secret the clients use (or env REDSCOPE_HOTKEYS_SECRET)',
        },
        redaction_patterns: {
          type: 'array',
          maxItems: 100,
          items: { type: 'string', minLength: 1 },
          description: "The clients' redaction patterns, so LFU labels match theirs",
        },
        lfu: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            sample_keys: { type: 'integer', minimum: 1, maximum: 100_000 },
            scan_count: { type: 'integer', minimum: 1, maximum: 10_000 },
            top: { type: 'integer', minimum: 1, maximum: HOTKEY_TOP_CAP },
            budget_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 30 },
          },
        },
      },
    },
    key_checks: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keys: {
          ...keyPatternList,
          description: 'Key patterns (SCAN MATCH), redis_exporter --check-keys syntax: [dbN=]GLOB',
        },
        single_keys: { ...keyPatternList, description: 'Keys by name: [dbN=]KEY' },
        missing_single_keys_as_zero: { type: 'boolean' },
        streams: { ...keyPatternList, description: 'Stream key patterns: [dbN=]GLOB' },
        single_streams: { ...keyPatternList, description: 'Streams by name: [dbN=]KEY' },
        exclude_stream_consumers: {
          type: 'boolean',
          description: 'Leave out the per-consumer stream series',
        },
        count_keys: { ...keyPatternList, description: 'Patterns whose keys are counted' },
        key_groups: {
          type: 'array',
          maxItems: 100,
          items: { type: 'string', minLength: 1 },
          description: 'Lua patterns whose captures name a key group (redis_exporter syntax)',
        },
        max_distinct_key_groups: { type: 'integer', minimum: 1, maximum: 10_000 },
        batch_size: { type: 'integer', minimum: 1, maximum: 10_000 },
        budget_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 60 },
        max_series: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        read_from: { enum: ['any', 'replica'] },
        raw_key_names: { type: 'boolean' },
      },
    },
    scripts: {
      type: 'array',
      maxItems: 50,
      items: { type: 'string', minLength: 1 },
      description: 'Lua script files whose results become redis_script_values',
    },
    functions: {
      type: 'array',
      maxItems: 50,
      items: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
      description: 'Redis functions (FCALL_RO NAME 0) whose results become redis_script_values',
    },
    script_allow_writes: { type: 'boolean' },
    client_list: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        include_port: { type: 'boolean' },
        max_series: { type: 'integer', minimum: 1, maximum: 100_000 },
      },
    },
    config_metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        parameters: {
          type: 'array',
          maxItems: 500,
          items: { type: 'string', pattern: '^[a-z0-9-]+$' },
        },
      },
    },
  },
} as const;

/**
 * The description of each string pattern of the settings schema, by pattern:
 * what a refused value is told it should look like (ajv's own message is the regex).
 */
export const PATTERN_DESCRIPTIONS: ReadonlyMap<string, string> = (() => {
  const found = new Map<string, string>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const { pattern, description } = node as { pattern?: unknown; description?: unknown };
    if (typeof pattern === 'string' && typeof description === 'string') {
      found.set(pattern, description);
    }
    for (const child of Object.values(node)) walk(child);
  };
  walk(exporterConfigSchema);
  return found;
})();

/** The per-target credentials file. */
export const credentialsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['targets'],
  properties: {
    targets: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['match'],
        properties: {
          match: { type: 'string', minLength: 1 },
          username: { type: 'string', minLength: 1 },
          password: { type: 'string' },
          password_file: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;
