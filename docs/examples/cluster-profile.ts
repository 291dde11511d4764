import { type ClusterClientsConfig, createRedisClients } from '../../client/index.js';

/**
 * Saves a user's profile on a Redis Cluster, durably, and reads it back from a
 * replica. Both keys carry the hash tag `{user:<id>}`: they hash to one slot,
 * so one MULTI and one WAIT on that slot's master cover them both.
 */
export async function saveProfile(
  config: ClusterClientsConfig,
  userId: string,
  profile: Record<string, string>,
): Promise<{ acknowledged: number; name: string | null }> {
  const clients = createRedisClients(config);
  try {
    await clients.ready();
    const tag = `{user:${userId}}`;
    const { acknowledged } = await clients.writeDurably(
      (tx) => tx.hset(`${tag}:profile`, profile).set(`${tag}:updated`, String(Date.now())),
      { replicas: 1, timeoutMs: 1000 },
    );
    // Replica reads may trail the write by a moment; WAIT made this one current.
    const name = await clients.reader.hget(`${tag}:profile`, 'name');
    return { acknowledged, name };
  } finally {
    await clients.close();
  }
}
