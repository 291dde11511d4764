import { describe, expect, it } from 'vitest';
import {
  MAX_WARMING_STATUS_BYTES,
  parseWarmingStatus,
  serializeWarmingStatus,
  WARMING_PREFIX,
  WARMING_STATUS_INDEX,
  type WarmingStatus,
  warmingStatusKey,
  warmingStatusMember,
  warmingUsageKey,
} from '../../../client/common/warming-status.js';

const status: WarmingStatus = {
  v: 1,
  instance: 'api@web-1:42',
  service: 'api',
  namespace: 'app:session:',
  state: 'running',
  source: 'usage',
  planned: 1000,
  warmed: 10,
  skipped: 2,
  errors: 0,
  startedAt: 1_700_000_000_000,
  updatedAt: 1_700_000_002_000,
};

describe('the warming status record', () => {
  it('names its keys under one hash-tagged prefix', () => {
    expect(WARMING_PREFIX).toBe('redscope:{warming}:');
    expect(WARMING_STATUS_INDEX).toBe('redscope:{warming}:status-index');
    expect(warmingStatusMember('api@web-1:42', 'app:session:')).toBe('api@web-1:42:app:session:');
    expect(warmingStatusKey('api@web-1:42', 'app:session:')).toBe(
      'redscope:{warming}:status:api@web-1:42:app:session:',
    );
    expect(warmingUsageKey('app:session:')).toBe('redscope:{warming}:usage:app:session:');
  });

  it('round-trips a status, finished or not', () => {
    expect(parseWarmingStatus(serializeWarmingStatus(status))).toEqual({ ok: true, status });
    const done = {
      ...status,
      state: 'done' as const,
      finishedAt: 1_700_000_009_000,
      reason: 'target_reached',
    };
    expect(parseWarmingStatus(Buffer.from(serializeWarmingStatus(done)))).toEqual({
      ok: true,
      status: done,
    });
  });

  it('cuts a long reason instead of writing a large value', () => {
    const text = serializeWarmingStatus({ ...status, state: 'failed', reason: 'x'.repeat(10_000) });
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_WARMING_STATUS_BYTES);
    expect(parseWarmingStatus(text).ok).toBe(true);
  });

  it('skips what is not a status, with the reason, never throwing', () => {
    expect(parseWarmingStatus('x'.repeat(MAX_WARMING_STATUS_BYTES + 1))).toEqual({
      ok: false,
      reason: 'too-large',
    });
    expect(parseWarmingStatus('{nope')).toEqual({ ok: false, reason: 'not-json' });
    expect(parseWarmingStatus('[1]')).toEqual({ ok: false, reason: 'invalid' });
    expect(parseWarmingStatus(JSON.stringify({ ...status, v: 2 }))).toEqual({
      ok: false,
      reason: 'version',
    });
    for (const broken of [
      { ...status, state: 'paused' },
      { ...status, source: 'disk' },
      { ...status, planned: -1 },
      { ...status, warmed: '10' },
      { ...status, instance: '' },
      { ...status, finishedAt: 'later' },
    ]) {
      expect(parseWarmingStatus(JSON.stringify(broken))).toEqual({ ok: false, reason: 'invalid' });
    }
  });
});
