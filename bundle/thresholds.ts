import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type JSONSchemaType } from 'ajv';
import yaml from 'js-yaml';

/** A Prometheus duration as rules accept it (`0s`, `30s`, `2m`, `1h`). */
export type Duration = string;

export interface AlertTiming {
  readonly for: Duration;
  readonly keepFiringFor?: Duration;
}

/** Scrape job names: rules select on them, dashboards filter by them, prometheus.yml defines them. */
export interface Jobs {
  readonly redis: string;
  readonly sentinel: string;
  readonly exporter: string;
  readonly apps: string;
  /** Alertmanager's own metrics (the silences the dashboards mark). */
  readonly alertmanager: string;
}

/** The typed view of prometheus/thresholds.yaml; the YAML's comments say what each knob does. */
export interface Thresholds {
  readonly links: { readonly runbookBaseUrl: string; readonly grafanaUrl: string };
  readonly jobs: Jobs;
  readonly sentinelQuorum: number;
  readonly defaultKeepFiringFor: Duration;
  readonly alerts: {
    readonly RedisDown: AlertTiming;
    readonly RedscopeExporterDown: AlertTiming;
    readonly RedisNoMaster: AlertTiming;
    readonly RedisFailover: AlertTiming & { readonly window: Duration };
    readonly RedisSentinelQuorumLost: AlertTiming;
    readonly RedisSentinelDown: AlertTiming;
    readonly RedisClientSentinelsUnheard: AlertTiming;
    readonly RedisClientDurableWritesFenced: AlertTiming;
    readonly RedisReplicaLinkDown: AlertTiming;
    readonly RedisReplicationLagHigh: AlertTiming & { readonly seconds: number };
    readonly RedisMemoryNearMax: AlertTiming & { readonly ratio: number };
    readonly RedisEvictions: AlertTiming & { readonly perSecond: number };
    readonly RedisRejectedConnections: AlertTiming & { readonly count: number };
    readonly RedisClientsNearMax: AlertTiming & { readonly ratio: number };
    readonly RedisHitRateLow: AlertTiming & {
      readonly ratio: number;
      readonly minLookupsPerSecond: number;
    };
    readonly RedisLatencyHigh: AlertTiming & { readonly seconds: number };
    readonly RedisServerLatencyHigh: AlertTiming & { readonly seconds: number };
    readonly RedisErrorRateHigh: AlertTiming & { readonly ratio: number };
    readonly RedisTLSCertificateExpiringSoon: AlertTiming & { readonly days: number };
    readonly RedisTLSCertificateExpiryImminent: AlertTiming & { readonly days: number };
    readonly RedisPersistenceFailing: AlertTiming;
    readonly RedscopeExporterScrapeErrors: AlertTiming & { readonly ratio: number };
    readonly RedisHotKey: AlertTiming;
    readonly RedisHotKeyNearCacheIneffective: AlertTiming;
    readonly RedisCacheWarmingFailed: AlertTiming;
    readonly RedisCacheWarmingStalled: AlertTiming & { readonly seconds: number };
    readonly RedisClusterStateNotOk: AlertTiming;
    readonly RedisClusterSlotsFailing: AlertTiming;
    readonly RedisClusterSlotsPFail: AlertTiming;
    readonly RedisClusterShardMasterDown: AlertTiming;
    readonly RedisClusterShardWithoutReplica: AlertTiming;
    readonly RedisClusterFailover: AlertTiming & { readonly window: Duration };
  };
}

export type AlertName = keyof Thresholds['alerts'];

const duration = { type: 'string', pattern: '^(0|[0-9]+(ms|s|m|h|d|w|y))+$' } as const;
const ratio = { type: 'number', minimum: 0, maximum: 1 } as const;
const nonNegative = { type: 'number', minimum: 0 } as const;
/** Whole seconds that go into a PromQL range (`[120s]`), which takes no fraction and no 0. */
const rangeSeconds = { type: 'integer', minimum: 1 } as const;

/** An alert entry: `for`, optional `keepFiringFor`, plus the named numeric knobs. */
function timing<K extends string>(
  knobs: Record<K, typeof ratio | typeof nonNegative | typeof rangeSeconds | typeof duration>,
) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['for', ...Object.keys(knobs)],
    properties: { for: duration, keepFiringFor: { ...duration, nullable: true }, ...knobs },
  } as const;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['links', 'jobs', 'sentinelQuorum', 'defaultKeepFiringFor', 'alerts'],
  properties: {
    links: {
      type: 'object',
      additionalProperties: false,
      required: ['runbookBaseUrl', 'grafanaUrl'],
      properties: {
        runbookBaseUrl: { type: 'string', pattern: '^https?://[^\\s]+[^/\\s]$' },
        grafanaUrl: { type: 'string', pattern: '^https?://[^\\s]+[^/\\s]$' },
      },
    },
    jobs: {
      type: 'object',
      additionalProperties: false,
      required: ['redis', 'sentinel', 'exporter', 'apps', 'alertmanager'],
      properties: {
        redis: { type: 'string', minLength: 1 },
        sentinel: { type: 'string', minLength: 1 },
        exporter: { type: 'string', minLength: 1 },
        apps: { type: 'string', minLength: 1 },
        alertmanager: { type: 'string', minLength: 1 },
      },
    },
    sentinelQuorum: { type: 'integer', minimum: 1 },
    defaultKeepFiringFor: duration,
    alerts: {
      type: 'object',
      additionalProperties: false,
      required: [
        'RedisDown',
        'RedscopeExporterDown',
        'RedisNoMaster',
        'RedisFailover',
        'RedisSentinelQuorumLost',
        'RedisSentinelDown',
        'RedisClientSentinelsUnheard',
        'RedisClientDurableWritesFenced',
        'RedisReplicaLinkDown',
        'RedisReplicationLagHigh',
        'RedisMemoryNearMax',
        'RedisEvictions',
        'RedisRejectedConnections',
        'RedisClientsNearMax',
        'RedisHitRateLow',
        'RedisLatencyHigh',
        'RedisServerLatencyHigh',
        'RedisErrorRateHigh',
        'RedisTLSCertificateExpiringSoon',
        'RedisTLSCertificateExpiryImminent',
        'RedisPersistenceFailing',
        'RedscopeExporterScrapeErrors',
        'RedisHotKey',
        'RedisHotKeyNearCacheIneffective',
        'RedisCacheWarmingFailed',
        'RedisCacheWarmingStalled',
        'RedisClusterStateNotOk',
        'RedisClusterSlotsFailing',
        'RedisClusterSlotsPFail',
        'RedisClusterShardMasterDown',
        'RedisClusterShardWithoutReplica',
        'RedisClusterFailover',
      ],
      properties: {
        RedisDown: timing({}),
        RedscopeExporterDown: timing({}),
        RedisNoMaster: timing({}),
        RedisFailover: timing({ window: duration }),
        RedisSentinelQuorumLost: timing({}),
        RedisSentinelDown: timing({}),
        RedisClientSentinelsUnheard: timing({}),
        RedisClientDurableWritesFenced: timing({}),
        RedisReplicaLinkDown: timing({}),
        RedisReplicationLagHigh: timing({ seconds: nonNegative }),
        RedisMemoryNearMax: timing({ ratio }),
        RedisEvictions: timing({ perSecond: nonNegative }),
        RedisRejectedConnections: timing({ count: nonNegative }),
        RedisClientsNearMax: timing({ ratio }),
        RedisHitRateLow: timing({ ratio, minLookupsPerSecond: nonNegative }),
        RedisLatencyHigh: timing({ seconds: nonNegative }),
        RedisServerLatencyHigh: timing({ seconds: nonNegative }),
        RedisErrorRateHigh: timing({ ratio }),
        RedisTLSCertificateExpiringSoon: timing({ days: nonNegative }),
        RedisTLSCertificateExpiryImminent: timing({ days: nonNegative }),
        RedisPersistenceFailing: timing({}),
        RedscopeExporterScrapeErrors: timing({ ratio }),
        RedisHotKey: timing({}),
        RedisHotKeyNearCacheIneffective: timing({}),
        RedisCacheWarmingFailed: timing({}),
        RedisCacheWarmingStalled: timing({ seconds: rangeSeconds }),
        RedisClusterStateNotOk: timing({}),
        RedisClusterSlotsFailing: timing({}),
        RedisClusterSlotsPFail: timing({}),
        RedisClusterShardMasterDown: timing({}),
        RedisClusterShardWithoutReplica: timing({}),
        RedisClusterFailover: timing({ window: duration }),
      },
    },
  },
} as const;

/** Thrown when thresholds.yaml is not what the generators can use; the message names the knob. */
export class InvalidThresholdsError extends Error {
  constructor(file: string, problems: string) {
    super(`${file} is not a valid thresholds file: ${problems}`);
    this.name = 'InvalidThresholdsError';
  }
}

const validate = new Ajv({ allErrors: true }).compile(
  schema as unknown as JSONSchemaType<Thresholds>,
);

/** Parses and validates thresholds YAML text; `file` only names the source in errors. */
export function parseThresholds(text: string, file = 'thresholds.yaml'): Thresholds {
  const data: unknown = yaml.load(text);
  if (!validate(data)) {
    const problems = (validate.errors ?? [])
      .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new InvalidThresholdsError(file, problems);
  }
  return data;
}

/**
 * The one thresholds file of the bundle, in the source tree. Only the generators and the
 * tests read it (through `npm run generate` and vitest, never from dist/), so it is found
 * next to this module rather than through the package root the launcher uses.
 */
export const THRESHOLDS_FILE = fileURLToPath(
  new URL('../prometheus/thresholds.yaml', import.meta.url),
);

export function loadThresholds(file: string = THRESHOLDS_FILE): Thresholds {
  return parseThresholds(readFileSync(file, 'utf8'), file);
}
