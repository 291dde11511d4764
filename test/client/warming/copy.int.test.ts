import type { ChainableCommander, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients } from '../../../client/connection/create-redis-clients.js';
import { clientsConfigFor } from '../../../stack/topology-clients.js';
import { sharedTopology } from '../../support/shared-topology.js';
import { uniquePrefix } from '../support/redis-pair.js';
import { clientsWithLogs, type PlainRedis, startPlainRedis } from './support/warming-harness.js';

// A warm Redis (another deployment) and a cold one to copy into.
let warm: PlainRedis;
let cold: PlainRedis;
let from: Redis;

beforeAll(async () => {
  [warm, cold] = await Promise.all([startPlainRedis(), startPlainRedis()]);
  from = warm.admin.duplicate();
});

afterAll(async () => {
  from?.disconnect();
  await Promise.all([warm?.stop(), cold?.stop()]);
});

describe('copying from a warm Redis', () => {
  it('keeps every TTL, copies any type, and never overwrites what the cold side has', async () => {
    const { clients } = clientsWithLogs(cold.url);
    try {
      const ns = 'copy:a:';
      await warm.admin.set(`${ns}expiring`, 'e', 'PX', 60_000);
      await warm.admin.set(`${ns}forever`, 'f');
      await warm.admin.hset(`${ns}hash`, { field: 'value' });
      await warm.admin.pexpire(`${ns}hash`, 30_000);
      await warm.admin.set(`${ns}live`, 'from the warm side');
      await cold.admin.set(`${ns}live`, 'written by live traffic');
      const result = await clients.warm({
        namespace: ns,
        keys: [`${ns}expiring`, `${ns}forever`, `${ns}hash`, `${ns}live`, `${ns}gone`],
        source: { kind: 'redis', from },
      }).done;
      expect(result).toMatchObject({ outcome: 'done', warmed: 3, skipped: 2, failed: 0 });
      expect(await cold.admin.get(`${ns}expiring`)).toBe('e');
      // Both servers run on this host's clock: the copy expires when the original does,
      // within a round trip (the time the dump was in flight is taken off its TTL).
      const [warmExpiry, coldExpiry] = (await Promise.all([
        warm.admin.call('PEXPIRETIME', `${ns}expiring`),
        cold.admin.call('PEXPIRETIME', `${ns}expiring`),
      ])) as [number, number];
      expect(Math.abs(coldExpiry - warmExpiry)).toBeLessThan(50);
      expect(await cold.admin.pttl(`${ns}forever`)).toBe(-1);
      expect(await cold.admin.hgetall(`${ns}hash`)).toEqual({ field: 'value' });
      expect(await cold.admin.pttl(`${ns}hash`)).toBeGreaterThan(25_000);
      expect(await cold.admin.get(`${ns}live`)).toBe('written by live traffic');
      expect(await cold.admin.exists(`${ns}gone`)).toBe(0);
    } finally {
      await clients.close();
    }
  });

  it('leaves a key alone when live traffic writes it between the check and the RESTORE (BUSYKEY)', async () => {
    const { clients } = clientsWithLogs(cold.url);
    const racing = warm.admin.duplicate();
    try {
      const ns = 'copy:race:';
      const keys = Array.from({ length: 10 }, (_, i) => `${ns}${i}`);
      for (const key of keys) await warm.admin.set(key, 'copied', 'PX', 60_000);
      // The warm side's pipeline writes on the cold side (live traffic) before it answers.
      const pipeline = racing.pipeline.bind(racing);
      racing.pipeline = ((...args: Parameters<Redis['pipeline']>) => {
        const inner: ChainableCommander = pipeline(...args);
        const exec = inner.exec.bind(inner);
        inner.exec = (async () => {
          await Promise.all(keys.slice(0, 4).map((key) => cold.admin.set(key, 'live')));
          return exec();
        }) as typeof inner.exec;
        return inner;
      }) as Redis['pipeline'];
      const result = await clients.warm({
        namespace: ns,
        keys,
        source: { kind: 'redis', from: racing },
      }).done;
      expect(result).toMatchObject({ outcome: 'done', warmed: 6, skipped: 4, failed: 0 });
      expect(await cold.admin.mget(...keys.slice(0, 4))).toEqual(['live', 'live', 'live', 'live']);
      expect(await cold.admin.mget(...keys.slice(4))).toEqual(Array(6).fill('copied'));
    } finally {
      racing.disconnect();
      await clients.close();
    }
  });

  it("fails with a reason that names RESTORE when the app's ACL user may not run it", async () => {
    const clients = createRedisClients(clientsConfigFor(sharedTopology()), {
      tracing: { enabled: false },
    });
    try {
      const ns = uniquePrefix('copy');
      await warm.admin.set(`${ns}x`, 'x');
      const result = await clients.warm({
        namespace: ns,
        keys: [`${ns}x`],
        source: { kind: 'redis', from },
      }).done;
      expect(result.outcome).toBe('failed');
      expect(result.reason).toMatch(/^Redis refused: NOPERM.*RESTORE for copies/);
    } finally {
      await clients.close();
    }
  });
});
