import { Registry } from 'prom-client';
import { createRedisClients, type RedisClientsConfig } from '../../client/index.js';

/**
 * Hot-key detection with the near-cache on: keys read or written more than
 * 1,000 times a minute in this process are reported (redacted) to Redis every
 * 5 s for the exporter, shown on this registry, and their reads are answered
 * from memory, kept correct by Redis' invalidation messages.
 */
export async function startWithHotKeys(redisConfig: RedisClientsConfig, secret: string) {
  const registry = new Registry(); // serve it at /metrics
  const clients = createRedisClients(redisConfig, {
    registry,
    hotKeys: {
      // The same secret in every process (or REDSCOPE_HOTKEYS_SECRET), so reports merge.
      redaction: { secret },
      nearCache: { enabled: true, ttlMs: 2000 },
    },
  });
  await clients.ready();
  return { clients, registry };
}
