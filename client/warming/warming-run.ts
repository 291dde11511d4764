import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../common/backoff.js';
import type { ProcessIdentity } from '../common/instance-id.js';
import type { WarmingSource, WarmingState, WarmingStatus } from '../common/warming-status.js';
import type { SideConnection } from '../connection/side-connection.js';
import type { LiveWindow } from '../instrumentation/live-latency.js';
import { BASELINE_SECONDS, type LiveTicker, RateControl, WINDOW_SECONDS } from './rate-control.js';
import { writeWarmingStatus } from './status-writer.js';
import { TokenBucket } from './token-bucket.js';
import type { WarmingOutcome, WarmingProgress, WarmingResult, WarmingRun } from './types.js';
import { readUsagePlan } from './usage-record.js';
import {
  type BatchContext,
  type BatchCounts,
  copyBatch,
  FatalError,
  GuardMoved,
  loadBatch,
  messageOf,
  replyError,
  Stopped,
} from './warming-batches.js';
import { WarmingLog } from './warming-log.js';
import type { ResolvedWarmOptions } from './warming-options.js';

/** Attempts of one batch (the first and three retries) before its keys count as failed. */
const MAX_ATTEMPTS = 4;
/** Retry delays: 200 ms, 400 ms, 800 ms (the one backoff formula, common/backoff.ts). */
const retryDelay = exponentialBackoff(200, 5000);
/** Batches failed in a row after which the source is taken to be down and the run fails. */
const MAX_FAILED_BATCHES_IN_A_ROW = 5;
/** How long a run waits for its connections before it fails. */
const CONNECT_WAIT_MS = 30_000;

/** The per-namespace figures the client metrics read (updated as the runs go). */
export class NamespaceFigures {
  warmed = 0;
  skipped = 0;
  failed = 0;
  planned = 0;
  running = false;
  rateLimit = 0;
  readonly runs = new Map<WarmingOutcome, number>();
}

/** What a run needs from its client. */
export interface RunHost {
  /** The records (the usage record it plans from, its status): the client's side connection, db 0. */
  readonly side: SideConnection;
  /** The app's keys: the client's warming connection, in the app's db (see Warming). */
  readonly data: () => Redis | Cluster | undefined;
  readonly logger: Logger;
  readonly identity: ProcessIdentity;
  readonly live: LiveTicker;
  readonly figures: NamespaceFigures;
  /** The last plan a run of each namespace read from the usage record (see plan()). */
  readonly plans: Map<string, readonly string[]>;
}

/** `sleep` that ends early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    // Unref'd: a run never keeps a process alive by itself (closing the client ends it).
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One warming run of one namespace, in the background: the plan in rank
 * order, cut into pipelined batches that a token bucket paces and
 * `concurrency` workers send; every write conditional (SET NX, RESTORE
 * without REPLACE), so a value live traffic wrote is never overwritten. Its
 * commands go on the client's own connections, not the app's: they are not
 * app traffic (not counted, not traced, not in the live latency it backs off on).
 */
export class WarmingRunner implements WarmingRun {
  readonly done: Promise<WarmingResult>;
  private readonly abort = new AbortController();
  private readonly bucket: TokenBucket;
  private control: RateControl | undefined;
  private readonly source: WarmingSource;
  private readonly startedAt = Date.now();
  private readonly startedMono = performance.now();
  private readonly log: WarmingLog;
  private state: WarmingState = 'running';
  private stopping: { outcome: Exclude<WarmingOutcome, 'done'>; reason: string } | undefined;
  private outcome: WarmingOutcome | undefined;
  private reason: string | undefined;
  private finishedAt: number | undefined;
  private planned = 0;
  private warmed = 0;
  private skipped = 0;
  private failed = 0;
  private errors = 0;
  /** The warmer's own failed attempts since the last control tick. */
  private ownErrors = 0;
  private failedInARow = 0;
  private keysPerSecond = 0;
  private lastPeriod = { at: performance.now(), handled: 0 };
  /** Set when the client closes under the run: its status is then written by the close. */
  private detached = false;

  constructor(
    private readonly host: RunHost,
    private readonly settings: ResolvedWarmOptions,
  ) {
    this.source =
      settings.source.kind === 'redis' ? 'redis' : settings.keys !== undefined ? 'keys' : 'usage';
    this.bucket = new TokenBucket(settings.ratePerSecond, settings.batchSize);
    this.log = new WarmingLog(host.logger, settings.namespace);
    host.figures.running = true;
    host.figures.rateLimit = settings.ratePerSecond;
    this.done = this.run();
  }

  get namespace(): string {
    return this.settings.namespace;
  }

  /** The status update period, which sets the record's TTL while running. */
  get periodMs(): number {
    return this.settings.progressEveryMs;
  }

  progress(): WarmingProgress {
    const handled = this.warmed + this.skipped + this.failed;
    const remaining = Math.max(0, this.planned - handled);
    return {
      namespace: this.settings.namespace,
      state: this.state,
      planned: this.planned,
      warmed: this.warmed,
      skipped: this.skipped,
      failed: this.failed,
      errors: this.errors,
      rateLimit: this.state === 'running' ? this.bucket.ratePerSecond : 0,
      keysPerSecond: Math.round(this.keysPerSecond * 10) / 10,
      etaSeconds:
        this.state !== 'running'
          ? 0
          : this.keysPerSecond > 0
            ? Math.round((remaining / this.keysPerSecond) * 10) / 10
            : undefined,
      elapsedMs: Math.round(performance.now() - this.startedMono),
    };
  }

  cancel(): void {
    this.stop('cancelled', 'cancelled');
  }

  /**
   * The client is closing: the run stops now and its last status (cancelled)
   * is what `status()` returns for the close to write.
   */
  detach(): void {
    if (this.state !== 'running') return;
    this.detached = true;
    this.stop('cancelled', 'the client closed');
    this.settle();
  }

  /** The status record as of now. */
  status(): WarmingStatus {
    const { instance, service } = this.host.identity;
    return {
      v: 1,
      instance,
      service,
      namespace: this.settings.namespace,
      state: this.state,
      source: this.source,
      planned: this.planned,
      warmed: this.warmed,
      skipped: this.skipped,
      errors: this.errors,
      startedAt: this.startedAt,
      updatedAt: Date.now(),
      ...(this.finishedAt === undefined ? {} : { finishedAt: this.finishedAt }),
      ...(this.reason === undefined ? {} : { reason: this.reason }),
    };
  }

  private stop(outcome: Exclude<WarmingOutcome, 'done'>, reason: string): void {
    if (this.stopping !== undefined || this.state !== 'running') return;
    this.stopping = { outcome, reason };
    this.abort.abort();
  }

  private async run(): Promise<WarmingResult> {
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe: (() => void) | undefined;
    let redis: Redis | Cluster | undefined;
    try {
      const side = this.host.side.get();
      const data = this.host.data();
      if (side === undefined || data === undefined) throw new Error('the client is closed');
      await Promise.all([this.connected(side), this.connected(data)]);
      redis = side;
      // The seconds before the first batch are the baseline the back-off compares with.
      const [plan, baselineWindow] = await Promise.all([this.plan(side), this.baseline()]);
      this.control = new RateControl(this.settings.ratePerSecond, baselineWindow);
      this.planned = plan.length;
      this.host.figures.planned = plan.length;
      this.log.started({
        source: this.source,
        planned: plan.length,
        ratePerSecond: this.settings.ratePerSecond,
        batchSize: this.settings.batchSize,
        concurrency: this.settings.concurrency,
      });
      void this.publish(redis);
      if (plan.length === 0) {
        this.reason =
          this.source === 'usage'
            ? 'nothing to warm: the usage record of this namespace is empty or missing'
            : 'nothing to warm';
      } else if (!this.targetReached()) {
        this.lastPeriod = { at: performance.now(), handled: 0 };
        unsubscribe = this.host.live.subscribe(() =>
          this.onSecond(this.host.live.window(WINDOW_SECONDS)),
        );
        timers.push(setInterval(() => this.onPeriod(side), this.settings.progressEveryMs));
        for (const timer of timers) timer.unref();
        await this.work(data, plan);
      }
    } catch (error) {
      if (!(error instanceof Stopped)) this.stop('failed', messageOf(error));
    } finally {
      for (const timer of timers) clearInterval(timer);
      unsubscribe?.();
    }
    this.settle();
    if (redis !== undefined && !this.detached) await this.publish(redis);
    const result = this.result();
    this.log.finished(result);
    return result;
  }

  /** Sets the final state and the figures, once. */
  private settle(): void {
    if (this.state !== 'running') return;
    this.outcome = this.stopping?.outcome ?? 'done';
    if (this.stopping !== undefined) this.reason = this.stopping.reason;
    this.state =
      this.outcome === 'done' || this.outcome === 'target_reached' ? 'done' : this.outcome;
    this.finishedAt = Date.now();
    const figures = this.host.figures;
    figures.running = false;
    figures.rateLimit = 0;
    figures.runs.set(this.outcome, (figures.runs.get(this.outcome) ?? 0) + 1);
    // A finished run reports its average rate.
    const seconds = (performance.now() - this.startedMono) / 1000;
    const handled = this.warmed + this.skipped + this.failed;
    this.keysPerSecond = seconds > 0 ? handled / seconds : 0;
  }

  private result(): WarmingResult {
    return {
      ...this.progress(),
      outcome: this.outcome ?? 'done',
      ...(this.reason === undefined ? {} : { reason: this.reason }),
    };
  }

  /** Resolves once `redis` is up (the app may call warm() before Redis is). */
  private async connected(redis: Redis | Cluster): Promise<void> {
    if (redis.status === 'ready') return;
    const signal = this.abort.signal;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        redis.off('ready', onReady);
        signal.removeEventListener('abort', onAbort);
      };
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(new Stopped());
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Redis was not reachable within ${CONNECT_WAIT_MS / 1000} s`));
      }, CONNECT_WAIT_MS);
      timer.unref();
      redis.once('ready', onReady);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The app's commands in the seconds before the run: the last ten when the
   * client keeps them already (a run before this one started its ticker),
   * else the one second this run waits for.
   */
  private async baseline(): Promise<LiveWindow | undefined> {
    const live = this.host.live;
    if (live.seconds === 0) {
      await new Promise<void>((resolve) => {
        const unsubscribe = live.subscribe(() => {
          unsubscribe();
          resolve();
        });
        this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return live.window(BASELINE_SECONDS);
  }

  private async plan(redis: Redis | Cluster): Promise<readonly string[]> {
    if (this.settings.keys !== undefined) return this.settings.keys;
    const { namespace, limit } = this.settings;
    const recorded = await readUsagePlan(redis, namespace, limit);
    // A flush (or a failover to an empty replica) wipes the record with the data: the run
    // that warms after it finds a few keys re-recorded since, or none. The plan the last run
    // read fills the gap, after what the record ranks now.
    const remembered = this.host.plans.get(namespace) ?? [];
    let plan = recorded;
    if (recorded.length < Math.min(limit, remembered.length)) {
      const seen = new Set(recorded);
      plan = [...recorded];
      for (const key of remembered) {
        if (plan.length >= limit) break;
        if (!seen.has(key)) plan.push(key);
      }
    }
    if (plan.length > 0) this.host.plans.set(namespace, plan);
    return plan;
  }

  private targetReached(): boolean {
    const target = this.settings.targetHitRate;
    if (target === undefined) return false;
    let current: number | undefined;
    try {
      current = target.current();
    } catch {
      return false;
    }
    if (current === undefined || !(current >= target.ratio)) return false;
    this.stop('target_reached', 'target_reached');
    return true;
  }

  private async work(redis: Redis | Cluster, plan: readonly string[]): Promise<void> {
    const { batchSize, concurrency } = this.settings;
    let next = 0;
    const worker = async () => {
      while (this.stopping === undefined && next < plan.length) {
        const batch = plan.slice(next, next + batchSize);
        next += batchSize;
        await sleep(this.bucket.take(batch.length), this.abort.signal);
        if (this.stopping !== undefined) return;
        await this.warmBatch(redis, batch);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** One batch, retried with backoff on errors; its keys count once, when an attempt completes. */
  private async warmBatch(redis: Redis | Cluster, keys: readonly string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const source = this.settings.source;
        const counts =
          source.kind === 'redis'
            ? await copyBatch(this.batchContext(redis), source.from, keys)
            : await loadBatch(this.batchContext(redis), source, keys);
        this.count(counts);
        this.failedInARow = 0;
        return;
      } catch (error) {
        if (this.stopping !== undefined) return;
        if (error instanceof FatalError) {
          this.stop('failed', error.message);
          return;
        }
        if (error instanceof GuardMoved && attempt < MAX_ATTEMPTS) {
          // Another try queries the source again: it pays for its keys like the first one did.
          await sleep(this.bucket.take(keys.length), this.abort.signal);
          if (this.stopping !== undefined) return;
          continue;
        }
        if (error instanceof GuardMoved) {
          // Deletes keep racing this batch: leave it to live traffic, and say so in the errors,
          // or a run that warmed nothing would end `done` without a trace.
          this.errors += 1;
          this.count({ warmed: 0, skipped: keys.length, failed: 0 });
          return;
        }
        this.errors += 1;
        this.ownErrors += 1;
        const last = attempt >= MAX_ATTEMPTS;
        const delayMs = last ? 0 : retryDelay(attempt);
        this.log.attemptFailed(error, keys.length, attempt, delayMs);
        if (last) {
          this.count({ warmed: 0, skipped: 0, failed: keys.length });
          this.failedInARow += 1;
          if (this.failedInARow >= MAX_FAILED_BATCHES_IN_A_ROW) {
            this.stop(
              'failed',
              `${this.failedInARow} batches in a row failed every attempt; last error: ${messageOf(error)}`,
            );
          }
          return;
        }
        await sleep(delayMs, this.abort.signal);
        await sleep(this.bucket.take(keys.length), this.abort.signal);
        if (this.stopping !== undefined) return;
      }
    }
  }

  private batchContext(redis: Redis | Cluster): BatchContext {
    return {
      redis,
      signal: this.abort.signal,
      stopped: () => this.stopping !== undefined,
      badValues: (keys, types) => this.log.badValues(keys, types),
    };
  }

  private count(counts: BatchCounts): void {
    this.warmed += counts.warmed;
    this.skipped += counts.skipped;
    this.failed += counts.failed;
    const figures = this.host.figures;
    figures.warmed += counts.warmed;
    figures.skipped += counts.skipped;
    figures.failed += counts.failed;
  }

  /** Once a second while running: the back-off, and the target. */
  private onSecond(window: LiveWindow | undefined): void {
    if (this.stopping !== undefined || this.control === undefined) return;
    this.targetReached();
    const decision = this.control.onSecond(window, this.ownErrors);
    this.ownErrors = 0;
    this.bucket.setRate(decision.rate);
    this.host.figures.rateLimit = decision.rate;
    if (decision.backedOff !== undefined) this.log.backedOff(decision, this.control.baselineP99Ms);
  }

  private updatePeriod(): void {
    const now = performance.now();
    const handled = this.warmed + this.skipped + this.failed;
    const seconds = (now - this.lastPeriod.at) / 1000;
    if (seconds > 0.05) this.keysPerSecond = (handled - this.lastPeriod.handled) / seconds;
    this.lastPeriod = { at: now, handled };
  }

  /** Every progressEveryMs: a progress line and the status record. */
  private onPeriod(redis: Redis | Cluster): void {
    if (this.state !== 'running') return;
    this.targetReached();
    this.updatePeriod();
    this.log.progress(this.progress());
    void this.publish(redis);
  }

  /** Writes the status record (with its index entry); never throws. */
  private async publish(redis: Redis | Cluster): Promise<void> {
    if (this.detached) return;
    const status = this.status();
    try {
      const replies = await writeWarmingStatus(redis, status, this.settings.progressEveryMs);
      const failure = replyError(replies);
      if (failure !== undefined) throw failure;
    } catch (error) {
      if (!this.detached) this.log.statusFailed(error);
    }
  }
}
