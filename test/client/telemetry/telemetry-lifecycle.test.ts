import { afterEach, describe, expect, it } from 'vitest';
import {
  registeredRecorder,
  registerSpanPipeline,
} from '../../../client/telemetry/command-spans.js';
import { startTelemetry } from '../../../client/telemetry/telemetry.js';
import { inMemoryTracing } from '../support/in-memory-tracing.js';

// startTelemetry() registers process-wide state; each test stops what it started.
afterEach(() => {
  delete process.env.OTEL_SDK_DISABLED;
  registerSpanPipeline(undefined);
});

describe('telemetry lifecycle, happy path', () => {
  it('registers its span pipeline on start and removes it on shutdown', async () => {
    const telemetry = await startTelemetry({ exporter: 'console' });
    expect(telemetry.enabled).toBe(true);
    expect(registeredRecorder()).toBeDefined();
    await telemetry.shutdown();
    expect(registeredRecorder()).toBeUndefined();
  });
});

describe('telemetry lifecycle, unhappy path', () => {
  it('makes no command spans when OTEL_SDK_DISABLED stops the SDK', async () => {
    process.env.OTEL_SDK_DISABLED = 'true';
    const telemetry = await startTelemetry({ exporter: 'console' });
    expect(telemetry.enabled).toBe(false);
    expect(registeredRecorder()).toBeUndefined();
    await telemetry.shutdown();
  });

  it('leaves a pipeline registered after it alone when it shuts down', async () => {
    const telemetry = await startTelemetry({ exporter: 'console' });
    const other = inMemoryTracing();
    registerSpanPipeline(other.pipeline);
    await telemetry.shutdown();
    expect(registeredRecorder()?.pipeline).toBe(other.pipeline);
    await other.shutdown();
  });
});
