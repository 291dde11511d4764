import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { CollectContext, RedisCommand } from '../../../exporter/collectors/types.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import { KeyScanner, type ScanJob, scanProgress } from '../../../exporter/keys/key-scan.js';

/** Redis' dictScan cursor step for a table of 2^bits buckets: reverse, increment, reverse. */
function nextCursor(cursor: number, bits: number): number {
  const reverse = (v: number) => {
    let r = 0;
    for (let i = 0; i < bits; i++) r = (r << 1) | ((v >> i) & 1);
    return r;
  };
  const next = reverse(cursor) + 1;
  return next === 2 ** bits ? 0 : reverse(next);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fake target whose SCAN returns `perCall` keys of `total` per call (the
 * cursor is the offset) after `delayMs`, and fails once at `failAt` if given.
 */
function fakeTarget(total: number, perCall: number, delayMs: number, failAt?: string) {
  const scans: string[] = [];
  let failed = false;
  const context = (budgetMs: number): CollectContext => ({
    reply: () => {
      throw new Error('no first pipeline here');
    },
    info: () => parseInfo(`# Keyspace\r\ndb0:keys=${total},expires=0\r\n`),
    roundTrip: async () => [],
    roundTripOn: async (_db, commands: readonly RedisCommand[]) => {
      await sleep(delayMs);
      return commands.map((command): PromiseSettledResult<unknown> => {
        const cursor = String(command[1]);
        scans.push(cursor);
        if (cursor === failAt && !failed) {
          failed = true;
          return {
            status: 'rejected',
            reason: new ReplyError('NOPERM this user has no permissions'),
          };
        }
        const start = Number(cursor);
        const end = Math.min(total, start + perCall);
        const keys = Array.from({ length: end - start }, (_, i) => `k:${start + i}`);
        return { status: 'fulfilled', value: [end >= total ? '0' : String(end), keys] };
      });
    },
    connection: {},
    target: 'redis://fake:6379',
    deadline: Date.now() + budgetMs * 2,
    options: { clientNameCap: 10 },
    nowSeconds: Date.now() / 1000,
  });
  return { context, scans };
}

const counter: ScanJob<{ keys: Set<string>; calls: number }, number> = {
  id: 'db0 k:*',
  db: 0,
  match: 'k:*',
  begin: () => ({ keys: new Set(), calls: 0 }),
  async visit(accumulator, keys) {
    accumulator.calls++;
    for (const key of keys) accumulator.keys.add(key);
  },
  end: (accumulator) => accumulator.keys.size,
};

describe('the key scanner', () => {
  describe('happy', () => {
    it('reads the share of the keyspace a SCAN cursor has covered, bucket for bucket', () => {
      for (const bits of [4, 10, 17]) {
        let cursor = 0;
        const buckets = 2 ** bits;
        for (let done = 1; done < buckets; done++) {
          cursor = nextCursor(cursor, bits);
          // Checked at a few points: every step for small tables.
          if (bits > 10 && done % 997 !== 0) continue;
          expect(scanProgress(String(cursor), buckets)).toBeCloseTo(done / buckets, 12);
        }
        expect(nextCursor(cursor, bits)).toBe(0);
      }
      expect(scanProgress('0', 1000)).toBe(0);
      expect(scanProgress('not a cursor', 1000)).toBe(0);
    });

    it('spreads a pass over scrapes, serving nothing before the first pass ends', async () => {
      const { context } = fakeTarget(100, 10, 4);
      const scanner = new KeyScanner(10, 15, 1);
      const first = (await scanner.advance(context(1000), 'test', [counter])).get(counter.id);
      expect(first?.result).toBeUndefined();
      expect(first?.passes).toBe(0);
      let scrapes = 1;
      let status = first;
      while (status?.passes === 0 && scrapes < 100) {
        status = (await scanner.advance(context(1000), 'test', [counter])).get(counter.id);
        scrapes++;
      }
      expect(scrapes).toBeGreaterThan(1);
      expect(status?.result).toBe(100);
      expect(status?.progress).toBe(1);
      expect(status?.passMs).toBeGreaterThan(0);
      // The next pass starts over; meanwhile the last complete result is served.
      const next = (await scanner.advance(context(1000), 'test', [counter])).get(counter.id);
      expect(next?.result).toBe(100);
      expect(next?.passes).toBe(1);
      expect(next?.progress).toBeLessThan(1);
    });

    it('ends a pass per scrape on a keyspace that fits the budget', async () => {
      const { context } = fakeTarget(30, 10, 0);
      const scanner = new KeyScanner(10, 1000, 1);
      for (let i = 1; i <= 3; i++) {
        const status = (await scanner.advance(context(5000), 'test', [counter])).get(counter.id);
        expect(status?.passes).toBe(i);
        expect(status?.result).toBe(30);
      }
    });

    it('stops within the budget, at most half of what is left of the scrape', async () => {
      const { context } = fakeTarget(100_000, 10, 2);
      const scanner = new KeyScanner(10, 10_000, 1);
      const started = Date.now();
      // 100 ms of scrape left: the scanner takes at most 50.
      await scanner.advance(context(50), 'test', [counter]);
      expect(Date.now() - started).toBeLessThan(80);
    });
  });

  describe('unhappy', () => {
    it('throws a refused SCAN and resumes at the same cursor next time, counting no key twice', async () => {
      const { context, scans } = fakeTarget(50, 10, 0, '20');
      const scanner = new KeyScanner(10, 1000, 1);
      await expect(scanner.advance(context(5000), 'test', [counter])).rejects.toThrow(/NOPERM/);
      const status = (await scanner.advance(context(5000), 'test', [counter])).get(counter.id);
      expect(status?.result).toBe(50);
      expect(scans).toEqual(['0', '10', '20', '20', '30', '40']);
    });

    it('forgets a job that is no longer configured', async () => {
      const { context } = fakeTarget(10, 10, 0);
      const scanner = new KeyScanner(10, 1000, 1);
      await scanner.advance(context(5000), 'test', [counter]);
      const other = { ...counter, id: 'db0 other:*' };
      const statuses = await scanner.advance(context(5000), 'test', [other]);
      expect([...statuses.keys()]).toEqual(['db0 other:*']);
      const again = await scanner.advance(context(5000), 'test', [counter]);
      expect(again.get(counter.id)?.passes).toBe(1);
    });
  });
});
