import { clientsCollector } from './clients.js';
import { commandstatsCollector } from './commandstats.js';
import { infoCollector } from './info.js';
import { keyspaceCollector } from './keyspace.js';
import { latencyHistogramCollector, latencySpikesCollector } from './latency.js';
import { replicationCollector } from './replication.js';
import { sentinelCollector } from './sentinel.js';
import { sentinelEventsCollector } from './sentinel-events.js';
import { serverConfigCollector } from './server-config.js';
import { slowlogCollector } from './slowlog.js';
import { tlsCollector } from './tls.js';
import type { Collector } from './types.js';

/**
 * Every source of metrics, one per file. Adding a source means adding its file
 * and one line here; the scrape pipeline, the per-collector success metric and
 * docs/metrics.md pick it up from this list.
 */
export const collectors: readonly Collector[] = [
  infoCollector,
  keyspaceCollector,
  replicationCollector,
  commandstatsCollector,
  serverConfigCollector,
  latencyHistogramCollector,
  latencySpikesCollector,
  slowlogCollector,
  clientsCollector,
  tlsCollector,
  sentinelCollector,
  sentinelEventsCollector,
];

export type { Collector } from './types.js';
