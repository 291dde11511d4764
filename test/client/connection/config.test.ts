import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, ReplyError } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type ClusterClientsConfig,
  resolveClientsConfig,
} from '../../../client/connection/config.js';
import { writeDurably } from '../../../client/connection/durable-write.js';
import {
  clusterOptions,
  readerOptions,
  reconnectOnReadonly,
  writerOptions,
} from '../../../client/connection/ioredis-options.js';
import { isReplicaUnavailable } from '../../../client/connection/read-client.js';
import { ConfigError, createRedisClients, type RedisClientsConfig } from '../../../client/index.js';
import { createLogger } from '../../../client/logging/logger.js';
import { capturedLogs } from '../support/captured-logs.js';

const dir = mkdtempSync(join(tmpdir(), 'redscope-client-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');

const sentinelConfig: RedisClientsConfig = {
  sentinels: ['10.0.0.1:26379', { host: '10.0.0.2', port: 26379 }, '[::1]:26380'],
  masterName: 'redscope',
  tls: { caFile },
};

function optionOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.option;
    throw error;
  }
  return undefined;
}

describe('the client connection config', () => {
  describe('happy', () => {
    it('resolves a Sentinel config with TLS verification on and safe defaults', () => {
      const resolved = resolveClientsConfig(sentinelConfig);
      expect(resolved.mode).toBe('sentinel');
      if (resolved.mode !== 'sentinel') return;
      expect(resolved.sentinels).toEqual([
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: '::1', port: 26380 },
      ]);
      expect(resolved.tls?.rejectUnauthorized).toBe(true);
      expect(resolved.tls?.ca?.toString()).toContain('BEGIN CERTIFICATE');
      // Sentinel connections use the data TLS settings unless told otherwise.
      expect(resolved.sentinelTls).toBe(resolved.tls);
      expect(resolved.readFrom).toBe('replica');
      expect(resolved.commandTimeoutMs).toBe(2000);
      expect(resolved.maxRetriesPerRequest).toBe(2);
    });

    it('maps to a master writer and a replica reader with bounded retries and timeouts', () => {
      const resolved = resolveClientsConfig({
        ...sentinelConfig,
        preferredReplicas: [{ host: '10.0.0.7', port: 6379, priority: 2 }],
      });
      const writer = writerOptions(resolved);
      expect(writer.role).toBe('master');
      expect(writer.enableTLSForSentinelMode).toBe(true);
      expect(writer.sentinelTLS).toMatchObject({ rejectUnauthorized: true });
      expect(writer.commandTimeout).toBe(2000);
      expect(writer.maxRetriesPerRequest).toBe(2);
      expect(writer.failoverDetector).toBe(false);
      const reader = readerOptions(resolved);
      expect(reader?.role).toBe('slave');
      expect(reader?.commandTimeout).toBe(500);
      expect(reader?.maxRetriesPerRequest).toBe(0);
      expect(reader?.preferredSlaves).toEqual([{ ip: '10.0.0.7', port: '6379', prio: 2 }]);
      expect(readerOptions(resolveClientsConfig({ ...sentinelConfig, readFrom: 'master' }))).toBe(
        undefined,
      );
    });

    it('parses a rediss:// URL with credentials and a database', () => {
      const resolved = resolveClientsConfig({ url: 'rediss://app:s%40cret@cache.internal:6380/2' });
      expect(resolved).toMatchObject({
        mode: 'standalone',
        address: { host: 'cache.internal', port: 6380 },
        db: 2,
        username: 'app',
        password: 's@cret',
        tls: { rejectUnauthorized: true },
      });
    });

    it.each([
      // [input, host, port]
      ['sentinel-0.railway.internal:26379', 'sentinel-0.railway.internal', 26379],
      ['sentinel_0.internal:26379', 'sentinel_0.internal', 26379],
      ['10.0.0.5:26379', '10.0.0.5', 26379],
      ['[::1]:26379', '::1', 26379],
      ['[fd12:3::5]:26380', 'fd12:3::5', 26380],
      [{ host: 'redis-1.internal', port: 26379 }, 'redis-1.internal', 26379],
      [{ host: 'fd12::5', port: 26379 }, 'fd12::5', 26379],
      [{ host: '[fd12::5]', port: 26379 }, 'fd12::5', 26379],
    ])(
      'takes the Sentinel address %j: a DNS name, IPv4 or IPv6, unresolved',
      (input, host, port) => {
        const resolved = resolveClientsConfig({ ...sentinelConfig, sentinels: [input] });
        expect(resolved.mode === 'sentinel' && resolved.sentinels).toEqual([{ host, port }]);
      },
    );

    it.each([
      // [url, host, port]
      ['rediss://redis.railway.internal', 'redis.railway.internal', 6379],
      ['rediss://redis.railway.internal:6380', 'redis.railway.internal', 6380],
      ['rediss://10.0.0.5', '10.0.0.5', 6379],
      ['rediss://[::1]:6379', '::1', 6379],
      ['rediss://app:pw@[fd12::5]/1', 'fd12::5', 6379],
    ])(
      'takes the url %j: a DNS name, IPv4 or bracketed IPv6, with or without a port',
      (url, host, port) => {
        const resolved = resolveClientsConfig({ url });
        expect(resolved.mode === 'standalone' && resolved.address).toEqual({ host, port });
      },
    );

    it('resolves names and IPv6 addresses of both families: family 0 for data nodes and Sentinels', () => {
      const sentinel = resolveClientsConfig(sentinelConfig);
      expect(writerOptions(sentinel).family).toBe(0);
      expect(readerOptions(sentinel)?.family).toBe(0);
      const standalone = resolveClientsConfig({ url: 'rediss://redis.railway.internal:6379' });
      expect(writerOptions(standalone)).toMatchObject({
        host: 'redis.railway.internal',
        family: 0,
      });
      // No servername unless given: Node then checks the certificate against the host dialled.
      expect((writerOptions(standalone).tls as { servername?: string }).servername).toBeUndefined();
    });

    it('reconnects on READONLY and resends the write, and on nothing else', () => {
      expect(
        reconnectOnReadonly(new Error("READONLY You can't write against a read only replica.")),
      ).toBe(2);
      expect(reconnectOnReadonly(new Error('WRONGTYPE Operation against a key'))).toBe(false);
    });

    it('retries a read on the master for connection trouble and replica states only', () => {
      expect(isReplicaUnavailable(new Error('Connection is closed.'))).toBe(true);
      expect(isReplicaUnavailable(new Error('Command timed out'))).toBe(true);
      expect(
        isReplicaUnavailable(new ReplyError('LOADING Redis is loading the dataset in memory')),
      ).toBe(true);
      expect(isReplicaUnavailable(new ReplyError('WRONGTYPE Operation against a key'))).toBe(false);
    });
  });

  describe('unhappy', () => {
    let server: Server | undefined;
    afterEach(() => server?.close());

    it('names "url" when neither a URL nor Sentinels are given', () => {
      expect(optionOf(() => resolveClientsConfig({}))).toBe('url');
    });

    it('names "sentinels" for an empty list and for a URL given alongside', () => {
      expect(optionOf(() => resolveClientsConfig({ sentinels: [], masterName: 'm' }))).toBe(
        'sentinels',
      );
      expect(optionOf(() => resolveClientsConfig({ ...sentinelConfig, url: 'rediss://h:1' }))).toBe(
        'sentinels',
      );
    });

    it('names the malformed Sentinel address by its index', () => {
      const config = { ...sentinelConfig, sentinels: ['10.0.0.1:26379', '10.0.0.2'] };
      expect(() => resolveClientsConfig(config)).toThrow(
        /sentinels\[1\]: "10.0.0.2" is not host:port/,
      );
      expect(optionOf(() => resolveClientsConfig({ ...config, sentinels: ['h:70000'] }))).toBe(
        'sentinels[0]',
      );
    });

    it.each([
      [
        '::1:26379',
        /"::1:26379" is not host:port; an IPv6 address goes in brackets: \[::1\]:26379/,
      ],
      ['fd12::5', /an IPv6 address goes in brackets/],
      ['[not-v6]:26379', /"\[not-v6\]" is not an IPv6 address/],
      [
        'sentinel-0.internal',
        /is not host:port \(e\.g\. 10\.0\.0\.5:26379, redis-1\.internal:26379 or \[fd00::5\]:26379\)/,
      ],
      ['rediss://sentinel-0:26379', /is not host:port/],
    ])('refuses the Sentinel address %j, saying how to write it', (input, message) => {
      expect(() => resolveClientsConfig({ ...sentinelConfig, sentinels: [input] })).toThrow(
        message,
      );
      expect(optionOf(() => resolveClientsConfig({ ...sentinelConfig, sentinels: [input] }))).toBe(
        'sentinels[0]',
      );
    });

    it('refuses an object address whose host is not a name or an IP', () => {
      for (const host of ['redis 1.internal', 'redis-1:6379', 'http://redis-1', 'a..b']) {
        expect(() =>
          resolveClientsConfig({ ...sentinelConfig, sentinels: [{ host, port: 26379 }] }),
        ).toThrow(/sentinels\[0\]: host ".*" is (not a DNS name or IP address|neither)/);
      }
    });

    it('names "masterName" when it is missing', () => {
      expect(optionOf(() => resolveClientsConfig({ sentinels: ['h:26379'] }))).toBe('masterName');
    });

    it('names the TLS file that does not exist, and a certificate without its key', () => {
      const missing = join(dir, 'nope.crt');
      expect(() => resolveClientsConfig({ ...sentinelConfig, tls: { caFile: missing } })).toThrow(
        `tls.caFile: cannot read ${missing}: no such file`,
      );
      expect(
        optionOf(() =>
          resolveClientsConfig({ ...sentinelConfig, sentinelTls: { certFile: caFile } }),
        ),
      ).toBe('sentinelTls.keyFile');
    });

    it('refuses a plain redis:// URL with TLS settings and an unknown scheme', () => {
      expect(optionOf(() => resolveClientsConfig({ url: 'redis://h:6379', tls: { caFile } }))).toBe(
        'tls',
      );
      expect(() => resolveClientsConfig({ url: 'http://h:6379' })).toThrow(
        /url: scheme must be rediss/,
      );
    });

    it('does not echo a password of a URL it cannot parse', () => {
      expect(() => resolveClientsConfig({ url: 'rediss://app:hunter2@:bad' })).toThrow(ConfigError);
      expect(optionOf(() => resolveClientsConfig({ url: 'rediss://app:hunter2@:bad' }))).toBe(
        'url',
      );
      try {
        resolveClientsConfig({ url: 'rediss://app:hunter2@:bad' });
      } catch (error) {
        expect(String(error)).not.toContain('hunter2');
      }
    });

    it('requires a logger before it turns verification off, and then warns through it', async () => {
      const insecure = { url: 'rediss://127.0.0.1:1', tls: { insecureSkipVerify: true } };
      expect(optionOf(() => createRedisClients(insecure))).toBe('logger');
      const { stream, lines } = capturedLogs();
      const clients = createRedisClients(insecure, {
        logger: createLogger({ destination: stream }),
      });
      await clients.close();
      const warnings = lines.filter((line) => line.event === 'redis.tls_insecure');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', options: ['tls.insecureSkipVerify'] });
      expect(warnings[0]?.msg).toMatch(/verification is OFF/);
    });

    it('throws before any connection is made', async () => {
      let connections = 0;
      server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      expect(() =>
        createRedisClients({
          sentinels: [`127.0.0.1:${port}`, 'not an address'],
          masterName: 'm',
          tls: false,
        }),
      ).toThrow(ConfigError);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(connections).toBe(0);
    });

    it('refuses durable-write options that cannot work', async () => {
      const writer = new Redis({ lazyConnect: true, commandTimeout: 2000 });
      try {
        await expect(
          writeDurably(writer, (tx) => tx.set('k', 'v'), { replicas: 0 }),
        ).rejects.toThrow(/replicas: must be an integer >= 1/);
        await expect(
          writeDurably(writer, (tx) => tx.set('k', 'v'), { timeoutMs: 2000 }),
        ).rejects.toThrow(/timeoutMs: must be below the writer's command timeout/);
        await expect(writeDurably(writer, () => undefined)).rejects.toThrow(
          /write: queued no command/,
        );
      } finally {
        writer.disconnect();
      }
    });
  });
});

describe('the cluster config', () => {
  const clusterConfig: ClusterClientsConfig = {
    cluster: {
      nodes: ['10.0.0.1:6379', { host: 'redis-1.internal', port: 6380 }, '[fd00::5]:6381'],
    },
    tls: { caFile },
    username: 'app',
    password: 'secret',
  };

  describe('happy', () => {
    it('resolves seeds (IPv4, names, IPv6), TLS on with verification, replica reads by default', () => {
      const resolved = resolveClientsConfig(clusterConfig);
      expect(resolved.mode).toBe('cluster');
      if (resolved.mode !== 'cluster') return;
      expect(resolved.nodes).toEqual([
        { host: '10.0.0.1', port: 6379 },
        { host: 'redis-1.internal', port: 6380 },
        { host: 'fd00::5', port: 6381 },
      ]);
      expect(resolved.tls?.rejectUnauthorized).toBe(true);
      expect(resolved.scaleReads).toBe('replica');
      expect(resolved.readFrom).toBe('replica');
      const plain = resolveClientsConfig({ cluster: { nodes: ['10.0.0.1:6379'] }, tls: false });
      expect(plain.tls).toBeUndefined();
      const defaultTls = resolveClientsConfig({ cluster: { nodes: ['10.0.0.1:6379'] } });
      expect(defaultTls.tls?.rejectUnauthorized).toBe(true);
    });

    it('keys natMap by the announced address as ioredis does (IPv6 without brackets)', () => {
      const resolved = resolveClientsConfig({
        ...clusterConfig,
        cluster: {
          nodes: ['10.0.0.1:6379'],
          natMap: {
            '10.0.1.5:6379': { host: 'redis-0.example.com', port: 16379 },
            '[fd00::9]:6379': { host: '[fd00::1]', port: 16380 },
          },
        },
      });
      expect(resolved.mode === 'cluster' && resolved.natMap).toEqual({
        '10.0.1.5:6379': { host: 'redis-0.example.com', port: 16379 },
        'fd00::9:6379': { host: 'fd00::1', port: 16380 },
      });
    });

    it('maps to a master-only writer and a replica-reading reader, every node on verified TLS', async () => {
      const resolved = resolveClientsConfig(clusterConfig);
      if (resolved.mode !== 'cluster') throw new Error('not a cluster config');
      const writer = clusterOptions(resolved, 'writer');
      const reader = clusterOptions(resolved, 'reader');
      expect(writer.nodes).toEqual(resolved.nodes);
      expect(writer.options.scaleReads).toBe('master');
      expect(reader.options.scaleReads).toBe('slave');
      for (const { options } of [writer, reader]) {
        expect(options.redisOptions).toMatchObject({
          username: 'app',
          password: 'secret',
          tls: { rejectUnauthorized: true },
          disableClientInfo: true,
        });
        // No servername: each node's certificate is checked against the address it is dialled at.
        expect(options.redisOptions?.tls).not.toHaveProperty('servername');
        // Seed names reach the socket as written (no IPv4-only pre-resolution).
        const dialled = new Promise((resolve) =>
          options.dnsLookup?.('redis-1.internal', (_error, address) => resolve(address)),
        );
        await expect(dialled).resolves.toBe('redis-1.internal');
      }
      expect(writer.options.redisOptions.connectionName).toBe('redscope-writer');
      expect(reader.options.redisOptions.connectionName).toBe('redscope-reader');
      expect(reader.options.redisOptions.commandTimeout).toBe(resolved.readTimeoutMs);
      const all = resolveClientsConfig({
        ...clusterConfig,
        cluster: { ...clusterConfig.cluster, scaleReads: 'all' },
      });
      if (all.mode !== 'cluster') throw new Error('not a cluster config');
      expect(clusterOptions(all, 'reader').options.scaleReads).toBe('all');
    });
  });

  describe('unhappy', () => {
    it('names the option of each mistake, before any connection', () => {
      const seeds = { nodes: ['10.0.0.1:6379'] };
      expect(
        optionOf(() =>
          resolveClientsConfig({ ...clusterConfig, url: 'redis://h:1' } as ClusterClientsConfig),
        ),
      ).toBe('cluster');
      expect(
        optionOf(() =>
          resolveClientsConfig({
            ...clusterConfig,
            sentinels: ['h:1'],
            masterName: 'm',
          } as ClusterClientsConfig),
        ),
      ).toBe('cluster');
      expect(optionOf(() => resolveClientsConfig({ cluster: { nodes: [] } }))).toBe(
        'cluster.nodes',
      );
      expect(optionOf(() => resolveClientsConfig({ cluster: { nodes: ['::1:6379'] } }))).toBe(
        'cluster.nodes[0]',
      );
      expect(
        optionOf(() => resolveClientsConfig({ cluster: { nodes: ['h:1', 'bad host:2'] } })),
      ).toBe('cluster.nodes[1]');
      expect(
        optionOf(() =>
          resolveClientsConfig({ cluster: { ...seeds, scaleReads: 'slave' as 'replica' } }),
        ),
      ).toBe('cluster.scaleReads');
      expect(
        optionOf(() =>
          resolveClientsConfig({
            cluster: { ...seeds, natMap: { 'not-an-address': { host: 'h', port: 1 } } },
          }),
        ),
      ).toBe('cluster.natMap["not-an-address"]');
      expect(
        optionOf(() =>
          resolveClientsConfig({
            cluster: { ...seeds, natMap: { 'h:1': { host: 'h', port: 0 } } },
          }),
        ),
      ).toBe('cluster.natMap["h:1"]');
      expect(
        optionOf(() =>
          resolveClientsConfig({ cluster: seeds, readFrom: 'master' } as ClusterClientsConfig),
        ),
      ).toBe('readFrom');
      expect(
        optionOf(() =>
          resolveClientsConfig({ cluster: seeds, masterName: 'm' } as ClusterClientsConfig),
        ),
      ).toBe('masterName');
    });
  });
});
