import { EventEmitter } from 'node:events';
import { createServer, type LookupFunction, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectHealth,
  finalReasonOf,
  RedisConnectError,
  whenReady,
} from '../../../client/connection/connect-errors.js';
import { explainUnansweredDns } from '../../../client/connection/unanswered-dns.js';

/**
 * A DNS server that does not answer, without one: the lookup Node's socket
 * uses is replaced (ioredis hands its `tls` options to tls.connect, `lookup`
 * included). test/client/connection/dns-timeout.int.test.ts does the same with
 * a real resolver whose packets are dropped.
 */
const never: LookupFunction = () => undefined;
const unanswered: LookupFunction = (hostname, _options, callback) =>
  callback(
    Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), {
      code: 'EAI_AGAIN',
      errno: -3001,
      syscall: 'getaddrinfo',
      hostname,
    }),
    '',
  );

const opened: Redis[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
  for (const server of servers.splice(0)) server.close();
});

/** The first connect error of a TLS connection to `host:port` through `lookup`, as every listener sees it. */
async function firstError(
  host: string,
  port: number,
  lookup?: LookupFunction,
): Promise<{ error: Error & { code?: string }; seenEarlier: string }> {
  const redis = new Redis({
    host,
    port,
    family: 0,
    connectTimeout: 200,
    retryStrategy: () => null,
    lazyConnect: true,
    tls: { rejectUnauthorized: false, ...(lookup ? { lookup } : {}) },
  });
  opened.push(redis);
  // A listener attached before (as the lifecycle log is) sees the explanation too.
  let seenEarlier = '';
  redis.on('error', (error: Error) => {
    seenEarlier ||= error.message;
  });
  explainUnansweredDns(redis);
  const error = new Promise<Error>((resolve) => redis.once('error', resolve));
  redis.connect().catch(() => undefined);
  return { error: await error, seenEarlier };
}

describe('a connect that times out while the name is still being looked up', () => {
  describe('happy', () => {
    it('is reported as the name that did not resolve, and classed dns', async () => {
      const { error, seenEarlier } = await firstError('redis-1.railway.internal', 6379, never);
      expect(error.message).toBe(
        'name redis-1.railway.internal did not resolve within 200 ms (DNS server not answering)',
      );
      expect(error.code).toBe('EAI_AGAIN');
      expect(seenEarlier).toBe(error.message);
      expect(finalReasonOf(error)).toBe('dns');
    });

    it("words the resolver's own EAI_AGAIN the same way", async () => {
      const { error } = await firstError('redis-1.railway.internal', 6379, unanswered);
      expect(error.message).toBe(
        'name redis-1.railway.internal did not resolve: the DNS server did not answer (getaddrinfo EAI_AGAIN redis-1.railway.internal)',
      );
      expect(finalReasonOf(error)).toBe('dns');
    });
  });

  describe('unhappy', () => {
    it('leaves a timeout after the name resolved alone (a TLS handshake that never finishes)', async () => {
      const server = createServer((socket: Socket) => socket.on('error', () => undefined));
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      const resolving: LookupFunction = (_host, options, callback) =>
        options.all
          ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
              { address: '127.0.0.1', family: 4 },
            ])
          : callback(null, '127.0.0.1', 4);
      const { error } = await firstError('redis-1.railway.internal', port, resolving);
      expect(error.message).toBe('connect ETIMEDOUT');
      expect(error.code).toBe('ETIMEDOUT');
      expect(finalReasonOf(error)).toBeUndefined();
    });
  });
});

/** A connection that never becomes ready, for whenReady. */
const neverReady = () => Object.assign(new EventEmitter(), { status: 'connecting' }) as never;

const dnsTimeout = () =>
  Object.assign(
    new Error(
      'name redis-1.railway.internal did not resolve within 2000 ms (DNS server not answering)',
    ),
    { code: 'EAI_AGAIN' },
  );

describe('ready() and a DNS server that does not answer', () => {
  it('fails as dns, naming the name and the resolver, once the failures are final', async () => {
    const health = new ConnectHealth();
    const node = 'redis-1.railway.internal:6379';
    health.dataNodeError(dnsTimeout(), node);
    health.dataNodeError(dnsTimeout(), node);
    expect(health.finalError).toBeUndefined();
    health.dataNodeError(dnsTimeout(), node);
    expect(health.finalError?.reason).toBe('dns');
    expect(health.finalError?.message).toBe(
      'Redis redis-1.railway.internal:6379: name redis-1.railway.internal did not resolve within 2000 ms (DNS server not answering); check the DNS servers this process uses (/etc/resolv.conf) and that they are reachable',
    );
  });

  it('reports dns, not a TLS timeout, when its time runs out first', async () => {
    const health = new ConnectHealth();
    health.dataNodeError(dnsTimeout(), 'redis-1.railway.internal:6379');
    const error = await whenReady(neverReady(), health, 50, true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisConnectError);
    expect((error as RedisConnectError).reason).toBe('dns');
    expect((error as Error).message).toMatch(
      /^Redis redis-1\.railway\.internal:6379: name redis-1\.railway\.internal did not resolve/,
    );
    expect((error as Error).message).not.toMatch(/TLS/);
  });

  it('rejects at once with a final error known before ready() was called', async () => {
    const health = new ConnectHealth();
    for (let i = 0; i < 3; i++) health.dataNodeError(dnsTimeout(), 'r:6379');
    const started = performance.now();
    const error = await whenReady(neverReady(), health, 5000, true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisConnectError);
    expect((error as RedisConnectError).reason).toBe('dns');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('forgets the DNS failure once another error follows', async () => {
    const health = new ConnectHealth();
    health.dataNodeError(dnsTimeout(), 'r:6379');
    health.dataNodeError(
      Object.assign(new Error('connect ECONNREFUSED ::1:6379'), { code: 'ECONNREFUSED' }),
      'r:6379',
    );
    const error = (await whenReady(neverReady(), health, 50, true).catch(
      (e: unknown) => e,
    )) as RedisConnectError;
    expect(error.reason).toBe('timeout');
    expect(error.message).toMatch(/last error: connect ECONNREFUSED/);
  });

  it('a Sentinel whose name gets no DNS answer is final at once when every Sentinel has one', () => {
    const sentinels = [
      { host: 'sentinel-1.railway.internal', port: 26379 },
      { host: 'sentinel-2.railway.internal', port: 26379 },
    ];
    const health = new ConnectHealth(sentinels);
    for (const sentinel of sentinels) {
      health.sentinelError(
        sentinel,
        Object.assign(
          new Error(
            `name ${sentinel.host} did not resolve within 1000 ms (DNS server not answering)`,
          ),
          { code: 'EAI_AGAIN' },
        ),
      );
    }
    expect(health.finalError?.reason).toBe('dns');
    expect(health.finalError?.message).toMatch(
      /^Sentinel sentinel-2\.railway\.internal:26379: name sentinel-2\.railway\.internal did not resolve within 1000 ms/,
    );
  });
});
