import {
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Command } from 'ioredis';
import type { CommandEntry } from '../instrumentation/command-stats.js';
import { errorTypeOf, redisErrorPrefix } from '../instrumentation/error-type.js';
import type { HookedConnection } from '../instrumentation/hooked-connection.js';
import { commandQueryText } from '../instrumentation/query-text.js';
import {
  CommandSpanRecorder,
  registeredRecorder,
  type SpanPipeline,
  type StagedCommand,
} from './command-spans.js';

export interface TracingOptions {
  /**
   * Create spans at all. Off costs nothing per command.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Where SDK spans go.
   * @default the global provider that `startTelemetry()` or the app's SDK registered
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * Trace commands issued with no active span as root spans (OpenTelemetry's
   * ioredis instrumentation defaults to false).
   * @default true
   */
  readonly rootSpans?: boolean;
  /**
   * Give `db.system.name`, `db.operation.name`, `db.namespace` and `server.*` when
   * the span is created, so a sampler can decide by them, as the semantic
   * conventions recommend. With false they are set right after creation:
   * about 0.5 µs less per span with SDK 2.x, which copies and validates
   * creation attributes twice; fine with attribute-blind samplers such as
   * `startTelemetry()`'s. Only for SDK spans: the span pipeline always shows
   * the sampler the attributes.
   * @default true
   */
  readonly startAttributes?: boolean;
  /**
   * Record command spans straight into these SDK pieces (see
   * `registerSpanPipeline`) instead of through a tracer: the same export,
   * sampling and parentage at a fraction of the cost.
   * @default the pipeline `startTelemetry()` registered, else the tracer provider
   */
  readonly pipeline?: SpanPipeline;
}

const TRACER_NAME = 'redscope-client';
/** Shared by every command span: no options object per span. */
const CLIENT_SPAN = { kind: SpanKind.CLIENT } as const;

/** One span for the commands of a pipeline or MULTI, ended when the last reply arrives. */
export interface BatchState {
  readonly span: Span;
  pending: number;
  size: number;
  error: unknown;
}

/**
 * The spans of an instrumentation's commands: SDK spans started when a
 * command is sent, or (with a span pipeline) spans made after the reply by
 * `CommandSpanRecorder`, and one span per pipeline or MULTI. Failures here
 * are the caller's to catch (a staged command carries its own error report);
 * the command itself never sees them.
 */
export class CommandTracing {
  readonly tracer: Tracer;
  private readonly batches = new WeakMap<object, BatchState>();
  /** Pipelines the sampler dropped: their later commands must not ask again and start a partial span. */
  private readonly unsampledBatches = new WeakSet<object>();
  private readonly rootSpans: boolean;
  private readonly startAttributes: boolean;
  private readonly recorder: CommandSpanRecorder | undefined;
  private readonly followRegistered: boolean;

  constructor(options: TracingOptions) {
    this.tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME);
    this.recorder =
      options.pipeline === undefined
        ? undefined
        : new CommandSpanRecorder(options.pipeline, TRACER_NAME);
    // An explicit provider is the app's choice; otherwise follow whatever startTelemetry() registers, when it does.
    this.followRegistered = options.tracerProvider === undefined;
    this.rootSpans = options.rootSpans ?? true;
    this.startAttributes = options.startAttributes ?? true;
  }

  /** Whether command spans are made after the reply (a span pipeline is in use). */
  defers(): boolean {
    return this.recorderNow() !== undefined;
  }

  /** Makes the spans of completed commands still waiting in the pipeline. */
  flush(): void {
    this.recorderNow()?.flushStaged();
  }

  /** The context a span starts under, or undefined when root spans are off and there is no parent. */
  parentContext(): Context | undefined {
    const parent = context.active();
    return !this.rootSpans && trace.getSpan(parent) === undefined ? undefined : parent;
  }

  /** Hands a completed command to the recorder, which makes its span shortly after (see `stage`). */
  recordSpan(command: StagedCommand): void {
    this.recorderNow()?.stage(command);
  }

  startSpan(command: Command, entry: CommandEntry, connection: HookedConnection): Span | undefined {
    const parent = this.parentContext();
    if (parent === undefined) return undefined;
    if (this.startAttributes) {
      const span = this.tracer.startSpan(
        entry.operation,
        { kind: SpanKind.CLIENT, attributes: connection.attributesFor(entry) },
        parent,
      );
      if (span.isRecording()) span.setAttribute('db.query.text', commandQueryText(command));
      return span;
    }
    const span = this.tracer.startSpan(entry.operation, CLIENT_SPAN, parent);
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
  joinBatch(
    stream: object,
    entry: CommandEntry,
    connection: HookedConnection,
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
          : this.tracer.startSpan(
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

  leaveBatch(batch: BatchState, error: Error | undefined): void {
    if (error !== undefined && batch.error === undefined) batch.error = error;
    batch.pending -= 1;
    if (batch.pending > 0) return;
    // Semantic conventions: a batch has two or more operations, so a size of 1 is never reported.
    if (batch.size >= 2) batch.span.setAttribute('db.operation.batch.size', batch.size);
    const failed = batch.error as Error | undefined;
    endSpan(batch.span, failed, failed === undefined ? undefined : errorTypeOf(failed));
  }
}

export function endSpan(span: Span, error: Error | undefined, errorType: string | undefined): void {
  if (error !== undefined && errorType !== undefined) {
    span.setAttribute('error.type', errorType);
    const prefix = redisErrorPrefix(error);
    if (prefix !== undefined) span.setAttribute('db.response.status_code', prefix);
    // The type, not the message: Redis error messages can quote arguments.
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  }
  span.end();
}
