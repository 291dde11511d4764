import { describe, expect, it } from 'vitest';
import { MissStormDetector } from '../../../client/session/miss-storm.js';

function feed(detector: MissStormDetector, hit: boolean, times: number): number {
  let storms = 0;
  for (let i = 0; i < times; i++) if (detector.observe(hit)) storms += 1;
  return storms;
}

describe('the miss-storm detector', () => {
  it('fires once when the hit ratio falls under 50% after being over 80%', () => {
    const detector = new MissStormDetector();
    expect(feed(detector, true, 200)).toBe(0);
    expect(detector.ratio).toBe(1);
    expect(feed(detector, false, 100)).toBe(0);
    expect(feed(detector, false, 1)).toBe(1);
    expect(detector.ratio).toBeCloseTo(0.495, 3);
    expect(feed(detector, false, 300)).toBe(0);
  });

  it('fires again only after the ratio recovered over 80%', () => {
    const detector = new MissStormDetector();
    feed(detector, true, 200);
    expect(feed(detector, false, 150)).toBe(1);
    expect(feed(detector, true, 140)).toBe(0);
    expect(feed(detector, false, 150)).toBe(0);
    feed(detector, true, 200);
    expect(feed(detector, false, 150)).toBe(1);
  });

  it('never fires for a cache that was never warm (a cold start)', () => {
    const detector = new MissStormDetector();
    expect(feed(detector, false, 1000)).toBe(0);
    expect(feed(detector, true, 150)).toBe(0);
  });

  it('counts a seen flush as this storm', () => {
    const detector = new MissStormDetector();
    feed(detector, true, 200);
    detector.flushed();
    expect(feed(detector, false, 200)).toBe(0);
  });
});
