import type { Logger } from 'pino';
import type { KeyRedactor } from '../../client/common/key-redaction.js';
import { DEFAULTS } from '../config.js';
import type { OptInConfig } from '../opt-in-config.js';
import { DroppedSeries } from '../series-cap.js';
import { createClientListCollector } from './client-list.js';
import { clientsCollector } from './clients.js';
import { clusterInfoCollector, clusterNodesCollector } from './cluster.js';
import { commandstatsCollector } from './commandstats.js';
import { createConfigValuesCollector } from './config-values.js';
import { createHotKeysCollector } from './hotkeys.js';
import { createHotKeysLfuCollector, type HotKeysLfuSettings } from './hotkeys-lfu.js';
import { infoCollector } from './info.js';
import { createKeyCollectors } from './key-collectors.js';
import { keyspaceCollector } from './keyspace.js';
import { latencyHistogramCollector, latencySpikesCollector } from './latency.js';
import { replicationCollector } from './replication.js';
import { createScriptsCollector } from './scripts.js';
import { sentinelCollector } from './sentinel.js';
import { createSentinelEventsCollector, type SentinelEventTracker } from './sentinel-events.js';
import { serverConfigCollector } from './server-config.js';
import { slowlogCollector } from './slowlog.js';
import { tlsCollector } from './tls.js';
import type { Collector } from './types.js';
import { warmingCollector } from './warming.js';

/** What collectors with state need, owned by the exporter that builds the catalog. */
export interface CollectorDependencies {
  /** The failovers this exporter's SentinelEventWatch saw; another exporter in the process has its own. */
  readonly sentinelEvents: SentinelEventTracker;
  /** The `hotkeys` settings (default: DEFAULTS.hotKeysTop, no LFU sampler). */
  readonly hotKeys?: {
    readonly top: number;
    /** The server-side LFU sampler, registered only when given (`hotkeys.lfu.enabled`). */
    readonly lfu?: HotKeysLfuSettings;
  };
  /** The opt-in collectors' settings (default: all off). */
  readonly optIn?: OptInConfig;
  /** Redacts key names found in data, with the deployment's secret (default: a per-process one). */
  readonly keyRedactor?: KeyRedactor;
  /** For what a collector reports beside its series (a script Redis refused). */
  readonly logger?: Logger;
}

/**
 * Every source of metrics, one per file. Adding a source means adding its file
 * and one line here; the scrape pipeline, the per-collector success metric and
 * docs/metrics.md pick it up from this list. Built per exporter, so no count
 * is shared between two exporters in one process.
 */
export function createCollectors(dependencies: CollectorDependencies): readonly Collector[] {
  // Where capped collectors count what they left out, per target.
  const droppedSeries = new DroppedSeries();
  return [
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
    clusterInfoCollector,
    clusterNodesCollector,
    sentinelCollector,
    createSentinelEventsCollector(dependencies.sentinelEvents),
    createHotKeysCollector({ top: dependencies.hotKeys?.top ?? DEFAULTS.hotKeysTop }),
    warmingCollector,
    ...(dependencies.optIn?.configMetrics.enabled
      ? [createConfigValuesCollector(dependencies.optIn.configMetrics)]
      : []),
    ...(dependencies.optIn?.clientList.enabled
      ? [createClientListCollector(dependencies.optIn.clientList, droppedSeries)]
      : []),
    ...(dependencies.optIn &&
    dependencies.optIn.scripts.scripts.length + dependencies.optIn.scripts.functions.length > 0
      ? [createScriptsCollector(dependencies.optIn.scripts, dependencies.logger)]
      : []),
    // key_checks, streams, count_keys, key_groups: each only when configured; they share one SCAN budget.
    ...createKeyCollectors(dependencies.optIn?.keyChecks, droppedSeries, dependencies.keyRedactor),
    // Last: it spends what is left of its own budget, so it must not delay the others.
    ...(dependencies.hotKeys?.lfu ? [createHotKeysLfuCollector(dependencies.hotKeys.lfu)] : []),
  ];
}

export type { Collector } from './types.js';
