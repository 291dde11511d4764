import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { CLUSTER_SLOTS } from '../../bundle/series.js';
import { parseThresholds } from '../../bundle/thresholds.js';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import { renderRuleFiles } from '../../prometheus/src/rule-files.js';
import { committedAlertRules, repoPath, thresholds } from './support/bundle.js';
import { codeBlocks, readRunbook } from './support/runbooks.js';

interface PromtoolCase {
  readonly name: string;
  readonly input_series: readonly { readonly series: string; readonly values: string }[];
  readonly alert_rule_test: readonly {
    readonly eval_time: string;
    readonly alertname: string;
    readonly exp_alerts: readonly unknown[];
  }[];
  readonly promql_expr_test?: readonly {
    readonly expr: string;
    readonly exp_samples: readonly unknown[];
  }[];
}

const CLUSTER_ALERTS = [
  'RedisClusterStateNotOk',
  'RedisClusterSlotsFailing',
  'RedisClusterSlotsPFail',
  'RedisClusterShardMasterDown',
  'RedisClusterShardWithoutReplica',
  'RedisClusterFailover',
] as const;

const clusterTests = (): PromtoolCase[] =>
  (
    yaml.load(readFileSync(repoPath('prometheus', 'tests', 'cluster.test.yml'), 'utf8')) as {
      tests: PromtoolCase[];
    }
  ).tests;

const healthyCase = (): PromtoolCase => {
  const found = clusterTests().find((t) => t.name.startsWith('A healthy Redis Cluster'));
  if (!found) throw new Error('cluster.test.yml lost its healthy-cluster case');
  return found;
};

const rule = (alert: string) => {
  const found = committedAlertRules().find((r) => r.alert === alert);
  if (!found) throw new Error(`no alert ${alert}`);
  return found;
};

/** Seconds of a Prometheus duration made of one unit (`10s`, `2m`). */
function seconds(duration: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`not a one-unit duration: ${duration}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

describe('Redis Cluster alert rules (happy path)', () => {
  it('every cluster alert exists and selects the redis job only', () => {
    const job = thresholds().jobs.redis;
    for (const alert of CLUSTER_ALERTS) {
      const selectors = findSelectors(rule(alert).expr);
      expect(selectors.length, alert).toBeGreaterThan(0);
      for (const s of selectors) {
        expect(s.matchers, `${alert}: ${s.metric}`).toContainEqual({
          name: 'job',
          op: '=',
          value: job,
        });
      }
    }
  });

  it('shard alerts carry the shard label and count a shard once across the nodes that report it', () => {
    for (const alert of [
      'RedisClusterShardMasterDown',
      'RedisClusterShardWithoutReplica',
      'RedisClusterFailover',
    ]) {
      const aggregations = rule(alert).expr.match(/\b(max|sum|min|count) by \([^)]*\)/g) ?? [];
      expect(aggregations.length, alert).toBeGreaterThan(0);
      for (const a of aggregations) expect(a, alert).toContain('environment, cluster, shard');
    }
  });

  it('a shard master is down when more than half of the reporting nodes flag it, not when one does', () => {
    const expr = rule('RedisClusterShardMasterDown').expr;
    expect(expr).toMatch(
      /^sum by \(environment, cluster, shard\) \(redscope_cluster_shard_master_failing\{[^}]*\}\)\n> on \(environment, cluster, shard\)\n\(count by \(environment, cluster, shard\) \(redscope_cluster_shard_master_failing\{[^}]*\}\) \/ 2\)$/,
    );
  });

  it('a failover counts distinct master node ids per shard over the window, masters without slots left out', () => {
    const { window } = thresholds().alerts.RedisClusterFailover;
    const [info] = findSelectors(rule('RedisClusterFailover').expr);
    expect(info).toMatchObject({
      metric: 'redscope_cluster_node_info',
      range: window,
      enclosingFunction: 'max_over_time',
    });
    expect(info?.matchers).toEqual(
      expect.arrayContaining([
        { name: 'role', op: '=', value: 'master' },
        { name: 'shard', op: '!=', value: '' },
      ]),
    );
    // node_id, not instance: a master restarted at a new address keeps its id.
    expect(rule('RedisClusterFailover').expr).toContain(
      'max by (environment, cluster, shard, node_id)',
    );
  });

  it("the RedisClusterFailover runbook's promoted-replica query is the one cluster.test.yml checks on a failover and on a resharding", () => {
    const [first] = codeBlocks(
      readRunbook('RedisClusterFailover.md').sections.get('Diagnosis') ?? '',
      'promql',
    );
    const query = first?.split('\n')[0] ?? '';
    expect(query).toContain('and on (environment, cluster, node_id)');
    const checked = (name: string) =>
      clusterTests()
        .find((t) => t.name.startsWith(name))
        ?.promql_expr_test?.find((t) => t.expr === query);
    // Non-empty after a failover, empty after a resharding that renamed a shard.
    expect(
      checked('RedisClusterFailover fires when a replica takes over')?.exp_samples,
    ).toHaveLength(1);
    expect(checked('RedisClusterFailover also fires on a resharding')?.exp_samples).toEqual([]);
  });

  it('uncovered slots are counted against the 16384 of every cluster', () => {
    expect(rule('RedisClusterSlotsFailing').expr).toContain(
      `${CLUSTER_SLOTS} - min by (environment, cluster) (redis_cluster_slots_assigned{`,
    );
  });

  it('the paging cluster alerts wait out an automatic failover of the shipped cluster config', () => {
    const conf = readFileSync(repoPath('cluster', 'redis-cluster.conf'), 'utf8');
    const timeoutMs = Number(/^cluster-node-timeout (\d+)$/m.exec(conf)?.[1]);
    expect(timeoutMs).toBeGreaterThan(0);
    // Suspicion after the node timeout, the majority's FAIL, then the replica's election
    // (500 ms + up to 500 ms random + rank): 2x the timeout plus 5 s leaves room.
    const failover = (2 * timeoutMs) / 1000 + 5;
    for (const alert of [
      'RedisClusterStateNotOk',
      'RedisClusterSlotsFailing',
      'RedisClusterShardMasterDown',
    ]) {
      const r = rule(alert);
      expect(r.labels.severity, alert).toBe('critical');
      expect(seconds(r.for), alert).toBeGreaterThanOrEqual(failover);
    }
  });

  it('the healthy-cluster case of cluster.test.yml checks every alert of the bundle', () => {
    const checked = healthyCase().alert_rule_test;
    expect(checked.map((c) => c.alertname).sort()).toEqual(
      committedAlertRules()
        .map((r) => r.alert)
        .sort(),
    );
    for (const c of checked) expect(c.exp_alerts, c.alertname).toEqual([]);
    // Late enough for the longest `for` of any alert to have run out.
    const longest = Math.max(...committedAlertRules().map((r) => seconds(r.for)));
    for (const c of checked) expect(seconds(c.eval_time)).toBeGreaterThan(longest);
  });

  it('the healthy cluster feeds every cluster family the rules read and what the Sentinel-era alerts read on a data node', () => {
    const fed = new Set(healthyCase().input_series.map((s) => s.series.split('{')[0]));
    const read = new Set(
      committedAlertRules()
        .flatMap((r) => findSelectors(r.expr))
        .filter((s) =>
          s.matchers.some((m) => m.name === 'job' && m.value === thresholds().jobs.redis),
        )
        .map((s) => s.metric)
        .filter((m) => /^(redis_cluster_|redscope_cluster_)/.test(m)),
    );
    expect(read.size).toBeGreaterThanOrEqual(6);
    for (const metric of [
      ...read,
      'redis_up',
      'up',
      'redis_instance_info',
      'redis_master_link_up',
      'redis_connected_slave_lag_seconds',
    ]) {
      expect(fed.has(metric), metric).toBe(true);
    }
    // Three masters and three replicas, as a cluster node reports its role.
    const roles = healthyCase()
      .input_series.filter((s) => s.series.startsWith('redis_instance_info{'))
      .map((s) => /role="(\w+)"/.exec(s.series)?.[1]);
    expect(roles.sort()).toEqual(['master', 'master', 'master', 'slave', 'slave', 'slave']);
  });
});

describe('Redis Cluster alert rules (unhappy path)', () => {
  const valid = readFileSync(repoPath('prometheus', 'thresholds.yaml'), 'utf8');

  it('rejects a failover window that is not a duration, naming the knob', () => {
    const broken = valid.replace(
      /( {2}RedisClusterFailover:\n(?: {4}#.*\n)*) {4}window: \S+\n/,
      '$1    window: five minutes\n',
    );
    expect(broken).not.toBe(valid);
    expect(() => parseThresholds(broken)).toThrow(/\/alerts\/RedisClusterFailover\/window/);
  });

  it('rejects a thresholds file without a cluster alert', () => {
    const broken = valid.replace(
      / {2}RedisClusterShardMasterDown:\n/,
      '  RedisClusterShardDown:\n',
    );
    expect(() => parseThresholds(broken)).toThrow(/RedisClusterShardMasterDown/);
  });

  it('a changed failover window changes the generated rule', () => {
    const changed = parseThresholds(
      valid.replace(
        /( {2}RedisClusterFailover:\n(?: {4}#.*\n)*) {4}window: \S+\n/,
        '$1    window: 15m\n',
      ),
    );
    expect(renderRuleFiles(changed)['rules/redscope-alerts.yml']).toContain(
      'role="master", shard!=""}[15m]',
    );
  });
});
