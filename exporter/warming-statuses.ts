import {
  MAX_WARMING_STATUS_BYTES,
  MAX_WARMING_STATUSES,
  parseWarmingStatus,
  WARMING_STATUS_INDEX,
  type WarmingStatus,
  type WarmingStatusSkip,
  warmingStatusKeyOf,
  warmingStatusMember,
} from '../client/common/warming-status.js';
import type { RedisCommand } from './collectors/types.js';
import { type RoundTrip, readIndexedRecords } from './indexed-records.js';

/**
 * Reading the warming runs' status records back from Redis, bounded by
 * readIndexedRecords: at most MAX_WARMING_STATUS_READS records per read, each
 * fetched only once STRLEN has shown it fits MAX_WARMING_STATUS_BYTES.
 */

/**
 * Index entries read at most: more than the exported MAX_WARMING_STATUSES so
 * that the most recently updated ones can be chosen (the index is ordered by
 * expiry, and a finished run's status outlives a running one's by minutes).
 */
export const MAX_WARMING_STATUS_READS = 1000;

/** The live statuses, latest expiry first: static, so it rides in the scrape's first pipeline. */
export const WARMING_INDEX_READ: RedisCommand = [
  'ZREVRANGE',
  WARMING_STATUS_INDEX,
  '0',
  String(MAX_WARMING_STATUS_READS - 1),
];

/** How the records are read, for docs/metrics.md. */
export const READ_NOTE = `ZREVRANGE ${WARMING_STATUS_INDEX} 0 ${MAX_WARMING_STATUS_READS - 1}, then STRLEN and MGET of the records`;

/** Why a status record was skipped; every reason is exported, 0 when none. */
export const WARMING_STATUS_SKIPS: readonly WarmingStatusSkip[] = [
  'too-large',
  'not-json',
  'invalid',
  'version',
];

export interface WarmingStatuses {
  /** Most recently updated first, at most MAX_WARMING_STATUSES. */
  readonly statuses: readonly WarmingStatus[];
  /** Valid records read, before the cap. */
  readonly records: number;
  /** Records skipped this read, by reason. */
  readonly invalid: Readonly<Record<WarmingStatusSkip, number>>;
  /** Index entries whose record had expired (a run's status outlived): not an error. */
  readonly expired: number;
}

/**
 * Every status the index names (`indexReply` is the reply to
 * WARMING_INDEX_READ), the garbage skipped and counted. Rejects only when
 * Redis refuses a read (NOPERM, a lost connection), never because of what a
 * record holds.
 *
 * ```ts
 * const [index] = await roundTrip([WARMING_INDEX_READ]);
 * const { statuses } = await readWarmingStatuses(settledValue(index), roundTrip);
 * ```
 */
export async function readWarmingStatuses(
  indexReply: unknown,
  roundTrip: RoundTrip,
): Promise<WarmingStatuses> {
  const read = await readIndexedRecords(indexReply, roundTrip, {
    what: 'the warming status records',
    keyOf: warmingStatusKeyOf,
    maxRecords: MAX_WARMING_STATUS_READS,
    maxBytes: MAX_WARMING_STATUS_BYTES,
  });
  const invalid: Record<WarmingStatusSkip, number> = {
    'too-large': read.tooLarge,
    'not-json': 0,
    invalid: read.invalid,
    version: 0,
  };
  const statuses: WarmingStatus[] = [];
  for (const { member, raw } of read.values) {
    const parsed = parseWarmingStatus(raw);
    if (!parsed.ok) invalid[parsed.reason]++;
    // A status stored under another (instance, namespace) than it names would be counted twice.
    else if (warmingStatusMember(parsed.status.instance, parsed.status.namespace) !== member) {
      invalid.invalid++;
    } else statuses.push(parsed.status);
  }
  statuses.sort(
    (a, b) =>
      b.updatedAt - a.updatedAt ||
      (warmingStatusMember(a.instance, a.namespace) < warmingStatusMember(b.instance, b.namespace)
        ? -1
        : 1),
  );
  return {
    statuses: statuses.slice(0, MAX_WARMING_STATUSES),
    records: statuses.length,
    invalid,
    expired: read.expired,
  };
}

/** Share of the plan dealt with (warmed or skipped); a run with nothing planned is complete once it ends. */
export function progressRatio(status: WarmingStatus): number {
  if (status.planned > 0) return Math.min(1, (status.warmed + status.skipped) / status.planned);
  return status.state === 'running' ? 0 : 1;
}
