import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Sampler,
  SamplingDecision,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  trace,
} from '@opentelemetry/api';

/**
 * The parts of an OpenTelemetry SDK a command span needs: the span
 * processor (batching and export stay the SDK's), the resource, the sampler
 * and the id generator. Typed by shape so the client's declarations do not
 * depend on the SDK packages, which are optional for apps.
 */
export interface SpanPipeline {
  readonly processor: {
    onStart(span: Span & ExportableSpan, parentContext: Context): void;
    onEnding?(span: Span & ExportableSpan): void;
    onEnd(span: ExportableSpan): void;
  };
  readonly resource: unknown;
  readonly sampler: Sampler;
  readonly idGenerator: { generateTraceId(): string; generateSpanId(): string };
  /**
   * Whether tracing is suppressed in a context (the SDK's exporters suppress
   * their own HTTP calls): pass `isTracingSuppressed` from `@opentelemetry/core`.
   */
  readonly isTracingSuppressed: (context: Context) => boolean;
}

/** An event recorded on a span, as the SDK's exporters read it. */
export interface SpanEvent {
  readonly name: string;
  readonly attributes?: Attributes;
  readonly time: HrTime;
  readonly droppedAttributesCount?: number;
}

/** A span as the SDK's processors and exporters read it (the SDK's ReadableSpan, by shape). */
export interface ExportableSpan {
  spanContext(): SpanContext;
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly events: SpanEvent[];
  readonly ended: boolean;
  readonly resource: unknown;
  readonly instrumentationScope: { readonly name: string; readonly version?: string };
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

// Handed to every sampler call; frozen, so a sampler that writes to it fails loudly.
const NO_LINKS = Object.freeze([]) as unknown as Link[];

/**
 * Wall-clock milliseconds at `performance.now() === 0`, re-read at most once a
 * second so clock steps reach new spans. One per recorder.
 */
class WallClock {
  offsetMs = Date.now() - performance.now();
  private readAt = performance.now();

  /** Re-reads the offset when a second has passed since `reading` (a recent `performance.now()`). */
  refresh(reading: number): void {
    if (reading - this.readAt <= 1000) return;
    const now = performance.now();
    this.offsetMs = Date.now() - now;
    this.readAt = now;
  }

  /** Epoch milliseconds of an API time input; a number at or below `performance.now()` is taken as one of its readings, as the SDK does. */
  epochMsOf(time: TimeInput): number {
    if (typeof time === 'number') return time <= performance.now() ? time + this.offsetMs : time;
    if (Array.isArray(time)) return time[0] * 1000 + time[1] / 1e6;
    return time.getTime();
  }
}

function toHrTime(ms: number): HrTime {
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

function addHrTimes(a: HrTime, b: HrTime): HrTime {
  const nanos = a[1] + b[1];
  return nanos >= 1e9 ? [a[0] + b[0] + 1, nanos - 1e9] : [a[0] + b[0], nanos];
}

function isTimeInput(value: unknown): value is TimeInput {
  return (
    typeof value === 'number' ||
    value instanceof Date ||
    (Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'number' &&
      typeof value[1] === 'number')
  );
}

/** What few command spans carry: events, links and attributes other than the query text. */
interface RareParts {
  events?: SpanEvent[];
  links?: Link[];
  attributes?: Attributes;
}

/**
 * One Redis command's span, built for the hot path: the base attributes are
 * redscope's own cached, frozen object (never copied or re-validated), the
 * query text has its own field, times are numbers turned into HrTime only
 * when an exporter reads them, and the rarely used parts live in one
 * optional object. It behaves as an SDK span does for everything an
 * exporter, a processor or the API can see.
 */
class CommandSpan implements Span, ExportableSpan {
  ended = false;
  private durationMs = -1;
  private queryText: string | undefined;
  private statusSet: SpanStatus | undefined;
  private rare: RareParts | undefined;
  private merged: Attributes | undefined;

  constructor(
    public name: string,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    private readonly base: Attributes,
    private readonly recorder: CommandSpanRecorder,
    /** `performance.now()` at the start: durations are measured on this clock, as the SDK does. */
    private readonly startedAt: number,
    /** The same instant on the wall clock, epoch milliseconds. */
    private readonly startMs: number,
  ) {}

  get kind(): SpanKind {
    return SpanKind.CLIENT;
  }
  get resource(): unknown {
    return this.recorder.pipeline.resource;
  }
  get instrumentationScope(): { readonly name: string } {
    return this.recorder.scope;
  }
  get status(): SpanStatus {
    return this.statusSet ?? { code: SpanStatusCode.UNSET };
  }
  get attributes(): Attributes {
    if (this.merged === undefined) {
      // Object.assign, not spread: V8 makes `{ ...base }` plus one new key 10x slower here.
      const merged: Attributes = Object.assign({}, this.base);
      if (this.queryText !== undefined) merged['db.query.text'] = this.queryText;
      if (this.rare?.attributes !== undefined) Object.assign(merged, this.rare.attributes);
      this.merged = merged;
    }
    return this.merged;
  }
  get events(): SpanEvent[] {
    return this.rare?.events ?? [];
  }
  get links(): Link[] {
    return this.rare?.links ?? [];
  }
  get startTime(): HrTime {
    return toHrTime(this.startMs);
  }
  get endTime(): HrTime {
    // Start plus duration in whole nanoseconds, so end - start is exactly the duration.
    return this.ended ? addHrTimes(this.startTime, this.duration) : [0, 0];
  }
  get duration(): HrTime {
    return this.ended ? toHrTime(this.durationMs) : [-1, -1];
  }
  get droppedAttributesCount(): number {
    return 0;
  }
  get droppedEventsCount(): number {
    return 0;
  }
  get droppedLinksCount(): number {
    return 0;
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.ended || value === undefined || value === null || key.length === 0) return this;
    if (key === 'db.query.text' && typeof value === 'string') {
      this.queryText = value;
      if (this.rare?.attributes !== undefined) delete this.rare.attributes[key];
    } else {
      if (key === 'db.query.text') this.queryText = undefined;
      this.rare ??= {};
      this.rare.attributes ??= {};
      this.rare.attributes[key] = value;
    }
    this.merged = undefined;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key of Object.keys(attributes)) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    let attributes = attributesOrTime as Attributes | undefined;
    let at = time;
    // As the SDK: a time in second place counts unless a time also comes third.
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) at = attributesOrTime;
      attributes = undefined;
    }
    this.rare ??= {};
    this.rare.events ??= [];
    this.rare.events.push({
      name,
      attributes: { ...attributes },
      time: toHrTime(
        at === undefined
          ? this.startMs + (performance.now() - this.startedAt)
          : this.recorder.clock.epochMsOf(at),
      ),
      droppedAttributesCount: 0,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    this.rare ??= {};
    this.rare.links ??= [];
    this.rare.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  /** As the SDK: UNSET changes nothing, OK is final, and only ERROR keeps a message. */
  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET) return this;
    if (this.statusSet?.code === SpanStatusCode.OK) return this;
    this.statusSet =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  /** As the SDK: the code (else the name) as the type, the message and the stack. */
  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception) {
      const type = exception.code ?? exception.name;
      if (type !== undefined && type !== '') attributes['exception.type'] = String(type);
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (
      attributes['exception.type'] === undefined &&
      attributes['exception.message'] === undefined
    ) {
      return;
    }
    this.addEvent('exception', attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.endAfter(
      endTime === undefined
        ? performance.now() - this.startedAt
        : this.recorder.clock.epochMsOf(endTime) - this.startMs,
    );
  }

  /** Ends the span `durationMs` after its start (the client measured it already). */
  endAfter(durationMs: number): void {
    if (this.ended) return;
    this.durationMs = Math.max(0, durationMs);
    const { processor } = this.recorder.pipeline;
    processor.onEnding?.(this);
    this.ended = true;
    processor.onEnd(this);
  }
}

/**
 * Starts command spans into an SDK pipeline with the SDK's decisions
 * (suppression, parentage, sampler, ids) at a fraction of the cost of an
 * SDK span: the OpenTelemetry JS SDK copies and validates every attribute
 * and converts times eagerly, 2-4 µs per span on this project's bench
 * machine, which at one span per Redis command was most of what tracing
 * cost (BENCHMARKS.md, client). Written by hand because no library offers
 * a cheaper span for this one shape.
 */
export class CommandSpanRecorder {
  readonly scope: { readonly name: string };
  readonly clock = new WallClock();
  private staged: StagedCommand[] = [];
  private flushScheduled = false;
  private readonly flushLater = () => {
    this.flushScheduled = false;
    this.flushStaged();
  };

  constructor(
    readonly pipeline: SpanPipeline,
    scopeName: string,
  ) {
    this.scope = Object.freeze({ name: scopeName });
  }

  /**
   * Queues the span of a command that has completed; spans are made in one
   * go in the next `setImmediate`, after the replies that arrived together
   * have released their callers. That keeps span work out of the stretch
   * between a reply and the next command, where it would leave Redis idle.
   */
  stage(command: StagedCommand): void {
    this.staged.push(command);
    if (this.staged.length >= MAX_STAGED) {
      this.flushStaged();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Makes and ends the spans of every staged command now (before an export or a shutdown). */
  flushStaged(): void {
    // Swapped out whole: a span staged while this loop runs waits for the next flush.
    const commands = this.staged;
    this.staged = [];
    for (const command of commands) {
      if (command.parent === undefined) continue;
      try {
        const span = this.start(
          command.operation,
          command.attributes,
          command.parent,
          command.startedAt,
        );
        if (span === undefined) continue;
        span.setAttribute('db.query.text', command.queryText());
        if (command.retries !== undefined) recordRetries(span, command.retries);
        if (command.errorType !== undefined) {
          span.setAttribute('error.type', command.errorType);
          if (command.statusCode !== undefined) {
            span.setAttribute('db.response.status_code', command.statusCode);
          }
          span.setStatus({ code: SpanStatusCode.ERROR, message: command.errorType });
        }
        span.endAfter(command.durationMs);
      } catch (error) {
        try {
          command.onError(error);
        } catch {
          // A failing error report must not cost the rest of the batch its spans.
        }
      }
    }
  }

  /**
   * A span for `name` under `parent`, or undefined when tracing is
   * suppressed or the sampler drops it (nothing below a command span
   * needs its context, so no non-recording placeholder is made).
   * `startedAt` (a `performance.now()` reading) backdates the start: the
   * client creates a command's span when the reply arrives, so nothing but
   * a timestamp is added to the path that sends the command.
   */
  start(
    name: string,
    attributes: Attributes,
    parent: Context,
    startedAt: number = performance.now(),
  ): CommandSpan | undefined {
    if (this.pipeline.isTracingSuppressed(parent)) return undefined;
    const { idGenerator, sampler, processor } = this.pipeline;
    const parentSpanContext = trace.getSpanContext(parent);
    const validParent =
      parentSpanContext !== undefined && trace.isSpanContextValid(parentSpanContext)
        ? parentSpanContext
        : undefined;
    const traceId = validParent?.traceId ?? idGenerator.generateTraceId();
    const sampling = sampler.shouldSample(
      parent,
      traceId,
      name,
      SpanKind.CLIENT,
      attributes,
      NO_LINKS,
    );
    if (sampling.decision === SamplingDecision.NOT_RECORD) return undefined;
    // The wall clock's offset is re-read at most once a second; a staged span started
    // moments ago, so its own reading serves to tell whether a second has passed.
    this.clock.refresh(startedAt);
    const context: SpanContext = {
      traceId,
      spanId: idGenerator.generateSpanId(),
      traceFlags:
        sampling.decision === SamplingDecision.RECORD_AND_SAMPLED
          ? TraceFlags.SAMPLED
          : TraceFlags.NONE,
      traceState: sampling.traceState ?? validParent?.traceState,
    };
    const span = new CommandSpan(
      name,
      context,
      validParent,
      attributes,
      this,
      startedAt,
      this.clock.offsetMs + startedAt,
    );
    if (sampling.attributes !== undefined) span.setAttributes(sampling.attributes);
    processor.onStart(span, parent);
    return span;
  }
}

/** Staged commands before spans are made inline (a loop that never yields to setImmediate). */
const MAX_STAGED = 4096;

/** A completed command whose span is still to be made. */
export interface StagedCommand {
  readonly operation: string;
  readonly attributes: Attributes;
  /** The context the command was sent in; no span without one (root spans off, no parent). */
  readonly parent: Context | undefined;
  /** `performance.now()` when the command was sent. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** Computed only when the span is made (the sampler may drop it). */
  queryText(): string;
  readonly errorType: string | undefined;
  readonly statusCode: string | undefined;
  /** The redirects and retries a Redis Cluster put the command through, oldest first. */
  readonly retries?: readonly ClusterRetry[] | undefined;
  /** Where a failure to make the span is reported; the command itself has already completed. */
  onError(error: unknown): void;
}

/**
 * A reply from a Redis Cluster node that ioredis answers by sending the
 * command again: MOVED or ASK (to the node named, for the slot named), or
 * TRYAGAIN and CLUSTERDOWN (to the same slot, after a delay).
 */
export interface ClusterRetry {
  readonly kind: 'moved' | 'ask' | 'tryagain' | 'clusterdown';
  /** The slot a MOVED or ASK names. */
  readonly slot: number | undefined;
  /** The node a MOVED or ASK sends the command to, as the cluster announces it (before any natMap). */
  readonly address: string | undefined;
  readonly port: number | undefined;
  /** `performance.now()` when the reply arrived. */
  readonly at: number;
}

/**
 * Puts a command's redirects on its span: an event each (`redis.cluster.redirect` for
 * MOVED and ASK, with the slot and the node; `redis.cluster.retry` for TRYAGAIN and
 * CLUSTERDOWN), and `db.redis.redirect` set to the last redirect's kind so spans can be
 * filtered by it (backends rarely search events).
 */
export function recordRetries(span: Span, retries: readonly ClusterRetry[]): void {
  let redirect: string | undefined;
  for (const retry of retries) {
    if (retry.kind === 'moved' || retry.kind === 'ask') {
      redirect = retry.kind;
      const attributes: Attributes = { 'db.redis.redirect': retry.kind };
      if (retry.slot !== undefined) attributes['db.redis.slot'] = retry.slot;
      if (retry.address !== undefined) attributes['server.address'] = retry.address;
      if (retry.port !== undefined) attributes['server.port'] = retry.port;
      span.addEvent('redis.cluster.redirect', attributes, retry.at);
    } else {
      span.addEvent(
        'redis.cluster.retry',
        { 'db.response.status_code': retry.kind.toUpperCase() },
        retry.at,
      );
    }
  }
  if (redirect !== undefined) span.setAttribute('db.redis.redirect', redirect);
}

/**
 * The pipeline `registerSpanPipeline()` set, process-wide on purpose: it
 * mirrors OpenTelemetry's own global tracer provider, which `startTelemetry()`
 * registers at the same moment, and clients created before or after pick it up.
 */
let registered: CommandSpanRecorder | undefined;

/**
 * Routes the command spans of clients instrumented without an explicit
 * `tracerProvider` into `pipeline` (the pieces of an SDK setup), or back to
 * the global tracer provider with `undefined`. `startTelemetry()` calls it
 * with its own SDK pieces; call it yourself when you build the SDK by hand
 * and want the cheaper command spans.
 *
 * ```ts
 * const processor = new BatchSpanProcessor(new OTLPTraceExporter());
 * const resource = resourceFromAttributes({ 'service.name': 'checkout' });
 * const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
 * const idGenerator = new PooledIdGenerator();
 * new NodeSDK({ resource, sampler, idGenerator, spanProcessors: [processor] }).start();
 * registerSpanPipeline({ processor, resource, sampler, idGenerator, isTracingSuppressed });
 * ```
 */
export function registerSpanPipeline(pipeline: SpanPipeline | undefined): void {
  registered?.flushStaged();
  registered =
    pipeline === undefined ? undefined : new CommandSpanRecorder(pipeline, 'redscope-client');
}

/** The recorder `registerSpanPipeline()` set up, if any. */
export function registeredRecorder(): CommandSpanRecorder | undefined {
  return registered;
}
