import { Registry } from 'prom-client';
import {
  clientConfigFromEnv,
  createLogger,
  createRedisClients,
  createRollingFileDestination,
  type RedisClientsConfig,
  startTelemetry,
} from '../../client/index.js';

/**
 * Everything from the environment, parsed once at start-up: log level and
 * optional rotated files, tracing on/off, sampling, exporter and endpoint.
 * A bad value throws ConfigError naming the variable.
 */
export async function startFromEnv(
  env: Record<string, string | undefined>,
  redisConfig: RedisClientsConfig,
) {
  const config = clientConfigFromEnv(env);
  const destination = config.logFile
    ? await createRollingFileDestination(config.logFile)
    : undefined;
  const logger = createLogger({ level: config.logLevel, destination });
  const telemetry = await startTelemetry(config.telemetry);
  const registry = new Registry(); // serve it at /metrics
  const clients = createRedisClients(redisConfig, {
    registry,
    logger,
    slowCommandMs: config.slowCommandMs,
    tracing: { enabled: config.telemetry.enabled },
  });
  return {
    clients,
    registry,
    logger,
    async stop() {
      await clients.close();
      await telemetry.shutdown();
    },
  };
}
