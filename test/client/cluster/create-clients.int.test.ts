import { createHash } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import type { Cluster, Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSlot } from '../../../client/common/cluster-routing.js';
import { HOTKEY_REPORT_INDEX } from '../../../client/common/hotkey-report.js';
import {
  ConfigError,
  createRedisClients,
  createSessionCache,
  DurableWriteError,
  type RedisClients,
} from '../../../client/index.js';
import { ClusterTopology } from '../../../stack/cluster-topology.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import { freePort } from '../../../stack/ports.js';
import { clusterClientsConfig } from './support/cluster-clients-config.js';

let topology: ClusterTopology;
let clients: RedisClients<Cluster>;
const prefix = `cluster-clients:${process.pid}`;

beforeAll(async () => {
  topology = await ClusterTopology.start();
  clients = createRedisClients(clusterClientsConfig(topology.describe()));
  await clients.ready();
});

afterAll(async () => {
  await clients?.close();
  await topology?.stop();
});

/** A key of `prefix` for each master, found by asking the cluster (slot ranges are not assumed). */
async function keyPerMaster(): Promise<Map<string, string>> {
  const byMaster = new Map<string, string>();
  for (let i = 0; byMaster.size < topology.names('master').length && i < 200; i++) {
    const key = `${prefix}:spread:${i}`;
    const master = await topology.masterNameOf(key);
    if (!byMaster.has(master)) byMaster.set(master, key);
  }
  return byMaster;
}

/** `cmdstat_<command>` calls on node `name` since its last CONFIG RESETSTAT. */
async function callsOn(name: string, command: string): Promise<number> {
  const admin = topology.connect(topology.port(name));
  try {
    const stats = await admin.info('commandstats');
    return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  } finally {
    admin.disconnect();
  }
}

async function resetStats(): Promise<void> {
  for (const name of [...topology.names('master'), ...topology.names('replica')]) {
    const admin = topology.connect(topology.port(name));
    try {
      await admin.config('RESETSTAT');
    } finally {
      admin.disconnect();
    }
  }
}

/** CLIENT LIST lines of near-cache connections (data and invalidations) on node `name`. */
async function nearCacheConnections(name: string): Promise<string[]> {
  const admin = topology.connect(topology.port(name));
  try {
    const list = (await admin.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => /\bname=\S*-near-cache(-invalidations)?\s/.test(line));
  } finally {
    admin.disconnect();
  }
}

/** The replica that follows master `name` now (the shard's other node). */
async function replicaOf(name: string): Promise<string> {
  const nodes = await topology.clusterNodes();
  const master = nodes.find((n) => n.port === topology.port(name));
  const replica = nodes.find((n) => n.masterId === master?.id);
  const entry = topology.names('replica').find((r) => topology.port(r) === replica?.port);
  if (entry === undefined) throw new Error(`no replica of ${name}`);
  return entry;
}

describe('createRedisClients on a Redis Cluster', () => {
  describe('happy', () => {
    it('writes to and reads from every shard through one writer and one reader', async () => {
      expect(clients.mode).toBe('cluster');
      const keys = await keyPerMaster();
      expect([...keys.keys()].sort()).toEqual(topology.names('master').sort());
      for (const [master, key] of keys) await clients.writer.set(key, master);
      for (const [master, key] of keys) {
        expect(await clients.writer.get(key)).toBe(master);
        // Replication is asynchronous: the reader may need a moment to see it.
        await expect.poll(() => clients.reader.get(key), { timeout: 2000 }).toBe(master);
      }
      expect(clients.reader.readsFromMaster).toBe(false);
    });

    it('serves the reader from the replica of the key’s shard, not its master', async () => {
      const [[master, key]] = [...(await keyPerMaster())] as [[string, string]];
      await clients.writeDurably((tx) => tx.set(key, 'replicated'));
      await resetStats();
      for (let i = 0; i < 20; i++) expect(await clients.reader.get(key)).toBe('replicated');
      const replica = await replicaOf(master);
      expect(await callsOn(replica, 'get')).toBe(20);
      expect(await callsOn(master, 'get')).toBe(0);
      expect(clients.reader.fallbacks).toBe(0);
    });

    it('connects to every node over verified TLS as the app ACL user', async () => {
      await clients.writer.set(`${prefix}:whoami`, '1');
      expect(await clients.writer.call('ACL', 'WHOAMI')).toBe('app');
      const nodes = clients.writer.nodes('all');
      expect(nodes.length).toBeGreaterThan(0);
      for (const node of nodes) {
        if (node.status !== 'ready') continue;
        expect(node.stream).toBeInstanceOf(TLSSocket);
        expect((node.stream as TLSSocket).authorized).toBe(true);
      }
    });

    it('confirms a durable write on the key’s master once a replica acknowledged it', async () => {
      const key = `{${prefix}:durable}:value`;
      const result = await clients.writeDurably((tx) =>
        tx.set(key, 'v').incr(`{${prefix}:durable}:count`),
      );
      expect(result.acknowledged).toBeGreaterThanOrEqual(1);
      expect(result.results).toEqual(['OK', 1]);
      const replica = topology.connect(
        topology.port(await replicaOf(await topology.masterNameOf(key))),
      );
      try {
        await replica.call('READONLY');
        // WAIT said the replica has it: readable there at once, without polling.
        expect(await replica.get(key)).toBe('v');
      } finally {
        replica.disconnect();
      }
    });

    it('tries a durable write again on the master of now when the slot map names a node that never connects', async () => {
      const fresh = createRedisClients(clusterClientsConfig(topology.describe()));
      try {
        await fresh.ready();
        const key = `{${prefix}:lazy-dead}:value`;
        // What a slot refresh during a failover can leave: the dead master still in the slot
        // map, with a fresh connection to it that is not ready (it never will be), so nothing
        // was sent on it yet.
        const dead = { host: '127.0.0.1', port: await freePort() };
        const pool = (
          fresh.writer as unknown as {
            connectionPool: { findOrCreate(node: { host: string; port: number }): Redis };
          }
        ).connectionPool;
        expect(['wait', 'connecting']).toContain(pool.findOrCreate(dead).status);
        fresh.writer.slots[hashSlot(key)] = [`${dead.host}:${dead.port}`];
        const result = await fresh.writeDurably((tx) => tx.set(key, 'after-refresh'), {
          replicas: 1,
          timeoutMs: 500,
        });
        expect(result.acknowledged).toBe(1);
        expect(await clients.writer.get(key)).toBe('after-refresh');
      } finally {
        await fresh.close();
      }
    });
  });

  describe('the session cache', () => {
    it('creates, validates and revokes sessions, each next to its bucket’s revocation counter', async () => {
      const loaded: string[] = [];
      const sessions = createSessionCache(clients, {
        keyPrefix: `${prefix}:`,
        loader: async (id) => {
          loaded.push(id);
          return null;
        },
      });
      const ids = Array.from({ length: 12 }, (_, i) => `token-${i}`);
      for (const id of ids) await sessions.create(id, { userId: id, orgId: 'org' });
      for (const id of ids) {
        const result = await sessions.validate(id);
        expect(result).toMatchObject({ valid: true, session: { userId: id } });
        expect(result.source).not.toBe('loader');
      }
      expect(loaded).toEqual([]);
      // The layout: the bucket (3 hex digits of the hash) is the hash tag of the session and its counter.
      const hash = createHash('sha256')
        .update(ids[0] as string)
        .digest('hex');
      const bucket = hash.slice(0, 3);
      const key = `${prefix}:session:{${bucket}}${hash}`;
      expect(await clients.writer.exists(key)).toBe(1);
      const masters = new Set(
        await Promise.all(
          ids.map(async (id) => {
            const h = createHash('sha256').update(id).digest('hex');
            return topology.masterNameOf(`{${h.slice(0, 3)}}`);
          }),
        ),
      );
      expect(masters.size).toBeGreaterThan(1);

      await sessions.revoke(ids[0] as string);
      expect(await clients.writer.get(`${prefix}:sessions:revocations:{${bucket}}`)).toBe('1');
      expect(await clients.writer.exists(key)).toBe(0);
      expect(await sessions.validate(ids[0] as string)).toEqual({ valid: false, source: 'loader' });
      expect(loaded).toEqual([ids[0]]);
    });
  });

  describe('cache warming', () => {
    const namespace = `${prefix}:warm:`;
    const tagOf = (key: string) => /\{(t\d+)\}/.exec(key)?.[1] as string;
    const load = async (batch: readonly string[]) => new Map(batch.map((k) => [k, `v:${k}`]));

    it('warms keys of every shard from a loader, each guarded by a counter of its hash tag', async () => {
      const keys = Array.from({ length: 60 }, (_, i) => `${namespace}{t${i % 6}}:k${i}`);
      const masters = new Set(await Promise.all(keys.map((k) => topology.masterNameOf(k))));
      expect(masters.size).toBe(topology.names('master').length);
      const run = clients.warm({
        namespace,
        keys,
        source: {
          kind: 'loader',
          ttlSeconds: 60,
          load,
          guardKey: (key) => `${prefix}:guard:{${tagOf(key)}}`,
        },
      });
      const result = await run.done;
      expect(result).toMatchObject({ outcome: 'done', warmed: 60, failed: 0 });
      for (const key of keys) expect(await clients.writer.get(key)).toBe(`v:${key}`);
    });

    it('fails a run whose one guard key cannot share the slots of the keys', async () => {
      const keys = Array.from({ length: 6 }, (_, i) => `${namespace}{t${i}}:single-guard`);
      const run = clients.warm({
        namespace,
        keys,
        source: { kind: 'loader', ttlSeconds: 60, load, guardKey: `${prefix}:one-guard` },
      });
      const result = await run.done;
      expect(result.outcome).toBe('failed');
      expect(result.reason).toMatch(/guardKey must share the hash slot of the keys it guards/);
      for (const key of keys) expect(await clients.writer.exists(key)).toBe(0);
    });
  });

  describe('hot keys and the near-cache, per node', () => {
    let hot: RedisClients<Cluster>;
    const registry = new Registry();
    const metric = async (name: string) =>
      Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? Number.NaN);

    beforeAll(async () => {
      hot = createRedisClients(clusterClientsConfig(topology.describe()), {
        registry,
        hotKeys: {
          redaction: { secret: 'cluster-hot-keys-secret-0123456789' },
          thresholdPerMinute: 60,
          report: { intervalMs: 1000 },
          nearCache: { enabled: true, ttlMs: 5000 },
        },
      });
      await hot.ready();
    });
    afterAll(() => hot?.close());

    /** Reads `key` until the near-cache answers it (it is hot, tracked on its node, and cached). */
    async function makeCached(key: string): Promise<void> {
      await waitUntil(
        `${key} answered from the near-cache`,
        async () => {
          const before = await metric('redscope_client_near_cache_hits_total');
          await hot.writer.get(key);
          await hot.writer.get(key);
          return (await metric('redscope_client_near_cache_hits_total')) > before;
        },
        10_000,
      );
    }

    it('caches a hot key of every shard and drops it when its node reports a write', async () => {
      const keys = await keyPerMaster();
      for (const [master, key] of keys) {
        await clients.writer.set(key, `${master}:before`);
        await makeCached(key);
        // Another process writes it, on the node that serves it.
        const other = topology.connect(topology.port(master));
        try {
          await other.set(key, `${master}:after`);
        } finally {
          other.disconnect();
        }
        const written = performance.now();
        await waitUntil(
          `the invalidation of ${key} from ${master}`,
          async () => (await hot.writer.get(key)) === `${master}:after`,
          2000,
        );
        expect(performance.now() - written).toBeLessThan(1000);
      }
      expect(await metric('redscope_client_near_cache_invalidations_total')).toBeGreaterThanOrEqual(
        keys.size,
      );
    });

    it('keeps one cache per master, none on the replicas it was seeded with', async () => {
      const nodes = await topology.clusterNodes();
      const nameOf = (port: number) =>
        [...topology.names('master'), ...topology.names('replica')].find(
          (name) => topology.port(name) === port,
        ) as string;
      const masters = nodes.filter((n) => n.role === 'master' && n.slotCount > 0).map((n) => n);
      const replicas = nodes.filter((n) => n.role === 'replica');
      expect(masters).toHaveLength(3);
      expect(replicas).toHaveLength(3);
      for (const master of masters) {
        // A data and an invalidation connection, tracking on.
        await waitUntil(
          `the near-cache connections on ${nameOf(master.port)}`,
          async () => (await nearCacheConnections(nameOf(master.port))).length === 2,
          5000,
        );
      }
      for (const replica of replicas) {
        expect(await nearCacheConnections(nameOf(replica.port))).toEqual([]);
      }
    });

    it('publishes the hot-key report to the cluster, in the {hotkeys} slot', async () => {
      await waitUntil(
        'a hot-key report',
        async () => (await clients.writer.zcard(HOTKEY_REPORT_INDEX)) > 0,
        5000,
      );
      expect(hot.hotKeys()?.keys.length).toBeGreaterThan(0);
    });
  });

  describe('unhappy', () => {
    it('refuses a durable write whose keys span slots before sending anything', async () => {
      const a = `${prefix}:crossslot:a`;
      const b = `${prefix}:crossslot:b`;
      const error = await clients
        .writeDurably((tx) => tx.set(a, '1').set(b, '2'))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe('write');
      expect((error as Error).message).toMatch(/CROSSSLOT: its 2 keys hash to 2 slots/);
      expect((error as Error).message).not.toContain(a);
      expect([await clients.writer.exists(a), await clients.writer.exists(b)]).toEqual([0, 0]);
    });

    it('rejects a durable write that more replicas than the shard has must acknowledge', async () => {
      const error = await clients
        .writeDurably((tx) => tx.set(`${prefix}:too-many`, 'v'), { replicas: 2, timeoutMs: 200 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DurableWriteError);
      expect(error).toMatchObject({ reason: 'not-acknowledged', acknowledged: 1, required: 2 });
    });
  });
});
