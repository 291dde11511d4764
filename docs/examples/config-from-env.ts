import { Registry } from 'prom-client';
import {
  clientConfigFromEnv,
  createLogger,
  createRollingFileDestination,
  instrumentRedis,
  type RedisPair,
  startTelemetry,
} from '../../client/index.js';

/**
 * Everything from the environment, parsed once at start-up: log level and
 * optional rotated files, tracing on/off, sampling, exporter and endpoint.
 * A bad value throws ClientConfigError naming the variable.
 */
export async function startFromEnv(env: Record<string, string | undefined>, redisPair: RedisPair) {
  const config = clientConfigFromEnv(env);
  const destination = config.logFile
    ? await createRollingFileDestination(config.logFile)
    : undefined;
  const logger = createLogger({ level: config.logLevel, destination });
  const telemetry = await startTelemetry(config.telemetry);
  const registry = new Registry(); // serve it at /metrics
  const redis = instrumentRedis(redisPair, {
    registry,
    logger,
    slowCommandMs: config.slowCommandMs,
    tracing: { enabled: config.telemetry.enabled },
  });
  return {
    redis,
    registry,
    logger,
    async stop() {
      redis.close();
      await telemetry.shutdown();
    },
  };
}
