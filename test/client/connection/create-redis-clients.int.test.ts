import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_COMMANDS } from '../../../client/connection/read-client.js';
import {
  createRedisClients,
  DurableWriteError,
  type RedisClients,
  type RedisClientsConfig,
} from '../../../client/index.js';
import { clientFor, portOf, sharedTopology } from '../../support/shared-topology.js';

const description = sharedTopology();
const credentials = description.users?.app ?? description.auth;
const tlsFiles = description.tls
  ? {
      caFile: description.tls.caFile,
      certFile: description.tls.certFile,
      keyFile: description.tls.keyFile,
    }
  : undefined;
const auth = credentials ? { username: credentials.username, password: credentials.password } : {};

const sentinelConfig: RedisClientsConfig = {
  sentinels: description.nodes
    .filter((n) => n.role === 'sentinel')
    .map((n) => ({ host: description.host, port: n.port })),
  masterName: description.masterName,
  tls: tlsFiles ?? false,
  ...auth,
};

const prefix = `client-connection:${process.pid}`;

describe('createRedisClients against the shared TLS topology', () => {
  let clients: RedisClients;

  beforeAll(async () => {
    clients = createRedisClients(sentinelConfig);
    await clients.ready();
  });

  afterAll(async () => {
    await clients?.close();
  });

  describe('happy', () => {
    it('writes on the master and reads on a replica', async () => {
      await clients.writer.set(`${prefix}:a`, 'one');
      const writerRole = (await clients.writer.call('ROLE')) as unknown[];
      expect(writerRole[0]).toBe('master');
      const readerRole = await clients.reader.read(async (redis) => {
        expect(redis).not.toBe(clients.writer);
        return (await redis.call('ROLE')) as unknown[];
      });
      expect(readerRole[0]).toBe('slave');
      const replicaPorts = description.nodes.filter((n) => n.role === 'replica').map((n) => n.port);
      const port = await clients.reader.read(async (redis) => (redis.stream as Socket).remotePort);
      expect(replicaPorts).toContain(port);
    });

    it('confirms a durable write with the number of replicas that acknowledged it', async () => {
      const result = await clients.writeDurably((tx) =>
        tx.set(`${prefix}:durable`, 'v').incr(`${prefix}:n`),
      );
      expect(result.acknowledged).toBeGreaterThanOrEqual(1);
      expect(result.results).toEqual(['OK', 1]);
      const replica = clientFor(description, portOf(description, 'replica'), auth);
      try {
        expect(await replica.get(`${prefix}:durable`)).toBe('v');
      } finally {
        replica.disconnect();
      }
      // Read-your-write through the reader once a replica acknowledged it.
      expect(await clients.reader.get(`${prefix}:durable`)).toBe('v');
    });

    it('connects to one Redis from a rediss:// URL, reads and writes on it', async () => {
      const standalone = createRedisClients({
        url: `rediss://${description.host}:${portOf(description, 'master')}`,
        ...(tlsFiles ? { tls: tlsFiles } : {}),
        ...auth,
      });
      try {
        await standalone.ready();
        await standalone.writer.set(`${prefix}:url`, 'u');
        expect(await standalone.reader.get(`${prefix}:url`)).toBe('u');
        expect(standalone.reader.fallbacks).toBe(0);
        expect(standalone.mode).toBe('standalone');
      } finally {
        await standalone.close();
      }
    });

    it('exposes only commands Redis itself flags as read-only', async () => {
      const info = (await clients.writer.call('COMMAND', 'INFO', ...READ_COMMANDS)) as unknown[][];
      const notReadonly = info
        .filter((entry) => !(entry[2] as string[]).includes('readonly'))
        .map((entry) => entry[0]);
      expect(info).toHaveLength(READ_COMMANDS.length);
      expect(notReadonly).toEqual([]);
    });
  });

  describe('unhappy', () => {
    it('rejects a durable write that fewer replicas than required acknowledged', async () => {
      const replicas = description.nodes.filter((n) => n.role === 'replica').length;
      const error = await clients
        .writeDurably((tx) => tx.set(`${prefix}:too-many`, 'v'), {
          replicas: replicas + 1,
          timeoutMs: 200,
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DurableWriteError);
      expect(error).toMatchObject({
        reason: 'not-acknowledged',
        acknowledged: replicas,
        required: replicas + 1,
      });
    });

    it('rejects a durable write whose command failed with that command error', async () => {
      await clients.writer.set(`${prefix}:string`, 'x');
      await expect(
        clients.writeDurably((tx) => tx.hset(`${prefix}:string`, 'f', 'v')),
      ).rejects.toThrow(/WRONGTYPE/);
    });

    it('does not connect to a server whose certificate it cannot verify', async () => {
      const unverified = createRedisClients({
        url: `rediss://${description.host}:${portOf(description, 'master')}`,
        ...auth,
        connectTimeoutMs: 500,
      });
      try {
        // The reason, not just the status: an on-call engineer needs to know it is the CA.
        await expect(unverified.ready(1500)).rejects.toThrow(
          /^Redis 127\.0\.0\.1:\d+: .*(self[- ]signed|unable to verify|certificate).*check tls/,
        );
      } finally {
        await unverified.close();
      }
    });
  });
});
