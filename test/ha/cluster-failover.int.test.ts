import type { Cluster } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../client/index.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { clusterClientsConfig } from '../client/cluster/support/cluster-clients-config.js';
import { waitFor } from './support/load.js';

/**
 * Faults of a Redis Cluster under the load of an app that uses
 * createRedisClients: a shard master killed with SIGKILL, and a slot migrated
 * while its keys are read and written, and the near-cache of a hot key whose
 * master is killed. The shipped cluster-node-timeout (1200 ms) is kept, so
 * the failover takes what it takes in production.
 */

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let topology: ClusterTopology;
let clients: RedisClients<Cluster>;

beforeAll(async () => {
  topology = await ClusterTopology.start();
  clients = createRedisClients(clusterClientsConfig(topology.describe()));
  await clients.ready();
});

afterAll(async () => {
  await clients?.close();
  await topology?.stop();
});

/** A hash tag per master at start: every key `{tag}:…` lives on that master's shard. */
async function tagPerMaster(prefix: string): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  for (let i = 0; tags.size < topology.names('master').length && i < 500; i++) {
    const tag = `${prefix}-${i}`;
    const master = await topology.masterNameOf(`{${tag}}`);
    if (!tags.has(master)) tags.set(master, tag);
  }
  return tags;
}

interface DurableLoad {
  /** Keys whose durable write was acknowledged, with the value written. */
  readonly acknowledged: Map<string, string>;
  /** Per tag: times (performance.now()) of acknowledged writes. */
  readonly acks: Map<string, number[]>;
  readonly errors: Map<string, number>;
  stop(): Promise<void>;
}

/** One writer per tag: durable writes of new keys, back to back, 2 ms apart. */
function durableLoad(tags: readonly string[]): DurableLoad {
  const acknowledged = new Map<string, string>();
  const acks = new Map<string, number[]>(tags.map((tag) => [tag, []]));
  const errors = new Map<string, number>();
  let running = true;
  const workers = tags.map(async (tag) => {
    for (let sequence = 0; running; sequence++) {
      const key = `{${tag}}:w:${sequence}`;
      const value = `${sequence}-${Math.random()}`;
      try {
        await clients.writeDurably((tx) => tx.set(key, value), { replicas: 1, timeoutMs: 500 });
        acknowledged.set(key, value);
        acks.get(tag)?.push(performance.now());
      } catch (error) {
        const kind = `${(error as Error).name}: ${(error as Error).message.slice(0, 70)}`;
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
        await delay(20);
      }
      await delay(2);
    }
  });
  return {
    acknowledged,
    acks,
    errors,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

describe('a Redis Cluster under faults', () => {
  it('fails a shard over after kill -9 of its master without losing an acknowledged durable write', async () => {
    const tags = await tagPerMaster('failover');
    const victim = 'redis-0';
    const victimTag = tags.get(victim) as string;
    const load = durableLoad([...tags.values()]);
    // Plain writes to the victim's shard every 10 ms: what the app sees of the failover.
    let probing = true;
    const probeResults: { at: number; ok: boolean }[] = [];
    const probe = (async () => {
      for (let i = 0; probing; i++) {
        const ok = await clients.writer.set(`{${victimTag}}:probe`, String(i)).then(
          () => true,
          () => false,
        );
        probeResults.push({ at: performance.now(), ok });
        await delay(10);
      }
    })();
    try {
      await waitFor('durable writes on every shard', () =>
        [...load.acks.values()].every((times) => times.length >= 20),
      );
      const killedAt = performance.now();
      await topology.kill(victim);
      // The victim's replica takes over; the same clients recover, no restart.
      await waitFor(
        'plain writes to the failed shard again',
        () => probeResults.some((r) => r.ok && r.at > killedAt + 50),
        20_000,
      );
      const recoveredAt = probeResults.find((r) => r.ok && r.at > killedAt + 50)?.at as number;
      const lastBefore =
        probeResults.filter((r) => r.ok && r.at <= killedAt).at(-1)?.at ?? killedAt;
      const unavailableMs = recoveredAt - lastBefore;
      const failedProbes = probeResults.filter((r) => !r.ok).length;
      // The new master has no replica until the old one is back: durable writes to that shard
      // are refused (not acknowledged) meanwhile. Bring it back as a replica.
      await topology.restart(victim);
      await topology.waitForHealthy(20_000);
      const ackedBeforeRejoin = load.acks.get(victimTag)?.length ?? 0;
      await waitFor(
        'durable writes to the failed-over shard acknowledged again',
        () => (load.acks.get(victimTag)?.length ?? 0) > ackedBeforeRejoin + 20,
        20_000,
      );
      console.info(
        `cluster failover: write unavailability ${Math.round(unavailableMs)} ms (${failedProbes} plain writes failed); ` +
          `durable writes acknowledged ${load.acknowledged.size}, refused ${JSON.stringify(Object.fromEntries(load.errors))}`,
      );
      // A generous sanity bound: detection (cluster-node-timeout 1200 ms) plus election.
      expect(unavailableMs).toBeLessThan(10_000);
    } finally {
      probing = false;
      await probe;
      await load.stop();
    }
    // Every acknowledged write survived: read each back from the masters of now.
    const keys = [...load.acknowledged.keys()];
    const values = await Promise.all(keys.map((key) => clients.writer.get(key)));
    const lost = keys.filter((key, i) => values[i] !== load.acknowledged.get(key));
    expect(lost).toEqual([]);
    expect(keys.filter((key) => key.startsWith(`{${victimTag}}`)).length).toBeGreaterThan(20);
    expect(await topology.masterNameOf(`{${victimTag}}`)).not.toBe(victim);
  });

  it('migrates a slot while its keys are read and written, with no error seen by the app', async () => {
    const tag = 'migrating';
    const key = (i: number) => `{${tag}}:k${i}`;
    const source = await topology.masterNameOf(`{${tag}}`);
    const nodes = await topology.clusterNodes();
    const sourceNode = nodes.find((n) => n.port === topology.port(source));
    const targetNode = nodes.find(
      (n) => n.role === 'master' && !n.failing && n.id !== sourceNode?.id && n.slotCount > 0,
    );
    if (sourceNode === undefined || targetNode === undefined) throw new Error('no two masters');
    const target = [...topology.names('master'), ...topology.names('replica')].find(
      (name) => topology.port(name) === targetNode.port,
    ) as string;
    const admin = (name: string) => topology.connect(topology.port(name));
    const sourceAdmin = admin(source);
    const targetAdmin = admin(target);
    const slot = (await sourceAdmin.call('CLUSTER', 'KEYSLOT', key(0))) as number;
    for (let i = 0; i < 200; i++) await clients.writer.set(key(i), '0');

    const latest = new Map<number, number>();
    const errors: string[] = [];
    let writes = 0;
    let reads = 0;
    let running = true;
    const durable = new Map<number, number>();
    let durableWrites = 0;
    const durableWorker = (async () => {
      for (let round = 1; running; round++) {
        const i = 200 + (round % 50);
        try {
          // Runs on the slot's master of the moment: MOVED/ASK are followed before anything is written.
          await clients.writeDurably((tx) => tx.set(key(i), String(round)), { timeoutMs: 500 });
          durable.set(i, round);
          durableWrites++;
        } catch (error) {
          errors.push(`durable: ${String(error)}`);
        }
      }
    })();
    const app = [0, 1, 2, 3].map(async (worker) => {
      for (let round = 1; running; round++) {
        const i = (round * 4 + worker) % 200;
        try {
          await clients.writer.set(key(i), String(round));
          latest.set(i, round);
          writes++;
          // The master's answer, through MOVED/ASK: always the value just written.
          const value = await clients.writer.get(key(i));
          if (value !== String(round)) errors.push(`read ${value} after writing ${round}`);
          // A replica read: no error either (its value may lag, replication being asynchronous).
          await clients.reader.get(key((i + 7) % 200));
          reads += 2;
        } catch (error) {
          errors.push(String(error));
        }
      }
    });
    try {
      await delay(200);
      await targetAdmin.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceNode.id);
      await sourceAdmin.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetNode.id);
      const auth = topology.describe().auth;
      for (;;) {
        const batch = (await sourceAdmin.call(
          'CLUSTER',
          'GETKEYSINSLOT',
          String(slot),
          '20',
        )) as string[];
        if (batch.length === 0) break;
        await sourceAdmin.call(
          'MIGRATE',
          targetNode.host,
          String(targetNode.port),
          '',
          '0',
          '5000',
          ...(auth ? ['AUTH2', auth.username, auth.password] : []),
          'KEYS',
          ...batch,
        );
        // Spread over time, so the app meets the slot half migrated (ASK) many times.
        await delay(20);
      }
      // The target first (it claims the slot with a new epoch), then the source, then the rest.
      await targetAdmin.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetNode.id);
      await sourceAdmin.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetNode.id);
      for (const other of nodes.filter((n) => n.role === 'master' && !n.failing)) {
        if (other.id === sourceNode.id || other.id === targetNode.id) continue;
        const connection = topology.connect(other.port);
        try {
          await connection.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetNode.id);
        } finally {
          connection.disconnect();
        }
      }
      const writesAtMove = writes;
      await waitFor('writes after the move', () => writes > writesAtMove + 100);
    } finally {
      running = false;
      await Promise.all([...app, durableWorker]);
      sourceAdmin.disconnect();
      targetAdmin.disconnect();
    }
    console.info(
      `slot ${slot} migrated under load: ${writes} writes, ${reads} reads, ${durableWrites} durable writes, ${errors.length} errors`,
    );
    expect(errors).toEqual([]);
    expect(await topology.masterNameOf(key(0))).toBe(target);
    for (const [i, round] of [...latest, ...durable]) {
      expect(await clients.writer.get(key(i))).toBe(String(round));
    }
  });

  it('serves a hot key from the near-cache again after kill -9 of its master, from the promoted replica', async () => {
    const registry = new Registry();
    // Seeded with the masters only (as docs/cluster.md's example): the promoted replica is
    // known to the client only from the slot map.
    const masters = (await topology.clusterNodes()).filter(
      (n) => n.role === 'master' && n.slotCount > 0 && !n.failing,
    );
    const config = clusterClientsConfig(topology.describe(), {
      cluster: { nodes: masters.map((n) => `${n.host}:${n.port}`) },
    });
    const hot = createRedisClients(config, {
      registry,
      hotKeys: {
        redaction: { secret: 'cluster-failover-near-cache-0123456789' },
        thresholdPerMinute: 60,
        nearCache: { enabled: true, ttlMs: 5000 },
      },
    });
    const families = [
      'redscope_client_near_cache_hits_total',
      'redscope_client_near_cache_misses_total',
      'redscope_client_near_cache_invalidations_total',
    ];
    /** Each near-cache counter now; every sample is kept to check none ever went down. */
    const samples: number[][] = [];
    const sample = async () => {
      const text = await registry.metrics();
      const values = families.map((name) =>
        Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN),
      );
      samples.push(values);
      return { hits: values[0] as number };
    };
    /** Two reads of `key` (errors during the failover are expected), then whether one was a hit. */
    const hitAfterReads = async (key: string) => {
      const before = (await sample()).hits;
      await hot.writer.get(key).catch(() => undefined);
      await hot.writer.get(key).catch(() => undefined);
      return (await sample()).hits > before;
    };
    const key = '{near-failover}:hot';
    try {
      await hot.ready();
      await clients.writer.set(key, 'before');
      const victim = await topology.masterNameOf(key);
      await waitFor('the hot key served from the near-cache', () => hitAfterReads(key), 10_000);
      await topology.kill(victim);
      const killedAt = samples.length;
      await waitFor(
        'the hot key served from the near-cache after the failover',
        async () => (await hitAfterReads(key)) && samples.length > killedAt + 2,
        30_000,
      );
      const promoted = await topology.masterNameOf(key);
      expect(promoted).not.toBe(victim);
      // The hit came from a cache on the promoted replica: its tracked connections are there.
      const admin = topology.connect(topology.port(promoted));
      try {
        const list = ((await admin.call('CLIENT', 'LIST')) as string).split('\n');
        const near = list.filter((line) => /\bname=\S*-near-cache\s/.test(line));
        expect(near).toHaveLength(1);
        expect(near[0]).toMatch(/\bflags=\S*t/);
        // And it is kept right: a write on the new master reaches the cache as an invalidation.
        await admin.set(key, 'after');
      } finally {
        admin.disconnect();
      }
      await waitFor(
        'the write seen through the near-cache',
        async () => {
          return (await hot.writer.get(key)) === 'after';
        },
        2000,
      );
      // The counters only grew, though the dead master's cache was closed.
      for (let i = 1; i < samples.length; i++) {
        const [previous, current] = [samples[i - 1] as number[], samples[i] as number[]];
        for (let f = 0; f < families.length; f++) {
          expect(current[f], families[f]).toBeGreaterThanOrEqual(previous[f] as number);
        }
      }
    } finally {
      await hot.close();
    }
  });
});
