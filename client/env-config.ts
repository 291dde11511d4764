import type { Level } from 'pino';
import { ConfigError } from './errors.js';
import type { RollingFileOptions } from './logging/logger.js';
import type { TelemetryOptions, TraceExporterKind } from './telemetry/telemetry.js';

/** Everything the client reads from the environment, parsed once at start-up. */
export interface ClientConfig {
  readonly logLevel: Level | 'silent';
  /** Rotated log files instead of stdout, when REDSCOPE_LOG_FILE is set. */
  readonly logFile: RollingFileOptions | undefined;
  readonly slowCommandMs: number;
  readonly telemetry: Required<
    Pick<TelemetryOptions, 'enabled' | 'exporter' | 'sampleRatio' | 'serviceName'>
  > &
    Pick<TelemetryOptions, 'endpoint'>;
}

/** Defaults, one per setting. */
const CLIENT_CONFIG_DEFAULTS = {
  /** Info: lifecycle events and requests; commands only at debug or when slow. */
  logLevel: 'info' as Level,
  /** Rotate at 10 MiB ... */
  logFileSize: '10m',
  /** ... or daily, whichever comes first ... */
  logFileFrequency: 'daily' as const,
  /** ... and keep a week of files. */
  logFileKeep: 7,
  /** A command this slow is worth a warning on a healthy local network. */
  slowCommandMs: 100,
  tracing: true,
  exporter: 'otlp' as TraceExporterKind,
  sampleRatio: 1,
  serviceName: 'redscope-app',
};

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const EXPORTERS = ['otlp', 'zipkin', 'console'] as const;

type Env = Readonly<Record<string, string | undefined>>;

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = raw.toLowerCase() as T;
  if (!allowed.includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return value;
}

function number(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/**
 * Parses the client's environment variables (pass `process.env` at the edge
 * of the app): REDSCOPE_LOG_LEVEL, REDSCOPE_LOG_FILE (+ _SIZE, _FREQUENCY,
 * _KEEP), REDSCOPE_SLOW_COMMAND_MS, REDSCOPE_TRACING (on|off),
 * REDSCOPE_TRACING_SAMPLE_RATIO, REDSCOPE_TRACES_EXPORTER (otlp|zipkin|console),
 * REDSCOPE_TRACES_ENDPOINT, REDSCOPE_SERVICE_NAME. A bad value throws
 * ConfigError naming the variable.
 *
 * ```ts
 * const config = clientConfigFromEnv(process.env);
 * const telemetry = await startTelemetry(config.telemetry);
 * ```
 */
export function clientConfigFromEnv(env: Env): ClientConfig {
  const logFilePath = env.REDSCOPE_LOG_FILE?.trim();
  const frequency = oneOf(
    env,
    'REDSCOPE_LOG_FILE_FREQUENCY',
    ['daily', 'hourly'],
    CLIENT_CONFIG_DEFAULTS.logFileFrequency,
  );
  const size = env.REDSCOPE_LOG_FILE_SIZE?.trim() || CLIENT_CONFIG_DEFAULTS.logFileSize;
  if (!/^\d+[kmg]?$/i.test(size)) {
    throw new ConfigError(
      'REDSCOPE_LOG_FILE_SIZE',
      `must be a size like 500k, 10m or 1g, got "${size}"`,
    );
  }
  const keep = number(env, 'REDSCOPE_LOG_FILE_KEEP', CLIENT_CONFIG_DEFAULTS.logFileKeep, 1, 1000);
  if (!Number.isInteger(keep))
    throw new ConfigError('REDSCOPE_LOG_FILE_KEEP', `must be a whole number, got ${keep}`);
  const tracing = oneOf(
    env,
    'REDSCOPE_TRACING',
    ['on', 'off'],
    CLIENT_CONFIG_DEFAULTS.tracing ? 'on' : 'off',
  );
  const endpoint = env.REDSCOPE_TRACES_ENDPOINT?.trim() || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
    throw new ConfigError('REDSCOPE_TRACES_ENDPOINT', `must be an http(s) URL, got "${endpoint}"`);
  }
  return {
    logLevel: oneOf(env, 'REDSCOPE_LOG_LEVEL', LEVELS, CLIENT_CONFIG_DEFAULTS.logLevel),
    logFile: logFilePath ? { file: logFilePath, size, frequency, keep } : undefined,
    slowCommandMs: number(
      env,
      'REDSCOPE_SLOW_COMMAND_MS',
      CLIENT_CONFIG_DEFAULTS.slowCommandMs,
      0,
      3_600_000,
    ),
    telemetry: {
      enabled: tracing === 'on',
      exporter: oneOf(env, 'REDSCOPE_TRACES_EXPORTER', EXPORTERS, CLIENT_CONFIG_DEFAULTS.exporter),
      endpoint,
      sampleRatio: number(
        env,
        'REDSCOPE_TRACING_SAMPLE_RATIO',
        CLIENT_CONFIG_DEFAULTS.sampleRatio,
        0,
        1,
      ),
      serviceName: env.REDSCOPE_SERVICE_NAME?.trim() || CLIENT_CONFIG_DEFAULTS.serviceName,
    },
  };
}
