import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Command, Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import {
  CommandSpanRecorder,
  registeredRecorder,
  type SpanPipeline,
  type StagedCommand,
} from './command-spans.js';
import { type CommandEntry, CommandStats } from './command-stats.js';
import { errorTypeOf, redisErrorPrefix } from './error-type.js';
import { ClientConfigError } from './errors.js';
import { type Endpoint, watchLifecycle } from './lifecycle.js';
import { type ClientMetrics, type ConnectionRole, registerClientMetrics } from './metrics.js';
import { commandQueryText } from './query-text.js';

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

export interface TracingOptions {
  /** Create spans at all (default true). Off costs nothing per command. */
  readonly enabled?: boolean;
  /** Where spans go (default: the global provider that `startTelemetry()` or the app's SDK registered). */
  readonly tracerProvider?: TracerProvider;
  /** Trace commands issued with no active span as root spans (default true; OpenTelemetry's ioredis instrumentation defaults to false). */
  readonly rootSpans?: boolean;
  /**
   * Give `db.system.name`, `db.operation.name`, `db.namespace` and `server.*` when
   * the span is created, so a sampler can decide by them (default true, as the
   * semantic conventions recommend). With false they are set right after
   * creation: about 0.5 µs less per span with SDK 2.x, which copies and
   * validates creation attributes twice; fine with attribute-blind samplers
   * such as `startTelemetry()`'s.
   */
  readonly startAttributes?: boolean;
  /**
   * Record command spans straight into these SDK pieces (see
   * `registerSpanPipeline`) instead of through a tracer: the same export,
   * sampling and parentage at a fraction of the cost. Default: the pipeline
   * `startTelemetry()` registered, else the tracer provider.
   */
  readonly pipeline?: SpanPipeline;
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
  /** The tracer spans come from (undefined with tracing off). */
  readonly tracer: Tracer | undefined;
  /** The registered families (undefined without a registry). */
  readonly metrics: ClientMetrics | undefined;
  /** Removes the hooks, listeners and metric families; does not close the connections. */
  close(): void;
}

const TRACER_NAME = 'redscope-client';
const SEEN = Symbol('redscope.seen');
const INSTRUMENTED = Symbol('redscope.instrumented');
type HookedCommand = Command & { [SEEN]?: true };
type SendCommand = Redis['sendCommand'];
/** Shared by every command span: no options object per span. */
const CLIENT_SPAN = { kind: SpanKind.CLIENT } as const;

interface BatchState {
  readonly span: Span;
  pending: number;
  size: number;
  error: unknown;
}

class Connection {
  reconnects = 0;
  attributes: Attributes = {};
  endpoint: Endpoint | undefined;
  /** The db index after a SELECT (ioredis emits `select`). */
  selected: number | undefined;
  private readonly byOperation = new Map<CommandEntry, Attributes>();
  private readonly byBatch = new Map<string, Attributes>();

  constructor(
    readonly redis: Redis,
    readonly role: ConnectionRole,
  ) {
    this.refresh();
  }

  /** Re-reads where the connection points; with Sentinel, `options.host` is not the node, the socket is. */
  refresh(): void {
    const { options, stream } = this.redis;
    const viaSentinel = (options.sentinels?.length ?? 0) > 0;
    const peerAddress = stream?.remoteAddress;
    const peerPort = stream?.remotePort;
    this.endpoint = viaSentinel
      ? peerAddress === undefined
        ? undefined
        : { address: peerAddress, port: peerPort }
      : { address: options.host ?? 'localhost', port: options.port ?? 6379 };
    const attributes: Attributes = {
      'db.system.name': 'redis',
      'db.namespace': String(this.database()),
    };
    if (this.endpoint) {
      attributes['server.address'] = this.endpoint.address;
      if (this.endpoint.port !== undefined) attributes['server.port'] = this.endpoint.port;
    }
    // network.peer.* would repeat server.*: direct connections name the node they dial, and
    // Sentinel connections take server.* from the socket. Each attribute costs ~0.4 µs a span.
    this.attributes = attributes;
    this.byOperation.clear();
    this.byBatch.clear();
  }

  /** The creation-time attributes of a span for `entry` on this connection (cached: no per-span object). */
  attributesFor(entry: CommandEntry): Attributes {
    let attributes = this.byOperation.get(entry);
    if (attributes === undefined) {
      attributes = { ...this.attributes, 'db.operation.name': entry.operation };
      this.byOperation.set(entry, attributes);
    }
    return attributes;
  }

  /** The same for a pipeline or MULTI span (`PIPELINE` or `MULTI`). */
  batchAttributesFor(name: string): Attributes {
    let attributes = this.byBatch.get(name);
    if (attributes === undefined) {
      attributes = { ...this.attributes, 'db.operation.name': name };
      this.byBatch.set(name, attributes);
    }
    return attributes;
  }

  private database(): number {
    return this.selected ?? this.redis.options.db ?? 0;
  }
}

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
  private readonly connections: Connection[] = [];
  private readonly detachers: (() => void)[] = [];
  private readonly batches = new WeakMap<object, BatchState>();
  /** Pipelines the sampler dropped: their later commands must not ask again and start a partial span. */
  private readonly unsampledBatches = new WeakSet<object>();
  private readonly rootSpans: boolean;
  private readonly startAttributes: boolean;
  private readonly recorder: CommandSpanRecorder | undefined;
  private readonly followRegistered: boolean;
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
    const tracing = options.tracing ?? {};
    this.tracer =
      tracing.enabled === false
        ? undefined
        : (tracing.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME);
    this.recorder =
      tracing.enabled === false || tracing.pipeline === undefined
        ? undefined
        : new CommandSpanRecorder(tracing.pipeline, TRACER_NAME);
    // An explicit provider is the app's choice; otherwise follow whatever startTelemetry() registers, when it does.
    this.followRegistered = tracing.enabled !== false && tracing.tracerProvider === undefined;
    this.rootSpans = tracing.rootSpans ?? true;
    this.startAttributes = tracing.startAttributes ?? true;
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
    this.recorderNow()?.flushStaged();
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
    const connection = new Connection(redis, role);
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

  private track(command: HookedCommand, stream: unknown, connection: Connection): void {
    try {
      const entry = this.stats.entry(command.name);
      const startedAt = performance.now();
      this.inFlight += 1;
      let span: Span | undefined;
      let batch: BatchState | undefined;
      let deferred: Context | undefined;
      if (this.tracer !== undefined) {
        // A tracer that throws costs the span, never the metrics or the in-flight count.
        try {
          if (stream !== undefined && (stream as { isPipeline?: boolean }).isPipeline === true) {
            batch = this.joinBatch(stream as object, entry, connection);
          } else if (this.recorderNow() !== undefined) {
            // Recorded spans are made when the reply arrives: sending pays one context lookup.
            deferred = this.parentContext();
          } else {
            span = this.startSpan(command, entry, connection);
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
    connection: Connection,
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
      if (batch !== undefined) this.leaveBatch(batch, error);
      if (deferred !== undefined) {
        this.recordSpan(
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

  /** The context a span starts under, or undefined when root spans are off and there is no parent. */
  private parentContext(): Context | undefined {
    const parent = context.active();
    return !this.rootSpans && trace.getSpan(parent) === undefined ? undefined : parent;
  }

  /** Hands a completed command to the recorder, which makes its span shortly after (see `stage`). */
  private recordSpan(
    command: Command,
    entry: CommandEntry,
    connection: Connection,
    parent: Context,
    startedAt: number,
    durationMs: number,
    error: Error | undefined,
    errorType: string | undefined,
  ): void {
    const recorder = this.recorderNow();
    if (recorder === undefined) return;
    recorder.stage(
      new CompletedCommand(
        command,
        entry.operation,
        connection.attributesFor(entry),
        parent,
        startedAt,
        durationMs,
        errorType,
        error === undefined ? undefined : redisErrorPrefix(error),
        this.reportError,
      ),
    );
  }

  private startSpan(
    command: Command,
    entry: CommandEntry,
    connection: Connection,
  ): Span | undefined {
    const parent = this.parentContext();
    if (parent === undefined) return undefined;
    if (this.startAttributes) {
      const span = (this.tracer as Tracer).startSpan(
        entry.operation,
        { kind: SpanKind.CLIENT, attributes: connection.attributesFor(entry) },
        parent,
      );
      if (span.isRecording()) span.setAttribute('db.query.text', commandQueryText(command));
      return span;
    }
    const span = (this.tracer as Tracer).startSpan(entry.operation, CLIENT_SPAN, parent);
    if (span.isRecording()) {
      span.setAttributes(connection.attributesFor(entry));
      span.setAttribute('db.query.text', commandQueryText(command));
    }
    return span;
  }

  /** The cheap span path when one is configured or registered, checked per span so a later startTelemetry() counts. */
  private recorderNow(): CommandSpanRecorder | undefined {
    return this.recorder ?? (this.followRegistered ? registeredRecorder() : undefined);
  }

  /** Commands of one pipeline share the stream object ioredis passes with each: one span for all. */
  private joinBatch(
    stream: object,
    entry: CommandEntry,
    connection: Connection,
  ): BatchState | undefined {
    let batch = this.batches.get(stream);
    if (batch === undefined) {
      if (this.unsampledBatches.has(stream)) return undefined;
      const parent = this.parentContext();
      if (parent === undefined) return undefined;
      const name = entry.label === 'multi' ? 'MULTI' : 'PIPELINE';
      const recorder = this.recorderNow();
      const span =
        recorder !== undefined
          ? recorder.start(name, connection.batchAttributesFor(name), parent)
          : (this.tracer as Tracer).startSpan(
              name,
              { kind: SpanKind.CLIENT, attributes: connection.batchAttributesFor(name) },
              parent,
            );
      if (span === undefined) {
        this.unsampledBatches.add(stream);
        return undefined;
      }
      batch = { span, pending: 0, size: 0, error: undefined };
      this.batches.set(stream, batch);
    }
    batch.pending += 1;
    if (entry.label !== 'multi' && entry.label !== 'exec') batch.size += 1;
    return batch;
  }

  private leaveBatch(batch: BatchState, error: Error | undefined): void {
    if (error !== undefined && batch.error === undefined) batch.error = error;
    batch.pending -= 1;
    if (batch.pending > 0) return;
    // Semantic conventions: a batch has two or more operations, so a size of 1 is never reported.
    if (batch.size >= 2) batch.span.setAttribute('db.operation.batch.size', batch.size);
    const failed = batch.error as Error | undefined;
    endSpan(batch.span, failed, failed === undefined ? undefined : errorTypeOf(failed));
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

/** A completed command waiting for its span; the query text is computed only if the span is kept. */
class CompletedCommand implements StagedCommand {
  constructor(
    private readonly command: Command,
    readonly operation: string,
    readonly attributes: Attributes,
    readonly parent: Context,
    readonly startedAt: number,
    readonly durationMs: number,
    readonly errorType: string | undefined,
    readonly statusCode: string | undefined,
    readonly onError: (error: unknown) => void,
  ) {}

  queryText(): string {
    return commandQueryText(this.command);
  }
}

function isRedis(value: Redis | ReplicaReader): value is Redis {
  return typeof (value as Redis).sendCommand === 'function';
}

function endSpan(span: Span, error: Error | undefined, errorType: string | undefined): void {
  if (error !== undefined && errorType !== undefined) {
    span.setAttribute('error.type', errorType);
    const prefix = redisErrorPrefix(error);
    if (prefix !== undefined) span.setAttribute('db.response.status_code', prefix);
    // The type, not the message: Redis error messages can quote arguments.
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  }
  span.end();
}
