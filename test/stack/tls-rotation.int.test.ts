import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateRotationError,
  presentedFingerprint,
  renewalPhases,
  rotateCertificates,
} from '../../stack/certificate-rotation.js';
import { issueCertificate } from '../../stack/certificates.js';
import { RedisTopology } from '../../stack/topology.js';
import {
  createNewCaMaterial,
  type NewCaMaterial,
  rotateTopologyToNewCa,
  topologyRotationTarget,
} from '../../stack/topology-rotation.js';
import { firstPingErrors } from '../support/connection-errors.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Files {
  caFile: string;
  certFile: string;
  keyFile: string;
}

const tlsOf = (files: Files) => ({
  ca: readFileSync(files.caFile),
  cert: readFileSync(files.certFile),
  key: readFileSync(files.keyFile),
});

/** A steady writer (master) and reader (replica) through Sentinel, counting every error. */
function startLoad(topology: RedisTopology, clientTls: Files) {
  const { host, nodes, masterName, users } = topology.describe();
  const app = users?.app;
  if (!app) throw new Error('the topology runs without ACL');
  const tls = tlsOf(clientTls);
  const base: RedisOptions = {
    sentinels: nodes.filter((n) => n.role === 'sentinel').map((n) => ({ host, port: n.port })),
    name: masterName,
    tls,
    sentinelTLS: tls,
    enableTLSForSentinelMode: true,
    username: app.username,
    password: app.password,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
  };
  const writer = new Redis({ ...base, role: 'master' });
  const reader = new Redis({ ...base, role: 'slave' });
  const errors: string[] = [];
  for (const client of [writer, reader]) client.on('error', (e: Error) => errors.push(e.message));
  let running = true;
  let writes = 0;
  let reads = 0;
  const loop = (async () => {
    while (running) {
      try {
        await writer.set(`test:rotation:${writes % 100}`, String(writes));
        writes += 1;
        await reader.get(`test:rotation:${reads % 100}`);
        reads += 1;
      } catch (error) {
        errors.push((error as Error).message);
      }
      await delay(5);
    }
  })();
  return {
    errors,
    counts: () => ({ writes, reads }),
    async stop() {
      running = false;
      await loop;
      writer.disconnect();
      reader.disconnect();
    },
  };
}

describe('rotating certificates on a live topology', () => {
  let topology: RedisTopology;
  let material: NewCaMaterial;
  let oldClient: Files;
  beforeAll(async () => {
    topology = await RedisTopology.start({ tls: true });
    const tls = topology.describe().tls;
    if (!tls || !topology.certificates) throw new Error('expected a TLS topology');
    oldClient = tls;
    material = await createNewCaMaterial(topology.certificates, join(topology.dir, 'tls-next'));
  });
  afterAll(() => topology?.stop());

  it('moves every node to a new CA while a client reads and writes with zero errors', async () => {
    // Clients first trust the bundle (old + new CA), still presenting their old certificate.
    const load = startLoad(topology, { ...oldClient, caFile: material.bundleFile });
    const phasesDone: string[] = [];
    try {
      await delay(300);
      await rotateTopologyToNewCa(topology, material, {
        afterPhase: async (phase) => {
          phasesDone.push(phase.name);
          const before = load.counts().writes;
          // The load keeps making progress after each phase, not just "no error".
          const deadline = Date.now() + 5000;
          while (load.counts().writes < before + 20 && Date.now() < deadline) await delay(20);
        },
      });
      await delay(300);
    } finally {
      await load.stop();
    }
    expect(phasesDone).toEqual([
      'trust both CAs',
      'switch to certificates from the new CA',
      'drop the old CA',
    ]);
    expect(load.errors).toEqual([]);
    expect(load.counts().writes).toBeGreaterThan(60);
    expect(load.counts().reads).toBeGreaterThan(60);

    // Every port now presents the certificate from the new CA.
    const fingerprint = new X509Certificate(readFileSync(material.next.server.certFile))
      .fingerprint256;
    const newTls = topology.describe().tls;
    if (!newTls) throw new Error('expected TLS');
    for (const node of topology.describe().nodes) {
      expect(await presentedFingerprint({ host: '127.0.0.1', port: node.port }, newTls)).toBe(
        fingerprint,
      );
    }
  });

  it('keeps replication over TLS and the Sentinel quorum after the rotation', async () => {
    const master = topology.connect(topology.port('redis-0'));
    try {
      // Replicas reconnect with their new certificates, checked against the new CA only.
      await master.call('CLIENT', 'KILL', 'TYPE', 'replica');
      const deadline = Date.now() + 10_000;
      let online = 0;
      while (Date.now() < deadline) {
        const info = await master.info('replication');
        online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
        if (online === 2) break;
        await delay(100);
      }
      expect(online).toBe(2);
      await master.set('test:rotation:after', 'yes');
      expect(Number(await master.call('WAIT', '2', '5000'))).toBe(2);
      expect(await master.call('CONFIG', 'GET', 'tls-replication')).toEqual([
        'tls-replication',
        'yes',
      ]);
    } finally {
      master.disconnect();
    }
    for (const name of topology.names('sentinel')) {
      const sentinel = topology.connect(topology.port(name));
      try {
        expect(String(await sentinel.call('SENTINEL', 'CKQUORUM', topology.masterName))).toMatch(
          /^OK 3 usable Sentinels/,
        );
      } finally {
        sentinel.disconnect();
      }
    }
  });

  describe('unhappy', () => {
    it('refuses, on every port, a client still presenting a certificate from the old CA', async () => {
      const newTls = topology.describe().tls;
      if (!newTls) throw new Error('expected TLS');
      for (const node of topology.describe().nodes) {
        const error = await firstPingErrors({
          host: '127.0.0.1',
          port: node.port,
          tls: {
            ...tlsOf(newTls),
            cert: readFileSync(oldClient.certFile),
            key: readFileSync(oldClient.keyFile),
          },
        });
        expect(error, node.name).toMatch(/unknown ca|certificate|alert|closed|reset/i);
      }
    });

    it('leaves a client that trusts only the old CA unable to verify the servers', async () => {
      const error = await firstPingErrors({
        host: '127.0.0.1',
        port: topology.port('redis-0'),
        tls: { ...tlsOf(oldClient) },
      });
      expect(error).toMatch(/unable to verify|self[- ]signed|unknown ca|certificate/i);
    });

    it('stops with an error naming the node when a data node refuses the new files, changing nothing there', async () => {
      const tls = topology.describe().tls;
      if (!tls || !topology.certificates) throw new Error('expected TLS');
      // A certificate with the wrong key: Redis refuses it and keeps the files it has.
      const other = await issueCertificate(
        { name: 'x', certFile: material.next.ca.certFile, keyFile: material.next.ca.keyFile },
        join(topology.dir, 'tls-bad'),
        { name: 'mismatch', usage: 'server', subjectAltNames: ['IP:127.0.0.1'] },
      );
      const phases = renewalPhases({
        newCertOf: () => ({ certFile: other.certFile, keyFile: material.next.server.keyFile }),
        toolTls: tls,
      });
      const rotation = rotateCertificates(topologyRotationTarget(topology), phases);
      await expect(rotation).rejects.toThrow(CertificateRotationError);
      await expect(rotation).rejects.toThrow(/redis-0.*CONFIG SET refused/);
      const master = topology.connect(topology.port('redis-0'));
      try {
        expect(await master.call('CONFIG', 'GET', 'tls-cert-file')).toEqual([
          'tls-cert-file',
          material.next.server.certFile,
        ]);
        expect(await master.ping()).toBe('PONG');
      } finally {
        master.disconnect();
      }
    });
  });
});
