import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisClients } from '../../../client/connection/create-redis-clients.js';
import { instrumentRedis } from '../../../client/instrumentation/instrumentation.js';
import { CLIENT_METRIC_NAMES } from '../../../client/instrumentation/metrics.js';
import { createSessionCache } from '../../../client/session/session-cache.js';
import { SESSION_METRIC_NAMES } from '../../../client/session/session-metrics.js';
import { requireBinary } from '../../../stack/binaries.js';
import { clientsConfigFor } from '../../../stack/topology-clients.js';
import { sharedTopology } from '../../support/shared-topology.js';
import { sharedPair, uniquePrefix } from '../support/redis-pair.js';

const pair = sharedPair();
const registry = new Registry();
// Not awaited before use: ioredis' handshake must not show up as app commands.
const clients = createRedisClients(clientsConfigFor(sharedTopology()), {
  registry,
  tracing: { enabled: false },
});
afterAll(async () => {
  await clients.close();
  pair.close();
});

/** The value of one sample, e.g. `name{a="b"}`, from the text exposition. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('client metrics, happy path', () => {
  it('counts commands, errors and durations per command on the app registry', async () => {
    const key = `${uniquePrefix('metrics')}k`;
    for (let i = 0; i < 5; i++) await clients.writer.set(key, String(i));
    for (let i = 0; i < 3; i++) await clients.reader.get(key);
    await clients.writer.lpush(key, 'x').catch(() => undefined);
    const text = await registry.metrics();
    // Exactly the app's commands: no HELLO, CLIENT SETNAME or INFO ready check from ioredis.
    const commands = [...text.matchAll(/^redscope_client_commands_total\{command="([^"]+)"\}/gm)];
    expect(commands.map((m) => m[1]).sort()).toEqual(['get', 'lpush', 'set']);
    expect(sample(text, `${CLIENT_METRIC_NAMES.commands}{command="set"}`)).toBeGreaterThanOrEqual(
      5,
    );
    expect(sample(text, `${CLIENT_METRIC_NAMES.commands}{command="get"}`)).toBeGreaterThanOrEqual(
      3,
    );
    expect(
      sample(text, `${CLIENT_METRIC_NAMES.commandErrors}{command="lpush",error_type="WRONGTYPE"}`),
    ).toBe(1);
    const count = sample(text, `${CLIENT_METRIC_NAMES.commandDuration}_count{command="set"}`);
    expect(count).toBe(sample(text, `${CLIENT_METRIC_NAMES.commands}{command="set"}`));
    expect(
      sample(text, `${CLIENT_METRIC_NAMES.commandDuration}_bucket{le="+Inf",command="set"}`),
    ).toBe(count);
    expect(
      sample(text, `${CLIENT_METRIC_NAMES.commandDuration}_bucket{le="0.0001",command="set"}`),
    ).toBeDefined();
    expect(sample(text, `${CLIENT_METRIC_NAMES.connectionUp}{role="writer"}`)).toBe(1);
    expect(sample(text, `${CLIENT_METRIC_NAMES.connectionUp}{role="reader"}`)).toBe(1);
    expect(sample(text, `${CLIENT_METRIC_NAMES.inFlight}`)).toBe(0);
    expect(sample(text, `${CLIENT_METRIC_NAMES.offlineQueue}`)).toBe(0);
  });

  it('counts session cache hits, misses and loader time', async () => {
    const sessions = createSessionCache(clients, {
      loader: async (id) => (id === 'known' ? { userId: 'u', orgId: 'o' } : null),
      keyPrefix: uniquePrefix('metricsessions'),
      registry,
    });
    await sessions.validate('known');
    await sessions.validate('known');
    await sessions.validate('unknown');
    const text = await registry.metrics();
    expect(sample(text, SESSION_METRIC_NAMES.misses)).toBe(2);
    expect(sample(text, SESSION_METRIC_NAMES.hits)).toBe(1);
    expect(sample(text, `${SESSION_METRIC_NAMES.loadDuration}_count`)).toBe(2);
  });

  it('passes promtool check metrics', async () => {
    const promtool = requireBinary('promtool');
    const text = await registry.metrics();
    const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('client metrics, unhappy path', () => {
  it('shows commands waiting in the offline queue while no connection is ready', async () => {
    const own = new Registry();
    // Nothing listens on port 1, and the client keeps retrying: commands wait offline.
    const offline = new Redis({
      host: '127.0.0.1',
      port: 1,
      retryStrategy: () => 1000,
      maxRetriesPerRequest: null,
    });
    offline.on('error', () => undefined);
    const instrumented = instrumentRedis(
      { writer: offline },
      { registry: own, tracing: { enabled: false } },
    );
    try {
      const waiting = offline.get('anything').catch((error: unknown) => error);
      const text = await own.metrics();
      expect(sample(text, CLIENT_METRIC_NAMES.offlineQueue)).toBe(1);
      expect(sample(text, CLIENT_METRIC_NAMES.inFlight)).toBe(1);
      expect(sample(text, `${CLIENT_METRIC_NAMES.connectionUp}{role="writer"}`)).toBe(0);
      offline.disconnect();
      expect(await waiting).toBeInstanceOf(Error);
      const after = await own.metrics();
      expect(sample(after, CLIENT_METRIC_NAMES.inFlight)).toBe(0);
      expect(
        sample(
          after,
          `${CLIENT_METRIC_NAMES.commandErrors}{command="get",error_type="connection_closed"}`,
        ),
      ).toBe(1);
    } finally {
      instrumented.detach();
      offline.disconnect();
    }
  });

  it('refuses a second instrumentation on the same registry, naming the fix', () => {
    const other = { writer: pair.writer.duplicate() };
    try {
      expect(() => instrumentRedis(other, { registry })).toThrow(/once per registry/);
    } finally {
      other.writer.disconnect();
    }
  });

  it('refuses to instrument a client twice, which would count every command twice', () => {
    expect(() =>
      instrumentRedis({ writer: clients.writer }, { tracing: { enabled: false } }),
    ).toThrow(/already instrumented/);
  });

  it('counts the reconnects of a connection that drops and removes its families on close', async () => {
    const own = new Registry();
    const writer = pair.writer.duplicate();
    const instrumented = instrumentRedis(
      { writer },
      { registry: own, tracing: { enabled: false } },
    );
    try {
      await writer.ping();
      await pair.writer.client('KILL', 'ID', String(await writer.client('ID')));
      const deadline = Date.now() + 10_000;
      let text = await own.metrics();
      while (
        !/redscope_client_reconnects_total\{role="writer"\} [1-9]/.test(text) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        text = await own.metrics();
      }
      expect(
        sample(text, `${CLIENT_METRIC_NAMES.reconnects}{role="writer"}`),
      ).toBeGreaterThanOrEqual(1);
      instrumented.detach();
      expect(await own.metrics()).not.toContain('redscope_client');
    } finally {
      instrumented.detach();
      writer.disconnect();
    }
  });
});
