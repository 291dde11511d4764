import { describe, expect, it } from 'vitest';
import { BucketCounts } from '../../../client/common/bucket-counts.js';

describe('BucketCounts', () => {
  describe('happy', () => {
    it('renders cumulative counts by upper bound, a value on a bound counting in that bucket', () => {
      const counts = new BucketCounts([0.001, 0.01, 0.1]);
      for (const value of [0.0005, 0.001, 0.002, 0.01, 0.05]) counts.observe(value);
      expect(counts.cumulative()).toEqual([
        [0.001, 2],
        [0.01, 4],
        [0.1, 5],
      ]);
      expect(counts.count).toBe(5);
      expect(counts.sum).toBeCloseTo(0.0635, 10);
    });

    it('counts a value past every bound only in count, which is the +Inf bucket', () => {
      const counts = new BucketCounts([1, 2]);
      counts.observe(0.5);
      counts.observe(30);
      expect(counts.cumulative()).toEqual([
        [1, 1],
        [2, 1],
      ]);
      expect(counts.count).toBe(2);
      expect(counts.sum).toBe(30.5);
    });

    it('never lets a cumulative count fall from one bound to the next', () => {
      const counts = new BucketCounts([0.1, 0.2, 0.5, 1]);
      for (let i = 0; i < 100; i++) counts.observe((i * 7919) % 13);
      const running = counts.cumulative().map(([, n]) => n);
      expect(running).toEqual([...running].sort((a, b) => a - b));
      expect(running.at(-1)).toBeLessThanOrEqual(counts.count);
    });
  });

  describe('unhappy', () => {
    it('renders zeros for every bound before anything was observed', () => {
      const counts = new BucketCounts([1, 2]);
      expect(counts.cumulative()).toEqual([
        [1, 0],
        [2, 0],
      ]);
      expect(counts.count).toBe(0);
      expect(counts.sum).toBe(0);
    });
  });
});
