/**
 * The client benches' shared workload and tooling: 50 concurrent callers doing
 * 80% GET / 20% SET of 100-byte values over 1,000 keys, measured in rounds;
 * tracing set up as `startTelemetry()` sets it up, with an exporter that drops
 * the batches; the statistics the benches report.
 */
import { Writable } from 'node:stream';
import { isTracingSuppressed } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import * as sdk from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { Cluster, Redis } from 'ioredis';
import { type SpanPipeline, tracerSettings } from '../../client/otel.js';

/** A single Redis or a Cluster: the workload only needs GET and SET. */
export type WorkloadClient = Pick<Redis | Cluster, 'get' | 'set'>;

/** Concurrent callers of the workload. */
export const CALLERS = 50;
export const KEYS = 1000;
export const VALUE = 'v'.repeat(100);

export interface RoundResult {
  readonly opsPerSecond: number;
  /** Client process CPU (user + system) per operation, µs: less sensitive to a busy machine than wall time. */
  readonly cpuUsPerOp: number;
  readonly latenciesMs: Float64Array;
  /** Commands completed in the round. */
  readonly commands: number;
}

/**
 * Spans are built and batched as in production, then dropped instead of
 * serialized and sent. Every field an OTLP exporter reads is read, so spans
 * that compute fields lazily pay for them here as they would in production.
 */
export class DiscardingExporter implements SpanExporter {
  exported = 0;
  checksum = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    for (const span of spans) {
      const context = span.spanContext();
      this.checksum +=
        span.name.length +
        span.kind +
        context.spanId.length +
        (span.parentSpanContext?.spanId.length ?? 0) +
        span.startTime[1] +
        span.endTime[1] +
        span.duration[1] +
        span.status.code +
        Object.keys(span.attributes).length +
        span.events.length +
        span.links.length +
        span.droppedAttributesCount +
        (span.resource === undefined ? 0 : 1) +
        span.instrumentationScope.name.length;
    }
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

/** A pino destination that drops lines but still takes the write (a /dev/null file). */
export const nullStream = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

export async function round(redis: WorkloadClient, ms: number): Promise<RoundResult> {
  const latencies = new Float64Array(200_000);
  let ops = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const end = started + ms;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      let i = caller;
      while (performance.now() < end) {
        const key = `bench:${i % KEYS}`;
        const t0 = performance.now();
        if (i % 5 === 0) await redis.set(key, VALUE);
        else await redis.get(key);
        if (ops < latencies.length) latencies[ops] = performance.now() - t0;
        ops += 1;
        i += 7;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    opsPerSecond: (ops / elapsed) * 1000,
    cpuUsPerOp: (cpu.user + cpu.system) / ops,
    latenciesMs: latencies.subarray(0, Math.min(ops, latencies.length)),
    commands: ops,
  };
}

/** A deterministic shuffle (seeded), so two runs use the same orders. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = (seed + 1) * 2654435761;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

export function percentile(samples: readonly Float64Array[], p: number): number {
  const total = samples.reduce((n, s) => n + s.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const s of samples) {
    all.set(s, offset);
    offset += s.length;
  }
  all.sort();
  return all[Math.min(all.length - 1, Math.floor((p / 100) * all.length))] as number;
}

/** One tracing setup as `startTelemetry()` builds it: the SDK provider and the same pieces as a span pipeline. */
export interface TracingSetup {
  readonly provider: BasicTracerProvider;
  readonly pipeline: SpanPipeline;
  readonly exporter: DiscardingExporter;
}

export function tracingSetup(sampleRatio: number): TracingSetup {
  const exporter = new DiscardingExporter();
  const settings = tracerSettings(sdk, { sampleRatio });
  const processor = new BatchSpanProcessor(exporter, settings.batch);
  const resource = resourceFromAttributes({ 'service.name': 'bench' });
  const provider = new BasicTracerProvider({
    resource,
    sampler: settings.sampler,
    idGenerator: settings.idGenerator,
    spanProcessors: [processor],
  });
  const pipeline = {
    processor,
    resource,
    sampler: settings.sampler,
    idGenerator: settings.idGenerator,
    isTracingSuppressed,
  };
  return { provider, pipeline, exporter };
}
