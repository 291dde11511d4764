import type { CollectContext, KeyCommand } from '../collectors/types.js';
import { family, type MetricSink } from '../exposition.js';
import { valueOrThrow } from '../indexed-records.js';
import { parseKeyValueList } from '../info-parser.js';
import { RecentMap } from '../recent-map.js';
import { ScrapeTimeoutError } from '../scrape-errors.js';

/**
 * Commands on the database a job scans, in one round trip; one settled result
 * each. Keys may be Buffers; with `buffers`, bulk replies are Buffers too. Each
 * round trip ends with the collector's share of the scrape (plus a short grace).
 */
export type DbRoundTrip = (
  commands: readonly KeyCommand[],
  options?: { readonly buffers?: boolean },
) => Promise<PromiseSettledResult<unknown>[]>;

/**
 * What one pass may still keep of its collector's allowance: the samples (keys,
 * stream series, key groups) held by every pass in progress of one collector
 * on one scope together stay within the allowance, and so do the results they
 * serve, so a collector holds at most twice its allowance whatever the number
 * of its patterns.
 */
export interface PassRoom {
  /** Takes up to `wanted` samples; returns how many it got (0 once the allowance is spent). */
  take(wanted: number): number;
  /** Samples the pass could still take. */
  readonly left: number;
}

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
  /**
   * Reads the keys one SCAN call returned (may be none; bytes as Redis holds
   * them), with more round trips on the job's database, keeping only what
   * `room` grants. Must change `accumulator` only after its last await.
   */
  visit(accumulator: A, keys: readonly Buffer[], run: DbRoundTrip, room: PassRoom): Promise<void>;
  /**
   * The pass is complete: what is served until the next pass completes. At
   * most `keep` of the samples the pass took may be kept: the results the
   * collector's other jobs serve hold the rest of the allowance.
   */
  end(accumulator: A, keep: number): R;
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
  /** Whether that pass ended at this scrape (what it left out is counted once, then). */
  readonly endedNow: boolean;
}

interface JobState {
  cursor: string;
  accumulator: unknown;
  room: PassRoom | undefined;
  passStarted: boolean;
  result: unknown;
  completedAt: number | undefined;
  progress: number;
  passes: number;
  /** Time the pass in progress has spent so far (ms). */
  spentMs: number;
  lastPassMs: number | undefined;
}

/**
 * Scopes (target and credentials) whose scans are remembered; past this, the
 * longest-unscraped is forgotten and its next scrape starts its passes over.
 */
export const MAX_SCAN_SCOPES = 64;

/** How long a scan round trip may outlast its collector's share before the pass is given up. */
export const ROUND_TRIP_GRACE_MS = 100;

/** One pass's take of an allowance. */
interface PassTake {
  taken: number;
  live: boolean;
}

/**
 * One collector's allowance on one scope: `max` samples for its passes in
 * progress together and `max` for the results it serves together.
 */
class Allowance {
  private readonly passes = new Map<string, PassTake>();
  private readonly served = new Map<string, number>();

  constructor(readonly max: number) {}

  private inProgress(): number {
    let total = 0;
    for (const pass of this.passes.values()) total += pass.taken;
    return total;
  }

  /** The room of a pass of job `id` that starts now. */
  begin(id: string): PassRoom {
    this.abandon(id);
    const pass: PassTake = { taken: 0, live: true };
    this.passes.set(id, pass);
    const left = () => (pass.live ? Math.max(0, this.max - this.inProgress()) : 0);
    return {
      take(wanted) {
        const granted = Math.max(0, Math.min(wanted, left()));
        pass.taken += granted;
        return granted;
      },
      get left() {
        return left();
      },
    };
  }

  /** The pass of `id` in progress is dropped: its room grants nothing more. */
  abandon(id: string): void {
    const pass = this.passes.get(id);
    if (pass === undefined) return;
    pass.live = false;
    this.passes.delete(id);
  }

  /** The pass of `id` ended: how many of its samples it may serve beside the other jobs' results. */
  end(id: string): number {
    const taken = this.passes.get(id)?.taken ?? 0;
    this.abandon(id);
    let others = 0;
    for (const [job, count] of this.served) if (job !== id) others += count;
    const keep = Math.max(0, Math.min(taken, this.max - others));
    this.served.set(id, keep);
    return keep;
  }

  forget(id: string): void {
    this.abandon(id);
    this.served.delete(id);
  }
}

/** One collector's scans on one scope. */
interface CollectorScans {
  readonly jobs: Map<string, JobState>;
  readonly allowance: Allowance;
  /** The advance() running for these scans, if any. */
  owner: object | undefined;
}

/** A newer advance() took these scans over while this one waited for Redis. */
class SupersededScanError extends Error {
  override readonly name = 'SupersededScanError';
  constructor() {
    super('a later scrape took over this scan');
  }
}

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
function keysInDb(context: CollectContext, db: number): number {
  try {
    const line = context.info().sections.get('keyspace')?.get(`db${db}`);
    const keys = Number(line === undefined ? 0 : parseKeyValueList(line).get('keys'));
    return Number.isFinite(keys) ? keys : 0;
  } catch {
    return 0;
  }
}

/**
 * When a scan that starts `now` must stop: after `budgetMs`, and at most
 * half of what is left of the scrape (the other collectors and the reply need
 * the rest). The rule of the key collectors and of the LFU sampler.
 */
export function scanWindowEnd(now: number, budgetMs: number, deadline: number): number {
  return Math.min(now + budgetMs, now + Math.max(0, deadline - now) / 2);
}

/** A SCAN reply `[cursor, [key...]]`, or undefined when the reply is not one. */
export function parseScanReply(reply: unknown): { cursor: string; keys: unknown[] } | undefined {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) return undefined;
  return { cursor: String(reply[0]), keys: reply[1] as unknown[] };
}

const asBuffer = (key: unknown): Buffer =>
  Buffer.isBuffer(key) ? key : Buffer.from(String(key), 'utf8');

/**
 * Runs the key collectors' SCAN passes within each scrape's share of time,
 * one cursor per job, collector and scope (target and credentials) kept
 * between scrapes. A pass that cannot end in one scrape continues at the next
 * while the last complete result is served; a pass that ended starts over at
 * the next scrape, so on a small keyspace every scrape is a fresh pass. Each
 * SCAN asks for `batchSize` keys and each round trip waits for the one
 * before, so Redis serves other clients between any two of our commands; a
 * round trip that outlasts the collector's share gives up the pass in
 * progress (the next starts over) and the last complete result is served.
 * One per exporter.
 */
export class KeyScanner {
  private readonly scopes = new RecentMap<string, Map<string, CollectorScans>>(MAX_SCAN_SCOPES);
  /** Per scrape: when all scanning must end and which collectors have had their turn. */
  private readonly scrapes = new WeakMap<CollectContext, { until: number; turns: Set<string> }>();

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

  private scrapeOf(context: CollectContext): { until: number; turns: Set<string> } {
    let scrape = this.scrapes.get(context);
    if (scrape === undefined) {
      scrape = {
        until: scanWindowEnd(Date.now(), this.budgetMs, context.deadline),
        turns: new Set(),
      };
      this.scrapes.set(context, scrape);
    }
    return scrape;
  }

  /**
   * Counts `collector`'s turn in this scrape whether or not it scans (left
   * alone on a master, failed before its scan): the scanning collectors after
   * it then share what is left without it. Called first thing in collect().
   */
  turn(context: CollectContext, collector: string): void {
    this.scrapeOf(context).turns.add(collector);
  }

  /** When `collector`'s share of this scrape's scanning time ends: an equal part of what is left. */
  private until(context: CollectContext, collector: string): number {
    const scrape = this.scrapeOf(context);
    scrape.turns.add(collector);
    const now = Date.now();
    // This collector and those that have not had their turn yet share what is left.
    const left = Math.max(1, this.collectors - scrape.turns.size + 1);
    return now + Math.max(0, scrape.until - now) / left;
  }

  private scansOf(scope: string, collector: string, maxSamples: number): CollectorScans {
    const collectors = this.scopes.use(scope, () => new Map<string, CollectorScans>());
    let scans = collectors.get(collector);
    if (scans === undefined || scans.allowance.max !== maxSamples) {
      scans = { jobs: new Map(), allowance: new Allowance(maxSamples), owner: undefined };
      collectors.set(collector, scans);
    }
    return scans;
  }

  /** Gives up the pass of `id` in progress: the next starts over from cursor 0 with a fresh accumulator. */
  private abandon(scans: CollectorScans, id: string, state: JobState): void {
    scans.allowance.abandon(id);
    state.cursor = '0';
    state.accumulator = undefined;
    state.room = undefined;
    state.passStarted = false;
    state.progress = 0;
  }

  /**
   * Advances `jobs` of `collector` on the scraped scope, round robin one SCAN
   * call at a time, until each has ended one pass or the collector's share of
   * the scrape is spent. `maxSamples` is the collector's allowance (see
   * PassRoom). Returns every job's status, by id. A round trip Redis does not
   * answer within the share ends the scan for this scrape and gives up the
   * pass in progress; the statuses still come back, with the last complete
   * results. Throws the first Redis error a SCAN or a visit met (the cursor
   * stays, so the next scrape resumes).
   */
  async advance<R>(
    context: CollectContext,
    collector: string,
    jobs: readonly ScanJob<unknown, R>[],
    maxSamples = Number.POSITIVE_INFINITY,
  ): Promise<Map<string, ScanStatus<R>>> {
    const until = this.until(context, collector);
    const scans = this.scansOf(context.scope, collector, maxSamples);
    const { jobs: states, allowance } = scans;
    // An advance of an earlier scrape is still waiting for Redis (that scrape gave up on it):
    // its passes are given up, so its late replies only reach accumulators nobody reads.
    if (scans.owner !== undefined) {
      for (const [id, state] of states) this.abandon(scans, id, state);
    }
    const owner = {};
    scans.owner = owner;
    try {
      // Jobs no longer configured (a reload) do not linger.
      const ids = new Set(jobs.map((job) => job.id));
      for (const id of states.keys()) {
        if (ids.has(id)) continue;
        states.delete(id);
        allowance.forget(id);
      }
      const active = new Set<ScanJob<unknown, R>>();
      for (const job of jobs) {
        if (!states.has(job.id)) {
          states.set(job.id, {
            cursor: '0',
            accumulator: undefined,
            room: undefined,
            passStarted: false,
            result: undefined,
            completedAt: undefined,
            progress: 0,
            passes: 0,
            spentMs: 0,
            lastPassMs: undefined,
          });
        }
        active.add(job);
      }

      const ended = new Set<string>();
      const roundTripsUntil = until + ROUND_TRIP_GRACE_MS;
      let outOfTime = false;
      while (active.size > 0 && !outOfTime && Date.now() < until) {
        for (const job of [...active]) {
          if (Date.now() >= until) break;
          const state = states.get(job.id) as JobState;
          if (!state.passStarted) {
            state.accumulator = job.begin();
            state.room = allowance.begin(job.id);
            state.cursor = '0';
            state.passStarted = true;
            state.spentMs = 0;
          }
          const started = performance.now();
          const scan: string[] = ['SCAN', state.cursor];
          if (job.match !== undefined) scan.push('MATCH', job.match);
          scan.push('COUNT', String(this.batchSize));
          if (job.type !== undefined) scan.push('TYPE', job.type);
          const run: DbRoundTrip = (commands, options) =>
            context.roundTripOn(job.db, commands, { ...options, until: roundTripsUntil });
          let cursor: string;
          try {
            const [reply] = await run([scan], { buffers: true });
            if (scans.owner !== owner) throw new SupersededScanError();
            const parsed = parseScanReply(valueOrThrow(reply));
            if (parsed === undefined) {
              throw new Error(`SCAN on db${job.db} answered something that is not a SCAN reply`);
            }
            cursor = parsed.cursor;
            await job.visit(
              state.accumulator,
              parsed.keys.map(asBuffer),
              run,
              state.room as PassRoom,
            );
            if (scans.owner !== owner) throw new SupersededScanError();
          } catch (error) {
            if (!(error instanceof ScrapeTimeoutError)) throw error;
            // Redis did not answer within the share: the last complete result is served,
            // and the next scrape starts this pass over.
            this.abandon(scans, job.id, state);
            outOfTime = true;
            break;
          }
          state.spentMs += performance.now() - started;
          state.cursor = cursor;
          if (cursor === '0') {
            state.result = job.end(state.accumulator, allowance.end(job.id));
            state.accumulator = undefined;
            state.room = undefined;
            state.passStarted = false;
            state.completedAt = Date.now();
            state.passes++;
            state.lastPassMs = state.spentMs;
            state.progress = 1;
            ended.add(job.id);
            active.delete(job);
          } else {
            state.progress = scanProgress(cursor, keysInDb(context, job.db));
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
          endedNow: ended.has(job.id),
        });
      }
      return statuses;
    } finally {
      if (scans.owner === owner) scans.owner = undefined;
    }
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
