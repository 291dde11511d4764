// `redscope/client/otel`: for apps that build their own OpenTelemetry SDK and want
// redscope's cheaper command spans and the settings `startTelemetry()` uses.
export {
  type ExportableSpan,
  registerSpanPipeline,
  type SpanEvent,
  type SpanPipeline,
} from './telemetry/command-spans.js';
export { TraceIdRatioSampler } from './telemetry/sampling.js';
export { PooledIdGenerator, tracerSettings } from './telemetry/telemetry.js';
