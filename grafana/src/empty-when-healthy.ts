import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { clusterPanels } from './overview-cluster.js';
import { selectors } from './selectors.js';

/** The deployment a stack runs: one master with Sentinels, or a Redis Cluster. */
export type Topology = 'sentinel' | 'cluster';

/**
 * Panels that show no data on a healthy stack, and why. The live check
 * (test/bundle/support/dashboard-live.ts) accepts exactly these as empty, and
 * docs/dashboards.md lists them from this very list (`npm run generate`), so a panel
 * that goes blank for another reason is a bug that a test names.
 */
export interface EmptyWhenHealthy {
  /** Dashboard uid. */
  readonly dashboard: string;
  /** Panel titles: one panel, or a group such as the Redis Cluster row. */
  readonly panels: readonly string[];
  /** Only the queries with these legends, when the panel's other queries have data. */
  readonly legends?: readonly string[];
  /** Empty on every healthy stack, or only on a Sentinel or a Redis Cluster deployment. */
  readonly topology: Topology | 'any';
  /** What the docs call the entry when it is a group of panels. */
  readonly group?: string;
  readonly reason: string;
}

export function emptyWhenHealthy(t: Thresholds): EmptyWhenHealthy[] {
  const overview = DASHBOARDS.overview.uid;
  const cluster = Object.values(clusterPanels(t, selectors(t.jobs))).map(
    (panel) => panel.build().title ?? '',
  );
  return [
    {
      dashboard: overview,
      panels: ['Client errors by type'],
      topology: 'any',
      reason:
        'No client command has failed: the client creates a series per error type at its first error.',
    },
    {
      dashboard: overview,
      panels: ['Near-cache hit ratio'],
      topology: 'any',
      reason:
        'The near-cache holds only keys over the hot-key threshold; with none that hot (RedisHotKey quiet) it answers no reads, and a ratio of no reads is no number.',
    },
    {
      dashboard: overview,
      panels: ['Warming throughput and rate limit'],
      legends: ['{{namespace}} rate limit'],
      topology: 'any',
      reason:
        'The rate limit is drawn only while a warming run is in progress; runs take seconds, the keys line stays.',
    },
    {
      dashboard: overview,
      panels: cluster,
      group: 'Redis Cluster row (every panel)',
      topology: 'sentinel',
      reason:
        'A Sentinel deployment has no cluster: its nodes export no redis_cluster_* or redscope_cluster_* families.',
    },
    {
      dashboard: overview,
      panels: ['Sentinels up', 'Failovers in range', 'Sentinel view of the master', 'Failovers'],
      topology: 'cluster',
      reason:
        'A Redis Cluster has no Sentinels (no redis-sentinel job): its failovers show in the Redis Cluster row.',
    },
  ];
}

const TOPOLOGY_TEXT: Record<EmptyWhenHealthy['topology'], string> = {
  any: 'any healthy stack',
  sentinel: 'a Sentinel deployment',
  cluster: 'a Redis Cluster',
};

const DASHBOARD_TITLE: Record<string, string> = Object.fromEntries(
  Object.values(DASHBOARDS).map((d) => [d.uid, d.title]),
);

/** The Markdown table docs/dashboards.md carries between its generated-section markers. */
export function renderEmptyWhenHealthy(t: Thresholds): string {
  const rows = emptyWhenHealthy(t).map((e) => {
    const panels = e.group ?? e.panels.map((p) => `"${p}"`).join(', ');
    const part = e.legends ? ` (the ${e.legends.map((l) => `\`${l}\``).join(', ')} line)` : '';
    return `| ${DASHBOARD_TITLE[e.dashboard] ?? e.dashboard} | ${panels}${part} | ${TOPOLOGY_TEXT[e.topology]} | ${e.reason} |`;
  });
  return ['| Dashboard | Panel | Empty on | Why |', '|---|---|---|---|', ...rows, ''].join('\n');
}
