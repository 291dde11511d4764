import type { RedisCommand } from './collectors/types.js';

/**
 * Reading back the small records that app processes keep in Redis under a
 * reserved prefix, each indexed in a sorted set so that no reader ever SCANs
 * the keyspace: the hot-key reports (hotkey-reports.ts) and the warming status
 * records (warming-status-records.ts). Read-only, and bounded whatever is
 * stored under the prefix: at most `maxRecords` index entries,
 * RECORD_BATCH_SIZE records per round trip, and a value is fetched only once
 * STRLEN has shown it fits `maxBytes` (a stray 100 MB value under the prefix
 * costs a STRLEN, not 100 MB per scrape).
 */

/** Records per STRLEN + MGET pair: at most 100 × 64 KiB (6.4 MiB) in one reply. */
export const RECORD_BATCH_SIZE = 100;

/** An index member longer than this is not one a client wrote (`<service>@<host>:<pid>[:<namespace>]`). */
const MAX_MEMBER_BYTES = 512;

/** Runs commands in one pipeline, one settled result each: the shape of `CollectContext.roundTrip`. */
export type RoundTrip = (
  commands: readonly RedisCommand[],
) => Promise<PromiseSettledResult<unknown>[]>;

export interface IndexedRecordsSpec {
  /** What the records are, for errors: `the hot-key reports`. */
  readonly what: string;
  /** The Redis key of the record an index member names. */
  readonly keyOf: (member: string) => string;
  /** Index entries read at most (the rest of the reply is ignored). */
  readonly maxRecords: number;
  /** A larger value is not one a client wrote, or is broken: counted, never fetched. */
  readonly maxBytes: number;
}

export interface IndexedRecords {
  /** The values that fit, with the index member they were stored under, in index order. */
  readonly values: readonly { readonly member: string; readonly raw: string }[];
  /** Values over `maxBytes`. */
  readonly tooLarge: number;
  /** Index members no client writes (not a string, too long) and keys of another type (WRONGTYPE). */
  readonly invalid: number;
  /** Index entries whose record had expired (a stopped process): not an error. */
  readonly expired: number;
}

/**
 * Every record the index names (`indexReply` is the reply to the index's
 * ZREVRANGE), as raw text for the caller to parse. Rejects only when Redis
 * refuses a read (NOPERM, a lost connection), never because of what a record
 * holds.
 *
 * ```ts
 * const [index] = await roundTrip([['ZREVRANGE', 'redscope:{hotkeys}-index', '0', '999']]);
 * const read = await readIndexedRecords(settledValue(index), roundTrip, {
 *   what: 'the hot-key reports', keyOf: hotKeyReportKey, maxRecords: 1000, maxBytes: 65536,
 * });
 * ```
 */
export async function readIndexedRecords(
  indexReply: unknown,
  roundTrip: RoundTrip,
  spec: IndexedRecordsSpec,
): Promise<IndexedRecords> {
  if (!Array.isArray(indexReply)) {
    throw new Error(`the index of ${spec.what} did not answer with a list`);
  }
  let invalid = 0;
  let tooLarge = 0;
  let expired = 0;
  const values: { member: string; raw: string }[] = [];
  const members: string[] = [];
  for (const member of indexReply.slice(0, spec.maxRecords)) {
    if (typeof member === 'string' && Buffer.byteLength(member) <= MAX_MEMBER_BYTES) {
      members.push(member);
    } else {
      invalid++;
    }
  }

  for (let start = 0; start < members.length; start += RECORD_BATCH_SIZE) {
    const batch = members.slice(start, start + RECORD_BATCH_SIZE);
    const lengths = await roundTrip(batch.map((member) => ['STRLEN', spec.keyOf(member)]));
    const readable: string[] = [];
    batch.forEach((member, i) => {
      const length = settledValue(lengths[i]);
      // A key of another type under the prefix (WRONGTYPE) is not a record.
      if (length instanceof Error) invalid++;
      else if (Number(length) === 0) expired++;
      else if (Number(length) > spec.maxBytes) tooLarge++;
      else readable.push(member);
    });
    if (readable.length === 0) continue;
    const [reply] = await roundTrip([['MGET', ...readable.map(spec.keyOf)]]);
    const raw = settledValue(reply);
    if (raw instanceof Error) throw raw;
    if (!Array.isArray(raw) || raw.length !== readable.length) {
      throw new Error(`MGET of ${spec.what} did not answer one value per key`);
    }
    readable.forEach((member, i) => {
      const value: unknown = raw[i];
      // Expired between STRLEN and MGET.
      if (value === null || value === undefined) expired++;
      else values.push({ member, raw: typeof value === 'string' ? value : String(value) });
    });
  }
  return { values, tooLarge, invalid, expired };
}

/** A settled result's value, or its reason as an Error. */
export function settledValue(result: PromiseSettledResult<unknown> | undefined): unknown {
  if (result === undefined) return new Error('no reply');
  if (result.status === 'fulfilled') return result.value;
  return result.reason instanceof Error ? result.reason : new Error(String(result.reason));
}

/** A settled result's value; throws its reason (a Redis error reply, a lost connection). */
export function valueOrThrow(result: PromiseSettledResult<unknown> | undefined): unknown {
  const value = settledValue(result);
  if (value instanceof Error) throw value;
  return value;
}

/**
 * A RESP2 flat `[field, value, field, value...]` reply as a map (XINFO,
 * LATENCY HISTOGRAM, SENTINEL MASTERS, CONFIG GET; RESP3 maps arrive as such
 * arrays too with protocol 2). Anything but an array is an empty map; a
 * trailing field without a value is left out.
 */
export function fieldsOf(reply: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1]);
  return out;
}
