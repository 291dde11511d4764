import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients } from '../../../client/connection/create-redis-clients.js';
import { ConfigError, DurableWriteError } from '../../../client/errors.js';
import { createLogger } from '../../../client/logging/logger.js';
import { createSessionCache, type SessionRecord } from '../../../client/session/session-cache.js';
import { RedisTopology } from '../../../stack/topology.js';
import { clientsConfigFor } from '../../../stack/topology-clients.js';
import { sharedTopology } from '../../support/shared-topology.js';
import { capturedLogs } from '../support/captured-logs.js';
import { sessionClientsOf, sharedPair, uniquePrefix } from '../support/redis-pair.js';

const pair = sharedPair();
const redis = sessionClientsOf(pair);
afterAll(() => {
  pair.close();
});

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('session cache, happy path', () => {
  it('serves a created session from the replica once it has replicated', async () => {
    const sessions = createSessionCache(redis, {
      loader: async () => null,
      keyPrefix: uniquePrefix('sc'),
    });
    await sessions.create('token-a', { userId: 'u1', orgId: 'acme' });
    const fromReplica = await eventually('a replica hit', async () => {
      const result = await sessions.validate('token-a');
      return result.valid && result.source === 'replica' ? result : undefined;
    });
    expect(fromReplica.valid && fromReplica.session).toEqual({ userId: 'u1', orgId: 'acme' });
  });

  it('loads a missing session, writes it back with the TTL, and hits Redis next time', async () => {
    const prefix = uniquePrefix('sc');
    const loaded: string[] = [];
    const sessions = createSessionCache(redis, {
      loader: async (id) => {
        loaded.push(id);
        return { userId: 'u2', orgId: 'globex' };
      },
      keyPrefix: prefix,
      ttlSeconds: 120,
    });
    const first = await sessions.validate('token-b');
    expect(first).toMatchObject({ valid: true, source: 'loader' });
    const keys = await pair.writer.keys(`${prefix}session:*`);
    expect(keys).toHaveLength(1);
    const ttl = await pair.writer.ttl(keys[0] as string);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    const second = await sessions.validate('token-b');
    expect(second.valid && second.source).not.toBe('loader');
    expect(loaded).toEqual(['token-b']);
  });

  it('keys sessions by the SHA-256 of the id, never the raw id', async () => {
    const prefix = uniquePrefix('sc');
    const sessions = createSessionCache(redis, { loader: async () => null, keyPrefix: prefix });
    await sessions.create('raw-token-visible?', { userId: 'u', orgId: 'o' });
    const keys = await pair.writer.keys(`${prefix}*`);
    expect(keys).toEqual([expect.stringMatching(/session:[0-9a-f]{64}$/)]);
  });
});

describe('session cache on createRedisClients', () => {
  it('reads through the replica connection, counted under the reader role', async () => {
    const registry = new Registry();
    const clients = createRedisClients(clientsConfigFor(sharedTopology()), {
      registry,
      tracing: { enabled: false },
    });
    try {
      const sessions = createSessionCache(clients, {
        loader: async () => null,
        keyPrefix: uniquePrefix('sc'),
        registry,
      });
      await sessions.create('token-i', { userId: 'u', orgId: 'o' });
      const result = await eventually('a replica hit', async () => {
        const r = await sessions.validate('token-i');
        return r.valid && r.source === 'replica' ? r : undefined;
      });
      expect(result.valid).toBe(true);
      const text = await registry.metrics();
      expect(text).toContain('redscope_client_connection_up{role="reader"} 1');
      // The replica's GETs are counted: the writer alone sends one GET per validation.
      expect(text).toMatch(/redscope_client_commands_total\{command="get"\} ([3-9]|\d\d)/);
      expect(text).toMatch(/redscope_session_cache_hits_total [1-9]/);
    } finally {
      await clients.close();
    }
  });
});

describe('session cache, unhappy path', () => {
  it('answers invalid for an unknown session and caches nothing', async () => {
    const prefix = uniquePrefix('sc');
    const sessions = createSessionCache(redis, { loader: async () => null, keyPrefix: prefix });
    expect(await sessions.validate('nope')).toEqual({ valid: false, source: 'loader' });
    expect(await pair.writer.keys(`${prefix}session:*`)).toEqual([]);
  });

  it('does not let a write-back after a miss undo a revoke that raced with it', async () => {
    const prefix = uniquePrefix('sc');
    let revokeDuringLoad: (() => Promise<void>) | undefined;
    const sessions = createSessionCache(redis, {
      loader: async () => {
        await revokeDuringLoad?.();
        return { userId: 'u', orgId: 'o' };
      },
      keyPrefix: prefix,
    });
    revokeDuringLoad = () => sessions.revoke('token-c');
    await sessions.validate('token-c');
    expect(await pair.writer.keys(`${prefix}session:*`)).toEqual([]);
  });

  it('falls back to the loader when Redis is unreachable, and says so at warn', async () => {
    const { stream, lines } = capturedLogs();
    // Nothing listens on port 1: every command fails at once.
    const dead = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    dead.on('error', () => undefined);
    try {
      const sessions = createSessionCache(sessionClientsOf({ writer: dead }), {
        loader: async () => ({ userId: 'u', orgId: 'o' }),
        logger: createLogger({ destination: stream }),
      });
      expect(await sessions.validate('token-g')).toMatchObject({ valid: true, source: 'loader' });
      expect(lines.find((l) => l.event === 'session.cache_unavailable')?.level).toBe('warn');
    } finally {
      dead.disconnect();
    }
  });

  it('answers from the master when the replica is unreachable', async () => {
    const writer = pair.writer.duplicate();
    const deadReader = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    deadReader.on('error', () => undefined);
    try {
      const sessions = createSessionCache(sessionClientsOf({ writer, reader: deadReader }), {
        loader: async () => null,
        keyPrefix: uniquePrefix('sc'),
      });
      await sessions.create('token-h', { userId: 'u', orgId: 'o' });
      expect(await sessions.validate('token-h')).toMatchObject({ valid: true, source: 'master' });
    } finally {
      writer.disconnect();
      deadReader.disconnect();
    }
  });

  it('treats an expired record as missing', async () => {
    const sessions = createSessionCache(redis, {
      loader: async () => ({ userId: 'u', orgId: 'o', expiresAt: Date.now() - 1000 }),
      keyPrefix: uniquePrefix('sc'),
    });
    expect((await sessions.validate('old')).valid).toBe(false);
  });

  it('refuses a second session cache on the same registry and a loader that is not a function', () => {
    const registry = new Registry();
    createSessionCache(redis, { loader: async () => null, registry });
    expect(() => createSessionCache(redis, { loader: async () => null, registry })).toThrow(
      /already has redscope_session_cache_hits_total: create one session cache per registry/,
    );
    expect(() =>
      createSessionCache(redis, { loader: 'db' as unknown as () => Promise<null> }),
    ).toThrow(ConfigError);
  });
});

describe('session cache against a stale replica', () => {
  let topology: RedisTopology;
  let master: Redis;
  let stale: Redis;
  const database = new Map<string, SessionRecord>();

  beforeAll(async () => {
    // Two replicas: redis-2 gets cut off below while redis-1 keeps acknowledging writes
    // (the shipped master config refuses writes with no good replica: min-replicas-to-write 1).
    topology = await RedisTopology.start({ tls: false, acl: false, replicas: 2, sentinels: 0 });
    master = topology.connect(topology.port('redis-0'));
    stale = topology.connect(topology.port('redis-2'));
    // The read client reads the replica only while its connection is ready, and falls back to
    // the master otherwise: both answered before any test starts.
    await Promise.all([master.ping(), stale.ping()]);
    expect([master.status, stale.status]).toEqual(['ready', 'ready']);
  });
  afterAll(async () => {
    master?.disconnect();
    stale?.disconnect();
    await topology?.stop();
  });

  it('rejects a revoked session that a lagging replica still holds, reading the master instead', async () => {
    const clients = sessionClientsOf({ writer: master, reader: stale });
    {
      const sessions = createSessionCache(clients, {
        loader: async (id) => database.get(id) ?? null,
        keyPrefix: 'stale:',
        durability: { replicas: 2, timeoutMs: 1500 },
      });
      database.set('token-d', { userId: 'u4', orgId: 'initech' });
      await sessions.create('token-d', { userId: 'u4', orgId: 'initech' });
      expect(await sessions.validate('token-d')).toMatchObject({ valid: true, source: 'replica' });
      // Cut replication: from now on redis-2 keeps serving what it had.
      await stale.replicaof('NO', 'ONE');
      // Redis-1 still acknowledges: WAIT 1 (the default) is satisfied.
      const afterCut = createSessionCache(clients, {
        loader: async (id) => database.get(id) ?? null,
        keyPrefix: 'stale:',
      });
      database.delete('token-d');
      await afterCut.revoke('token-d');
      // The stale replica still has the session: a plain replica read would accept it.
      expect(await stale.keys('stale:session:*')).toHaveLength(1);
      expect(await afterCut.validate('token-d')).toEqual({ valid: false, source: 'loader' });
      // And a live session still validates, from the master while the replica is behind.
      await afterCut.create('token-f', { userId: 'u5', orgId: 'initech' });
      expect(await afterCut.validate('token-f')).toMatchObject({ valid: true, source: 'master' });
    }
  });

  it('reports a create that too few replicas acknowledged as not durable', async () => {
    // Cut off, whatever the test before did (REPLICAOF NO ONE twice is harmless).
    await stale.replicaof('NO', 'ONE');
    const sessions = createSessionCache(sessionClientsOf({ writer: master, reader: stale }), {
      loader: async () => null,
      keyPrefix: 'durable:',
      durability: { replicas: 2, timeoutMs: 100 },
      logger: pino({ level: 'silent' }),
    });
    const failure = await sessions
      .create('token-e', { userId: 'u', orgId: 'o' })
      .catch((e: unknown) => e);
    // The one durable-write path: the same error type and checks as clients.writeDurably.
    expect(failure).toBeInstanceOf(DurableWriteError);
    expect((failure as Error).message).toMatch(/1 of 2 required replica\(s\) acknowledged/);
  });
});
