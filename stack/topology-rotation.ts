/**
 * Certificate rotation for a topology started by the launcher: the
 * RotationTarget that drives its processes, and a one-call move to a new CA
 * (what the TLS rotation test and `redscope rotate-certs --local` use).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  newCaPhases,
  type RotationOptions,
  type RotationPhase,
  type RotationTarget,
  rotateCertificates,
  type TlsFiles,
  tlsDirectives,
} from './certificate-rotation.js';
import { createTopologyCertificates, type TopologyCertificates } from './certificates.js';
import type { RedisTopology } from './topology.js';

/** Drives a launcher topology: CONFIG SET over admin connections, Sentinels restarted in place. */
export function topologyRotationTarget(topology: RedisTopology): RotationTarget {
  const { nodes, masterName } = topology.describe();
  // Each node by its own address (127.0.0.1, its own with `per-node`, its name with `hostnames`).
  const asNode =
    (kind: 'data' | 'sentinel') => (n: { name: string; host: string; port: number }) => ({
      name: n.name,
      host: n.host,
      port: n.port,
      kind,
    });
  return {
    masterName,
    dataNodes: nodes.filter((n) => n.role !== 'sentinel').map(asNode('data')),
    sentinels: nodes.filter((n) => n.role === 'sentinel').map(asNode('sentinel')),
    connect(node, tls) {
      const { username, password, ...options } = topology.connectionOptions();
      const client = new Redis({
        ...options,
        ...(node.kind === 'data' ? { username, password } : {}),
        host: node.host,
        port: node.port,
        // Both address families: a node named by a name may have only an AAAA record.
        family: 0,
        tls: tlsOptions(tls),
        retryStrategy: () => null,
        connectTimeout: 2000,
        commandTimeout: 5000,
      });
      client.on('error', () => undefined);
      return client;
    },
    async restartSentinel(node, update, tls) {
      // The launcher's readiness check connects with the topology's client TLS.
      topology.useClientTls(tls);
      await topology.reconfigureAndRestart(node.name, tlsDirectives(update));
    },
  };
}

const tlsOptions = (tls: TlsFiles) => ({
  ca: readFileSync(tls.caFile),
  cert: readFileSync(tls.certFile),
  key: readFileSync(tls.keyFile),
});

/** The material of a move to a new CA: the new CA's certificates and the old+new bundle. */
export interface NewCaMaterial {
  readonly next: TopologyCertificates;
  readonly bundleFile: string;
}

/** Creates a new CA with server and client certificates, and the old+new CA bundle, under `dir`. */
export async function createNewCaMaterial(
  current: TopologyCertificates,
  dir: string,
  caName = 'redscope-ca-next',
): Promise<NewCaMaterial> {
  const next = await createTopologyCertificates(dir, caName);
  const bundleFile = join(dir, 'ca-bundle.crt');
  writeFileSync(
    bundleFile,
    `${readFileSync(current.ca.certFile, 'utf8').trimEnd()}\n${readFileSync(next.ca.certFile, 'utf8')}`,
  );
  return { next, bundleFile };
}

/**
 * Moves a launcher topology to certificates from a new CA, live: the three
 * phases of newCaPhases(), after which describe() and connectionOptions() hand
 * out the new CA and client certificate.
 */
export async function rotateTopologyToNewCa(
  topology: RedisTopology,
  material: NewCaMaterial,
  options: RotationOptions = {},
): Promise<RotationPhase[]> {
  const current = topology.certificates;
  if (!current) throw new Error('the topology runs without TLS: there is nothing to rotate');
  const { next, bundleFile } = material;
  const tls = topology.describe().tls;
  const oldClient = tls ?? { certFile: current.client.certFile, keyFile: current.client.keyFile };
  const phases = newCaPhases({
    bundleFile,
    newCaFile: next.ca.certFile,
    newCertOf: () => ({ certFile: next.server.certFile, keyFile: next.server.keyFile }),
    oldClient: { certFile: oldClient.certFile, keyFile: oldClient.keyFile },
    newClient: { certFile: next.client.certFile, keyFile: next.client.keyFile },
  });
  await rotateCertificates(topologyRotationTarget(topology), phases, options);
  topology.useClientTls({
    caFile: next.ca.certFile,
    certFile: next.client.certFile,
    keyFile: next.client.keyFile,
  });
  return phases;
}
