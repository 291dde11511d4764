import { describe, expect, it } from 'vitest';
import { TopKSketch } from '../../../client/hotkeys/top-k.js';
import { exactCounts, precisionRecall, ZipfKeys } from '../../../stack/zipf.js';

const BUDGET = { trackedKeys: 128, windowMs: 60_000, memoryBytes: 65536 };

/** Feeds `stream` with no time passing, as the accuracy benchmark does. */
function sketchOf(stream: readonly string[]): TopKSketch {
  const sketch = new TopKSketch({ ...BUDGET, windowMs: 3_600_000 }, 0);
  for (const key of stream) sketch.add(key, () => 0);
  return sketch;
}

describe('top-k sketch against exact counts', () => {
  // 300k accesses over 30k keys keeps this under a second; the benchmark runs the full 1M over 100k.
  for (const s of [0.9, 1.1]) {
    it(`finds the true top 10 and top 100 of a Zipf s=${s} stream`, () => {
      const stream = new ZipfKeys({ keys: 30_000, s, seed: 7 }).stream(300_000);
      const truth = exactCounts(stream);
      const found = sketchOf(stream)
        .top(100, 1)
        .map((e) => e.key);
      const top10 = precisionRecall(found, truth, 10);
      expect(top10.precision).toBeGreaterThanOrEqual(0.99);
      expect(top10.recall).toBeGreaterThanOrEqual(0.99);
      expect(precisionRecall(found, truth, 100).recall).toBeGreaterThanOrEqual(0.95);
    });
  }

  it('counts the hottest keys close to their true counts', () => {
    const stream = new ZipfKeys({ keys: 30_000, s: 1.1, seed: 11 }).stream(300_000);
    const truth = new Map(exactCounts(stream));
    for (const entry of sketchOf(stream).top(10, 1)) {
      const exact = truth.get(entry.key) as number;
      expect(Math.abs(entry.count - exact) / exact).toBeLessThan(0.02);
    }
  });
});

describe('top-k sketch over time', () => {
  /** Background traffic: 2,000 keys at 20 accesses a second in all, so the tracked set is full. */
  function background(
    sketch: TopKSketch,
    from: number,
    to: number,
    keys = new ZipfKeys({ keys: 2000, s: 0.9, seed: 3 }),
  ) {
    for (let t = from; t < to; t += 50) {
      sketch.add(keys.next(), () => t);
      if (t % 250 === 0) sketch.advance(t);
    }
  }

  it('reports a cold key that jumps to 5,000 a minute within 1 s of stream time', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    background(sketch, 0, 120_000);
    const step = 120_000;
    const gap = 60_000 / 5000; // 12 ms between accesses
    let detectedAt: number | undefined;
    for (let t = step; t < step + 3000; t += gap) {
      sketch.add('tenant:acme:settings', () => t);
      if (Math.floor(t / 250) !== Math.floor((t - gap) / 250)) {
        sketch.advance(t);
        if (detectedAt === undefined && sketch.rateOf('tenant:acme:settings', t) >= 1000) {
          detectedAt = t;
        }
      }
    }
    expect(detectedAt).toBeDefined();
    expect((detectedAt as number) - step).toBeLessThanOrEqual(1000);
  });

  it('reports it within 1 s over 5,000 accesses a second of Zipf background traffic', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    const keys = new ZipfKeys({ keys: 100_000, s: 0.9, seed: 9 });
    let tick = 0;
    let t = 0;
    for (; t < 120_000; t += 0.2) {
      sketch.add(keys.next(), () => t);
      if (t >= tick) {
        sketch.advance(t);
        tick += 250;
      }
    }
    const step = t;
    let nextHot = t;
    let detectedAt: number | undefined;
    for (; t < step + 5000 && detectedAt === undefined; t += 0.2) {
      sketch.add(keys.next(), () => t);
      if (t >= nextHot) {
        sketch.add('tenant:acme:settings', () => t);
        nextHot += 12;
      }
      if (t >= tick) {
        sketch.advance(t);
        tick += 250;
        if (sketch.rateOf('tenant:acme:settings', t) >= 1000) detectedAt = t;
      }
    }
    expect((detectedAt ?? Number.POSITIVE_INFINITY) - step).toBeLessThanOrEqual(1000);
  });

  it('does not call a lukewarm key hot for climbing into the tracked set', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    const keys = new ZipfKeys({ keys: 2000, s: 0.9, seed: 5 });
    for (let t = 0; t < 180_000; t += 10) {
      sketch.add(keys.next(), () => t);
      if (t % 250 === 0) sketch.advance(t);
    }
    // 100 accesses a second over 2,000 keys: the hottest is about 6% of it, ~370 a minute.
    const hottest = sketch.top(1, 180_000)[0];
    expect(hottest?.ratePerMinute).toBeLessThan(1000);
    expect(hottest?.ratePerMinute).toBeGreaterThan(100);
  });

  it('drops a key that stops after one window', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    for (let t = 0; t < 10_000; t += 5) sketch.add('hot', () => t);
    sketch.advance(10_000);
    expect(sketch.top(1, 10_000)[0]?.key).toBe('hot');
    for (let t = 10_000; t <= 75_000; t += 250) sketch.advance(t);
    expect(sketch.rateOf('hot', 75_000)).toBe(0);
    expect(sketch.top(10, 75_000).map((e) => e.key)).not.toContain('hot');
  });

  it('tells accesses that reached Redis from those served locally', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    for (let t = 0; t < 60_000; t += 10) {
      sketch.add('hot', () => t);
      if (t % 100 !== 0) sketch.servedLocally('hot');
    }
    const [entry] = sketch.top(1, 60_000);
    expect(entry?.redisRatePerMinute).toBeCloseTo((entry?.ratePerMinute ?? 0) / 10, 0);
  });
});

describe('top-k sketch memory', () => {
  it('stays under its budget with a million distinct keys', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    for (let i = 0; i < 1_000_000; i++) sketch.add(`user:${i}:profile`, () => i);
    expect(sketch.memoryBytes()).toBeLessThanOrEqual(65536);
    expect(sketch.top(1000, 1).length).toBeLessThanOrEqual(128);
  });

  it('counts but never tracks a key longer than it budgets for', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    const long = `k:${'x'.repeat(300)}`;
    for (let i = 0; i < 100; i++) sketch.add(long, () => 0);
    expect(sketch.top(10, 1)).toEqual([]);
    expect(sketch.untrackable).toBe(100);
  });

  it('evicts cold keys to make room for a hot one whose name is long', () => {
    const sketch = new TopKSketch(BUDGET, 0);
    const name = (i: number) => `k${i}:${'x'.repeat(100)}`;
    // 200 keys of ~100 characters seen once fill the name budget (128 × 64 characters).
    for (let i = 0; i < 200; i++) sketch.add(name(i), () => 0);
    let t = 0;
    for (; t < 20_000; t += 5) {
      sketch.add(name(7), () => t);
      if (t % 250 === 0) sketch.advance(t);
    }
    expect(sketch.top(1, t)[0]?.key).toBe(name(7));
    expect(sketch.rateOf(name(7), t)).toBeGreaterThan(10_000);
    expect(sketch.memoryBytes()).toBeLessThanOrEqual(65536);
  });

  it('refuses a budget too small for the tracked keys, naming the minimum', () => {
    expect(() => new TopKSketch({ ...BUDGET, memoryBytes: 4096 }, 0)).toThrow(/allow at least \d+/);
  });
});
