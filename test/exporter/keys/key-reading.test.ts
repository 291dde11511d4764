import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisCommand } from '../../../exporter/collectors/types.js';
import {
  isHyperLogLog,
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
  value?: string;
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

function fakeDb(keys: Record<string, FakeKey>, refuse?: string) {
  const sent: RedisCommand[][] = [];
  const answer = (command: RedisCommand): unknown => {
    const [name, ...args] = command;
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
    if (name === 'GETRANGE') return (key?.value ?? '').slice(Number(args[1]), Number(args[2]) + 1);
    if (name === 'STRLEN') return key?.strlen ?? key?.size ?? 0;
    return key?.size ?? 0;
  };
  const run = async (commands: readonly RedisCommand[]) => {
    sent.push([...commands]);
    return commands.map((command): PromiseSettledResult<unknown> => {
      try {
        return { status: 'fulfilled', value: answer(command) };
      } catch (reason) {
        return { status: 'rejected', reason };
      }
    });
  };
  return { run, sent };
}

const hll = (encoding: 0 | 1, length: number) =>
  `HYLL${String.fromCharCode(encoding)}\u0000\u0000\u0000${'\u0000'.repeat(Math.min(56, length - 8))}`;

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
      expect(sent[2]).toEqual([['PFCOUNT', 'hll']]);
      expect(sent[1]).not.toContainEqual(['PFCOUNT', 'text']);
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
      expect(stringValueOf('42', 2)).toEqual({ value: 42 });
      expect(stringValueOf('1e3', 3)).toEqual({ value: 1000 });
      expect(stringValueOf('-inf', 4)).toEqual({ value: -Infinity });
      expect(stringValueOf('0x10', 4)).toEqual({ text: '0x10' });
      expect(stringValueOf(' 12', 3)).toEqual({ text: ' 12' });
      expect(stringValueOf('', 0)).toEqual({ text: '' });
    });

    it('tells a HyperLogLog from a string that starts like one, as Redis does', () => {
      expect(isHyperLogLog(hll(1, 30), 30)).toBe(true);
      expect(isHyperLogLog(hll(0, 12_304), 12_304)).toBe(true);
      // Dense but not the dense length; too short; wrong encoding; plain text.
      expect(isHyperLogLog(hll(0, 100), 100)).toBe(false);
      expect(isHyperLogLog('HYLL\u0001', 5)).toBe(false);
      expect(isHyperLogLog(`HYLL\u0002${'\u0000'.repeat(20)}`, 25)).toBe(false);
      expect(isHyperLogLog('HYLLO world, this is text', 25)).toBe(false);
    });
  });

  describe('unhappy', () => {
    it('exports no value for a string past 64 bytes or one that is not UTF-8', () => {
      expect(stringValueOf('1'.repeat(64), 65)).toEqual({});
      expect(stringValueOf('abc\uFFFD', 6)).toEqual({});
    });

    it('leaves out a key another client changed between the round trips', async () => {
      const keys: Record<string, FakeKey> = { q: { type: 'list', size: 2, memory: 90 } };
      const db = fakeDb(keys);
      const run = async (commands: readonly RedisCommand[]) => {
        const results = await db.run(commands);
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
