import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { core, NodeSDK, resources, tracing } from '@opentelemetry/sdk-node';
import type { Redis } from 'ioredis';
import { instrumentRedis } from '../../client/index.js';
import { PooledIdGenerator, registerSpanPipeline, TraceIdRatioSampler } from '../../client/otel.js';

/**
 * An app that starts the OpenTelemetry SDK itself, brings its own ioredis
 * client, and still wants redscope's lean command spans: it hands the SDK's
 * span processor, resource, sampler and id generator to
 * `registerSpanPipeline()` as well.
 */
export async function traceWithOwnSdk(
  writer: Redis,
  otlpEndpoint: string,
  sampleRatio: number,
): Promise<void> {
  const processor = new tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: otlpEndpoint }));
  const resource = resources.resourceFromAttributes({ 'service.name': 'nightly-jobs' });
  const sampler = new tracing.ParentBasedSampler({ root: new TraceIdRatioSampler(sampleRatio) });
  const idGenerator = new PooledIdGenerator();
  const sdk = new NodeSDK({
    resource,
    sampler,
    idGenerator,
    spanProcessors: [processor],
    autoDetectResources: false,
  });
  sdk.start();
  const { isTracingSuppressed } = core;
  registerSpanPipeline({ processor, resource, sampler, idGenerator, isTracingSuppressed });
  const instrumentation = instrumentRedis({ writer }); // no tracerProvider: the pipeline is used
  try {
    // The job's span is sampled at the ratio; its Redis spans follow its decision.
    await trace.getTracer('nightly-jobs').startActiveSpan('purge-expired', async (span) => {
      await writer.set('jobs:purge:last-run', String(Date.now()));
      span.end();
    });
  } finally {
    instrumentation.detach();
    registerSpanPipeline(undefined); // makes the spans still waiting for the next tick
    await sdk.shutdown(); // exports them
  }
}
