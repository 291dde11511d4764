import { compatFamily } from '../exposition.js';
import { settledValue } from '../indexed-records.js';
import { databasesWithKeys, skippedOnMaster } from '../keys/key-collector-support.js';
import {
  type FoldedKeyGroups,
  foldKeyGroups,
  KeyGroupTotals,
  OVERFLOW,
  UNCLASSIFIED,
} from '../keys/key-groups.js';
import { type KeyScanner, type ScanJob, writeScanStatus } from '../keys/key-scan.js';
import type { KeyChecksConfig } from '../opt-in-config.js';
import type { DroppedSeries } from '../series-cap.js';
import { type Collector, INFO_ALL } from './types.js';

const NAME = 'key_groups';

const IN_EXPORTER =
  'computed in the exporter from SCAN batches and pipelined MEMORY USAGE (redis_exporter runs a Lua script over the whole keyspace that blocks Redis meanwhile), as of the last complete pass, which on a large keyspace spreads over several scrapes (redscope_key_scan_*)';

export const keyGroupCount = compatFamily({
  name: 'redis_key_group_count',
  type: 'gauge',
  help: `Keys of a key group: the captures of the first --check-key-groups Lua pattern that matches a key, joined; "${UNCLASSIFIED}" when none matches, "${OVERFLOW}" for the groups past --max-distinct-key-groups`,
  labels: ['db', 'key_group'],
  source: 'SCAN (every database with keys), key names matched in the exporter',
  difference: IN_EXPORTER,
});
export const keyGroupMemory = compatFamily({
  name: 'redis_key_group_memory_usage_bytes',
  type: 'gauge',
  help: 'Bytes the keys of a key group take (sum of MEMORY USAGE, sampled for large aggregates)',
  labels: ['db', 'key_group'],
  source: 'MEMORY USAGE of every key',
  difference: IN_EXPORTER,
});
export const distinctKeyGroups = compatFamily({
  name: 'redis_number_of_distinct_key_groups',
  type: 'gauge',
  help: 'Distinct key groups in a database, including those folded into "overflow"',
  labels: ['db'],
  source: 'SCAN + the --check-key-groups patterns',
  difference:
    'only for databases that hold keys (INFO keyspace); redis_exporter writes 0 for every empty database',
});
export const keyGroupsDuration = compatFamily({
  name: 'redis_last_key_groups_scrape_duration_milliseconds',
  type: 'gauge',
  help: 'Time the last complete key-group pass spent in its SCAN and MEMORY USAGE round trips, summed over the scrapes it spanned and over the databases (not wall time: a pass may spread over several scrapes)',
  labels: [],
  source: 'the exporter',
  difference:
    "redis_exporter's is the wall time of its one Lua pass per scrape; absent until a pass over every database with keys has ended",
});

interface Pass {
  readonly totals: KeyGroupTotals;
}

/**
 * redis_exporter's --check-key-groups without its Lua script: every database
 * with keys is SCANned (no MATCH) by the key collectors' shared scanner, each
 * batch's MEMORY USAGE pipelined, and keys grouped by the Lua patterns
 * translated to RegExps in the exporter, so Redis never runs more than one
 * short command at a time for it.
 */
export function createKeyGroupsCollector(
  config: KeyChecksConfig,
  scanner: KeyScanner,
  droppedSeries: DroppedSeries,
): Collector {
  const patterns = config.keyGroups.map((group) => group.regex);
  const jobOf = (db: number): ScanJob<Pass, FoldedKeyGroups> => ({
    id: `db${db}`,
    db,
    begin: () => ({ totals: new KeyGroupTotals(patterns) }),
    async visit(pass, keys, run) {
      if (keys.length === 0) return;
      const replies = await run(keys.map((key) => ['MEMORY', 'USAGE', key]));
      const memories = keys.map((_, i) => {
        const value = settledValue(replies[i]);
        if (value instanceof Error) throw value;
        return value;
      });
      keys.forEach((key, i) => {
        const memory = memories[i];
        // nil: the key is gone since SCAN named it.
        if (memory !== null && memory !== undefined) pass.totals.add(key, Number(memory));
      });
    },
    end: (pass) => foldKeyGroups(pass.totals, config.maxDistinctKeyGroups),
  });
  const jobs = new Map<number, ScanJob<Pass, FoldedKeyGroups>>();

  return {
    name: NAME,
    modes: ['redis'],
    commands: [INFO_ALL],
    families: [keyGroupCount, keyGroupMemory, distinctKeyGroups, keyGroupsDuration],
    description:
      'Off unless `key_checks.key_groups` (--check-key-groups) is given. Every database that ' +
      "INFO keyspace says holds keys is SCANned without MATCH through the key collectors' " +
      'shared scanner (see `key_checks`), with one pipelined MEMORY USAGE per SCAN batch; the ' +
      "key names are grouped in the exporter by redis_exporter's Lua patterns (translated; `%b`, " +
      '`%f` and back-references are refused at start). Past `key_checks.max_distinct_key_groups` ' +
      'groups per database (sorted as redis_exporter does: memory descending, then key count ' +
      'ascending, then name), the rest add up under `key_group="overflow"` and their series count ' +
      'in `redscope_exporter_series_dropped_total{collector="key_groups"}` (2 per group). Group ' +
      'names are the captures as they are: choose patterns whose captures are not secrets. ' +
      'Needs `scan` and `memory|usage` on every key.',
    async collect(context, sink) {
      if (skippedOnMaster(context, config.readFrom, NAME, sink)) return;
      const active = databasesWithKeys(context).map((db) => {
        let job = jobs.get(db);
        if (job === undefined) {
          job = jobOf(db);
          jobs.set(db, job);
        }
        return job;
      });
      const statuses = await scanner.advance(context, NAME, active);
      let durationMs = 0;
      let complete = true;
      let folded = 0;
      for (const job of active) {
        const status = statuses.get(job.id);
        if (status === undefined) continue;
        writeScanStatus(sink, NAME, job.db, '*', status);
        const result = status.result;
        if (result === undefined) {
          complete = false;
          continue;
        }
        durationMs += status.passMs ?? 0;
        folded += result.folded;
        const db = `db${job.db}`;
        for (const [group, totals] of result.rows) {
          sink.add(keyGroupCount, totals.count, db, group);
          sink.add(keyGroupMemory, totals.memory, db, group);
        }
        sink.add(distinctKeyGroups, result.distinct, db);
      }
      if (complete) sink.add(keyGroupsDuration, Math.round(durationMs));
      droppedSeries.record(sink, context.target, NAME, 2 * folded);
    },
  };
}
