import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { registeredRecorder, type SpanPipeline } from '../../../client/telemetry/command-spans.js';
import { PooledIdGenerator } from '../../../client/telemetry/telemetry.js';

export interface InMemoryTracing {
  readonly provider: BasicTracerProvider;
  /** The same processor, resource, sampler and ids as a span pipeline (what `startTelemetry()` registers). */
  readonly pipeline: SpanPipeline;
  /** Names of the spans that reached the processor through `pipeline`, not through `provider`. */
  pipelineSpanNames(): string[];
  /** Finished spans, after the staged command spans of the registered pipeline are made. */
  spans(): ReadableSpan[];
  reset(): void;
  shutdown(): Promise<void>;
}

/**
 * A tracer provider that keeps finished spans in memory, plus the async-hooks
 * context manager and W3C propagation (registered globally, as the SDK would: parentage
 * across awaits and incoming traceparent headers need them).
 */
export function inMemoryTracing(): InMemoryTracing {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const resource = resourceFromAttributes({ 'service.name': 'redscope-test' });
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const idGenerator = new PooledIdGenerator();
  const provider = new BasicTracerProvider({
    resource,
    sampler,
    idGenerator,
    spanProcessors: [processor],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const throughPipeline: string[] = [];
  const pipeline: SpanPipeline = {
    processor: {
      onStart: (span, parentContext) => processor.onStart(span as never, parentContext),
      onEnd: (span) => {
        throughPipeline.push(span.name);
        processor.onEnd(span as never);
      },
    },
    resource,
    sampler,
    idGenerator,
    isTracingSuppressed,
  };
  return {
    provider,
    pipeline,
    pipelineSpanNames: () => {
      registeredRecorder()?.flushStaged();
      return [...throughPipeline];
    },
    spans: () => {
      registeredRecorder()?.flushStaged();
      return exporter.getFinishedSpans();
    },
    reset: () => {
      registeredRecorder()?.flushStaged();
      exporter.reset();
      throughPipeline.length = 0;
    },
    async shutdown() {
      await provider.shutdown();
      context.disable();
      propagation.disable();
      trace.disable();
    },
  };
}

export const spanIdOf = (span: ReadableSpan) => span.spanContext().spanId;
export const parentIdOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Every attribute value of every span as text, for "this secret appears nowhere" checks. */
export function allAttributeText(spans: readonly ReadableSpan[]): string {
  return spans
    .flatMap((s) => [s.name, s.status.message ?? '', ...Object.values(s.attributes).map(String)])
    .join('\n');
}
