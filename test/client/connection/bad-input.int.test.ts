import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClientsConfig } from '../../../client/connection/config.js';
import { RedisConnectError } from '../../../client/connection/connect-errors.js';
import {
  createRedisClients,
  type RedisClients,
} from '../../../client/connection/create-redis-clients.js';
import { ConfigError } from '../../../client/errors.js';
import { createLogger } from '../../../client/logging/logger.js';
import { createCertificateAuthority } from '../../../stack/certificates.js';
import { freePort } from '../../../stack/ports.js';
import { RedisTopology } from '../../../stack/topology.js';
import { clientsConfigFor } from '../../../stack/topology-clients.js';
import { sharedTopology } from '../../support/shared-topology.js';
import { capturedLogs } from '../support/captured-logs.js';

/**
 * The mistakes of docs/ha.md's bad-input table, each against real servers:
 * what ready() rejects with, and that a mistake retrying cannot fix is
 * reported as soon as it is seen (bounded at 2 s here; the table gives the
 * measured times).
 */
const FINAL_WITHIN_MS = 2000;

let plain: RedisTopology;
let foreignCa: string;

let foreignCaDir: string | undefined;

beforeAll(async () => {
  plain = await RedisTopology.start({ tls: false, acl: false, replicas: 0, sentinels: 0 });
  foreignCaDir = mkdtempSync(join(tmpdir(), 'redscope-foreign-ca-'));
  foreignCa = (await createCertificateAuthority(foreignCaDir, 'foreign-ca')).certFile;
});
afterAll(async () => {
  await plain?.stop();
  if (foreignCaDir) rmSync(foreignCaDir, { recursive: true, force: true });
});

/** ready() of clients made from `config`: how it ended and how long it took; the clients are closed. */
async function attempt(
  config: RedisClientsConfig,
  timeoutMs = 8000,
): Promise<{ error: unknown; ms: number; lines: Record<string, unknown>[] }> {
  const { stream, lines } = capturedLogs();
  const started = performance.now();
  let clients: RedisClients | undefined;
  try {
    clients = createRedisClients(config, { logger: createLogger({ destination: stream }) });
    await clients.ready(timeoutMs);
    return { error: undefined, ms: performance.now() - started, lines };
  } catch (error) {
    return { error, ms: performance.now() - started, lines };
  } finally {
    await clients?.close();
  }
}

const shared = () => clientsConfigFor(sharedTopology());

describe('the handshake', () => {
  it('sends nothing the server rejects (CLIENT SETINFO is 7.2+; this Redis may be 7.0)', async () => {
    const url = `redis://127.0.0.1:${plain.port('redis-0')}`;
    const server = plain.connect(plain.port('redis-0'));
    try {
      await server.config('RESETSTAT');
      const { error } = await attempt({ url });
      expect(error).toBeUndefined();
      expect(String(await server.info('errorstats'))).not.toMatch(/errorstat_/);
    } finally {
      server.disconnect();
    }
  });
});

describe('bad input, caught before any connection', () => {
  it('names the option when a PEM field holds a file path', () => {
    const caFile = sharedTopology().tls?.caFile as string;
    expect(() => createRedisClients({ ...shared(), tls: { ca: caFile } })).toThrow(
      /tls\.ca: holds PEM contents, and ".*" looks like a file path: give the path as tls\.caFile/,
    );
    expect(() => createRedisClients({ ...shared(), tls: { ca: 'not a certificate' } })).toThrow(
      ConfigError,
    );
  });
});

describe('bad input that retrying cannot fix fails fast, naming it', () => {
  it('a wrong password: auth, logged with the error class', async () => {
    const { error, ms, lines } = await attempt({ ...shared(), password: 'wrong-password' });
    expect(error).toBeInstanceOf(RedisConnectError);
    expect((error as RedisConnectError).reason).toBe('auth');
    expect((error as Error).message).toMatch(/WRONGPASS.*check username and password/);
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
    const logged = lines.find((line) => line.event === 'redis.error');
    expect((logged?.err as { type?: string })?.type).toMatch(/^(ReplyError|SimpleError)$/);
    expect(JSON.stringify(lines)).not.toContain('wrong-password');
  });

  it('a CA that did not sign the servers: tls, with the OpenSSL reason', async () => {
    const { error, ms, lines } = await attempt({
      ...shared(),
      tls: { ...(shared().tls as object), caFile: foreignCa },
    });
    expect((error as RedisConnectError).reason).toBe('tls');
    expect((error as Error).message).toMatch(/^Sentinel .*certificate.*check sentinelTls/);
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
    const tlsLine = lines.find((line) => line.event === 'redis.tls_error');
    expect(tlsLine).toMatchObject({ role: 'sentinel' });
    expect((tlsLine?.err as { code?: string })?.code).toMatch(/CERT|SIGNED|ISSUER/);
  });

  it('a master name no Sentinel monitors: master-name', async () => {
    const { error, ms } = await attempt({ ...shared(), masterName: 'no-such-master' });
    expect((error as RedisConnectError).reason).toBe('master-name');
    expect((error as Error).message).toMatch(/monitor no master named "no-such-master"/);
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('a host that does not resolve: dns, naming it', async () => {
    const { error, ms } = await attempt({ url: 'rediss://no-such-host.invalid:6379' });
    expect((error as RedisConnectError).reason).toBe('dns');
    expect((error as Error).message).toMatch(
      /^Redis no-such-host\.invalid:6379: getaddrinfo ENOTFOUND no-such-host\.invalid; the host name does not resolve/,
    );
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
  });

  it('Sentinels whose names do not resolve: dns, naming one, each logged by name', async () => {
    const names = ['sentinel-nope-1.invalid', 'sentinel-nope-2.invalid'];
    const { error, ms, lines } = await attempt({
      sentinels: names.map((name) => `${name}:26379`),
      masterName: 'redscope',
      tls: false,
    });
    expect((error as RedisConnectError).reason).toBe('dns');
    expect((error as Error).message).toMatch(
      /^Sentinel (sentinel-nope-\d\.invalid):26379: getaddrinfo ENOTFOUND \1; the host name does not resolve/,
    );
    expect(ms).toBeLessThan(FINAL_WITHIN_MS);
    const logged = lines.filter((line) => line.event === 'redis.sentinel_error');
    for (const name of names) {
      expect(logged.some((line) => line.address === name)).toBe(true);
    }
  });
});

describe('a bad Sentinel among good ones', () => {
  it('one whose name does not resolve is logged by name, and the others are used', async () => {
    const config = shared();
    const { error, lines } = await attempt({
      ...config,
      sentinels: [...(config.sentinels ?? []), 'sentinel-nope.invalid:26379'],
    });
    expect(error).toBeUndefined();
    const logged = lines.find(
      (line) => line.event === 'redis.sentinel_error' && line.address === 'sentinel-nope.invalid',
    );
    expect((logged?.err as { message?: string })?.message).toContain(
      'getaddrinfo ENOTFOUND sentinel-nope.invalid',
    );
  });
});

describe('bad input that could still be fixed by waiting', () => {
  it('TLS against a plain port: the handshake hangs, or fails when Redis answers the hello', async () => {
    // Redis reads the TLS hello as an inline command: it waits for a newline that the random
    // bytes may or may not contain, so the client sees a hung handshake or an immediate reset.
    const { error } = await attempt({ url: `rediss://127.0.0.1:${plain.port('redis-0')}` }, 3000);
    const { reason, message } = error as RedisConnectError;
    if (reason === 'tls') expect(message).toMatch(/TLS/);
    else expect(message).toMatch(/ETIMEDOUT \(with TLS on, .*speaks plain TCP/);
  });

  it('plain TCP against a TLS port times out with a hint that the server expects TLS', async () => {
    const master = sharedTopology().nodes.find((node) => node.role === 'master');
    const { error } = await attempt({ url: `redis://127.0.0.1:${master?.port}` }, 1500);
    expect((error as RedisConnectError).reason).toBe('timeout');
    expect((error as Error).message).toMatch(/expects TLS/);
  });

  it('no Sentinel reachable times out naming the last error', async () => {
    const { error, lines } = await attempt(
      {
        sentinels: [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`],
        masterName: 'redscope',
        tls: false,
      },
      1500,
    );
    expect((error as RedisConnectError).reason).toBe('timeout');
    expect((error as Error).message).toMatch(/ECONNREFUSED|unreachable/);
    expect(lines.some((line) => line.event === 'redis.sentinel_error')).toBe(true);
  });
});
