import type { Cluster, Command, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isCluster } from '../common/cluster-routing.js';
import type { HotKeyReport, HotKeyReportEntry } from '../common/hotkey-report.js';
import { KeyRedactor } from '../common/key-redaction.js';
import type { SideConnection } from '../connection/side-connection.js';
import { visitKeys } from '../instrumentation/command-keys.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { runDetached } from '../logging/request-context.js';
import { ClusterNearCache, type NearCacheLike } from './cluster-near-cache.js';
import type { ResolvedHotKeyOptions } from './hotkey-options.js';
import { HotKeyReporter } from './hotkey-reporter.js';
import { type HotKeyView, NearCache, type NearCacheStats } from './near-cache.js';
import { TopKSketch } from './top-k.js';

/** How often the window slides and the hot set is re-evaluated: detection lags by at most this. */
const EVALUATE_EVERY_MS = 250;

/** This process's view of its hot keys, key names redacted. */
export interface HotKeySnapshot {
  readonly thresholdPerMinute: number;
  /** Hottest first. */
  readonly keys: readonly HotKeyReportEntry[];
  /** Keys at or over the threshold among all tracked keys. */
  readonly keysOverThreshold: number;
  /** What the sketch holds, by its own accounting. */
  readonly sketchBytes: number;
}

/**
 * Hot-key detection for one instrumented client: every key of every command
 * (pipelines and MULTI included) is counted in a top-k sketch; keys at or
 * over the threshold form the hot set, re-evaluated four times a second; a
 * report goes to Redis every interval; and, when enabled, the near-cache
 * serves reads of hot keys. Only redacted names leave this object.
 */
export class HotKeys implements HotKeyView {
  private readonly sketch: TopKSketch;
  private readonly redactor: KeyRedactor;
  private hot = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly reporter: HotKeyReporter | undefined;
  private readonly nearCache: NearCacheLike | undefined;
  private readonly transitions = new LogThrottle(10_000, 20);
  private closed = false;
  /** Bound once, so counting a key allocates no closure. */
  private readonly count = (key: string) => this.sketch.add(key, this.clock);
  private readonly written = (key: string) => this.nearCache?.written(key);

  /**
   * `side`: the client's bookkeeping connection, for the reports; `writer`:
   * what the near-cache duplicates (on a Cluster, each master node's connection).
   */
  constructor(
    writer: Redis | Cluster,
    side: SideConnection,
    readonly settings: ResolvedHotKeyOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.sketch = new TopKSketch(
      {
        trackedKeys: settings.trackedKeys,
        windowMs: settings.windowMs,
        memoryBytes: settings.memoryBytes,
      },
      clock(),
    );
    this.redactor = new KeyRedactor({ secret: settings.secret, patterns: settings.patterns });
    this.timer = setInterval(() => {
      // A timer's exception would be the app's uncaught exception: a broken logger costs a tick.
      try {
        this.evaluate(this.clock());
      } catch {
        // the next tick tries again
      }
    }, EVALUATE_EVERY_MS);
    this.timer.unref();
    this.reporter = settings.report.enabled
      ? new HotKeyReporter(
          side,
          settings.report.instance,
          settings.report.intervalMs,
          () => this.report(),
          logger,
        )
      : undefined;
    const near = settings.nearCache;
    this.nearCache =
      near === undefined
        ? undefined
        : isCluster(writer)
          ? new ClusterNearCache(writer, near, this, logger)
          : new NearCache(writer, near, this, logger);
  }

  /** Counts the keys of one command; never throws into the command path. */
  observe(command: Command): void {
    try {
      visitKeys(command, this.count);
      // A write (anything but a cacheable read) by this process drops the keys' cached values
      // before it is sent: the app reads its own writes, without waiting for the invalidation.
      const near = this.nearCache;
      if (near !== undefined && !near.empty && !NearCache.isCacheableRead(command)) {
        visitKeys(command, this.written);
      }
    } catch {
      // A command ioredis cannot find keys for is simply not counted.
    }
  }

  isHot(key: string): boolean {
    return this.hot.has(key);
  }

  servedLocally(key: string): void {
    this.sketch.servedLocally(key);
  }

  /** The near-cache's answer for a single command (see NearCache.serve). */
  serve(command: Command): boolean {
    return this.nearCache?.serve(command) === true;
  }

  /** Sends a single read of a hot key through the near-cache's tracked connection (see NearCache.route). */
  route(command: Command): boolean {
    return this.nearCache?.route(command) === true;
  }

  nearCacheStats(): NearCacheStats | undefined {
    return this.nearCache?.stats();
  }

  reportCounts(): { readonly published: number; readonly failed: number } | undefined {
    return this.reporter;
  }

  /**
   * Slides the window and recomputes the hot set; a key that turns hot or
   * cools down is logged (redacted, throttled).
   */
  evaluate(now: number): void {
    this.sketch.advance(now);
    const threshold = this.settings.thresholdPerMinute;
    const next = new Set<string>();
    for (const entry of this.sketch.top(this.settings.trackedKeys, now)) {
      if (entry.ratePerMinute >= threshold) next.add(entry.key);
    }
    for (const key of next) {
      if (!this.hot.has(key)) this.logTransition('redis.hotkey_detected', key, now);
    }
    for (const key of this.hot) {
      if (!next.has(key)) this.logTransition('redis.hotkey_cooled', key, now);
    }
    this.hot = next;
  }

  /** The hottest `limit` keys, redacted; `hot` is the evaluated hot set the near-cache acts on. */
  snapshot(limit: number): HotKeySnapshot {
    const keys: HotKeyReportEntry[] = [];
    if (limit > 0) {
      for (const entry of this.sketch.top(limit, this.clock())) {
        keys.push({
          key: this.redactor.redact(entry.key),
          rate: round(entry.ratePerMinute),
          redisRate: round(entry.redisRatePerMinute),
          hot: this.hot.has(entry.key),
        });
      }
    }
    return {
      thresholdPerMinute: this.settings.thresholdPerMinute,
      keys,
      keysOverThreshold: this.hot.size,
      sketchBytes: this.sketch.memoryBytes(),
    };
  }

  /** Publishes the report now (the timer does it every interval). */
  publish(): Promise<boolean> {
    return this.reporter?.publish() ?? Promise.resolve(false);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.reporter?.close();
    this.nearCache?.close();
  }

  private report(): HotKeyReport {
    const { report, thresholdPerMinute, windowMs } = this.settings;
    return {
      v: 1,
      instance: report.instance,
      service: report.service,
      at: Date.now(),
      windowSeconds: windowMs / 1000,
      thresholdPerMinute,
      keys: this.snapshot(report.top).keys,
    };
  }

  private logTransition(
    event: 'redis.hotkey_detected' | 'redis.hotkey_cooled',
    key: string,
    now: number,
  ): void {
    const held = this.transitions.take(event, now);
    if (held === undefined) return;
    const fields = {
      key: this.redactor.redact(key),
      rate_per_minute: round(this.sketch.rateOf(key, now)),
      threshold_per_minute: this.settings.thresholdPerMinute,
      ...(held > 0 ? { suppressed: held } : {}),
    };
    runDetached(() => {
      if (event === 'redis.hotkey_detected') {
        this.logger.warn(
          { event: 'redis.hotkey_detected', ...fields },
          'a Redis key turned hot in this process',
        );
      } else {
        this.logger.info(
          { event: 'redis.hotkey_cooled', ...fields },
          'a hot Redis key cooled down',
        );
      }
    });
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
