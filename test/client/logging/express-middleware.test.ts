import { SpanKind } from '@opentelemetry/api';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestContextMiddleware } from '../../../client/logging/express-middleware.js';
import { createLogger } from '../../../client/logging/logger.js';
import { capturedLogs } from '../support/captured-logs.js';
import { inMemoryTracing } from '../support/in-memory-tracing.js';

const tracing = inMemoryTracing();
const logs = capturedLogs();
let url = '';
let close: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  const logger = createLogger({ destination: logs.stream });
  const app = express();
  app.use(requestContextMiddleware({ logger, tracerProvider: tracing.provider }));
  app.get('/work/:id', async (_req, res) => {
    logger.info('handling');
    await new Promise((resolve) => setTimeout(resolve, 2));
    logger.info('still handling after an await');
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  url = `http://127.0.0.1:${address.port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
afterAll(async () => {
  await close();
  await tracing.shutdown();
});

async function linesOf(correlationId: string, count: number) {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    const lines = logs.lines.filter((l) => l.correlation_id === correlationId);
    if (lines.length >= count) return lines;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`fewer than ${count} lines for ${correlationId}`);
}

describe('request context middleware, happy path', () => {
  it('round-trips x-request-id and puts it on every line of the request', async () => {
    const response = await fetch(`${url}/work/1`, { headers: { 'x-request-id': 'req-abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('req-abc-123');
    const lines = await linesOf('req-abc-123', 3);
    expect(lines.map((l) => l.msg)).toEqual([
      'handling',
      'still handling after an await',
      'request finished',
    ]);
    expect(lines[2]).toMatchObject({ route: '/work/:id', status: 200, method: 'GET' });
  });

  it('uses the trace id of traceparent when there is no request id, and continues that trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${url}/work/2`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(response.headers.get('x-request-id')).toBe(traceId);
    const lines = await linesOf(traceId, 3);
    expect(lines[0]?.trace_id).toBe(traceId);
    const server = tracing
      .spans()
      .find((s) => s.kind === SpanKind.SERVER && s.spanContext().traceId === traceId);
    expect(server?.name).toBe('GET /work/:id');
    expect(server?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('generates an id when the request has none', async () => {
    const response = await fetch(`${url}/work/3`);
    const id = response.headers.get('x-request-id') ?? '';
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await linesOf(id, 3)).toHaveLength(3);
  });
});

describe('request context middleware, unhappy path', () => {
  it('replaces a malformed request id instead of echoing it into logs', async () => {
    const response = await fetch(`${url}/work/4`, {
      headers: { 'x-request-id': 'bad id "with" quotes' },
    });
    const id = response.headers.get('x-request-id') ?? '';
    // A fresh UUID, not the sent text ('bad' alone would also match about 1 UUID in 130: it is hex).
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await linesOf(id, 3)).toHaveLength(3);
  });
});
