import type { TopologyDescription } from '../../../stack/topology.js';
import { startTestExporter, type TestExporter } from './exporter-harness.js';
import { type ReferenceExporter, startRedisExporter } from './redis-exporter.js';

/**
 * redis_exporter 1.45 and ours side by side on one TLS deployment, for the
 * compatibility tests: the same client certificate, the same user.
 */
export interface Comparison {
  readonly reference: ReferenceExporter;
  readonly ours: TestExporter;
  /**
   * Both exporters' /scrape of the TLS node on loopback `port`. Theirs first:
   * counters only grow, so ours sees at least what theirs saw (a cluster bus
   * message type appears once it was sent). Fails unless ours answers 200.
   */
  scrape(port: number): Promise<{ readonly theirs: string; readonly ours: string }>;
  stop(): Promise<void>;
}

/**
 * Starts the reference on `redisAddr` (with `referenceArgs`, e.g. `-is-cluster`)
 * and ours allowed to scrape any TLS node on loopback, both with the
 * deployment's TLS files and no credentials (the tests run with ACL off).
 */
export async function startComparison(
  deployment: Pick<TopologyDescription, 'tls'>,
  redisAddr: string,
  referenceArgs: readonly string[] = [],
): Promise<Comparison> {
  const reference = await startRedisExporter(deployment, redisAddr, referenceArgs);
  let ours: TestExporter;
  try {
    ours = await startTestExporter({
      'allow-target': ['rediss://127.0.0.1:*'],
      'tls-ca': deployment.tls?.caFile,
      'tls-cert': deployment.tls?.certFile,
      'tls-key': deployment.tls?.keyFile,
    } as never);
  } catch (error) {
    await reference.stop();
    throw error;
  }
  return {
    reference,
    ours,
    async scrape(port) {
      const target = encodeURIComponent(`rediss://127.0.0.1:${port}`);
      const theirs = await (await fetch(`${reference.url}/scrape?target=${target}`)).text();
      const mine = await ours.get(`/scrape?target=${target}`);
      if (mine.status !== 200) {
        throw new Error(`our /scrape of port ${port} answered ${mine.status}: ${mine.text}`);
      }
      return { theirs, ours: mine.text };
    },
    async stop() {
      await ours.close();
      await reference.stop();
    },
  };
}
