import { parseGoFloat } from '../collectors/go-float.js';
import type { RedisCommand } from '../collectors/types.js';
import { settledValue } from '../indexed-records.js';
import type { DbRoundTrip } from './key-scan.js';

/**
 * The command that gives a key's size (redis_key_size) by its TYPE, as
 * redis_exporter 1.45 chooses it; a HyperLogLog (TYPE string) is counted with
 * PFCOUNT instead. A type not listed here (a module's) gets no size.
 */
export const SIZE_COMMANDS: Readonly<Record<string, string>> = {
  string: 'STRLEN',
  list: 'LLEN',
  set: 'SCARD',
  zset: 'ZCARD',
  hash: 'HLEN',
  stream: 'XLEN',
};

/**
 * Bytes of a string value read (GETRANGE 0 63): every number Go's ParseFloat
 * reads fits, and a longer value is neither a number nor exported as a label.
 */
export const VALUE_PREFIX_BYTES = 64;

/** Redis' HyperLogLog header: "HYLL", encoding (0 dense, 1 sparse), 3 unused bytes, 8 cached-cardinality bytes. */
const HLL_HEADER_BYTES = 16;
/** A dense HyperLogLog is always this long (header + 16384 6-bit registers). */
const HLL_DENSE_BYTES = HLL_HEADER_BYTES + 12_288;

/**
 * Whether a string is a HyperLogLog PFCOUNT accepts, judged from its length
 * and first bytes exactly as Redis' isHLLObjectOrReply does, so PFCOUNT is
 * never sent to a plain string (which would be an error reply).
 */
export function isHyperLogLog(prefix: string, length: number): boolean {
  if (length < HLL_HEADER_BYTES || !prefix.startsWith('HYLL')) return false;
  const encoding = prefix.charCodeAt(4);
  if (encoding === 1) return true;
  return encoding === 0 && length === HLL_DENSE_BYTES;
}

/** What a string's value exports: a number (redis_key_value), or a short UTF-8 text (redis_key_value_as_string). */
export function stringValueOf(prefix: string, length: number): { value?: number; text?: string } {
  if (length > VALUE_PREFIX_BYTES) return {};
  const value = parseGoFloat(prefix);
  if (value !== undefined) return { value };
  // Bytes that are not UTF-8 arrive as U+FFFD: not a label value anyone can read back.
  if (prefix.includes('\uFFFD')) return {};
  return { text: prefix };
}

/** One key as read: its type ('none' when it does not exist) and what its series need. */
export interface KeyReading {
  readonly key: string;
  readonly type: string;
  /** Length or cardinality by type (undefined for a type without a size command). */
  readonly size?: number;
  /** MEMORY USAGE in bytes. */
  readonly memory?: number;
  readonly hyperLogLog?: boolean;
  /** A string that Go's ParseFloat reads as a number. */
  readonly value?: number;
  /** A string of at most VALUE_PREFIX_BYTES bytes that is not a number. */
  readonly text?: string;
}

/** A key another client replaced or removed between two of our round trips. */
const RACED = /^WRONGTYPE/;

function valueOrThrow(result: PromiseSettledResult<unknown> | undefined): unknown {
  const value = settledValue(result);
  if (value instanceof Error) throw value;
  return value;
}

/** Where the replies of one key sit in the read round trip. */
interface Plan {
  readonly key: string;
  readonly type: string;
  readonly size?: number;
  readonly memory: number;
  readonly prefix?: number;
}

/**
 * Reads `keys` of one database in at most three round trips, whatever their
 * number: TYPE of each; then, by type, its size command, MEMORY USAGE and for
 * strings STRLEN and the first 64 bytes; then PFCOUNT of the HyperLogLogs.
 * No command goes to a key of another type, so the reads add no error reply
 * to INFO errorstats (unless a client changes a key between two round trips;
 * such a key is left out). A missing key reads as type 'none'. Throws a
 * refused command (NOPERM) or any other error reply.
 */
export async function readKeys(run: DbRoundTrip, keys: readonly string[]): Promise<KeyReading[]> {
  if (keys.length === 0) return [];
  const typeReplies = await run(keys.map((key) => ['TYPE', key]));
  const commands: RedisCommand[] = [];
  const plans: Plan[] = [];
  const missing: KeyReading[] = [];
  keys.forEach((key, i) => {
    const type = String(valueOrThrow(typeReplies[i]));
    if (type === 'none') {
      missing.push({ key, type });
      return;
    }
    const sizeCommand = SIZE_COMMANDS[type];
    let size: number | undefined;
    let prefix: number | undefined;
    if (sizeCommand !== undefined) size = commands.push([sizeCommand, key]) - 1;
    if (type === 'string') {
      prefix = commands.push(['GETRANGE', key, '0', String(VALUE_PREFIX_BYTES - 1)]) - 1;
    }
    const memory = commands.push(['MEMORY', 'USAGE', key]) - 1;
    plans.push({
      key,
      type,
      memory,
      ...(size !== undefined ? { size } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
    });
  });
  const replies = commands.length > 0 ? await run(commands) : [];
  const readings: KeyReading[] = [...missing];
  const hyperLogLogs: { key: string; memory: number }[] = [];
  for (const plan of plans) {
    const raw = [plan.size, plan.memory, plan.prefix].map((at) =>
      at === undefined ? undefined : settledValue(replies[at]),
    );
    const raced = raw.some((value) => value instanceof Error && RACED.test(value.message));
    if (raced) continue;
    for (const value of raw) if (value instanceof Error) throw value;
    const [size, memory, prefix] = raw;
    // MEMORY USAGE answers nil for a key that is gone since TYPE named it.
    if (memory === null || memory === undefined) continue;
    const base = { key: plan.key, type: plan.type, memory: Number(memory) };
    if (plan.type === 'string') {
      const text = String(prefix ?? '');
      const length = Number(size);
      if (isHyperLogLog(text, length)) {
        hyperLogLogs.push({ key: plan.key, memory: base.memory });
        continue;
      }
      readings.push({ ...base, size: length, ...stringValueOf(text, length) });
    } else {
      readings.push(size === undefined ? base : { ...base, size: Number(size) });
    }
  }
  if (hyperLogLogs.length > 0) {
    const counts = await run(hyperLogLogs.map(({ key }) => ['PFCOUNT', key]));
    hyperLogLogs.forEach(({ key, memory }, i) => {
      const count = settledValue(counts[i]);
      if (count instanceof Error) {
        if (RACED.test(count.message)) return;
        throw count;
      }
      readings.push({ key, type: 'string', hyperLogLog: true, memory, size: Number(count) });
    });
  }
  // In the order asked, whatever round trip answered.
  const order = new Map(keys.map((key, i) => [key, i]));
  return readings.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
}
