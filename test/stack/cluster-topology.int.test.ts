import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_SLOTS } from '../../client/common/cluster-nodes.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { NodeStartError } from '../../stack/errors.js';

describe('the local Redis Cluster (TLS, ACL)', () => {
  let cluster: ClusterTopology;
  beforeAll(async () => {
    cluster = await ClusterTopology.start();
  });
  afterAll(() => cluster?.stop());

  describe('happy', () => {
    it('splits the slots evenly over 3 masters, each with one linked replica', async () => {
      const nodes = await cluster.clusterNodes();
      const masters = nodes.filter((n) => n.role === 'master');
      expect(masters.map((n) => n.slotCount).sort()).toEqual([5461, 5461, 5462]);
      expect(masters.reduce((sum, n) => sum + n.slotCount, 0)).toBe(CLUSTER_SLOTS);
      const replicas = nodes.filter((n) => n.role === 'replica');
      expect(new Set(replicas.map((r) => r.masterId))).toEqual(new Set(masters.map((m) => m.id)));
      expect(cluster.names('master')).toEqual(['redis-0', 'redis-1', 'redis-2']);
      const startMasters = new Set(cluster.names('master').map((name) => cluster.port(name)));
      expect(new Set(masters.map((m) => m.port))).toEqual(startMasters);
      // The slot map clients read lists each master's replica from the start.
      for (const name of cluster.names('replica')) {
        const node = cluster.connect(cluster.port(name));
        try {
          const slots = (await node.call('CLUSTER', 'SLOTS')) as unknown[][];
          expect(slots.map((range) => range.length - 3)).toEqual([1, 1, 1]);
        } finally {
          node.disconnect();
        }
      }
    });

    it('runs the shipped config: TLS on the bus, replication and clients, the ACL file', async () => {
      const node = cluster.connect(cluster.port('redis-4'));
      try {
        const config = (await node.call('CONFIG', 'GET', 'tls-*')) as string[];
        const get = (key: string) => config[config.indexOf(key) + 1];
        expect([get('tls-cluster'), get('tls-replication'), get('tls-auth-clients')]).toEqual([
          'yes',
          'yes',
          'yes',
        ]);
        const rendered = readFileSync(`${cluster.dir}/redis-4.conf`, 'utf8');
        expect(rendered).toMatch(/^cluster-node-timeout 1200$/m);
        expect(rendered).toMatch(/^min-replicas-to-write 0$/m);
      } finally {
        node.disconnect();
      }
    });

    it('serves an ioredis Cluster as the app user, and refuses the default user', async () => {
      const users = cluster.describe().users;
      const app = new Cluster(cluster.seeds(), {
        ...cluster.clusterOptions(),
        redisOptions: {
          ...cluster.clusterOptions().redisOptions,
          username: users?.app.username,
          password: users?.app.password,
        },
      });
      try {
        for (let i = 0; i < 30; i++) await app.set(`topology:${i}`, String(i));
        expect(await app.get('topology:17')).toBe('17');
        // Keys landed on every master.
        const owners = new Set(
          await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cluster.masterNameOf(`topology:${i}`))),
        );
        expect(owners.size).toBeGreaterThan(1);
      } finally {
        app.disconnect();
      }
      const anonymous = cluster.connect(cluster.port('redis-0'), {
        username: undefined,
        password: undefined,
      });
      try {
        await expect(anonymous.get('topology:1')).rejects.toThrow(/NOAUTH|NOPERM/);
      } finally {
        anonymous.disconnect();
      }
    });

    it('refuses plain TCP on the TLS port', async () => {
      const { tls: _tls, ...plain } = cluster.connectionOptions();
      const client = new Redis({
        ...plain,
        port: cluster.port('redis-1'),
        retryStrategy: () => null,
        connectTimeout: 1000,
        commandTimeout: 1000,
      });
      client.on('error', () => undefined);
      try {
        await expect(client.ping()).rejects.toThrow();
      } finally {
        client.disconnect();
      }
    });

    it('fails a killed master over to its replica, and takes it back as a replica', async () => {
      const victim = await cluster.masterNameOf('topology:17');
      const victimPort = cluster.port(victim);
      const victimId = (await cluster.clusterNodes()).find((n) => n.port === victimPort)?.id;
      await cluster.kill(victim);
      await cluster.waitForHealthy(20_000, victim);
      const promoted = await cluster.masterNameOf('topology:17');
      expect(promoted).not.toBe(victim);
      await cluster.restart(victim);
      await cluster.waitForHealthy(20_000);
      const back = (await cluster.clusterNodes()).find((n) => n.id === victimId);
      expect(back?.role).toBe('replica');
      expect(back?.masterId).toBe(
        (await cluster.clusterNodes()).find((n) => n.port === cluster.port(promoted))?.id,
      );
    });

    it('pauses and resumes a node', async () => {
      cluster.pause('redis-5');
      const paused = cluster.connect(cluster.port('redis-5'), { commandTimeout: 300 });
      try {
        await expect(paused.ping()).rejects.toThrow(/timed out/i);
      } finally {
        paused.disconnect();
        cluster.resume('redis-5');
      }
      await cluster.waitForHealthy(20_000);
    });
  });

  it('serves clients from one master alone (it announces its address without a peer)', async () => {
    const single = await ClusterTopology.start({
      masters: 1,
      replicasPerMaster: 0,
      tls: false,
      acl: false,
    });
    const client = new Cluster(single.seeds(), {
      ...single.clusterOptions(),
      enableOfflineQueue: false,
    });
    try {
      await new Promise((resolve, reject) => {
        client.once('ready', resolve);
        client.once('error', reject);
      });
      await client.set('lone', 'master');
      expect(await client.get('lone')).toBe('master');
      const slots = (await client.cluster('SLOTS')) as unknown[][];
      expect(slots.map((range) => (range[2] as unknown[])[0])).toEqual(['127.0.0.1']);
    } finally {
      client.disconnect();
      await single.stop();
    }
  });

  describe('unhappy', () => {
    it('names the node and shows its log when a node cannot start', async () => {
      const failed = ClusterTopology.start({
        masters: 1,
        replicasPerMaster: 0,
        tls: false,
        acl: false,
        redisOverrides: { 'cluster-node-timeout': 'soon' },
        startTimeoutMs: 10_000,
      });
      await expect(failed).rejects.toThrow(NodeStartError);
      await expect(failed).rejects.toThrow(/redis-0[\s\S]*cluster-node-timeout/);
    });

    it('refuses a cluster without masters before starting anything', async () => {
      await expect(ClusterTopology.start({ masters: 0 })).rejects.toThrow(/masters/);
    });
  });
});
