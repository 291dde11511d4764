import type { Redis } from 'ioredis';
import {
  HOTKEY_REPORT_INDEX,
  type HotKeyReportEntry,
  hotKeyReportKey,
  serializeHotKeyReport,
} from '../../../client/common/hotkey-report.js';

/**
 * Publishes a hot-key report on `client` exactly as the client library does:
 * one MULTI of SET PX, ZADD to the index, trim, PEXPIRE. On a Redis Cluster
 * `client` must be the master serving `{hotkeys}`.
 */
export async function publishHotKeyReport(
  client: Redis,
  instance: string,
  keys: readonly HotKeyReportEntry[],
  ttlMs = 15_000,
): Promise<void> {
  const now = Date.now();
  const report = serializeHotKeyReport({
    v: 1,
    instance,
    service: 'demo',
    at: now,
    windowSeconds: 60,
    thresholdPerMinute: 1000,
    keys,
  });
  await client
    .multi()
    .set(hotKeyReportKey(instance), report, 'PX', ttlMs)
    .zadd(HOTKEY_REPORT_INDEX, now + ttlMs, instance)
    .zremrangebyscore(HOTKEY_REPORT_INDEX, '-inf', now - 60_000)
    .pexpire(HOTKEY_REPORT_INDEX, 60_000)
    .exec();
}

/** A report entry as the client writes it: hot from 1000 accesses a minute. */
export const reportEntry = (key: string, rate: number, redisRate = rate): HotKeyReportEntry => ({
  key,
  rate,
  redisRate,
  hot: rate >= 1000,
});
