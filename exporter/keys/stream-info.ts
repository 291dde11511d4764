import type { KeyCommand } from '../collectors/types.js';
import { fieldsOf, settledValue } from '../indexed-records.js';
import { keyArg, keyId, keyText } from './key-collector-support.js';
import type { DbRoundTrip } from './key-scan.js';

/** XINFO STREAM, as far as the stream families read it. */
export interface StreamInfo {
  readonly length: number;
  readonly radixTreeKeys: number;
  readonly radixTreeNodes: number;
  readonly lastGeneratedId: string;
  readonly groups: number;
  /** Redis 7+. */
  readonly maxDeletedEntryId?: string;
  /** Redis 7+: entries ever added, deleted ones included. */
  readonly entriesAdded?: number;
  /** Undefined for an empty stream. */
  readonly firstEntryId?: string;
  readonly lastEntryId?: string;
}

/** One entry of XINFO GROUPS. */
export interface StreamGroup {
  readonly name: string;
  readonly consumers: number;
  readonly pending: number;
  readonly lastDeliveredId: string;
  /** Redis 7+; undefined when Redis answers nil. */
  readonly entriesRead?: number;
  /** Redis 7+: entries not yet delivered to the group; undefined when Redis cannot tell (nil). */
  readonly lag?: number;
}

/** One entry of XINFO CONSUMERS. */
export interface StreamConsumer {
  readonly name: string;
  readonly pending: number;
  readonly idleMs: number;
}

const num = (value: unknown): number => {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};
const optionalNum = (value: unknown): number | undefined =>
  value === null || value === undefined ? undefined : num(value);
const optionalString = (value: unknown): string | undefined =>
  value === null || value === undefined ? undefined : String(value);
/** The id of a `[id, [field, value...]]` entry, undefined for nil. */
const entryId = (value: unknown): string | undefined =>
  Array.isArray(value) && value.length > 0 ? String(value[0]) : undefined;

export function parseStreamInfo(reply: unknown): StreamInfo {
  if (!Array.isArray(reply)) throw new Error('XINFO STREAM did not answer a list');
  const f = fieldsOf(reply);
  const maxDeletedEntryId = optionalString(f.get('max-deleted-entry-id'));
  const entriesAdded = optionalNum(f.get('entries-added'));
  const firstEntryId = entryId(f.get('first-entry'));
  const lastEntryId = entryId(f.get('last-entry'));
  return {
    length: num(f.get('length')),
    radixTreeKeys: num(f.get('radix-tree-keys')),
    radixTreeNodes: num(f.get('radix-tree-nodes')),
    lastGeneratedId: String(f.get('last-generated-id') ?? ''),
    groups: num(f.get('groups')),
    ...(maxDeletedEntryId !== undefined ? { maxDeletedEntryId } : {}),
    ...(entriesAdded !== undefined ? { entriesAdded } : {}),
    ...(firstEntryId !== undefined ? { firstEntryId } : {}),
    ...(lastEntryId !== undefined ? { lastEntryId } : {}),
  };
}

export function parseStreamGroups(reply: unknown): StreamGroup[] {
  if (!Array.isArray(reply)) throw new Error('XINFO GROUPS did not answer a list');
  return reply.map((entry) => {
    const f = fieldsOf(entry);
    const entriesRead = optionalNum(f.get('entries-read'));
    const lag = optionalNum(f.get('lag'));
    return {
      name: String(f.get('name') ?? ''),
      consumers: num(f.get('consumers')),
      pending: num(f.get('pending')),
      lastDeliveredId: String(f.get('last-delivered-id') ?? ''),
      ...(entriesRead !== undefined ? { entriesRead } : {}),
      ...(lag !== undefined ? { lag } : {}),
    };
  });
}

export function parseStreamConsumers(reply: unknown): StreamConsumer[] {
  if (!Array.isArray(reply)) throw new Error('XINFO CONSUMERS did not answer a list');
  return reply.map((entry) => {
    const f = fieldsOf(entry);
    return {
      name: String(f.get('name') ?? ''),
      pending: num(f.get('pending')),
      idleMs: num(f.get('idle')),
    };
  });
}

/**
 * The millisecond part of a stream id (`1700000000000-3` → 1700000000000), as
 * redis_exporter exports ids; 0 when there is none (an empty stream's first entry).
 */
export function streamIdMilliseconds(id: string | undefined): number {
  if (id === undefined) return 0;
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? ms : 0;
}

/** A stream group with its consumers (empty when they were not asked for). */
export interface StreamGroupReading extends StreamGroup {
  readonly consumerList: readonly StreamConsumer[];
}

export interface StreamReading {
  /** The name as label text (keyText). */
  readonly key: string;
  /** The name's bytes, one character each (keyId). */
  readonly id: string;
  readonly info: StreamInfo;
  readonly groups: readonly StreamGroupReading[];
}

/**
 * A stream another client deleted (no such key, NOGROUP) or replaced by a key
 * of another type (WRONGTYPE) between TYPE or SCAN and XINFO.
 */
const GONE = /no such key|^WRONGTYPE|^NOGROUP/i;

/**
 * XINFO STREAM and XINFO GROUPS of each of `keys` (all streams when TYPE or
 * SCAN TYPE named them) in one round trip, then XINFO CONSUMERS of every
 * group in a second one when `consumers`. A stream deleted or turned into
 * another type in between is left out (Redis still counts that one
 * WRONGTYPE); any other error reply is thrown.
 */
export async function readStreams(
  run: DbRoundTrip,
  keys: readonly (string | Buffer)[],
  consumers: boolean,
): Promise<StreamReading[]> {
  if (keys.length === 0) return [];
  const names = keys.map((key) => (typeof key === 'string' ? Buffer.from(key, 'utf8') : key));
  const first = await run(
    names.flatMap((key): KeyCommand[] => {
      const arg = keyArg(key);
      return [
        ['XINFO', 'STREAM', arg],
        ['XINFO', 'GROUPS', arg],
      ];
    }),
  );
  const found: { key: Buffer; info: StreamInfo; groups: StreamGroup[] }[] = [];
  names.forEach((key, i) => {
    const stream = settledValue(first[2 * i]);
    const groups = settledValue(first[2 * i + 1]);
    if ([stream, groups].some((v) => v instanceof Error && GONE.test(v.message))) return;
    if (stream instanceof Error) throw stream;
    if (groups instanceof Error) throw groups;
    found.push({ key, info: parseStreamInfo(stream), groups: parseStreamGroups(groups) });
  });
  const asks = consumers
    ? found.flatMap(({ key, groups }) => groups.map((group) => ({ key, group: group.name })))
    : [];
  const answers =
    asks.length > 0
      ? await run(asks.map(({ key, group }) => ['XINFO', 'CONSUMERS', keyArg(key), group]))
      : [];
  const consumersOf = new Map<string, StreamConsumer[]>();
  const gone = new Set<Buffer>();
  asks.forEach(({ key, group }, i) => {
    const reply = settledValue(answers[i]);
    if (reply instanceof Error) {
      // The stream or group went away (or the key changed type) since the first round trip.
      if (GONE.test(reply.message)) {
        gone.add(key);
        return;
      }
      throw reply;
    }
    consumersOf.set(`${keyId(key)}\n${group}`, parseStreamConsumers(reply));
  });
  return found
    .filter(({ key }) => !gone.has(key))
    .map(({ key, info, groups }) => ({
      key: keyText(key),
      id: keyId(key),
      info,
      groups: groups.map((group) => ({
        ...group,
        consumerList: consumersOf.get(`${keyId(key)}\n${group.name}`) ?? [],
      })),
    }));
}
