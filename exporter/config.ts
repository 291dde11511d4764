import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import {
  compileRedactionPatterns,
  MIN_REDACTION_SECRET_LENGTH,
  RedactionPatternError,
} from '../client/common/key-redaction.js';
import { redactUrlCredentials } from '../client/common/redaction.js';
import { ConfigError, configErrorFrom } from './config-errors.js';
import { exporterConfigSchema } from './config-schema.js';
import { Credentials, loadCredentials } from './credentials.js';
import { type OptInConfig, optInConfig } from './opt-in-config.js';
import { secretFromFileText } from './secret-file.js';
import { InvalidTargetError, parseTarget, type Target } from './target.js';
import { loadWebConfig, type WebConfig } from './web-config.js';

export { ConfigError } from './config-errors.js';

/** Defaults, one place, each with its reason. */
export const DEFAULTS = {
  /** The port redis_exporter uses, so scrape configs carry over. */
  listen: '0.0.0.0:9121',
  /** Budget when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds (its own default is 10 s). */
  scrapeTimeoutSeconds: 10,
  /** Client names past this many fold into one series: enough for a fleet of services, bounded for Prometheus. */
  clientNameCap: 50,
  logLevel: 'info',
  /**
   * /discover-cluster-nodes reuses an answer this long per seed: Prometheus polls every
   * 60 s by default, and many servers polling one exporter then cost the seed one
   * CLUSTER NODES per period, while a failover still shows within seconds.
   */
  discoveryCacheSeconds: 5,
  /** Series per key are 4 families × this: the top 10 is what the dashboard shows. */
  hotKeysTop: 10,
  /** The LFU sampler (off unless `hotkeys.lfu.enabled`): */
  hotKeysLfu: {
    /** A 1000-key sample is ~10 round trips and well under 50 ms on a local Redis. */
    sampleKeys: 1000,
    /** SCAN's usual hint; larger values make each call block Redis longer. */
    scanCount: 100,
    /** Keys exported, hottest first: a sample's top is noisy past a few. */
    top: 10,
    /** Per scrape; the sampler also stops at half of what is left of the scrape budget. */
    budgetSeconds: 1,
  },
} as const;

/** Command-line flags, each also an env var `REDSCOPE_<FLAG>` and a YAML key. */
export const FLAGS = {
  'redis-url': { key: 'redis_url', kind: 'string' },
  username: { key: 'username', kind: 'string' },
  'password-file': { key: 'password_file', kind: 'string' },
  sentinels: { key: 'sentinels', kind: 'list' },
  'master-name': { key: 'master_name', kind: 'string' },
  listen: { key: 'listen', kind: 'string' },
  'allow-target': { key: 'allow_targets', kind: 'list' },
  'tls-ca': { key: 'tls.ca', kind: 'string' },
  'tls-cert': { key: 'tls.cert', kind: 'string' },
  'tls-key': { key: 'tls.key', kind: 'string' },
  'tls-insecure-skip-verify': { key: 'tls.insecure_skip_verify', kind: 'boolean' },
  'credentials-file': { key: 'credentials_file', kind: 'string' },
  'web-config-file': { key: 'web_config_file', kind: 'string' },
  'scrape-timeout': { key: 'scrape_timeout_seconds', kind: 'number' },
  'client-name-cap': { key: 'client_name_cap', kind: 'number' },
  'log-level': { key: 'log_level', kind: 'string' },
  'hotkeys-top': { key: 'hotkeys.top', kind: 'number' },
  'hotkeys-secret-file': { key: 'hotkeys.secret_file', kind: 'string' },
  'hotkeys-lfu': { key: 'hotkeys.lfu.enabled', kind: 'boolean' },
  'hotkeys-lfu-sample-keys': { key: 'hotkeys.lfu.sample_keys', kind: 'number' },
  'hotkeys-lfu-scan-count': { key: 'hotkeys.lfu.scan_count', kind: 'number' },
  'hotkeys-lfu-top': { key: 'hotkeys.lfu.top', kind: 'number' },
  'hotkeys-lfu-budget': { key: 'hotkeys.lfu.budget_seconds', kind: 'number' },
  'check-keys': { key: 'key_checks.keys', kind: 'list' },
  'check-single-keys': { key: 'key_checks.single_keys', kind: 'list' },
  'check-single-keys-missing-as-zero': {
    key: 'key_checks.missing_single_keys_as_zero',
    kind: 'boolean',
  },
  'check-streams': { key: 'key_checks.streams', kind: 'list' },
  'check-single-streams': { key: 'key_checks.single_streams', kind: 'list' },
  'streams-exclude-consumer-metrics': {
    key: 'key_checks.exclude_stream_consumers',
    kind: 'boolean',
  },
  'count-keys': { key: 'key_checks.count_keys', kind: 'list' },
  'check-key-groups': { key: 'key_checks.key_groups', kind: 'list' },
  'max-distinct-key-groups': { key: 'key_checks.max_distinct_key_groups', kind: 'number' },
  'check-keys-batch-size': { key: 'key_checks.batch_size', kind: 'number' },
  'check-keys-budget': { key: 'key_checks.budget_seconds', kind: 'number' },
  'check-keys-max-series': { key: 'key_checks.max_series', kind: 'number' },
  'check-keys-read-from': { key: 'key_checks.read_from', kind: 'string' },
  'check-keys-raw-names': { key: 'key_checks.raw_key_names', kind: 'boolean' },
  script: { key: 'scripts', kind: 'list' },
  function: { key: 'functions', kind: 'list' },
  'script-allow-writes': { key: 'script_allow_writes', kind: 'boolean' },
  'export-client-list': { key: 'client_list.enabled', kind: 'boolean' },
  'export-client-port': { key: 'client_list.include_port', kind: 'boolean' },
  'client-list-max-series': { key: 'client_list.max_series', kind: 'number' },
  'include-config-metrics': { key: 'config_metrics.enabled', kind: 'boolean' },
  'config-metrics': { key: 'config_metrics.parameters', kind: 'list' },
} as const;

export type FlagName = keyof typeof FLAGS;

/** The env var of a flag: `--redis-url` is `REDSCOPE_REDIS_URL`. */
export const envName = (flag: string): string =>
  `REDSCOPE_${flag.toUpperCase().replace(/-/g, '_')}`;

/** The password for --redis-url may also come from this env var (never from a flag). */
export const PASSWORD_ENV = 'REDSCOPE_PASSWORD';

/** The hot-key redaction secret may come from this env var, like the clients' (never from a flag). */
export const HOTKEYS_SECRET_ENV = 'REDSCOPE_HOTKEYS_SECRET';

export interface RedisAuth {
  readonly username?: string;
  readonly password?: string;
}

export interface RedisTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipVerify: boolean;
}

/** The server-side LFU sampler's settings, present only when it is enabled. */
export interface HotKeysLfuConfig {
  readonly sampleKeys: number;
  readonly scanCount: number;
  readonly top: number;
  readonly budgetMs: number;
  /** The redaction secret the clients use, so a key gets the same label from both sources. */
  readonly secret: string;
  readonly patterns?: readonly string[];
}

export interface HotKeysConfig {
  readonly top: number;
  readonly lfu?: HotKeysLfuConfig;
}

/** Everything the exporter needs, validated; nothing past here reads env or files. */
export interface ExporterConfig {
  readonly redisTarget?: Target;
  readonly redisAuth: RedisAuth;
  readonly sentinels: readonly Target[];
  readonly masterName?: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly allowTargets: readonly string[];
  readonly tls: RedisTls;
  readonly credentials: Credentials;
  readonly webConfig?: WebConfig;
  readonly scrapeTimeoutSeconds: number;
  readonly clientNameCap: number;
  readonly logLevel: string;
  readonly hotKeys: HotKeysConfig;
  /** The opt-in collectors: key checks, streams, key groups, scripts, client list, config values. */
  readonly optIn: OptInConfig;
  /**
   * The clients' key-redaction secret (`hotkeys.secret_file` or env), when
   * given: key names the exporter exports get the same labels as the clients'.
   */
  readonly redactionSecret?: string;
  /** The clients' redaction patterns (`hotkeys.redaction_patterns`), when given. */
  readonly redactionPatterns?: readonly string[];
}

export interface ConfigSources {
  /** Flags given on the command line (commander's parsed options, by flag name). */
  readonly flags: Partial<Record<FlagName | 'config', string | string[] | boolean>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile?: (path: string) => string;
}

type Raw = Record<string, unknown>;

const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile(exporterConfigSchema);

/** Parses and validates flags, env and the optional YAML file, in that order of precedence. */
export function loadExporterConfig(sources: ConfigSources): ExporterConfig {
  const readFile = sources.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const origins = new Map<string, string>();
  const raw: Raw = {};

  const configPath =
    typeof sources.flags.config === 'string'
      ? sources.flags.config
      : sources.env[envName('config')];
  if (configPath) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (error) {
      throw new ConfigError(`--config: cannot read ${configPath}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = yaml.load(text, { filename: configPath });
    } catch (error) {
      const reason = (error as { reason?: string }).reason ?? (error as Error).message;
      const mark = (error as { mark?: { line: number; column: number } }).mark;
      const where = mark ? ` at line ${mark.line + 1}, column ${mark.column + 1}` : '';
      throw new ConfigError(`--config: ${configPath} is not valid YAML${where}: ${reason}`);
    }
    if (parsed !== undefined && parsed !== null) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError(`--config: ${configPath} must hold a mapping of settings`);
      }
      // A nested key is named by its path in errors: `hotkeys.lfu.top in FILE`.
      const record = (prefix: string, mapping: Raw) => {
        for (const [key, value] of Object.entries(mapping)) {
          const path = prefix === '' ? key : `${prefix}.${key}`;
          origins.set(path, `${path} in ${configPath}`);
          if (value && typeof value === 'object' && !Array.isArray(value)) {
            record(path, value as Raw);
          }
        }
      };
      Object.assign(raw, parsed as Raw);
      record('', parsed as Raw);
    }
  }

  for (const [flag, spec] of Object.entries(FLAGS)) {
    const env = sources.env[envName(flag)];
    if (env !== undefined && env !== '') {
      set(raw, spec.key, coerce(env, spec.kind, true));
      origins.set(spec.key, envName(flag));
    }
  }
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const value = sources.flags[flag as FlagName];
    if (value === undefined) continue;
    set(raw, spec.key, Array.isArray(value) ? value : coerce(value, spec.kind, false));
    origins.set(spec.key, `--${flag}`);
  }
  if (
    raw.tls &&
    typeof raw.tls === 'object' &&
    !Array.isArray(raw.tls) &&
    Object.keys(raw.tls).length === 0
  ) {
    delete raw.tls;
  }

  // A list item (`allow_targets.0`) is named by where its list came from: `--allow-target (item 1)`.
  const describeKey = (path: string) => {
    const known = origins.get(path);
    if (known !== undefined) return known;
    const item = /^(.+)\.(\d+)$/.exec(path);
    const list = item?.[1] === undefined ? undefined : origins.get(item[1]);
    return list === undefined ? path : `${list} (item ${Number(item?.[2]) + 1})`;
  };
  if (!validate(raw)) {
    const first = validate.errors?.[0];
    if (first) throw configErrorFrom(first, raw, describeKey, allowedKeys);
    throw new ConfigError('the configuration is not valid');
  }
  return typed(raw, describeKey, readFile, sources.env);
}

interface ObjectSchema {
  readonly properties?: Record<string, ObjectSchema>;
}

function allowedKeys(path: string): readonly string[] {
  let schema: ObjectSchema | undefined = exporterConfigSchema as unknown as ObjectSchema;
  for (const part of path === '' ? [] : path.split('.')) schema = schema?.properties?.[part];
  return Object.keys(schema?.properties ?? {});
}

function coerce(value: string | boolean, kind: string, fromEnv: boolean): unknown {
  if (typeof value === 'boolean') return value;
  switch (kind) {
    case 'list':
      return value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'boolean':
      if (/^(true|1|yes)$/i.test(value)) return true;
      if (/^(false|0|no)$/i.test(value)) return false;
      return value;
    case 'number': {
      const n = Number(value);
      return value.trim() !== '' && Number.isFinite(n) ? n : value;
    }
    default:
      return fromEnv ? value.trim() : value;
  }
}

function set(raw: Raw, dotted: string, value: unknown): void {
  const [head, ...rest] = dotted.split('.') as [string, ...string[]];
  if (rest.length === 0) {
    raw[head] = value;
    return;
  }
  const current = raw[head];
  // A copy: the YAML's own mapping is not changed under the origins that describe it.
  const inner: Raw =
    current && typeof current === 'object' && !Array.isArray(current)
      ? { ...(current as Raw) }
      : {};
  set(inner, rest.join('.'), value);
  raw[head] = inner;
}

function typed(
  raw: Raw,
  describeKey: (path: string) => string,
  readFile: (path: string) => string,
  env: Readonly<Record<string, string | undefined>>,
): ExporterConfig {
  const str = (key: string) => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined);
  const readSecretFile = (key: string, path: string): string => {
    try {
      return secretFromFileText(readFile(path));
    } catch (error) {
      throw new ConfigError(
        `${describeKey(key)}: cannot read ${path}: ${(error as Error).message}`,
      );
    }
  };
  const readBinary = (key: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return Buffer.from(readFile(path));
    } catch (error) {
      throw new ConfigError(
        `${describeKey(key)}: cannot read ${path}: ${(error as Error).message}`,
      );
    }
  };
  const target = (key: string, text: string): Target => {
    try {
      return parseTarget(text);
    } catch (error) {
      if (error instanceof InvalidTargetError) {
        // Credentials in a URL must not come back on stderr; the reason may quote the URL too.
        const shown = redactUrlCredentials(text);
        throw new ConfigError(
          `${describeKey(key)}: value ${JSON.stringify(shown)} is not allowed; ${redactUrlCredentials(error.message)}`,
        );
      }
      throw error;
    }
  };

  const redisUrl = str('redis_url');
  const redisTarget = redisUrl ? target('redis_url', redisUrl) : undefined;
  const sentinels = ((raw.sentinels as string[] | undefined) ?? []).map((s) =>
    target('sentinels', s),
  );
  const masterName = str('master_name');
  if (sentinels.length > 0 && !masterName) {
    throw new ConfigError(
      `${describeKey('sentinels')}: needs --master-name (the master group to follow)`,
    );
  }
  if (masterName && sentinels.length === 0) {
    throw new ConfigError(`${describeKey('master_name')}: needs --sentinels host:port,...`);
  }
  if (redisTarget && sentinels.length > 0) {
    throw new ConfigError(
      `${describeKey('redis_url')}: give either --redis-url or --sentinels with --master-name, not both`,
    );
  }

  const passwordFile = str('password_file');
  const password = passwordFile ? readSecretFile('password_file', passwordFile) : env[PASSWORD_ENV];
  const username = str('username');
  const redisAuth: RedisAuth = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };

  const tlsRaw = (raw.tls ?? {}) as Raw;
  const certPath = tlsRaw.cert as string | undefined;
  const keyPath = tlsRaw.key as string | undefined;
  if ((certPath === undefined) !== (keyPath === undefined)) {
    const given = certPath === undefined ? 'tls.key' : 'tls.cert';
    throw new ConfigError(
      `${describeKey(given)}: needs its pair (--tls-cert and --tls-key go together)`,
    );
  }
  const tls: RedisTls = {
    ...(tlsRaw.ca ? { ca: readBinary('tls.ca', tlsRaw.ca as string) } : {}),
    ...(certPath ? { cert: readBinary('tls.cert', certPath) } : {}),
    ...(keyPath ? { key: readBinary('tls.key', keyPath) } : {}),
    insecureSkipVerify: tlsRaw.insecure_skip_verify === true,
  };

  const listenText = str('listen') ?? DEFAULTS.listen;
  const colon = listenText.lastIndexOf(':');
  const listenHost = listenText.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const listenPort = Number(listenText.slice(colon + 1));
  if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) {
    throw new ConfigError(
      `${describeKey('listen')}: value ${JSON.stringify(listenText)} is not allowed; expected HOST:PORT with a port from 0 to 65535`,
    );
  }

  const credentialsFile = str('credentials_file');
  let credentials = new Credentials([]);
  if (credentialsFile) {
    credentials = loadCredentials(credentialsFile, readFile, describeKey('credentials_file'));
  }
  // The global password belongs to the --redis-url target alone: /scrape never
  // sends it anywhere else (redis_exporter does, in clear text, to any target).
  if (redisTarget && (redisAuth.password || redisAuth.username)) {
    credentials = credentials.withExact(redisTarget, redisAuth);
  }

  const hotKeysRaw = (raw.hotkeys ?? {}) as Raw;
  const secretFile = hotKeysRaw.secret_file as string | undefined;
  const redactionSecret =
    secretFile !== undefined
      ? readSecretFile('hotkeys.secret_file', secretFile)
      : env[HOTKEYS_SECRET_ENV] || undefined;
  if (redactionSecret !== undefined && redactionSecret.length < MIN_REDACTION_SECRET_LENGTH) {
    const origin =
      secretFile !== undefined ? describeKey('hotkeys.secret_file') : HOTKEYS_SECRET_ENV;
    throw new ConfigError(
      `${origin}: the redaction secret must be at least ${MIN_REDACTION_SECRET_LENGTH} characters (not shown)`,
    );
  }
  const hotKeys = hotKeysConfig(hotKeysRaw, describeKey, redactionSecret);

  const webConfigFile = str('web_config_file');
  const webConfig = webConfigFile
    ? loadWebConfig(webConfigFile, readFile, describeKey('web_config_file'))
    : undefined;

  return {
    ...(redisTarget ? { redisTarget } : {}),
    redisAuth,
    sentinels,
    ...(masterName ? { masterName } : {}),
    listen: { host: listenHost, port: listenPort },
    allowTargets: (raw.allow_targets as string[] | undefined) ?? [],
    tls,
    credentials,
    ...(webConfig ? { webConfig } : {}),
    scrapeTimeoutSeconds:
      (raw.scrape_timeout_seconds as number | undefined) ?? DEFAULTS.scrapeTimeoutSeconds,
    clientNameCap: (raw.client_name_cap as number | undefined) ?? DEFAULTS.clientNameCap,
    logLevel: str('log_level') ?? DEFAULTS.logLevel,
    hotKeys,
    optIn: optInConfig(raw, describeKey, readFile),
    ...(redactionSecret !== undefined ? { redactionSecret } : {}),
    ...(hotKeysRaw.redaction_patterns !== undefined
      ? { redactionPatterns: hotKeysRaw.redaction_patterns as string[] }
      : {}),
  };
}

/** `hotkeys.redaction_patterns`, checked: the clients' patterns, so exported key names get their labels. */
function redactionPatterns(
  raw: Raw,
  describeKey: (path: string) => string,
): readonly string[] | undefined {
  const patterns = raw.redaction_patterns as string[] | undefined;
  if (patterns === undefined) return undefined;
  try {
    compileRedactionPatterns(patterns);
  } catch (error) {
    if (!(error instanceof RedactionPatternError)) throw error;
    throw new ConfigError(`${describeKey('hotkeys.redaction_patterns')}: ${error.message}`);
  }
  return patterns;
}

/** `hotkeys`, with the redaction secret checked only when the LFU sampler needs it. */
function hotKeysConfig(
  raw: Raw,
  describeKey: (path: string) => string,
  secret: string | undefined,
): HotKeysConfig {
  const top = (raw.top as number | undefined) ?? DEFAULTS.hotKeysTop;
  const patterns = redactionPatterns(raw, describeKey);
  const lfu = (raw.lfu ?? {}) as Raw;
  if (lfu.enabled !== true) return { top };
  if (secret === undefined) {
    throw new ConfigError(
      `${describeKey('hotkeys.lfu.enabled')}: the LFU sampler redacts key names with the clients' secret; ` +
        `give --hotkeys-secret-file FILE or env ${HOTKEYS_SECRET_ENV}`,
    );
  }
  const defaults = DEFAULTS.hotKeysLfu;
  return {
    top,
    lfu: {
      sampleKeys: (lfu.sample_keys as number | undefined) ?? defaults.sampleKeys,
      scanCount: (lfu.scan_count as number | undefined) ?? defaults.scanCount,
      top: (lfu.top as number | undefined) ?? defaults.top,
      budgetMs: ((lfu.budget_seconds as number | undefined) ?? defaults.budgetSeconds) * 1000,
      secret,
      ...(patterns !== undefined ? { patterns } : {}),
    },
  };
}
