import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisClients,
  type RedisClients,
} from '../../../client/connection/create-redis-clients.js';
import { RedisTopology } from '../../../stack/topology.js';
import { waitFor } from '../../ha/support/load.js';

/**
 * A write whose caller was told it failed must not happen later: ioredis keeps
 * a timed-out command in its offline queue and sends it once it reconnects.
 */
describe('a write that timed out while the master was away', () => {
  let topology: RedisTopology;
  let clients: RedisClients;

  beforeAll(async () => {
    topology = await RedisTopology.start({
      tls: false,
      acl: false,
      replicas: 0,
      sentinels: 0,
      // One node: the shipped config refuses writes without a replica.
      redisOverrides: { 'min-replicas-to-write': '0' },
    });
    clients = createRedisClients({
      url: `redis://127.0.0.1:${topology.port('redis-0')}`,
      commandTimeoutMs: 200,
      // Many attempts: the command must fail by its timeout, not by MaxRetriesPerRequestError.
      maxRetriesPerRequest: 50,
    });
    await clients.ready();
  });
  afterAll(async () => {
    await clients?.close();
    await topology?.stop();
  });

  it('is never sent after the reconnect', async () => {
    await clients.writer.del('undecided:k');
    await topology.kill('redis-0');
    await waitFor('the writer to notice', () => clients.writer.status !== 'ready');
    const failure = await clients.writer.set('undecided:k', 'late').catch((e: unknown) => e);
    expect((failure as Error).message).toBe('Command timed out');
    await topology.restart('redis-0');
    await waitFor('the writer to reconnect', () => clients.writer.status === 'ready');
    // Time for a queued command to be flushed, and a marker written after it.
    await clients.writer.set('undecided:marker', '1');
    expect(await clients.writer.get('undecided:k')).toBeNull();
  });
});
