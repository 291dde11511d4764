import { HOTKEY_TOP_CAP } from '../common/hotkey-report.js';
import { processIdentity } from '../common/instance-id.js';
import {
  compileRedactionPatterns,
  DEFAULT_REDACTION_PATTERNS,
  MIN_REDACTION_SECRET_LENGTH,
  RedactionPatternError,
} from '../common/key-redaction.js';
import { ConfigError } from '../errors.js';
import { sketchLayout } from './top-k.js';

/** The environment variable that holds the redaction secret when the options do not. */
export const HOTKEYS_SECRET_ENV = 'REDSCOPE_HOTKEYS_SECRET';

/**
 * Hot-key detection, the fleet-wide reports and the near-cache. Giving this
 * object switches detection and reports on; the near-cache is a further opt-in.
 */
export interface HotKeyOptions {
  /**
   * A key is hot at this many accesses (reads and writes) per minute in this process.
   * @default 1000
   */
  readonly thresholdPerMinute?: number;
  /**
   * Keys counted exactly (k): the top list and the near-cache choose among them.
   * @default 128
   */
  readonly trackedKeys?: number;
  /**
   * Accesses older than this no longer count: a key that stops drops out after it.
   * @default 60
   */
  readonly windowSeconds?: number;
  /**
   * Memory the sketch may hold, key names included.
   * @default 65536
   */
  readonly memoryBytes?: number;
  /** Key names in reports, metrics and logs pass this redaction first. */
  readonly redaction?: {
    /**
     * HMAC secret for the hashed parts, at least 16 characters, the same in every
     * process of the deployment (so their reports merge).
     * @default process.env.REDSCOPE_HOTKEYS_SECRET (required one way or the other)
     */
    readonly secret?: string;
    /**
     * Globs whose `*` parts are secret (`user:*:token`), or `/regex/` whose groups are;
     * token-looking segments (long hex, UUIDs, base64url) are hashed whatever the list.
     * @default ['session:*']
     */
    readonly patterns?: readonly string[];
  };
  /** The report this process publishes to Redis for the exporter and `redscope hotkeys`. */
  readonly report?: {
    /** @default true */
    readonly enabled?: boolean;
    /** @default 5000 (at least 1000) */
    readonly intervalMs?: number;
    /** Keys per report. @default 20 (at most 100) */
    readonly top?: number;
    /** Names the process in the report (`<service>@<host>:<pid>`). @default process.env.OTEL_SERVICE_NAME, else 'app' */
    readonly service?: string;
  };
  /**
   * Keys in this process's own `redscope_client_hotkey_*` series.
   * @default 10 (at most 100)
   */
  readonly metricsTop?: number;
  /** Serve reads of hot keys from memory, kept correct by Redis' invalidation messages. */
  readonly nearCache?: {
    /** @default false */
    readonly enabled?: boolean;
    /** Hard cap on how long an entry lives, whatever the invalidations say. @default 2000 (1000..5000) */
    readonly ttlMs?: number;
    /** @default 1000 */
    readonly maxEntries?: number;
    /** @default 4194304 (4 MiB) */
    readonly maxBytes?: number;
  };
}

export interface ResolvedHotKeyOptions {
  readonly thresholdPerMinute: number;
  readonly trackedKeys: number;
  readonly windowMs: number;
  readonly memoryBytes: number;
  readonly secret: string;
  readonly patterns: readonly string[];
  readonly report: {
    readonly enabled: boolean;
    readonly intervalMs: number;
    readonly top: number;
    readonly service: string;
    readonly instance: string;
  };
  readonly metricsTop: number;
  readonly nearCache:
    | { readonly ttlMs: number; readonly maxEntries: number; readonly maxBytes: number }
    | undefined;
}

function number(
  option: string,
  value: number | undefined,
  fallback: number,
  check: { min: number; max?: number; integer?: boolean },
): number {
  const resolved = value ?? fallback;
  const ok =
    typeof resolved === 'number' &&
    Number.isFinite(resolved) &&
    resolved >= check.min &&
    (check.max === undefined || resolved <= check.max) &&
    (check.integer !== true || Number.isInteger(resolved));
  if (!ok) {
    const range = check.max === undefined ? `>= ${check.min}` : `${check.min}..${check.max}`;
    throw new ConfigError(
      `hotKeys.${option}`,
      `must be ${check.integer === true ? 'an integer' : 'a number'} ${range}, got ${String(value)}`,
    );
  }
  return resolved;
}

/**
 * Checks the hot-key options once, where the client is created: a bad value
 * throws ConfigError naming the option, before any connection or timer.
 */
export function resolveHotKeyOptions(
  options: HotKeyOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedHotKeyOptions {
  const thresholdPerMinute = number('thresholdPerMinute', options.thresholdPerMinute, 1000, {
    min: 1,
  });
  const trackedKeys = number('trackedKeys', options.trackedKeys, 128, {
    min: 1,
    max: 10_000,
    integer: true,
  });
  const windowSeconds = number('windowSeconds', options.windowSeconds, 60, {
    min: 1,
    max: 3600,
  });
  // Capped: every slot of the window walks the whole sketch.
  const memoryBytes = number('memoryBytes', options.memoryBytes, 65536, {
    min: 1024,
    max: 16 * 1024 * 1024,
  });
  const layout = sketchLayout({ trackedKeys, windowMs: windowSeconds * 1000, memoryBytes });
  if (memoryBytes < layout.minimumBytes) {
    throw new ConfigError(
      'hotKeys.memoryBytes',
      `${memoryBytes} is too small for ${trackedKeys} tracked keys; allow at least ${layout.minimumBytes} or track fewer keys`,
    );
  }
  const secret = options.redaction?.secret ?? env[HOTKEYS_SECRET_ENV];
  if (secret === undefined || secret.length < MIN_REDACTION_SECRET_LENGTH) {
    throw new ConfigError(
      'hotKeys.redaction.secret',
      `${secret === undefined ? 'is not set' : 'is too short'}: give at least ${MIN_REDACTION_SECRET_LENGTH} characters, the same in every process, in the option or in ${HOTKEYS_SECRET_ENV} (key names are hashed with it before they leave the process)`,
    );
  }
  const patterns = options.redaction?.patterns ?? DEFAULT_REDACTION_PATTERNS;
  try {
    compileRedactionPatterns(patterns);
  } catch (error) {
    if (error instanceof RedactionPatternError) {
      throw new ConfigError('hotKeys.redaction.patterns', error.message);
    }
    throw error;
  }
  const { service, instance } = processIdentity(
    'hotKeys.report.service',
    options.report?.service,
    env,
  );
  const near = options.nearCache;
  return {
    thresholdPerMinute,
    trackedKeys,
    windowMs: windowSeconds * 1000,
    memoryBytes,
    secret,
    patterns,
    report: {
      enabled: options.report?.enabled ?? true,
      intervalMs: number('report.intervalMs', options.report?.intervalMs, 5000, {
        min: 1000,
        max: 300_000,
      }),
      top: number('report.top', options.report?.top, 20, {
        min: 1,
        max: HOTKEY_TOP_CAP,
        integer: true,
      }),
      service,
      instance,
    },
    metricsTop: number('metricsTop', options.metricsTop, 10, {
      min: 1,
      max: HOTKEY_TOP_CAP,
      integer: true,
    }),
    nearCache:
      near?.enabled === true
        ? {
            ttlMs: number('nearCache.ttlMs', near.ttlMs, 2000, { min: 1000, max: 5000 }),
            maxEntries: number('nearCache.maxEntries', near.maxEntries, 1000, {
              min: 1,
              integer: true,
            }),
            maxBytes: number('nearCache.maxBytes', near.maxBytes, 4 * 1024 * 1024, {
              min: 1024,
              integer: true,
            }),
          }
        : undefined,
  };
}
