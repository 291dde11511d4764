import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClusterHealth, watchReaderReady } from '../../../client/connection/cluster-health.js';
import type { ClusterClientsConfig } from '../../../client/connection/config.js';
import { RedisConnectError } from '../../../client/connection/connect-errors.js';
import { ConfigError, createRedisClients } from '../../../client/index.js';
import { createLogger } from '../../../client/logging/logger.js';
import { ClusterTopology } from '../../../stack/cluster-topology.js';
import { freePort } from '../../../stack/ports.js';
import { RedisTopology } from '../../../stack/topology.js';
import { capturedLogs } from '../support/captured-logs.js';
import { clusterClientsConfig } from './support/cluster-clients-config.js';

/**
 * Cluster configs that cannot work, against real servers: ready() names the
 * node and the fix, and never hangs. A mistake retrying cannot fix is
 * reported as soon as it is seen; one that looks like a down node waits out
 * the timeout given here.
 */
const TIMEOUT_MS = 1500;
/** A final error comes well before the timeout: a connect, a handshake, at most a probe. */
const FINAL_WITHIN_MS = 1200;

let cluster: ClusterTopology;
/** One Redis without cluster-enabled, plain TCP, no ACL. */
let plain: RedisTopology;

beforeAll(async () => {
  [cluster, plain] = await Promise.all([
    ClusterTopology.start(),
    RedisTopology.start({ tls: false, acl: false, replicas: 0, sentinels: 0 }),
  ]);
});

afterAll(async () => {
  await Promise.all([cluster?.stop(), plain?.stop()]);
});

/** ready() of clients made from `config`: how it ended, how long it took, what they logged; the clients are closed. */
async function attempt(
  config: ClusterClientsConfig,
): Promise<{ error: unknown; ms: number; lines: Record<string, unknown>[] }> {
  const { stream, lines } = capturedLogs();
  const started = performance.now();
  const clients = createRedisClients(
    { connectTimeoutMs: 500, ...config },
    { logger: createLogger({ destination: stream }) },
  );
  try {
    await clients.ready(TIMEOUT_MS);
    return { error: undefined, ms: performance.now() - started, lines };
  } catch (error) {
    return { error, ms: performance.now() - started, lines };
  } finally {
    await clients.close();
  }
}

const plainNode = () => `127.0.0.1:${plain.port('redis-0')}`;

describe('a cluster config that cannot work', () => {
  it('names every seed when none answers, at the timeout', async () => {
    const seeds = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const { error, ms } = await attempt({ cluster: { nodes: seeds }, tls: false });
    expect(error).toBeInstanceOf(RedisConnectError);
    expect(error).toMatchObject({ reason: 'timeout' });
    const message = (error as Error).message;
    for (const seed of seeds) expect(message).toContain(`${seed} (connect ECONNREFUSED ${seed})`);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + 1000);
  });

  it('names a seed that is not in cluster mode', async () => {
    const { error, ms } = await attempt({ cluster: { nodes: [plainNode()] }, tls: false });
    expect(error).toMatchObject({ name: 'RedisConnectError', reason: 'not-cluster' });
    expect((error as Error).message).toContain(
      `Redis Cluster node ${plainNode()}: ERR This instance has cluster support disabled`,
    );
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('names a plain node among TLS seeds (the TLS handshake gets no answer)', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const { error, ms } = await attempt({
      ...clusterClientsConfig(cluster.describe()),
      cluster: { nodes: [plainNode(), closed] },
    });
    expect(error).toMatchObject({ name: 'RedisConnectError', reason: 'tls' });
    expect((error as Error).message).toMatch(
      new RegExp(`Redis Cluster node ${plainNode()} speaks plain TCP, not TLS`),
    );
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('names a non-cluster node refused by every seed round, not just the first seed tried', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const { error, ms } = await attempt({ cluster: { nodes: [closed, plainNode()] }, tls: false });
    expect(error).toMatchObject({ name: 'RedisConnectError', reason: 'not-cluster' });
    expect((error as Error).message).toContain(`Redis Cluster node ${plainNode()}:`);
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('names a TLS node dialled without TLS', async () => {
    const seed = `127.0.0.1:${cluster.port('redis-0')}`;
    const { error, ms } = await attempt({
      ...clusterClientsConfig(cluster.describe()),
      cluster: { nodes: [seed] },
      tls: false,
    });
    expect(error).toMatchObject({ name: 'RedisConnectError', reason: 'tls' });
    expect((error as Error).message).toContain(`Redis Cluster node ${seed} speaks TLS`);
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('names the node that refused the password', async () => {
    const config = clusterClientsConfig(cluster.describe());
    const { error, ms } = await attempt({ ...config, password: 'not-the-password' });
    expect(error).toMatchObject({ name: 'RedisConnectError', reason: 'auth' });
    expect((error as Error).message).toMatch(/^Redis Cluster node 127\.0\.0\.1:\d+: WRONGPASS/);
    expect((error as Error).message).not.toContain('not-the-password');
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('is refused before connecting when it mixes modes or lacks seeds', () => {
    expect(() =>
      createRedisClients({
        cluster: { nodes: ['127.0.0.1:7000'] },
        url: 'redis://127.0.0.1:6379',
      } as ClusterClientsConfig),
    ).toThrow(ConfigError);
    expect(() => createRedisClients({ cluster: { nodes: [] } })).toThrow(
      /cluster\.nodes: needs at least one/,
    );
    expect(() => createRedisClients({ cluster: { nodes: ['::1:7000'] } })).toThrow(
      /cluster\.nodes\[0\].*in brackets/,
    );
  });
});

describe('a cluster config with one bad seed among good ones', () => {
  /**
   * ioredis tries the seeds of a slot refresh in an order shuffled with
   * Math.random (utils.shuffle); pinned near 1 the order is the config's, so
   * both orders are tried on purpose rather than by luck.
   */
  async function inOrder(seeds: string[]) {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.999);
    try {
      return await attempt({
        ...clusterClientsConfig(cluster.describe()),
        cluster: { nodes: seeds },
      });
    } finally {
      random.mockRestore();
    }
  }
  const unusable = (lines: Record<string, unknown>[]) =>
    lines.filter((line) => line.event === 'redis.cluster_node_unusable');

  it('is ready through the good seed when the bad one (plain TCP among TLS) is tried first, and names the bad one', async () => {
    const good = `127.0.0.1:${cluster.port('redis-1')}`;
    for (let i = 0; i < 3; i++) {
      const { error, lines } = await inOrder([plainNode(), good]);
      expect(error).toBeUndefined();
      const warned = unusable(lines);
      // Once by the writer, ready when ready() resolved; the reader may or may not be by then.
      expect(warned.filter((line) => line.role === 'writer')).toHaveLength(1);
      for (const line of warned) {
        expect(line).toMatchObject({ level: 'warn', node: plainNode(), reason: 'tls' });
        expect((line.err as { message: string }).message).toContain('speaks plain TCP, not TLS');
      }
    }
  });

  it('is ready when the good seed is tried first, with nothing to say about the bad one', async () => {
    const good = `127.0.0.1:${cluster.port('redis-1')}`;
    for (let i = 0; i < 3; i++) {
      const { error, lines } = await inOrder([good, plainNode()]);
      expect(error).toBeUndefined();
      expect(unusable(lines)).toEqual([]);
    }
  });
});

describe('a reader Cluster that cannot be ready', () => {
  /** A Cluster seeded with the plain, non-cluster Redis only, watched as the reader is. */
  function brokenReader() {
    const seeds = [{ host: '127.0.0.1', port: plain.port('redis-0') }];
    const reader = new Cluster(seeds, {
      lazyConnect: false,
      slotsRefreshTimeout: 500,
      clusterRetryStrategy: () => 100,
    });
    reader.on('error', () => undefined);
    const health = new ClusterHealth(seeds, false, 500, 'reader');
    health.watch(reader);
    const { stream, lines } = capturedLogs();
    return { reader, health, logger: createLogger({ destination: stream }), lines };
  }
  const unready = (lines: Record<string, unknown>[]) =>
    lines.filter((line) => line.event === 'redis.cluster_reader_unready');

  it('is logged at warn with the node and its error, and never rejects', async () => {
    const { reader, health, logger, lines } = brokenReader();
    try {
      const started = performance.now();
      await watchReaderReady(reader, health, TIMEOUT_MS, logger, () => false);
      expect(performance.now() - started).toBeLessThan(FINAL_WITHIN_MS);
      expect(reader.status).not.toBe('ready');
      const [line, ...more] = unready(lines);
      expect(more).toEqual([]);
      expect(line).toMatchObject({
        level: 'warn',
        err: {
          type: 'RedisConnectError',
          message: expect.stringContaining(
            `Redis Cluster node ${plainNode()}: ERR This instance has cluster support disabled`,
          ),
        },
      });
    } finally {
      reader.disconnect();
    }
  });

  it('is not logged when the app closed the clients first', async () => {
    const { reader, health, logger, lines } = brokenReader();
    try {
      await watchReaderReady(reader, health, 200, logger, () => true);
      expect(unready(lines)).toEqual([]);
    } finally {
      reader.disconnect();
    }
  });
});
