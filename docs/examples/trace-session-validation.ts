import { trace } from '@opentelemetry/api';
import {
  createRedisClients,
  createSessionCache,
  type RedisClientsConfig,
  startTelemetry,
} from '../../client/index.js';

/**
 * Exports the trace of one session validation over OTLP/HTTP: a parent span
 * standing in for the HTTP request, `session.validate` under it, and one span
 * per Redis command or pipeline under that.
 */
export async function traceOneValidation(
  redisConfig: RedisClientsConfig,
  otlpEndpoint: string,
): Promise<void> {
  // First the SDK, then the clients: spans need the provider it registers.
  const telemetry = await startTelemetry({
    serviceName: 'example-app',
    endpoint: otlpEndpoint, // e.g. http://otel-collector:4318/v1/traces
    sampleRatio: 1,
  });
  const clients = createRedisClients(redisConfig);
  const sessions = createSessionCache(clients, {
    keyPrefix: 'example:',
    // Your database of record; called only when Redis does not have the session.
    loader: async (id) => (id === 'token-1' ? { userId: 'u-1', orgId: 'acme' } : null),
  });
  try {
    await trace.getTracer('example-app').startActiveSpan('GET /profile', async (span) => {
      const result = await sessions.validate('token-1');
      span.setAttribute('http.response.status_code', result.valid ? 200 : 401);
      span.end();
    });
  } finally {
    await clients.close();
    await telemetry.shutdown(); // flushes the spans still in the batch
  }
}
