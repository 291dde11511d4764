import { SpanKind, SpanStatusCode, type TracerProvider, trace } from '@opentelemetry/api';
import express from 'express';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  instrumentRedis,
  type RedisInstrumentation,
  type TracingOptions,
} from '../../../client/instrumentation/instrumentation.js';
import { requestContextMiddleware } from '../../../client/logging/express-middleware.js';
import { createSessionCache } from '../../../client/session/session-cache.js';
import {
  registerSpanPipeline,
  type SpanPipeline,
} from '../../../client/telemetry/command-spans.js';
import { clientFor, portOf, sharedTopology } from '../../support/shared-topology.js';
import {
  allAttributeText,
  inMemoryTracing,
  parentIdOf,
  spanIdOf,
} from '../support/in-memory-tracing.js';
import { sessionClientsOf, sharedPair, uniquePrefix } from '../support/redis-pair.js';

const tracing = inMemoryTracing();
const pair = sharedPair();

/**
 * Every test runs twice: command spans through the SDK tracer (an explicit
 * `tracerProvider`), and through the span pipeline that `startTelemetry()`
 * registers (with the provider registered globally, as the SDK does).
 */
const SPAN_PATHS = [
  { path: 'the SDK tracer', pipeline: false },
  { path: 'the span pipeline', pipeline: true },
] as const;

describe.each(SPAN_PATHS)('command spans through $path', ({ pipeline }) => {
  let redis: RedisInstrumentation;
  const tracingOptions = (extra: TracingOptions = {}): TracingOptions =>
    pipeline ? extra : { tracerProvider: tracing.provider, ...extra };

  beforeAll(async () => {
    if (pipeline) {
      trace.setGlobalTracerProvider(tracing.provider);
      registerSpanPipeline(tracing.pipeline);
    }
    redis = instrumentRedis(pair, { tracing: tracingOptions() });
  });
  afterAll(() => {
    redis.detach();
    if (pipeline) {
      registerSpanPipeline(undefined);
      trace.disable();
    }
  });
  afterEach(() => tracing.reset());

  const inSpan = <T>(fn: () => Promise<T>): Promise<T> =>
    tracing.provider.getTracer('test').startActiveSpan('caller', async (span) => {
      try {
        return await fn();
      } finally {
        span.end();
      }
    });

  async function serve(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return {
      url: `http://127.0.0.1:${address.port}`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  describe('tracing, happy path', () => {
    it('nests each Redis command under session.validate under the HTTP request span', async () => {
      const prefix = uniquePrefix('tracing');
      const sessions = createSessionCache(sessionClientsOf(pair), {
        loader: async () => null,
        keyPrefix: prefix,
        tracing: { tracerProvider: tracing.provider },
      });
      const token = `tok-${Math.random().toString(36).slice(2)}-SECRET`;
      await sessions.create(token, { userId: 'u1', orgId: 'acme' });
      const app = express();
      app.use(requestContextMiddleware({ tracerProvider: tracing.provider }));
      app.get('/profile', async (req, res) => {
        const result = await sessions.validate(String(req.headers.authorization));
        res.status(result.valid ? 200 : 401).json({ valid: result.valid });
      });
      const server = await serve(app);
      try {
        tracing.reset();
        const response = await fetch(`${server.url}/profile`, {
          headers: { authorization: token },
        });
        expect(response.status).toBe(200);
      } finally {
        await server.close();
      }
      const spans = tracing.spans();
      const http = spans.find((s) => s.kind === SpanKind.SERVER);
      expect(http?.name).toBe('GET /profile');
      expect(http?.attributes['http.response.status_code']).toBe(200);
      const validate = spans.find((s) => s.name === 'session.validate');
      expect(validate).toBeDefined();
      expect(parentIdOf(validate as never)).toBe(spanIdOf(http as never));
      expect(validate?.spanContext().traceId).toBe(http?.spanContext().traceId);
      const commands = spans.filter((s) => s.kind === SpanKind.CLIENT);
      // The replica pipeline (counter + session) and the master's counter GET, maybe a master GET.
      expect(commands.length).toBeGreaterThanOrEqual(2);
      for (const span of commands) {
        expect(parentIdOf(span)).toBe(spanIdOf(validate as never));
        expect(span.attributes['db.system.name']).toBe('redis');
        expect(span.attributes['db.namespace']).toBe('0');
        expect(span.attributes['server.address']).toBe('127.0.0.1');
        expect([pair.writer.options.port, pair.reader.options.port]).toContain(
          span.attributes['server.port'],
        );
      }
      const masterGet = commands.find((s) => s.name === 'GET');
      expect(masterGet?.attributes['db.operation.name']).toBe('GET');
      expect(masterGet?.attributes['db.query.text']).toMatch(
        /^GET t-tracing-[a-z]+:sessions:<redacted>$/,
      );
      const replicaBatch = commands.find(
        (s) => s.attributes['server.port'] === pair.reader.options.port,
      );
      expect(replicaBatch?.name).toBe('PIPELINE');
      expect(replicaBatch?.attributes['db.operation.batch.size']).toBe(2);
      expect(allAttributeText(spans)).not.toContain(token);
      expect(allAttributeText(spans)).not.toContain('acme');
    });

    it('traces a pipeline as one span with its batch size and no per-command spans', async () => {
      const key = `${uniquePrefix('pipe')}counter`;
      const replies = await inSpan(() =>
        pair.writer.pipeline().set(key, 'value-secret-1').get(key).incr(`${key}:n`).exec(),
      );
      expect(replies?.map(([, value]) => value)).toEqual(['OK', 'value-secret-1', 1]);
      const commands = tracing.spans().filter((s) => s.kind === SpanKind.CLIENT);
      expect(commands.map((s) => s.name)).toEqual(['PIPELINE']);
      expect(commands[0]?.attributes['db.operation.batch.size']).toBe(3);
      expect(commands[0]?.attributes['db.operation.name']).toBe('PIPELINE');
      const caller = tracing.spans().find((s) => s.name === 'caller');
      expect(parentIdOf(commands[0] as never)).toBe(spanIdOf(caller as never));
      expect(allAttributeText(tracing.spans())).not.toContain('value-secret-1');
    });

    it('traces MULTI as one span counting the commands between MULTI and EXEC', async () => {
      const key = `${uniquePrefix('multi')}k`;
      const replies = await inSpan(() =>
        pair.writer.multi().set(key, 'v-secret-2').get(key).exec(),
      );
      expect(replies?.map(([, value]) => value)).toEqual(['OK', 'v-secret-2']);
      const commands = tracing.spans().filter((s) => s.kind === SpanKind.CLIENT);
      expect(commands.map((s) => s.name)).toEqual(['MULTI']);
      expect(commands[0]?.attributes['db.operation.batch.size']).toBe(2);
    });

    it('shows key shapes and structural arguments in db.query.text, never values', async () => {
      const key = `${uniquePrefix('query')}session:abc123secret`;
      await inSpan(async () => {
        await pair.writer.set(key, 'hunter2', 'EX', 60);
        await pair.writer.expire(key, 120);
      });
      const texts = tracing
        .spans()
        .map((s) => s.attributes['db.query.text'])
        .filter(Boolean);
      expect(texts).toEqual([
        expect.stringMatching(/^SET t-query-[a-z]+:session:<redacted> \? \? \?$/),
        expect.stringMatching(/^EXPIRE t-query-[a-z]+:session:<redacted> 120$/),
      ]);
      expect(allAttributeText(tracing.spans())).not.toMatch(/hunter2|abc123secret/);
    });

    it('sends command spans the configured way: through the pipeline or as SDK spans', async () => {
      await inSpan(() => pair.writer.ping());
      // Through the pipeline the command span reaches the processor after its parent ended.
      expect(
        tracing
          .spans()
          .map((s) => s.name)
          .sort(),
      ).toEqual(['PING', 'caller']);
      expect(tracing.pipelineSpanNames()).toEqual(pipeline ? ['PING'] : []);
    });

    it('traces commands issued with no active span as root spans by default', async () => {
      await pair.writer.ping();
      const [span] = tracing.spans();
      expect(span?.name).toBe('PING');
      expect(span?.parentSpanContext).toBeUndefined();
    });

    it("leaves ioredis' handshake out and never records a password", async () => {
      const topology = sharedTopology();
      const lazy = clientFor(topology, portOf(topology, 'master'), { lazyConnect: true });
      const traced = instrumentRedis({ writer: lazy }, { tracing: tracingOptions() });
      try {
        await lazy.connect();
        await lazy.ping();
        // HELLO (with AUTH inside), CLIENT SETNAME/SETINFO and the INFO ready check are ioredis'.
        expect(tracing.spans().map((s) => s.name)).toEqual(['PING']);
        // An AUTH the app sends itself is traced, its arguments masked.
        const { username, password } = topology.auth ?? { username: 'default', password: 'x' };
        await lazy.call('AUTH', username, password);
        const auth = tracing.spans().find((s) => s.name === 'AUTH');
        expect(auth?.attributes['db.query.text']).toBe('AUTH ? ?');
        expect(allAttributeText(tracing.spans())).not.toContain(password);
      } finally {
        traced.detach();
        lazy.disconnect();
      }
    });
  });

  describe('tracing, unhappy path', () => {
    it('marks a failed command with error status, error.type and the Redis error prefix', async () => {
      const key = `${uniquePrefix('err')}k`;
      await pair.writer.set(key, 'x');
      tracing.reset();
      const failure = await inSpan(() => pair.writer.lpush(key, 'y')).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).name).toBe('ReplyError');
      expect((failure as Error).message).toMatch(/^WRONGTYPE/);
      const span = tracing.spans().find((s) => s.name === 'LPUSH');
      expect(span?.status.code).toBe(SpanStatusCode.ERROR);
      expect(span?.attributes['error.type']).toBe('WRONGTYPE');
      expect(span?.attributes['db.response.status_code']).toBe('WRONGTYPE');
    });

    it('skips commands without a parent when root spans are off', async () => {
      const writer = clientFor(sharedTopology(), portOf(sharedTopology(), 'master'));
      const quiet = instrumentRedis({ writer }, { tracing: tracingOptions({ rootSpans: false }) });
      try {
        await writer.ping();
        expect(tracing.spans().filter((s) => s.name === 'PING')).toHaveLength(0);
        await inSpan(() => writer.ping());
        expect(tracing.spans().filter((s) => s.name === 'PING')).toHaveLength(1);
      } finally {
        quiet.detach();
        writer.disconnect();
      }
    });

    it('returns the same replies and errors when the tracer itself throws', async () => {
      const broken: TracerProvider = {
        getTracer: () => ({
          startSpan: () => {
            throw new Error('exporter exploded');
          },
          startActiveSpan: () => {
            throw new Error('exporter exploded');
          },
        }),
      };
      const writer: Redis = clientFor(sharedTopology(), portOf(sharedTopology(), 'master'));
      const registry = new Registry();
      const lines: { event?: string }[] = [];
      const logger = pino(
        { level: 'warn' },
        { write: (line: string) => lines.push(JSON.parse(line) as { event?: string }) },
      );
      // The pipeline's processor fails instead, when spans go through the pipeline.
      const brokenPipeline: SpanPipeline = {
        ...tracing.pipeline,
        processor: {
          onStart: () => {
            throw new Error('exporter exploded');
          },
          onEnd: () => undefined,
        },
      };
      const instrumented = instrumentRedis(
        { writer },
        {
          tracing: pipeline ? { pipeline: brokenPipeline } : { tracerProvider: broken },
          registry,
          logger,
        },
      );
      try {
        const key = `${uniquePrefix('broken')}k`;
        expect(await writer.set(key, 'v')).toBe('OK');
        expect(await writer.get(key)).toBe('v');
        await expect(writer.lpush(key, 'x')).rejects.toThrow(/^WRONGTYPE/);
        // The metrics still see every command, and nothing is left counted as in flight.
        const metrics = await registry.metrics();
        expect(metrics).toMatch(/^redscope_client_commands_in_flight 0$/m);
        expect(metrics).toMatch(/^redscope_client_commands_total\{command="set"\} 1$/m);
        expect(metrics).toMatch(
          /^redscope_client_command_errors_total\{command="lpush",error_type="WRONGTYPE"\} 1$/m,
        );
        // Pipeline spans are made at the next setImmediate; the failure is reported then.
        await new Promise((resolve) => setImmediate(resolve));
        expect(lines.some((l) => l.event === 'redscope.telemetry_error')).toBe(true);
      } finally {
        instrumented.detach();
        writer.disconnect();
      }
    });
  });
});

afterAll(async () => {
  pair.close();
  await tracing.shutdown();
});
