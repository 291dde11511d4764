/**
 * The hot-key report: what each client process publishes about its own top
 * keys, and what the exporter and `redscope hotkeys` read back and merge.
 * One small JSON value per process under a reserved prefix, with a TTL, so a
 * process that dies drops out by itself; a sorted set indexes the live ones
 * so that readers never SCAN the keyspace.
 */

/**
 * Every report lives under this prefix: `redscope:{hotkeys}:<instance>`. The
 * hash tag puts the reports and the index in one Redis Cluster slot, so one
 * MGET reads them all.
 */
export const HOTKEY_REPORT_PREFIX = 'redscope:{hotkeys}:';
/** A sorted set of the reporting instances, scored by when their report expires (ms since epoch). */
export const HOTKEY_REPORT_INDEX = 'redscope:{hotkeys}-index';
/** The most keys a merged top list may show, whatever the configuration says: series stay bounded. */
export const HOTKEY_TOP_CAP = 100;
/** What a client writes at most: it drops its coldest keys to fit. */
export const MAX_HOTKEY_REPORT_BYTES = 16 * 1024;
/** What a reader accepts: a larger value is not ours, or is broken, and is skipped. */
export const MAX_HOTKEY_REPORT_READ_BYTES = 64 * 1024;
/** The most reports one reader reads (one per app process). */
export const MAX_HOTKEY_REPORTS = 1000;
/** Longest redacted key name a report carries. */
export const MAX_REPORTED_KEY_LENGTH = 200;

export interface HotKeyReportEntry {
  /** The key name, already redacted. */
  readonly key: string;
  /** Accesses per minute in this process. */
  readonly rate: number;
  /** Of which reached Redis (not served by the near-cache). */
  readonly redisRate: number;
  /** Over the process's threshold. */
  readonly hot: boolean;
}

export interface HotKeyReport {
  readonly v: 1;
  /** The process: `<service>@<hostname>:<pid>` unless configured. */
  readonly instance: string;
  readonly service: string;
  /** When it was written, ms since epoch. */
  readonly at: number;
  readonly windowSeconds: number;
  readonly thresholdPerMinute: number;
  readonly keys: readonly HotKeyReportEntry[];
}

export type HotKeyReportSkip = 'too-large' | 'not-json' | 'invalid' | 'version';

export type ParsedHotKeyReport =
  | { readonly ok: true; readonly report: HotKeyReport }
  | { readonly ok: false; readonly reason: HotKeyReportSkip };

/** The Redis key of one instance's report. */
export function hotKeyReportKey(instance: string): string {
  return `${HOTKEY_REPORT_PREFIX}${instance}`;
}

/**
 * The report as it is stored, at most MAX_HOTKEY_REPORT_BYTES: keys are
 * sorted hottest first and the coldest dropped until it fits.
 *
 * ```ts
 * serializeHotKeyReport({ v: 1, instance: 'api@web-1:42', service: 'api', at: Date.now(),
 *   windowSeconds: 60, thresholdPerMinute: 1000, keys: [] });
 * ```
 */
export function serializeHotKeyReport(report: HotKeyReport): string {
  const keys = [...report.keys]
    .sort((a, b) => b.rate - a.rate)
    .map((entry) => ({ ...entry, key: entry.key.slice(0, MAX_REPORTED_KEY_LENGTH) }));
  let text = JSON.stringify({ ...report, keys });
  while (Buffer.byteLength(text) > MAX_HOTKEY_REPORT_BYTES && keys.length > 0) {
    // Halving the overshoot at a time keeps this a handful of passes for any size.
    const overshoot = Buffer.byteLength(text) / MAX_HOTKEY_REPORT_BYTES;
    keys.length = Math.min(keys.length - 1, Math.floor(keys.length / overshoot));
    text = JSON.stringify({ ...report, keys });
  }
  return text;
}

function isFiniteNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isEntry(value: unknown): value is HotKeyReportEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.key === 'string' &&
    entry.key.length > 0 &&
    entry.key.length <= MAX_REPORTED_KEY_LENGTH &&
    isFiniteNonNegative(entry.rate) &&
    isFiniteNonNegative(entry.redisRate) &&
    typeof entry.hot === 'boolean'
  );
}

/**
 * Checks a stored report; anything else (another app's value under our
 * prefix, a truncated write, a future version) is a skip with its reason,
 * never an exception.
 */
export function parseHotKeyReport(raw: string | Buffer): ParsedHotKeyReport {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_HOTKEY_REPORT_READ_BYTES) return { ok: false, reason: 'too-large' };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString());
  } catch {
    return { ok: false, reason: 'not-json' };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'invalid' };
  const report = value as Record<string, unknown>;
  if (report.v !== 1) return { ok: false, reason: 'version' };
  const valid =
    typeof report.instance === 'string' &&
    typeof report.service === 'string' &&
    isFiniteNonNegative(report.at) &&
    isFiniteNonNegative(report.windowSeconds) &&
    isFiniteNonNegative(report.thresholdPerMinute) &&
    report.thresholdPerMinute > 0 &&
    Array.isArray(report.keys) &&
    report.keys.length <= 10_000 &&
    report.keys.every(isEntry);
  return valid ? { ok: true, report: value as HotKeyReport } : { ok: false, reason: 'invalid' };
}

export interface MergedHotKey {
  readonly key: string;
  /** Accesses per minute, summed over the processes. */
  readonly rate: number;
  readonly redisRate: number;
  /** Processes that reported the key. */
  readonly processes: number;
  readonly overThreshold: boolean;
}

export interface MergedHotKeys {
  /** Hottest first, at most `top`. */
  readonly keys: readonly MergedHotKey[];
  /** Keys over the threshold among all merged keys, not only the top. */
  readonly keysOverThreshold: number;
  /** The lowest threshold any report states; undefined without reports. */
  readonly thresholdPerMinute: number | undefined;
  readonly reports: number;
  /** When the oldest report was written (ms since epoch). */
  readonly oldestReportMs: number | undefined;
}

/**
 * The fleet-wide view: one key's rates from all processes add up (each sees
 * its own share of the traffic), and the fleet threshold is the lowest any
 * process states. A key is over it when the sum is, even if no single
 * process saw it as hot.
 *
 * ```ts
 * const merged = mergeHotKeyReports(reports, { top: 10 });
 * for (const k of merged.keys) console.log(k.key, k.rate, k.processes);
 * ```
 */
export function mergeHotKeyReports(
  reports: readonly HotKeyReport[],
  options: { readonly top: number },
): MergedHotKeys {
  const top = Math.max(0, Math.min(HOTKEY_TOP_CAP, Math.floor(options.top)));
  let threshold: number | undefined;
  let oldest: number | undefined;
  const byKey = new Map<string, { rate: number; redisRate: number; processes: number }>();
  for (const report of reports) {
    threshold = Math.min(threshold ?? Number.POSITIVE_INFINITY, report.thresholdPerMinute);
    oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, report.at);
    // One process may list a key once; a duplicate in a broken report is not counted twice.
    const seen = new Set<string>();
    for (const entry of report.keys) {
      if (seen.has(entry.key)) continue;
      seen.add(entry.key);
      const merged = byKey.get(entry.key) ?? { rate: 0, redisRate: 0, processes: 0 };
      merged.rate += entry.rate;
      merged.redisRate += entry.redisRate;
      merged.processes += 1;
      byKey.set(entry.key, merged);
    }
  }
  const all = [...byKey].map(([key, m]) => ({
    key,
    rate: m.rate,
    redisRate: m.redisRate,
    processes: m.processes,
    overThreshold: threshold !== undefined && m.rate >= threshold,
  }));
  all.sort((a, b) => b.rate - a.rate || (a.key < b.key ? -1 : 1));
  return {
    keys: all.slice(0, top),
    keysOverThreshold: all.filter((k) => k.overThreshold).length,
    thresholdPerMinute: threshold,
    reports: reports.length,
    oldestReportMs: oldest,
  };
}
