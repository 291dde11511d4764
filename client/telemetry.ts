import { context, propagation, trace } from '@opentelemetry/api';
import { TelemetryUnavailableError } from './errors.js';

export type TraceExporterKind = 'otlp' | 'zipkin' | 'console';

export interface TelemetryOptions {
  /** Tracing on (default) or off: off loads nothing and creates no spans. */
  readonly enabled?: boolean;
  /** `otlp` (OTLP/HTTP, default: Jaeger, Tempo, Honeycomb and collectors take it), `zipkin` or `console`. */
  readonly exporter?: TraceExporterKind;
  /** Where spans go (default `http://localhost:4318/v1/traces`, Zipkin `http://localhost:9411/api/v2/spans`). */
  readonly endpoint?: string;
  /** Extra HTTP headers for the exporter, e.g. a vendor API key. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Share of new traces to keep, 0..1 (default 1); a sampled parent's decision wins. */
  readonly sampleRatio?: number;
  /** `service.name` of the spans (default `redscope-app`). */
  readonly serviceName?: string;
  /** How long spans wait in the batch before export (default 1000 ms). */
  readonly exportDelayMs?: number;
}

export interface Telemetry {
  readonly enabled: boolean;
  /** Exports the spans still buffered. */
  flush(): Promise<void>;
  /** Flushes and unregisters the SDK (tracer provider, context manager, propagator). */
  shutdown(): Promise<void>;
}

export const TELEMETRY_DEFAULTS = {
  exporter: 'otlp' as TraceExporterKind,
  otlpEndpoint: 'http://localhost:4318/v1/traces',
  zipkinEndpoint: 'http://localhost:9411/api/v2/spans',
  sampleRatio: 1,
  serviceName: 'redscope-app',
  exportDelayMs: 1000,
};

async function importPeer<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new TelemetryUnavailableError(name, error);
  }
}

type SdkNode = typeof import('@opentelemetry/sdk-node');
type OtlpHttp = typeof import('@opentelemetry/exporter-trace-otlp-http');
type Zipkin = typeof import('@opentelemetry/exporter-zipkin');

/**
 * Starts the OpenTelemetry Node SDK for traces: registers a tracer provider
 * with a parent-based ratio sampler, the async-hooks context manager and W3C
 * trace-context propagation, and exports spans in batches. The SDK is an
 * optional peer dependency, loaded only here; without it this rejects with
 * TelemetryUnavailableError. Call it before creating clients.
 *
 * ```ts
 * const telemetry = await startTelemetry({ serviceName: 'checkout', endpoint: 'http://otel-collector:4318/v1/traces' });
 * process.on('SIGTERM', () => telemetry.shutdown());
 * ```
 */
export async function startTelemetry(options: TelemetryOptions = {}): Promise<Telemetry> {
  if (options.enabled === false) {
    return { enabled: false, flush: async () => undefined, shutdown: async () => undefined };
  }
  const ratio = options.sampleRatio ?? TELEMETRY_DEFAULTS.sampleRatio;
  const serviceName = options.serviceName ?? TELEMETRY_DEFAULTS.serviceName;
  const { NodeSDK, tracing, resources } = await importPeer<SdkNode>('@opentelemetry/sdk-node');
  const kind = options.exporter ?? TELEMETRY_DEFAULTS.exporter;
  let exporter:
    | InstanceType<typeof tracing.ConsoleSpanExporter>
    | { export: unknown; shutdown(): Promise<void> };
  if (kind === 'otlp') {
    const { OTLPTraceExporter } = await importPeer<OtlpHttp>(
      '@opentelemetry/exporter-trace-otlp-http',
    );
    exporter = new OTLPTraceExporter({
      url: options.endpoint ?? TELEMETRY_DEFAULTS.otlpEndpoint,
      headers: { ...options.headers },
    });
  } else if (kind === 'zipkin') {
    const { ZipkinExporter } = await importPeer<Zipkin>('@opentelemetry/exporter-zipkin');
    exporter = new ZipkinExporter({
      url: options.endpoint ?? TELEMETRY_DEFAULTS.zipkinEndpoint,
      serviceName,
      headers: { ...options.headers },
    });
  } else {
    exporter = new tracing.ConsoleSpanExporter();
  }
  const processor = new tracing.BatchSpanProcessor(
    exporter as InstanceType<typeof tracing.ConsoleSpanExporter>,
    {
      scheduledDelayMillis: options.exportDelayMs ?? TELEMETRY_DEFAULTS.exportDelayMs,
    },
  );
  const sdk = new NodeSDK({
    autoDetectResources: false,
    resource: resources.resourceFromAttributes({ 'service.name': serviceName }),
    sampler: new tracing.ParentBasedSampler({ root: new tracing.TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [processor],
    // No log or metric pipelines: logs go through pino, metrics through prom-client.
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  let stopped = false;
  return {
    enabled: true,
    flush: () => processor.forceFlush(),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      try {
        await sdk.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}
