import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import {
  parseWarmingStatus,
  WARMING_STATUS_INDEX,
  warmingStatusKeyOf,
  warmingUsageKey,
} from '../../client/common/warming-status.js';
import {
  createRedisClients,
  type RedisClients,
} from '../../client/connection/create-redis-clients.js';
import { createLogger } from '../../client/logging/logger.js';
import { type RunningDemo, startDemo } from '../../demo/app.js';
import { sessionNamespace } from '../../demo/defaults.js';
import { startLoad } from '../../demo/load.js';
import { DemoDatabase, demoUsers } from '../../demo/users.js';
import { waitUntil } from '../../stack/partition-faults.js';
import { packageRoot } from '../../stack/repo-paths.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';
import { capturedLogs } from '../client/support/captured-logs.js';
import { uniquePrefix } from '../client/support/redis-pair.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';

/**
 * The demo's session cache warms itself from the demo database: the app is
 * restarted over a cache that lost its sessions, and answers while the
 * warmer puts them back. The database keeps its sessions in a folder, as in
 * `redscope up`, so `redscope warm` with the demo's loader module reads them too.
 */

const SESSIONS = 40;
let dir: string;
let database: DemoDatabase;
let master: Redis;
const running: { demo?: RunningDemo; clients: RedisClients; recorder?: RedisClients }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-demo-warming-'));
  database = await DemoDatabase.create(demoUsers(4), { dir: join(dir, 'database') });
  const shared = sharedTopology();
  master = clientFor(shared, portOf(shared, 'master'), shared.users?.app ?? {});
});

afterAll(async () => {
  for (const app of running) {
    await app.demo?.close();
    await app.recorder?.close();
    await app.clients.close();
  }
  master?.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** One run of the demo app over the shared topology, recording the usage of its sessions. */
async function startApp(prefix: string, warming: Parameters<typeof startDemo>[0]['warming']) {
  const registry = new Registry();
  const logs = capturedLogs();
  const clients = createRedisClients(clientsConfigFor(sharedTopology()), {
    registry,
    logger: createLogger({ destination: logs.stream, level: 'info' }),
    tracing: { enabled: false },
    usage: { namespaces: [sessionNamespace(prefix)], sampleRate: 1, flushIntervalMs: 200 },
  });
  const app: (typeof running)[number] = { clients };
  running.push(app);
  // As `redscope demo` does: durable writes (logins) wait for the Sentinels to be heard.
  await clients.ready();
  app.demo = await startDemo({
    clients,
    registry,
    keyPrefix: prefix,
    database,
    logger: createLogger({ destination: logs.stream, level: 'info' }),
    tracing: false,
    ...(warming === undefined ? {} : { warming }),
  });
  return { demo: app.demo, clients, registry, lines: logs.lines };
}

async function stopApp(app: { demo: RunningDemo; clients: RedisClients }): Promise<void> {
  await app.demo.close();
  await app.clients.close();
}

async function login(url: string, user: number): Promise<string> {
  const response = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `user-${user}`, password: `password-${user}` }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

const me = (url: string, token: string) =>
  fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });

/** Logs in SESSIONS times and uses every session, until the usage record ranks them all. */
async function sessionsInUse(prefix: string): Promise<string[]> {
  const before = await startApp(prefix, false);
  const tokens: string[] = [];
  for (let i = 0; i < SESSIONS; i++) tokens.push(await login(before.demo.url, i % 4));
  for (const token of tokens) expect((await me(before.demo.url, token)).status).toBe(200);
  const record = warmingUsageKey(sessionNamespace(prefix));
  await waitUntil('the usage record', async () => (await master.zcard(record)) >= SESSIONS, 5000);
  await stopApp(before);
  return tokens;
}

/** The session keys in Redis (SCAN: the app user may not run KEYS). */
async function sessionKeys(prefix: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await master.scan(
      cursor,
      'MATCH',
      `${sessionNamespace(prefix)}*`,
      'COUNT',
      1000,
    );
    for (const key of keys) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...found];
}

/** The cache loses its sessions (the usage record stays, as after a failover to a replica that had it). */
async function loseSessions(prefix: string): Promise<number> {
  const keys = await sessionKeys(prefix);
  if (keys.length > 0) await master.del(...keys);
  return keys.length;
}

const sessionKeysIn = async (prefix: string) => (await sessionKeys(prefix)).length;

function metric(text: string, name: string, namespace: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{namespace="${namespace}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('demo app warming, happy path', () => {
  it('answers requests while its session cache warms on start, then serves every session from Redis', async () => {
    const prefix = uniquePrefix('demo-warm');
    const namespace = sessionNamespace(prefix);
    const tokens = await sessionsInUse(prefix);
    expect(await loseSessions(prefix)).toBe(SESSIONS);

    // 40 sessions at 10 a second: the run lasts about four seconds after its baseline second.
    const app = await startApp(prefix, { ratePerSecond: 10 });
    let answeredWhileWarming = 0;
    for (const token of tokens.slice(-10)) {
      const before = metric(
        await app.registry.metrics(),
        'redscope_client_warming_running',
        namespace,
      );
      const started = performance.now();
      const response = await me(app.demo.url, token);
      const tookMs = performance.now() - started;
      const after = metric(
        await app.registry.metrics(),
        'redscope_client_warming_running',
        namespace,
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ userId: expect.stringMatching(/^u-\d$/) });
      // Answered by the app (the loader or Redis), not queued behind the warmer.
      expect(tookMs).toBeLessThan(1000);
      if (before === 1 && after === 1) answeredWhileWarming += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(answeredWhileWarming).toBeGreaterThan(0);

    await waitUntil(
      'the warming run to finish',
      async () => app.lines.some((l) => l.event === 'redis.warming_finished'),
      20_000,
    );
    const finished = app.lines.find((l) => l.event === 'redis.warming_finished');
    expect(finished).toMatchObject({ namespace, outcome: 'done', planned: SESSIONS, failed: 0 });
    // The ten sessions used above were written back by their misses (or warmed first): the rest warmed.
    expect(Number(finished?.warmed) + Number(finished?.skipped)).toBe(SESSIONS);
    expect(Number(finished?.warmed)).toBeGreaterThanOrEqual(SESSIONS - 10);
    expect(await sessionKeysIn(prefix)).toBe(SESSIONS);

    const hitsBefore = Number(
      /^redscope_session_cache_hits_total (\d+)/m.exec(await app.registry.metrics())?.[1],
    );
    for (const token of tokens) expect((await me(app.demo.url, token)).status).toBe(200);
    const text = await app.registry.metrics();
    expect(Number(/^redscope_session_cache_hits_total (\d+)/m.exec(text)?.[1])).toBe(
      hitsBefore + SESSIONS,
    );
    // The log says what ran, never which sessions.
    const started = app.lines.find((l) => l.event === 'redis.warming_started');
    expect(started).toMatchObject({ namespace, planned: SESSIONS, rate_per_second: 10 });
    const hashes = await master.zrange(warmingUsageKey(namespace), '0', '-1');
    const logged = JSON.stringify(app.lines);
    for (const key of hashes) expect(logged).not.toContain(key.slice(namespace.length));
    await stopApp(app);
  });

  it('redscope warm with the demo loader module puts the lost sessions back from its database folder', async () => {
    const prefix = uniquePrefix('demo-cli');
    const namespace = sessionNamespace(prefix);
    const tokens = await sessionsInUse(prefix);
    // One session ended since (logged out elsewhere): its row is gone, so nothing brings it back.
    await database.deleteSession(tokens[0] as string);
    const shared = sharedTopology();
    const { users, tls, masterName } = shared;
    if (!users || !tls) throw new Error('the shared topology runs with ACL and TLS');
    expect(await loseSessions(prefix)).toBe(SESSIONS);
    const passwordFile = join(dir, 'app.password');
    writeFileSync(passwordFile, `${users.app.password}\n`, { mode: 0o600 });
    // The loader module reads its folder from the environment when it is imported.
    process.env.REDSCOPE_DEMO_DATABASE = join(dir, 'database');
    let out = '';
    let err = '';
    const code = await main(
      [
        'node',
        'redscope',
        'warm',
        '--namespace',
        namespace,
        '--loader',
        join(packageRoot(), 'demo', 'session-loader.ts'),
        '--sentinels',
        `rediss://127.0.0.1:${portOf(shared, 'sentinel')}`,
        '--master-name',
        masterName,
        '--username',
        users.app.username,
        '--password-file',
        passwordFile,
        '--tls-ca',
        tls.caFile,
        '--tls-cert',
        tls.certFile,
        '--tls-key',
        tls.keyFile,
        '--rate',
        '500',
      ],
      {
        out: (text) => {
          out += text;
        },
        err: (text) => {
          err += text;
        },
        isTerminal: () => false,
      },
    );
    delete process.env.REDSCOPE_DEMO_DATABASE;
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`redscope warm: ${SESSIONS} keys of ${namespace}`);
    expect(out).toMatch(
      new RegExp(`done in [\\d.]+ s: warmed ${SESSIONS - 1}, skipped 1 .*failed 0, errors 0`),
    );
    expect(await sessionKeysIn(prefix)).toBe(SESSIONS - 1);
    const sample = (await sessionKeys(prefix))[0] as string;
    expect(await master.ttl(sample)).toBeGreaterThan(800);
    // What it wrote is what the session cache reads: the app answers from Redis, and the
    // session that ended stays ended.
    const app = await startApp(prefix, false);
    for (const token of tokens.slice(1)) expect((await me(app.demo.url, token)).status).toBe(200);
    expect((await me(app.demo.url, tokens[0] as string)).status).toBe(401);
    const text = await app.registry.metrics();
    expect(text).toMatch(new RegExp(`^redscope_session_cache_hits_total ${SESSIONS - 1}$`, 'm'));
    expect(text).toMatch(/^redscope_session_cache_misses_total 1$/m);
    await stopApp(app);
  });
});

describe('demo app warming, unhappy path', () => {
  it('keeps answering when the database refuses the warmer, and logs the failed batches', async () => {
    const prefix = uniquePrefix('demo-refuse');
    const tokens = await sessionsInUse(prefix);
    await loseSessions(prefix);
    const refusing = Object.create(database) as DemoDatabase;
    refusing.findSessionsByHash = async () => {
      throw new Error('the database refuses batch reads');
    };
    const registry = new Registry();
    const logs = capturedLogs();
    const clients = createRedisClients(clientsConfigFor(sharedTopology()), {
      registry,
      logger: createLogger({ destination: logs.stream, level: 'info' }),
      tracing: { enabled: false },
      usage: { namespaces: [sessionNamespace(prefix)] },
    });
    const app: (typeof running)[number] = { clients };
    running.push(app);
    await clients.ready();
    const demo = await startDemo({
      clients,
      registry,
      keyPrefix: prefix,
      database: refusing,
      logger: createLogger({ destination: logs.stream, level: 'info' }),
      tracing: false,
    });
    app.demo = demo;
    await waitUntil(
      'a failed warming batch',
      async () => logs.lines.some((l) => l.event === 'redis.warming_batch_failed'),
      10_000,
    );
    // The warmer retries in the background; the app answers from the loader meanwhile.
    for (const token of tokens.slice(0, 5)) expect((await me(demo.url, token)).status).toBe(200);
    const failed = logs.lines.find((l) => l.event === 'redis.warming_batch_failed');
    expect(failed).toMatchObject({ level: 'warn', namespace: sessionNamespace(prefix) });
    expect(JSON.stringify(failed)).toContain('the database refuses batch reads');
    await stopApp({ demo, clients });
  });
});

/** A demo started as after a restart in front of a cold cache, with `count` returning sessions. */
async function startReturning(prefix: string, count: number, recorder?: RedisClients) {
  const namespace = sessionNamespace(prefix);
  const registry = new Registry();
  const logs = capturedLogs();
  const logger = createLogger({ destination: logs.stream, level: 'info' });
  const config = clientsConfigFor(sharedTopology());
  const clients = createRedisClients(config, {
    registry,
    logger,
    tracing: { enabled: false },
    usage: { namespaces: [namespace] },
  });
  // The previous process, as the usage record knows it: every command sampled.
  const previous =
    recorder ??
    createRedisClients(config, {
      tracing: { enabled: false },
      usage: { namespaces: [namespace], sampleRate: 1 },
    });
  const app: (typeof running)[number] = { clients, recorder: previous };
  running.push(app);
  await clients.ready();
  app.demo = await startDemo({
    clients,
    registry,
    keyPrefix: prefix,
    database,
    users: 4,
    logger,
    tracing: false,
    returningSessions: { count, recorder: previous },
  });
  return { demo: app.demo, clients, registry, lines: logs.lines };
}

const sessionMisses = async (registry: Registry) =>
  Number(/^redscope_session_cache_misses_total (\d+)/m.exec(await registry.metrics())?.[1]);

describe('demo app started in front of a cold cache, happy path', () => {
  it('warms the returning sessions at start, and the load then validates every one from Redis', async () => {
    const prefix = uniquePrefix('demo-return');
    const namespace = sessionNamespace(prefix);
    const app = await startReturning(prefix, 30);
    expect(app.demo.returningSessions).toHaveLength(30);
    expect(new Set(app.demo.returningSessions).size).toBe(30);
    expect(app.lines.find((l) => l.event === 'demo.returning_sessions')).toMatchObject({
      sessions: 30,
      recorded: 30,
    });
    await waitUntil(
      'the start-up run to finish',
      async () => app.lines.some((l) => l.event === 'redis.warming_finished'),
      10_000,
    );
    // Something to do on a fresh Redis: every returning session, from the database.
    expect(app.lines.find((l) => l.event === 'redis.warming_finished')).toMatchObject({
      namespace,
      outcome: 'done',
      planned: 30,
      warmed: 30,
      skipped: 0,
      failed: 0,
    });
    expect(await sessionKeysIn(prefix)).toBe(30);
    expect(
      metric(await app.registry.metrics(), 'redscope_client_warming_planned_keys', namespace),
    ).toBe(30);
    expect(await app.registry.metrics()).toContain(
      `redscope_client_warming_keys_total{namespace="${namespace}",result="warmed"} 30`,
    );
    // The status record the exporter turns into redscope_warming_*.
    const member = (await master.zrange(WARMING_STATUS_INDEX, '0', '-1')).find((m) =>
      m.endsWith(`:${namespace}`),
    );
    const raw = await master.get(warmingStatusKeyOf(member ?? 'none'));
    expect(parseWarmingStatus(raw ?? '')).toMatchObject({
      ok: true,
      status: { namespace, state: 'done', planned: 30, warmed: 30 },
    });

    // No forged tokens and no revoked retries: any miss would be a returning session not warmed.
    const load = startLoad({
      url: app.demo.url,
      rate: 100,
      users: 4,
      thinkTimeMs: [0, 100],
      forgedTokenShare: 0,
      revokedRetryShare: 0,
      returningSessions: app.demo.returningSessions,
    });
    try {
      await waitUntil(
        'the load to come back with every returning session',
        async () => load.report.returningValidated === 30,
        10_000,
      );
    } finally {
      await load.stop();
    }
    expect(load.report.unexpected).toBe(0);
    expect(await sessionMisses(app.registry)).toBe(0);
  });
});

describe('demo app started in front of a cold cache, unhappy path', () => {
  it('starts when the previous process recorded nothing, and the returning sessions validate from the database', async () => {
    const prefix = uniquePrefix('demo-unrecorded');
    // A recorder that is already gone: none of its replayed validations reaches Redis.
    const gone = createRedisClients(clientsConfigFor(sharedTopology()), {
      tracing: { enabled: false },
      usage: { namespaces: [sessionNamespace(prefix)], sampleRate: 1 },
    });
    await gone.close();
    const app = await startReturning(prefix, 10, gone);
    expect(app.lines.find((l) => l.event === 'demo.returning_sessions')).toMatchObject({
      sessions: 10,
      recorded: 0,
    });
    await waitUntil(
      'the start-up run to finish',
      async () => app.lines.some((l) => l.event === 'redis.warming_finished'),
      10_000,
    );
    expect(app.lines.find((l) => l.event === 'redis.warming_finished')).toMatchObject({
      outcome: 'done',
      planned: 0,
    });
    const load = startLoad({
      url: app.demo.url,
      rate: 50,
      users: 4,
      thinkTimeMs: [0, 100],
      forgedTokenShare: 0,
      revokedRetryShare: 0,
      returningSessions: app.demo.returningSessions,
    });
    try {
      await waitUntil(
        'the load to come back with every returning session',
        async () => load.report.returningValidated === 10,
        10_000,
      );
    } finally {
      await load.stop();
    }
    expect(load.report.unexpected).toBe(0);
    // Each was a miss the database answered, then written back.
    expect(await sessionMisses(app.registry)).toBe(10);
    expect(await sessionKeysIn(prefix)).toBeGreaterThanOrEqual(10);
  });
});
