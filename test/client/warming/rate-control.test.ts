import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS } from '../../../client/instrumentation/command-stats.js';
import { LiveLatency, type LiveSnapshot } from '../../../client/instrumentation/live-latency.js';
import { RateControl } from '../../../client/warming/rate-control.js';
import { TokenBucket } from '../../../client/warming/token-bucket.js';

/** A window of `commands` commands, all at `ms`, as LiveLatency reports it. */
function window(commands: number, ms: number, errors = 0) {
  const zero: LiveSnapshot = {
    at: 0,
    commands: 0,
    errors: 0,
    buckets: DURATION_BUCKETS.map(() => 0),
  };
  const to: LiveSnapshot = {
    at: 1000,
    commands,
    errors,
    buckets: DURATION_BUCKETS.map((bound) => (ms / 1000 <= bound ? commands : 0)),
  };
  return LiveLatency.between(zero, to);
}

describe('the live p99', () => {
  it('is interpolated within its bucket and undefined without commands', () => {
    // 0.3 ms is in (0.25, 0.5]: the 99th of 100 is 99% of the way through it.
    expect(window(100, 0.3).p99Ms).toBeCloseTo(0.4975, 4);
    expect(window(100, 20_000).p99Ms).toBe(10_000);
    expect(window(0, 1).p99Ms).toBeUndefined();
  });
});

describe('the AIMD rate control', () => {
  it('halves on a latency rise, holds for a window, then gives back a tenth a second', () => {
    const control = new RateControl(1000, window(500, 0.2));
    expect(control.onSecond(window(500, 0.3), 0)).toEqual({ rate: 1000 });
    const halved = control.onSecond(window(500, 5), 0);
    expect(halved).toMatchObject({ rate: 500, backedOff: 'latency' });
    // The window still holds the bad seconds: no second halving for them.
    expect(control.onSecond(window(500, 5), 0).rate).toBe(500);
    expect(control.onSecond(window(500, 5), 0).rate).toBe(500);
    expect(control.onSecond(window(500, 5), 0).rate).toBe(250);
    for (const expected of [350, 450, 550]) {
      expect(control.onSecond(window(500, 0.2), 0).rate).toBe(expected);
    }
  });

  it('ignores a rise under the absolute floor and the p99 of a quiet window', () => {
    const control = new RateControl(1000, window(500, 0.1));
    expect(control.onSecond(window(500, 0.5), 0).rate).toBe(1000);
    expect(control.onSecond(window(10, 50), 0).rate).toBe(1000);
  });

  it('halves on live errors and on its own failed attempts', () => {
    const control = new RateControl(1000, window(500, 0.2));
    expect(control.onSecond(window(500, 0.2, 20), 0)).toMatchObject({ backedOff: 'errors' });
    const own = new RateControl(1000, undefined);
    expect(own.onSecond(undefined, 1)).toMatchObject({ rate: 500, backedOff: 'errors' });
  });

  it('takes its baseline from the first busy window when the app was idle', () => {
    const control = new RateControl(1000, window(3, 0.1));
    expect(control.baselineP99Ms).toBeUndefined();
    control.onSecond(window(500, 0.2), 0);
    expect(control.baselineP99Ms).toBeCloseTo(0.2485, 4);
    expect(control.onSecond(window(500, 5), 0).backedOff).toBe('latency');
  });

  it('never goes under a 64th of the configured rate', () => {
    const control = new RateControl(640, undefined);
    let rate = 640;
    for (let i = 0; i < 40; i++) rate = control.onSecond(undefined, 1).rate;
    expect(rate).toBe(10);
  });
});

describe('the token bucket', () => {
  it('lets one batch through, then paces at the rate, and follows a rate change at once', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 10, () => now);
    expect(bucket.take(10)).toBe(0);
    expect(bucket.take(10)).toBeCloseTo(100, 6);
    now = 100;
    bucket.setRate(50);
    expect(bucket.take(10)).toBeCloseTo(200, 6);
    now = 1000;
    expect(bucket.take(5)).toBe(0);
  });
});
