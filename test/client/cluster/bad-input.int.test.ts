import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterClientsConfig } from '../../../client/connection/config.js';
import { RedisConnectError } from '../../../client/connection/connect-errors.js';
import { ConfigError, createRedisClients } from '../../../client/index.js';
import { ClusterTopology } from '../../../stack/cluster-topology.js';
import { freePort } from '../../../stack/ports.js';
import { RedisTopology } from '../../../stack/topology.js';
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

/** ready() of clients made from `config`: how it ended and how long it took; the clients are closed. */
async function attempt(config: ClusterClientsConfig): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const clients = createRedisClients({ connectTimeoutMs: 500, ...config });
  try {
    await clients.ready(TIMEOUT_MS);
    return { error: undefined, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
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
