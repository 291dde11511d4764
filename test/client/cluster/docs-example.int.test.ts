import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveProfile } from '../../../docs/examples/cluster-profile.js';
import { ClusterTopology } from '../../../stack/cluster-topology.js';
import { clusterClientsConfig } from './support/cluster-clients-config.js';

describe('docs/examples/cluster-profile.ts on a TLS cluster', () => {
  let cluster: ClusterTopology;
  beforeAll(async () => {
    cluster = await ClusterTopology.start();
  });
  afterAll(() => cluster?.stop());

  it('writes both keys to one shard, confirmed by its replica, and reads the name back', async () => {
    const result = await saveProfile(clusterClientsConfig(cluster.describe()), '42', {
      name: 'Ada',
      plan: 'pro',
    });
    expect(result).toEqual({ acknowledged: 1, name: 'Ada' });
    const master = await cluster.masterNameOf('{user:42}:profile');
    expect(await cluster.masterNameOf('{user:42}:updated')).toBe(master);
    const node = cluster.connect(cluster.port(master));
    try {
      expect(await node.hgetall('{user:42}:profile')).toEqual({ name: 'Ada', plan: 'pro' });
    } finally {
      node.disconnect();
    }
  });

  it('fails with the reason when the password is wrong, instead of hanging', async () => {
    const config = { ...clusterClientsConfig(cluster.describe()), password: 'not-the-password' };
    await expect(saveProfile(config, '43', { name: 'Bob' })).rejects.toThrow(/WRONGPASS|password/i);
  });
});
