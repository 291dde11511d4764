import type { KeyRedactor } from '../../client/common/key-redaction.js';
import { compatFamily, family, type MetricSink } from '../exposition.js';
import {
  byDatabase,
  isLiteralPattern,
  keyChecksSkipped,
  keyId,
  patternKeyLabel,
  serveSampledScans,
  skippedOnMaster,
  uniqueSpecs,
  WrittenKeys,
} from '../keys/key-collector-support.js';
import { type KeyReading, readKeys } from '../keys/key-reading.js';
import { type KeyScanner, SCAN_FAMILIES, type ScanJob } from '../keys/key-scan.js';
import type { KeyChecksConfig } from '../opt-in-config.js';
import type { DroppedSeries } from '../series-cap.js';
import { type Collector, INFO_ALL } from './types.js';

const NAME = 'key_checks';

const FROM_PASS =
  'keys a pattern matches are those of its last complete SCAN pass (redscope_key_scan_*), spread over scrapes on a large keyspace';

export const keySize = compatFamily({
  name: 'redis_key_size',
  type: 'gauge',
  help: 'Length or cardinality of a checked key by its type: STRLEN (PFCOUNT for a HyperLogLog), LLEN, SCARD, ZCARD, HLEN or XLEN',
  labels: ['db', 'key'],
  source: 'TYPE, then STRLEN/PFCOUNT/LLEN/SCARD/ZCARD/HLEN/XLEN by type',
  difference:
    'a missing --check-single-keys key has no series (redis_exporter: 0) unless ' +
    '--check-single-keys-missing-as-zero; keys found by a --check-keys pattern are labelled ' +
    'redacted (session ids and other tokens hashed) unless --check-keys-raw-names, and at most ' +
    `--check-keys-max-series of them are checked; ${FROM_PASS}`,
});
export const keyValue = compatFamily({
  name: 'redis_key_value',
  type: 'gauge',
  help: "Value of a checked string key that Go's ParseFloat reads as a number (as redis_exporter decides)",
  labels: ['db', 'key'],
  source: 'GETRANGE key 0 63 (0 1023 when those 64 bytes could start a longer number)',
  difference:
    'a number written with more than 1,024 characters has no series; redis_exporter reads any length',
});
export const keyValueAsString = compatFamily({
  name: 'redis_key_value_as_string',
  type: 'gauge',
  help: 'A checked string key whose value is not a number: 1, with the value as the val label (single keys, or every key with --check-keys-raw-names; values up to 64 bytes of UTF-8)',
  labels: ['db', 'key', 'val'],
  source: 'GETRANGE key 0 63',
  difference:
    'only for --check-single-keys keys (or with --check-keys-raw-names: a pattern key holds data, ' +
    'a session token say), only values up to 64 bytes of valid UTF-8; redis_exporter exports ' +
    'any value of any matched key',
});
export const keyMemory = family({
  name: 'redis_key_memory_usage_bytes',
  type: 'gauge',
  help: 'Bytes a checked key and its value take in Redis (MEMORY USAGE, sampled for large aggregates); the family of newer redis_exporter versions',
  labels: ['db', 'key'],
  source: 'MEMORY USAGE key',
});

/**
 * One checked key as a pass found it, labelled already: one small object of
 * fixed shape per key (a pass may hold max_series of them).
 */
class KeySample {
  constructor(
    /** keyId of the name: the same string as `label` when the label is the name itself. */
    readonly id: string,
    readonly label: string,
    readonly size: number | undefined,
    readonly memory: number | undefined,
    readonly value: number | undefined,
    /** Kept only where it may be exported (raw key names). */
    readonly text: string | undefined,
  ) {}
}

interface PassResult {
  readonly samples: readonly KeySample[];
  /** Keys the pattern matched past max_series: neither read nor exported. */
  readonly dropped: number;
}

interface Accumulator {
  /** keyIds read in this pass (SCAN may return a key twice). */
  readonly read: Set<string>;
  readonly samples: KeySample[];
  dropped: number;
}

export interface KeyChecksDependencies {
  readonly config: KeyChecksConfig;
  /** The exporter's one scanner, shared by the key collectors (null without a --check-keys pattern). */
  readonly scanner: KeyScanner | undefined;
  readonly redactor: KeyRedactor;
  readonly droppedSeries: DroppedSeries;
}

/** Writes a key's series; `text` only where a value may be a label. */
function writeKey(
  sink: MetricSink,
  db: number,
  label: string,
  reading: Pick<KeyReading, 'size' | 'memory' | 'value' | 'text'>,
  valueAsString: boolean,
): void {
  const dbLabel = `db${db}`;
  if (reading.size !== undefined) sink.add(keySize, reading.size, dbLabel, label);
  if (reading.memory !== undefined) sink.add(keyMemory, reading.memory, dbLabel, label);
  if (reading.value !== undefined) sink.add(keyValue, reading.value, dbLabel, label);
  else if (reading.text !== undefined && valueAsString) {
    sink.add(keyValueAsString, 1, dbLabel, label, reading.text);
  }
}

/**
 * redis_exporter's --check-keys and --check-single-keys: size, value and
 * memory of keys named in the configuration (read at every scrape) and of
 * keys that match a pattern (through the shared KeyScanner, a pass spread
 * over scrapes). Types come from TYPE, so no command ever meets a key of the
 * wrong type.
 */
export function createKeyChecksCollector(dependencies: KeyChecksDependencies): Collector {
  const { config, scanner, droppedSeries } = dependencies;
  const singles = byDatabase([
    ...config.singleKeys,
    ...config.keys.filter((spec) => isLiteralPattern(spec.key)),
  ]);
  const patterns = uniqueSpecs(config.keys.filter((spec) => !isLiteralPattern(spec.key)));
  const label = patternKeyLabel(config.rawKeyNames, dependencies.redactor);

  const jobs: ScanJob<Accumulator, PassResult>[] = patterns.map((spec) => ({
    id: `db${spec.db} ${spec.key}`,
    db: spec.db,
    match: spec.key,
    begin: () => ({ read: new Set(), samples: [], dropped: 0 }),
    async visit(accumulator, keys, run, room) {
      // SCAN may return a key twice (while Redis resizes its table): read it once.
      const fresh = new Map<string, Buffer>();
      for (const key of keys) {
        const id = keyId(key);
        if (!accumulator.read.has(id)) fresh.set(id, key);
      }
      const asked = [...fresh.values()].slice(0, room.take(fresh.size));
      const readings = await readKeys(run, asked);
      for (const id of [...fresh.keys()].slice(0, asked.length)) accumulator.read.add(id);
      accumulator.dropped += fresh.size - asked.length;
      for (const reading of readings) {
        if (reading.type === 'none') continue;
        const keyLabel = label(reading.key);
        accumulator.samples.push(
          new KeySample(
            reading.id === keyLabel ? keyLabel : reading.id,
            keyLabel,
            reading.size,
            reading.memory,
            reading.value,
            config.rawKeyNames ? reading.text : undefined,
          ),
        );
      }
    },
    end: ({ samples, dropped }, keep) => ({
      // Past what the other patterns' results leave of max_series: counted, not served.
      samples: samples.length > keep ? samples.slice(0, keep) : samples,
      dropped: dropped + Math.max(0, samples.length - keep),
    }),
  }));

  return {
    name: NAME,
    modes: ['redis'],
    commands: [INFO_ALL],
    families: [keySize, keyValue, keyValueAsString, keyMemory, ...SCAN_FAMILIES, keyChecksSkipped],
    description:
      'Off unless `key_checks.keys` (--check-keys) or `key_checks.single_keys` (--check-single-keys) ' +
      'is given. Single keys are read at every scrape and labelled as configured. A pattern ' +
      "is SCANned (MATCH, COUNT `key_checks.batch_size`) by the key collectors' shared scanner " +
      'within `key_checks.budget_seconds` per scrape (at most half of what is left of the ' +
      'scrape, split between the scanning collectors); a pass that needs longer continues at ' +
      "the next scrape while the last complete pass's keys are served, and `redscope_key_scan_*` " +
      'say how old and how far along it is. A round trip Redis does not answer within the ' +
      "collector's share gives up the pass in progress (the next scrape starts it over) and the " +
      'last complete pass is still served. ' +
      'A pattern without glob characters names one key, read like a single key (as in ' +
      'redis_exporter). Each key costs TYPE, then its size command, MEMORY USAGE and, for a ' +
      'string, GETRANGE of its first 64 bytes (of up to 1,024 bytes when those could start a ' +
      'long number), pipelined per SCAN batch; never a command of the wrong type, unless a ' +
      'client changes the type of a key between TYPE and the read: that key is left out, and ' +
      'Redis counts one WRONGTYPE. Pattern keys are labelled redacted (the HMAC secret of ' +
      "`hotkeys.secret_file` or env REDSCOPE_HOTKEYS_SECRET, the clients' secret, when given; " +
      'else a random one per process, so ' +
      'labels change when the exporter restarts) unless `key_checks.raw_key_names`. Key names ' +
      'are read as bytes: a name that is not UTF-8 is labelled with its other bytes written ' +
      '`\\xNN` (redis_exporter drops such a series). The keys of all patterns together: at most ' +
      '`key_checks.max_series` are checked per pass and served; the rest count (keys, once per ' +
      'pass) in `redscope_exporter_series_dropped_total{collector="key_checks"}`. Every key ' +
      'collector writes the `redscope_key_scan_*` and `redscope_key_checks_skipped` families. ' +
      'With `key_checks.read_from: replica` a master is left alone. Needs `type`, `strlen`, ' +
      '`getrange`, `llen`, `scard`, `zcard`, `hlen`, `xlen`, `pfcount`, `memory|usage` on the ' +
      'keys, `scan` for patterns, and `select` for databases other than 0.',
    async collect(context, sink) {
      if (scanner !== undefined && jobs.length > 0) scanner.turn(context, NAME);
      if (skippedOnMaster(context, config.readFrom, NAME, sink)) return;
      const written = new WrittenKeys();
      for (const [db, keys] of singles) {
        const readings = await readKeys((commands) => context.roundTripOn(db, commands), keys);
        for (const reading of readings) {
          if (!written.claim(db, reading.id, reading.key)) continue;
          if (reading.type === 'none') {
            if (config.missingSingleKeysAsZero) sink.add(keySize, 0, `db${db}`, reading.key);
            continue;
          }
          writeKey(sink, db, reading.key, reading, true);
        }
      }
      await serveSampledScans(
        context,
        NAME,
        { scanner, jobs, maxSeries: config.maxSeries, droppedSeries },
        sink,
        (db, sample) => {
          if (written.claim(db, sample.id, sample.label)) {
            writeKey(sink, db, sample.label, sample, config.rawKeyNames);
          }
        },
      );
    },
  };
}
