import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ClusterStats, clusterRetryOf } from '../../../client/instrumentation/cluster-stats.js';

/** A server error reply as ioredis hands it to a command (ioredis types ReplyError as any). */
const reply = (message: string): Error => new ReplyError(message) as Error;

describe('clusterRetryOf', () => {
  describe('happy', () => {
    it('reads the kind, slot and node of MOVED and ASK', () => {
      expect(clusterRetryOf(reply('MOVED 3999 10.0.0.2:6381'))).toMatchObject({
        kind: 'moved',
        slot: 3999,
        address: '10.0.0.2',
        port: 6381,
      });
      expect(clusterRetryOf(reply('ASK 0 redis-2.internal:7000'))).toMatchObject({
        kind: 'ask',
        slot: 0,
        address: 'redis-2.internal',
        port: 7000,
      });
    });

    it('takes the last colon as the port separator (Redis writes IPv6 hosts unbracketed)', () => {
      expect(clusterRetryOf(reply('MOVED 16383 fd00::12:6379'))).toMatchObject({
        slot: 16383,
        address: 'fd00::12',
        port: 6379,
      });
    });

    it('leaves the address out when Redis sends an empty host (the node that answered)', () => {
      const retry = clusterRetryOf(reply('MOVED 12 :6380'));
      expect(retry).toMatchObject({ kind: 'moved', slot: 12, port: 6380 });
      expect(retry?.address).toBeUndefined();
    });

    it('recognises TRYAGAIN and CLUSTERDOWN, which name no node', () => {
      expect(
        clusterRetryOf(reply('TRYAGAIN Multiple keys request during rehashing of slot')),
      ).toMatchObject({ kind: 'tryagain', slot: undefined, address: undefined });
      expect(clusterRetryOf(reply('CLUSTERDOWN The cluster is down'))).toMatchObject({
        kind: 'clusterdown',
      });
    });

    it('counts redirects and retries by kind, and commands per node', () => {
      const stats = new ClusterStats();
      for (const message of ['MOVED 1 a:1', 'MOVED 2 a:1', 'ASK 3 b:2', 'TRYAGAIN x']) {
        const retry = clusterRetryOf(reply(message));
        if (retry) stats.count(retry);
      }
      expect(stats.redirects).toEqual({ moved: 2, ask: 1 });
      expect(stats.errors).toEqual({ clusterdown: 0, tryagain: 1 });
      expect(stats.node('10.0.0.1', 6379)).toBe(stats.node('10.0.0.1', 6379));
      expect([...stats.nodes.keys()]).toEqual(['10.0.0.1:6379']);
    });
  });

  describe('unhappy', () => {
    it('ignores other errors, including client-side ones that quote MOVED', () => {
      expect(clusterRetryOf(reply('WRONGTYPE Operation against a key'))).toBeUndefined();
      expect(clusterRetryOf(new Error('MOVED 1 a:1'))).toBeUndefined();
      expect(clusterRetryOf('MOVED 1 a:1')).toBeUndefined();
      expect(clusterRetryOf(reply('MOVEDX 1 a:1'))).toBeUndefined();
    });

    it('drops a slot or port out of range rather than reporting it', () => {
      const retry = clusterRetryOf(reply('MOVED 99999 host:0'));
      expect(retry).toMatchObject({ kind: 'moved', slot: undefined, port: undefined });
      expect(clusterRetryOf(reply('ASK __proto__ nohost'))).toMatchObject({
        kind: 'ask',
        slot: undefined,
        address: undefined,
        port: undefined,
      });
    });
  });
});
