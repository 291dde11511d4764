// The public surface of `redscope/client`: everything else in this folder is internal.
export {
  type ExportableSpan,
  registerSpanPipeline,
  type SpanEvent,
  type SpanPipeline,
} from './command-spans.js';
export { CLIENT_CONFIG_DEFAULTS, type ClientConfig, clientConfigFromEnv } from './config.js';
export * from './connection/index.js';
export {
  ClientConfigError,
  SessionWriteNotDurableError,
  TelemetryUnavailableError,
} from './errors.js';
export { type RequestContextOptions, requestContext } from './express-middleware.js';
export {
  type InstrumentedRedis,
  type InstrumentOptions,
  instrumentRedis,
  type RedisPair,
  type TracingOptions,
} from './instrument.js';
export {
  createLogger,
  createRollingFileDestination,
  DEFAULT_REDACTED_KEYS,
  type Logger,
  type LoggerOptions,
  type RollingFileOptions,
} from './logger.js';
export { CLIENT_METRIC_NAMES } from './metrics.js';
export { keyShape, sanitizeQueryText } from './query-text.js';
export {
  correlationIdFrom,
  currentRequestContext,
  hashSessionId,
  type RequestContext,
  runWithRequestContext,
  setRequestIdentity,
} from './request-context.js';
export { TraceIdRatioSampler } from './sampling.js';
export {
  createSessionCache,
  type DurableWrite,
  type SessionCache,
  type SessionCacheOptions,
  type SessionLoader,
  type SessionRecord,
  type SessionSource,
  type SessionValidation,
  waitForReplicas,
} from './session-cache.js';
export {
  PooledIdGenerator,
  startTelemetry,
  TELEMETRY_DEFAULTS,
  type Telemetry,
  type TelemetryOptions,
  type TraceExporterKind,
  tracerSettings,
} from './telemetry.js';
