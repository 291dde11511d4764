import {
  createRedisClients,
  createSessionCache,
  type RedisClients,
  type RedisClientsConfig,
  type SessionRecord,
  type WarmingResult,
} from '../../client/index.js';

/** What warming needs from your database. */
export interface Database {
  findSession(id: string): Promise<SessionRecord | null>;
  /** Sessions by the SHA-256 (hex) of their token: how you store them if you store tokens hashed. */
  findSessionsByTokenHash(hashes: readonly string[]): Promise<Map<string, SessionRecord>>;
  bestSellerIds(count: number): Promise<string[]>;
  /** The products of these ids, in order; undefined for one that no longer exists. */
  productsByIds(ids: readonly string[]): Promise<(object | undefined)[]>;
}

/**
 * A session cache that warms itself in the background, on start and after a
 * flush or a miss storm: the sessions the app used most first, ranked by the
 * usage record the clients keep of `<prefix>session:` in Redis.
 */
export function startSessions(redisConfig: RedisClientsConfig, db: Database, prefix = 'app:') {
  const clients = createRedisClients(redisConfig, {
    // Key names and scores only, sampled from the command path; never values.
    usage: { namespaces: [`${prefix}session:`] },
  });
  const sessions = createSessionCache(clients, {
    keyPrefix: prefix,
    loader: (id) => db.findSession(id),
    warming: { loadByHash: (hashes) => db.findSessionsByTokenHash(hashes), ratePerSecond: 1000 },
  });
  return { clients, sessions };
}

/**
 * Warms any namespace from the source of truth: here the best sellers, most
 * sold first. Written only where the key is missing, so a price live traffic
 * cached meanwhile is kept; at 500 keys a second, slower while the app's own
 * Redis latency suffers. Resolves when the run ends; a failure is an outcome.
 */
export async function warmBestSellers(
  clients: RedisClients,
  db: Database,
  prefix = 'app:',
): Promise<WarmingResult> {
  const namespace = `${prefix}product:`;
  const ids = await db.bestSellerIds(5000);
  const run = clients.warm({
    namespace,
    keys: ids.map((id) => `${namespace}${id}`),
    ratePerSecond: 500,
    source: {
      kind: 'loader',
      ttlSeconds: 600,
      load: async (keys) => {
        const products = await db.productsByIds(keys.map((key) => key.slice(namespace.length)));
        return new Map(
          keys.map((key, i) => [key, products[i] ? JSON.stringify(products[i]) : null] as const),
        );
      },
    },
  });
  return run.done;
}
