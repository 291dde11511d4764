import { describe, expect, it } from 'vitest';
import { formatStackStatus } from '../../stack/stack-status.js';

const at = new Date('2026-11-30T12:00:05Z');

describe('the status line of redscope up', () => {
  it('shows ops/s, hit rate, master, firing alerts and hot keys on one line', () => {
    const line = formatStackStatus(
      {
        opsPerSecond: 1234,
        hitRate: 0.9812,
        master: 'redis-1 (127.0.0.1:21011)',
        firing: ['RedisDown', 'RedisFailover'],
        hotKeys: { count: 1, topPerMinute: 12_500 },
      },
      at,
    );
    expect(line).toBe(
      '12:00:05Z  1.2k ops/s · hit 98.1% · master redis-1 (127.0.0.1:21011) · alerts firing: RedisDown, RedisFailover · hot keys: 1 (busiest key 13k/min)',
    );
  });

  it('says what it does not know yet instead of inventing numbers', () => {
    const line = formatStackStatus(
      {
        opsPerSecond: undefined,
        hitRate: undefined,
        master: null,
        firing: [],
        hotKeys: { count: 0, topPerMinute: undefined },
      },
      at,
    );
    expect(line).toBe(
      '12:00:05Z  - ops/s · hit - · master (not scraped yet) · alerts firing: none · hot keys: 0',
    );
  });
});
