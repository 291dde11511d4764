import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmingUsageKey } from '../../../client/common/warming-status.js';
import type { RedisClients } from '../../../client/connection/create-redis-clients.js';
import { ConfigError } from '../../../client/errors.js';
import { createLogger } from '../../../client/logging/logger.js';
import { createSessionCache, type SessionRecord } from '../../../client/session/session-cache.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import { capturedLogs } from '../support/captured-logs.js';
import { sessionClientsOf } from '../support/redis-pair.js';
import {
  clientsWithLogs,
  delay,
  eventsOf,
  type PlainRedis,
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

const sha256 = (id: string) => createHash('sha256').update(id).digest('hex');

/** The source of truth: sessions by id, and the same by the hash of the id. */
function database(count: number) {
  const byId = new Map<string, SessionRecord>();
  const byHash = new Map<string, SessionRecord>();
  for (let i = 0; i < count; i++) {
    const session = { userId: `u${i}`, orgId: 'acme' };
    byId.set(`sid-${i}`, session);
    byHash.set(sha256(`sid-${i}`), session);
  }
  const hashLoads: string[][] = [];
  return {
    ids: [...byId.keys()],
    loader: async (id: string) => byId.get(id) ?? null,
    loadByHash: async (hashes: readonly string[]): Promise<ReadonlyMap<string, SessionRecord>> => {
      hashLoads.push([...hashes]);
      const found = new Map<string, SessionRecord>();
      for (const hash of hashes) {
        const session = byHash.get(hash);
        if (session !== undefined) found.set(hash, session);
      }
      return found;
    },
    hashLoads,
  };
}

function setup(prefix: string) {
  const made = clientsWithLogs(redis.url, {
    usage: { namespaces: [`${prefix}session:`], sampleRate: 1, flushIntervalMs: 200 },
  });
  opened.push(made.clients);
  return made;
}

/** Sends the app's traffic through a session cache without warming, and waits for the record. */
async function recordUsage(clients: RedisClients, prefix: string, ids: readonly string[]) {
  const db = database(ids.length);
  const plain = createSessionCache(clients, { loader: db.loader, keyPrefix: prefix });
  // Session i is used (ids.length - i) times: the first ones are the most used.
  for (let round = 0; round < ids.length; round++) {
    for (const id of ids.slice(0, ids.length - round)) await plain.validate(id);
  }
  const record = warmingUsageKey(`${prefix}session:`);
  await waitUntil(
    'the usage record',
    async () => (await redis.admin.zcard(record)) === ids.length,
    5000,
  );
}

describe('the session cache warms itself', () => {
  it('on start, behind the switch: the most used sessions first, hits straight away', async () => {
    const prefix = 'sw1:';
    const { clients, lines } = setup(prefix);
    const db = database(20);
    await recordUsage(clients, prefix, db.ids);
    const sessionKeys = await redis.admin.keys(`${prefix}session:*`);
    expect(sessionKeys).toHaveLength(20);
    // The cache goes cold; the usage record survives (a failover to a replica that had it).
    await redis.admin.del(...sessionKeys);

    const off = createSessionCache(clients, {
      loader: db.loader,
      keyPrefix: prefix,
      warming: { loadByHash: db.loadByHash, onStart: false },
    });
    await delay(1300);
    expect(db.hashLoads).toEqual([]);
    expect(off).toBeDefined();

    const perId: string[] = [];
    const sessions = createSessionCache(clients, {
      loader: async (id) => {
        perId.push(id);
        return db.loader(id);
      },
      keyPrefix: prefix,
      warming: { loadByHash: db.loadByHash, limit: 10, ratePerSecond: 1000 },
    });
    const app = await sessions.validate('sid-19');
    // The app is answered (by the loader) while warming waits for its baseline second.
    expect(app).toMatchObject({ valid: true, source: 'loader' });
    await waitUntil('the start run', () => db.hashLoads.length > 0, 5000);
    const finished = await new Promise<Record<string, unknown>>((resolve) => {
      const poll = setInterval(() => {
        const line = eventsOf(lines, 'redis.warming_finished').at(-1);
        if (line !== undefined) {
          clearInterval(poll);
          resolve(line);
        }
      }, 20);
    });
    expect(finished).toMatchObject({ namespace: `${prefix}session:`, outcome: 'done', warmed: 10 });
    expect(db.hashLoads.flat()).toEqual(db.ids.slice(0, 10).map(sha256));
    for (const id of db.ids.slice(0, 10)) {
      expect(await sessions.validate(id)).toMatchObject({ valid: true, source: 'master' });
    }
    expect(perId).toEqual(['sid-19']);
    const ttl = await redis.admin.ttl(`${prefix}session:${sha256('sid-0')}`);
    expect(ttl).toBeGreaterThan(3500);
  });

  it('after a FLUSHALL: the first validation that sees it starts a run from the plan it remembers', async () => {
    const prefix = 'sw2:';
    const { clients, lines } = setup(prefix);
    const db = database(20);
    await recordUsage(clients, prefix, db.ids);
    const { stream, lines: sessionLines } = capturedLogs();
    const sessions = createSessionCache(clients, {
      loader: db.loader,
      keyPrefix: prefix,
      logger: createLogger({ destination: stream }),
      warming: { loadByHash: db.loadByHash, limit: 20, ratePerSecond: 1000 },
    });
    await waitUntil(
      'the start run',
      () => eventsOf(lines, 'redis.warming_finished').length === 1,
      5000,
    );
    for (const id of db.ids) await sessions.validate(id);
    const loadsBefore = db.hashLoads.length;

    await redis.admin.flushall();
    await sessions.validate('sid-0');
    const storm = eventsOf(sessionLines, 'session.miss_storm');
    expect(storm).toEqual([
      expect.objectContaining({ level: 'warn', trigger: 'flush', warming: 'started' }),
    ]);
    await waitUntil(
      'the storm run',
      () => eventsOf(lines, 'redis.warming_finished').length === 2,
      5000,
    );
    expect(eventsOf(lines, 'redis.warming_finished')[1]).toMatchObject({
      outcome: 'done',
      planned: 20,
    });
    expect(db.hashLoads.length).toBeGreaterThan(loadsBefore);
    expect(await redis.admin.exists(...db.ids.map((id) => `${prefix}session:${sha256(id)}`))).toBe(
      20,
    );
    // The app goes on (and sees the re-seeded counter); a second flush within the minute is
    // logged, not warmed again.
    for (const id of db.ids) await sessions.validate(id);
    await redis.admin.flushall();
    await sessions.validate('sid-1');
    await sessions.validate('sid-1');
    await waitUntil(
      'the second storm line',
      () => eventsOf(sessionLines, 'session.miss_storm').length === 2,
      3000,
    );
    expect(eventsOf(sessionLines, 'session.miss_storm')[1]).toMatchObject({
      trigger: 'flush',
      warming: 'too_soon',
    });
  });

  it('after the hit ratio collapses (keys lost without a flush)', async () => {
    const prefix = 'sw3:';
    const { clients, lines: clientLines } = setup(prefix);
    const db = database(300);
    const { stream, lines } = capturedLogs();
    const sessions = createSessionCache(clients, {
      loader: db.loader,
      keyPrefix: prefix,
      logger: createLogger({ destination: stream }),
      warming: { loadByHash: db.loadByHash, onStart: false, limit: 300, ratePerSecond: 5000 },
    });
    for (const id of db.ids) await sessions.validate(id);
    for (const id of db.ids) await sessions.validate(id);
    expect(eventsOf(lines, 'session.miss_storm')).toEqual([]);
    const record = warmingUsageKey(`${prefix}session:`);
    await waitUntil(
      'the usage record',
      async () => (await redis.admin.zcard(record)) === 300,
      5000,
    );
    const keys = await redis.admin.keys(`${prefix}session:*`);
    await redis.admin.del(...keys);
    for (const id of db.ids.slice(0, 150)) await sessions.validate(id);
    expect(eventsOf(lines, 'session.miss_storm')).toEqual([
      expect.objectContaining({ trigger: 'hit_ratio', hit_ratio: 0.495, warming: 'started' }),
    ]);
    await waitUntil(
      'the storm run',
      () => eventsOf(clientLines, 'redis.warming_finished').length === 1,
      5000,
    );
    // The 150 sessions validated since were written back by the app; the run loads the rest.
    expect(eventsOf(clientLines, 'redis.warming_finished')[0]).toMatchObject({
      outcome: 'done',
      planned: 300,
      warmed: 150,
      skipped: 150,
    });
    expect(db.hashLoads.flat()).toHaveLength(150);
  });

  it('never brings back a session revoked while its batch was loading', async () => {
    const prefix = 'sw5:';
    const { clients, lines } = setup(prefix);
    const db = database(5);
    await recordUsage(clients, prefix, db.ids);
    await redis.admin.del(...(await redis.admin.keys(`${prefix}session:*`)));
    const revoked = sha256('sid-0');
    let calls = 0;
    createSessionCache(clients, {
      loader: db.loader,
      keyPrefix: prefix,
      warming: {
        loadByHash: async (hashes) => {
          calls += 1;
          const found = await db.loadByHash(hashes);
          if (calls === 1) {
            // The user logs out while the batch is in flight: the database forgets the
            // session, the cache revokes it; this batch read it before.
            // What revoke() does on the master (it then WAITs for a replica this Redis lacks).
            await redis.admin
              .multi()
              .del(`${prefix}session:${revoked}`)
              .incr(`${prefix}sessions:revocations`)
              .exec();
            return found;
          }
          return new Map([...found].filter(([hash]) => hash !== revoked));
        },
      },
    });
    await waitUntil(
      'the start run',
      () => eventsOf(lines, 'redis.warming_finished').length === 1,
      5000,
    );
    // The first batch raced the revoke: it was loaded again, without the revoked session.
    expect(calls).toBe(2);
    expect(eventsOf(lines, 'redis.warming_finished')[0]).toMatchObject({ warmed: 4 });
    expect(await redis.admin.exists(`${prefix}session:${revoked}`)).toBe(0);
    expect(await redis.admin.exists(`${prefix}session:${sha256('sid-1')}`)).toBe(1);
  });

  it('refuses a warming option it cannot honour', () => {
    const db = database(1);
    const bare = sessionClientsOf({ writer: redis.admin });
    expect(() =>
      createSessionCache(bare, { loader: db.loader, warming: { loadByHash: db.loadByHash } }),
    ).toThrow(ConfigError);
    const { clients } = setup('sw4:');
    expect(() =>
      createSessionCache(clients, {
        loader: db.loader,
        keyPrefix: 'sw4:',
        warming: { loadByHash: 'nope' as never },
      }),
    ).toThrow(/warming.loadByHash/);
    // The session namespace must be one the client records.
    expect(() =>
      createSessionCache(clients, {
        loader: db.loader,
        keyPrefix: 'other:',
        warming: { loadByHash: db.loadByHash },
      }),
    ).toThrow(/not one of usage.namespaces/);
  });
});
