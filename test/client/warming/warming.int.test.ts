import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseWarmingStatus,
  WARMING_STATUS_INDEX,
  warmingStatusKey,
  warmingStatusMember,
  warmingUsageKey,
} from '../../../client/common/warming-status.js';
import type { RedisClients } from '../../../client/connection/create-redis-clients.js';
import { WARMING_METRIC_NAMES } from '../../../client/warming/warming-metrics.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import {
  clientsWithLogs,
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

let namespaces = 0;
/** A namespace no other test of this file uses. */
const fresh = () => `w${++namespaces}:item:`;

describe('warming, happy path', () => {
  it('runs in the background: warm() returns at once and the app is answered before warming ends', async () => {
    const { clients } = setup();
    await clients.ready();
    const namespace = fresh();
    const loader = recordingLoader({ delayMs: 100 });
    const started = performance.now();
    const run = clients.warm({
      namespace,
      keys: keysOf(namespace, 40),
      batchSize: 10,
      concurrency: 1,
      source: { kind: 'loader', load: loader.load, ttlSeconds: 60 },
    });
    expect(performance.now() - started).toBeLessThan(20);
    expect(run.progress().state).toBe('running');
    await clients.writer.set('app:answer', '42');
    expect(await clients.writer.get('app:answer')).toBe('42');
    expect(run.progress().state).toBe('running');
    const result = await run.done;
    expect(result).toMatchObject({ outcome: 'done', state: 'done', planned: 40, warmed: 40 });
    expect(await redis.admin.get(`${namespace}7`)).toBe(`value:${namespace}7`);
    const ttl = await redis.admin.pttl(`${namespace}7`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('warms in rank order: the given keys as listed, the usage record by score', async () => {
    const { clients } = setup();
    const namespace = fresh();
    const listed = [`${namespace}c`, `${namespace}a`, `${namespace}d`, `${namespace}b`];
    const fromList = recordingLoader();
    await clients.warm({
      namespace,
      keys: listed,
      batchSize: 1,
      concurrency: 1,
      source: { kind: 'loader', load: fromList.load, ttlSeconds: 60 },
    }).done;
    expect(fromList.calls.flatMap((c) => c.keys)).toEqual(listed);

    const ranked = fresh();
    await redis.admin.zadd(
      warmingUsageKey(ranked),
      5,
      `${ranked}five`,
      50,
      `${ranked}fifty`,
      1,
      `${ranked}one`,
      20,
      `${ranked}twenty`,
    );
    const fromUsage = recordingLoader();
    const result = await clients.warm({
      namespace: ranked,
      limit: 3,
      batchSize: 1,
      concurrency: 1,
      source: { kind: 'loader', load: fromUsage.load, ttlSeconds: 60 },
    }).done;
    expect(fromUsage.calls.flatMap((c) => c.keys)).toEqual([
      `${ranked}fifty`,
      `${ranked}twenty`,
      `${ranked}five`,
    ]);
    expect(result.planned).toBe(3);
  });

  it('honours the rate limit: keys per second stay at the token rate, within one batch', async () => {
    const { clients } = setup();
    const namespace = fresh();
    const loader = recordingLoader();
    const rate = 200;
    const result = await clients.warm({
      namespace,
      keys: keysOf(namespace, 500),
      ratePerSecond: rate,
      batchSize: 10,
      concurrency: 2,
      source: { kind: 'loader', load: loader.load, ttlSeconds: 60 },
    }).done;
    expect(result.warmed).toBe(500);
    const first = loader.calls[0]?.at as number;
    const last = loader.calls.at(-1)?.at as number;
    // The bucket starts with one batch in it: the other 490 keys take 490/200 s.
    expect(last - first).toBeGreaterThan(((500 - 10 - 10) / rate) * 1000 * 0.95);
    expect(last - first).toBeLessThan(((500 - 10) / rate) * 1000 * 1.2);
    // No second of the run went over the rate by more than a batch.
    for (let t = first; t < last - 1000; t += 250) {
      const inWindow = loader.calls
        .filter((c) => c.at >= t && c.at < t + 1000)
        .reduce((n, c) => n + c.keys.length, 0);
      expect(inWindow).toBeLessThanOrEqual(rate + 10);
    }
  });

  it('writes the status record while running and after, and the client metrics follow the run', async () => {
    const { clients, registry } = setup();
    await clients.ready();
    const namespace = fresh();
    const run = clients.warm({
      namespace,
      keys: keysOf(namespace, 60),
      ratePerSecond: 100,
      batchSize: 10,
      progressEveryMs: 200,
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    });
    await waitUntil('the first keys warmed', () => run.progress().warmed >= 20, 5000);
    const index = await redis.admin.zrange(WARMING_STATUS_INDEX, '0', '-1');
    const member = index.find((m) => m.endsWith(`:${namespace}`)) as string;
    expect(member).toMatch(/^app@.+:\d+:w\d+:item:$/);
    const instance = member.slice(0, -(namespace.length + 1));
    expect(warmingStatusMember(instance, namespace)).toBe(member);
    const key = warmingStatusKey(instance, namespace);
    const running = parseWarmingStatus((await redis.admin.get(key)) as string);
    expect(running).toMatchObject({
      ok: true,
      status: { v: 1, state: 'running', source: 'keys', planned: 60, namespace, instance },
    });
    const ttl = await redis.admin.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    let text = await registry.metrics();
    expect(sample(text, `${WARMING_METRIC_NAMES.running}{namespace="${namespace}"}`)).toBe(1);
    expect(sample(text, `${WARMING_METRIC_NAMES.planned}{namespace="${namespace}"}`)).toBe(60);
    expect(sample(text, `${WARMING_METRIC_NAMES.rateLimit}{namespace="${namespace}"}`)).toBe(100);

    await run.done;
    const ended = parseWarmingStatus((await redis.admin.get(key)) as string);
    expect(ended).toMatchObject({ ok: true, status: { state: 'done', warmed: 60, planned: 60 } });
    if (ended.ok) expect(ended.status.finishedAt).toBeGreaterThanOrEqual(ended.status.startedAt);
    expect(await redis.admin.pttl(key)).toBeGreaterThan(9 * 60_000);
    text = await registry.metrics();
    expect(sample(text, `${WARMING_METRIC_NAMES.running}{namespace="${namespace}"}`)).toBe(0);
    expect(
      sample(text, `${WARMING_METRIC_NAMES.keys}{namespace="${namespace}",result="warmed"}`),
    ).toBe(60);
    expect(
      sample(text, `${WARMING_METRIC_NAMES.runs}{namespace="${namespace}",outcome="done"}`),
    ).toBe(1);
  });

  it('logs start, progress with keys/s and ETA, and the end, without a key name', async () => {
    const { clients, lines } = setup();
    const namespace = fresh();
    await clients.warm({
      namespace,
      keys: keysOf(namespace, 50),
      ratePerSecond: 100,
      batchSize: 5,
      progressEveryMs: 150,
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    }).done;
    expect(eventsOf(lines, 'redis.warming_started')).toEqual([
      expect.objectContaining({
        level: 'info',
        namespace,
        source: 'keys',
        planned: 50,
        rate_per_second: 100,
      }),
    ]);
    const progress = eventsOf(lines, 'redis.warming_progress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const mid = progress.find((l) => (l.warmed as number) > 0 && (l.warmed as number) < 50);
    expect(mid).toMatchObject({ planned: 50, level: 'info' });
    expect(mid?.keys_per_second).toBeGreaterThan(40);
    expect(mid?.keys_per_second).toBeLessThan(200);
    expect(mid?.eta_seconds).toBeGreaterThan(0);
    expect(eventsOf(lines, 'redis.warming_finished')).toEqual([
      expect.objectContaining({ outcome: 'done', warmed: 50, planned: 50 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(`${namespace}1`);
  });

  it("writes the app's keys into the app's db, and its records into db 0", async () => {
    const made = clientsWithLogs(`${redis.url}/3`);
    opened.push(made.clients);
    const namespace = fresh();
    await made.clients.warm({
      namespace,
      keys: keysOf(namespace, 3),
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    }).done;
    const db3 = redis.admin.duplicate({ db: 3 });
    try {
      expect(await db3.exists(...keysOf(namespace, 3))).toBe(3);
      expect(await redis.admin.exists(...keysOf(namespace, 3))).toBe(0);
      const members = await redis.admin.zrange(WARMING_STATUS_INDEX, '0', '-1');
      expect(members.some((m) => m.endsWith(`:${namespace}`))).toBe(true);
    } finally {
      db3.disconnect();
    }
  });

  it('skips keys already in Redis without loading them', async () => {
    const { clients } = setup();
    const namespace = fresh();
    await redis.admin.set(`${namespace}1`, 'live');
    const loader = recordingLoader();
    const result = await clients.warm({
      namespace,
      keys: keysOf(namespace, 3),
      source: { kind: 'loader', load: loader.load, ttlSeconds: 60 },
    }).done;
    expect(result).toMatchObject({ warmed: 2, skipped: 1 });
    expect(loader.calls.flatMap((c) => c.keys)).toEqual([`${namespace}0`, `${namespace}2`]);
    expect(await redis.admin.get(`${namespace}1`)).toBe('live');
  });

  it('stops once the target hit rate is reached', async () => {
    const { clients } = setup();
    const namespace = fresh();
    let hitRate = 0.2;
    const run = clients.warm({
      namespace,
      keys: keysOf(namespace, 400),
      ratePerSecond: 100,
      batchSize: 10,
      targetHitRate: { ratio: 0.9, current: () => hitRate },
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    });
    await waitUntil('some keys warmed', () => run.progress().warmed > 0, 5000);
    hitRate = 0.95;
    const result = await run.done;
    expect(result.outcome).toBe('target_reached');
    expect(result.state).toBe('done');
    expect(result.warmed).toBeLessThan(400);
  });
});
