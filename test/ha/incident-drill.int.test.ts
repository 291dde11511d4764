import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisClients,
  instrumentRedis,
  type RedisClients,
  type RedisInstrumentation,
} from '../../client/index.js';
import { createLogger } from '../../client/logging/logger.js';
import { runWithRequestContext } from '../../client/logging/request-context.js';
import { RedisTopology } from '../../stack/topology.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';
import { capturedLogs } from '../client/support/captured-logs.js';
import { nodeNameOf, waitFor } from './support/load.js';

/**
 * What the on-call engineer reads in the app's log when the master dies under
 * request load: the disconnect, the Sentinels' switch and the connection's
 * move with the old and the new node, then ready again; no line about the
 * connection attributed to a request, and every slow command attributed to
 * the request that sent it.
 */
describe('incident drill: kill -9 of the master under request load', () => {
  let topology: RedisTopology;
  let clients: RedisClients;
  const logs = capturedLogs();
  // An app that brings its own ioredis client and instruments it once it is up.
  let own: Redis;
  let ownInstrumentation: RedisInstrumentation;
  const ownLogs = capturedLogs();

  beforeAll(async () => {
    topology = await RedisTopology.start({ tls: true });
    clients = createRedisClients(clientsConfigFor(topology), {
      logger: createLogger({ destination: logs.stream, level: 'info' }),
      tracing: { enabled: false },
      slowCommandMs: 200,
    });
    await clients.ready();
    const config = clientsConfigFor(topology);
    const tls = topology.describe().tls;
    own = new Redis({
      sentinels: config.sentinels?.map((s) => s as { host: string; port: number }),
      name: topology.masterName,
      ...(config.username ? { username: config.username, password: config.password } : {}),
      tls: {
        ca: readFileSync(tls?.caFile as string),
        cert: readFileSync(tls?.certFile as string),
        key: readFileSync(tls?.keyFile as string),
      },
      sentinelTLS: {
        ca: readFileSync(tls?.caFile as string),
        cert: readFileSync(tls?.certFile as string),
        key: readFileSync(tls?.keyFile as string),
      },
      enableTLSForSentinelMode: true,
      maxRetriesPerRequest: 1,
    });
    own.on('error', () => undefined);
    await own.ping();
    ownInstrumentation = instrumentRedis(
      { writer: own },
      {
        logger: createLogger({ destination: ownLogs.stream, level: 'debug' }),
        tracing: { enabled: false },
      },
    );
  });
  afterAll(async () => {
    ownInstrumentation?.detach();
    own?.disconnect();
    await clients?.close();
    await topology?.stop();
  });

  it('logs disconnect, failover from the old to the new node, and ready, in that order', async () => {
    const requests = new Set<string>();
    let stop = false;
    let served = 0;
    // Eight virtual users, each sending one request after another: a SET and a GET per request.
    const users = Array.from({ length: 8 }, async (_, user) => {
      for (let n = 0; !stop; n++) {
        const correlationId = `drill-u${user}-r${n}`;
        requests.add(correlationId);
        await runWithRequestContext({ correlationId }, async () => {
          try {
            await clients.writer.set(`drill:u${user}`, String(n));
            await clients.reader.get(`drill:u${user}`);
            served += 1;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        });
      }
    });
    try {
      await waitFor('requests served', () => served > 100);
      const oldPort = await topology.currentMasterPort();
      await topology.kill(nodeNameOf(topology, oldPort));
      await waitFor('a new master', async () => (await topology.currentMasterPort()) !== oldPort);
      const newPort = await topology.currentMasterPort();
      const servedAtSwitch = served;
      await waitFor('requests served on the new master', () => served > servedAtSwitch + 100);

      const writerLines = logs.lines.filter(
        (line) => line.role === 'writer' || line.event === 'redis.sentinel_switch_master',
      );
      const indexOf = (predicate: (line: Record<string, unknown>) => boolean) =>
        writerLines.findIndex(predicate);
      const lost = indexOf(
        (l) =>
          (l.event === 'redis.close' || l.event === 'redis.reconnecting') && l.port === oldPort,
      );
      const switched = indexOf(
        (l) =>
          l.event === 'redis.sentinel_switch_master' &&
          l.from === `127.0.0.1:${oldPort}` &&
          l.to === `127.0.0.1:${newPort}`,
      );
      const moved = indexOf(
        (l) =>
          l.event === 'redis.failover' &&
          l.from === `127.0.0.1:${oldPort}` &&
          l.to === `127.0.0.1:${newPort}`,
      );
      const ready = writerLines.findIndex(
        (l, i) => i > moved && l.event === 'redis.ready' && l.port === newPort,
      );
      const sequence = writerLines.map((l) => `${l.event} ${l.port ?? `${l.from} -> ${l.to}`}`);
      expect(lost, sequence.join('\n')).toBeGreaterThanOrEqual(0);
      expect(switched, sequence.join('\n')).toBeGreaterThan(lost);
      expect(moved, sequence.join('\n')).toBeGreaterThan(lost);
      expect(ready, sequence.join('\n')).toBeGreaterThan(moved);
      // Three Sentinels announce the switch; the log says it once.
      expect(writerLines.filter((l) => l.event === 'redis.sentinel_switch_master')).toHaveLength(1);
      expect(logs.lines.filter((l) => l.event === 'redis.slow_command').length).toBeGreaterThan(0);

      // Connection lines belong to no request; slow commands to the one that sent them.
      const connectionLines = logs.lines.filter(
        (l) => String(l.event).startsWith('redis.') && l.event !== 'redis.slow_command',
      );
      expect(connectionLines.filter((l) => l.correlation_id !== undefined)).toEqual([]);
      const slow = logs.lines.filter((l) => l.event === 'redis.slow_command');
      for (const line of slow) expect(requests.has(String(line.correlation_id))).toBe(true);
      // The slow-command storm of a failover is capped (ten lines a second), the rest counted.
      const perSecond = new Map<string, number>();
      for (const line of slow) {
        const second = String(line.time).slice(0, 19);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      expect(Math.max(0, ...perSecond.values())).toBeLessThanOrEqual(10);

      // Instrumented after it was ready: the first failover is still logged, and the
      // connect line after it names the new node, not the killed one.
      await own.ping();
      expect(ownLogs.lines.find((l) => l.event === 'redis.failover')).toMatchObject({
        from: `127.0.0.1:${oldPort}`,
        to: `127.0.0.1:${newPort}`,
      });
      const connects = ownLogs.lines.filter((l) => l.event === 'redis.connect');
      expect(connects.at(-1)?.port).toBe(newPort);
    } finally {
      stop = true;
      await Promise.all(users);
    }
  });
});
