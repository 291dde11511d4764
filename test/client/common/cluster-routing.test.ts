import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  dialledKey,
  hashSlot,
  isCluster,
  slotMasterKey,
} from '../../../client/common/cluster-routing.js';

/** What slotMasterKey reads of a Cluster: its slot map and its natMap option. */
const clusterWith = (slots: string[][], natMap?: Cluster['options']['natMap']) =>
  ({ slots, options: { natMap } }) as unknown as Cluster;

describe('cluster routing', () => {
  describe('happy', () => {
    it('hashes keys to the slots Redis gives them, hash tags included', () => {
      // The examples of Redis' CLUSTER KEYSLOT documentation.
      expect(hashSlot('somekey')).toBe(11058);
      expect(hashSlot('foo{hash_tag}')).toBe(2515);
      expect(hashSlot('bar{hash_tag}')).toBe(2515);
      expect(hashSlot(Buffer.from('somekey'))).toBe(11058);
    });

    it('tells an ioredis Cluster from a Redis', () => {
      const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
      const redis = new Redis({ lazyConnect: true });
      try {
        expect(isCluster(cluster)).toBe(true);
        expect(isCluster(redis)).toBe(false);
      } finally {
        cluster.disconnect();
        redis.disconnect();
      }
    });

    it("names the slot's master by the key ioredis' pool uses, after a MOVED wrote the announced address", () => {
      const natMap = { '10.0.0.5:6379': { host: 'redis-a.example', port: 7001 } };
      const slots: string[][] = [];
      slots[42] = ['redis-a.example:7001'];
      slots[43] = ['10.0.0.5:6379'];
      const cluster = clusterWith(slots, natMap);
      // After a slot refresh the map holds the mapped address; after a MOVED, the announced one.
      expect(slotMasterKey(cluster, 42)).toBe('redis-a.example:7001');
      expect(slotMasterKey(cluster, 43)).toBe('redis-a.example:7001');
      expect(slotMasterKey(cluster, 44)).toBeUndefined();
    });

    it('maps through a natMap function as well, and leaves addresses it does not know alone', () => {
      const cluster = clusterWith([], (key) =>
        key === '10.0.0.5:6379' ? { host: 'nat.example', port: 1 } : null,
      );
      expect(dialledKey(cluster, '10.0.0.5:6379')).toBe('nat.example:1');
      expect(dialledKey(cluster, '10.0.0.6:6379')).toBe('10.0.0.6:6379');
      expect(dialledKey(clusterWith([]), '10.0.0.5:6379')).toBe('10.0.0.5:6379');
    });
  });
});
