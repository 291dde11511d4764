import type { Redis } from 'ioredis';
import { WARMING_PREFIX } from '../common/warming-status.js';
import { ConfigError } from '../errors.js';
import type { UsageOptions, WarmOptions, WarmSource } from './types.js';

/** Every default of the usage record and the warmer, in one place. */
export const WARMING_DEFAULTS = {
  /** One command in eight: about 70 ns per command on the command path, against 420 ns for all. */
  sampleRate: 1 / 8,
  /** Keys per namespace in Redis: 16.8 MB at 76-byte key names (168 bytes a key, MEMORY USAGE). */
  maxKeys: 100_000,
  /** Per process: a flush is one pipeline per namespace, so the record costs Redis little. */
  flushIntervalMs: 10_000,
  /** Ranks by the last few hours of use. */
  halfLifeSeconds: 3600,
  /** The usage record's top keys warmed when no `keys` are given. */
  limit: 10_000,
  /** Keys per second: about 200 pipelines of 100 SETs a second, a few % of one Redis core. */
  ratePerSecond: 2000,
  /** Keys per pipeline. */
  batchSize: 100,
  /** Pipelines in flight: one loads while the other writes. */
  concurrency: 2,
  /** Progress line and status update period. */
  progressEveryMs: 2000,
  /** One loader attempt; then it is retried with backoff. */
  loadTimeoutMs: 5000,
} as const;

/** Namespaces one client records: each recorded key is compared with each of them. */
const MAX_NAMESPACES = 32;
/** Largest plan: 1M key names is about 80 MB in the process. */
const MAX_PLAN = 1_000_000;

export interface ResolvedUsageOptions {
  readonly namespaces: readonly string[];
  readonly sampleRate: number;
  readonly maxKeys: number;
  readonly flushIntervalMs: number;
  readonly halfLifeMs: number;
}

export type ResolvedWarmSource =
  | {
      readonly kind: 'loader';
      readonly load: Extract<WarmSource, { kind: 'loader' }>['load'];
      readonly ttlMs: number;
      readonly timeoutMs: number;
      readonly guardKey: string | ((key: string) => string) | undefined;
    }
  | { readonly kind: 'redis'; readonly from: Redis };

export interface ResolvedWarmOptions {
  readonly namespace: string;
  readonly source: ResolvedWarmSource;
  /** undefined: the usage record's top `limit`. */
  readonly keys: readonly string[] | undefined;
  readonly limit: number;
  readonly ratePerSecond: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly targetHitRate: WarmOptions['targetHitRate'];
  readonly progressEveryMs: number;
}

function number(
  option: string,
  value: unknown,
  fallback: number,
  check: { min: number; max: number; integer?: boolean; above?: boolean },
): number {
  const resolved = value ?? fallback;
  const ok =
    typeof resolved === 'number' &&
    Number.isFinite(resolved) &&
    (check.above === true ? resolved > check.min : resolved >= check.min) &&
    resolved <= check.max &&
    (check.integer !== true || Number.isInteger(resolved));
  if (!ok) {
    const low = check.above === true ? `> ${check.min}` : `>= ${check.min}`;
    throw new ConfigError(
      option,
      `must be ${check.integer === true ? 'an integer' : 'a number'} ${low} and <= ${check.max}, got ${String(value)}`,
    );
  }
  return resolved as number;
}

function namespaceProblem(namespace: unknown): string | undefined {
  if (typeof namespace !== 'string' || namespace.length === 0) {
    return `must be a non-empty key prefix such as 'app:session:', got ${JSON.stringify(namespace)}`;
  }
  if (namespace.length > 512) return 'must be at most 512 characters';
  if (namespace.startsWith('redscope:{')) {
    return `is redscope's own reserved prefix (${WARMING_PREFIX}...): pick the prefix of the app's keys`;
  }
  return undefined;
}

/**
 * Checks the usage option once, where the client is created: a bad value
 * throws ConfigError naming it, before any connection or timer.
 */
export function resolveUsageOptions(options: UsageOptions): ResolvedUsageOptions {
  const namespaces = options.namespaces;
  if (!Array.isArray(namespaces) || namespaces.length === 0) {
    throw new ConfigError('usage.namespaces', 'must list at least one key prefix to record');
  }
  if (namespaces.length > MAX_NAMESPACES) {
    throw new ConfigError('usage.namespaces', `may list at most ${MAX_NAMESPACES} prefixes`);
  }
  namespaces.forEach((namespace, i) => {
    const problem = namespaceProblem(namespace);
    if (problem !== undefined) throw new ConfigError(`usage.namespaces[${i}]`, problem);
    if (namespaces.indexOf(namespace) !== i) {
      throw new ConfigError(`usage.namespaces[${i}]`, `repeats ${JSON.stringify(namespace)}`);
    }
  });
  return {
    namespaces: [...namespaces],
    sampleRate: number('usage.sampleRate', options.sampleRate, WARMING_DEFAULTS.sampleRate, {
      min: 0,
      max: 1,
      above: true,
    }),
    maxKeys: number('usage.maxKeys', options.maxKeys, WARMING_DEFAULTS.maxKeys, {
      min: 1,
      max: 10_000_000,
      integer: true,
    }),
    flushIntervalMs: number(
      'usage.flushIntervalMs',
      options.flushIntervalMs,
      WARMING_DEFAULTS.flushIntervalMs,
      { min: 100, max: 3_600_000 },
    ),
    halfLifeMs:
      number('usage.halfLifeSeconds', options.halfLifeSeconds, WARMING_DEFAULTS.halfLifeSeconds, {
        min: 60,
        max: 30 * 86_400,
      }) * 1000,
  };
}

function resolveSource(source: WarmSource | undefined): ResolvedWarmSource {
  if (typeof source !== 'object' || source === null) {
    throw new ConfigError(
      'source',
      "must be { kind: 'loader', load, ttlSeconds } or { kind: 'redis', from }",
    );
  }
  if (source.kind === 'loader') {
    if (typeof source.load !== 'function') {
      throw new ConfigError(
        'source.load',
        'must be a function (keys) => Promise<Map<key, value | null>>',
      );
    }
    const guard = source.guardKey;
    if (guard !== undefined && typeof guard !== 'string' && typeof guard !== 'function') {
      throw new ConfigError(
        'source.guardKey',
        'must be a key name, or a function (key) => key name',
      );
    }
    const ttlSeconds = number('source.ttlSeconds', source.ttlSeconds, Number.NaN, {
      min: 0.001,
      max: 10 * 365 * 86_400,
    });
    return {
      kind: 'loader',
      load: source.load,
      ttlMs: Math.round(ttlSeconds * 1000),
      timeoutMs: number('source.timeoutMs', source.timeoutMs, WARMING_DEFAULTS.loadTimeoutMs, {
        min: 1,
        max: 600_000,
      }),
      guardKey: source.guardKey,
    };
  }
  if (source.kind === 'redis') {
    const from = source.from as Partial<Redis> | undefined;
    if (typeof from?.pipeline !== 'function') {
      throw new ConfigError('source.from', 'must be an ioredis client of the warm Redis');
    }
    return { kind: 'redis', from: source.from };
  }
  throw new ConfigError(
    'source.kind',
    `must be 'loader' or 'redis', got ${JSON.stringify((source as { kind?: unknown }).kind)}`,
  );
}

/**
 * Checks the options of one warm() call. `recorded`: the namespaces this
 * client records usage for, when it records any: a plan from the usage
 * record of another namespace is then most likely a typo.
 */
export function resolveWarmOptions(
  options: WarmOptions,
  recorded: readonly string[] | undefined,
): ResolvedWarmOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('warm', 'needs an options object { namespace, source }');
  }
  const { namespace } = options;
  const problem = namespaceProblem(namespace);
  if (problem !== undefined) throw new ConfigError('namespace', problem);
  const source = resolveSource(options.source);
  let keys: string[] | undefined;
  if (options.keys !== undefined) {
    if (!Array.isArray(options.keys)) throw new ConfigError('keys', 'must be an array of keys');
    if (options.keys.length > MAX_PLAN) {
      throw new ConfigError('keys', `may hold at most ${MAX_PLAN} keys`);
    }
    const seen = new Set<string>();
    keys = [];
    options.keys.forEach((key, i) => {
      if (
        typeof key !== 'string' ||
        !key.startsWith(namespace) ||
        key.length === namespace.length
      ) {
        throw new ConfigError(
          `keys[${i}]`,
          `${JSON.stringify(String(key).slice(0, 80))} is outside the namespace ${JSON.stringify(namespace)}: only its keys are warmed`,
        );
      }
      if (!seen.has(key)) {
        seen.add(key);
        keys?.push(key);
      }
    });
  } else if (recorded !== undefined && !recorded.includes(namespace)) {
    throw new ConfigError(
      'namespace',
      `${JSON.stringify(namespace)} is not one of usage.namespaces (${recorded.map((n) => JSON.stringify(n)).join(', ')}): no usage record ranks it; record it, or give the keys`,
    );
  }
  const target = options.targetHitRate;
  if (target !== undefined) {
    number('targetHitRate.ratio', target?.ratio, Number.NaN, { min: 0, max: 1, above: true });
    if (typeof target.current !== 'function') {
      throw new ConfigError('targetHitRate.current', 'must be a function returning the hit rate');
    }
  }
  return {
    namespace,
    source,
    keys,
    limit: number('limit', options.limit, WARMING_DEFAULTS.limit, {
      min: 1,
      max: MAX_PLAN,
      integer: true,
    }),
    ratePerSecond: number('ratePerSecond', options.ratePerSecond, WARMING_DEFAULTS.ratePerSecond, {
      min: 0,
      max: 1_000_000,
      above: true,
    }),
    batchSize: number('batchSize', options.batchSize, WARMING_DEFAULTS.batchSize, {
      min: 1,
      max: 10_000,
      integer: true,
    }),
    concurrency: number('concurrency', options.concurrency, WARMING_DEFAULTS.concurrency, {
      min: 1,
      max: 64,
      integer: true,
    }),
    targetHitRate: target,
    progressEveryMs: number(
      'progressEveryMs',
      options.progressEveryMs,
      WARMING_DEFAULTS.progressEveryMs,
      { min: 100, max: 600_000 },
    ),
  };
}
