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

/**
 * Reading the clients' hot-key reports back from Redis: one copy for the
 * exporter's `hotkeys` collector and for `redscope hotkeys`. Read-only, and
 * bounded whatever is stored under the prefix: at most MAX_HOTKEY_REPORTS
 * index entries, REPORT_BATCH_SIZE reports per round trip, and a value is
 * fetched only once STRLEN has shown it fits MAX_HOTKEY_REPORT_READ_BYTES (a
 * stray 100 MB value under the prefix costs a STRLEN, not 100 MB per scrape).
 */

/** The live reports' instances, latest expiry first: static, so it rides in the scrape's first pipeline. */
export const HOTKEY_INDEX_READ: RedisCommand = [
  'ZREVRANGE',
  HOTKEY_REPORT_INDEX,
  '0',
  String(MAX_HOTKEY_REPORTS - 1),
];

/** Reports per STRLEN + MGET pair: at most 100 × 64 KiB (6.4 MiB) in one reply. */
export const REPORT_BATCH_SIZE = 100;

/** An instance id longer than this is not one a client wrote (`<service>@<host>:<pid>`). */
const MAX_INSTANCE_BYTES = 512;

/** Why a report was skipped; every reason is exported, 0 when none. */
export const HOTKEY_REPORT_SKIPS: readonly HotKeyReportSkip[] = [
  'too-large',
  'not-json',
  'invalid',
  'version',
];

/** Runs commands in one pipeline, one settled result each: the shape of `CollectContext.roundTrip`. */
export type RoundTrip = (
  commands: readonly RedisCommand[],
) => Promise<PromiseSettledResult<unknown>[]>;

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
  if (!Array.isArray(indexReply)) {
    throw new Error(`${HOTKEY_INDEX_READ.join(' ')} did not answer with a list`);
  }
  const invalid: Record<HotKeyReportSkip, number> = {
    'too-large': 0,
    'not-json': 0,
    invalid: 0,
    version: 0,
  };
  let expired = 0;
  const reports: HotKeyReport[] = [];
  const instances: string[] = [];
  for (const member of indexReply.slice(0, MAX_HOTKEY_REPORTS)) {
    if (typeof member === 'string' && Buffer.byteLength(member) <= MAX_INSTANCE_BYTES) {
      instances.push(member);
    } else {
      invalid.invalid++;
    }
  }

  for (let start = 0; start < instances.length; start += REPORT_BATCH_SIZE) {
    const batch = instances.slice(start, start + REPORT_BATCH_SIZE);
    const lengths = await roundTrip(batch.map((instance) => ['STRLEN', hotKeyReportKey(instance)]));
    const readable: string[] = [];
    batch.forEach((instance, i) => {
      const length = settledValue(lengths[i]);
      // A key of another type under the prefix (WRONGTYPE) is not a report.
      if (length instanceof Error) invalid.invalid++;
      else if (Number(length) === 0) expired++;
      else if (Number(length) > MAX_HOTKEY_REPORT_READ_BYTES) invalid['too-large']++;
      else readable.push(instance);
    });
    if (readable.length === 0) continue;
    const [values] = await roundTrip([['MGET', ...readable.map(hotKeyReportKey)]]);
    const raw = settledValue(values);
    if (raw instanceof Error) throw raw;
    if (!Array.isArray(raw) || raw.length !== readable.length) {
      throw new Error('MGET of the hot-key reports did not answer one value per key');
    }
    readable.forEach((instance, i) => {
      const value: unknown = raw[i];
      // Expired between STRLEN and MGET.
      if (value === null || value === undefined) {
        expired++;
        return;
      }
      const parsed = parseHotKeyReport(typeof value === 'string' ? value : String(value));
      if (!parsed.ok) invalid[parsed.reason]++;
      else if (!isOwnReport(parsed.report, instance)) invalid.invalid++;
      else reports.push(parsed.report);
    });
  }
  return { merged: mergeHotKeyReports(reports, options), invalid, expired };
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

/** A settled result's value, or its reason as an Error. */
export function settledValue(result: PromiseSettledResult<unknown> | undefined): unknown {
  if (result === undefined) return new Error('no reply');
  if (result.status === 'fulfilled') return result.value;
  return result.reason instanceof Error ? result.reason : new Error(String(result.reason));
}
