import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../client/index.js';
import { RedisTopology } from '../../stack/topology.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';
import { nodeNameOf, startLoad, waitFor } from './support/load.js';

describe('kill -9 of replicas under reads', () => {
  let topology: RedisTopology;
  let clients: RedisClients;

  /** Port of the node that answered a read through the reader. */
  const readerPort = () =>
    clients.reader.read(async (redis) => {
      await redis.ping();
      return redis === clients.writer ? undefined : (redis.stream as Socket).remotePort;
    });

  beforeAll(async () => {
    topology = await RedisTopology.start({ tls: true });
    clients = createRedisClients(clientsConfigFor(topology));
    await clients.ready();
    await waitFor('the reader on a replica', async () => (await readerPort()) !== undefined);
  });

  afterAll(async () => {
    await clients?.close();
    await topology?.stop();
  });

  describe('happy', () => {
    it('reads from a replica, not the master', async () => {
      const port = await readerPort();
      expect(topology.names('replica').map((n) => topology.port(n))).toContain(port);
    });

    it('moves reads to the other replica without an error reaching the caller', async () => {
      await clients.writer.set('chaos:replica:read-me', 'value');
      const load = startLoad(clients, 'chaos:replica');
      const first = (await readerPort()) as number;
      const killed = nodeNameOf(topology, first);
      await waitFor('reads flowing', () => load.snapshot().reads > 20);
      await topology.kill(killed);
      await waitFor(
        'reads served by the other replica',
        async () => {
          const port = await readerPort();
          return port !== undefined && port !== first;
        },
        15_000,
      );
      const report = await load.stop();
      expect(report.readErrors).toEqual([]);
      expect(report.reads).toBeGreaterThan(20);
    });
  });

  describe('unhappy', () => {
    it('reads from the master when no replica is left, still without errors', async () => {
      const load = startLoad(clients, 'chaos:replica2');
      await waitFor('reads flowing', () => load.snapshot().reads > 20);
      const remaining = nodeNameOf(topology, (await readerPort()) as number);
      await topology.kill(remaining);
      const before = clients.reader.fallbacks;
      await waitFor(
        'reads falling back to the master',
        () => clients.reader.fallbacks > before + 20,
      );
      const report = await load.stop();
      expect(report.readErrors).toEqual([]);
      expect(await clients.reader.get('chaos:replica:read-me')).toBe('value');
    });
  });
});
