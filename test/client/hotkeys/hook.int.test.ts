import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients, instrumentRedis, type RedisClients } from '../../../client/index.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import { RedisTopology } from '../../../stack/topology.js';

const SECRET = 'hook-test-secret-0123456789';

/** The near-cache wired into the command hook, on a plain single Redis. */
describe('hot keys in the command hook', () => {
  let topology: RedisTopology;
  let url: string;
  let clients: RedisClients;
  let registry: Registry;
  let admin: Redis;

  const metric = async (name: string) =>
    Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? Number.NaN);

  /** Reads `key` until the near-cache answers it (it is hot, tracked, and cached). */
  async function makeCached(key: string): Promise<void> {
    await waitUntil(
      `${key} answered from the near-cache`,
      async () => {
        const before = await metric('redscope_client_near_cache_hits_total');
        await clients.writer.get(key);
        await clients.writer.get(key);
        return (await metric('redscope_client_near_cache_hits_total')) > before;
      },
      10_000,
    );
  }

  beforeAll(async () => {
    topology = await RedisTopology.start({
      tls: false,
      acl: false,
      replicas: 0,
      sentinels: 0,
      redisOverrides: { 'min-replicas-to-write': '0', appendonly: 'no', save: '""' },
    });
    url = `redis://127.0.0.1:${topology.port('redis-0')}`;
    registry = new Registry();
    admin = new Redis(url);
    clients = createRedisClients(
      { url },
      {
        registry,
        hotKeys: {
          redaction: { secret: SECRET },
          report: { enabled: false },
          nearCache: { enabled: true, ttlMs: 5000 },
        },
      },
    );
    await clients.ready();
  }, 30_000);

  afterAll(async () => {
    await clients?.close();
    admin?.disconnect();
    await topology?.stop();
  });

  it("reads this process's own writes at once, without waiting for the invalidation", async () => {
    const key = 'own:writes';
    await clients.writer.set(key, '0');
    await makeCached(key);
    let stale = 0;
    for (let i = 1; i <= 300; i++) {
      await clients.writer.set(key, String(i));
      if ((await clients.writer.get(key)) !== String(i)) stale += 1;
      if ((await clients.reader.get(key)) !== String(i)) stale += 1;
    }
    expect(stale).toBe(0);
    // And the key is still served from memory once the writes stop.
    const hits = await metric('redscope_client_near_cache_hits_total');
    await makeCached(key);
    for (let i = 0; i < 50; i++) expect(await clients.reader.get(key)).toBe('300');
    expect(await metric('redscope_client_near_cache_hits_total')).toBeGreaterThanOrEqual(hits + 50);
  });

  it('keeps answering after a WATCH ended by the EXEC of a multi() pipeline', async () => {
    const key = 'watched';
    await clients.writer.set(key, 'a');
    await makeCached(key);
    await clients.writer.watch(key);
    expect(await clients.writer.multi().set(key, 'b').exec()).toEqual([[null, 'OK']]);
    await makeCached(key);
    expect(await clients.writer.get(key)).toBe('b');
  });

  it('never answers inside a MULTI sent as single commands: Redis queues the read', async () => {
    const key = 'in:multi';
    await clients.writer.set(key, 'x');
    await makeCached(key);
    expect(await clients.writer.multi({ pipeline: false })).toBe('OK');
    expect(await clients.writer.get(key)).toBe('QUEUED');
    expect(await clients.writer.exec()).toEqual([[null, 'x']]);
  });

  it("closes its own connections when an app's writer quits without detach()", async () => {
    // Its own: the near-cache's two (named after the writer) and a second side connection.
    const own = async () => {
      const list = String(await admin.client('LIST'));
      const names = list.split('\n').map((line) => /name=(\S*)/.exec(line)?.[1] ?? '');
      return {
        nearCache: names.filter((n) => n.startsWith('quitter-near-cache')).length,
        side: names.filter((n) => n === 'redscope-side').length,
      };
    };
    const sideBefore = (await own()).side;
    const writer = new Redis(url, { connectionName: 'quitter' });
    instrumentRedis(
      { writer },
      {
        hotKeys: {
          redaction: { secret: SECRET },
          report: { intervalMs: 1000 },
          nearCache: { enabled: true },
        },
      },
    );
    await waitUntil(
      'the side and near-cache connections',
      async () => {
        const now = await own();
        return now.nearCache === 2 && now.side === sideBefore + 1;
      },
      5000,
    );
    await writer.quit();
    await waitUntil(
      'them to close',
      async () => {
        const now = await own();
        return now.nearCache === 0 && now.side === sideBefore;
      },
      5000,
    );
  });
});
