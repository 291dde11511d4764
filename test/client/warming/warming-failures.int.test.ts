import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWarmingStatus, WARMING_STATUS_INDEX } from '../../../client/common/warming-status.js';
import type { RedisClients } from '../../../client/connection/create-redis-clients.js';
import { ConfigError } from '../../../client/errors.js';
import { instrumentRedis } from '../../../client/instrumentation/instrumentation.js';
import { WARMING_METRIC_NAMES } from '../../../client/warming/warming-metrics.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import {
  clientsWithLogs,
  delay,
  eventsOf,
  keysOf,
  type PlainRedis,
  recordingLoader,
  sample,
  startPlainRedis,
} from './support/warming-harness.js';

let redis: PlainRedis;
const opened: RedisClients[] = [];

beforeAll(async () => {
  redis = await startPlainRedis();
});

afterAll(async () => {
  for (const clients of opened) await clients.close();
  await redis?.stop();
});

function setup(options: Parameters<typeof clientsWithLogs>[1] = {}) {
  const made = clientsWithLogs(redis.url, options);
  opened.push(made.clients);
  return made;
}

let namespaces = 100;
/** A namespace no other test of this file uses. */
const fresh = () => `w${++namespaces}:item:`;

describe('warming, unhappy path', () => {
  it('never overwrites a value live traffic wrote while the batch loaded (raced on purpose)', async () => {
    const { clients } = setup();
    const namespace = fresh();
    const keys = keysOf(namespace, 20);
    const result = await clients.warm({
      namespace,
      keys,
      batchSize: 20,
      source: {
        kind: 'loader',
        ttlSeconds: 60,
        load: async (batch) => {
          // Live traffic fills every other key after the EXISTS probe and before the write.
          await Promise.all(
            batch.filter((_, i) => i % 2 === 0).map((key) => clients.writer.set(key, 'live')),
          );
          return new Map(batch.map((key) => [key, 'stale']));
        },
      },
    }).done;
    expect(result).toMatchObject({ warmed: 10, skipped: 10, failed: 0 });
    const values = await redis.admin.mget(...keys);
    expect(values.filter((v) => v === 'live')).toHaveLength(10);
    expect(values.filter((v, i) => i % 2 === 0 && v !== 'live')).toEqual([]);
  });

  it('retries a failing loader with backoff, counts and logs each failure, and warms in the end', async () => {
    const { clients, lines } = setup();
    const namespace = fresh();
    const attempts: number[] = [];
    const result = await clients.warm({
      namespace,
      keys: keysOf(namespace, 5),
      source: {
        kind: 'loader',
        ttlSeconds: 60,
        load: async (keys) => {
          attempts.push(performance.now());
          if (attempts.length <= 2) throw new Error('database is restarting');
          return new Map(keys.map((key) => [key, 'v']));
        },
      },
    }).done;
    expect(result).toMatchObject({ outcome: 'done', warmed: 5, errors: 2, failed: 0 });
    expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(190);
    expect((attempts[2] as number) - (attempts[1] as number)).toBeGreaterThanOrEqual(390);
    expect(eventsOf(lines, 'redis.warming_batch_failed')).toEqual([
      expect.objectContaining({ level: 'warn', attempt: 1, retry_in_ms: 200, keys: 5 }),
      expect.objectContaining({ level: 'warn', attempt: 2, retry_in_ms: 400, keys: 5 }),
    ]);
    expect(eventsOf(lines, 'redis.warming_batch_failed')[0]?.err).toMatchObject({
      message: 'database is restarting',
    });
  });

  it('times a hung loader out, aborts its signal, and retries', async () => {
    const { clients } = setup();
    const namespace = fresh();
    const signals: AbortSignal[] = [];
    const result = await clients.warm({
      namespace,
      keys: keysOf(namespace, 3),
      source: {
        kind: 'loader',
        ttlSeconds: 60,
        timeoutMs: 100,
        load: (keys, { signal }) => {
          signals.push(signal);
          if (signals.length === 1) return new Promise(() => undefined);
          return Promise.resolve(new Map(keys.map((key) => [key, 'v'])));
        },
      },
    }).done;
    expect(result).toMatchObject({ outcome: 'done', warmed: 3, errors: 1 });
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
  });

  it('fails the run, not the app, when the loader keeps failing', async () => {
    const { clients, lines, registry } = setup();
    const namespace = fresh();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const result = await clients.warm({
        namespace,
        keys: keysOf(namespace, 50),
        batchSize: 5,
        concurrency: 5,
        source: {
          kind: 'loader',
          ttlSeconds: 60,
          timeoutMs: 50,
          load: () => Promise.reject(new Error('connection refused')),
        },
      }).done;
      expect(result.outcome).toBe('failed');
      expect(result.reason).toMatch(/5 batches in a row failed every attempt.*connection refused/);
      expect(result).toMatchObject({ failed: 25, warmed: 0 });
      expect(result.errors).toBeGreaterThanOrEqual(20);
      expect(eventsOf(lines, 'redis.warming_failed')).toEqual([
        expect.objectContaining({ level: 'warn', outcome: 'failed', failed: 25 }),
      ]);
      // Three lines per 10 s: the rest are counted, not written.
      expect(eventsOf(lines, 'redis.warming_batch_failed').length).toBe(3);
      const text = await registry.metrics();
      expect(
        sample(text, `${WARMING_METRIC_NAMES.keys}{namespace="${namespace}",result="failed"}`),
      ).toBe(25);
      expect(
        sample(text, `${WARMING_METRIC_NAMES.runs}{namespace="${namespace}",outcome="failed"}`),
      ).toBe(1);
      expect(await clients.writer.ping()).toBe('PONG');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('skips garbage from the loader with a warning that names no key', async () => {
    const { clients, lines } = setup();
    const namespace = fresh();
    const [a, b, c, d, e] = keysOf(namespace, 5) as [string, string, string, string, string];
    const result = await clients.warm({
      namespace,
      keys: [a, b, c, d, e],
      source: {
        kind: 'loader',
        ttlSeconds: 60,
        load: async () =>
          new Map<string, unknown>([
            [a, 'ok'],
            [b, 42],
            [c, { nested: true }],
            [d, null],
            [e, Buffer.from('bytes')],
          ]) as never,
      },
    }).done;
    expect(result).toMatchObject({ outcome: 'done', warmed: 2, skipped: 1, failed: 2, errors: 0 });
    expect(await redis.admin.exists(b, c, d)).toBe(0);
    expect(await redis.admin.get(e)).toBe('bytes');
    const warnings = eventsOf(lines, 'redis.warming_bad_value');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 'warn', keys: 2, value_types: ['number', 'object'] }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(b);
    expect(JSON.stringify(lines)).not.toContain(c);
  });

  it('treats a loader answer that is not a Map as a failed attempt', async () => {
    const { clients } = setup();
    const namespace = fresh();
    let calls = 0;
    const result = await clients.warm({
      namespace,
      keys: keysOf(namespace, 2),
      source: {
        kind: 'loader',
        ttlSeconds: 60,
        load: async (keys) => {
          calls += 1;
          return (calls === 1 ? { [keys[0] as string]: 'v' } : new Map([[keys[0], 'v']])) as never;
        },
      },
    }).done;
    expect(result).toMatchObject({ outcome: 'done', warmed: 1, skipped: 1, errors: 1 });
  });

  it('cancels midway: no pipeline left hanging, nothing written after, the status says cancelled', async () => {
    const made = clientsWithLogs(redis.url);
    opened.push(made.clients);
    const namespace = fresh();
    let signal: AbortSignal | undefined;
    const loader = recordingLoader({ delayMs: 150 });
    const run = made.clients.warm({
      namespace,
      keys: keysOf(namespace, 200),
      batchSize: 10,
      concurrency: 2,
      progressEveryMs: 100,
      source: {
        kind: 'loader',
        ttlSeconds: 60,
        load: (keys, context) => {
          signal = context.signal;
          return loader.load(keys);
        },
      },
    });
    await waitUntil('a few batches warmed', () => run.progress().warmed >= 20, 5000);
    run.cancel();
    const result = await run.done;
    expect(result.outcome).toBe('cancelled');
    expect(result.state).toBe('cancelled');
    expect(result.warmed).toBeLessThan(200);
    expect(signal?.aborted).toBe(true);
    const written = await redis.admin.exists(...keysOf(namespace, 200));
    expect(written).toBe(result.warmed);
    await delay(400);
    expect(await redis.admin.exists(...keysOf(namespace, 200))).toBe(written);
    const index = await redis.admin.zrange(WARMING_STATUS_INDEX, '0', '-1');
    const member = index.find((m) => m.endsWith(`:${namespace}`)) as string;
    const raw = await redis.admin.get(`redscope:{warming}:status:${member}`);
    expect(parseWarmingStatus(raw as string)).toMatchObject({
      ok: true,
      status: { state: 'cancelled', reason: 'cancelled', warmed: result.warmed },
    });
    expect(eventsOf(made.lines, 'redis.warming_finished')).toEqual([
      expect.objectContaining({ outcome: 'cancelled' }),
    ]);
  });

  it('leaves no command in flight on its connection after cancel, and a closing client marks its runs cancelled', async () => {
    const writer = redis.admin.duplicate();
    const instrumentation = instrumentRedis({ writer });
    const namespace = fresh();
    const run = instrumentation.warm({
      namespace,
      keys: keysOf(namespace, 100),
      batchSize: 10,
      concurrency: 4,
      progressEveryMs: 100,
      source: { kind: 'loader', load: recordingLoader({ delayMs: 20 }).load, ttlSeconds: 60 },
    });
    await waitUntil('a batch warmed', () => run.progress().warmed >= 10, 5000);
    run.cancel();
    await run.done;
    // done waits for the pipelines in flight; Redis holds nothing half-read of them either.
    const connections = String(await redis.admin.client('LIST'))
      .split('\n')
      .filter((line) => line.includes(' name=redscope-warm '));
    expect(connections.length).toBeGreaterThan(0);
    for (const line of connections) {
      expect(line).toMatch(/ qbuf=0 /);
      expect(line).toMatch(/ multi=-1 /);
    }

    const other = fresh();
    const closing = instrumentation.warm({
      namespace: other,
      keys: keysOf(other, 100),
      ratePerSecond: 50,
      batchSize: 5,
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    });
    await waitUntil('a batch warmed', () => closing.progress().warmed >= 5, 5000);
    instrumentation.detach();
    expect((await closing.done).outcome).toBe('cancelled');
    await waitUntil(
      'the cancelled status written at close',
      async () => {
        const members = await redis.admin.zrange(WARMING_STATUS_INDEX, '0', '-1');
        const member = members.find((m) => m.endsWith(`:${other}`));
        if (member === undefined) return false;
        const raw = await redis.admin.get(`redscope:{warming}:status:${member}`);
        const parsed = parseWarmingStatus(raw ?? '');
        return parsed.ok && parsed.status.state === 'cancelled';
      },
      3000,
    );
    writer.disconnect();
  });

  it('refuses bad options with a ConfigError naming the option', () => {
    const { clients } = setup({ usage: { namespaces: ['known:'] } });
    const load = recordingLoader().load;
    const attempt = (options: object) => {
      try {
        clients.warm({
          namespace: 'known:',
          source: { kind: 'loader', load, ttlSeconds: 60 },
          ...options,
        } as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).option;
      }
      return undefined;
    };
    expect(attempt({ namespace: 'unknwon:' })).toBe('namespace');
    expect(attempt({ keys: ['known:a', 'other:b'] })).toBe('keys[1]');
    expect(attempt({ ratePerSecond: 0 })).toBe('ratePerSecond');
    expect(attempt({ batchSize: 0 })).toBe('batchSize');
    expect(attempt({ concurrency: 1.5 })).toBe('concurrency');
    expect(attempt({ source: { kind: 'loader', load, ttlSeconds: 0 } })).toBe('source.ttlSeconds');
    expect(attempt({ source: { kind: 'file' } })).toBe('source.kind');
    expect(attempt({ namespace: '' })).toBe('namespace');
    expect(attempt({ targetHitRate: { ratio: 1.5, current: () => 1 } })).toBe(
      'targetHitRate.ratio',
    );
    // A namespace this client does not record is fine with an explicit plan.
    expect(attempt({ namespace: 'unknown:', keys: ['unknown:a'] })).toBeUndefined();
  });

  it('logs a status Redis refuses once a minute, and warms all the same', async () => {
    const { clients, lines } = setup();
    const namespace = fresh();
    // Something else took the index key: every status write meets WRONGTYPE.
    await redis.admin.set(WARMING_STATUS_INDEX, 'not a sorted set');
    try {
      const result = await clients.warm({
        namespace,
        keys: keysOf(namespace, 30),
        ratePerSecond: 60,
        batchSize: 5,
        progressEveryMs: 100,
        source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
      }).done;
      expect(result).toMatchObject({ outcome: 'done', warmed: 30 });
      expect(eventsOf(lines, 'redis.warming_status_failed')).toEqual([
        expect.objectContaining({ level: 'warn', namespace }),
      ]);
    } finally {
      await redis.admin.del(WARMING_STATUS_INDEX);
    }
  });

  it('refuses a second run of a namespace while one is on', async () => {
    const { clients } = setup();
    const namespace = fresh();
    const source = { kind: 'loader' as const, load: recordingLoader().load, ttlSeconds: 60 };
    const run = clients.warm({ namespace, keys: keysOf(namespace, 50), ratePerSecond: 50, source });
    expect(() => clients.warm({ namespace, keys: [`${namespace}x`], source })).toThrow(
      /already warming in this process/,
    );
    run.cancel();
    await run.done;
    const again = clients.warm({ namespace, keys: [`${namespace}x`], source });
    expect((await again.done).warmed).toBe(1);
  });

  it('ends done with nothing to warm when the namespace has no usage record', async () => {
    const { clients } = setup();
    const result = await clients.warm({
      namespace: fresh(),
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    }).done;
    expect(result).toMatchObject({ outcome: 'done', planned: 0 });
    expect(result.reason).toMatch(/usage record of this namespace is empty or missing/);
  });
});
