import { ReplyError } from 'ioredis';
import type { Logger } from 'pino';
import { sentinelUp } from './collectors/sentinel.js';
import type {
  CollectContext,
  Collector,
  CollectorOptions,
  RedisCommand,
  TargetMode,
} from './collectors/types.js';
import { commandsOn, INFO_ALL, runsOn } from './collectors/types.js';
import { MetricSink } from './exposition.js';
import { type ParsedInfo, parseInfo } from './info-parser.js';
import {
  classifyScrapeError,
  describeScrapeError,
  type ScrapeErrorReason,
  ScrapeTimeoutError,
} from './scrape-errors.js';
import {
  collectorDuration,
  collectorSuccess,
  type ExporterTelemetry,
  redisUp,
} from './self-metrics.js';
import type { TargetAccess } from './target-credentials.js';
import {
  pipelineRoundTrip,
  type TargetConnection,
  type TargetPool,
  withDeadline,
} from './target-pool.js';

/** One collection of one target: the rendered families and what to remember about it. */
interface Collection {
  readonly text: string;
  readonly durationSeconds: number;
  readonly connectSeconds: number;
  readonly reason?: ScrapeErrorReason;
  readonly error?: string;
}

const keyOf = (command: RedisCommand) => command.join(' ');

/**
 * Runs the collectors against one target: one pipeline on the target's
 * persistent connection, within the scrape's time budget, shared by every
 * scrape of that target with the same credentials that arrives while it runs
 * (single-flight).
 */
export class Scraper {
  constructor(
    private readonly pool: TargetPool,
    private readonly telemetry: ExporterTelemetry,
    private readonly collectors: readonly Collector[],
    private readonly options: CollectorOptions,
    private readonly logger: Logger,
  ) {}

  /** The exposition text for `access.target`, ready within `budgetMs` whatever the target does. */
  async scrape(access: TargetAccess, budgetMs: number): Promise<string> {
    const { target } = access;
    const deadline = Date.now() + budgetMs;
    const connection = this.pool.get(access);
    let shared = connection.inflight as Promise<Collection> | undefined;
    // The collection this scrape starts keeps its own deadline and always settles by
    // it; the grace only covers timer jitter, so its outcome (e.g. a timeout) is what
    // gets counted. A scrape that joins another's collection waits on its own clock.
    let waitUntil = deadline;
    if (!shared) {
      waitUntil = deadline + 250;
      const started = this.collect(connection, deadline, budgetMs);
      shared = started;
      connection.inflight = started;
      started.then(
        (collection) => {
          if (connection.inflight === started) connection.inflight = undefined;
          this.telemetry.record(target.key, collection.durationSeconds, collection.reason);
        },
        () => {
          if (connection.inflight === started) connection.inflight = undefined;
        },
      );
    }
    let collection: Collection;
    try {
      collection = await withDeadline(shared, waitUntil, budgetMs);
    } catch (error) {
      // A scrape that joined a collection started under a longer budget gives up on its own clock.
      collection = this.failed(connection, error, budgetMs / 1000, 0, false);
    }
    const self = new MetricSink();
    this.telemetry.renderCompat(
      self,
      target.key,
      collection.durationSeconds,
      collection.connectSeconds,
      collection.error,
    );
    this.telemetry.render(self, target.key);
    return collection.text + self.render();
  }

  private async collect(
    connection: TargetConnection,
    deadline: number,
    budgetMs: number,
  ): Promise<Collection> {
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;

    let client: Awaited<ReturnType<TargetConnection['ready']>>;
    try {
      client = await connection.ready(deadline, budgetMs);
    } catch (error) {
      return this.failed(connection, error, elapsed(), connection.lastConnectSeconds);
    }
    const mode: TargetMode = connection.mode ?? 'redis';
    const active = this.collectors.filter((c) => runsOn(c, mode));
    const commands = new Map<string, RedisCommand>();
    for (const collector of active) {
      for (const c of commandsOn(collector, mode)) commands.set(keyOf(c), c);
    }

    const replies = new Map<string, [Error | null, unknown]>();
    if (commands.size > 0) {
      let results: [Error | null, unknown][] | null;
      try {
        const pipeline = client.pipeline();
        for (const [name, ...args] of commands.values()) pipeline.call(name as string, ...args);
        results = await withDeadline(pipeline.exec(), deadline, budgetMs);
      } catch (error) {
        return this.failed(connection, error, elapsed(), connection.lastConnectSeconds);
      }
      const list = results ?? [];
      [...commands.keys()].forEach((key, i) => {
        replies.set(key, list[i] ?? [new Error('no reply'), undefined]);
      });
      // The target did not answer at all (connection lost mid-pipeline, auth revoked): it is down.
      const errors = list.map(([error]) => error);
      if (errors.length > 0 && errors.every((e) => e !== null && !isPermissionOrCommandError(e))) {
        return this.failed(connection, errors[0], elapsed(), connection.lastConnectSeconds);
      }
    }

    let parsedInfo: ParsedInfo | undefined;
    const context: CollectContext = {
      reply(command) {
        const reply = replies.get(keyOf(command));
        if (!reply) throw new Error(`${keyOf(command)} was not part of this scrape`);
        if (reply[0]) throw reply[0];
        return reply[1];
      },
      info() {
        parsedInfo ??= parseInfo(String(context.reply(INFO_ALL)));
        return parsedInfo;
      },
      roundTrip: (more) => pipelineRoundTrip(client, more, deadline, budgetMs),
      roundTripOn: async (db, more, { until = deadline, buffers = false } = {}) => {
        const by = Math.min(until, deadline);
        // The share's own length names a timeout that ends before the scrape's.
        const ms = by < deadline ? Math.max(0, Math.round(by - Date.now())) : budgetMs;
        const on = db === 0 ? client : await connection.database(db, by, ms);
        try {
          return await pipelineRoundTrip(on, more, by, ms, buffers);
        } catch (error) {
          // A late reply would answer the next command sent on it: that connection goes.
          if (db !== 0 && error instanceof ScrapeTimeoutError) connection.discardDatabase(db);
          throw error;
        }
      },
      connection: connection.connection,
      mode,
      target: connection.target.key,
      scope: connection.scope,
      deadline,
      options: this.options,
      nowSeconds: Date.now() / 1000,
    };

    const sink = new MetricSink();
    sink.add(redisUp, 1);
    const outcomes: [string, number, number][] = [];
    let timedOut = false;
    for (const collector of active) {
      const own = new MetricSink();
      try {
        if (timedOut) throw new ScrapeTimeoutError(budgetMs);
        const result = collector.collect(context, own);
        if (result instanceof Promise) await withDeadline(result, deadline, budgetMs);
        sink.merge(own);
        outcomes.push([collector.name, 1, elapsed()]);
      } catch (error) {
        if (error instanceof ScrapeTimeoutError) timedOut = true;
        outcomes.push([collector.name, 0, elapsed()]);
        this.logger.debug(
          {
            target: connection.target.key,
            collector: collector.name,
            err: describeScrapeError(error),
          },
          'collector failed',
        );
      }
    }
    if (timedOut) connection.discard();
    for (const [name, ok] of outcomes) sink.add(collectorSuccess, ok, name);
    for (const [name, , seconds] of outcomes) sink.add(collectorDuration, seconds, name);
    if (mode === 'sentinel') sink.add(sentinelUp, 1);
    if (connection.failingReason !== undefined) {
      this.logger.info({ target: connection.target.key }, 'target answers again');
      connection.failingReason = undefined;
    }
    return {
      text: sink.render(),
      durationSeconds: elapsed(),
      connectSeconds: connection.lastConnectSeconds,
    };
  }

  private failed(
    connection: TargetConnection,
    error: unknown,
    durationSeconds: number,
    connectSeconds: number,
    owner = true,
  ): Collection {
    const reason = classifyScrapeError(error);
    const message = describeScrapeError(error);
    if (owner && (reason === 'timeout' || reason === 'protocol')) connection.discard();
    // One line when a target starts failing (or fails differently), not one per scrape:
    // a dead target scraped every 15 s must not flood the log; the counter has the rest.
    if (owner && connection.failingReason !== reason) {
      connection.failingReason = reason;
      this.logger.warn(
        { target: connection.target.key, reason, err: message },
        'target did not answer',
      );
    }
    const sink = new MetricSink();
    sink.add(redisUp, 0);
    for (const collector of this.collectors) {
      if (runsOn(collector, connection.mode ?? 'redis'))
        sink.add(collectorSuccess, 0, collector.name);
    }
    if (connection.mode === 'sentinel') sink.add(sentinelUp, 0);
    return {
      text: sink.render(),
      durationSeconds,
      connectSeconds,
      reason,
      error: `${reason}: ${message}`,
    };
  }
}

/** A reply error from a live Redis about one command (NOPERM, unknown command), not about the connection. */
function isPermissionOrCommandError(error: Error): boolean {
  if (!(error instanceof ReplyError)) return false;
  return !/^(NOAUTH|WRONGPASS)/.test(error.message);
}
