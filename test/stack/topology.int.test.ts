import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../stack/certificates.js';
import { MissingBinaryError, NodeStartError } from '../../stack/errors.js';
import { freePort } from '../../stack/ports.js';
import { RedisTopology } from '../../stack/topology.js';
import { firstPingErrors } from '../support/connection-errors.js';
import { clientFor, portOf, sharedTopology, tlsOptionsOf } from '../support/shared-topology.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the shared TLS topology', () => {
  const topology = sharedTopology();

  it('replicates a write on the master to both replicas, read over verified TLS', async () => {
    const master = clientFor(topology, portOf(topology, 'master'));
    const replicas = [0, 1].map((i) => clientFor(topology, portOf(topology, 'replica', i)));
    try {
      const key = `test:topology:${Date.now()}`;
      await master.set(key, 'replicated');
      expect(Number(await master.call('WAIT', '2', '5000'))).toBe(2);
      for (const replica of replicas) {
        expect(await replica.get(key)).toBe('replicated');
        expect((await replica.info('replication')).match(/^role:(\w+)/m)?.[1]).toBe('slave');
      }
      await master.del(key);
    } finally {
      for (const client of [master, ...replicas]) client.disconnect();
    }
  });

  it('has every Sentinel agree on the master, both replicas and two peer Sentinels', async () => {
    for (let i = 0; i < 3; i++) {
      const sentinel = clientFor(topology, portOf(topology, 'sentinel', i));
      try {
        const flat = (await sentinel.call('SENTINEL', 'MASTER', topology.masterName)) as string[];
        const fields = Object.fromEntries(
          flat.flatMap((v, j) => (j % 2 === 0 ? [[v, flat[j + 1]]] : [])),
        );
        expect(Number(fields.port)).toBe(portOf(topology, 'master'));
        expect(fields['num-slaves']).toBe('2');
        expect(fields['num-other-sentinels']).toBe('2');
        expect(fields.quorum).toBe('2');
      } finally {
        sentinel.disconnect();
      }
    }
  });

  describe('unhappy', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'redscope-foreign-ca-'));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it('refuses a client whose certificate comes from another CA', async () => {
      const foreignCa = await createCertificateAuthority(scratch, 'foreign-ca');
      const foreign = await issueCertificate(foreignCa, scratch, {
        name: 'intruder',
        usage: 'client',
      });
      const tls = tlsOptionsOf(topology);
      const options: RedisOptions = {
        host: topology.host,
        port: portOf(topology, 'master'),
        tls: { ...tls, cert: readFileSync(foreign.certFile), key: readFileSync(foreign.keyFile) },
      };
      // TLS 1.3 finishes the client side of the handshake before the server checks the
      // client certificate, so the refusal shows as an alert or as a reset, never a PONG.
      expect(await firstPingErrors(options)).toMatch(/unknown ca|certificate|alert|ECONNRESET/i);
    });

    it('refuses a client that presents no certificate, on data and Sentinel ports', async () => {
      const tls = tlsOptionsOf(topology);
      for (const port of [portOf(topology, 'master'), portOf(topology, 'sentinel')]) {
        const options: RedisOptions = {
          host: topology.host,
          port,
          tls: { ca: tls?.ca },
        };
        expect(await firstPingErrors(options)).toMatch(/certificate required|alert|ECONNRESET/i);
      }
    });

    it('refuses a client that does not trust the topology CA', async () => {
      const tls = tlsOptionsOf(topology);
      const options: RedisOptions = {
        host: topology.host,
        port: portOf(topology, 'master'),
        tls: { cert: tls?.cert, key: tls?.key },
      };
      expect(await firstPingErrors(options)).toMatch(
        /self[- ]signed certificate|unable to verify/i,
      );
    });
  });
});

describe('a topology of its own', () => {
  let topology: RedisTopology;
  beforeAll(async () => {
    topology = await RedisTopology.start({ tls: true });
  });
  afterAll(() => topology?.stop());

  it('pauses a node so it answers nothing, then resumes it', async () => {
    const replica = topology.names('replica')[0] as string;
    const client = topology.connect(topology.port(replica), { commandTimeout: 300 });
    try {
      topology.pause(replica);
      await expect(client.ping()).rejects.toThrow(/timed out/i);
      topology.resume(replica);
      await expect(client.ping()).resolves.toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('kills a node with SIGKILL and restarts it as a replica again', async () => {
    const replica = topology.names('replica')[1] as string;
    const pid = topology.pid(replica) as number;
    await topology.kill(replica);
    expect(alive(pid)).toBe(false);
    await topology.restart(replica);
    const client = topology.connect(topology.port(replica));
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.info('replication')).toMatch(/^role:slave/m);
    } finally {
      client.disconnect();
    }
  });

  it('stops every process it started and removes its folder', async () => {
    const { dir, nodes } = topology.describe();
    const pids = nodes.map((n) => topology.pid(n.name)).filter((p): p is number => p !== undefined);
    expect(pids).toHaveLength(6);
    await topology.stop();
    for (const pid of pids) expect(alive(pid), `pid ${pid} still alive`).toBe(false);
    expect(existsSync(dir)).toBe(false);
    const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(dir));
    expect(leftovers).toEqual([]);
  });
});

describe('start failures', () => {
  let blocker: Server | undefined;
  afterAll(() => blocker?.close());

  it('fails within seconds with the node log when a port is taken', async () => {
    const taken = await freePort();
    const server = createServer();
    blocker = server;
    await new Promise<void>((resolve) => server.listen(taken, '127.0.0.1', resolve));
    const started = Date.now();
    const attempt = RedisTopology.start({
      tls: false,
      replicas: 0,
      sentinels: 0,
      ports: [taken],
    });
    // Should it start after all, stop it so the failure does not leak servers.
    attempt.then(
      (t) => t.stop(),
      () => undefined,
    );
    await expect(attempt).rejects.toThrow(NodeStartError);
    await expect(attempt).rejects.toThrow(/redis-0 failed to start[\s\S]*(in use|bind)/i);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('names the missing binary and its install command', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(RedisTopology.start({ tls: false })).rejects.toThrow(MissingBinaryError);
      await expect(RedisTopology.start({ tls: false })).rejects.toThrow(
        /apt-get install -y redis-server/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});
