import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  createRollingFileDestination,
  errorFields,
} from '../../../client/logging/logger.js';
import {
  hashSessionId,
  runWithRequestContext,
  setRequestIdentity,
} from '../../../client/logging/request-context.js';
import { capturedLogs } from '../support/captured-logs.js';
import { inMemoryTracing } from '../support/in-memory-tracing.js';

const tracing = inMemoryTracing();
afterAll(() => tracing.shutdown());

describe('logger, happy path', () => {
  it('puts the correlation id, user, org and hashed session on every line of a request', async () => {
    const { stream, lines } = capturedLogs();
    const logger = createLogger({ destination: stream, level: 'debug' });
    await runWithRequestContext({ correlationId: 'req-1' }, async () => {
      logger.info('before identity');
      await new Promise((resolve) => setTimeout(resolve, 1));
      setRequestIdentity({ userId: 'u1', orgId: 'acme', sessionId: 'raw-session-token' });
      logger.debug({ step: 2 }, 'after identity');
    });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.correlation_id).toBe('req-1');
    expect(lines[1]).toMatchObject({
      level: 'debug',
      msg: 'after identity',
      user_id: 'u1',
      org_id: 'acme',
      session_id: hashSessionId('raw-session-token'),
    });
    expect(JSON.stringify(lines)).not.toContain('raw-session-token');
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('adds trace_id and span_id when a span is active', () => {
    const { stream, lines } = capturedLogs();
    const logger = createLogger({ destination: stream });
    tracing.provider.getTracer('t').startActiveSpan('work', (span) => {
      logger.info('inside');
      span.end();
      expect(lines[0]).toMatchObject({
        trace_id: span.spanContext().traceId,
        span_id: span.spanContext().spanId,
      });
    });
    logger.info('outside');
    expect(lines[1]?.trace_id).toBeUndefined();
  });

  it('writes rotated files and keeps only the newest ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redscope-logs-'));
    try {
      const destination = await createRollingFileDestination({
        file: join(dir, 'app.log'),
        size: '1k',
        keep: 2,
      });
      const logger = createLogger({ destination });
      for (let i = 0; i < 60; i++) {
        logger.info({ i, filler: 'x'.repeat(100) }, 'line');
        // pino-roll checks the size after each write reaches the file; pace them like a live app.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Writes and the removal of old files finish asynchronously: wait for the end state, not a fixed time.
      const logFiles = () => readdirSync(dir).filter((f) => f.endsWith('.log'));
      const lastLineWritten = () =>
        logFiles().some((f) => readFileSync(join(dir, f), 'utf8').includes('"i":59,'));
      const deadline = Date.now() + 5000;
      while ((logFiles().length !== 3 || !lastLineWritten()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const files = logFiles();
      // keep 2: two rotated files plus the active one, out of ~6 KiB written in 1 KiB files.
      expect(files.length).toBe(3);
      const kept = files
        .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { i: number });
      expect(kept.length).toBeLessThan(60);
      expect(kept.map((l) => l.i)).toContain(59);
      expect(kept.map((l) => l.i)).not.toContain(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('logger, unhappy path', () => {
  it('redacts passwords, tokens, authorization headers and raw session ids by default', () => {
    const { stream, lines } = capturedLogs();
    const logger = createLogger({ destination: stream });
    logger.info(
      {
        password: 'p4ss',
        token: 'tok',
        sessionId: 'sess-raw',
        user: { password: 'nested-pass', name: 'ann' },
        req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1' } },
      },
      'login attempt',
    );
    const line = lines[0] as Record<string, unknown>;
    expect(line.password).toBe('[REDACTED]');
    expect(line.token).toBe('[REDACTED]');
    expect(line.sessionId).toBe('[REDACTED]');
    expect(line.user).toEqual({ password: '[REDACTED]', name: 'ann' });
    expect(line.req).toEqual({ headers: { authorization: '[REDACTED]', cookie: '[REDACTED]' } });
    expect(JSON.stringify(line)).not.toMatch(/p4ss|nested-pass|sess-raw|Bearer abc|sid=1/);
  });

  it('drops lines below the configured level', () => {
    const { stream, lines } = capturedLogs();
    const logger = createLogger({ destination: stream, level: 'warn' });
    logger.info('quiet');
    logger.warn('loud');
    expect(lines.map((l) => l.msg)).toEqual(['loud']);
  });
});

describe('redaction, unhappy path', () => {
  it('censors secret names in any spelling, in arrays, and added names, but keeps the hashed session_id', () => {
    const { stream, lines } = capturedLogs();
    const logger = createLogger({ destination: stream, redactKeys: ['ssn'] });
    logger.info(
      {
        api_key: 'k1',
        'Set-Cookie': 'c1',
        items: [{ accessToken: 't1' }, { ok: 1 }],
        deep: { a: { b: { SSN: '123-45' } } },
        session_id: 'already-hashed',
      },
      'mixed',
    );
    expect(lines[0]).toMatchObject({
      api_key: '[REDACTED]',
      'Set-Cookie': '[REDACTED]',
      items: [{ accessToken: '[REDACTED]' }, { ok: 1 }],
      deep: { a: { b: { SSN: '[REDACTED]' } } },
      session_id: 'already-hashed',
    });
  });

  it('leaves the logged object itself untouched', () => {
    const { stream } = capturedLogs();
    const logger = createLogger({ destination: stream });
    const payload = { user: { password: 'p' } };
    logger.info(payload, 'x');
    expect(payload.user.password).toBe('p');
  });
});

describe('errors in log lines', () => {
  it('names the error class in err.type and leaves out what the error carries, in any pino logger', () => {
    // An ioredis reply error keeps the command it answered, arguments and all.
    const failure = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      name: 'ReplyError',
      command: { name: 'hello', args: ['3', 'AUTH', 'app', 's3cret-password'] },
    });
    for (const make of [
      (stream: Writable) => createLogger({ destination: stream }),
      // An app's own pino logger with pino's default err serializer.
      (stream: Writable) => pino(stream),
    ]) {
      const { stream, lines } = capturedLogs();
      make(stream).error({ err: errorFields(failure) }, 'failed');
      const line = lines[0] as { err?: Record<string, unknown> };
      expect(line.err?.type).toBe('ReplyError');
      expect(line.err?.message).toBe('WRONGPASS invalid username-password pair');
      expect(JSON.stringify(line)).not.toContain('s3cret-password');
    }
  });

  it('redacts a URL password quoted in an error message', () => {
    const fields = errorFields(new Error('cannot connect to rediss://app:hunter2@10.0.0.5:6379'));
    expect(fields.message).not.toContain('hunter2');
    expect(fields.type).toBe('Error');
  });
});
