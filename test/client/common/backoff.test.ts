import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from '../../../client/common/backoff.js';

describe('exponentialBackoff', () => {
  describe('happy', () => {
    it('waits the minimum on the first attempt and doubles on each next one', () => {
      const delay = exponentialBackoff(100, 10_000);
      expect([1, 2, 3, 4, 5].map(delay)).toEqual([100, 200, 400, 800, 1600]);
    });

    it('stays at the cap once doubling passes it', () => {
      const delay = exponentialBackoff(100, 2000);
      expect([5, 6, 7, 50].map(delay)).toEqual([1600, 2000, 2000, 2000]);
    });
  });

  describe('unhappy', () => {
    it('waits the minimum for an attempt number below 1 rather than less', () => {
      const delay = exponentialBackoff(100, 2000);
      expect([0, -3].map(delay)).toEqual([100, 100]);
    });

    it('returns a finite delay for an attempt far past any real retry count', () => {
      expect(exponentialBackoff(100, 2000)(10_000)).toBe(2000);
    });
  });
});
