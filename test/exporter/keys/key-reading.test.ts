import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { KeyCommand } from '../../../exporter/collectors/types.js';
import {
  isHyperLogLog,
  MAX_NUMBER_BYTES,
  readKeys,
  SIZE_COMMANDS,
  stringValueOf,
} from '../../../exporter/keys/key-reading.js';

/** A fake database: each key has a type, and every command is checked against it. */
interface FakeKey {
  type: string;
  size?: number;
  /** STRLEN when it differs from size (a HyperLogLog's PFCOUNT). */
  strlen?: number;
  memory?: number | null;
  /** A string's bytes (text is UTF-8). */
  value?: string | Buffer;
}

/** Commands that name a key and the only type each may meet. */
const TYPED: Record<string, string> = {
  STRLEN: 'string',
  GETRANGE: 'string',
  PFCOUNT: 'string',
  LLEN: 'list',
  SCARD: 'set',
  ZCARD: 'zset',
  HLEN: 'hash',
  XLEN: 'stream',
};

/** Words as the fake reads them: key names in latin1, so bytes that are not UTF-8 stay apart. */
const word = (w: string | Buffer | undefined) =>
  Buffer.isBuffer(w) ? w.toString('latin1') : String(w);

/** A command as text, Buffers in latin1. */
const text = (command: KeyCommand) => command.map(word).join(' ');

const bytes = (value: string | Buffer | undefined) =>
  Buffer.isBuffer(value) ? value : Buffer.from(value ?? '', 'utf8');

/**
 * A fake database: each key has a type, and every command is checked against
 * it; keys are named in latin1 (one character per byte). Bulk replies are
 * Buffers when the round trip asks for them, as ioredis' callBuffer gives.
 */
function fakeDb(keys: Record<string, FakeKey>, refuse?: string) {
  const sent: string[][] = [];
  const answer = (command: KeyCommand, buffers: boolean): unknown => {
    const [name, ...args] = command.map(word);
    if (name === refuse)
      throw new ReplyError(
        `NOPERM User has no permissions to run the '${name?.toLowerCase()}' command`,
      );
    if (name === 'TYPE') return keys[args[0] as string]?.type ?? 'none';
    const keyName = name === 'MEMORY' ? (args[1] as string) : (args[0] as string);
    const key = keys[keyName];
    if (name === 'MEMORY') return key?.memory ?? null;
    const wanted = TYPED[name as string];
    if (wanted !== undefined && key !== undefined && key.type !== wanted) {
      throw new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
    }
    if (name === 'GETRANGE') {
      const range = bytes(key?.value).subarray(Number(args[1]), Number(args[2]) + 1);
      return buffers ? range : range.toString('utf8');
    }
    if (name === 'PFCOUNT' && key?.size === undefined) {
      throw new ReplyError('INVALIDOBJ Corrupted HLL object detected');
    }
    if (name === 'STRLEN') return key?.strlen ?? key?.size ?? bytes(key?.value).length;
    return key?.size ?? 0;
  };
  const run = async (commands: readonly KeyCommand[], options?: { buffers?: boolean }) => {
    sent.push(commands.map(text));
    return commands.map((command): PromiseSettledResult<unknown> => {
      try {
        return { status: 'fulfilled', value: answer(command, options?.buffers === true) };
      } catch (reason) {
        return { status: 'rejected', reason };
      }
    });
  };
  return { run, sent };
}

/**
 * A HyperLogLog header with `encoding` and a valid cached count, followed by
 * zero bytes up to `length` (at most 64: what the exporter reads first).
 */
const hll = (encoding: number, length: number) => {
  const out = Buffer.alloc(Math.min(64, length));
  out.write('HYLL', 0, 'latin1');
  out[4] = encoding;
  return out;
};

/**
 * A sparse HyperLogLog whose cached count is stale (the top bit of its last
 * header byte), with `body` as its registers: PFCOUNT reads those.
 */
const staleSparse = (body: number[]) => {
  const header = hll(1, 16);
  header[15] = 0x80;
  return Buffer.concat([header, Buffer.from(body)]);
};

describe('reading checked keys', () => {
  describe('happy', () => {
    it('sizes each type with its own command and never sends a command of the wrong type', async () => {
      const { run, sent } = fakeDb({
        num: { type: 'string', size: 4, memory: 56, value: '42.5' },
        text: { type: 'string', size: 5, memory: 56, value: 'hello' },
        list: { type: 'list', size: 3, memory: 100 },
        set: { type: 'set', size: 2, memory: 200 },
        zset: { type: 'zset', size: 1, memory: 64 },
        hash: { type: 'hash', size: 2, memory: 80 },
        stream: { type: 'stream', size: 7, memory: 600 },
        hll: { type: 'string', size: 4, strlen: 40, memory: 96, value: hll(1, 40) },
        json: { type: 'ReJSON-RL', memory: 300 },
      });
      const readings = await readKeys(run, [
        'num',
        'text',
        'list',
        'set',
        'zset',
        'hash',
        'stream',
        'hll',
        'json',
        'gone',
      ]);
      expect(readings.map((r) => [r.key, r.type, r.size, r.memory])).toEqual([
        ['num', 'string', 4, 56],
        ['text', 'string', 5, 56],
        ['list', 'list', 3, 100],
        ['set', 'set', 2, 200],
        ['zset', 'zset', 1, 64],
        ['hash', 'hash', 2, 80],
        ['stream', 'stream', 7, 600],
        // The HLL's size is PFCOUNT's 4, not STRLEN's.
        ['hll', 'string', 4, 96],
        ['json', 'ReJSON-RL', undefined, 300],
        ['gone', 'none', undefined, undefined],
      ]);
      expect(readings[0]).toMatchObject({ value: 42.5 });
      expect(readings[0]?.text).toBeUndefined();
      expect(readings[1]).toMatchObject({ text: 'hello' });
      expect(readings[7]).toMatchObject({ hyperLogLog: true });
      expect(readings[7]?.text).toBeUndefined();
      // Three round trips however many keys: TYPE, the reads, PFCOUNT of the HLLs.
      expect(sent).toHaveLength(3);
      expect(sent[2]).toEqual(['PFCOUNT hll']);
      expect(sent[1]).not.toContain('PFCOUNT text');
    });

    it('skips the PFCOUNT round trip when no string is a HyperLogLog', async () => {
      const { run, sent } = fakeDb({ a: { type: 'list', size: 1, memory: 50 } });
      await readKeys(run, ['a']);
      expect(sent).toHaveLength(2);
      expect(await readKeys(run, [])).toEqual([]);
      expect(sent).toHaveLength(2);
    });

    it('maps every type with a size to its command', () => {
      expect(SIZE_COMMANDS).toEqual({
        string: 'STRLEN',
        list: 'LLEN',
        set: 'SCARD',
        zset: 'ZCARD',
        hash: 'HLEN',
        stream: 'XLEN',
      });
    });

    it("reads values as Go's ParseFloat does and keeps short UTF-8 text", () => {
      const value = (s: string) => stringValueOf(Buffer.from(s), Buffer.byteLength(s));
      expect(value('42')).toEqual({ value: 42 });
      expect(value('1e3')).toEqual({ value: 1000 });
      expect(value('-inf')).toEqual({ value: -Infinity });
      expect(value('0x10')).toEqual({ text: '0x10' });
      expect(value(' 12')).toEqual({ text: ' 12' });
      expect(value('')).toEqual({ text: '' });
      expect(value('grüße')).toEqual({ text: 'grüße' });
    });

    it('tells a HyperLogLog from a string that starts like one, as Redis does', () => {
      expect(isHyperLogLog(hll(1, 30), 30)).toBe(true);
      expect(isHyperLogLog(hll(0, 12_304), 12_304)).toBe(true);
      // Dense but not the dense length; too short; wrong encoding; plain text.
      expect(isHyperLogLog(hll(0, 100), 100)).toBe(false);
      expect(isHyperLogLog(Buffer.from('HYLL\u0001'), 5)).toBe(false);
      expect(isHyperLogLog(hll(2, 25), 25)).toBe(false);
      expect(isHyperLogLog(Buffer.from('HYLLO world, this is text'), 25)).toBe(false);
      // An empty sparse HyperLogLog, cache stale: XZERO of 16384 registers (0x7f 0xff).
      const empty = staleSparse([0x7f, 0xff]);
      expect(isHyperLogLog(empty, empty.length)).toBe(true);
    });

    it('reads a number of any length up to 1,024 bytes whole, as ParseFloat would', async () => {
      const long = '1'.repeat(70);
      const { run, sent } = fakeDb({
        big: { type: 'string', memory: 100, value: long },
        wordy: { type: 'string', memory: 100, value: 'w'.repeat(70) },
        huge: { type: 'string', memory: 2000, value: '1'.repeat(MAX_NUMBER_BYTES + 1) },
      });
      const readings = await readKeys(run, ['big', 'wordy', 'huge']);
      expect(readings.map((r) => [r.key, r.size, r.value])).toEqual([
        ['big', 70, Number(long)],
        ['wordy', 70, undefined],
        ['huge', MAX_NUMBER_BYTES + 1, undefined],
      ]);
      // Only the value that may be a number is read again, whole.
      expect(sent[2]).toEqual([`GETRANGE big 0 ${MAX_NUMBER_BYTES - 1}`]);
    });

    it('reads a key whose name is not UTF-8 by its bytes, labelled with \\xNN', async () => {
      const name = Buffer.from([0x62, 0xff, 0x01, 0x5c]);
      const { run } = fakeDb({ [name.toString('latin1')]: { type: 'list', size: 2, memory: 70 } });
      const [reading] = await readKeys(run, [name]);
      expect(reading).toMatchObject({ key: 'b\\xff\\x01\\\\', type: 'list', size: 2, memory: 70 });
      expect(reading?.id).toBe(name.toString('latin1'));
    });
  });

  describe('unhappy', () => {
    it('exports no value for a string past 64 bytes or one that is not UTF-8', () => {
      expect(stringValueOf(Buffer.from('1'.repeat(64)), 65)).toEqual({});
      expect(stringValueOf(Buffer.from([0x61, 0x62, 0xff]), 3)).toEqual({});
    });

    it('reads a string that starts like a sparse HyperLogLog but is corrupt as a string, sending it no PFCOUNT', async () => {
      // Registers that do not add up to 16384: Redis' PFCOUNT would answer -INVALIDOBJ.
      const corrupt = staleSparse([]);
      expect(isHyperLogLog(corrupt, corrupt.length)).toBe(false);
      const { run, sent } = fakeDb({ fake: { type: 'string', memory: 60, value: corrupt } });
      const readings = await readKeys(run, ['fake']);
      expect(readings).toEqual([{ key: 'fake', id: 'fake', type: 'string', memory: 60, size: 16 }]);
      expect(sent.flat().some((c) => c.startsWith('PFCOUNT'))).toBe(false);
    });

    it('reads a longer corrupt one as a string when PFCOUNT answers INVALIDOBJ', async () => {
      // Past the 64 bytes read first: only PFCOUNT can tell.
      const corrupt = Buffer.concat([staleSparse([]), Buffer.alloc(100)]);
      const { run } = fakeDb({ fake: { type: 'string', memory: 200, value: corrupt } });
      expect(await readKeys(run, ['fake'])).toEqual([
        { key: 'fake', id: 'fake', type: 'string', memory: 200, size: 116 },
      ]);
    });

    it('leaves out a key another client changed between the round trips', async () => {
      const keys: Record<string, FakeKey> = { q: { type: 'list', size: 2, memory: 90 } };
      const db = fakeDb(keys);
      const run = async (commands: readonly KeyCommand[], options?: { buffers?: boolean }) => {
        const results = await db.run(commands, options);
        // After TYPE, the list becomes a string.
        if (commands[0]?.[0] === 'TYPE')
          keys.q = { type: 'string', size: 1, memory: 50, value: 'x' };
        return results;
      };
      expect(await readKeys(run, ['q'])).toEqual([]);
    });

    it('leaves out a key that is gone by the time MEMORY USAGE asks', async () => {
      const { run } = fakeDb({ q: { type: 'set', size: 0, memory: null } });
      expect(await readKeys(run, ['q'])).toEqual([]);
    });

    it('throws a refused command, so the collector reports failure', async () => {
      const { run } = fakeDb({ q: { type: 'list', size: 2, memory: 90 } }, 'MEMORY');
      await expect(readKeys(run, ['q'])).rejects.toThrow(/NOPERM/);
    });
  });
});
