import { randomFillSync } from 'node:crypto';
import { context, propagation, type Sampler, trace } from '@opentelemetry/api';
import { TelemetryUnavailableError } from '../errors.js';
import { registeredRecorder, registerSpanPipeline } from './command-spans.js';
import { TraceIdRatioSampler } from './sampling.js';

export type TraceExporterKind = 'otlp' | 'zipkin' | 'console';

export interface TelemetryOptions {
  /**
   * Tracing on or off: off loads nothing and creates no spans.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * `otlp` (OTLP/HTTP: Jaeger, Tempo, Honeycomb and collectors take it), `zipkin` or `console`.
   * @default 'otlp'
   */
  readonly exporter?: TraceExporterKind;
  /**
   * Where spans go.
   * @default `http://localhost:4318/v1/traces`, Zipkin `http://localhost:9411/api/v2/spans`
   */
  readonly endpoint?: string;
  /** Extra HTTP headers for the exporter, e.g. a vendor API key. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Share of new traces to keep, 0..1; a sampled parent's decision wins.
   * @default 1
   */
  readonly sampleRatio?: number;
  /**
   * `service.name` of the spans.
   * @default `redscope-app`
   */
  readonly serviceName?: string;
  /**
   * How long spans wait in the batch before export.
   * @default 1000 ms
   */
  readonly exportDelayMs?: number;
}

export interface Telemetry {
  /** Whether spans are made: false when turned off, and when `OTEL_SDK_DISABLED=true` stops the SDK. */
  readonly enabled: boolean;
  /** Exports the spans still buffered. */
  flush(): Promise<void>;
  /** Flushes and unregisters the SDK (tracer provider, context manager, propagator). */
  shutdown(): Promise<void>;
}

const TELEMETRY_DEFAULTS = {
  exporter: 'otlp' as TraceExporterKind,
  otlpEndpoint: 'http://localhost:4318/v1/traces',
  zipkinEndpoint: 'http://localhost:9411/api/v2/spans',
  sampleRatio: 1,
  serviceName: 'redscope-app',
  exportDelayMs: 1000,
};

/** The sampler classes of `@opentelemetry/sdk-trace-base` (typed here so declarations need no SDK). */
interface SamplerClasses<S> {
  ParentBasedSampler: new (config: { root: S | Sampler }) => S;
  AlwaysOnSampler: new () => S;
}

/**
 * Trace and span ids cut from a pool of random bytes hex-encoded 4 KiB at a
 * time: the SDK's RandomIdGenerator writes Math.random() words into a buffer
 * and hex-encodes each id on its own, 0.4-0.7 µs per root span (trace +
 * span id), measurable when every Redis command gets a span; this costs
 * about 0.1 µs. Ids are random (crypto), never all zeros (invalid in W3C
 * trace context). Written by hand because the SDK offers no faster one.
 * `startTelemetry()` uses it; pass it to your own provider likewise.
 *
 * ```ts
 * new NodeSDK({ idGenerator: new PooledIdGenerator(), ... });
 * ```
 */
export class PooledIdGenerator {
  private readonly bytes = Buffer.allocUnsafe(4096);
  private hex = '';
  private offset = 0;

  generateTraceId(): string {
    return this.take(32);
  }

  generateSpanId(): string {
    return this.take(16);
  }

  private take(chars: number): string {
    for (;;) {
      if (this.offset + chars > this.hex.length) {
        randomFillSync(this.bytes);
        this.hex = this.bytes.toString('hex');
        this.offset = 0;
      }
      const id = this.hex.slice(this.offset, this.offset + chars);
      this.offset += chars;
      // An all-zero id is invalid; one in 2^64 draws, so the check must be cheap.
      if (id.charCodeAt(0) !== 48 || id !== ZEROS.slice(0, chars)) return id;
    }
  }
}
const ZEROS = '0'.repeat(32);

/**
 * The tracer-provider settings `startTelemetry()` uses (sampler, id
 * generator, batch options), for code that builds its own provider from the
 * SDK; bench/client.ts measures with these.
 *
 * ```ts
 * import * as sdk from '@opentelemetry/sdk-trace-base';
 * const { sampler, idGenerator, batch } = tracerSettings(sdk, { sampleRatio: 0.1 });
 * new sdk.BasicTracerProvider({ sampler, idGenerator, spanProcessors: [new sdk.BatchSpanProcessor(exporter, batch)] });
 * ```
 */
export function tracerSettings<S>(
  sdk: SamplerClasses<S>,
  options: TelemetryOptions = {},
): { sampler: S; idGenerator: PooledIdGenerator; batch: { scheduledDelayMillis: number } } {
  const ratio = options.sampleRatio ?? TELEMETRY_DEFAULTS.sampleRatio;
  return {
    // Same decisions as a ratio of 1, without parsing every trace id.
    sampler: new sdk.ParentBasedSampler({
      root: ratio >= 1 ? new sdk.AlwaysOnSampler() : new TraceIdRatioSampler(ratio),
    }),
    idGenerator: new PooledIdGenerator(),
    // The SDK's batch defaults (512 spans a batch, at most 2048 waiting), a shorter delay.
    batch: { scheduledDelayMillis: options.exportDelayMs ?? TELEMETRY_DEFAULTS.exportDelayMs },
  };
}

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
  const serviceName = options.serviceName ?? TELEMETRY_DEFAULTS.serviceName;
  const { NodeSDK, tracing, resources, core } =
    await importPeer<SdkNode>('@opentelemetry/sdk-node');
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
  const settings = tracerSettings(tracing, options);
  const processor = new tracing.BatchSpanProcessor(
    exporter as InstanceType<typeof tracing.ConsoleSpanExporter>,
    settings.batch,
  );
  const resource = resources.resourceFromAttributes({ 'service.name': serviceName });
  const sdk = new NodeSDK({
    autoDetectResources: false,
    resource,
    sampler: settings.sampler,
    idGenerator: settings.idGenerator,
    spanProcessors: [processor],
    // No log or metric pipelines: logs go through pino, metrics through prom-client.
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  // OTEL_SDK_DISABLED makes start() a no-op; command spans must then stay off too.
  const sdkDisabled = core.getBooleanFromEnv('OTEL_SDK_DISABLED');
  // Redis command spans skip the SDK's span objects but go through the same processor, sampler and ids.
  const pipeline = {
    processor,
    resource,
    sampler: settings.sampler,
    idGenerator: settings.idGenerator,
    isTracingSuppressed: core.isTracingSuppressed,
  };
  if (!sdkDisabled) registerSpanPipeline(pipeline);
  const ownRecorder = () => {
    const recorder = registeredRecorder();
    return recorder?.pipeline === pipeline ? recorder : undefined;
  };
  let stopped = false;
  return {
    enabled: !sdkDisabled,
    flush: () => {
      ownRecorder()?.flushStaged();
      return processor.forceFlush();
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      // Only our own: a pipeline registered since (another startTelemetry(), the app) stays.
      if (ownRecorder() !== undefined) registerSpanPipeline(undefined);
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
