import { compatFamily } from '../exposition.js';
import { keyChecksSkipped, skippedOnMaster, uniqueSpecs } from '../keys/key-collector-support.js';
import { type KeyScanner, SCAN_FAMILIES, type ScanJob, writeScanStatus } from '../keys/key-scan.js';
import type { KeyChecksConfig } from '../opt-in-config.js';
import { type Collector, INFO_ALL } from './types.js';

const NAME = 'count_keys';

export const keysCount = compatFamily({
  name: 'redis_keys_count',
  type: 'gauge',
  help: 'Keys matching a --count-keys pattern (key is the pattern) at the last complete SCAN pass; a key SCAN returned twice while Redis resized its table counts twice, as in redis_exporter',
  labels: ['db', 'key'],
  source: 'SCAN MATCH pattern COUNT batch_size',
  difference:
    'the count of the last complete SCAN pass, which on a large keyspace spreads over several ' +
    'scrapes (redscope_key_scan_*); absent until the first pass ends',
});

/**
 * redis_exporter's --count-keys: keys matching each pattern, counted by the
 * key collectors' shared scanner one SCAN batch at a time.
 */
export function createCountKeysCollector(config: KeyChecksConfig, scanner: KeyScanner): Collector {
  const jobs: ScanJob<{ count: number }, number>[] = uniqueSpecs(config.countKeys).map((spec) => ({
    id: `db${spec.db} ${spec.key}`,
    db: spec.db,
    match: spec.key,
    begin: () => ({ count: 0 }),
    async visit(accumulator, keys) {
      accumulator.count += keys.length;
    },
    end: ({ count }) => count,
  }));
  return {
    name: NAME,
    modes: ['redis'],
    commands: [INFO_ALL],
    families: [keysCount, ...SCAN_FAMILIES, keyChecksSkipped],
    description:
      'Off unless `key_checks.count_keys` (--count-keys) is given. Counts the keys of each ' +
      "pattern with SCAN MATCH through the key collectors' shared scanner (see `key_checks` " +
      'for the budget and the `redscope_key_scan_*` families); reads no key. Needs `scan`, ' +
      'and `select` for databases other than 0.',
    async collect(context, sink) {
      scanner.turn(context, NAME);
      if (skippedOnMaster(context, config.readFrom, NAME, sink)) return;
      const statuses = await scanner.advance(context, NAME, jobs);
      for (const job of jobs) {
        const status = statuses.get(job.id);
        if (status === undefined) continue;
        const pattern = job.match as string;
        writeScanStatus(sink, NAME, job.db, pattern, status);
        if (status.result !== undefined) sink.add(keysCount, status.result, `db${job.db}`, pattern);
      }
    },
  };
}
