import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { repoPath, run } from './support/bundle.js';
import { committedDashboards, dashboardExpressions, interpolate } from './support/dashboards.js';

/**
 * The Redis Cluster row's queries, evaluated by promtool on the series of a cluster
 * whose shard 0 has just failed over (redis-0 was its master, redis-3 is now), with a
 * replica one node cannot see, a shard master most nodes flag and a node in fail state.
 * Each query must give exactly the numbers the panel promises, per shard and per node.
 */

const LABELS = 'job="redis", environment="prod", cluster="orders"';
const node = (i: number) => `instance="redis-${i}:6379"`;
const series = (metric: string, i: number, extra: string, values: string) => ({
  series: `${metric}{${LABELS}, ${node(i)}${extra ? `, ${extra}` : ''}}`,
  values,
});

/** 0..180 s at 5 s: 37 samples. */
const STEADY = 'x36';
const SHARD_OF = ['0', '5461', '10923', '0', '5461', '10923'];
const SHARD_SLOTS: Record<string, number> = { '0': 5461, '5461': 5461, '10923': 5462 };
const MEMORY = [1000, 5000, 7000, 3000, 4000, 6000];

function clusterSeries() {
  const out: { series: string; values: string }[] = [];
  const info = (i: number, role: string, values: string) =>
    series(
      'redscope_cluster_node_info',
      i,
      `node_id="n${i}", role="${role}", shard="${SHARD_OF[i]}"`,
      values,
    );
  // Shard 0 fails over at 65 s: redis-0 turns replica, redis-3 master (same node ids).
  out.push(info(0, 'master', '1x12 stale'), info(0, 'replica', '_x13 1x23'));
  out.push(info(3, 'replica', '1x12 stale'), info(3, 'master', '_x13 1x23'));
  out.push(info(1, 'master', `1${STEADY}`), info(4, 'replica', `1${STEADY}`));
  out.push(info(2, 'master', `1${STEADY}`), info(5, 'replica', `1${STEADY}`));
  // Commands per 5 s: a master 100, 200 or 300/s by shard, a replica 10/s.
  const processed = [
    '0+500x12 6050+50x23',
    `0+1000${STEADY}`,
    `0+1500${STEADY}`,
    '0+50x12 650+500x23',
    `0+50${STEADY}`,
    `0+50${STEADY}`,
  ];
  for (let i = 0; i < 6; i++) {
    out.push(series('redis_commands_processed_total', i, '', processed[i] as string));
    out.push(series('redis_memory_used_bytes', i, '', `${MEMORY[i]}${STEADY}`));
    out.push(series('redis_cluster_state', i, '', `${i === 5 ? 0 : 1}${STEADY}`));
    out.push(series('redis_cluster_slots_ok', i, '', `${i === 5 ? 10922 : 16384}${STEADY}`));
    out.push(series('redis_cluster_slots_pfail', i, '', `${i === 4 ? 5461 : 0}${STEADY}`));
    out.push(series('redis_cluster_slots_fail', i, '', `${i === 5 ? 5462 : 0}${STEADY}`));
    out.push(series('redis_cluster_slots_assigned', i, '', `16384${STEADY}`));
    out.push(series('redis_cluster_size', i, '', `3${STEADY}`));
    out.push(series('redis_cluster_known_nodes', i, '', `6${STEADY}`));
    for (const shard of Object.keys(SHARD_SLOTS)) {
      const at = `shard="${shard}"`;
      out.push(series('redscope_cluster_shard_slots', i, at, `${SHARD_SLOTS[shard]}${STEADY}`));
      // redis-2 cannot see the replica of shard 5461.
      const replicas = i === 2 && shard === '5461' ? 0 : 1;
      out.push(series('redscope_cluster_shard_replicas', i, at, `${replicas}${STEADY}`));
      // Four of the six nodes flag the master of shard 10923.
      const failing = shard === '10923' && [0, 1, 3, 4].includes(i) ? 1 : 0;
      out.push(series('redscope_cluster_shard_master_failing', i, at, `${failing}${STEADY}`));
    }
  }
  return out;
}

type Expected = readonly (readonly [labels: string, value: number])[];
const cluster = '{cluster="orders"}';
const shard = (s: string) => `{cluster="orders", shard="${s}"}`;
const row = (i: number, role: string) =>
  `{cluster="orders", instance="redis-${i}:6379", node_id="n${i}", role="${role}", shard="${SHARD_OF[i]}"}`;
const ROLES_NOW = ['replica', 'master', 'master', 'master', 'replica', 'replica'];
const perRow = (value: (i: number) => number): Expected =>
  ROLES_NOW.map((role, i) => [row(i, role), value(i)] as const);
const OPS_NOW = [10, 200, 300, 100, 10, 10];

/** Panel title -> what each of its queries returns at 3m, in query order. */
const EXPECTED: Record<string, readonly Expected[]> = {
  'Cluster state': [[[cluster, 0]]],
  'Slots without a working master': [[[cluster, 5462]]],
  'Shard masters down': [[[cluster, 1]]],
  'Shards without a replica': [[[cluster, 1]]],
  'Shards failed over in range': [[[cluster, 1]]],
  'Shards and nodes': [[[cluster, 3]], [[cluster, 6]]],
  'Slot coverage': [[[cluster, 10922]], [[cluster, 5461]], [[cluster, 5462]], [[cluster, 0]]],
  'Operations per second by shard': [
    [
      [shard('0'), 100],
      [shard('5461'), 200],
      [shard('10923'), 300],
    ],
  ],
  'Memory used by shard': [
    [
      [shard('0'), 3000],
      [shard('5461'), 5000],
      [shard('10923'), 7000],
    ],
  ],
  'Replicas per shard': [
    [
      [shard('0'), 1],
      [shard('5461'), 0],
      [shard('10923'), 1],
    ],
  ],
  'Nodes flagging a shard master as failing': [
    [
      [shard('0'), 0],
      [shard('5461'), 0],
      [shard('10923'), 4],
    ],
    [
      [shard('0'), 3],
      [shard('5461'), 3],
      [shard('10923'), 3],
    ],
  ],
  'Master nodes per shard': [
    [
      [shard('0'), 1],
      [shard('5461'), 1],
      [shard('10923'), 1],
    ],
  ],
  'Shard map': [
    perRow((i) => SHARD_SLOTS[SHARD_OF[i] as string] as number),
    perRow((i) => OPS_NOW[i] as number),
    perRow((i) => MEMORY[i] as number),
  ],
};

function clusterQueries(): Map<string, string[]> {
  const overview = Object.values(committedDashboards()).find(
    (d) => d.uid === DASHBOARDS.overview.uid,
  );
  const byPanel = new Map<string, string[]>();
  for (const { panel, expr } of dashboardExpressions(overview as NonNullable<typeof overview>)) {
    if (!(panel in EXPECTED)) continue;
    byPanel.set(panel, [...(byPanel.get(panel) ?? []), interpolate(expr)]);
  }
  return byPanel;
}

function promtoolFile(
  queries: Map<string, string[]>,
  expected: Record<string, readonly Expected[]>,
) {
  const tests = [...queries].flatMap(([panel, exprs]) =>
    exprs.map((expr, i) => ({
      expr,
      eval_time: '3m',
      exp_samples: (expected[panel]?.[i] ?? []).map(([labels, value]) => ({ labels, value })),
    })),
  );
  return {
    rule_files: [repoPath('prometheus', 'rules', 'redscope-recording.yml')],
    evaluation_interval: '5s',
    tests: [{ interval: '5s', input_series: clusterSeries(), promql_expr_test: tests }],
  };
}

describe('the Redis Cluster row of the overview, evaluated by promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-cluster-panels-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const queries = clusterQueries();

  it('finds every query of the row', () => {
    expect([...queries.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [panel, exprs] of queries) {
      expect(exprs.length, panel).toBe(EXPECTED[panel]?.length);
    }
  });

  it('each query gives what its panel promises after a failover: per shard, the current master', async () => {
    const file = join(dir, 'cluster-panels.test.yml');
    writeFileSync(file, yaml.dump(promtoolFile(queries, EXPECTED), { lineWidth: -1 }));
    const result = await run('promtool', ['test', 'rules', file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('a wrong expectation fails, so the check above can fail', async () => {
    // Ops of shard 0 counted on the old master (10/s) instead of the new one.
    const wrong = {
      ...EXPECTED,
      'Operations per second by shard': [
        [
          [shard('0'), 10],
          [shard('5461'), 200],
          [shard('10923'), 300],
        ],
      ] as const,
    };
    const file = join(dir, 'cluster-panels-wrong.test.yml');
    writeFileSync(file, yaml.dump(promtoolFile(queries, wrong), { lineWidth: -1 }));
    const result = await run('promtool', ['test', 'rules', file]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('shard="0"');
  });
});
