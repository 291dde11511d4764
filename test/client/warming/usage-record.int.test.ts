import { Command } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmingUsageKey } from '../../../client/common/warming-status.js';
import { SideConnection } from '../../../client/connection/side-connection.js';
import { ConfigError } from '../../../client/errors.js';
import { UsageRecord, usageLandmarkKey } from '../../../client/warming/usage-record.js';
import { resolveUsageOptions } from '../../../client/warming/warming-options.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import { clientsWithLogs, type PlainRedis, startPlainRedis } from './support/warming-harness.js';

let redis: PlainRedis;

beforeAll(async () => {
  redis = await startPlainRedis();
});

afterAll(async () => {
  await redis?.stop();
});

const HOUR = 3600_000;

/** A usage record on its own side connection, with a clock the test moves. */
function recordWithClock(namespace: string, options: { sampleRate?: number; maxKeys?: number }) {
  let now = Date.UTC(2030, 0, 1);
  const side = new SideConnection(redis.admin);
  const record = new UsageRecord(
    side,
    resolveUsageOptions({ namespaces: [namespace], flushIntervalMs: 3_600_000, ...options }),
    pino({ level: 'silent' }),
    () => now,
  );
  return {
    record,
    advance: (ms: number) => {
      now += ms;
    },
    access: (key: string, times = 1) => {
      for (let i = 0; i < times; i++) record.observe(new Command('get', [key]));
    },
    async flush() {
      await waitUntil('the side connection', () => side.ready, 5000);
      await record.flush();
    },
    close() {
      record.close();
      side.close();
    },
  };
}

describe('the usage record', () => {
  it('ranks the most used keys of a namespace first, and holds key names only', async () => {
    const namespace = 'usage:rank:';
    const { clients, registry, lines } = clientsWithLogs(redis.url, {
      usage: { namespaces: [namespace], sampleRate: 1, flushIntervalMs: 200 },
    });
    try {
      const counts = { hot: 50, warm: 20, cool: 5 };
      for (const [name, times] of Object.entries(counts)) {
        await clients.writer.set(`${namespace}${name}`, `secret-value-of-${name}`);
        for (let i = 0; i < times; i++) await clients.writer.get(`${namespace}${name}`);
      }
      for (let i = 0; i < 100; i++) await clients.writer.get('other:key');
      const key = warmingUsageKey(namespace);
      await waitUntil('the record flushed', async () => (await redis.admin.zcard(key)) === 3, 5000);
      expect(await redis.admin.zrevrange(key, 0, -1)).toEqual([
        `${namespace}hot`,
        `${namespace}warm`,
        `${namespace}cool`,
      ]);
      // Every read and the SET count, all at one weight (no half-life passed): 51, 21 and 6.
      const scores = await redis.admin.zrevrange(key, 0, -1, 'WITHSCORES');
      expect(Number(scores[1]) / Number(scores[5])).toBeCloseTo(51 / 6, 3);
      expect(Number(scores[3]) / Number(scores[5])).toBeCloseTo(21 / 6, 3);
      expect(await redis.admin.type(key)).toBe('zset');
      const ttl = await redis.admin.pttl(key);
      expect(ttl).toBeGreaterThan(23 * HOUR);
      expect(await redis.admin.pttl(usageLandmarkKey(namespace))).toBeGreaterThan(23 * HOUR);
      // Names and scores only; nothing of the values, and the names stay in Redis.
      expect(JSON.stringify(scores)).not.toContain('secret-value');
      const exposed = `${await registry.metrics()}${JSON.stringify(lines)}`;
      expect(exposed).not.toContain(`${namespace}hot`);
    } finally {
      await clients.close();
    }
  });

  it('adds up the counts of several processes and keeps the most used `maxKeys`', async () => {
    const namespace = 'usage:fleet:';
    const a = recordWithClock(namespace, { sampleRate: 1, maxKeys: 5 });
    const b = recordWithClock(namespace, { sampleRate: 1, maxKeys: 5 });
    try {
      for (let i = 0; i < 10; i++) {
        a.access(`${namespace}${i}`, 10 + i);
        b.access(`${namespace}${i}`, i % 2 === 0 ? 30 : 0);
      }
      await a.flush();
      await b.flush();
      const ranked = await redis.admin.zrevrange(warmingUsageKey(namespace), 0, -1, 'WITHSCORES');
      // Even keys: 10 + i + 30 from both processes; odd keys: 10 + i from one; five kept.
      expect(ranked.filter((_, i) => i % 2 === 0)).toEqual(
        [8, 6, 4, 2, 0].map((i) => `${namespace}${i}`),
      );
      expect(Number(ranked[1]) / Number(ranked[3])).toBeCloseTo(48 / 46, 6);
      expect(await redis.admin.zcard(warmingUsageKey(namespace))).toBe(5);
    } finally {
      a.close();
      b.close();
    }
  });

  it('decays: recent use outranks more but older use, across a move of the landmark', async () => {
    const namespace = 'usage:decay:';
    const process = recordWithClock(namespace, { sampleRate: 1 });
    const key = warmingUsageKey(namespace);
    try {
      process.access(`${namespace}old`, 8);
      await process.flush();
      // Three half-lives later two accesses weigh 2 × 2^3 = 16 against the old 8.
      process.advance(3 * HOUR);
      process.access(`${namespace}new`, 2);
      await process.flush();
      expect(await redis.admin.zrevrange(key, 0, -1)).toEqual([
        `${namespace}new`,
        `${namespace}old`,
      ]);
      const before = Number(await redis.admin.zscore(key, `${namespace}new`));
      expect(before / Number(await redis.admin.zscore(key, `${namespace}old`))).toBeCloseTo(2, 6);
      const landmark = Number(await redis.admin.get(usageLandmarkKey(namespace)));
      // The landmark moves every 900 half-lives: what came before weighs 2^-900 of what
      // comes after, so the first flush on the new landmark drops the old set.
      const behind = recordWithClock(namespace, { sampleRate: 1 });
      process.advance(900 * HOUR);
      process.access(`${namespace}newest`, 1);
      // Counted on the landmark its pending counts started on; the flush after moves it.
      await process.flush();
      expect(await redis.admin.zcard(key)).toBe(3);
      process.access(`${namespace}newest`, 1);
      await process.flush();
      expect(Number(await redis.admin.get(usageLandmarkKey(namespace)))).toBe(
        landmark + 900 * HOUR,
      );
      expect(await redis.admin.zrevrange(key, 0, -1)).toEqual([`${namespace}newest`]);
      // A process whose clock is still before the move adds nothing.
      behind.access(`${namespace}old`, 1000);
      await behind.flush();
      expect(await redis.admin.zrevrange(key, 0, -1)).toEqual([`${namespace}newest`]);
      behind.close();
    } finally {
      process.close();
    }
  });

  it('samples: at 1 in 8 the scores still estimate the counts', async () => {
    const namespace = 'usage:sample:';
    const process = recordWithClock(namespace, { sampleRate: 1 / 8 });
    try {
      process.access(`${namespace}a`, 8000);
      process.access(`${namespace}b`, 800);
      await process.flush();
      // Scores are counts times the weight of now against the landmark (forward decay).
      const period = 900 * HOUR;
      const now = Date.UTC(2030, 0, 1);
      const weight = 2 ** ((now - Math.floor(now / period) * period) / HOUR);
      const a = Number(await redis.admin.zscore(warmingUsageKey(namespace), `${namespace}a`));
      const b = Number(await redis.admin.zscore(warmingUsageKey(namespace), `${namespace}b`));
      expect(a / weight).toBeGreaterThan(8000 * 0.85);
      expect(a / weight).toBeLessThan(8000 * 1.15);
      expect(b / weight).toBeGreaterThan(800 * 0.6);
      expect(b / weight).toBeLessThan(800 * 1.4);
    } finally {
      process.close();
    }
  });

  it('logs a flush Redis refuses, without a key name, and keeps the app going', async () => {
    const namespace = 'usage:broken:';
    // Something else took the record's key: ZINCRBY meets WRONGTYPE.
    await redis.admin.set(warmingUsageKey(namespace), 'not a sorted set');
    const { clients, lines } = clientsWithLogs(redis.url, {
      usage: { namespaces: [namespace], sampleRate: 1, flushIntervalMs: 100 },
    });
    try {
      for (let i = 0; i < 20; i++) await clients.writer.get(`${namespace}${i}`);
      await waitUntil(
        'the failure line',
        () => lines.some((l) => l.event === 'redis.usage_flush_failed'),
        5000,
      );
      for (let i = 0; i < 20; i++) await clients.writer.get(`${namespace}${i}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const failures = lines.filter((l) => l.event === 'redis.usage_flush_failed');
      // One line a minute, whatever the flush interval.
      expect(failures).toEqual([
        expect.objectContaining({
          level: 'warn',
          err: expect.objectContaining({ message: expect.stringMatching(/^WRONGTYPE/) }),
        }),
      ]);
      expect(JSON.stringify(lines)).not.toContain(`${namespace}1`);
      expect(await clients.writer.ping()).toBe('PONG');
    } finally {
      await clients.close();
    }
  });

  it('refuses bad options with a ConfigError naming them', () => {
    const option = (usage: object) => {
      try {
        resolveUsageOptions(usage as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).option;
      }
      return undefined;
    };
    expect(option({ namespaces: [] })).toBe('usage.namespaces');
    expect(option({ namespaces: ['a:', ''] })).toBe('usage.namespaces[1]');
    expect(option({ namespaces: ['a:', 'a:'] })).toBe('usage.namespaces[1]');
    expect(option({ namespaces: ['redscope:{warming}:x'] })).toBe('usage.namespaces[0]');
    expect(option({ namespaces: ['a:'], sampleRate: 0 })).toBe('usage.sampleRate');
    expect(option({ namespaces: ['a:'], maxKeys: 0 })).toBe('usage.maxKeys');
    expect(option({ namespaces: ['a:'], halfLifeSeconds: 1 })).toBe('usage.halfLifeSeconds');
    expect(option({ namespaces: ['a:'], flushIntervalMs: 10 })).toBe('usage.flushIntervalMs');
    expect(option({ namespaces: ['a:'] })).toBeUndefined();
  });
});
