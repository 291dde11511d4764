import {
  HOTKEY_REPORT_INDEX,
  type HotKeyReport,
  type HotKeyReportSkip,
  hotKeyReportKey,
  MAX_HOTKEY_REPORT_READ_BYTES,
  MAX_HOTKEY_REPORTS,
  type MergedHotKeys,
  mergeHotKeyReports,
  parseHotKeyReport,
} from '../client/common/hotkey-report.js';
import { looksLikeToken } from '../client/common/key-redaction.js';
import type { RedisCommand } from './collectors/types.js';
import { type RoundTrip, readIndexedRecords } from './indexed-records.js';

/**
 * Reading the clients' hot-key reports back from Redis: one copy for the
 * exporter's `hotkeys` collector and for `redscope hotkeys`, bounded by
 * readIndexedRecords (at most MAX_HOTKEY_REPORTS reports, each fetched only
 * once STRLEN has shown it fits MAX_HOTKEY_REPORT_READ_BYTES).
 */

/** The live reports' instances, latest expiry first: static, so it rides in the scrape's first pipeline. */
export const HOTKEY_INDEX_READ: RedisCommand = [
  'ZREVRANGE',
  HOTKEY_REPORT_INDEX,
  '0',
  String(MAX_HOTKEY_REPORTS - 1),
];

/** Why a report was skipped; every reason is exported, 0 when none. */
export const HOTKEY_REPORT_SKIPS: readonly HotKeyReportSkip[] = [
  'too-large',
  'not-json',
  'invalid',
  'version',
];

export interface FleetHotKeys {
  readonly merged: MergedHotKeys;
  /** Reports skipped this read, by reason. */
  readonly invalid: Readonly<Record<HotKeyReportSkip, number>>;
  /** Index entries whose report had expired (a stopped process): not an error. */
  readonly expired: number;
}

/**
 * The fleet-wide top list: reads every report the index names (`indexReply`
 * is the reply to HOTKEY_INDEX_READ), skips and counts what does not parse,
 * and merges the rest. Rejects only when Redis refuses a read (NOPERM, a
 * lost connection), never because of what a report holds.
 *
 * ```ts
 * const [index] = await roundTrip([HOTKEY_INDEX_READ]);
 * const fleet = await readFleetHotKeys(settledValue(index), roundTrip, { top: 10 });
 * ```
 */
export async function readFleetHotKeys(
  indexReply: unknown,
  roundTrip: RoundTrip,
  options: { readonly top: number },
): Promise<FleetHotKeys> {
  const read = await readIndexedRecords(indexReply, roundTrip, {
    what: 'the hot-key reports',
    keyOf: hotKeyReportKey,
    maxRecords: MAX_HOTKEY_REPORTS,
    maxBytes: MAX_HOTKEY_REPORT_READ_BYTES,
  });
  const invalid: Record<HotKeyReportSkip, number> = {
    'too-large': read.tooLarge,
    'not-json': 0,
    invalid: read.invalid,
    version: 0,
  };
  const reports: HotKeyReport[] = [];
  for (const { member, raw } of read.values) {
    const parsed = parseHotKeyReport(raw);
    if (!parsed.ok) invalid[parsed.reason]++;
    else if (!isOwnReport(parsed.report, member)) invalid.invalid++;
    else reports.push(parsed.report);
  }
  return { merged: mergeHotKeyReports(reports, options), invalid, expired: read.expired };
}

/**
 * A report belongs under its key only when it names the same instance (else
 * one process could be counted twice), and only when its key names were
 * redacted: the client hashes every token-like segment, so an unhashed one
 * means a writer that skipped redaction, and its keys must not become labels.
 */
function isOwnReport(report: HotKeyReport, instance: string): boolean {
  if (report.instance !== instance) return false;
  return report.keys.every(({ key }) => !key.split(':').some(looksLikeToken));
}
