import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetRole } from '../../exporter/metrics-doc.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { settledView } from './support/cluster-exporter.js';
import { familyDifferences } from './support/compare-families.js';
import { type Comparison, startComparison } from './support/comparison.js';
import { type ParsedFamily, parseExposition, sampleValue } from './support/parse-exposition.js';

/**
 * redis_exporter 1.45 run with `-is-cluster` against ours on the same cluster
 * nodes: every family it exports there, with the same name, type and labels.
 */
let cluster: ClusterTopology;
let comparison: Comparison;
const outputs = new Map<
  'master' | 'replica',
  { theirs: Map<string, ParsedFamily>; ours: Map<string, ParsedFamily> }
>();

beforeAll(async () => {
  // ACL off: both exporters talk to the same open `default` user, as in compatibility.int.test.ts.
  cluster = await ClusterTopology.start({ acl: false });
  await settledView(
    cluster,
    [0, 1, 2, 3, 4, 5].map((i) => `redis-${i}`),
  );
  const seed = cluster.connect(cluster.port('redis-0'));
  try {
    // A key in db0 and a failed command, so the conditional families exist on both sides.
    await seed.set('{compat}:a', '1').catch(async () => {
      // MOVED: the key's slot is on another master; write it there.
      const owner = cluster.connect(cluster.port(await cluster.masterNameOf('{compat}:a')));
      await owner.set('{compat}:a', '1');
      owner.disconnect();
    });
    await seed.call('SET', 'compat:x').catch(() => undefined);
  } finally {
    seed.disconnect();
  }
  comparison = await startComparison(
    cluster.describe(),
    `rediss://127.0.0.1:${cluster.port('redis-0')}`,
    ['-is-cluster'],
  );
  for (const [role, node] of [
    ['master', 'redis-0'],
    ['replica', 'redis-3'],
  ] as const) {
    const { theirs, ours } = await comparison.scrape(cluster.port(node));
    outputs.set(role, { theirs: parseExposition(theirs), ours: parseExposition(ours) });
  }
}, 60_000);

afterAll(async () => {
  await comparison?.stop();
  await cluster?.stop();
});

describe('compatibility with redis_exporter 1.45 -is-cluster', () => {
  describe('happy', () => {
    it.each(['master', 'replica'] as const)(
      'exports every family redis_exporter exports on a cluster %s, with the same type and label names',
      (role) => {
        const output = outputs.get(role);
        if (!output) throw new Error(`no output for ${role}`);
        const clusterFamilies = [...output.theirs.keys()].filter((n) =>
          n.startsWith('redis_cluster_'),
        );
        // The reference must have produced its cluster families, or the comparison proves nothing.
        for (const name of [
          'redis_cluster_state',
          'redis_cluster_messages_sent_total',
          'redis_cluster_stats_messages_ping_sent',
        ]) {
          expect(clusterFamilies, `redis_exporter should export ${name}`).toContain(name);
        }
        expect(familyDifferences(role as TargetRole, output.theirs, output.ours)).toEqual([]);
        expect(sampleValue(output.ours, 'redis_up')).toBe(1);
      },
    );

    it.each(['master', 'replica'] as const)(
      'agrees with redis_exporter on the values of the slow-moving cluster families on a %s',
      (role) => {
        const output = outputs.get(role);
        if (!output) throw new Error(`no output for ${role}`);
        for (const name of [
          'redis_cluster_enabled',
          'redis_cluster_state',
          'redis_cluster_slots_assigned',
          'redis_cluster_slots_ok',
          'redis_cluster_slots_pfail',
          'redis_cluster_slots_fail',
          'redis_cluster_known_nodes',
          'redis_cluster_size',
          'redis_cluster_current_epoch',
          'redis_cluster_my_epoch',
        ]) {
          expect(sampleValue(output.ours, name), name).toBe(sampleValue(output.theirs, name));
        }
        // One database on a cluster node, on both sides.
        const dbs = (families: Map<string, ParsedFamily>) =>
          (families.get('redis_db_keys')?.samples ?? []).map((s) => s.labels.db);
        expect(dbs(output.ours)).toEqual(dbs(output.theirs));
      },
    );
  });
});
