import { describe, expect, it } from 'vitest';
import {
  foldKeyGroups,
  KeyGroupTotals,
  trackedKeyGroups,
} from '../../../exporter/keys/key-groups.js';
import { compileLuaPattern, LuaPatternError } from '../../../exporter/keys/lua-pattern.js';

const patterns = ['^(%a+):(%a+):', '^(%a+):'].map(compileLuaPattern);

/** Totals of `keys`, tracking at most `maxTracked` groups (as a PassRoom grants them). */
function totals(keys: [string, number][], maxTracked = Number.POSITIVE_INFINITY): KeyGroupTotals {
  let left = maxTracked;
  const out = new KeyGroupTotals(patterns, (wanted) => {
    const granted = Math.min(wanted, left);
    left -= granted;
    return granted;
  });
  for (const [key, memory] of keys) out.add(key, memory);
  return out;
}

describe('key groups', () => {
  describe('happy', () => {
    it('groups a key by the captures of the first pattern that matches, joined', () => {
      const t = totals([
        ['app:user:1', 10],
        ['app:user:2', 20],
        ['app:9', 5],
        ['lonely', 7],
      ]);
      expect(Object.fromEntries(t.groups)).toEqual({
        appuser: { count: 2, memory: 30 },
        app: { count: 1, memory: 5 },
        unclassified: { count: 1, memory: 7 },
      });
    });

    it('keeps every group, by name, when there are no more than the maximum', () => {
      const folded = foldKeyGroups(
        totals([
          ['b:1', 1],
          ['a:1', 1],
        ]),
        2,
      );
      expect(folded.rows.map(([name]) => name)).toEqual(['a', 'b']);
      expect(folded).toMatchObject({ distinct: 2, folded: 0 });
    });

    it("folds the groups past the maximum into overflow in redis_exporter 1.45's order", () => {
      const folded = foldKeyGroups(
        totals([
          ['big:1', 100],
          // Same memory as `mid`: the one with fewer keys ranks first (1.45 sorts count ascending).
          ['mid:1', 25],
          ['mid:2', 25],
          ['few:1', 50],
          ['small:1', 3],
          ['tiny:1', 1],
        ]),
        3,
      );
      expect(folded.rows).toEqual([
        ['big', { count: 1, memory: 100 }],
        ['few', { count: 1, memory: 50 }],
        ['mid', { count: 2, memory: 50 }],
        ['overflow', { count: 2, memory: 4 }],
      ]);
      expect(folded).toMatchObject({ distinct: 5, folded: 2 });
    });

    it('breaks a tie of memory and count by name', () => {
      const folded = foldKeyGroups(
        totals([
          ['b:1', 5],
          ['a:1', 5],
          ['c:1', 5],
        ]),
        1,
      );
      expect(folded.rows.map(([name]) => name)).toEqual(['a', 'overflow']);
    });
  });

  describe('unhappy', () => {
    it('adds groups past the tracking limit to overflow instead of holding them all', () => {
      const t = totals(
        [
          ['a:1', 1],
          ['b:1', 2],
          ['c:1', 4],
          ['a:2', 8],
        ],
        2,
      );
      expect([...t.groups.keys()]).toEqual(['a', 'b']);
      const folded = foldKeyGroups(t, 10);
      expect(folded.rows).toEqual([
        ['a', { count: 2, memory: 9 }],
        ['b', { count: 1, memory: 2 }],
        ['overflow', { count: 1, memory: 4 }],
      ]);
    });

    it('tracks at most ten times max_distinct_key_groups groups in a pass, at least 1,000', () => {
      expect(trackedKeyGroups(100)).toBe(1000);
      expect(trackedKeyGroups(2)).toBe(1000);
      expect(trackedKeyGroups(500)).toBe(5000);
    });

    it("refuses %g: Redis' Lua 5.1 has no such class (it matches a literal g there)", () => {
      expect(() => compileLuaPattern('^(%g+):')).toThrow(LuaPatternError);
      expect(() => compileLuaPattern('^([%G]+):')).toThrow(/Lua 5.1/);
    });

    it('matches bytes as Lua does: a name that is not UTF-8 is grouped by its bytes', () => {
      // Key names reach the patterns one character per byte (latin1).
      const t = totals([
        [Buffer.from([0x62, 0xff, 0x3a, 0x31]).toString('latin1'), 3],
        [Buffer.from('café:1', 'utf8').toString('latin1'), 4],
      ]);
      // %a is ASCII letters: 0xff and the two bytes of é are not.
      expect([...t.groups.keys()]).toEqual(['unclassified']);
      // `.` is one byte: `..` takes the two bytes of é, as Lua's string.find does.
      const dot = new KeyGroupTotals([compileLuaPattern('^(..):')], () => 1);
      dot.add(Buffer.from('é:1', 'utf8').toString('latin1'), 1);
      expect([...dot.groups.keys()]).toEqual([Buffer.from('é', 'utf8').toString('latin1')]);
    });

    it('adds a group literally named overflow to the overflow sum instead of writing it twice', () => {
      const folded = foldKeyGroups(
        totals([
          ['overflow:1', 100],
          ['a:1', 50],
          ['b:1', 1],
        ]),
        1,
      );
      expect(folded.rows.filter(([name]) => name === 'overflow')).toHaveLength(1);
      expect(folded.rows).toEqual([
        ['a', { count: 1, memory: 50 }],
        ['overflow', { count: 2, memory: 101 }],
      ]);
    });
  });
});
