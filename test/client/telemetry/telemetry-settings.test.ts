import * as sdk from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { PooledIdGenerator, tracerSettings } from '../../../client/telemetry/telemetry.js';

describe('telemetry settings, happy path', () => {
  it('cuts valid, distinct W3C trace and span ids from its pool', () => {
    const ids = new PooledIdGenerator();
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    // More than one 4 KiB pool's worth, so refills are exercised.
    for (let i = 0; i < 1000; i++) {
      traceIds.add(ids.generateTraceId());
      spanIds.add(ids.generateSpanId());
    }
    expect(traceIds.size).toBe(1000);
    expect(spanIds.size).toBe(1000);
    for (const id of traceIds) expect(id).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    for (const id of spanIds) expect(id).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
  });

  it('samples every new trace at ratio 1 and follows the parent otherwise', () => {
    const settings = tracerSettings(sdk, { sampleRatio: 1 });
    const provider = new sdk.BasicTracerProvider({
      sampler: settings.sampler,
      idGenerator: settings.idGenerator,
    });
    const tracer = provider.getTracer('test');
    for (let i = 0; i < 100; i++) expect(tracer.startSpan('s').isRecording()).toBe(true);
    expect(settings.batch.scheduledDelayMillis).toBe(1000);
  });
});

describe('telemetry settings, unhappy path', () => {
  it('drops about the configured share of new traces at a ratio below 1', () => {
    const settings = tracerSettings(sdk, { sampleRatio: 0.1 });
    const tracer = new sdk.BasicTracerProvider({
      sampler: settings.sampler,
      idGenerator: settings.idGenerator,
    }).getTracer('test');
    let kept = 0;
    for (let i = 0; i < 2000; i++) if (tracer.startSpan('s').isRecording()) kept += 1;
    expect(kept).toBeGreaterThan(100);
    expect(kept).toBeLessThan(320);
  });
});
