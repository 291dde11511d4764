import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { instrumentRedis } from '../../../client/instrumentation/instrumentation.js';
import { createLogger } from '../../../client/logging/logger.js';
import { clientFor, portOf, sharedTopology } from '../../support/shared-topology.js';
import { capturedLogs } from '../support/captured-logs.js';
import { uniquePrefix } from '../support/redis-pair.js';

const topology = sharedTopology();
const admin = clientFor(topology, portOf(topology, 'master'));
afterAll(() => admin.disconnect());

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('lifecycle logs, happy path', () => {
  it('logs ready at info, a dropped connection and the reconnect at warn', async () => {
    const { stream, lines } = capturedLogs();
    const writer = clientFor(topology, portOf(topology, 'master'), { lazyConnect: true });
    const instrumented = instrumentRedis(
      { writer },
      { logger: createLogger({ destination: stream }), tracing: { enabled: false } },
    );
    try {
      await writer.connect();
      await until('ready', () => lines.some((l) => l.event === 'redis.ready'));
      await admin.client('KILL', 'ID', String(await writer.client('ID')));
      await until('a reconnect', () => lines.filter((l) => l.event === 'redis.ready').length >= 2);
      const levels = Object.fromEntries(lines.map((l) => [l.event, l.level]));
      expect(levels).toMatchObject({
        'redis.ready': 'info',
        'redis.close': 'warn',
        'redis.reconnecting': 'warn',
      });
      expect(lines.find((l) => l.event === 'redis.reconnecting')).toMatchObject({
        role: 'writer',
        attempt: 1,
      });
      expect(lines.some((l) => l.event === 'redis.failover')).toBe(false);
    } finally {
      instrumented.detach();
      writer.disconnect();
    }
  });

  it('logs slow commands at warn with the sanitized query and never at info', async () => {
    const { stream, lines } = capturedLogs();
    const writer = clientFor(topology, portOf(topology, 'master'));
    const instrumented = instrumentRedis(
      { writer },
      {
        logger: createLogger({ destination: stream }),
        tracing: { enabled: false },
        slowCommandMs: 0,
      },
    );
    try {
      await writer.set(`${uniquePrefix('slow')}session:abc`, 'secret-value');
      const slow = lines.find((l) => l.event === 'redis.slow_command' && l.command === 'SET');
      expect(slow).toMatchObject({ level: 'warn', command: 'SET', role: 'writer' });
      expect(String(slow?.query)).toMatch(/^SET t-slow-[a-z]+:session:<redacted> \?$/);
      expect(JSON.stringify(lines)).not.toMatch(/secret-value|:abc/);
      // The handshake is slow too at 0 ms: its password stays out of the log.
      expect(JSON.stringify(lines)).not.toContain(String(topology.auth?.password));
      expect(lines.filter((l) => l.level === 'info' && String(l.msg).includes('command'))).toEqual(
        [],
      );
    } finally {
      instrumented.detach();
      writer.disconnect();
    }
  });

  it('logs a connection that comes back on another node as a failover', async () => {
    const { stream, lines } = capturedLogs();
    const writer = clientFor(topology, portOf(topology, 'master'));
    const instrumented = instrumentRedis(
      { writer },
      { logger: createLogger({ destination: stream }), tracing: { enabled: false } },
    );
    try {
      await writer.ping();
      await until('ready', () => lines.some((l) => l.event === 'redis.ready'));
      // What a Sentinel client does on failover: reconnect to another address.
      writer.options.port = portOf(topology, 'replica');
      writer.disconnect(true);
      await until('the failover line', () => lines.some((l) => l.event === 'redis.failover'));
      const failover = lines.find((l) => l.event === 'redis.failover');
      expect(failover).toMatchObject({
        level: 'warn',
        from: `127.0.0.1:${portOf(topology, 'master')}`,
        to: `127.0.0.1:${portOf(topology, 'replica')}`,
      });
    } finally {
      instrumented.detach();
      writer.disconnect();
    }
  });
});

describe('lifecycle logs, unhappy path', () => {
  it('logs a certificate the client cannot verify as a TLS error with its code', async () => {
    const { stream, lines } = capturedLogs();
    // No CA: the system store does not know the topology's throwaway CA.
    const writer = new Redis({
      host: topology.host,
      port: portOf(topology, 'master'),
      tls: {},
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    const instrumented = instrumentRedis(
      { writer },
      { logger: createLogger({ destination: stream }), tracing: { enabled: false } },
    );
    try {
      await writer.connect().catch(() => undefined);
      await until('the TLS error', () => lines.some((l) => l.event === 'redis.tls_error'));
      const line = lines.find((l) => l.event === 'redis.tls_error') as {
        level: string;
        err: { code: string };
      };
      expect(line.level).toBe('error');
      expect(line.err.code).toMatch(/CERT|UNABLE_TO|SELF_SIGNED/);
    } finally {
      instrumented.detach();
      writer.disconnect();
    }
  });
});
