import type { Cluster, Redis } from 'ioredis';
import {
  serializeWarmingStatus,
  WARMING_STATUS_INDEX,
  WARMING_STATUS_KEEP_MS,
  type WarmingStatus,
  warmingStatusKey,
  warmingStatusMember,
} from '../common/warming-status.js';

/** Index entries this long past their expiry are dropped by whichever writer comes next. */
const INDEX_GRACE_MS = 60_000;
/** The index outlives any status in it: 3 × the longest update period, or a finished run's keep. */
const INDEX_TTL_MS = Math.max(3 * 600_000, WARMING_STATUS_KEEP_MS) + INDEX_GRACE_MS;

/**
 * One MULTI: the status with its TTL (3 × the update period while running,
 * WARMING_STATUS_KEEP_MS once ended), its index entry scored by that
 * expiry, and the index's stale entries dropped.
 */
export function writeWarmingStatus(
  redis: Redis | Cluster,
  status: WarmingStatus,
  periodMs: number,
): Promise<[Error | null, unknown][] | null> {
  const now = Date.now();
  const ttl = status.state === 'running' ? 3 * periodMs : WARMING_STATUS_KEEP_MS;
  return redis
    .multi()
    .set(
      warmingStatusKey(status.instance, status.namespace),
      serializeWarmingStatus(status),
      'PX',
      ttl,
    )
    .zadd(WARMING_STATUS_INDEX, now + ttl, warmingStatusMember(status.instance, status.namespace))
    .zremrangebyscore(WARMING_STATUS_INDEX, '-inf', now - INDEX_GRACE_MS)
    .pexpire(WARMING_STATUS_INDEX, INDEX_TTL_MS)
    .exec();
}
