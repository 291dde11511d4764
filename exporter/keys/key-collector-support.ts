import { isUtf8 } from 'node:buffer';
import type { KeyRedactor } from '../../client/common/key-redaction.js';
import type { CollectContext } from '../collectors/types.js';
import { family, type MetricSink } from '../exposition.js';
import { parseKeyValueList } from '../info-parser.js';
import type { KeyChecksConfig, KeySpec } from '../opt-in-config.js';
import type { DroppedSeries } from '../series-cap.js';
import { type KeyScanner, type ScanJob, writeScanStatus } from './key-scan.js';

/**
 * What the key collectors (key_checks, count_keys, key_groups, streams) share:
 * the read-from-replica switch, the key-name labels, the wrong-type gauge.
 */

export const keyChecksSkipped = family({
  name: 'redscope_key_checks_skipped',
  type: 'gauge',
  help: 'Whether a key collector left this target alone: with --check-keys-read-from replica, 1 (reason="master") on a master, whose replicas it reads instead, and 0 on a replica; absent with read_from any',
  labels: ['collector', 'reason'],
  source: 'INFO replication role',
});

export const keyCheckWrongType = family({
  name: 'redscope_key_check_wrong_type',
  type: 'gauge',
  help: 'A configured key that holds another type than the collector reads (e.g. a --check-single-streams key that is a list): 1, with the type it holds; the collector skips it and sends it no command of the wrong type',
  labels: ['collector', 'db', 'key', 'type'],
  source: 'TYPE',
});

/**
 * Whether `collector` must leave this target alone: `read_from: replica` and
 * the target is a master. Writes `redscope_key_checks_skipped` whenever
 * read_from is replica, so a missing series has a visible reason.
 */
export function skippedOnMaster(
  context: CollectContext,
  readFrom: KeyChecksConfig['readFrom'],
  collector: string,
  sink: MetricSink,
): boolean {
  if (readFrom !== 'replica') return false;
  const role = context.info().sections.get('replication')?.get('role');
  const skip = role === 'master';
  sink.add(keyChecksSkipped, skip ? 1 : 0, collector, 'master');
  return skip;
}

/**
 * A key pattern without glob characters names one key: redis_exporter 1.45
 * reads such an entry of `-check-keys` or `-check-streams` directly instead
 * of SCANning for it (same character set as its `globPattern`).
 */
export function isLiteralPattern(pattern: string): boolean {
  return !/[?*[\]^]/.test(pattern);
}

/** Specs grouped by database, in first-seen order, each key once. */
export function byDatabase(specs: readonly KeySpec[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const { db, key } of specs) {
    let keys = out.get(db);
    if (keys === undefined) {
      keys = [];
      out.set(db, keys);
    }
    if (!keys.includes(key)) keys.push(key);
  }
  return out;
}

/** Specs each once (the same db and pattern listed twice is one job). */
export function uniqueSpecs(specs: readonly KeySpec[]): KeySpec[] {
  const seen = new Set<string>();
  return specs.filter((spec) => {
    const id = `${spec.db}\n${spec.key}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * How a key found by a pattern is labelled: as it is with raw key names,
 * else redacted (it comes from data: a session id would be a bearer secret in
 * a Grafana label). Keys the operator named in the configuration stay as they are.
 */
export function patternKeyLabel(
  rawKeyNames: boolean,
  redactor: KeyRedactor,
): (key: string) => string {
  return rawKeyNames ? (key) => key : (key) => redactor.redact(key);
}

/**
 * The series identities a collector has written at one scrape, so a key that
 * a single-key entry and a pattern (or two patterns) both name is written
 * once: by raw name and by label (two raw names could redact alike).
 */
export class WrittenKeys {
  private readonly raw = new Set<string>();
  private readonly labels = new Set<string>();

  /** Whether (db, raw key, label) is new; records it when it is. */
  claim(db: number, raw: string, label: string): boolean {
    const rawId = `${db}\n${raw}`;
    const labelId = `${db}\n${label}`;
    if (this.raw.has(rawId) || this.labels.has(labelId)) return false;
    this.raw.add(rawId);
    this.labels.add(labelId);
    return true;
  }
}

/** Logical databases that hold keys, from INFO keyspace (`db3:keys=12,...`), ascending. */
export function databasesWithKeys(context: CollectContext): number[] {
  const keyspace = context.info().sections.get('keyspace');
  const out: number[] = [];
  for (const [name, value] of keyspace ?? []) {
    const db = /^db(\d+)$/.exec(name)?.[1];
    if (db !== undefined && Number(parseKeyValueList(value).get('keys')) > 0) out.push(Number(db));
  }
  return out.sort((a, b) => a - b);
}

/**
 * A key's identity: its bytes, one character each (latin1), so keys that are
 * not UTF-8 stay apart and a configured key compares equal to the same key
 * found by SCAN. Compact: an ASCII name costs what its text costs.
 */
export function keyId(key: Buffer | string): string {
  return typeof key === 'string'
    ? Buffer.from(key, 'utf8').toString('latin1')
    : key.toString('latin1');
}

/**
 * A key name as a command argument: its text when it is UTF-8 (ioredis writes
 * text faster than bytes), else the bytes as they are.
 */
export function keyArg(key: Buffer): string | Buffer {
  return isUtf8(key) ? key.toString('utf8') : key;
}

/**
 * A key name as label text: the name when it is UTF-8; else its bytes, with
 * every byte outside printable ASCII written `\xNN` and a backslash `\\`
 * (exposition text is UTF-8: redis_exporter drops such a series instead).
 */
export function keyText(key: Buffer): string {
  if (isUtf8(key)) return key.toString('utf8');
  let out = '';
  for (const byte of key) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** A pass as the sampling collectors (key_checks, streams) keep it: what they write, what the cap left out. */
export interface SampledPass<S> {
  readonly samples: readonly S[];
  readonly dropped: number;
}

/**
 * Advances the pattern scans of `collector`, writes each one's scan status,
 * hands every sample of the served passes to `write`, and counts a pass's
 * drops once, at the scrape where it ended. Without a scanner (single keys
 * only) it records no drops, so the counter still exists.
 */
export async function serveSampledScans<S>(
  context: CollectContext,
  collector: string,
  scan: {
    readonly scanner: KeyScanner | undefined;
    readonly jobs: readonly ScanJob<unknown, SampledPass<S>>[];
    readonly maxSeries: number;
    readonly droppedSeries: DroppedSeries;
  },
  sink: MetricSink,
  write: (db: number, sample: S) => void,
): Promise<void> {
  if (scan.scanner === undefined || scan.jobs.length === 0) {
    scan.droppedSeries.record(sink, context.scope, collector, 0);
    return;
  }
  const statuses = await scan.scanner.advance(context, collector, scan.jobs, scan.maxSeries);
  let dropped = 0;
  for (const job of scan.jobs) {
    const status = statuses.get(job.id);
    if (status === undefined) continue;
    writeScanStatus(sink, collector, job.db, job.match as string, status);
    if (status.result === undefined) continue;
    if (status.endedNow) dropped += status.result.dropped;
    for (const sample of status.result.samples) write(job.db, sample);
  }
  scan.droppedSeries.record(sink, context.scope, collector, dropped);
}
