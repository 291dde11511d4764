import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterNode } from '../../../client/common/cluster-nodes.js';
import type { ConfigSources } from '../../../exporter/config.js';
import type { ClusterTopology } from '../../../stack/cluster-topology.js';
import { startTestExporter, type TestExporter } from './exporter-harness.js';
import { type ParsedFamily, parseExposition } from './parse-exposition.js';

/** An exporter reading a ClusterTopology as the least-privilege `redscope-exporter` user. */
export interface ClusterExporter {
  readonly exporter: TestExporter;
  /** `rediss://127.0.0.1:PORT` of a node. */
  urlOf(name: string): string;
  /** /scrape of a node, parsed; `timeoutSeconds` is what Prometheus would announce. */
  scrape(
    name: string,
    timeoutSeconds?: number,
  ): Promise<{ status: number; ms: number; text: string; metrics: Map<string, ParsedFamily> }>;
  close(): Promise<void>;
}

/**
 * Starts an exporter with the cluster's TLS files, `--redis-url` on redis-0,
 * `/scrape` allowed on `allow` (default every loopback TLS port) and the
 * exporter user's credentials for every node, from a credentials file as in
 * production.
 */
export async function startClusterExporter(
  cluster: ClusterTopology,
  flags: ConfigSources['flags'] = {},
): Promise<ClusterExporter> {
  const description = cluster.describe();
  const user = description.users?.exporter;
  if (!user) throw new Error('the cluster was started without ACL users');
  const dir = mkdtempSync(join(tmpdir(), 'redscope-cluster-exporter-'));
  const credentials = join(dir, 'credentials.yaml');
  writeFileSync(join(dir, 'exporter.password'), `${user.password}\n`);
  writeFileSync(
    credentials,
    [
      'targets:',
      '  - match: "rediss://127.0.0.1:*"',
      `    username: ${user.username}`,
      `    password_file: ${join(dir, 'exporter.password')}`,
      '',
    ].join('\n'),
  );
  const urlOf = (name: string) => `rediss://127.0.0.1:${cluster.port(name)}`;
  const exporter = await startTestExporter({
    'redis-url': urlOf('redis-0'),
    'allow-target': ['rediss://127.0.0.1:*'],
    'credentials-file': credentials,
    'tls-ca': description.tls?.caFile,
    'tls-cert': description.tls?.certFile,
    'tls-key': description.tls?.keyFile,
    ...flags,
  } as ConfigSources['flags']);
  return {
    exporter,
    urlOf,
    async scrape(name, timeoutSeconds = 5) {
      const response = await exporter.get(`/scrape?target=${encodeURIComponent(urlOf(name))}`, {
        'X-Prometheus-Scrape-Timeout-Seconds': String(timeoutSeconds),
      });
      return { ...response, metrics: parseExposition(response.text) };
    },
    async close() {
      await exporter.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * CLUSTER NODES of `via` once every node's view has settled: each knows every
 * node, and every replica follows a master that serves slots. waitForHealthy()
 * checks replication links, which come up before the gossip that tells the
 * other nodes a replica's role.
 */
export async function settledView(
  cluster: ClusterTopology,
  names: readonly string[],
  via = 'redis-0',
  timeoutMs = 10_000,
): Promise<ClusterNode[]> {
  const deadline = Date.now() + timeoutMs;
  const settled = (nodes: readonly ClusterNode[]) =>
    nodes.length === names.length &&
    nodes.every((node) =>
      node.role === 'master'
        ? node.slotCount > 0
        : nodes.some((m) => m.id === node.masterId && m.slotCount > 0),
    );
  for (;;) {
    const views = await Promise.all(names.map((name) => cluster.clusterNodes(name)));
    if (views.every(settled)) return cluster.clusterNodes(via);
    if (Date.now() > deadline)
      throw new Error(`the cluster's views did not settle in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
