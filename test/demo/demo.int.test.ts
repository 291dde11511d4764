import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisClients,
  type RedisClients,
} from '../../client/connection/create-redis-clients.js';
import { createLogger } from '../../client/logging/logger.js';
import { startTelemetry, type Telemetry } from '../../client/telemetry/telemetry.js';
import { type RunningDemo, startDemo } from '../../demo/app.js';
import { startLoad } from '../../demo/load.js';
import { requireBinary } from '../../stack/binaries.js';
import { OtlpReceiver, type ReceivedSpan } from '../../stack/otlp-receiver.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';
import { capturedLogs } from '../client/support/captured-logs.js';
import { uniquePrefix } from '../client/support/redis-pair.js';
import { sharedTopology } from '../support/shared-topology.js';

const logs = capturedLogs();
const logger = createLogger({ destination: logs.stream, level: 'debug' });
const registry = new Registry();
const prefix = uniquePrefix('demo');
let clients: RedisClients;
let receiver: OtlpReceiver;
let telemetry: Telemetry;
let demo: RunningDemo;

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  telemetry = await startTelemetry({
    exporter: 'otlp',
    endpoint: `${receiver.url}/v1/traces`,
    serviceName: 'redscope-demo-test',
    exportDelayMs: 50,
  });
  clients = createRedisClients(clientsConfigFor(sharedTopology()), {
    registry,
    logger,
    // This process's own view of its hot keys only: no report lands in the shared Redis.
    hotKeys: { redaction: { secret: 'demo-test-secret-0123' }, report: { enabled: false } },
  });
  demo = await startDemo({
    clients,
    registry,
    keyPrefix: prefix,
    users: 20,
    logger,
  });
});
afterAll(async () => {
  await demo?.close();
  await telemetry?.shutdown();
  await receiver?.close();
  await clients?.close();
});

async function login(user = 3): Promise<string> {
  const response = await fetch(`${demo.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `user-${user}`, password: `password-${user}` }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

async function received(predicate: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await telemetry.flush();
    if (predicate(receiver.spans)) return receiver.spans;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`spans never arrived; got ${receiver.spans.map((s) => s.name).join(', ')}`);
}

describe('demo app, happy path', () => {
  it('exports one trace per request over OTLP/HTTP: HTTP span, session.validate, Redis spans', async () => {
    const token = await login();
    const response = await fetch(`${demo.url}/api/me`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'e2e-me-1' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ userId: 'u-3', orgId: 'org-3' });
    const spans = await received((all) => all.some((s) => s.name === 'GET /api/me'));
    const http = spans.find((s) => s.name === 'GET /api/me') as ReceivedSpan;
    expect(http.kind).toBe(2);
    expect(http.serviceName).toBe('redscope-demo-test');
    expect(http.parentSpanId ?? '').toBe('');
    const trace = spans.filter((s) => s.traceId === http.traceId);
    const validate = trace.find((s) => s.name === 'session.validate') as ReceivedSpan;
    expect(validate.parentSpanId).toBe(http.spanId);
    const redisSpans = trace.filter((s) => s.kind === 3);
    expect(redisSpans.length).toBeGreaterThanOrEqual(2);
    for (const span of redisSpans) {
      expect(span.parentSpanId).toBe(validate.spanId);
      expect(span.attributes['db.system.name']).toBe('redis');
      // Command spans skip the SDK's span objects (client/command-spans.ts) but not its resource.
      expect(span.serviceName).toBe('redscope-demo-test');
    }
    const singleCommands = redisSpans.filter((s) => s.name !== 'PIPELINE' && s.name !== 'MULTI');
    expect(singleCommands.length).toBeGreaterThanOrEqual(1);
    for (const span of singleCommands) {
      expect(span.attributes['db.query.text']).toMatch(new RegExp(`^${span.name}\\b`));
    }
    expect(JSON.stringify(trace)).not.toContain(token);
    expect(receiver.contentTypes[0]).toContain('application/json');
    // The same request's log lines carry its request id and trace id.
    const lines = logs.lines.filter((l) => l.correlation_id === 'e2e-me-1');
    expect(lines.map((l) => l.msg)).toContain('session validated');
    expect(lines.every((l) => l.trace_id === http.traceId)).toBe(true);
    expect(lines.find((l) => l.msg === 'request finished')).toMatchObject({
      user_id: 'u-3',
      org_id: 'org-3',
    });
    expect(JSON.stringify(logs.lines)).not.toContain(token);
  });

  it('refuses a session after logout', async () => {
    const token = await login(4);
    const headers = { authorization: `Bearer ${token}` };
    expect((await fetch(`${demo.url}/api/me`, { headers })).status).toBe(200);
    expect((await fetch(`${demo.url}/logout`, { method: 'POST', headers })).status).toBe(204);
    expect((await fetch(`${demo.url}/api/me`, { headers })).status).toBe(401);
  });

  it('serves /metrics that promtool accepts, with session cache counts', async () => {
    const text = await (await fetch(`${demo.url}/metrics`)).text();
    expect(text).toMatch(/^redscope_session_cache_hits_total [1-9]/m);
    expect(text).toMatch(/^redscope_client_commands_total\{command="get"\} [1-9]/m);
    const result = spawnSync(requireBinary('promtool'), ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
    });
    const problems = (result.stdout + result.stderr).split('\n').filter((l) => l.trim() !== '');
    // prom-client's own default gauges (nodejs_active_handles_total, ...) carry a _total
    // suffix that promtool flags; those names are prom-client's, every redscope family is clean.
    const foreign = problems.filter((l) => !/^nodejs_active_\w+_total non-counter metrics/.test(l));
    expect(foreign).toEqual([]);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  });

  it("takes the load generator's whole mix with no unexpected answer, the hot key on top of the app's keys", async () => {
    const load = startLoad({
      url: demo.url,
      rate: 100,
      users: 20,
      pagesPerVisit: [2, 6],
      thinkTimeMs: [0, 50],
      badPasswordShare: 0.2,
      forgedTokenShare: 0.1,
      revokedRetryShare: 0.5,
      hotKeyPerMinute: 1800,
    });
    const deadline = Date.now() + 10_000;
    while (
      (load.report.byKind.revoked_retry < 3 || load.report.requests < 300) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const report = await load.stop();
    expect(report.unexpectedByKind).toEqual(
      Object.fromEntries(Object.keys(report.byKind).map((kind) => [kind, 0])),
    );
    for (const kind of Object.keys(report.byKind) as (keyof typeof report.byKind)[]) {
      expect(report.byKind[kind], kind).toBeGreaterThan(0);
    }
    expect(report.byStatus[200]).toBeGreaterThan(0);
    expect(report.byStatus[401]).toBeGreaterThan(0);
    expect(report.byStatus[204]).toBe(report.logouts);
    expect(report.dropped).toBe(0);
    // The app's hottest key is the busiest org's settings: only the session cache's own
    // revocation counter (two reads per validation) is read more.
    const hot = clients.hotKeys(10)?.keys ?? [];
    const appKeys = hot.filter((k) => !k.key.endsWith('sessions:revocations'));
    const shown = JSON.stringify(hot);
    expect(appKeys[0]?.key, shown).toBe(`${prefix}org:org-0:settings`);
    // Next come the dashboards' four sessions, read once or twice per validation (twice when
    // a replica is behind a logout's revocation).
    expect(appKeys[0]?.rate, shown).toBeGreaterThan(1.5 * (appKeys[1]?.rate ?? 0));
  });
});

describe('demo app, unhappy path', () => {
  it('answers 401 to a wrong password, a missing token and a forged one', async () => {
    const bad = await fetch(`${demo.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'user-1', password: 'wrong' }),
    });
    expect(bad.status).toBe(401);
    expect((await fetch(`${demo.url}/api/me`)).status).toBe(401);
    expect(
      (await fetch(`${demo.url}/api/me`, { headers: { authorization: 'Bearer forged' } })).status,
    ).toBe(401);
    const lines = logs.lines.filter((l) => l.event === 'auth.login_failed');
    expect(JSON.stringify(lines)).not.toContain('wrong');
  });
});
