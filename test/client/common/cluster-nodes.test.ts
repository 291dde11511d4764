import { describe, expect, it } from 'vitest';
import {
  ClusterNodesParseError,
  clusterShards,
  parseClusterNodes,
  shardOf,
} from '../../../client/common/cluster-nodes.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);

// As Redis 7.0 prints it: myself first, a replica, a failed master, a hostname, an IPv6 node.
const REPLY = [
  `${A} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460`,
  `${B} 127.0.0.1:7003@17003,redis-3.example slave ${A} 0 1700000000000 1 connected`,
  `${C} ::1:7001@17001 master,fail - 1700000000000 1700000000000 2 disconnected 5461-10922 [5461->-${D}]`,
  `${D} 10.0.0.4:7002@17002 master,fail? - 0 1700000000000 3 connected 10923 10924-16383 [10922-<-${C}]`,
].join('\n');

describe('parseClusterNodes', () => {
  describe('happy', () => {
    const nodes = parseClusterNodes(`${REPLY}\n`);

    it('reads ids, addresses, roles and the node that answered', () => {
      expect(nodes.map((n) => [n.host, n.ip, n.port, n.busPort, n.role, n.myself])).toEqual([
        ['127.0.0.1', '127.0.0.1', 7000, 17000, 'master', true],
        ['redis-3.example', '127.0.0.1', 7003, 17003, 'replica', false],
        ['::1', '::1', 7001, 17001, 'master', false],
        ['10.0.0.4', '10.0.0.4', 7002, 17002, 'master', false],
      ]);
      expect(nodes[1]?.masterId).toBe(A);
      expect(nodes[0]?.masterId).toBeUndefined();
    });

    it('counts owned slots and skips the ones in migration', () => {
      expect(nodes.map((n) => n.slotCount)).toEqual([5461, 0, 5462, 5461]);
      expect(nodes[3]?.slots).toEqual([
        [10923, 10923],
        [10924, 16383],
      ]);
    });

    it('tells a suspected or failed node from a healthy one, and the bus link state', () => {
      expect(nodes.map((n) => n.failing)).toEqual([false, false, true, true]);
      expect(nodes.map((n) => n.connected)).toEqual([true, true, false, true]);
      expect(nodes.map((n) => n.configEpoch)).toEqual([1, 1, 2, 3]);
    });

    it('names shards by their lowest slot, replicas by their master', () => {
      expect(nodes.map((n) => shardOf(n, nodes))).toEqual(['0', '0', '5461', '10923']);
      const shards = clusterShards(nodes);
      expect(shards.map((s) => [s.shard, s.master.id, s.replicas.map((r) => r.id)])).toEqual([
        ['0', A, [B]],
        ['5461', C, []],
        ['10923', D, []],
      ]);
    });

    it('leaves a master without slots out of the shards', () => {
      const empty = parseClusterNodes(`${A} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected`);
      expect(clusterShards(empty)).toEqual([]);
      expect(shardOf(empty[0] as (typeof empty)[number], empty)).toBeUndefined();
    });
  });

  describe('unhappy', () => {
    it.each([
      ['too few fields', `${A} 127.0.0.1:7000@17000 master -`],
      ['a short node id', `abc 127.0.0.1:7000@17000 master - 0 0 1 connected`],
      ['an address without a bus port', `${A} 127.0.0.1:7000 master - 0 0 1 connected`],
      ['a slot past 16383', `${A} 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16384`],
      ['a reversed range', `${A} 127.0.0.1:7000@17000 master - 0 0 1 connected 10-5`],
      ['a word for a slot', `${A} 127.0.0.1:7000@17000 master - 0 0 1 connected all`],
    ])('refuses %s, naming the line', (_what, line) => {
      expect(() => parseClusterNodes(`${REPLY}\n${line}`)).toThrow(ClusterNodesParseError);
      expect(() => parseClusterNodes(`${REPLY}\n${line}`)).toThrow(/line 5/);
    });
  });
});
