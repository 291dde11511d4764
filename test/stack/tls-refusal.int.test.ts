import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import {
  createCertificateAuthority,
  type IssuedCertificate,
  issueCertificate,
} from '../../stack/certificates.js';
import { freePort } from '../../stack/ports.js';
import { SupervisedProcess } from '../../stack/processes.js';
import { firstPingErrors } from '../support/connection-errors.js';
import { clientFor, portOf, sharedTopology, tlsOptionsOf } from '../support/shared-topology.js';

const topology = sharedTopology();
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every kind of port: the master's, a replica's (the one replication uses too) and a Sentinel's. */
const ports = (): [string, number][] => [
  ['master', portOf(topology, 'master')],
  ['replica', portOf(topology, 'replica')],
  ['sentinel', portOf(topology, 'sentinel')],
];

/** Sends a plain-text PING to a TLS port; resolves with whatever came back before the close. */
function plainPing(port: number): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = netConnect({ host: topology.host, port });
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
  });
}

describe('who may connect to the TLS topology', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'redscope-tls-refusal-'));
  let foreign: IssuedCertificate;
  beforeAll(async () => {
    const foreignCa = await createCertificateAuthority(scratch, 'foreign-ca');
    foreign = await issueCertificate(foreignCa, scratch, {
      name: 'intruder',
      usage: 'server',
      subjectAltNames: ['IP:127.0.0.1'],
    });
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('accepts a client with a certificate from the topology CA on every port', async () => {
    for (const [kind, port] of ports()) {
      const client = clientFor(topology, port);
      try {
        expect(await client.ping(), kind).toBe('PONG');
      } finally {
        client.disconnect();
      }
    }
  });

  it('replicates over TLS: both replicas have their link up and the master has no plain port', async () => {
    const master = clientFor(topology, portOf(topology, 'master'));
    try {
      expect(await master.call('CONFIG', 'GET', 'tls-replication')).toEqual([
        'tls-replication',
        'yes',
      ]);
      expect(await master.call('CONFIG', 'GET', 'port')).toEqual(['port', '0']);
    } finally {
      master.disconnect();
    }
    for (const index of [0, 1]) {
      const replica = clientFor(topology, portOf(topology, 'replica', index));
      try {
        const info = await replica.info('replication');
        expect(info).toMatch(/^master_link_status:up/m);
        expect(info).toMatch(new RegExp(`^master_port:${portOf(topology, 'master')}`, 'm'));
      } finally {
        replica.disconnect();
      }
    }
  });

  describe('unhappy', () => {
    it('refuses a client that presents no certificate, on every port', async () => {
      const tls = tlsOptionsOf(topology);
      for (const [kind, port] of ports()) {
        const error = await refusal(port, { tls: { ca: tls?.ca }, ...topology.auth });
        expect(error, kind).toMatch(/certificate required|alert|handshake|closed|reset/i);
      }
    });

    it('refuses a client whose certificate comes from another CA, on every port', async () => {
      const tls = tlsOptionsOf(topology);
      for (const [kind, port] of ports()) {
        const error = await refusal(port, {
          tls: {
            ca: tls?.ca,
            cert: readFileSync(foreign.certFile),
            key: readFileSync(foreign.keyFile),
          },
        });
        expect(error, kind).toMatch(/unknown ca|alert|certificate|closed|reset/i);
      }
    });

    it('answers nothing to a plain-TCP client on every port', async () => {
      for (const [kind, port] of ports()) {
        expect(await plainPing(port), kind).not.toMatch(/PONG|NOAUTH|\+/);
      }
    });

    it('refuses to replicate to a replica whose certificate comes from another CA', async () => {
      const port = await freePort();
      const dir = join(scratch, 'rogue');
      mkdirSync(dir, { recursive: true });
      const password = topology.users?.replica.password;
      if (!password || !topology.tls)
        throw new Error('expected TLS and ACL on the shared topology');
      // The right replication credentials: only the certificate is wrong.
      const rogue = new SupervisedProcess({
        name: 'rogue-replica',
        command: requireBinary('redis-server'),
        args: [
          '--bind',
          '127.0.0.1',
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          foreign.certFile,
          '--tls-key-file',
          foreign.keyFile,
          '--tls-ca-cert-file',
          topology.tls.caFile,
          '--tls-replication',
          'yes',
          '--replicaof',
          topology.host,
          String(portOf(topology, 'master')),
          '--masteruser',
          'replica',
          '--masterauth',
          password,
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        outputFile: join(dir, 'out.log'),
      });
      try {
        await rogue.start();
        const log = join(dir, 'out.log');
        const deadline = Date.now() + 10_000;
        let text = '';
        while (Date.now() < deadline) {
          text = existsSync(log) ? readFileSync(log, 'utf8') : '';
          if (/alert unknown ca/.test(text)) break;
          await delay(100);
        }
        expect(text).toMatch(/alert unknown ca/);
        expect(text).not.toMatch(/MASTER <-> REPLICA sync: Finished with success/);
        const master = clientFor(topology, portOf(topology, 'master'));
        try {
          expect(await master.info('replication')).not.toMatch(new RegExp(`port=${port},`));
        } finally {
          master.disconnect();
        }
      } finally {
        await rogue.stop();
      }
    });
  });
});

/** The errors of a fresh client's first PING on `port` of the shared topology; '' when it works. */
function refusal(port: number, options: RedisOptions): Promise<string> {
  return firstPingErrors({ host: topology.host, port, ...options });
}
