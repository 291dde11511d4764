import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type {
  CollectContext,
  KeyCommand,
  RoundTripOptions,
} from '../../../exporter/collectors/types.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import {
  KeyScanner,
  MAX_SCAN_SCOPES,
  ROUND_TRIP_GRACE_MS,
  type ScanJob,
  scanProgress,
} from '../../../exporter/keys/key-scan.js';
import { ScrapeTimeoutError } from '../../../exporter/scrape-errors.js';

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
 * A round trip that would end past its `until` rejects then, as the scraper's does.
 */
function fakeTarget(
  total: number,
  perCall: number,
  delayMs: number,
  failAt?: string,
  { scope = 'redis://fake:6379 user-a', prefix = 'k' } = {},
) {
  const scans: string[] = [];
  let failed = false;
  let delay = delayMs;
  const context = (budgetMs: number): CollectContext => ({
    reply: () => {
      throw new Error('no first pipeline here');
    },
    info: () => parseInfo(`# Keyspace\r\ndb0:keys=${total},expires=0\r\n`),
    roundTrip: async () => [],
    roundTripOn: async (_db, commands: readonly KeyCommand[], options?: RoundTripOptions) => {
      const wait = sleep(delay).then(() => 'answered' as const);
      const until = options?.until;
      if (until !== undefined) {
        const timeout = sleep(Math.max(0, until - Date.now())).then(() => 'late' as const);
        if ((await Promise.race([wait, timeout])) === 'late') throw new ScrapeTimeoutError(1);
      } else {
        await wait;
      }
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
        const keys = Array.from({ length: end - start }, (_, i) =>
          Buffer.from(`${prefix}:${start + i}`),
        );
        return { status: 'fulfilled', value: [end >= total ? '0' : String(end), keys] };
      });
    },
    connection: {},
    mode: 'redis',
    target: 'redis://fake:6379',
    scope,
    deadline: Date.now() + budgetMs * 2,
    options: { clientNameCap: 10 },
    nowSeconds: Date.now() / 1000,
  });
  return {
    context,
    scans,
    /** Makes every round trip from now on take `ms`. */
    slow(ms: number) {
      delay = ms;
    },
  };
}

const counter: ScanJob<{ keys: Set<string>; calls: number }, number> = {
  id: 'db0 k:*',
  db: 0,
  match: 'k:*',
  begin: () => ({ keys: new Set(), calls: 0 }),
  async visit(accumulator, keys) {
    accumulator.calls++;
    for (const key of keys) accumulator.keys.add(key.toString());
  },
  end: (accumulator) => accumulator.keys.size,
};

/** A job that keeps each key as a sample, as far as its room allows. */
const keeper = (id: string): ScanJob<{ kept: string[]; dropped: number }, string[]> => ({
  id,
  db: 0,
  match: '*',
  begin: () => ({ kept: [], dropped: 0 }),
  async visit(accumulator, keys, _run, room) {
    const granted = room.take(keys.length);
    for (const key of keys.slice(0, granted)) accumulator.kept.push(key.toString());
    accumulator.dropped += keys.length - granted;
  },
  end: ({ kept }, keep) => kept.slice(0, keep),
});

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
      const scanner = new KeyScanner(10, 25, 1);
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

    it('keeps the scans of one address apart per credentials (scope): two users never share a pass', async () => {
      // Same address, two users: one sees 100 keys, the other 30 (another keyspace, say).
      const a = fakeTarget(100, 10, 1, undefined, { scope: 'redis://fake:6379 user-a' });
      const b = fakeTarget(30, 10, 1, undefined, {
        scope: 'redis://fake:6379 user-b',
        prefix: 'b',
      });
      const scanner = new KeyScanner(10, 1000, 1);
      const [first, second] = await Promise.all([
        scanner.advance(a.context(5000), 'test', [counter]),
        scanner.advance(b.context(5000), 'test', [counter]),
      ]);
      expect(first.get(counter.id)?.result).toBe(100);
      expect(second.get(counter.id)?.result).toBe(30);
      expect(first.get(counter.id)?.passes).toBe(1);
      expect(second.get(counter.id)?.passes).toBe(1);
    });

    it("shares one allowance among a collector's jobs: passes in progress and served results each hold at most max", async () => {
      const { context } = fakeTarget(50, 10, 0);
      const scanner = new KeyScanner(10, 1000, 1);
      const jobs = [keeper('a'), keeper('b'), keeper('c')];
      for (let scrape = 0; scrape < 3; scrape++) {
        const statuses = await scanner.advance(context(5000), 'test', jobs, 40);
        const served = jobs.map((job) => statuses.get(job.id)?.result?.length ?? 0);
        expect(served.reduce((n, x) => n + x, 0)).toBeLessThanOrEqual(40);
        // Round robin: each pass took its share of the 40 in progress, then served what fits.
        expect(served[0]).toBeGreaterThan(0);
      }
    });

    it('bounds each round trip by the share: a silent Redis gives up the pass and still serves the last result', async () => {
      const target = fakeTarget(30, 10, 0);
      const scanner = new KeyScanner(10, 200, 1);
      const done = await scanner.advance(target.context(5000), 'test', [counter]);
      expect(done.get(counter.id)?.result).toBe(30);
      // Redis stops answering (CLIENT PAUSE, a long command): a round trip would take 5 s.
      target.slow(5000);
      const started = Date.now();
      const statuses = await scanner.advance(target.context(5000), 'test', [counter]);
      expect(Date.now() - started).toBeLessThan(200 + ROUND_TRIP_GRACE_MS + 100);
      const status = statuses.get(counter.id);
      expect(status?.result).toBe(30);
      expect(status?.passes).toBe(1);
      expect(status?.endedNow).toBe(false);
      expect(status?.progress).toBe(0);
      // Redis answers again: the pass starts over from cursor 0 and ends.
      target.slow(0);
      target.scans.length = 0;
      const again = await scanner.advance(target.context(5000), 'test', [counter]);
      expect(target.scans[0]).toBe('0');
      expect(again.get(counter.id)).toMatchObject({ result: 30, passes: 2, endedNow: true });
    });

    it('lets a late reply of an abandoned scan change nothing a newer scrape uses', async () => {
      const target = fakeTarget(100, 10, 0);
      const scanner = new KeyScanner(10, 10_000, 1);
      await scanner.advance(target.context(60_000), 'test', [counter]);
      // A scrape whose advance waits on Redis while its own scrape has already given up on it.
      target.slow(300);
      const stale = scanner.advance(target.context(60_000), 'test', [counter]);
      await sleep(50);
      target.slow(0);
      const fresh = await scanner.advance(target.context(60_000), 'test', [counter]);
      expect(fresh.get(counter.id)).toMatchObject({ result: 100, passes: 2 });
      await expect(stale).rejects.toThrow(/later scrape took over/);
      const after = await scanner.advance(target.context(60_000), 'test', [counter]);
      expect(after.get(counter.id)).toMatchObject({ result: 100, passes: 3 });
    });

    it(`remembers the scans of at most ${MAX_SCAN_SCOPES} scopes, forgetting the longest unscraped`, async () => {
      const scanner = new KeyScanner(10, 1000, 1);
      const scopeOf = (i: number) => `redis://fake-${i}:6379 user`;
      for (let i = 0; i <= MAX_SCAN_SCOPES; i++) {
        const { context } = fakeTarget(10, 10, 0, undefined, { scope: scopeOf(i) });
        await scanner.advance(context(5000), 'test', [counter]);
      }
      const passesOf = async (i: number) => {
        const { context } = fakeTarget(10, 10, 0, undefined, { scope: scopeOf(i) });
        return (await scanner.advance(context(5000), 'test', [counter])).get(counter.id)?.passes;
      };
      // The last one is remembered (its second pass); the first was forgotten (a first pass again).
      expect(await passesOf(MAX_SCAN_SCOPES)).toBe(2);
      expect(await passesOf(0)).toBe(1);
    });

    it('gives a collector that had its turn without scanning no share: the next gets all that is left', async () => {
      const { context } = fakeTarget(1_000_000, 10, 5);
      const scanner = new KeyScanner(10, 200, 2);
      const ctx = context(10_000);
      // The first collector was left alone (read_from replica on a master) or failed before its scan.
      scanner.turn(ctx, 'first');
      const started = Date.now();
      await scanner.advance(ctx, 'second', [counter]);
      expect(Date.now() - started).toBeGreaterThan(150);
    });
  });
});
