import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  type ClientOptions,
  createRedisClients,
  type RedisClients,
} from '../../../../client/connection/create-redis-clients.js';
import { createLogger } from '../../../../client/logging/logger.js';
import { RedisTopology } from '../../../../stack/topology.js';
import { capturedLogs } from '../../support/captured-logs.js';

/** A plain redis-server of the test's own (no TLS, no ACL: tests pause it and flush it). */
export interface PlainRedis {
  readonly url: string;
  /** A connection for the test's own reads and writes (not instrumented). */
  readonly admin: Redis;
  stop(): Promise<void>;
}

export async function startPlainRedis(): Promise<PlainRedis> {
  const topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    // No replica to wait for; no disk either: these tests flush and refill it.
    redisOverrides: { 'min-replicas-to-write': '0', appendonly: 'no', save: '""' },
  });
  const port = topology.port('redis-0');
  const admin = topology.connect(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    admin,
    async stop() {
      admin.disconnect();
      await topology.stop();
    },
  };
}

/** Clients of createRedisClients on `url` with a registry and captured JSON logs. */
export function clientsWithLogs(
  url: string,
  options: ClientOptions = {},
): {
  clients: RedisClients;
  registry: Registry;
  lines: Record<string, unknown>[];
} {
  const registry = new Registry();
  const { stream, lines } = capturedLogs();
  const clients = createRedisClients(
    { url },
    {
      registry,
      logger: createLogger({ level: 'debug', destination: stream }),
      tracing: { enabled: false },
      ...options,
    },
  );
  return { clients, registry, lines };
}

export function eventsOf(lines: readonly Record<string, unknown>[], event: string) {
  return lines.filter((line) => line.event === event);
}

/** The value of one series in an exposition text, or undefined. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keys `<namespace>0` .. `<namespace>(n-1)`. */
export function keysOf(namespace: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${namespace}${i}`);
}

/** A loader answering `value:<key>` for every key, recording each call. */
export function recordingLoader(options: { delayMs?: number } = {}) {
  const calls: { at: number; keys: readonly string[] }[] = [];
  return {
    calls,
    load: async (keys: readonly string[]) => {
      calls.push({ at: performance.now(), keys: [...keys] });
      if (options.delayMs) await delay(options.delayMs);
      return new Map(keys.map((key) => [key, `value:${key}`]));
    },
  };
}
