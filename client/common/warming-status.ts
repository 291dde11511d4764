/**
 * Cache warming's records in Redis: the status record each warming run
 * publishes (read back by the exporter as `redscope_warming_*` and by
 * `redscope warm`), and the usage record that ranks what to warm. Both live
 * under one reserved prefix whose hash tag keeps them in one Cluster slot.
 *
 * - `redscope:{warming}:status:<instance>:<namespace>`: one JSON status per
 *   run (per app process and namespace), PX = 3 × the update interval while
 *   running, kept 10 minutes after the run ends;
 * - `redscope:{warming}:status-index`: sorted set, member `<instance>:<namespace>`,
 *   score = when that status expires (ms since epoch), so readers never SCAN;
 * - `redscope:{warming}:usage:<namespace>`: sorted set, member = key name,
 *   score = forward-decayed frequency (see client/warming/usage-record.ts).
 */

export const WARMING_PREFIX = 'redscope:{warming}:';
/** Index of the live status records (see above). */
export const WARMING_STATUS_INDEX = `${WARMING_PREFIX}status-index`;
/** How long a finished run's status stays readable. */
export const WARMING_STATUS_KEEP_MS = 10 * 60_000;
/** What a client writes at most (a status is about 300 bytes; the cap only guards the reader). */
export const MAX_WARMING_STATUS_BYTES = 4096;
/** The most (instance, namespace) statuses a reader exports: series stay bounded. */
export const MAX_WARMING_STATUSES = 100;

export type WarmingState = 'running' | 'done' | 'cancelled' | 'failed';
export const WARMING_STATES: readonly WarmingState[] = ['running', 'done', 'cancelled', 'failed'];

/**
 * Where the run's work came from: `redis` for a copy from a warm Redis;
 * otherwise the plan's origin, `usage` (the usage record's top keys) or
 * `keys` (a list the caller gave). `loader` is for a plan a loader module
 * produced itself (the client never writes it; `redscope warm` may).
 */
export type WarmingSource = 'usage' | 'redis' | 'loader' | 'keys';
const SOURCES: readonly WarmingSource[] = ['usage', 'redis', 'loader', 'keys'];

export interface WarmingStatus {
  readonly v: 1;
  /** The app process: `<service>@<hostname>:<pid>` (client/common/instance-id.ts). */
  readonly instance: string;
  readonly service: string;
  /** The key prefix being warmed, e.g. `demo:session:`. */
  readonly namespace: string;
  readonly state: WarmingState;
  readonly source: WarmingSource;
  /** Keys in the plan. */
  readonly planned: number;
  /** Keys this run wrote. */
  readonly warmed: number;
  /** Keys already filled by live traffic, or gone from the source. */
  readonly skipped: number;
  /** Failed attempts (each loader or Redis error, retried or not) and unusable values. */
  readonly errors: number;
  /** ms since epoch. */
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number;
  /** Why it ended, when not plainly done: `target_reached`, `cancelled`, or the failure. */
  readonly reason?: string;
}

export type WarmingStatusSkip = 'too-large' | 'not-json' | 'invalid' | 'version';

export type ParsedWarmingStatus =
  | { readonly ok: true; readonly status: WarmingStatus }
  | { readonly ok: false; readonly reason: WarmingStatusSkip };

/** The index member of one (instance, namespace). */
export function warmingStatusMember(instance: string, namespace: string): string {
  return `${instance}:${namespace}`;
}

/** The Redis key of the status record an index member names. */
export function warmingStatusKeyOf(member: string): string {
  return `${WARMING_PREFIX}status:${member}`;
}

/** The Redis key of one (instance, namespace) status record. */
export function warmingStatusKey(instance: string, namespace: string): string {
  return warmingStatusKeyOf(warmingStatusMember(instance, namespace));
}

/** The Redis key of a namespace's usage record (shared by every process of the fleet). */
export function warmingUsageKey(namespace: string): string {
  return `${WARMING_PREFIX}usage:${namespace}`;
}

/** Longest `reason` written: it is a short cause, not a stack. */
const MAX_REASON_LENGTH = 300;

/**
 * The status as it is stored.
 *
 * ```ts
 * serializeWarmingStatus({ v: 1, instance: 'api@web-1:42', service: 'api', namespace: 'app:session:',
 *   state: 'running', source: 'usage', planned: 1000, warmed: 10, skipped: 0, errors: 0,
 *   startedAt: Date.now(), updatedAt: Date.now() });
 * ```
 */
export function serializeWarmingStatus(status: WarmingStatus): string {
  const reason = status.reason?.slice(0, MAX_REASON_LENGTH);
  return JSON.stringify({ ...status, ...(reason === undefined ? {} : { reason }) });
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024;
}

/**
 * Checks a stored status; anything else (another app's value under our
 * prefix, a truncated write, a future version) is a skip with its reason,
 * never an exception.
 */
export function parseWarmingStatus(raw: string | Buffer): ParsedWarmingStatus {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_WARMING_STATUS_BYTES) return { ok: false, reason: 'too-large' };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString());
  } catch {
    return { ok: false, reason: 'not-json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'invalid' };
  }
  const s = value as Record<string, unknown>;
  if (s.v !== 1) return { ok: false, reason: 'version' };
  const valid =
    isName(s.instance) &&
    isName(s.service) &&
    isName(s.namespace) &&
    WARMING_STATES.includes(s.state as WarmingState) &&
    SOURCES.includes(s.source as WarmingSource) &&
    isCount(s.planned) &&
    isCount(s.warmed) &&
    isCount(s.skipped) &&
    isCount(s.errors) &&
    isCount(s.startedAt) &&
    isCount(s.updatedAt) &&
    (s.finishedAt === undefined || isCount(s.finishedAt)) &&
    (s.reason === undefined || typeof s.reason === 'string');
  return valid ? { ok: true, status: value as WarmingStatus } : { ok: false, reason: 'invalid' };
}
