import type { KeyRedactor } from '../../client/common/key-redaction.js';
import { compatFamily } from '../exposition.js';
import { valueOrThrow } from '../indexed-records.js';
import {
  databasesWithKeys,
  keyArg,
  keyChecksSkipped,
  keyId,
  keyText,
  patternKeyLabel,
  skippedOnMaster,
} from '../keys/key-collector-support.js';
import {
  type FoldedKeyGroups,
  foldKeyGroups,
  type GroupTotals,
  KeyGroupTotals,
  OVERFLOW,
  trackedKeyGroups,
  UNCLASSIFIED,
} from '../keys/key-groups.js';
import { type KeyScanner, SCAN_FAMILIES, type ScanJob, writeScanStatus } from '../keys/key-scan.js';
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
  totals: KeyGroupTotals | undefined;
}

export interface KeyGroupsDependencies {
  readonly config: KeyChecksConfig;
  readonly scanner: KeyScanner;
  readonly redactor: KeyRedactor;
  readonly droppedSeries: DroppedSeries;
}

/**
 * The rows of one database as labelled: a group name's bytes as text,
 * redacted unless raw key names (captures come from key names: a session id
 * would be a bearer secret in a label); `unclassified` and `overflow` as they
 * are. Groups whose labels come out alike add up.
 */
function labelledRows(
  rows: FoldedKeyGroups['rows'],
  label: (name: string) => string,
): Map<string, GroupTotals> {
  const out = new Map<string, GroupTotals>();
  for (const [name, totals] of rows) {
    const text =
      name === UNCLASSIFIED || name === OVERFLOW
        ? name
        : label(keyText(Buffer.from(name, 'latin1')));
    const seen = out.get(text);
    if (seen === undefined) out.set(text, { ...totals });
    else {
      seen.count += totals.count;
      seen.memory += totals.memory;
    }
  }
  return out;
}

/**
 * redis_exporter's --check-key-groups without its Lua script: every database
 * with keys is SCANned (no MATCH) by the key collectors' shared scanner, each
 * batch's MEMORY USAGE pipelined, and keys grouped by the Lua patterns
 * translated to RegExps in the exporter, so Redis never runs more than one
 * short command at a time for it.
 */
export function createKeyGroupsCollector(dependencies: KeyGroupsDependencies): Collector {
  const { config, scanner, droppedSeries } = dependencies;
  const patterns = config.keyGroups.map((group) => group.regex);
  const tracked = trackedKeyGroups(config.maxDistinctKeyGroups);
  const label = patternKeyLabel(config.rawKeyNames, dependencies.redactor);
  const jobOf = (db: number): ScanJob<Pass, FoldedKeyGroups> => ({
    id: `db${db}`,
    db,
    begin: () => ({ totals: undefined }),
    async visit(pass, keys, run, room) {
      if (keys.length === 0) return;
      const replies = await run(keys.map((key) => ['MEMORY', 'USAGE', keyArg(key)]));
      const memories = keys.map((_, i) => valueOrThrow(replies[i]));
      pass.totals ??= new KeyGroupTotals(patterns, (groups) => room.take(groups));
      const totals = pass.totals;
      keys.forEach((key, i) => {
        const memory = memories[i];
        // nil: the key is gone since SCAN named it.
        if (memory !== null && memory !== undefined) totals.add(keyId(key), Number(memory));
      });
    },
    end: (pass) =>
      foldKeyGroups(
        pass.totals ?? new KeyGroupTotals(patterns, () => 0),
        config.maxDistinctKeyGroups,
      ),
  });
  const jobs = new Map<number, ScanJob<Pass, FoldedKeyGroups>>();

  return {
    name: NAME,
    modes: ['redis'],
    commands: [INFO_ALL],
    families: [
      keyGroupCount,
      keyGroupMemory,
      distinctKeyGroups,
      keyGroupsDuration,
      ...SCAN_FAMILIES,
      keyChecksSkipped,
    ],
    description:
      'Off unless `key_checks.key_groups` (--check-key-groups) is given. Every database that ' +
      "INFO keyspace says holds keys is SCANned without MATCH through the key collectors' " +
      'shared scanner (see `key_checks`), with one pipelined MEMORY USAGE per SCAN batch; the ' +
      "key names are grouped in the exporter by redis_exporter's Lua patterns (translated, " +
      'matching bytes as Lua does; `%b`, `%f`, `%g` and back-references are refused at start). ' +
      'Past `key_checks.max_distinct_key_groups` groups per database (sorted as redis_exporter ' +
      'does: memory descending, then key count ascending, then name), the rest add up under ' +
      '`key_group="overflow"` and count in ' +
      '`redscope_exporter_series_dropped_total{collector="key_groups"}` (groups, once per pass). ' +
      'A pass keeps at most 10 × `key_checks.max_distinct_key_groups` (at least 1,000) distinct ' +
      'groups apart, over all databases of a target: keys of groups first seen after that go ' +
      'straight to `overflow`, and ' +
      '`redis_number_of_distinct_key_groups` stops there. Group names are the captures, ' +
      'redacted like pattern key names unless `key_checks.raw_key_names` (readable captures ' +
      'such as `bull:email` stay as they are). Needs `scan` and `memory|usage` on every key, ' +
      'and `select` for databases other than 0.',
    async collect(context, sink) {
      scanner.turn(context, NAME);
      if (skippedOnMaster(context, config.readFrom, NAME, sink)) return;
      const active = databasesWithKeys(context).map((db) => {
        let job = jobs.get(db);
        if (job === undefined) {
          job = jobOf(db);
          jobs.set(db, job);
        }
        return job;
      });
      const statuses = await scanner.advance(context, NAME, active, tracked);
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
        // A pass's folded groups count once, at the scrape where it ended.
        if (status.endedNow) folded += result.folded;
        const db = `db${job.db}`;
        for (const [group, totals] of labelledRows(result.rows, label)) {
          sink.add(keyGroupCount, totals.count, db, group);
          sink.add(keyGroupMemory, totals.memory, db, group);
        }
        sink.add(distinctKeyGroups, result.distinct, db);
      }
      if (complete) sink.add(keyGroupsDuration, Math.round(durationMs));
      droppedSeries.record(sink, context.scope, NAME, folded);
    },
  };
}
