import { keyGroupOf } from './lua-pattern.js';

/** Keys and bytes of one key group in one database. */
export interface GroupTotals {
  count: number;
  memory: number;
}

/** redis_exporter's group for a key no pattern matches. */
export const UNCLASSIFIED = 'unclassified';
/** redis_exporter's group that adds up the groups past max_distinct_key_groups. */
export const OVERFLOW = 'overflow';

/**
 * Distinct groups the passes of key_groups on one target keep apart in
 * memory, over all databases: a pattern whose capture is an id (`^(.*)$`)
 * would otherwise hold one entry per key. Groups first seen past it add up
 * under `overflow` directly (and the distinct count stops there).
 */
export function trackedKeyGroups(maxDistinctKeyGroups: number): number {
  return Math.max(1000, 10 * maxDistinctKeyGroups);
}

/** The groups of one database as one pass adds them up. */
export class KeyGroupTotals {
  /** By group name as bytes, one character each (Lua patterns match bytes). */
  readonly groups = new Map<string, GroupTotals>();
  /** Keys of groups that came after the tracking limit. */
  readonly untracked: GroupTotals = { count: 0, memory: 0 };

  constructor(
    private readonly patterns: readonly RegExp[],
    /** Grants a place to each new group (PassRoom.take), 0 once the limit is reached. */
    private readonly track: (groups: number) => number,
  ) {}

  /**
   * Counts a key of `memory` bytes in its group: its captures joined,
   * `unclassified` when no pattern matches. `key` is the name's bytes one
   * character each (keyId), so `.` and `%a` match bytes as in Redis' Lua.
   */
  add(key: string, memory: number): void {
    const name = keyGroupOf(key, this.patterns) ?? UNCLASSIFIED;
    let totals = this.groups.get(name);
    if (totals === undefined) {
      if (this.track(1) === 0) {
        this.untracked.count++;
        this.untracked.memory += memory;
        return;
      }
      totals = { count: 0, memory: 0 };
      this.groups.set(name, totals);
    }
    totals.count++;
    totals.memory += memory;
  }
}

/** What one database's groups export. */
export interface FoldedKeyGroups {
  /** Groups with their own series (`overflow` last when some were folded). */
  readonly rows: readonly (readonly [string, GroupTotals])[];
  /** redis_number_of_distinct_key_groups: every group seen, folded ones included. */
  readonly distinct: number;
  /** Groups that went into `overflow`. */
  readonly folded: number;
}

/**
 * redis_exporter 1.45's overflow rule: with more than `max` groups, the
 * first `max` by memory (descending), then key count (ascending, as 1.45
 * sorts), then name are kept and the rest add up under `overflow`; a group
 * literally named `overflow` joins that sum then. With `max` or fewer, every
 * group is kept (by name).
 */
export function foldKeyGroups(totals: KeyGroupTotals, max: number): FoldedKeyGroups {
  const all = [...totals.groups];
  const untracked = totals.untracked.count > 0;
  if (all.length <= max && !untracked) {
    return {
      rows: all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      distinct: all.length,
      folded: 0,
    };
  }
  all.sort(
    (a, b) =>
      b[1].memory - a[1].memory ||
      a[1].count - b[1].count ||
      (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  const kept: [string, GroupTotals][] = [];
  const overflow: GroupTotals = { ...totals.untracked };
  let folded = 0;
  for (const [name, group] of all) {
    // A group literally named overflow joins the sum and takes no place of its own.
    if (kept.length < max && name !== OVERFLOW) {
      kept.push([name, group]);
      continue;
    }
    overflow.count += group.count;
    overflow.memory += group.memory;
    if (name !== OVERFLOW) folded++;
  }
  kept.push([OVERFLOW, overflow]);
  return { rows: kept, distinct: all.length, folded };
}
