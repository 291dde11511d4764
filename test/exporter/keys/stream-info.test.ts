import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { KeyCommand } from '../../../exporter/collectors/types.js';
import { fieldsOf } from '../../../exporter/indexed-records.js';
import {
  parseStreamConsumers,
  parseStreamGroups,
  parseStreamInfo,
  readStreams,
  streamIdMilliseconds,
} from '../../../exporter/keys/stream-info.js';

/** XINFO STREAM of Redis 7.0 as ioredis returns it with RESP2. */
const STREAM_7 = [
  'length',
  3,
  'radix-tree-keys',
  1,
  'radix-tree-nodes',
  2,
  'last-generated-id',
  '1700000000300-0',
  'max-deleted-entry-id',
  '1700000000050-1',
  'entries-added',
  4,
  'recorded-first-entry-id',
  '1700000000100-0',
  'groups',
  2,
  'first-entry',
  ['1700000000100-0', ['f', 'v']],
  'last-entry',
  ['1700000000300-0', ['f', 'w']],
];

/** Redis 6.2: no max-deleted-entry-id, entries-added; an empty stream's entries are nil. */
const STREAM_6_EMPTY = [
  'length',
  0,
  'radix-tree-keys',
  0,
  'radix-tree-nodes',
  1,
  'last-generated-id',
  '0-0',
  'groups',
  0,
  'first-entry',
  null,
  'last-entry',
  null,
];

const GROUPS_7 = [
  [
    'name',
    'g1',
    'consumers',
    1,
    'pending',
    2,
    'last-delivered-id',
    '1700000000200-0',
    'entries-read',
    2,
    'lag',
    1,
  ],
  [
    'name',
    'g2',
    'consumers',
    0,
    'pending',
    0,
    'last-delivered-id',
    '0-0',
    'entries-read',
    null,
    'lag',
    null,
  ],
];
const GROUPS_6 = [['name', 'g1', 'consumers', 2, 'pending', 5, 'last-delivered-id', '1-1']];
const CONSUMERS = [
  ['name', 'c1', 'pending', 2, 'idle', 1500, 'inactive', 1500],
  ['name', 'c2', 'pending', 0, 'idle', 30],
];

describe('XINFO replies', () => {
  describe('happy', () => {
    it('reads every field of a Redis 7 stream, the entries by id', () => {
      expect(parseStreamInfo(STREAM_7)).toEqual({
        length: 3,
        radixTreeKeys: 1,
        radixTreeNodes: 2,
        lastGeneratedId: '1700000000300-0',
        groups: 2,
        maxDeletedEntryId: '1700000000050-1',
        entriesAdded: 4,
        firstEntryId: '1700000000100-0',
        lastEntryId: '1700000000300-0',
      });
    });

    it('leaves out what a Redis 6 stream does not have, and the entries of an empty one', () => {
      const info = parseStreamInfo(STREAM_6_EMPTY);
      expect(info).toEqual({
        length: 0,
        radixTreeKeys: 0,
        radixTreeNodes: 1,
        lastGeneratedId: '0-0',
        groups: 0,
      });
      expect(streamIdMilliseconds(info.firstEntryId)).toBe(0);
    });

    it('reads groups with lag and entries-read, absent where Redis answers nil or is older', () => {
      expect(parseStreamGroups(GROUPS_7)).toEqual([
        {
          name: 'g1',
          consumers: 1,
          pending: 2,
          lastDeliveredId: '1700000000200-0',
          entriesRead: 2,
          lag: 1,
        },
        { name: 'g2', consumers: 0, pending: 0, lastDeliveredId: '0-0' },
      ]);
      expect(parseStreamGroups(GROUPS_6)).toEqual([
        { name: 'g1', consumers: 2, pending: 5, lastDeliveredId: '1-1' },
      ]);
    });

    it('reads consumers with their idle time in ms', () => {
      expect(parseStreamConsumers(CONSUMERS)).toEqual([
        { name: 'c1', pending: 2, idleMs: 1500 },
        { name: 'c2', pending: 0, idleMs: 30 },
      ]);
    });

    it('takes the millisecond part of an id, as redis_exporter does', () => {
      expect(streamIdMilliseconds('1700000000300-7')).toBe(1_700_000_000_300);
      expect(streamIdMilliseconds('0-0')).toBe(0);
      expect(fieldsOf(['a', 1, 'b'])).toEqual(new Map([['a', 1]]));
    });

    it('reads streams in two round trips, consumers only when asked', async () => {
      const sent: string[][] = [];
      const run = async (commands: readonly KeyCommand[]) => {
        sent.push(commands.map((c) => c.join(' ')));
        return commands.map((c): PromiseSettledResult<unknown> => {
          const text = c.join(' ');
          if (text.startsWith('XINFO STREAM')) return { status: 'fulfilled', value: STREAM_7 };
          if (text.startsWith('XINFO GROUPS')) return { status: 'fulfilled', value: GROUPS_7 };
          return { status: 'fulfilled', value: CONSUMERS };
        });
      };
      const [withConsumers] = await readStreams(run, ['s'], true);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toEqual(['XINFO CONSUMERS s g1', 'XINFO CONSUMERS s g2']);
      expect(withConsumers?.groups[0]?.consumerList).toHaveLength(2);
      sent.length = 0;
      const [without] = await readStreams(run, ['s'], false);
      expect(sent).toHaveLength(1);
      expect(without?.groups[0]?.consumerList).toEqual([]);
    });
  });

  describe('unhappy', () => {
    it('refuses a reply that is not a list', () => {
      expect(() => parseStreamInfo('OK')).toThrow(/XINFO STREAM/);
      expect(() => parseStreamGroups(null)).toThrow(/XINFO GROUPS/);
    });

    it('leaves out a stream deleted between SCAN and XINFO, and throws a refusal', async () => {
      const answer =
        (error: Error) =>
        async (commands: readonly KeyCommand[]): Promise<PromiseSettledResult<unknown>[]> =>
          commands.map(() => ({ status: 'rejected', reason: error }));
      expect(await readStreams(answer(new ReplyError('ERR no such key')), ['s'], true)).toEqual([]);
      // Replaced by a key of another type since SCAN TYPE stream (or TYPE) named it.
      const wrongType = new ReplyError(
        'WRONGTYPE Operation against a key holding the wrong kind of value',
      );
      expect(await readStreams(answer(wrongType), ['s'], true)).toEqual([]);
      // ... or between XINFO GROUPS and XINFO CONSUMERS.
      const flips = async (commands: readonly KeyCommand[]) =>
        commands.map((c): PromiseSettledResult<unknown> => {
          const text = c.join(' ');
          if (text.startsWith('XINFO STREAM')) return { status: 'fulfilled', value: STREAM_7 };
          if (text.startsWith('XINFO GROUPS')) return { status: 'fulfilled', value: GROUPS_7 };
          return { status: 'rejected', reason: wrongType };
        });
      expect(await readStreams(flips, ['s'], true)).toEqual([]);
      await expect(
        readStreams(answer(new ReplyError('NOPERM no permissions')), ['s'], true),
      ).rejects.toThrow(/NOPERM/);
    });
  });
});
