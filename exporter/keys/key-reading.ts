import { isUtf8 } from 'node:buffer';
import { parseGoFloat } from '../collectors/go-float.js';
import type { KeyCommand } from '../collectors/types.js';
import { settledValue, valueOrThrow } from '../indexed-records.js';
import { keyArg, keyId, keyText } from './key-collector-support.js';
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
 * Bytes of a string value read first (GETRANGE 0 63): what
 * redis_key_value_as_string may show, and enough to tell a HyperLogLog.
 */
export const VALUE_PREFIX_BYTES = 64;

/**
 * The longest string read whole to see whether it is a number: Go's
 * ParseFloat takes any number of digits (redis_exporter exports a 70-digit
 * string as 1.11e69), so a longer value whose first 64 bytes could belong to
 * a number is fetched again, whole, up to this length. Past it, no value.
 */
export const MAX_NUMBER_BYTES = 1024;

/** Every byte ParseFloat may accept: digits, signs, `.`, `_`, hex digits, exponents, inf, infinity, nan. */
const NUMBER_BYTES = /^[0-9a-fA-FiInNpPtTxXyY+\-._]*$/;

/** Redis' HyperLogLog header: "HYLL", encoding (0 dense, 1 sparse), 3 unused bytes, 8 cached-cardinality bytes. */
const HLL_HEADER_BYTES = 16;
/** A dense HyperLogLog is always this long (header + 16384 6-bit registers). */
const HLL_DENSE_BYTES = HLL_HEADER_BYTES + 12_288;
const HLL_REGISTERS = 16_384;

/**
 * Whether a sparse HyperLogLog's registers (the bytes after the header) add
 * up to 16384, as Redis' hllSparseSum checks before it counts: PFCOUNT
 * answers -INVALIDOBJ for one that does not.
 */
function sparseRegistersValid(body: Uint8Array): boolean {
  let registers = 0;
  for (let i = 0; i < body.length; ) {
    const byte = body[i] as number;
    if ((byte & 0xc0) === 0) {
      // ZERO: 00xxxxxx, 1-64 registers.
      registers += (byte & 0x3f) + 1;
      i++;
    } else if ((byte & 0xc0) === 0x40) {
      // XZERO: 01xxxxxx yyyyyyyy, 1-16384 registers (Redis reads the byte after, 0 at the end).
      registers += (((byte & 0x3f) << 8) | (body[i + 1] ?? 0)) + 1;
      i += 2;
    } else {
      // VAL: 1vvvvvxx, 1-4 registers; Redis stops at one that would overflow.
      const run = (byte & 0x3) + 1;
      if (registers + run > HLL_REGISTERS) return false;
      registers += run;
      i++;
    }
  }
  return registers === HLL_REGISTERS;
}

/**
 * Whether PFCOUNT takes this string as a HyperLogLog and answers a count,
 * judged from its length and first bytes as Redis' isHLLObjectOrReply does
 * (so PFCOUNT is never sent to a plain string, a WRONGTYPE), and for a sparse
 * one that fits in `prefix` and has no valid cached count, from its registers
 * too (a corrupt one would be an -INVALIDOBJ). A longer corrupt one cannot be
 * told here: PFCOUNT's INVALIDOBJ then reads it as a plain string.
 */
export function isHyperLogLog(prefix: Uint8Array, length: number): boolean {
  if (length < HLL_HEADER_BYTES || prefix.length < HLL_HEADER_BYTES) return false;
  if (Buffer.from(prefix.subarray(0, 4)).toString('latin1') !== 'HYLL') return false;
  const encoding = prefix[4];
  if (encoding === 0) return length === HLL_DENSE_BYTES;
  if (encoding !== 1) return false;
  // The top bit of the last cardinality byte: the cached count is stale and PFCOUNT reads the registers.
  const stale = ((prefix[15] as number) & 0x80) !== 0;
  if (stale && length <= prefix.length) {
    return sparseRegistersValid(prefix.subarray(HLL_HEADER_BYTES, length));
  }
  return true;
}

/**
 * What a string's value exports: a number (redis_key_value), or a short UTF-8
 * text (redis_key_value_as_string). `bytes` is the value's start (or all of
 * it), `length` its STRLEN: a number is read from the whole value, text only
 * from a value of at most VALUE_PREFIX_BYTES.
 */
export function stringValueOf(
  bytes: Uint8Array,
  length: number,
): { value?: number; text?: string } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < length) return {};
  const value = parseGoFloat(buffer.toString('latin1'));
  if (value !== undefined) return { value };
  if (length > VALUE_PREFIX_BYTES || !isUtf8(buffer)) return {};
  return { text: buffer.toString('utf8') };
}

/** Whether a string longer than its prefix may be a number, worth reading whole. */
function mayBeLongNumber(prefix: Buffer, length: number): boolean {
  return (
    length > prefix.length &&
    length <= MAX_NUMBER_BYTES &&
    NUMBER_BYTES.test(prefix.toString('latin1'))
  );
}

/** One key as read: its type ('none' when it does not exist) and what its series need. */
export interface KeyReading {
  /** The name as label text (keyText). */
  readonly key: string;
  /** The name's bytes, one character each (keyId). */
  readonly id: string;
  readonly type: string;
  /** Length or cardinality by type (undefined for a type without a size command). */
  readonly size?: number;
  /** MEMORY USAGE in bytes. */
  readonly memory?: number;
  readonly hyperLogLog?: boolean;
  /** A string that Go's ParseFloat reads as a number. */
  readonly value?: number;
  /** A string of at most VALUE_PREFIX_BYTES bytes of UTF-8 that is not a number. */
  readonly text?: string;
}

/** A key another client replaced between two of our round trips. */
const RACED = /^WRONGTYPE/;
/** PFCOUNT of a string that starts like a HyperLogLog but is not a valid one. */
const NOT_AN_HLL = /^INVALIDOBJ/;

/** One key's name in its three forms. */
interface Name {
  /** As sent: text when UTF-8. */
  readonly arg: string | Buffer;
  /** As labelled (keyText). */
  readonly key: string;
  /** Its bytes one character each (keyId). */
  readonly id: string;
}

function nameOf(key: string | Buffer): Name {
  if (typeof key === 'string') {
    // A configured key: text already; its bytes are its UTF-8 encoding.
    return { arg: key, key, id: keyId(key) };
  }
  const arg = keyArg(key);
  const text = typeof arg === 'string' ? arg : keyText(key);
  const id = key.toString('latin1');
  // An ASCII name is one string in all three forms.
  return text === id ? { arg: id, key: id, id } : { arg, key: text, id };
}

/** Where the replies of one key sit in the read round trip. */
interface Plan {
  readonly name: Name;
  readonly type: string;
  readonly size?: number;
  readonly memory: number;
  readonly prefix?: number;
}

/** A string of the third round trip: a HyperLogLog to count, or a value to read whole. */
interface Followup {
  readonly reading: Omit<KeyReading, 'size' | 'value' | 'text'> & { readonly size: number };
  readonly prefix: Buffer;
  readonly hyperLogLog: boolean;
  readonly at: number;
}

/**
 * Reads `keys` of one database in at most three round trips, whatever their
 * number: TYPE of each; then, by type, its size command, MEMORY USAGE and for
 * strings the first 64 bytes; then PFCOUNT of the HyperLogLogs and the whole
 * value of long strings that may be numbers. Names are sent as bytes, so a
 * key that is not UTF-8 is read too. No command goes to a key of another
 * type, so the reads add no error reply to INFO errorstats, unless a client
 * changes a key's type between TYPE and the read: such a key is left out
 * (its WRONGTYPE is counted by Redis). A missing key reads as type 'none'.
 * Throws a refused command (NOPERM) or any other error reply.
 */
export async function readKeys(
  run: DbRoundTrip,
  keys: readonly (string | Buffer)[],
): Promise<KeyReading[]> {
  if (keys.length === 0) return [];
  const names = keys.map(nameOf);
  const typeReplies = await run(names.map(({ arg }) => ['TYPE', arg]));
  const commands: KeyCommand[] = [];
  const plans: Plan[] = [];
  const readings: KeyReading[] = [];
  names.forEach((name, i) => {
    const type = String(valueOrThrow(typeReplies[i]));
    if (type === 'none') {
      readings.push({ key: name.key, id: name.id, type });
      return;
    }
    const { arg } = name;
    const sizeCommand = SIZE_COMMANDS[type];
    let size: number | undefined;
    let prefix: number | undefined;
    if (sizeCommand !== undefined) size = commands.push([sizeCommand, arg]) - 1;
    if (type === 'string') {
      prefix = commands.push(['GETRANGE', arg, '0', String(VALUE_PREFIX_BYTES - 1)]) - 1;
    }
    const memory = commands.push(['MEMORY', 'USAGE', arg]) - 1;
    plans.push({
      name,
      type,
      memory,
      ...(size !== undefined ? { size } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
    });
  });
  const replies = commands.length > 0 ? await run(commands, { buffers: true }) : [];
  const more: KeyCommand[] = [];
  const followups: Followup[] = [];
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
    const base = { key: plan.name.key, id: plan.name.id, type: plan.type, memory: Number(memory) };
    if (plan.type !== 'string') {
      readings.push(size === undefined ? base : { ...base, size: Number(size) });
      continue;
    }
    const bytes = Buffer.isBuffer(prefix) ? prefix : Buffer.from(String(prefix ?? ''), 'utf8');
    const length = Number(size);
    if (isHyperLogLog(bytes, length)) {
      const at = more.push(['PFCOUNT', plan.name.arg]) - 1;
      followups.push({ reading: { ...base, size: length }, prefix: bytes, hyperLogLog: true, at });
    } else if (mayBeLongNumber(bytes, length)) {
      const at = more.push(['GETRANGE', plan.name.arg, '0', String(MAX_NUMBER_BYTES - 1)]) - 1;
      followups.push({ reading: { ...base, size: length }, prefix: bytes, hyperLogLog: false, at });
    } else {
      readings.push({ ...base, size: length, ...stringValueOf(bytes, length) });
    }
  }
  if (more.length > 0) {
    const answers = await run(more, { buffers: true });
    for (const { reading, prefix, hyperLogLog, at } of followups) {
      const answer = settledValue(answers[at]);
      if (answer instanceof Error) {
        if (RACED.test(answer.message)) continue;
        // A string that starts like a sparse HyperLogLog but is corrupt: a plain string.
        if (hyperLogLog && NOT_AN_HLL.test(answer.message)) {
          readings.push({ ...reading, ...stringValueOf(prefix, reading.size) });
          continue;
        }
        throw answer;
      }
      if (hyperLogLog) {
        readings.push({ ...reading, hyperLogLog: true, size: Number(answer) });
      } else {
        // The whole value now (or what is left of a value that changed meanwhile).
        const whole = Buffer.isBuffer(answer) ? answer : Buffer.from(String(answer ?? ''), 'utf8');
        readings.push({ ...reading, ...stringValueOf(whole, whole.length) });
      }
    }
  }
  // In the order asked, whatever round trip answered.
  const order = new Map(names.map(({ id }, i) => [id, i]));
  return readings.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}
