// The public surface of `redscope/client`. Everything else in this folder is internal;
// the OpenTelemetry plumbing for apps that build their own SDK is `redscope/client/otel`.
// test/client/public-surface.test.ts fails when this list changes by accident.

export type {
  ClusterClientsConfig,
  ClusterConfig,
  RedisClientsConfig,
  TlsConfig,
} from './connection/config.js';
export { RedisConnectError } from './connection/connect-errors.js';
export {
  type ClientOptions,
  createRedisClients,
  type RedisClients,
} from './connection/create-redis-clients.js';
export type { DurableWriteOptions } from './connection/durable-write.js';
export type { ReadClient } from './connection/read-client.js';
export { clientConfigFromEnv } from './env-config.js';
export { ConfigError, DurableWriteError, TelemetryUnavailableError } from './errors.js';
export type { HotKeySnapshot } from './hotkeys/hot-keys.js';
export type { HotKeyOptions } from './hotkeys/hotkey-options.js';
export {
  instrumentRedis,
  type RedisInstrumentation,
} from './instrumentation/instrumentation.js';
export { requestContextMiddleware } from './logging/express-middleware.js';
export { createLogger, createRollingFileDestination, type Logger } from './logging/logger.js';
export { runWithRequestContext, setRequestIdentity } from './logging/request-context.js';
export {
  createSessionCache,
  type SessionCache,
  type SessionCacheOptions,
  type SessionRecord,
  type SessionValidation,
} from './session/session-cache.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry/telemetry.js';
export type {
  UsageOptions,
  WarmingResult,
  WarmingRun,
  WarmOptions,
} from './warming/types.js';
