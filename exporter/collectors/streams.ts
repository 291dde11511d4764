import type { KeyRedactor } from '../../client/common/key-redaction.js';
import { compatFamily, family, type MetricSink } from '../exposition.js';
import { valueOrThrow } from '../indexed-records.js';
import {
  byDatabase,
  isLiteralPattern,
  keyChecksSkipped,
  keyCheckWrongType,
  keyId,
  patternKeyLabel,
  serveSampledScans,
  skippedOnMaster,
  uniqueSpecs,
  WrittenKeys,
} from '../keys/key-collector-support.js';
import {
  type DbRoundTrip,
  type KeyScanner,
  SCAN_FAMILIES,
  type ScanJob,
} from '../keys/key-scan.js';
import { readStreams, type StreamReading, streamIdMilliseconds } from '../keys/stream-info.js';
import type { KeyChecksConfig } from '../opt-in-config.js';
import type { DroppedSeries } from '../series-cap.js';
import { type Collector, INFO_ALL } from './types.js';

const NAME = 'streams';

const STREAM = ['db', 'stream'];
const GROUP = ['db', 'stream', 'group'];
const CONSUMER = ['db', 'stream', 'group', 'consumer'];
const NEWER_FAMILY = 'the family of newer redis_exporter versions';
const NEWER = `${NEWER_FAMILY} (Redis 7 field)`;

const streamLength = compatFamily({
  name: 'redis_stream_length',
  type: 'gauge',
  help: 'Entries in the stream',
  labels: STREAM,
  source: 'XINFO STREAM length',
  difference:
    'streams found by a --check-streams pattern are labelled redacted unless --check-keys-raw-names, ' +
    'at most --check-keys-max-series of them, as read during the last complete SCAN pass (redscope_key_scan_*)',
});
const radixTreeKeys = compatFamily({
  name: 'redis_stream_radix_tree_keys',
  type: 'gauge',
  help: "Keys of the stream's radix tree",
  labels: STREAM,
  source: 'XINFO STREAM radix-tree-keys',
});
const radixTreeNodes = compatFamily({
  name: 'redis_stream_radix_tree_nodes',
  type: 'gauge',
  help: "Nodes of the stream's radix tree",
  labels: STREAM,
  source: 'XINFO STREAM radix-tree-nodes',
});
const lastGeneratedId = compatFamily({
  name: 'redis_stream_last_generated_id',
  type: 'gauge',
  help: 'Millisecond part of the last id generated in the stream (epoch ms of the latest XADD with an automatic id)',
  labels: STREAM,
  source: 'XINFO STREAM last-generated-id',
});
const groupsCount = compatFamily({
  name: 'redis_stream_groups',
  type: 'gauge',
  help: 'Consumer groups of the stream',
  labels: STREAM,
  source: 'XINFO STREAM groups',
});
const firstEntryId = family({
  name: 'redis_stream_first_entry_id',
  type: 'gauge',
  help: `Millisecond part of the id of the stream's oldest entry (0 when empty); ${NEWER_FAMILY}`,
  labels: STREAM,
  source: 'XINFO STREAM first-entry',
});
const lastEntryId = family({
  name: 'redis_stream_last_entry_id',
  type: 'gauge',
  help: `Millisecond part of the id of the stream's newest entry (0 when empty); ${NEWER_FAMILY}`,
  labels: STREAM,
  source: 'XINFO STREAM last-entry',
});
const maxDeletedEntryId = family({
  name: 'redis_stream_max_deleted_entry_id',
  type: 'gauge',
  help: `Millisecond part of the highest id deleted from the stream (XDEL, XTRIM); ${NEWER}`,
  labels: STREAM,
  source: 'XINFO STREAM max-deleted-entry-id',
});
const entriesAdded = family({
  name: 'redis_stream_entries_added_total',
  type: 'counter',
  help: `Entries ever added to the stream, deleted and trimmed ones included (rate() is the XADD rate); ${NEWER}`,
  labels: STREAM,
  source: 'XINFO STREAM entries-added',
});
const groupConsumers = compatFamily({
  name: 'redis_stream_group_consumers',
  type: 'gauge',
  help: 'Consumers of the consumer group',
  labels: GROUP,
  source: 'XINFO GROUPS consumers',
});
const groupPending = compatFamily({
  name: 'redis_stream_group_messages_pending',
  type: 'gauge',
  help: "Entries delivered to the group's consumers and not acknowledged yet (its pending entries list)",
  labels: GROUP,
  source: 'XINFO GROUPS pending',
});
const groupLastDelivered = compatFamily({
  name: 'redis_stream_group_last_delivered_id',
  type: 'gauge',
  help: 'Millisecond part of the id of the last entry delivered to the group',
  labels: GROUP,
  source: 'XINFO GROUPS last-delivered-id',
});
const groupEntriesRead = family({
  name: 'redis_stream_group_entries_read',
  type: 'gauge',
  help: `Logical read counter of the group: entries delivered to it so far (absent when Redis cannot tell); ${NEWER}`,
  labels: GROUP,
  source: 'XINFO GROUPS entries-read',
});
const groupLag = family({
  name: 'redis_stream_group_lag',
  type: 'gauge',
  help: `Entries of the stream not delivered to the group yet: how far its consumers are behind (absent when Redis cannot tell, e.g. after XDEL of an entry past the group's position); ${NEWER}`,
  labels: GROUP,
  source: 'XINFO GROUPS lag',
});
const consumerPending = compatFamily({
  name: 'redis_stream_group_consumer_messages_pending',
  type: 'gauge',
  help: 'Entries delivered to the consumer and not acknowledged yet (absent with --streams-exclude-consumer-metrics)',
  labels: CONSUMER,
  source: 'XINFO CONSUMERS pending',
});
const consumerIdle = compatFamily({
  name: 'redis_stream_group_consumer_idle_seconds',
  type: 'gauge',
  help: "Seconds since the consumer's last attempted read or claim (absent with --streams-exclude-consumer-metrics)",
  labels: CONSUMER,
  source: 'XINFO CONSUMERS idle',
});

/** Writes the series of one stream; consumer series only when asked for. */
function writeStream(
  sink: MetricSink,
  db: number,
  label: string,
  reading: StreamReading,
  consumers: boolean,
): void {
  const s = [`db${db}`, label];
  const { info } = reading;
  sink.add(streamLength, info.length, ...s);
  sink.add(radixTreeKeys, info.radixTreeKeys, ...s);
  sink.add(radixTreeNodes, info.radixTreeNodes, ...s);
  sink.add(lastGeneratedId, streamIdMilliseconds(info.lastGeneratedId), ...s);
  sink.add(groupsCount, info.groups, ...s);
  sink.add(firstEntryId, streamIdMilliseconds(info.firstEntryId), ...s);
  sink.add(lastEntryId, streamIdMilliseconds(info.lastEntryId), ...s);
  if (info.maxDeletedEntryId !== undefined) {
    sink.add(maxDeletedEntryId, streamIdMilliseconds(info.maxDeletedEntryId), ...s);
  }
  if (info.entriesAdded !== undefined) sink.add(entriesAdded, info.entriesAdded, ...s);
  for (const group of reading.groups) {
    const g = [...s, group.name];
    sink.add(groupConsumers, group.consumers, ...g);
    sink.add(groupPending, group.pending, ...g);
    sink.add(groupLastDelivered, streamIdMilliseconds(group.lastDeliveredId), ...g);
    if (group.entriesRead !== undefined) sink.add(groupEntriesRead, group.entriesRead, ...g);
    if (group.lag !== undefined) sink.add(groupLag, group.lag, ...g);
    if (!consumers) continue;
    for (const consumer of group.consumerList) {
      sink.add(consumerPending, consumer.pending, ...g, consumer.name);
      sink.add(consumerIdle, consumer.idleMs / 1000, ...g, consumer.name);
    }
  }
}

/** The series every stream writes, whatever its groups. */
const MIN_STREAM_SERIES = 7;

/** The series writeStream() writes for one stream. */
export function streamSeries(reading: StreamReading, consumers: boolean): number {
  const { info } = reading;
  let series = MIN_STREAM_SERIES;
  if (info.maxDeletedEntryId !== undefined) series++;
  if (info.entriesAdded !== undefined) series++;
  for (const group of reading.groups) {
    series += 3;
    if (group.entriesRead !== undefined) series++;
    if (group.lag !== undefined) series++;
    if (consumers) series += 2 * group.consumerList.length;
  }
  return series;
}

interface StreamSample {
  readonly label: string;
  readonly reading: StreamReading;
}

interface Accumulator {
  /** keyIds kept in this pass (SCAN may return a key twice). */
  readonly read: Set<string>;
  readonly samples: StreamSample[];
  /** Series the samples write, one count each. */
  readonly series: number[];
  /** Streams left out: their series did not fit the allowance. */
  dropped: number;
}

interface PassResult {
  readonly samples: readonly StreamSample[];
  readonly dropped: number;
}

export interface StreamsDependencies {
  readonly config: KeyChecksConfig;
  /** The exporter's one scanner (undefined without a --check-streams pattern). */
  readonly scanner: KeyScanner | undefined;
  readonly redactor: KeyRedactor;
  readonly droppedSeries: DroppedSeries;
}

/**
 * redis_exporter's --check-streams and --check-single-streams: XINFO STREAM,
 * GROUPS and CONSUMERS of configured streams (every scrape, after a TYPE
 * check) and of streams a pattern matches (SCAN TYPE stream through the
 * shared scanner).
 */
export function createStreamsCollector(dependencies: StreamsDependencies): Collector {
  const { config, scanner, droppedSeries } = dependencies;
  const consumers = config.streamConsumers;
  const singles = byDatabase([
    ...config.singleStreams,
    ...config.streams.filter((spec) => isLiteralPattern(spec.key)),
  ]);
  const patterns = uniqueSpecs(config.streams.filter((spec) => !isLiteralPattern(spec.key)));
  const label = patternKeyLabel(config.rawKeyNames, dependencies.redactor);

  const jobs: ScanJob<Accumulator, PassResult>[] = patterns.map((spec) => ({
    id: `db${spec.db} ${spec.key}`,
    db: spec.db,
    match: spec.key,
    type: 'stream',
    begin: () => ({ read: new Set(), samples: [], series: [], dropped: 0 }),
    async visit(accumulator, keys, run, room) {
      const fresh = new Map<string, Buffer>();
      for (const key of keys) {
        const id = keyId(key);
        if (!accumulator.read.has(id)) fresh.set(id, key);
      }
      // With too little of the allowance left for any stream, nothing more is read.
      const open = room.left >= MIN_STREAM_SERIES;
      const readings = open ? await readStreams(run, [...fresh.values()], consumers) : [];
      // Streams deleted since SCAN are neither kept nor dropped.
      if (!open) accumulator.dropped += fresh.size;
      for (const reading of readings) {
        // The cap is on series: a stream with many groups and consumers takes more of it.
        const series = streamSeries(reading, consumers);
        if (room.left < series) {
          accumulator.dropped++;
          continue;
        }
        room.take(series);
        // Only what is kept is remembered: the set stays within the allowance.
        accumulator.read.add(reading.id);
        accumulator.samples.push({ label: label(reading.key), reading });
        accumulator.series.push(series);
      }
    },
    end: ({ samples, series, dropped }, keep) => {
      // Past what the other patterns' results leave of max_series: counted, not served.
      let kept = 0;
      let used = 0;
      while (kept < samples.length && used + (series[kept] as number) <= keep) {
        used += series[kept] as number;
        kept++;
      }
      return {
        samples: kept < samples.length ? samples.slice(0, kept) : samples,
        dropped: dropped + samples.length - kept,
      };
    },
  }));

  return {
    name: NAME,
    modes: ['redis'],
    commands: [INFO_ALL],
    families: [
      streamLength,
      radixTreeKeys,
      radixTreeNodes,
      lastGeneratedId,
      groupsCount,
      firstEntryId,
      lastEntryId,
      maxDeletedEntryId,
      entriesAdded,
      groupConsumers,
      groupPending,
      groupLastDelivered,
      groupEntriesRead,
      groupLag,
      consumerPending,
      consumerIdle,
      keyCheckWrongType,
      ...SCAN_FAMILIES,
      keyChecksSkipped,
    ],
    description:
      'Off unless `key_checks.streams` (--check-streams) or `key_checks.single_streams` ' +
      '(--check-single-streams) is given. A single stream is read at every scrape after TYPE ' +
      'says it is a stream: a missing key has no series, a key of another type gets ' +
      '`redscope_key_check_wrong_type` 1 and no XINFO. A pattern is SCANned with `TYPE stream` ' +
      "through the key collectors' shared scanner (see `key_checks` for the budget, the " +
      'redaction of names and `read_from`), the streams read as each SCAN batch comes; the ' +
      'streams of all patterns together write at most `key_checks.max_series` series (a ' +
      "stream's series: its own, 3-5 per group, 2 per consumer); a stream that does not fit is " +
      'left out and counted (streams, once per pass) in ' +
      '`redscope_exporter_series_dropped_total{collector="streams"}`. A stream deleted or ' +
      'turned into another type between TYPE (or SCAN) and XINFO is left out: that race is ' +
      'the one way the collector can cause an error reply (WRONGTYPE) in Redis. ' +
      'Per stream: XINFO STREAM and XINFO GROUPS in one round trip, then XINFO CONSUMERS per ' +
      'group (not with `key_checks.exclude_stream_consumers`). Group and consumer names are ' +
      'exported as they are. Needs `type`, `xinfo|stream`, `xinfo|groups`, `xinfo|consumers` ' +
      'on the streams and `scan` for patterns.',
    async collect(context, sink) {
      if (scanner !== undefined && jobs.length > 0) scanner.turn(context, NAME);
      if (skippedOnMaster(context, config.readFrom, NAME, sink)) return;
      const written = new WrittenKeys();
      for (const [db, keys] of singles) {
        const run: DbRoundTrip = (commands, options) => context.roundTripOn(db, commands, options);
        const types = await run(keys.map((key) => ['TYPE', key]));
        const streams: string[] = [];
        keys.forEach((key, i) => {
          const type = valueOrThrow(types[i]);
          if (type === 'stream') streams.push(key);
          else if (type !== 'none')
            sink.add(keyCheckWrongType, 1, NAME, `db${db}`, key, String(type));
        });
        for (const reading of await readStreams(run, streams, consumers)) {
          if (written.claim(db, reading.id, reading.key)) {
            writeStream(sink, db, reading.key, reading, consumers);
          }
        }
      }
      await serveSampledScans(
        context,
        NAME,
        { scanner, jobs, maxSeries: config.maxSeries, droppedSeries },
        sink,
        (db, { label, reading }) => {
          if (written.claim(db, reading.id, label))
            writeStream(sink, db, label, reading, consumers);
        },
      );
    },
  };
}
