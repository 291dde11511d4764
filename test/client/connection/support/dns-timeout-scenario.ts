/**
 * Run inside a network namespace whose DNS server never answers
 * (test/client/connection/dns-timeout.int.test.ts starts it with `ip netns
 * exec`): what ready() of the client says for a URL and for Sentinels named by
 * names that only that DNS server could resolve. Prints one line,
 * `DNS_TIMEOUT_SCENARIO <json>`; the test asserts on it.
 */

import type { RedisClientsConfig } from '../../../../client/connection/config.js';
import { RedisConnectError } from '../../../../client/connection/connect-errors.js';
import {
  createRedisClients,
  type RedisClients,
} from '../../../../client/connection/create-redis-clients.js';
import { createLogger } from '../../../../client/logging/logger.js';
import { capturedLogs } from '../../support/captured-logs.js';

const RESULT_PREFIX = 'DNS_TIMEOUT_SCENARIO ';

interface Attempt {
  readonly reason: string;
  readonly message: string;
  readonly ms: number;
  /** `err.message` of the client's lifecycle and Sentinel log lines. */
  readonly logged: string[];
}

async function attempt(config: RedisClientsConfig, timeoutMs: number): Promise<Attempt> {
  const { stream, lines } = capturedLogs();
  const started = performance.now();
  let clients: RedisClients | undefined;
  try {
    clients = createRedisClients(config, { logger: createLogger({ destination: stream }) });
    await clients.ready(timeoutMs);
    return { reason: 'ready', message: '', ms: performance.now() - started, logged: [] };
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    return {
      reason: error instanceof RedisConnectError ? error.reason : 'other',
      message: (error as Error).message,
      ms,
      logged: lines
        .filter((line) => line.event === 'redis.error' || line.event === 'redis.sentinel_error')
        .map((line) => String((line.err as { message?: unknown } | undefined)?.message)),
    };
  } finally {
    await clients?.close();
  }
}

/** Lets lookups still waiting on the DNS server finish, so they do not hold up the next attempt. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 2500));

try {
  const observed: Record<string, Attempt> = {};
  // Lookups that wait on the DNS server hold a thread of libuv's pool (4 by default) until the
  // resolver gives up, even after their socket is gone: the attempt that needs the resolver to
  // answer in time comes first, and each attempt lets the lookups of the previous one finish.
  // The resolver gives up first (EAI_AGAIN after 2 s), and ready()'s 4 s end before a third try.
  observed.eaiAgain = await attempt(
    { url: 'rediss://redis-1.railway.internal:6379', connectTimeoutMs: 5000 },
    4000,
  );
  await settle();
  // The connect timeout (1 s) ends each try while the lookup still waits (2 s).
  observed.url = await attempt(
    { url: 'rediss://redis-1.railway.internal:6379', connectTimeoutMs: 1000 },
    10_000,
  );
  await settle();
  observed.sentinels = await attempt(
    {
      sentinels: ['sentinel-1.railway.internal:26379', 'sentinel-2.railway.internal:26379'],
      masterName: 'redscope',
      connectTimeoutMs: 1000,
    },
    10_000,
  );
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(observed)}\n`);
  process.exitCode = 0;
} catch (error) {
  process.stderr.write(`[dns scenario] failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
