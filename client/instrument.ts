import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { Command, Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { type CommandEntry, CommandStats } from './command-stats.js';
import {
  type BatchState,
  CommandTracing,
  endSpan,
  type TracingOptions,
} from './command-tracing.js';
import { errorTypeOf } from './error-type.js';
import { ClientConfigError } from './errors.js';
import { HookedConnection } from './hooked-connection.js';
import { watchLifecycle } from './lifecycle.js';
import { type ClientMetrics, type ConnectionRole, registerClientMetrics } from './metrics.js';
import { commandQueryText } from './query-text.js';

export type { TracingOptions } from './command-tracing.js';

/**
 * A reader that picks its connection per call, like the connection factory's
 * `ReadClient` (a replica, or the master when no replica answers).
 */
export interface ReplicaReader {
  read<T>(fn: (redis: Redis) => Promise<T>): Promise<T>;
}

/**
 * The connections the app already made. `reader` is a replica connection, or
 * a ReplicaReader such as `createRedisClients().reader`; left out (or the
 * writer itself) when there is no replica.
 */
export interface RedisPair {
  readonly writer: Redis;
  readonly reader?: Redis | ReplicaReader;
}

export interface InstrumentOptions {
  /** The app's registry for the client metrics; none registered without it. Never the global registry by default. */
  readonly registry?: Registry;
  /** Lifecycle events and slow commands go here (default: silent). */
  readonly logger?: Logger;
  readonly tracing?: TracingOptions;
  /** Commands slower than this are logged at warn (default 100 ms). */
  readonly slowCommandMs?: number;
}

/** An instrumented pair: keep using `writer` (and your reader) as before. */
export interface InstrumentedRedis {
  readonly writer: Redis;
  /** Whether reads go to the writer itself (no replica configured). */
  readonly readsFromWriter: boolean;
  /**
   * Runs `fn` on the reader's connection (a replica, or whatever the
   * ReplicaReader picks); a connection seen here for the first time is
   * instrumented as the `reader` role.
   */
  read<T>(fn: (redis: Redis) => Promise<T>): Promise<T>;
  readonly logger: Logger;
  /** The tracer SDK spans come from (undefined with tracing off); command spans made through a span pipeline do not use it. */
  readonly tracer: Tracer | undefined;
  /** The registered families (undefined without a registry). */
  readonly metrics: ClientMetrics | undefined;
  /** Removes the hooks, listeners and metric families; does not close the connections. */
  close(): void;
}

const SEEN = Symbol('redscope.seen');
const INSTRUMENTED = Symbol('redscope.instrumented');
type HookedCommand = Command & { [SEEN]?: true };
type SendCommand = Redis['sendCommand'];

/**
 * Instruments an ioredis writer/reader pair in place: every command,
 * pipeline and MULTI gets a CLIENT span (OpenTelemetry database semantic
 * conventions, sanitized `db.query.text`), counts and a duration on the
 * app's registry, and connection lifecycle events are logged. The callers
 * keep using the same ioredis objects; telemetry failures never reach them.
 *
 * ```ts
 * const registry = new Registry();
 * const redis = instrumentRedis({ writer, reader }, { registry, logger: createLogger() });
 * await redis.read((replica) => replica.get('greeting'));
 * ```
 */
export function instrumentRedis(
  pair: RedisPair,
  options: InstrumentOptions = {},
): InstrumentedRedis {
  return new Instrumentation(pair, options);
}

class Instrumentation implements InstrumentedRedis {
  readonly writer: Redis;
  readonly readsFromWriter: boolean;
  private readonly replicaReader: ReplicaReader | undefined;
  private readonly attached = new Set<Redis>();
  readonly logger: Logger;
  readonly tracer: Tracer | undefined;
  readonly metrics: ClientMetrics | undefined;
  private readonly stats = new CommandStats();
  private readonly connections: HookedConnection[] = [];
  private readonly detachers: (() => void)[] = [];
  private readonly tracing: CommandTracing | undefined;
  private readonly slowMs: number;
  private inFlight = 0;
  private internalErrors = 0;
  private closed = false;

  constructor(pair: RedisPair, options: InstrumentOptions) {
    this.writer = pair.writer;
    const reader = pair.reader ?? pair.writer;
    const readerClient = isRedis(reader) ? reader : undefined;
    this.replicaReader = readerClient ? undefined : (reader as ReplicaReader);
    this.readsFromWriter = readerClient === pair.writer;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.tracing =
      options.tracing?.enabled === false
        ? undefined
        : new CommandTracing(options.tracing ?? {}, this.reportError);
    this.tracer = this.tracing?.tracer;
    this.slowMs = options.slowCommandMs ?? 100;
    for (const redis of new Set([this.writer, readerClient ?? this.writer])) {
      if ((redis as { [INSTRUMENTED]?: boolean })[INSTRUMENTED]) {
        // Two hooks on one client would count and trace every command twice.
        throw new ClientConfigError(
          'redis',
          'this ioredis client is already instrumented: close() the other instrumentation first, or share it',
        );
      }
    }
    // Metrics first: a registry conflict then throws before any client is hooked.
    this.metrics = options.registry
      ? registerClientMetrics(options.registry, {
          stats: this.stats,
          inFlight: () => this.inFlight,
          connections: () => this.connectionStates(),
        })
      : undefined;
    this.attach(this.writer, 'writer');
    if (readerClient && readerClient !== this.writer) this.attach(readerClient, 'reader');
  }

  read<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.replicaReader === undefined) {
      const reader = this.connections.find((c) => c.role === 'reader')?.redis ?? this.writer;
      return fn(reader);
    }
    return this.replicaReader.read((redis) => {
      this.adopt(redis);
      return fn(redis);
    });
  }

  /** Instruments a replica connection the ReplicaReader handed out, the first time it shows up. */
  private adopt(redis: Redis): void {
    if (this.closed || this.attached.has(redis)) return;
    if ((redis as { [INSTRUMENTED]?: boolean })[INSTRUMENTED]) return;
    try {
      this.attach(redis, 'reader');
    } catch (error) {
      this.internalError(error);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Spans of commands that already completed still go out.
    this.tracing?.flush();
    for (const detach of this.detachers.splice(0)) detach();
    this.metrics?.unregister();
  }

  private *connectionStates() {
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

  private attach(redis: Redis, role: ConnectionRole): void {
    this.attached.add(redis);
    const connection = new HookedConnection(redis, role);
    this.connections.push(connection);
    const onSelect = (db: number) => {
      connection.selected = db;
      connection.refresh();
    };
    redis.on('select', onSelect);
    const stopWatching = watchLifecycle(redis, role, this.logger, {
      onReconnect: () => {
        connection.reconnects += 1;
      },
      onReady: () => connection.refresh(),
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
      if (command[SEEN] === undefined) {
        command[SEEN] = true;
        self.track(command, stream, connection);
      }
      // The third argument is ioredis' undeclared cluster node; forwarded unchanged.
      return forward.call(this, command, stream, node);
    };
    redis.sendCommand = hooked as SendCommand;
    (redis as { [INSTRUMENTED]?: boolean })[INSTRUMENTED] = true;
    this.detachers.push(() => {
      redis.sendCommand = original;
      (redis as { [INSTRUMENTED]?: boolean })[INSTRUMENTED] = false;
      redis.off('select', onSelect);
      stopWatching();
    });
  }

  private track(command: HookedCommand, stream: unknown, connection: HookedConnection): void {
    try {
      const entry = this.stats.entry(command.name);
      const startedAt = performance.now();
      this.inFlight += 1;
      let span: Span | undefined;
      let batch: BatchState | undefined;
      let deferred: Context | undefined;
      const tracing = this.tracing;
      if (tracing !== undefined) {
        // A tracer that throws costs the span, never the metrics or the in-flight count.
        try {
          if (stream !== undefined && (stream as { isPipeline?: boolean }).isPipeline === true) {
            batch = tracing.joinBatch(stream as object, entry, connection);
          } else if (tracing.defers()) {
            // Recorded spans are made when the reply arrives: sending pays one context lookup.
            deferred = tracing.parentContext();
          } else {
            span = tracing.startSpan(command, entry, connection);
          }
        } catch (error) {
          this.internalError(error);
        }
      }
      const { resolve, reject } = command;
      command.resolve = (result: unknown) => {
        this.settle(command, connection, entry, startedAt, span, batch, deferred, undefined);
        resolve(result);
      };
      command.reject = (error: Error) => {
        this.settle(command, connection, entry, startedAt, span, batch, deferred, error);
        reject(error);
      };
    } catch (error) {
      this.internalError(error);
    }
  }

  private settle(
    command: Command,
    connection: HookedConnection,
    entry: CommandEntry,
    startedAt: number,
    span: Span | undefined,
    batch: BatchState | undefined,
    deferred: Context | undefined,
    error: Error | undefined,
  ): void {
    try {
      this.inFlight -= 1;
      const elapsedMs = performance.now() - startedAt;
      entry.observe(elapsedMs / 1000);
      const errorType = error === undefined ? undefined : errorTypeOf(error);
      if (errorType !== undefined) entry.error(errorType);
      if (span !== undefined) endSpan(span, error, errorType);
      if (batch !== undefined) this.tracing?.leaveBatch(batch, error);
      if (deferred !== undefined) {
        this.tracing?.recordSpan(
          command,
          entry,
          connection,
          deferred,
          startedAt,
          elapsedMs,
          error,
          errorType,
        );
      }
      if (elapsedMs >= this.slowMs) {
        this.logger.warn(
          {
            event: 'redis.slow_command',
            role: connection.role,
            command: entry.operation,
            query: commandQueryText(command),
            duration_ms: Math.round(elapsedMs * 1000) / 1000,
          },
          'slow redis command',
        );
      }
    } catch (failure) {
      this.internalError(failure);
    }
  }

  private readonly reportError = (error: unknown) => this.internalError(error);

  private internalError(error: unknown): void {
    this.internalErrors += 1;
    // The first few only: a broken hook would otherwise log once per command.
    if (this.internalErrors <= 3) {
      this.logger.warn(
        {
          event: 'redscope.telemetry_error',
          err: { type: (error as Error)?.name, message: (error as Error)?.message },
        },
        'redscope telemetry failed; the command itself is unaffected',
      );
    }
  }
}

function isRedis(value: Redis | ReplicaReader): value is Redis {
  return typeof (value as Redis).sendCommand === 'function';
}
