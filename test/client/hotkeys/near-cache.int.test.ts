import { Command, Redis, type RedisOptions } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type HotKeyView,
  NearCache,
  type NearCacheSettings,
} from '../../../client/hotkeys/near-cache.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import { RedisTopology } from '../../../stack/topology.js';
import { tlsOptionsOf } from '../../support/shared-topology.js';
import { capturedLogs } from '../support/captured-logs.js';

/** The tracker's answer, set by each test: which keys are hot. */
class HotKeys implements HotKeyView {
  readonly hot = new Set<string>();
  served = 0;
  isHot(key: string): boolean {
    return this.hot.has(key);
  }
  servedLocally(): void {
    this.served += 1;
  }
}

const SETTINGS: NearCacheSettings = { ttlMs: 5000, maxEntries: 1000, maxBytes: 4 * 1024 * 1024 };
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A command as ioredis' own `redis.get(key)` builds it (string replies). */
function read(name: string, ...args: string[]): Command {
  return new Command(name, args, { replyEncoding: 'utf8' });
}

/** What the instrumentation hook does with a single command. */
function send(cache: NearCache, app: Redis, command: Command): Promise<unknown> {
  if (!cache.serve(command) && !cache.route(command)) void app.sendCommand(command);
  return command.promise;
}

/** Everything a test starts, stopped after it whatever happened. */
class Started {
  private readonly caches: NearCache[] = [];
  private readonly clients: Redis[] = [];
  cache(cache: NearCache): NearCache {
    this.caches.push(cache);
    return cache;
  }
  client(client: Redis): Redis {
    client.on('error', () => undefined);
    this.clients.push(client);
    return client;
  }
  stop(): void {
    for (const cache of this.caches.splice(0)) cache.close();
    for (const client of this.clients.splice(0)) client.disconnect();
  }
}

/**
 * source.duplicate() as the cache calls it, with the connections it made kept
 * for the test, and their options changed by `change` first.
 */
function keepDuplicates(
  source: Redis,
  change: (override?: Partial<RedisOptions>) => Partial<RedisOptions> | undefined,
): Redis[] {
  const made: Redis[] = [];
  const duplicate = source.duplicate.bind(source);
  source.duplicate = (override?: Partial<RedisOptions>) => {
    const connection = duplicate(change(override));
    made.push(connection);
    return connection;
  };
  return made;
}

async function clientIdByName(admin: Redis, name: string): Promise<string | undefined> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  return line ? /\bid=(\d+)/.exec(line)?.[1] : undefined;
}

/** Polls every event-loop turn (waitUntil's 50 ms would blur a sub-millisecond window). */
async function soon(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await nextTurn();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

describe('the near-cache on a real Redis (TLS, the app ACL user)', () => {
  let topology: RedisTopology;
  let admin: Redis;
  const started = new Started();
  let names = 0;

  beforeAll(async () => {
    // A replica to play a second server; writes need not wait for it.
    topology = await RedisTopology.start({
      tls: true,
      replicas: 1,
      sentinels: 0,
      redisOverrides: { 'min-replicas-to-write': '0' },
    });
    admin = topology.connect(topology.port('redis-0'));
  });
  afterEach(() => started.stop());
  afterAll(async () => {
    admin?.disconnect();
    await topology?.stop();
  });

  /**
   * The app's writer as the app user sees it, and a cache built on it.
   * `invalidationsPort` sends the cache's invalidation connection elsewhere.
   */
  async function setUp(
    settings: NearCacheSettings = SETTINGS,
    { invalidationsPort, tracking = true }: { invalidationsPort?: number; tracking?: boolean } = {},
  ) {
    const description = topology.describe();
    const app = description.users?.app;
    if (!app) throw new Error('the topology runs with ACL');
    const name = `near-cache-test-${++names}`;
    const source = started.client(
      new Redis({
        host: description.host,
        port: topology.port('redis-0'),
        tls: tlsOptionsOf(description),
        username: app.username,
        password: app.password,
        connectionName: name,
      }),
    );
    const duplicates = keepDuplicates(source, (override) =>
      override?.protocol === 2 && invalidationsPort !== undefined
        ? { ...override, port: invalidationsPort }
        : override,
    );
    const hot = new HotKeys();
    const logs = capturedLogs();
    const cache = started.cache(
      new NearCache(source, settings, hot, pino({ level: 'debug' }, logs.stream)),
    );
    await source.ping();
    if (tracking) await waitUntil('tracking on', () => cache.stats().tracking, 5000);
    return { source, cache, hot, logs, name, duplicates };
  }

  describe('happy', () => {
    it('serves a hot key from memory once a tracked read filled it, with the replies ioredis would give', async () => {
      const { source, cache, hot } = await setUp();
      await source.set('nc:string', 'v1');
      await source.hset('nc:hash', { a: '1', b: '2' });
      await source.zadd('nc:zset', 1, 'one', 2, 'two');
      for (const key of ['nc:string', 'nc:hash', 'nc:zset']) hot.hot.add(key);

      const reads = [
        () => read('get', 'nc:string'),
        () => read('hgetall', 'nc:hash'),
        () => read('zrange', 'nc:zset', '0', '-1', 'WITHSCORES'),
        () => read('hmget', 'nc:hash', 'a', 'missing'),
      ];
      const fromRedis = [];
      for (const make of reads) fromRedis.push(await send(cache, source, make()));
      expect(cache.stats()).toMatchObject({ hits: 0, misses: 4, entries: 4 });
      for (const [index, make] of reads.entries()) {
        const command = make();
        expect(cache.serve(command)).toBe(true);
        expect(await command.promise).toEqual(fromRedis[index]);
      }
      expect(fromRedis).toEqual(['v1', { a: '1', b: '2' }, ['one', '1', 'two', '2'], ['1', null]]);
      expect(cache.stats()).toMatchObject({ hits: 4, misses: 4, tracking: true });
      expect(hot.served).toBe(4);
    });

    it('hands every hit its own copy of a Buffer reply', async () => {
      const { source, cache, hot } = await setUp();
      await source.set('nc:buffer', 'abc');
      hot.hot.add('nc:buffer');
      await send(cache, source, new Command('get', ['nc:buffer']));
      const first = new Command('get', ['nc:buffer']);
      expect(cache.serve(first)).toBe(true);
      const buffer = (await first.promise) as Buffer;
      buffer.write('zzz');
      const second = new Command('get', ['nc:buffer']);
      expect(cache.serve(second)).toBe(true);
      expect(String(await second.promise)).toBe('abc');
    });

    it('never routes or caches a cold key, a write, a multi-key EXISTS or a Buffer key', async () => {
      const { source, cache, hot } = await setUp();
      hot.hot.add('nc:hot');
      const commands = [
        read('get', 'nc:cold'),
        read('set', 'nc:hot', 'x'),
        read('exists', 'nc:hot', 'nc:cold'),
        new Command('get', [Buffer.from('nc:hot')]),
      ];
      for (const command of commands) {
        expect(cache.serve(command)).toBe(false);
        expect(cache.route(command)).toBe(false);
        await source.sendCommand(command);
      }
      expect(cache.stats()).toMatchObject({ entries: 0, hits: 0 });
    });

    it('lets no reader see the old value once a write is acknowledged and its invalidation delivered', async ({
      annotate,
    }) => {
      const { source, cache, hot } = await setUp();
      const key = 'nc:race:counter';
      hot.hot.add(key);
      await source.set(key, '0');
      const writer = started.client(topology.connect(topology.port('redis-0')));
      const reads: { startedAt: number; value: number }[] = [];
      let stop = false;
      const reader = async () => {
        while (!stop) {
          const startedAt = performance.now();
          const value = Number(await send(cache, source, read('get', key)));
          reads.push({ startedAt, value });
          await nextTurn();
        }
      };
      const readers = Array.from({ length: 4 }, reader);
      const visibleAt: number[] = [];
      const windows: number[] = [];
      try {
        for (let version = 1; version <= 200; version++) {
          // The key must be tracked, or the write would have no invalidation to wait for.
          await soon('a cached reply', () => cache.stats().entries > 0);
          const before = cache.stats().invalidations;
          await writer.set(key, String(version));
          const ackedAt = performance.now();
          let invalidatedAt = ackedAt;
          if (cache.stats().invalidations === before) {
            await soon('the invalidation', () => cache.stats().invalidations > before);
            invalidatedAt = performance.now();
          }
          windows.push(invalidatedAt - ackedAt);
          visibleAt[version] = Math.max(ackedAt, invalidatedAt);
        }
      } finally {
        stop = true;
        await Promise.all(readers);
      }
      // A read that started after write k was acknowledged and invalidated must see k or later.
      const stale = reads.filter((r) => {
        let required = 0;
        while ((visibleAt[required + 1] ?? Number.POSITIVE_INFINITY) < r.startedAt) required += 1;
        return r.value < required;
      });
      expect(stale).toEqual([]);
      const { hits, misses } = cache.stats();
      expect(hits).toBeGreaterThan(misses);
      const sorted = [...windows].sort((a, b) => a - b);
      const beforeAck = windows.filter((w) => w === 0).length;
      await annotate(
        `staleness window (write acknowledged -> invalidation received) over ${windows.length} writes: p50 ${quantile(sorted, 0.5).toFixed(3)} ms, p99 ${quantile(sorted, 0.99).toFixed(3)} ms, max ${(sorted.at(-1) ?? 0).toFixed(3)} ms; invalidation already in before the ack: ${beforeAck}; reads ${reads.length} (hits ${hits}, misses ${misses})`,
      );
    });
  });

  describe('unhappy', () => {
    it('drops the reply of a read whose invalidation arrived first', async () => {
      const { source, cache, hot, duplicates } = await setUp();
      const key = 'nc:placeholder';
      hot.hot.add(key);
      await source.set(key, 'old');
      const data = duplicates.find((d) => d.options.protocol !== 2);
      if (!data?.stream) throw new Error('the tracked data connection is up');
      const command = read('get', key);
      expect(cache.route(command)).toBe(true);
      // Hold the reply back in the socket: the invalidation, on the other connection, wins.
      data.stream.pause();
      try {
        await delay(100);
        const before = cache.stats().invalidations;
        await admin.set(key, 'new');
        await waitUntil('the invalidation', () => cache.stats().invalidations > before, 5000);
      } finally {
        data.stream.resume();
      }
      // The read ran before the write: its old value is right for it, but must not be kept.
      expect(await command.promise).toBe('old');
      expect(cache.stats().entries).toBe(0);
      const next = read('get', key);
      expect(cache.serve(next)).toBe(false);
      expect(await send(cache, source, read('get', key))).toBe('new');
    });

    it('empties the cache when its invalidation connection is killed, and tracks again after the reconnect', async () => {
      const { source, cache, hot, logs, name } = await setUp();
      const key = 'nc:kill:session-9f86d081884c7d65';
      hot.hot.add(key);
      await source.set(key, 'v1');
      await send(cache, source, read('get', key));
      expect(cache.stats().entries).toBe(1);

      const id = await clientIdByName(admin, `${name}-near-cache-invalidations`);
      expect(id).toBeDefined();
      await admin.call('CLIENT', 'KILL', 'ID', String(id));
      await waitUntil('the flush', () => cache.stats().flushes.get('connection_lost') === 1, 5000);
      expect(cache.stats().entries).toBe(0);
      expect(cache.serve(read('get', key))).toBe(false);
      await waitUntil('tracking back on', () => cache.stats().tracking, 5000);

      // Cached again, and invalidated through the new connection.
      await send(cache, source, read('get', key));
      expect(cache.serve(read('get', key))).toBe(true);
      await admin.set(key, 'v2');
      await waitUntil('the invalidation', () => cache.stats().entries === 0, 5000);
      expect(await send(cache, source, read('get', key))).toBe('v2');

      const events = logs.lines.map((l) => [l.event, l.reason]);
      expect(events).toEqual(
        expect.arrayContaining([
          ['redis.near_cache_tracking_on', undefined],
          ['redis.near_cache_flushed', 'connection_lost'],
          ['redis.near_cache_tracking_off', 'connection_lost'],
        ]),
      );
      expect(JSON.stringify(logs.lines)).not.toContain('9f86d081884c7d65');
    });

    it('keeps tracking off while its two connections reach different servers', async () => {
      const { cache, hot, logs } = await setUp(SETTINGS, {
        invalidationsPort: topology.port('redis-1'),
        tracking: false,
      });
      await waitUntil(
        'a refused attempt',
        () => logs.lines.some((l) => l.event === 'redis.near_cache_tracking_failed'),
        5000,
      );
      expect(logs.lines.find((l) => l.event === 'redis.near_cache_tracking_failed')).toMatchObject({
        level: 40,
        attempt: 1,
        err: { message: expect.stringMatching(/different Redis servers/) },
      });
      expect(cache.stats().tracking).toBe(false);
      hot.hot.add('nc:split');
      expect(cache.route(read('get', 'nc:split'))).toBe(false);
    });

    it('empties the cache on FLUSHALL and keeps tracking', async () => {
      const { source, cache, hot } = await setUp();
      hot.hot.add('nc:flush:a');
      hot.hot.add('nc:flush:b');
      await source.mset('nc:flush:a', '1', 'nc:flush:b', '2');
      await send(cache, source, read('get', 'nc:flush:a'));
      await send(cache, source, read('get', 'nc:flush:b'));
      expect(cache.stats().entries).toBe(2);
      await admin.flushall();
      await waitUntil('the flush', () => cache.stats().flushes.get('flushall') === 1, 5000);
      expect(cache.stats()).toMatchObject({ entries: 0, tracking: true });
      expect(await send(cache, source, read('get', 'nc:flush:a'))).toBeNull();
      // A missing key is tracked too: its creation invalidates the cached null.
      expect(cache.serve(read('get', 'nc:flush:a'))).toBe(true);
      await admin.set('nc:flush:a', 'back');
      await waitUntil('the invalidation', () => cache.stats().entries === 0, 5000);
      expect(await send(cache, source, read('get', 'nc:flush:a'))).toBe('back');
    });

    it('serves no entry past its TTL, invalidation or not', async () => {
      const { source, cache, hot } = await setUp({ ...SETTINGS, ttlMs: 1000 });
      hot.hot.add('nc:ttl');
      await source.set('nc:ttl', 'v');
      const sentAt = performance.now();
      await send(cache, source, read('get', 'nc:ttl'));
      let lastHit = 0;
      while (performance.now() - sentAt < 1300) {
        if (cache.serve(read('get', 'nc:ttl'))) lastHit = performance.now();
        await delay(10);
      }
      expect(lastHit - sentAt).toBeGreaterThan(500);
      // The cap counts from when the read was sent (a hair after sentAt), not from its reply.
      expect(lastHit - sentAt).toBeLessThan(1005);
      expect(cache.stats().entries).toBe(0);
    });

    it('keeps within maxEntries by evicting the oldest keys', async () => {
      const { source, cache, hot } = await setUp({ ...SETTINGS, maxEntries: 5 });
      const keys = Array.from({ length: 10 }, (_, i) => `nc:entries:${i}`);
      for (const key of keys) {
        hot.hot.add(key);
        await source.set(key, 'x');
        await send(cache, source, read('get', key));
      }
      expect(cache.stats().entries).toBe(5);
      expect(keys.map((key) => cache.serve(read('get', key)))).toEqual([
        ...Array(5).fill(false),
        ...Array(5).fill(true),
      ]);
    });

    it('keeps within maxBytes, and never caches a reply larger than the whole cache', async () => {
      const { source, cache, hot } = await setUp({ ...SETTINGS, maxBytes: 3000 });
      // About 1.2 KB each with the key and the bookkeeping: two fit, a third evicts the oldest.
      const keys = Array.from({ length: 3 }, (_, i) => `nc:bytes:${i}`);
      for (const key of keys) {
        hot.hot.add(key);
        await source.set(key, 'y'.repeat(1024));
        await send(cache, source, read('get', key));
        expect(cache.stats().bytes).toBeLessThanOrEqual(3000);
      }
      expect(cache.stats().entries).toBe(2);
      expect(keys.map((key) => cache.serve(read('get', key)))).toEqual([false, true, true]);

      hot.hot.add('nc:bytes:big');
      await source.set('nc:bytes:big', 'b'.repeat(4096));
      expect(await send(cache, source, read('get', 'nc:bytes:big'))).toHaveLength(4096);
      expect(cache.serve(read('get', 'nc:bytes:big'))).toBe(false);
      expect(cache.stats().bytes).toBeLessThanOrEqual(3000);
    });

    it('drops a key that cooled down at its next lookup', async () => {
      const { source, cache, hot } = await setUp();
      hot.hot.add('nc:cool');
      await source.set('nc:cool', 'v');
      await send(cache, source, read('get', 'nc:cool'));
      hot.hot.delete('nc:cool');
      expect(cache.serve(read('get', 'nc:cool'))).toBe(false);
      expect(cache.stats().entries).toBe(0);
      expect(cache.route(read('get', 'nc:cool'))).toBe(false);
    });

    it('closes both of its connections, twice without harm, and routes nothing after', async () => {
      const { cache, hot, name } = await setUp();
      hot.hot.add('nc:closed');
      cache.close();
      cache.close();
      expect(cache.stats()).toMatchObject({ tracking: false, entries: 0 });
      expect(cache.stats().flushes.get('closed')).toBe(1);
      expect(cache.route(read('get', 'nc:closed'))).toBe(false);
      await waitUntil(
        'both connections gone',
        async () =>
          (await clientIdByName(admin, `${name}-near-cache`)) === undefined &&
          (await clientIdByName(admin, `${name}-near-cache-invalidations`)) === undefined,
        5000,
      );
    });
  });
});

describe('the near-cache across a Sentinel failover (kill -9 of the master)', () => {
  let topology: RedisTopology;
  const started = new Started();

  beforeAll(async () => {
    // Two replicas: the new master keeps one, which the shipped min-replicas-to-write needs.
    topology = await RedisTopology.start({ tls: true, replicas: 2, sentinels: 3 });
  });
  afterAll(async () => {
    started.stop();
    await topology?.stop();
  });

  it('flushes, then tracks on the new master: a read is cached again and invalidated by a write there', async () => {
    const description = topology.describe();
    const app = description.users?.app;
    if (!app) throw new Error('the topology runs with ACL');
    const source = started.client(
      new Redis({
        sentinels: topology
          .names('sentinel')
          .map((n) => ({ host: description.host, port: topology.port(n) })),
        name: topology.masterName,
        role: 'master',
        tls: tlsOptionsOf(description),
        enableTLSForSentinelMode: true,
        sentinelTLS: tlsOptionsOf(description),
        username: app.username,
        password: app.password,
        connectionName: 'near-cache-failover',
      }),
    );
    const hot = new HotKeys();
    hot.hot.add('nc:failover');
    const logs = capturedLogs();
    const cache = started.cache(new NearCache(source, SETTINGS, hot, pino(logs.stream)));
    await source.set('nc:failover', 'before');
    await waitUntil('tracking on', () => cache.stats().tracking, 5000);
    await send(cache, source, read('get', 'nc:failover'));
    expect(cache.serve(read('get', 'nc:failover'))).toBe(true);

    const oldPort = await topology.currentMasterPort();
    await topology.kill('redis-0');
    await waitUntil('the flush', () => cache.stats().flushes.get('connection_lost') === 1, 5000);
    expect(cache.stats()).toMatchObject({ entries: 0, tracking: false });
    await waitUntil('a new master', async () => (await topology.currentMasterPort()) !== oldPort);
    await waitUntil('tracking on the new master', () => cache.stats().tracking, 20_000);
    const newMaster = started.client(topology.connect(await topology.currentMasterPort()));
    const list = (await newMaster.call('CLIENT', 'LIST')) as string;
    const tracked = list
      .split('\n')
      .find((l) => l.includes(' name=near-cache-failover-near-cache '));
    expect(tracked).toMatch(/ flags=\w*t\w* /);

    expect(await send(cache, source, read('get', 'nc:failover'))).toBe('before');
    expect(cache.serve(read('get', 'nc:failover'))).toBe(true);
    await newMaster.set('nc:failover', 'after');
    await waitUntil('the invalidation', () => cache.stats().entries === 0, 5000);
    expect(await send(cache, source, read('get', 'nc:failover'))).toBe('after');
    expect(logs.lines.map((l) => [l.event, l.reason])).toEqual([
      ['redis.near_cache_tracking_on', undefined],
      ['redis.near_cache_flushed', 'connection_lost'],
      ['redis.near_cache_tracking_off', 'connection_lost'],
      ...logs.lines
        .filter((l) => l.event === 'redis.near_cache_tracking_failed')
        .map((l) => [l.event, undefined]),
      ['redis.near_cache_tracking_on', undefined],
    ]);
  });
});
