import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SamplingDecision, SpanKind } from '@opentelemetry/api';
import { TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { TraceIdRatioSampler } from '../../../client/telemetry/sampling.js';

const decide = (
  sampler: { shouldSample: TraceIdRatioSampler['shouldSample'] },
  traceId: string,
): SamplingDecision =>
  (sampler.shouldSample as (...args: unknown[]) => ReturnType<TraceIdRatioSampler['shouldSample']>)(
    ROOT_CONTEXT,
    traceId,
    'GET',
    SpanKind.CLIENT,
    {},
    [],
  ).decision;

describe('trace id ratio sampler, happy path', () => {
  it.each([0, 0.1, 0.5, 0.999, 1])(
    'decides exactly as the SDK sampler does at ratio %s',
    (ratio) => {
      const ours = new TraceIdRatioSampler(ratio);
      const sdk = new TraceIdRatioBasedSampler(ratio);
      let kept = 0;
      for (let i = 0; i < 20_000; i++) {
        const id = randomBytes(16).toString('hex');
        const decision = decide(ours, i % 2 ? id.toUpperCase() : id);
        expect(decision).toBe(decide(sdk, i % 2 ? id.toUpperCase() : id));
        if (decision === SamplingDecision.RECORD_AND_SAMPLED) kept += 1;
      }
      expect(kept / 20_000).toBeCloseTo(ratio, 1);
      expect(ours.toString()).toBe(sdk.toString());
    },
  );
});

describe('trace id ratio sampler, unhappy path', () => {
  it.each([
    ['all zeros', '0'.repeat(32)],
    ['too short', 'abc'],
    ['too long', 'a'.repeat(33)],
    ['not hex', `${'a'.repeat(31)}g`],
    ['empty', ''],
  ])('drops a trace id that is %s, as the SDK does', (_label, traceId) => {
    const ours = new TraceIdRatioSampler(1);
    expect(decide(ours, traceId)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(new TraceIdRatioBasedSampler(1), traceId)).toBe(SamplingDecision.NOT_RECORD);
  });

  it('clamps a ratio outside 0..1 and treats NaN or a non-number as 0, as the SDK does', () => {
    // Its words XOR to 0xb3333333, about 0.7 of the range: kept at ratio 1, dropped at 0 or 0.5.
    const id = `b3333333${'0'.repeat(24)}`;
    const expected: [unknown, SamplingDecision][] = [
      [2, SamplingDecision.RECORD_AND_SAMPLED],
      [-1, SamplingDecision.NOT_RECORD],
      [Number.NaN, SamplingDecision.NOT_RECORD],
      ['0.9', SamplingDecision.NOT_RECORD],
      [undefined, SamplingDecision.NOT_RECORD],
    ];
    for (const [ratio, decision] of expected) {
      expect(decide(new TraceIdRatioSampler(ratio as number), id)).toBe(decision);
      expect(decide(new TraceIdRatioBasedSampler(ratio as number), id)).toBe(decision);
    }
    expect(decide(new TraceIdRatioSampler(0.5), id)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(new TraceIdRatioSampler(1), null as unknown as string)).toBe(
      SamplingDecision.NOT_RECORD,
    );
  });
});
