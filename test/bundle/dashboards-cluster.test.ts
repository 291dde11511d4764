import { describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import { committedAlertRules } from './support/bundle.js';
import { committedDashboards } from './support/dashboards.js';

interface Target {
  readonly expr: string;
  readonly instant?: boolean;
  readonly format?: string;
}

interface PanelJson {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly Target[];
  readonly fieldConfig?: {
    readonly defaults?: {
      readonly mappings?: readonly { options: Record<string, { text: string; color: string }> }[];
      readonly thresholds?: { readonly steps: readonly { value: number | null; color: string }[] };
    };
  };
  readonly transformations?: readonly {
    id: string;
    options: { renameByName?: Record<string, string> };
  }[];
}

/** The panels of the overview's "Redis Cluster" row, in order. */
function clusterRow(): PanelJson[] {
  const overview = Object.values(committedDashboards()).find(
    (d) => d.uid === DASHBOARDS.overview.uid,
  );
  const panels = (overview?.panels ?? []) as unknown as PanelJson[];
  const start = panels.findIndex((p) => p.type === 'row' && p.title === 'Redis Cluster');
  expect(start, 'the overview has a Redis Cluster row').toBeGreaterThan(0);
  const end = panels.findIndex((p, i) => i > start && p.type === 'row');
  return panels.slice(start + 1, end === -1 ? undefined : end);
}

const panel = (title: string): PanelJson => {
  const found = clusterRow().find((p) => p.title === title);
  if (!found) throw new Error(`no panel "${title}" in the Redis Cluster row`);
  return found;
};

const metricsOf = (p: PanelJson) =>
  (p.targets ?? []).flatMap((t) => findSelectors(t.expr).map((s) => s.metric));

describe('the overview Redis Cluster row', () => {
  it('shows state, slot coverage, per-shard ops/s and memory, replicas per shard and the shard map', () => {
    expect(clusterRow().map((p) => p.title)).toEqual([
      'Cluster state',
      'Slots without a working master',
      'Shard masters down',
      'Shards without a replica',
      'Shards failed over in range',
      'Shards and nodes',
      'Slot coverage',
      'Operations per second by shard',
      'Memory used by shard',
      'Replicas per shard',
      'Nodes flagging a shard master as failing',
      'Master nodes per shard',
      'Shard map',
    ]);
  });

  it('comes last in the overview, so the panels above keep their ids', () => {
    const overview = Object.values(committedDashboards()).find(
      (d) => d.uid === DASHBOARDS.overview.uid,
    );
    const rows = (overview?.panels ?? []).filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows.at(-1)).toBe('Redis Cluster');
  });

  it('shows the cluster state as ok or fail in colour', () => {
    const [mapping] = panel('Cluster state').fieldConfig?.defaults?.mappings ?? [];
    expect(mapping?.options).toMatchObject({
      '0': { text: 'fail', color: 'red' },
      '1': { text: 'ok', color: 'green' },
    });
  });

  it('per-shard traffic and memory count the shard master only, joined on the scrape target', () => {
    for (const title of ['Operations per second by shard', 'Memory used by shard']) {
      const [target] = panel(title).targets ?? [];
      expect(target?.expr, title).toMatch(
        /^sum by \(cluster, shard\) \(.* \* on \(environment, cluster, instance\) group_left \(shard\) redscope_cluster_node_info\{[^}]*role="master"\}\)$/,
      );
    }
  });

  it('the shard map is an instant table with a row per node: shard, role, instance, node id', () => {
    const map = panel('Shard map');
    expect(map.type).toBe('table');
    for (const target of map.targets ?? []) {
      expect(target).toMatchObject({ instant: true, format: 'table' });
      expect(target.expr).toMatch(/^max by \(cluster, shard, role, instance, node_id\) \(/);
      expect(findSelectors(target.expr).map((s) => s.metric)).toContain(
        'redscope_cluster_node_info',
      );
    }
    const organize = map.transformations?.find((t) => t.id === 'organize');
    expect(Object.values(organize?.options.renameByName ?? {})).toEqual([
      'Cluster',
      'Shard',
      'Role',
      'Instance',
      'Node id',
      'Shard slots',
      'Ops/s',
      'Memory used',
    ]);
  });

  it('the panels of an alert read what the alert reads and turn red where it fires', () => {
    const alertMetrics = (alert: string) =>
      findSelectors(committedAlertRules().find((r) => r.alert === alert)?.expr ?? '').map(
        (s) => s.metric,
      );
    const pairs = [
      ['Cluster state', 'RedisClusterStateNotOk'],
      ['Slots without a working master', 'RedisClusterSlotsFailing'],
      ['Shard masters down', 'RedisClusterShardMasterDown'],
      ['Shards without a replica', 'RedisClusterShardWithoutReplica'],
      ['Replicas per shard', 'RedisClusterShardWithoutReplica'],
      ['Nodes flagging a shard master as failing', 'RedisClusterShardMasterDown'],
      ['Shards failed over in range', 'RedisClusterFailover'],
    ] as const;
    for (const [title, alert] of pairs) {
      expect(new Set(metricsOf(panel(title))), title).toEqual(new Set(alertMetrics(alert)));
    }
    // The replica panel's query is the alert's left-hand side, job and filters aside.
    const replicas = panel('Replicas per shard').targets?.[0]?.expr ?? '';
    expect(replicas).toMatch(/^min by \(cluster, shard\) \(redscope_cluster_shard_replicas\{/);
    expect(panel('Replicas per shard').fieldConfig?.defaults?.thresholds?.steps).toEqual([
      { value: null, color: 'red' },
      { value: 1, color: 'green' },
    ]);
  });
});
