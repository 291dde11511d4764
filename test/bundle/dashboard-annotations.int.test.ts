import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { run } from './support/bundle.js';
import { committedDashboards, dashboardAnnotations, substitute } from './support/dashboards.js';

/**
 * The dashboards' annotation queries, as committed, evaluated by promtool on the series
 * of the events they mark: a Sentinel failover, a shard failover of a Redis Cluster, a
 * maintenance silence and two warming runs, each with look-alikes that must mark nothing
 * (another environment, a master that restarts as itself, a pending silence, a run long
 * finished). Samples every 5 s from 0 to 195 s.
 */

const ENV = 'environment="prod", cluster="orders"';
const STAGING = 'environment="staging", cluster="orders"';
const series = (metric: string, labels: string, values: string) => ({
  series: `${metric}{${labels}}`,
  values,
});

function sentinelFailover(env: string) {
  const sentinel = (i: number) => `job="redis-sentinel", ${env}, instance="sentinel-${i}:26379"`;
  const info = (i: number, address: string) =>
    `${sentinel(i)}, master_name="orders", master_address="${address}"`;
  // Sentinels 0 and 1 switch to the new master at 60 s, sentinel 2 five seconds later.
  return [0, 1, 2].flatMap((i) => {
    const before = i < 2 ? 11 : 12;
    const after = 38 - before;
    return [
      series(
        'redscope_sentinel_config_epoch',
        `${sentinel(i)}, master_name="orders"`,
        `0x${before} 1x${after}`,
      ),
      series('redscope_sentinel_master_info', info(i, '10.0.0.1:6379'), `1x${before} stale`),
      series(
        'redscope_sentinel_master_info',
        info(i, '10.0.0.2:6379'),
        `_x${before + 1} 1x${after - 1}`,
      ),
    ];
  });
}

function clusterFailover() {
  const node = (i: number, role: string, shard: string) =>
    `job="redis", ${ENV}, instance="redis-${i}:6379", node_id="n${i}", role="${role}", shard="${shard}"`;
  return [
    // Shard 0 fails over at 65 s: redis-3 takes over from redis-0.
    series('redscope_cluster_node_info', node(0, 'master', '0'), '1x12 stale'),
    series('redscope_cluster_node_info', node(0, 'replica', '0'), '_x13 1x26'),
    series('redscope_cluster_node_info', node(3, 'replica', '0'), '1x12 stale'),
    series('redscope_cluster_node_info', node(3, 'master', '0'), '_x13 1x26'),
    // Shard 5461's master restarts (down from 80 s to 120 s) and comes back as master.
    series('redscope_cluster_node_info', node(1, 'master', '5461'), '1x15 stale _x7 1x15'),
    series('redscope_cluster_node_info', node(4, 'replica', '5461'), '1x39'),
    // A master without slots yet has no shard.
    series('redscope_cluster_node_info', node(2, 'master', ''), '1x39'),
  ];
}

function silences() {
  const am = (env: string, state: string) =>
    `job="alertmanager", ${env}, instance="alertmanager:9093", state="${state}"`;
  return [
    // Active from 60 s to 115 s.
    series('alertmanager_silences', am(ENV, 'active'), '0x11 1x11 0x15'),
    series('alertmanager_silences', am(ENV, 'pending'), '2x39'),
    series('alertmanager_silences', am(STAGING, 'active'), '1x39'),
  ];
}

function warmingRuns() {
  const run = (id: string) =>
    `job="redis", ${ENV}, instance="redis-0:6379", instance_id="${id}", namespace="sess:"`;
  return [
    // A short run, first seen finished at 30 s, its record last updated 2 s before.
    series('redscope_warming_state', `${run('app@a:1')}, state="done"`, '_x6 1x33'),
    series('redscope_warming_state', `${run('app@a:1')}, state="running"`, '_x6 0x33'),
    series('redscope_warming_last_update_age_seconds', run('app@a:1'), '_x6 2+5x33'),
    // A long run still running but stalled: no update since it started.
    series('redscope_warming_state', `${run('app@b:2')}, state="running"`, '1x39'),
    series('redscope_warming_last_update_age_seconds', run('app@b:2'), '0+5x39'),
  ];
}

type Expected = readonly (readonly [at: string, samples: readonly (readonly [string, number])[]])[];

const CLUSTER_LABELS = 'cluster="orders", environment="prod"';
/** Annotation name -> what its query returns at each time. */
const EXPECTED: Record<string, Expected> = {
  'Failovers (Sentinel)': [
    ['50s', []],
    // Only the Sentinels whose epoch moved: sentinel 2 still names the old master.
    ['62s', [[`{${CLUSTER_LABELS}, master_address="10.0.0.2:6379", master_name="orders"}`, 1]]],
    ['100s', [[`{${CLUSTER_LABELS}, master_address="10.0.0.2:6379", master_name="orders"}`, 1]]],
    ['3m', []],
  ],
  'Failovers (Redis Cluster)': [
    ['30s', []],
    ['70s', [[`{${CLUSTER_LABELS}, instance="redis-3:6379", node_id="n3", shard="0"}`, 1]]],
    ['125s', []],
    // redis-1 is master of 5461 again after its restart: no failover.
    ['130s', []],
  ],
  'Maintenance silences': [
    ['30s', []],
    ['90s', [[`{${CLUSTER_LABELS}}`, 1]]],
    ['150s', []],
  ],
  'Cache warming': [
    ['20s', [[`{${CLUSTER_LABELS}, instance_id="app@b:2", namespace="sess:"}`, 2]]],
    [
      '85s',
      [
        [`{${CLUSTER_LABELS}, instance_id="app@a:1", namespace="sess:"}`, 1],
        [`{${CLUSTER_LABELS}, instance_id="app@b:2", namespace="sess:"}`, 1],
      ],
    ],
    ['90s', [[`{${CLUSTER_LABELS}, instance_id="app@b:2", namespace="sess:"}`, 1]]],
  ],
};

/** Annotation name -> query, with $environment set to prod; the same on every dashboard. */
function annotationQueries(): Map<string, string> {
  const byDashboard = Object.values(committedDashboards()).map(
    (d) => new Map(dashboardAnnotations(d).map((a) => [a.name, a.expr])),
  );
  const [first, ...others] = byDashboard;
  for (const other of others) expect([...other]).toEqual([...(first ?? [])]);
  return new Map(
    [...(first ?? [])].map(([name, expr]) => [
      name,
      substitute(expr, { environment: 'prod', instance: '.*', rateInterval: '1m', range: '1h' }),
    ]),
  );
}

function promtoolFile(queries: Map<string, string>, expected: Record<string, Expected>) {
  const tests = [...queries].flatMap(([name, expr]) =>
    (expected[name] ?? []).map(([at, samples]) => ({
      expr,
      eval_time: at,
      exp_samples: samples.map(([labels, value]) => ({ labels, value })),
    })),
  );
  const input = [
    ...sentinelFailover(ENV),
    ...sentinelFailover(STAGING),
    ...clusterFailover(),
    ...silences(),
    ...warmingRuns(),
  ];
  return {
    rule_files: [],
    evaluation_interval: '5s',
    tests: [{ interval: '5s', input_series: input, promql_expr_test: tests }],
  };
}

describe('the dashboard annotations, evaluated by promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-annotations-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const queries = annotationQueries();

  it('both dashboards carry the same four annotations', () => {
    expect(
      Object.values(committedDashboards())
        .map((d) => d.uid)
        .sort(),
    ).toEqual(
      Object.values(DASHBOARDS)
        .map((d) => d.uid)
        .sort(),
    );
    expect([...queries.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('each marks its event, with the labels its title and text name, and nothing else', async () => {
    const file = join(dir, 'annotations.test.yml');
    writeFileSync(file, yaml.dump(promtoolFile(queries, EXPECTED), { lineWidth: -1 }));
    const result = await run('promtool', ['test', 'rules', file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('a wrong expectation fails, so the check above can fail', async () => {
    // The old master named as the new one.
    const wrong = {
      ...EXPECTED,
      'Failovers (Sentinel)': [
        ['62s', [[`{${CLUSTER_LABELS}, master_address="10.0.0.1:6379", master_name="orders"}`, 1]]],
      ] as const,
    };
    const file = join(dir, 'annotations-wrong.test.yml');
    writeFileSync(file, yaml.dump(promtoolFile(queries, wrong), { lineWidth: -1 }));
    const result = await run('promtool', ['test', 'rules', file]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('10.0.0.2:6379');
  });
});
