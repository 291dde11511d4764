import type { Attributes } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type Command, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { instrumentRedis } from '../../../client/instrumentation/instrumentation.js';

/** A client whose commands are answered in-process, and the attributes its sampler saw. */
async function traceOneGet(startAttributes: boolean | undefined) {
  const seen: Attributes[] = [];
  const sampler: Sampler = {
    shouldSample(_context, _traceId, _name, _kind, attributes) {
      seen.push({ ...attributes });
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    },
  };
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const redis = new Redis({ lazyConnect: true, port: 6390 });
  redis.sendCommand = ((command: Command) => {
    command.resolve(Buffer.from('v'));
    return command.promise;
  }) as unknown as Redis['sendCommand'];
  const instrumented = instrumentRedis(
    { writer: redis },
    { tracing: { tracerProvider: provider, startAttributes } },
  );
  try {
    expect(await redis.get('app:session:s3cret')).toBe('v');
    return { seen, spans: exporter.getFinishedSpans() };
  } finally {
    instrumented.detach();
    redis.disconnect();
    await provider.shutdown();
  }
}

const expected = {
  'db.system.name': 'redis',
  'db.operation.name': 'GET',
  'db.namespace': '0',
  'server.address': 'localhost',
  'server.port': 6390,
  'db.query.text': 'GET app:session:<redacted>',
};

describe('span attributes at creation, happy path', () => {
  it('shows the sampler the connection and operation attributes by default', async () => {
    const { seen, spans } = await traceOneGet(undefined);
    expect(seen).toEqual([
      {
        'db.system.name': 'redis',
        'db.operation.name': 'GET',
        'db.namespace': '0',
        'server.address': 'localhost',
        'server.port': 6390,
      },
    ]);
    expect(spans.map((s) => s.attributes)).toEqual([expected]);
  });
});

describe('span attributes at creation, unhappy path', () => {
  it('with startAttributes false, the sampler sees none but the span still has them all', async () => {
    const { seen, spans } = await traceOneGet(false);
    expect(seen).toEqual([{}]);
    expect(spans.map((s) => s.name)).toEqual(['GET']);
    expect(spans.map((s) => s.attributes)).toEqual([expected]);
  });
});
