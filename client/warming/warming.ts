import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ProcessIdentity } from '../common/instance-id.js';
import { ownDuplicate, type SideConnection } from '../connection/side-connection.js';
import { ConfigError } from '../errors.js';
import type { LiveLatency } from '../instrumentation/live-latency.js';
import { LiveTicker } from './rate-control.js';
import { writeWarmingStatus } from './status-writer.js';
import type { WarmingRun, WarmOptions } from './types.js';
import { resolveWarmOptions } from './warming-options.js';
import { NamespaceFigures, WarmingRunner } from './warming-run.js';

/** Distinct namespaces one client warms: one metric series each. */
const MAX_NAMESPACES = 64;

/** What the warming of one client builds on. */
export interface WarmingHost {
  /** The app's master connection, duplicated for the runs' reads and writes of the app's keys. */
  readonly writer: Redis | Cluster;
  /** The client's records (status, usage record). */
  readonly side: SideConnection;
  readonly logger: Logger;
  /** Resolved at the first run (a bad OTEL_SERVICE_NAME then throws ConfigError there). */
  readonly identity: () => ProcessIdentity;
  readonly latency: LiveLatency;
  /** The namespaces the client records usage for, when it records any. */
  readonly recorded: readonly string[] | undefined;
}

/**
 * The warming of one instrumented client: starts runs (one per namespace at
 * a time), keeps the per-namespace figures its metrics read, and at close
 * stops what still runs and writes its last status (cancelled).
 */
export class Warming {
  private readonly runs = new Map<string, WarmingRunner>();
  readonly figures = new Map<string, NamespaceFigures>();
  private readonly plans = new Map<string, readonly string[]>();
  private readonly ticker: LiveTicker;
  private readonly closedRuns: WarmingRunner[] = [];
  private registered = false;
  private closed = false;
  private data: Redis | Cluster | undefined;

  constructor(private readonly host: WarmingHost) {
    this.ticker = new LiveTicker(host.latency);
  }

  /** Starts a run in the background and returns at once; bad options throw ConfigError. */
  warm(options: WarmOptions): WarmingRun {
    if (this.closed) throw new ConfigError('warm', 'the client is closed');
    const settings = resolveWarmOptions(options, this.host.recorded);
    const identity = this.host.identity();
    const { namespace } = settings;
    if (this.runs.has(namespace)) {
      throw new ConfigError(
        'namespace',
        `${JSON.stringify(namespace)} is already warming in this process: await its done, or cancel() it, before starting another`,
      );
    }
    let figures = this.figures.get(namespace);
    if (figures === undefined) {
      if (this.figures.size >= MAX_NAMESPACES) {
        throw new ConfigError(
          'namespace',
          `this client already warmed ${MAX_NAMESPACES} namespaces; namespaces are key prefixes, not keys`,
        );
      }
      figures = new NamespaceFigures();
      this.figures.set(namespace, figures);
    }
    if (!this.registered) {
      this.registered = true;
      // The runs the close stopped still say so in Redis: the exporter shows them cancelled.
      this.host.side.atClose((redis) =>
        Promise.all(
          this.closedRuns.map((run) => writeWarmingStatus(redis, run.status(), run.periodMs)),
        ),
      );
    }
    const run = new WarmingRunner(
      {
        side: this.host.side,
        data: () => this.dataConnection(),
        logger: this.host.logger,
        identity,
        live: this.ticker,
        figures,
        plans: this.plans,
      },
      settings,
    );
    this.runs.set(namespace, run);
    void run.done.then(() => {
      if (this.runs.get(namespace) === run) this.runs.delete(namespace);
    });
    return run;
  }

  /** The run of `namespace` in progress, if any. */
  running(namespace: string): WarmingRun | undefined {
    return this.runs.get(namespace);
  }

  /** Stops every run; their last status goes out as the side connection closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ticker.stop();
    for (const run of this.runs.values()) {
      run.detach();
      this.closedRuns.push(run);
    }
    this.data?.disconnect();
  }

  /**
   * The runs' connection for the app's keys, opened at the first run: a
   * duplicate of the writer in the app's db (the side connection's records
   * live in db 0), without its key prefix (plans hold key names as Redis
   * stores them), uninstrumented, and its own socket, so the records and
   * hot-key reports never wait behind a warming pipeline.
   */
  private dataConnection(): Redis | Cluster | undefined {
    if (this.closed) return undefined;
    if (this.data === undefined) {
      // A batch that cannot go out now is retried with backoff, not queued.
      this.data = ownDuplicate(this.host.writer, { connectionName: 'redscope-warm' });
      // Failures surface as failed attempts of the batches (counted, logged there).
      this.data.on('error', () => undefined);
    }
    return this.data;
  }
}
