import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  ClusterStats,
  clusterRetryOf,
  type NodeStats,
} from '../../../client/instrumentation/cluster-stats.js';

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
      expect(stats.series().map(([node]) => node)).toEqual(['10.0.0.1:6379']);
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

describe('ClusterStats per-node series', () => {
  /** A ClusterStats on a clock the test moves. */
  function clocked() {
    let now = 0;
    const stats = new ClusterStats(() => now);
    return { stats, advance: (ms: number) => (now += ms) };
  }
  const counts = (stats: ClusterStats) =>
    Object.fromEntries(stats.series().map(([node, s]) => [node, [s.commands, s.errors]]));
  const settle = (node: NodeStats, ok: number, failed = 0) => {
    for (let i = 0; i < ok; i++) node.settled(false);
    for (let i = 0; i < failed; i++) node.settled(true);
  };

  it('keeps a node in use however long, and one gone for less than 10 minutes', () => {
    const { stats, advance } = clocked();
    const live = stats.node('10.0.0.1', 6379);
    const gone = stats.node('10.0.0.2', 6379);
    settle(live, 3, 1);
    settle(gone, 2);
    stats.release(gone);
    advance(599_000);
    expect(counts(stats)).toEqual({ '10.0.0.1:6379': [4, 1], '10.0.0.2:6379': [2, 0] });
  });

  it('folds a node no connection used for 10 minutes into node="other", keeping its counts', () => {
    const { stats, advance } = clocked();
    const live = stats.node('10.0.0.1', 6379);
    const gone = stats.node('10.0.0.2', 6379);
    settle(live, 1);
    settle(gone, 5, 2);
    stats.release(gone);
    advance(600_000);
    expect(counts(stats)).toEqual({ '10.0.0.1:6379': [1, 0], other: [7, 2] });
    // A command of the gone node that settles late still counts, under other.
    gone.settled(true);
    expect(counts(stats).other).toEqual([8, 3]);
  });

  it('does not fold a node the writer and the reader both use until both let go', () => {
    const { stats, advance } = clocked();
    const writer = stats.node('10.0.0.1', 6379);
    const reader = stats.node('10.0.0.1', 6379);
    expect(reader).toBe(writer);
    stats.release(writer);
    advance(3_600_000);
    expect(Object.keys(counts(stats))).toEqual(['10.0.0.1:6379']);
    stats.release(reader);
    advance(600_000);
    expect(Object.keys(counts(stats))).toEqual(['other']);
  });

  it('keeps at most 32 gone nodes, folding the longest gone first, with a sum that never goes down', () => {
    const { stats, advance } = clocked();
    let total = 0;
    for (let i = 0; i < 100; i++) {
      const node = stats.node(`10.0.1.${i}`, 6379);
      settle(node, i + 1);
      stats.release(node);
      advance(1000);
      const sum = stats.series().reduce((acc, [, s]) => acc + s.commands, 0);
      expect(sum).toBeGreaterThanOrEqual(total);
      total = sum;
    }
    const series = stats.series().map(([node]) => node);
    expect(series).toHaveLength(33);
    expect(series.at(-1)).toBe('other');
    expect(series[0]).toBe('10.0.1.68:6379');
    expect(total).toBe((100 * 101) / 2);
  });

  it('starts a node that comes back after it was folded from zero, under its own name again', () => {
    const { stats, advance } = clocked();
    const first = stats.node('10.0.0.9', 6379);
    settle(first, 4);
    stats.release(first);
    advance(600_000);
    const again = stats.node('10.0.0.9', 6379);
    settle(again, 1);
    expect(counts(stats)).toEqual({ '10.0.0.9:6379': [1, 0], other: [4, 0] });
  });
});
