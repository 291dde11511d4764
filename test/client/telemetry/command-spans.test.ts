import {
  type Attributes,
  context,
  ROOT_CONTEXT,
  type Sampler,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { isTracingSuppressed, suppressTracing } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CommandSpanRecorder,
  registeredRecorder,
  registerSpanPipeline,
  type SpanPipeline,
  type StagedCommand,
} from '../../../client/telemetry/command-spans.js';
import { PooledIdGenerator } from '../../../client/telemetry/telemetry.js';

const BASE: Attributes = {
  'db.system.name': 'redis',
  'db.namespace': '0',
  'server.address': '127.0.0.1',
  'server.port': 6379,
  'db.operation.name': 'GET',
};

function setup(sampler: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() })) {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const resource = resourceFromAttributes({ 'service.name': 'command-spans-test' });
  const idGenerator = new PooledIdGenerator();
  const pipeline: SpanPipeline = {
    processor,
    resource,
    sampler,
    idGenerator,
    isTracingSuppressed,
  };
  const provider = new BasicTracerProvider({
    resource,
    sampler,
    idGenerator,
    spanProcessors: [processor],
  });
  return {
    exporter,
    pipeline,
    provider,
    recorder: new CommandSpanRecorder(pipeline, 'redscope-client'),
  };
}

const hrMs = ([seconds, nanos]: readonly [number, number]) => seconds * 1000 + nanos / 1e6;

function staged(overrides: Partial<StagedCommand> = {}): StagedCommand & { errors: unknown[] } {
  const errors: unknown[] = [];
  return {
    operation: 'GET',
    attributes: BASE,
    parent: ROOT_CONTEXT,
    startedAt: performance.now() - 3,
    durationMs: 3,
    queryText: () => 'GET session:<redacted>',
    errorType: undefined,
    statusCode: undefined,
    onError: (error: unknown) => errors.push(error),
    errors,
    ...overrides,
  };
}

afterEach(() => registerSpanPipeline(undefined));

describe('command spans, happy path', () => {
  it('gives exporters every field an SDK span has, with the same types and parentage', () => {
    const { exporter, recorder, provider } = setup();
    const parent = provider.getTracer('test').startSpan('session.validate');
    const parentContext = trace.setSpan(context.active(), parent);
    const startedAt = performance.now();
    const wallAtStart = Date.now();
    const span = recorder.start('GET', BASE, parentContext, startedAt);
    expect(span).toBeDefined();
    span?.setAttribute('db.query.text', 'GET session:<redacted>');
    span?.endAfter(2.5);
    parent.end();
    const [command, sdkSpan] = exporter.getFinishedSpans() as [ReadableSpan, ReadableSpan];

    expect(command.name).toBe('GET');
    expect(command.kind).toBe(SpanKind.CLIENT);
    expect(command.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(command.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(command.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    expect(command.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(command.attributes).toEqual({ ...BASE, 'db.query.text': 'GET session:<redacted>' });
    // The cached base object is shared by every span of the connection: never written to.
    expect(BASE).not.toHaveProperty('db.query.text');
    expect(command.duration).toEqual([0, 2_500_000]);
    expect(hrMs(command.endTime) - hrMs(command.startTime)).toBeCloseTo(2.5, 3);
    expect(Math.abs(hrMs(command.startTime) - wallAtStart)).toBeLessThan(50);
    expect(command.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(command.ended).toBe(true);
    expect(command.resource).toBe(sdkSpan.resource);
    expect(command.instrumentationScope.name).toBe('redscope-client');
    // Field by field against a real SDK span: same names, same kinds of values.
    const shape = (s: ReadableSpan) =>
      Object.fromEntries(
        (
          [
            'name',
            'kind',
            'startTime',
            'endTime',
            'duration',
            'status',
            'attributes',
            'links',
            'events',
            'ended',
            'droppedAttributesCount',
            'droppedEventsCount',
            'droppedLinksCount',
          ] as const
        ).map((key) => [key, Array.isArray(s[key]) ? 'array' : typeof s[key]]),
      );
    expect(shape(command)).toEqual(shape(sdkSpan));
  });

  it('stages completed commands and makes their spans at the next setImmediate', async () => {
    const { exporter, recorder } = setup();
    recorder.stage(staged());
    recorder.stage(staged({ operation: 'SET', queryText: () => 'SET session:<redacted> ?' }));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['GET', 'SET']);
    expect(spans[1]?.attributes['db.query.text']).toBe('SET session:<redacted> ?');
    expect(hrMs(spans[0]?.duration as [number, number])).toBeCloseTo(3, 3);
  });

  it('starts a staged span when its command was sent, and ends it exactly a duration later', () => {
    const { exporter, recorder } = setup();
    const sentAt = Date.now() - 500;
    recorder.stage(staged({ startedAt: performance.now() - 500, durationMs: 12.3456789 }));
    recorder.flushStaged();
    const [span] = exporter.getFinishedSpans() as [ReadableSpan];
    expect(Math.abs(hrMs(span.startTime) - sentAt)).toBeLessThan(50);
    const nanos = ([seconds, ns]: readonly [number, number]) =>
      BigInt(seconds) * 10n ** 9n + BigInt(ns);
    expect(nanos(span.endTime) - nanos(span.startTime)).toBe(nanos(span.duration));
    expect(span.duration).toEqual([0, 12_345_679]);
  });

  it('makes the spans at once when a loop that never yields has staged 4096', () => {
    const { exporter, recorder } = setup();
    for (let i = 0; i < 4096; i++) recorder.stage(staged());
    expect(exporter.getFinishedSpans()).toHaveLength(4096);
  });

  it('treats status as the SDK does: UNSET changes nothing, OK is final, only ERROR keeps a message', () => {
    const { exporter, recorder } = setup();
    const ok = recorder.start('GET', BASE, ROOT_CONTEXT);
    ok?.setStatus({ code: SpanStatusCode.OK, message: 'dropped' });
    ok?.setStatus({ code: SpanStatusCode.ERROR, message: 'too late' });
    ok?.end();
    const failed = recorder.start('SET', BASE, ROOT_CONTEXT);
    failed?.setStatus({ code: SpanStatusCode.ERROR, message: 'WRONGTYPE' });
    failed?.setStatus({ code: SpanStatusCode.UNSET });
    failed?.end();
    expect(exporter.getFinishedSpans().map((s) => s.status)).toEqual([
      { code: SpanStatusCode.OK },
      { code: SpanStatusCode.ERROR, message: 'WRONGTYPE' },
    ]);
  });

  it('routes through the registered pipeline and flushes staged spans when it is replaced', () => {
    const { exporter, pipeline } = setup();
    registerSpanPipeline(pipeline);
    const recorder = registeredRecorder();
    expect(recorder?.pipeline).toBe(pipeline);
    recorder?.stage(staged());
    registerSpanPipeline(undefined);
    expect(registeredRecorder()).toBeUndefined();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['GET']);
  });
});

describe('command spans, unhappy path', () => {
  it('marks a failed command with error status, error.type and the Redis error prefix', () => {
    const { exporter, recorder } = setup();
    recorder.stage(staged({ errorType: 'WRONGTYPE', statusCode: 'WRONGTYPE' }));
    recorder.flushStaged();
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'WRONGTYPE' });
    expect(span?.attributes['error.type']).toBe('WRONGTYPE');
    expect(span?.attributes['db.response.status_code']).toBe('WRONGTYPE');
  });

  it('makes no span where the sampler drops it or the SDK suppresses tracing', () => {
    const dropAll: Sampler = {
      shouldSample: () => ({ decision: SamplingDecision.NOT_RECORD }),
      toString: () => 'drop all',
    };
    const dropped = setup(dropAll);
    expect(dropped.recorder.start('GET', BASE, ROOT_CONTEXT)).toBeUndefined();
    const kept = setup();
    expect(kept.recorder.start('GET', BASE, suppressTracing(ROOT_CONTEXT))).toBeUndefined();
    expect([...dropped.exporter.getFinishedSpans(), ...kept.exporter.getFinishedSpans()]).toEqual(
      [],
    );
  });

  it('records but does not sample when the sampler says RECORD, so exporters never see it', () => {
    const recordOnly: Sampler = {
      shouldSample: () => ({ decision: SamplingDecision.RECORD }),
      toString: () => 'record only',
    };
    const { exporter, recorder } = setup(recordOnly);
    const span = recorder.start('GET', BASE, ROOT_CONTEXT);
    expect(span?.isRecording()).toBe(true);
    expect(span?.spanContext().traceFlags).toBe(TraceFlags.NONE);
    span?.end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('reports a command whose span fails and still makes the others', () => {
    const { exporter, recorder } = setup();
    const broken = staged({
      queryText: () => {
        throw new Error('query text exploded');
      },
    });
    recorder.stage(staged());
    recorder.stage(broken);
    recorder.stage(staged({ operation: 'DEL' }));
    recorder.flushStaged();
    expect(broken.errors).toEqual([expect.objectContaining({ message: 'query text exploded' })]);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['GET', 'DEL']);
  });

  it('refuses a sampler that writes to the shared attributes, without corrupting them', () => {
    const frozen = Object.freeze({ ...BASE });
    const meddling: Sampler = {
      shouldSample: (_context, _traceId, _name, _kind, attributes) => {
        attributes.meddled = true;
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      },
      toString: () => 'meddling',
    };
    const { exporter, recorder } = setup(meddling);
    const command = staged({ attributes: frozen });
    recorder.stage(command);
    recorder.flushStaged();
    expect(command.errors).toEqual([expect.any(TypeError)]);
    expect(frozen).not.toHaveProperty('meddled');
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('keeps making spans when reporting a failure fails too', () => {
    const { exporter, recorder } = setup();
    recorder.stage(
      staged({
        queryText: () => {
          throw new Error('query text exploded');
        },
        onError: () => {
          throw new Error('logger exploded');
        },
      }),
    );
    recorder.stage(staged({ operation: 'DEL' }));
    expect(() => recorder.flushStaged()).not.toThrow();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['DEL']);
  });

  it('ignores writes after end, as SDK spans do', () => {
    const { exporter, recorder } = setup();
    const span = recorder.start('GET', BASE, ROOT_CONTEXT);
    span?.end(new Date(Date.now() + 5));
    span?.setAttribute('late', 'value');
    span?.setStatus({ code: SpanStatusCode.ERROR });
    span?.end();
    const [exported] = exporter.getFinishedSpans();
    expect(exported?.attributes).not.toHaveProperty('late');
    expect(exported?.status.code).toBe(SpanStatusCode.UNSET);
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(hrMs(exported?.duration as [number, number])).toBeGreaterThan(0);
  });
});
