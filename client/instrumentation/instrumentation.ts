import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Cluster, Command, Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { isCluster } from '../common/cluster-routing.js';
import { processIdentity } from '../common/instance-id.js';
import type { DurabilityStats } from '../connection/durability-stats.js';
import { SideConnection } from '../connection/side-connection.js';
import { ConfigError } from '../errors.js';
import type { HotKeySnapshot } from '../hotkeys/hot-keys.js';
import { HotKeys } from '../hotkeys/hot-keys.js';
import { type HotKeyMetrics, registerHotKeyMetrics } from '../hotkeys/hotkey-metrics.js';
import { type HotKeyOptions, resolveHotKeyOptions } from '../hotkeys/hotkey-options.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runInRequestContext } from '../logging/request-context.js';
import { recordRetries } from '../telemetry/command-spans.js';
import { CommandTracing, endSpan, type TracingOptions } from '../telemetry/command-tracing.js';
import type { UsageOptions, WarmingRun, WarmOptions } from '../warming/types.js';
import { UsageRecord } from '../warming/usage-record.js';
import { Warming } from '../warming/warming.js';
import { registerWarmingMetrics, type WarmingMetrics } from '../warming/warming-metrics.js';
import { resolveUsageOptions } from '../warming/warming-options.js';
import { ClusterHooks, type CommandPath } from './cluster-hooks.js';
import { ClusterStats } from './cluster-stats.js';
import { CommandStats } from './command-stats.js';
import { errorTypeOf, redisErrorPrefix } from './error-type.js';
import { HookedConnection, replaceSendCommand } from './hooked-connection.js';
import { type HookedCommand, InFlightCommand, SEEN } from './in-flight-command.js';
import { watchLifecycle } from './lifecycle.js';
import { LiveLatency } from './live-latency.js';
import { type ClientMetrics, type ConnectionRole, registerClientMetrics } from './metrics.js';

export type { TracingOptions } from '../telemetry/command-tracing.js';

/** What the client records about its commands and connections, and where. */
export interface InstrumentOptions {
  /**
   * The app's prom-client registry for the `redscope_client_*` families.
   * @default none: no metrics are registered (never the global registry)
   */
  readonly registry?: Registry;
  /**
   * Where lifecycle events, slow commands and warnings go (a pino logger, e.g. `createLogger()`).
   * @default a silent logger
   */
  readonly logger?: Logger;
  /**
   * Command spans. @default on, through the span pipeline `startTelemetry()`
   * registered, else the global tracer provider (a no-op until an SDK is registered)
   */
  readonly tracing?: TracingOptions;
  /**
   * Commands slower than this are logged at warn (`redis.slow_command`).
   * @default 100
   */
  readonly slowCommandMs?: number;
  /**
   * Hot-key detection: every key the client reads or writes is counted, the
   * hottest are reported (redacted) to Redis for the exporter's fleet-wide
   * view and shown on this registry, and `nearCache` serves their reads from
   * memory. Needs a redaction secret (`redaction.secret` or `REDSCOPE_HOTKEYS_SECRET`).
   * @default off
   */
  readonly hotKeys?: HotKeyOptions;
  /**
   * The usage record cache warming ranks by: a sample of the keys of these
   * namespaces, with decayed counts, in a capped sorted set in Redis (key
   * names only, never values; never in metrics or logs). See docs/warming.md.
   * @default off
   */
  readonly usage?: UsageOptions;
}

/**
 * The connections to instrument: a writer, and a replica connection if there
 * is one. Either may be an ioredis `Cluster`: its commands are followed to the
 * node that serves them, through MOVED and ASK redirects.
 */
export interface InstrumentTargets {
  readonly writer: Redis | Cluster;
  /** A separate replica connection (or a Cluster with `scaleReads`); left out when reads go to the writer. */
  readonly reader?: Redis | Cluster;
}

/**
 * The handle `instrumentRedis` returns. The connections stay the app's: it
 * keeps using them as before, and closes them itself.
 */
export interface RedisInstrumentation {
  /**
   * Removes the hooks, listeners and metric families (spans of completed
   * commands still go out). Does not close the connections. Safe to call twice.
   */
  detach(): void;
  /**
   * This process's hottest keys (redacted), hottest first; undefined when
   * `hotKeys` is off. For a health endpoint or a debug page.
   */
  hotKeys(limit?: number): HotKeySnapshot | undefined;
  /**
   * Warms a namespace in the background (returns at once): see WarmOptions.
   * Bad options throw ConfigError; everything after is an outcome of `done`.
   */
  warm(options: WarmOptions): WarmingRun;
}

/** Commands that wait on the server by design: their timeout says nothing about the connection. */
const BLOCKING = new Set([
  'blpop',
  'brpop',
  'brpoplpush',
  'blmove',
  'blmpop',
  'bzpopmin',
  'bzpopmax',
  'bzmpop',
  'xread',
  'xreadgroup',
  'wait',
  'waitaof',
]);
const INSTRUMENTED = Symbol('redscope.instrumented');
type SendCommand = Redis['sendCommand'];
type Marked = (Redis | Cluster) & { [INSTRUMENTED]?: boolean };

/**
 * Instruments ioredis connections the app made itself (`createRedisClients`
 * does this for its own): every command, pipeline and MULTI gets a CLIENT
 * span (OpenTelemetry database semantic conventions, sanitized
 * `db.query.text`), counts and a duration on the app's registry, and
 * connection lifecycle events are logged. ioredis' own handshake (HELLO,
 * CLIENT SETNAME, the INFO ready check) is not counted as app traffic.
 * Telemetry failures never reach the caller. An ioredis `Cluster` works the
 * same: each span names the node that answered, and MOVED/ASK redirects and
 * TRYAGAIN/CLUSTERDOWN retries show on the span and in
 * `redscope_client_cluster_*`.
 *
 * ```ts
 * const writer = new Redis('rediss://redis.internal:6379');
 * const instrumentation = instrumentRedis({ writer }, { registry, logger: createLogger() });
 * await writer.set('greeting', 'hello');
 * instrumentation.detach(); // before writer.quit(), when the app shuts down
 * ```
 */
export function instrumentRedis(
  targets: InstrumentTargets,
  options: InstrumentOptions = {},
): RedisInstrumentation {
  return new Instrumentation(targets, options);
}

/** What `createRedisClients` adds to the instrumentation of its own connections. */
export interface FactoryHooks {
  readonly durability?: DurabilityStats;
  /**
   * A writer command timed out; called before the caller is told. The factory
   * drops the connection there: a half-open socket (a partition that drops
   * packets) is detected, and a write still in the kernel's send queue is not
   * delivered after the heal, when its caller already gave up on it.
   */
  readonly onWriterTimeout?: (sentOn: unknown) => void;
}

/** The one instrumentation class behind `instrumentRedis` and `createRedisClients`. */
export class Instrumentation implements RedisInstrumentation {
  readonly logger: Logger;
  private readonly readsFromWriter: boolean;
  private readonly stats = new CommandStats();
  private readonly connections: HookedConnection[] = [];
  private readonly clusters: ClusterHooks[] = [];
  /** Redirects and per-node counts, when a target is a Cluster. */
  private readonly clusterStats: ClusterStats | undefined;
  private readonly detachers: (() => void)[] = [];
  private readonly tracing: CommandTracing | undefined;
  private readonly metrics: ClientMetrics | undefined;
  private readonly hotKeyMetrics: HotKeyMetrics | undefined;
  /** Hot-key detection and the near-cache, when `hotKeys` is set. */
  private readonly hot: HotKeys | undefined;
  /** The client's own connection for its records (hot-key reports), opened on first use. */
  readonly side: SideConnection;
  /** The usage record, when `usage` is set: fed from the command hook. */
  private readonly usage: UsageRecord | undefined;
  private readonly warming: Warming;
  private readonly warmingMetrics: WarmingMetrics | undefined;
  private readonly slowMs: number;
  private readonly onWriterTimeout: ((sentOn: unknown) => void) | undefined;
  /** During a failover every command in flight turns slow: ten lines a second at most, the rest counted. */
  private readonly slowLines = new LogThrottle(1000, 10);
  private inFlight = 0;
  private internalErrors = 0;
  private detached = false;

  /**
   * `factory`: what createRedisClients adds: its durable-write figures for the
   * metrics, and what to do when a writer command times out.
   */
  constructor(targets: InstrumentTargets, options: InstrumentOptions, factory: FactoryHooks = {}) {
    const { durability } = factory;
    this.onWriterTimeout = factory.onWriterTimeout;
    const { writer } = targets;
    const reader = targets.reader ?? writer;
    this.readsFromWriter = reader === writer;
    this.logger = options.logger ?? pino({ level: 'silent' });
    const slowMs = options.slowCommandMs ?? 100;
    if (!(slowMs >= 0)) {
      throw new ConfigError('slowCommandMs', `must be a number >= 0, got ${String(slowMs)}`);
    }
    this.slowMs = slowMs;
    for (const redis of new Set([writer, reader])) {
      if ((redis as Marked)[INSTRUMENTED]) {
        // Two hooks on one client would count and trace every command twice.
        throw new ConfigError(
          'redis',
          'this ioredis client is already instrumented: detach() the other instrumentation first',
        );
      }
    }
    this.tracing =
      options.tracing?.enabled === false ? undefined : new CommandTracing(options.tracing ?? {});
    this.clusterStats = isCluster(writer) || isCluster(reader) ? new ClusterStats() : undefined;
    // Checked before anything is registered or hooked: a bad option throws with nothing to undo.
    const hotKeySettings =
      options.hotKeys === undefined ? undefined : resolveHotKeyOptions(options.hotKeys);
    const usageSettings =
      options.usage === undefined ? undefined : resolveUsageOptions(options.usage);
    // Metrics first: a registry conflict then throws before any client is hooked.
    this.metrics = options.registry
      ? registerClientMetrics(options.registry, {
          stats: this.stats,
          inFlight: () => this.inFlight,
          connections: () => this.connectionStates(),
          ...(durability ? { durability } : {}),
          ...(this.clusterStats ? { cluster: this.clusterStats } : {}),
        })
      : undefined;
    try {
      this.hotKeyMetrics =
        options.registry && hotKeySettings
          ? registerHotKeyMetrics(options.registry, () => this.hot, hotKeySettings.metricsTop)
          : undefined;
      this.warmingMetrics = options.registry
        ? registerWarmingMetrics(options.registry, () => this.warming?.figures)
        : undefined;
    } catch (error) {
      this.metrics?.unregister();
      this.hotKeyMetrics?.unregister();
      throw error;
    }
    this.side = new SideConnection(writer);
    this.hot =
      hotKeySettings === undefined
        ? undefined
        : new HotKeys(writer, this.side, hotKeySettings, this.logger);
    this.usage =
      usageSettings === undefined
        ? undefined
        : new UsageRecord(this.side, usageSettings, this.logger);
    const report = hotKeySettings?.report;
    this.warming = new Warming({
      writer,
      side: this.side,
      logger: this.logger,
      // The hot-key reports' identity when they are on, so both records name the process alike.
      identity: () => report ?? processIdentity('OTEL_SERVICE_NAME', undefined),
      latency: new LiveLatency(this.stats, BLOCKING),
      recorded: usageSettings?.namespaces,
    });
    this.attach(writer, 'writer');
    if (!this.readsFromWriter) this.attach(reader, 'reader');
    // An app that quits its writer without detach() must still be able to exit: the client's own
    // connections (records, near-cache) go with it.
    const ended = () => {
      this.hot?.close();
      this.side.close();
    };
    writer.once('end', ended);
    this.detachers.push(() => writer.off('end', ended));
  }

  hotKeys(limit = 10): HotKeySnapshot | undefined {
    return this.hot?.snapshot(limit);
  }

  warm(options: WarmOptions): WarmingRun {
    return this.warming.warm(options);
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    // Spans of commands that already completed still go out.
    this.tracing?.flush();
    for (const detach of this.detachers.splice(0)) detach();
    this.hot?.close();
    // Before the side connection closes: their last status and counts go out as it does.
    this.warming.close();
    this.usage?.close();
    this.side.close();
    this.metrics?.unregister();
    this.hotKeyMetrics?.unregister();
    this.warmingMetrics?.unregister();
  }

  private *connectionStates() {
    for (const cluster of this.clusters) {
      const state = cluster.state();
      yield state;
      if (this.readsFromWriter) {
        yield { ...state, role: 'reader' as const, reconnects: 0, offlineQueue: 0 };
      }
    }
    for (const connection of this.connections) {
      const state = {
        up: connection.redis.status === 'ready',
        reconnects: connection.reconnects,
        // ioredis keeps the queue private; its length is the "waiting for a connection" figure.
        offlineQueue:
          (connection.redis as unknown as { offlineQueue?: { length: number } }).offlineQueue
            ?.length ?? 0,
      };
      yield { role: connection.role, ...state };
      // A single connection serving both roles reports both, so dashboards need no special case.
      if (this.readsFromWriter) {
        yield { role: 'reader' as const, ...state, reconnects: 0, offlineQueue: 0 };
      }
    }
  }

  private attach(target: Redis | Cluster, role: ConnectionRole): void {
    if (isCluster(target)) {
      const hooks = new ClusterHooks(target, role, this.path, this.clusterStats as ClusterStats);
      this.clusters.push(hooks);
      (target as Marked)[INSTRUMENTED] = true;
      this.detachers.push(() => {
        hooks.detach();
        (target as Marked)[INSTRUMENTED] = false;
      });
      return;
    }
    const redis = target;
    const connection = new HookedConnection(redis, role);
    this.connections.push(connection);
    const onSelect = (db: number) => {
      connection.selected = db;
      connection.refresh();
    };
    redis.on('select', onSelect);
    const stopWatching = watchLifecycle(redis, role, this.logger, {
      onReconnect: () => connection.reconnected(),
      refresh: () => connection.refresh(),
      endpoint: () => connection.endpoint,
    });
    // The one hook on the command path: an own property on this instance only, so a bare
    // ioredis client elsewhere in the process pays nothing. ioredis 6 also publishes
    // diagnostics_channel events, but any subscriber there slows every client in the
    // process (15-25% in bench/client.ts, variant c) and its events say neither which client sent
    // the command nor which node a Sentinel client is talking to.
    const original: SendCommand = redis.sendCommand;
    const self = this;
    const forward = original as (command: Command, stream?: unknown, node?: unknown) => unknown;
    const hooked = function (
      this: Redis,
      command: HookedCommand,
      stream?: unknown,
      node?: unknown,
    ) {
      // While the status is `connect`, ioredis writes only its own handshake (HELLO/AUTH,
      // SELECT, CLIENT SETNAME/SETINFO, READONLY) and the INFO ready check; an app's command
      // sent then is queued and comes back through here at `ready`, when it is tracked.
      // A command already settled (it timed out in the offline queue) is not sent again:
      // counting it now would leave it in flight forever.
      if (
        command[SEEN] === undefined &&
        !(stream === undefined && this.status === 'connect') &&
        (command as Command & { isSettled?: boolean }).isSettled !== true
      ) {
        command[SEEN] = true;
        self.usage?.observe(command);
        const hot = self.hot;
        if (hot === undefined) {
          self.track(command, stream, connection);
        } else {
          hot.observe(command);
          // A single read the near-cache answers never reaches Redis: it is not a Redis command
          // in the metrics or spans (the near-cache counts it). Pipelines and MULTI are never
          // answered or rerouted: ioredis counts their writes to know when to flush them.
          connection.noteCommand(command.name);
          const cacheable = stream === undefined && connection.nearCacheable;
          if (cacheable && self.nearCache(() => hot.serve(command))) return command.promise;
          const flight = self.track(command, stream, connection);
          if (cacheable && self.nearCache(() => hot.route(command))) {
            // It went out on the near-cache's connection: a timeout there says nothing about this socket.
            if (flight !== undefined) flight.sentOn = undefined;
            return command.promise;
          }
        }
      }
      // The third argument is ioredis' undeclared cluster node; forwarded unchanged.
      return forward.call(this, command, stream, node);
    };
    const restore = replaceSendCommand(redis, hooked as SendCommand);
    (redis as Marked)[INSTRUMENTED] = true;
    this.detachers.push(() => {
      restore();
      (redis as Marked)[INSTRUMENTED] = false;
      redis.off('select', onSelect);
      stopWatching();
    });
  }

  /** A near-cache step that throws costs the cache, never the command: it goes to Redis. */
  private nearCache(step: () => boolean): boolean {
    try {
      return step();
    } catch (error) {
      this.internalError(error);
      return false;
    }
  }

  /**
   * What a Cluster's hooks need from this instrumentation: the same flights,
   * spans and metrics as for a single connection, with their own hooks around.
   */
  private readonly path: CommandPath = {
    logger: () => this.logger,
    usage: () => this.usage,
    hot: () => this.hot,
    nearCache: (step) => this.nearCache(step),
    begin: (command, stream, connection) => this.begin(command, stream, connection),
    track: (command, stream, connection) => this.track(command, stream, connection),
    startSpan: (flight) => this.startRoutedSpan(flight),
    settle: (flight, error) => this.settle(flight, error),
    internalError: (error) => this.internalError(error),
  };

  /** Starts following a command: its flight, span or batch; the caller hooks its reply. */
  private begin(
    command: HookedCommand,
    stream: unknown,
    connection: HookedConnection,
  ): InFlightCommand | undefined {
    try {
      const flight = new InFlightCommand(
        command,
        connection,
        this.stats.entry(command.name),
        this.reportError,
      );
      this.inFlight += 1;
      const redis = connection.redis;
      if (redis.status === 'ready' && connection.kind !== 'cluster') {
        flight.sentOn = (redis as Redis).stream;
      }
      const tracing = this.tracing;
      if (tracing !== undefined) {
        // A tracer that throws costs the span, never the metrics or the in-flight count.
        try {
          if (stream !== undefined && (stream as { isPipeline?: boolean }).isPipeline === true) {
            flight.batch = tracing.joinBatch(stream as object, flight.entry, connection);
          } else if (tracing.defers()) {
            // Recorded spans are made when the reply arrives: sending pays one context lookup.
            flight.parent = tracing.parentContext();
          } else if (connection.kind !== 'cluster') {
            // (A Cluster's SDK span starts once it has picked the node: startRoutedSpan.)
            flight.span = tracing.startSpan(command, flight.entry, connection);
          }
        } catch (error) {
          this.internalError(error);
        }
      }
      return flight;
    } catch (error) {
      this.internalError(error);
      return undefined;
    }
  }

  /** An SDK span for a command a Cluster routed, started with the node it went to. */
  private startRoutedSpan(flight: InFlightCommand): void {
    const tracing = this.tracing;
    if (tracing === undefined || flight.batch !== undefined || tracing.defers()) return;
    try {
      flight.span = tracing.startSpan(flight.command, flight.entry, flight.connection);
      flight.spanOn = flight.connection;
    } catch (error) {
      this.internalError(error);
    }
  }

  private track(
    command: HookedCommand,
    stream: unknown,
    connection: HookedConnection,
  ): InFlightCommand | undefined {
    const flight = this.begin(command, stream, connection);
    if (flight === undefined) return undefined;
    try {
      const { resolve, reject } = command;
      command.resolve = (result: unknown) => {
        this.settle(flight, undefined);
        resolve(result);
      };
      command.reject = (error: Error) => {
        this.settle(flight, error);
        reject(error);
      };
      return flight;
    } catch (error) {
      this.internalError(error);
      return undefined;
    }
  }

  private settle(flight: InFlightCommand, error: Error | undefined): void {
    // A Cluster may hand back a command it already gave up on (see ClusterHooks.follow).
    if (flight.done) return;
    flight.done = true;
    try {
      this.inFlight -= 1;
      const elapsedMs = performance.now() - flight.startedAt;
      flight.durationMs = elapsedMs;
      const { entry } = flight;
      entry.observe(elapsedMs / 1000);
      if (error !== undefined) {
        flight.errorType = errorTypeOf(error);
        flight.statusCode = redisErrorPrefix(error);
        entry.error(flight.errorType);
        // Before the caller hears of it: see FactoryHooks.onWriterTimeout. Only a command that
        // went out on a socket, not one that waited in the offline queue, and never a blocking one.
        if (
          flight.errorType === 'timeout' &&
          flight.sentOn !== undefined &&
          flight.connection.role === 'writer' &&
          !BLOCKING.has(flight.entry.label)
        ) {
          this.onWriterTimeout?.(flight.sentOn);
        }
      }
      flight.connection.nodeStats?.settled(error !== undefined);
      const { span } = flight;
      if (span !== undefined) {
        if (flight.spanOn !== undefined && flight.spanOn !== flight.connection) {
          // Redirected: the node that answered is the span's server.
          const endpoint = flight.connection.endpoint;
          if (endpoint !== undefined) {
            span.setAttribute('server.address', endpoint.address);
            if (endpoint.port !== undefined) span.setAttribute('server.port', endpoint.port);
          }
        }
        if (flight.retries !== undefined) recordRetries(span, flight.retries);
        endSpan(span, error, flight.errorType);
      }
      if (flight.batch !== undefined) this.tracing?.leaveBatch(flight.batch, error);
      if (flight.parent !== undefined) this.tracing?.recordSpan(flight);
      if (elapsedMs >= this.slowMs) this.logSlow(flight);
    } catch (failure) {
      this.internalError(failure);
    }
  }

  /**
   * The reply arrives in whatever async context the socket has; the line is
   * written in the context the command was sent from, so it carries that
   * request's correlation id and trace.
   */
  private logSlow(flight: InFlightCommand): void {
    const held = this.slowLines.take('slow');
    if (held === undefined) return;
    const span = flight.span ?? flight.batch?.span;
    const spanContext =
      flight.parent ?? (span !== undefined ? trace.setSpan(ROOT_CONTEXT, span) : ROOT_CONTEXT);
    runInRequestContext(flight.request, () =>
      context.with(spanContext, () =>
        this.logger.warn(
          {
            event: 'redis.slow_command',
            role: flight.connection.role,
            ...(flight.connection.kind === 'node' ? { node: nodeName(flight.connection) } : {}),
            command: flight.entry.operation,
            query: flight.queryText(),
            duration_ms: Math.round(flight.durationMs * 1000) / 1000,
            ...(held > 0 ? { suppressed: held } : {}),
          },
          'slow redis command',
        ),
      ),
    );
  }

  private readonly reportError = (error: unknown) => this.internalError(error);

  private internalError(error: unknown): void {
    this.internalErrors += 1;
    // The first few only: a broken hook would otherwise log once per command.
    if (this.internalErrors <= 3) {
      this.logger.warn(
        {
          event: 'redscope.telemetry_error',
          err: errorFields(error),
        },
        'redscope telemetry failed; the command itself is unaffected',
      );
    }
  }
}

/** `host:port` of a Cluster node connection, for log lines. */
function nodeName(connection: HookedConnection): string | undefined {
  const endpoint = connection.endpoint;
  return endpoint === undefined ? undefined : `${endpoint.address}:${endpoint.port}`;
}
