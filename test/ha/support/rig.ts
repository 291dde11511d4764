import { createRedisClients, type RedisClients } from '../../../client/index.js';
import type {
  SentinelEventTracker,
  SentinelEventWatch,
} from '../../../exporter/collectors/sentinel-events.js';
import type { ConfigOverrides } from '../../../stack/redis-config.js';
import { RedisTopology } from '../../../stack/topology.js';
import { clientsConfigFor } from '../../../stack/topology-clients.js';
import { startTestExporter, type TestExporter } from '../../exporter/support/exporter-harness.js';
import { watchSentinelEvents } from './sentinel-events.js';

/** What a chaos test works with: its own TLS topology, the app's clients, the events watch. */
export interface ChaosRig {
  readonly topology: RedisTopology;
  readonly clients: RedisClients;
  readonly events: { tracker: SentinelEventTracker; watch: SentinelEventWatch };
  /** An exporter allowed to scrape every node, when asked for. */
  readonly exporter?: TestExporter;
  stop(): Promise<void>;
}

export interface ChaosRigOptions {
  readonly sentinelOverrides?: ConfigOverrides;
  /** Start an exporter; `withSentinels` also points its /metrics at the Sentinels. */
  readonly exporter?: 'scrape-only' | 'with-sentinels';
}

/** Starts a chaos rig; stop() undoes everything that started, also after a failed start. */
export async function startChaosRig(options: ChaosRigOptions = {}): Promise<ChaosRig> {
  const topology = await RedisTopology.start({
    tls: true,
    ...(options.sentinelOverrides ? { sentinelOverrides: options.sentinelOverrides } : {}),
  });
  let exporter: TestExporter | undefined;
  let events: ChaosRig['events'] | undefined;
  let clients: RedisClients | undefined;
  const stop = async () => {
    await clients?.close();
    events?.watch.close();
    await exporter?.close();
    await topology.stop();
  };
  try {
    const tls = topology.describe().tls;
    if (!tls) throw new Error('the topology was started with TLS');
    if (options.exporter) {
      exporter = await startTestExporter({
        ...(options.exporter === 'with-sentinels'
          ? {
              // With --sentinels the real exporter subscribes to Sentinel events itself.
              sentinels: topology
                .names('sentinel')
                .map((n) => `rediss://127.0.0.1:${topology.port(n)}`),
              'master-name': topology.masterName,
            }
          : {}),
        'allow-target': ['rediss://127.0.0.1:*'],
        'tls-ca': tls.caFile,
        'tls-cert': tls.certFile,
        'tls-key': tls.keyFile,
      });
    }
    events = await watchSentinelEvents(topology);
    clients = createRedisClients(clientsConfigFor(topology));
    await clients.ready();
    return { topology, clients, events, ...(exporter ? { exporter } : {}), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
