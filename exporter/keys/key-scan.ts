import type { CollectContext, RedisCommand } from '../collectors/types.js';
import { family, type MetricSink } from '../exposition.js';
import { settledValue } from '../indexed-records.js';

/** Commands on the database a job scans, in one round trip; one settled result each. */
export type DbRoundTrip = (
  commands: readonly RedisCommand[],
) => Promise<PromiseSettledResult<unknown>[]>;

/**
 * One scan of one key collector: a SCAN over one database (optionally MATCH
 * and TYPE), whose keys `visit` reads in batches into an accumulator that
 * becomes the served result when the pass ends. A job is named by `id`,
 * stable across scrapes, so a pass that outlives one scrape continues at the
 * next from its SCAN cursor.
 */
export interface ScanJob<A, R> {
  /** Stable across scrapes, unique within its collector: e.g. `db0 queue:*`. */
  readonly id: string;
  readonly db: number;
  /** SCAN MATCH: a Redis glob. */
  readonly match?: string;
  /** SCAN TYPE (Redis 6+): only keys of this type come back. */
  readonly type?: string;
  /** A fresh accumulator at the start of a pass. */
  begin(): A;
  /** Reads the keys one SCAN call returned (may be none), with more round trips on the job's database. */
  visit(accumulator: A, keys: readonly string[], run: DbRoundTrip): Promise<void>;
  /** The pass is complete: what is served until the next pass completes. */
  end(accumulator: A): R;
}

/** Where one job stands, as the collectors export it. */
export interface ScanStatus<R> {
  /** The result of the last complete pass; undefined until the first one ends. */
  readonly result: R | undefined;
  /** When that pass ended (ms since epoch). */
  readonly completedAt: number | undefined;
  /** Estimated share of the keyspace the pass in progress has covered (1 right after a pass ended). */
  readonly progress: number;
  /** Passes completed since the exporter started. */
  readonly passes: number;
  /** Time the last complete pass spent in its SCAN calls and visits (ms), summed over the scrapes it spanned. */
  readonly passMs: number | undefined;
}

interface JobState {
  cursor: string;
  accumulator: unknown;
  passStarted: boolean;
  result: unknown;
  completedAt: number | undefined;
  progress: number;
  passes: number;
  /** Time the pass in progress has spent so far (ms). */
  spentMs: number;
  lastPassMs: number | undefined;
}

/** Targets whose scans are remembered; past this, the longest-unscraped is forgotten. */
const MAX_REMEMBERED_TARGETS = 256;

const resultAge = family({
  name: 'redscope_key_scan_result_age_seconds',
  type: 'gauge',
  help: 'Age of the result a key collector scan serves: seconds since its last complete pass ended, whose keys the redis_key* and redis_stream* series show until the next pass ends (absent before the first)',
  labels: ['collector', 'db', 'pattern'],
  source: 'the exporter: SCAN passes spread over scrapes',
});
const progress = family({
  name: 'redscope_key_scan_progress_ratio',
  type: 'gauge',
  help: 'Estimated share of the keyspace the scan pass in progress has covered (from the SCAN cursor and INFO keyspace); 1 when the pass ended at this scrape',
  labels: ['collector', 'db', 'pattern'],
  source: 'SCAN cursor, INFO keyspace',
});
const passes = family({
  name: 'redscope_key_scan_passes_total',
  type: 'counter',
  help: 'Complete SCAN passes of a key collector scan since the exporter started',
  labels: ['collector', 'db', 'pattern'],
  source: 'the exporter',
});

/** The families every scanning collector exports about its scans. */
export const SCAN_FAMILIES = [resultAge, progress, passes] as const;

/** Bits needed to write `n`. */
const bitLength = (n: bigint): number => (n === 0n ? 0 : n.toString(2).length);

/**
 * How far a SCAN with `cursor` has come through a table of about `keys` keys.
 * Redis walks its hash table in reverse-binary bucket order, so the cursor's
 * low bits read backwards are the share of buckets done (exact for a table of
 * 2^bits buckets; an estimate while the table rehashes).
 */
export function scanProgress(cursor: string, keys: number): number {
  if (cursor === '0') return 0;
  let value: bigint;
  try {
    value = BigInt(cursor);
  } catch {
    return 0;
  }
  const bits = Math.max(bitLength(value), Math.ceil(Math.log2(Math.max(keys, 2))));
  let reversed = 0n;
  for (let i = 0; i < bits; i++) reversed = (reversed << 1n) | ((value >> BigInt(i)) & 1n);
  return Math.min(1, Number(reversed) / 2 ** bits);
}

/** Keys in logical database `db` from INFO keyspace (0 when the database is empty or INFO was refused). */
export function keysInDb(context: CollectContext, db: number): number {
  try {
    const line = context.info().sections.get('keyspace')?.get(`db${db}`);
    const match = line === undefined ? null : /keys=(\d+)/.exec(line);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs the key collectors' SCAN passes within each scrape's share of time,
 * one cursor per job and target kept between scrapes. A pass that cannot end
 * in one scrape continues at the next while the last complete result is
 * served; a pass that ended starts over at the next scrape, so on a small
 * keyspace every scrape is a fresh pass. Each SCAN asks for `batchSize` keys
 * and each round trip waits for the one before, so Redis serves other
 * clients between any two of our commands. One per exporter.
 */
export class KeyScanner {
  private readonly targets = new Map<string, Map<string, Map<string, JobState>>>();
  /** Per scrape: when all scanning must end and which collectors have had their share. */
  private readonly scrapes = new WeakMap<CollectContext, { until: number; used: Set<string> }>();

  /**
   * @param batchSize SCAN's COUNT.
   * @param budgetMs Time all scanning collectors together may take per scrape.
   * @param collectors How many collectors share that time (each gets an equal part of what is left).
   */
  constructor(
    private readonly batchSize: number,
    private readonly budgetMs: number,
    private readonly collectors: number,
  ) {}

  /** When `collector`'s share of this scrape's scanning time ends: an equal part of what is left. */
  private until(context: CollectContext, collector: string): number {
    const now = Date.now();
    let scrape = this.scrapes.get(context);
    if (scrape === undefined) {
      // At most half of what is left of the scrape: the other collectors and the reply need the rest.
      const until = Math.min(now + this.budgetMs, now + Math.max(0, context.deadline - now) / 2);
      scrape = { until, used: new Set() };
      this.scrapes.set(context, scrape);
    }
    const left = Math.max(1, this.collectors - scrape.used.size);
    scrape.used.add(collector);
    return now + Math.max(0, scrape.until - now) / left;
  }

  private statesOf(target: string, collector: string): Map<string, JobState> {
    let collectors = this.targets.get(target);
    if (collectors === undefined) {
      collectors = new Map();
      if (this.targets.size >= MAX_REMEMBERED_TARGETS) {
        const oldest = this.targets.keys().next().value;
        if (oldest !== undefined) this.targets.delete(oldest);
      }
    } else {
      this.targets.delete(target);
    }
    this.targets.set(target, collectors);
    let states = collectors.get(collector);
    if (states === undefined) {
      states = new Map();
      collectors.set(collector, states);
    }
    return states;
  }

  /**
   * Advances `jobs` of `collector` on the scraped target, round robin one
   * SCAN call at a time, until each has ended one pass or the collector's
   * share of the scrape is spent. Returns every job's status, by id.
   * Throws the first Redis error a SCAN or a visit met (the cursor stays, so
   * the next scrape resumes).
   */
  async advance<R>(
    context: CollectContext,
    collector: string,
    jobs: readonly ScanJob<unknown, R>[],
  ): Promise<Map<string, ScanStatus<R>>> {
    const until = this.until(context, collector);
    const states = this.statesOf(context.target, collector);
    // Jobs no longer configured (a reload) do not linger.
    const ids = new Set(jobs.map((job) => job.id));
    for (const id of states.keys()) if (!ids.has(id)) states.delete(id);

    const active = new Set<ScanJob<unknown, R>>();
    for (const job of jobs) {
      let state = states.get(job.id);
      if (state === undefined) {
        state = {
          cursor: '0',
          accumulator: undefined,
          passStarted: false,
          result: undefined,
          completedAt: undefined,
          progress: 0,
          passes: 0,
          spentMs: 0,
          lastPassMs: undefined,
        };
        states.set(job.id, state);
      }
      active.add(job);
    }

    while (active.size > 0 && Date.now() < until) {
      for (const job of [...active]) {
        if (Date.now() >= until) break;
        const state = states.get(job.id) as JobState;
        if (!state.passStarted) {
          state.accumulator = job.begin();
          state.cursor = '0';
          state.passStarted = true;
          state.spentMs = 0;
        }
        const started = performance.now();
        const scan: string[] = ['SCAN', state.cursor];
        if (job.match !== undefined) scan.push('MATCH', job.match);
        scan.push('COUNT', String(this.batchSize));
        if (job.type !== undefined) scan.push('TYPE', job.type);
        const run: DbRoundTrip = (commands) => context.roundTripOn(job.db, commands);
        const [reply] = await run([scan]);
        const value = settledValue(reply);
        if (value instanceof Error) throw value;
        if (!Array.isArray(value) || value.length !== 2 || !Array.isArray(value[1])) {
          throw new Error(`SCAN on db${job.db} answered something that is not a SCAN reply`);
        }
        const keys = (value[1] as unknown[]).map(String);
        await job.visit(state.accumulator, keys, run);
        state.spentMs += performance.now() - started;
        state.cursor = String(value[0]);
        if (state.cursor === '0') {
          state.result = job.end(state.accumulator);
          state.accumulator = undefined;
          state.passStarted = false;
          state.completedAt = Date.now();
          state.passes++;
          state.lastPassMs = state.spentMs;
          state.progress = 1;
          active.delete(job);
        } else {
          state.progress = scanProgress(state.cursor, keysInDb(context, job.db));
        }
      }
    }

    const statuses = new Map<string, ScanStatus<R>>();
    for (const job of jobs) {
      const state = states.get(job.id) as JobState;
      statuses.set(job.id, {
        result: state.result as R | undefined,
        completedAt: state.completedAt,
        progress: state.progress,
        passes: state.passes,
        passMs: state.lastPassMs,
      });
    }
    return statuses;
  }
}

/** Writes the scan families of one job: `pattern` is the configured pattern (configuration, not data). */
export function writeScanStatus(
  sink: MetricSink,
  collector: string,
  db: number,
  pattern: string,
  status: ScanStatus<unknown>,
): void {
  const labels = [collector, `db${db}`, pattern] as const;
  if (status.completedAt !== undefined) {
    sink.add(resultAge, Math.max(0, Date.now() - status.completedAt) / 1000, ...labels);
  }
  sink.add(progress, status.progress, ...labels);
  sink.add(passes, status.passes, ...labels);
}
