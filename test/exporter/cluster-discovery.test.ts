import { describe, expect, it } from 'vitest';
import { type ClusterNode, parseClusterNodes } from '../../client/common/cluster-nodes.js';
import { nodeTarget } from '../../exporter/cluster-discovery.js';
import { parseTarget } from '../../exporter/target.js';

const id = (c: string) => c.repeat(40);
const node = (line: string): ClusterNode => {
  const [parsed] = parseClusterNodes(line);
  if (!parsed) throw new Error('no node');
  return parsed;
};
const tls = parseTarget('rediss://seed.internal:7000');
const plain = parseTarget('redis://10.0.0.1:7000');

describe('a discovered node as a /scrape target', () => {
  describe('happy', () => {
    it("keeps the seed's scheme and uses the node's IP and client port", () => {
      const n = node(`${id('a')} 10.0.0.5:7001@17001 master - 0 0 1 connected 0-100`);
      expect(nodeTarget(tls, n)).toMatchObject({ key: 'rediss://10.0.0.5:7001' });
      expect(nodeTarget(plain, n)).toMatchObject({ key: 'redis://10.0.0.5:7001' });
    });

    it('prefers the announced hostname, and brackets an IPv6 address', () => {
      const named = node(
        `${id('a')} 10.0.0.5:7001@17001,redis-a.internal master - 0 0 1 connected 0-100`,
      );
      expect(nodeTarget(tls, named)).toMatchObject({ key: 'rediss://redis-a.internal:7001' });
      const v6 = node(`${id('b')} fd12::5:7002@17002 slave ${id('a')} 0 0 1 connected`);
      expect(nodeTarget(tls, v6)).toMatchObject({ key: 'rediss://[fd12::5]:7002' });
    });

    it('reaches a node that does not know its own IP yet through the seed host', () => {
      const lonely = node(`${id('a')} :7000@17000 myself,master - 0 0 0 connected`);
      expect(nodeTarget(tls, lonely)).toMatchObject({ key: 'rediss://seed.internal:7000' });
    });
  });

  describe('unhappy', () => {
    it('says why a node has no usable address instead of listing it', () => {
      expect(nodeTarget(tls, node(`${id('a')} :0@0 master,noaddr - 0 0 0 disconnected`))).toBe(
        'flagged noaddr',
      );
      expect(
        nodeTarget(tls, node(`${id('b')} 10.0.0.9:7009@17009 master,handshake - 0 0 0 connected`)),
      ).toBe('still in handshake');
      expect(nodeTarget(tls, node(`${id('c')} :7003@17003 master - 0 0 0 connected`))).toBe(
        'no address announced',
      );
      // A hostname /scrape would refuse (a numeric look-alike of IPv4) is refused here too.
      const odd = nodeTarget(
        tls,
        node(`${id('d')} 10.0.0.5:7001@17001,0x7f.1 master - 0 0 1 connected 0-100`),
      );
      expect(typeof odd).toBe('string');
      expect(odd).toMatch(/0x7f\.1/);
    });
  });
});
