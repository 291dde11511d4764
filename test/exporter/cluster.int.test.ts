import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterNode } from '../../client/common/cluster-nodes.js';
import { HOTKEY_REPORT_INDEX } from '../../client/common/hotkey-report.js';
import { WARMING_STATUS_INDEX } from '../../client/common/warming-status.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { portOf, sharedTopology } from '../support/shared-topology.js';
import {
  type ClusterExporter,
  settledView,
  startClusterExporter,
} from './support/cluster-exporter.js';
import { startTestExporter } from './support/exporter-harness.js';
import { INHERITED_PROMTOOL_FINDINGS } from './support/inherited-findings.js';
import { commandCalls, errorstats } from './support/node-stats.js';
import { type ParsedFamily, parseExposition, sampleValue } from './support/parse-exposition.js';
import { promtoolFindings } from './support/promtool.js';

// One cluster of our own (3 masters, 3 replicas, TLS, ACL): the unhappy tests pause and kill nodes.
let cluster: ClusterTopology;
let ours: ClusterExporter;
/** The cluster's view at start; node names redis-0..2 are masters, redis-3..5 their replicas. */
let view: ClusterNode[];

const idOf = (name: string) => {
  const node = view.find((n) => n.port === cluster.port(name));
  if (!node) throw new Error(`${name} is not in CLUSTER NODES`);
  return node.id;
};

/** The shard a node name is in at start: its master's lowest slot. */
const shardAtStart = (name: string) => {
  const node = view.find((n) => n.port === cluster.port(name));
  const master = node?.role === 'master' ? node : view.find((n) => n.id === node?.masterId);
  return String(master?.slots[0]?.[0]);
};

/** Slots a master serves at start. */
const slotsAtStart = (name: string) =>
  view.find((n) => n.port === cluster.port(name))?.slotCount ?? Number.NaN;

const samples = (metrics: Map<string, ParsedFamily>, name: string) =>
  metrics.get(name)?.samples ?? [];

/** Scrapes `name` until `check` holds, every 100 ms, for at most `ms`; returns the last metrics. */
async function scrapeUntil(
  name: string,
  check: (metrics: Map<string, ParsedFamily>) => boolean,
  ms: number,
): Promise<Map<string, ParsedFamily>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { metrics } = await ours.scrape(name, 2);
    if (check(metrics) || Date.now() > deadline) return metrics;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  cluster = await ClusterTopology.start();
  view = await settledView(
    cluster,
    [0, 1, 2, 3, 4, 5].map((i) => `redis-${i}`),
  );
  ours = await startClusterExporter(cluster);
});

afterAll(async () => {
  await ours?.close();
  await cluster?.stop();
});

describe('the cluster collectors', () => {
  describe('happy', () => {
    it('report CLUSTER INFO under redis_exporter names on a master, as the exporter user', async () => {
      const { status, metrics } = await ours.scrape('redis-0');
      expect(status).toBe(200);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(sampleValue(metrics, 'redis_cluster_enabled')).toBe(1);
      expect(sampleValue(metrics, 'redis_cluster_state')).toBe(1);
      expect(sampleValue(metrics, 'redis_cluster_slots_assigned')).toBe(16384);
      expect(sampleValue(metrics, 'redis_cluster_slots_ok')).toBe(16384);
      expect(sampleValue(metrics, 'redis_cluster_slots_pfail')).toBe(0);
      expect(sampleValue(metrics, 'redis_cluster_slots_fail')).toBe(0);
      expect(sampleValue(metrics, 'redis_cluster_known_nodes')).toBe(6);
      expect(sampleValue(metrics, 'redis_cluster_size')).toBe(3);
      expect(sampleValue(metrics, 'redis_cluster_current_epoch')).toBeGreaterThanOrEqual(3);
      expect(sampleValue(metrics, 'redis_cluster_messages_sent_total')).toBeGreaterThan(0);
      expect(sampleValue(metrics, 'redis_cluster_stats_messages_ping_sent')).toBeGreaterThan(0);
      expect(metrics.get('redis_cluster_messages_sent_total')?.type).toBe('gauge');
      // The least-privilege user of cluster/users.acl.template lets every collector succeed.
      const failed = samples(metrics, 'redscope_exporter_collector_success')
        .filter((s) => s.value !== 1)
        .map((s) => s.labels.collector);
      expect(failed).toEqual([]);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'cluster_nodes' }),
      ).toBe(1);
      // A cluster node has database 0 only, as redis_exporter reports it.
      expect(samples(metrics, 'redis_db_keys').map((s) => s.labels.db)).toEqual(['db0']);
    });

    it.each([
      ['redis-0', 'master'],
      ['redis-3', 'replica'],
    ] as const)(
      'reports on %s its own id, role (%s) and shard, and every shard as it sees it',
      async (name, role) => {
        const { metrics } = await ours.scrape(name);
        const info = samples(metrics, 'redscope_cluster_node_info');
        expect(info).toHaveLength(1);
        expect(info[0]?.labels).toEqual({ node_id: idOf(name), role, shard: shardAtStart(name) });
        expect(info[0]?.value).toBe(1);
        const slots = samples(metrics, 'redscope_cluster_shard_slots');
        expect(slots.map((s) => s.labels.shard).sort()).toEqual(
          ['redis-0', 'redis-1', 'redis-2'].map(shardAtStart).sort(),
        );
        expect(slots.reduce((sum, s) => sum + s.value, 0)).toBe(16384);
        for (const sample of samples(metrics, 'redscope_cluster_shard_replicas')) {
          expect(sample.value, sample.labels.shard).toBe(1);
        }
        for (const sample of samples(metrics, 'redscope_cluster_shard_master_failing')) {
          expect(sample.value, sample.labels.shard).toBe(0);
        }
        // Node ids only on node_info: the shard families are per shard, the same on every node.
        for (const family of ['shard_slots', 'shard_replicas', 'shard_master_failing']) {
          expect([...(metrics.get(`redscope_cluster_${family}`)?.labelNames ?? [])]).toEqual([
            'shard',
          ]);
        }
      },
    );

    it('exports the hot-key reports and warming records from the one master serving their slot', async () => {
      for (const [index, family] of [
        [HOTKEY_REPORT_INDEX, 'redscope_hotkey_reports'],
        [WARMING_STATUS_INDEX, 'redscope_warming_records'],
      ] as const) {
        const owner = await cluster.masterNameOf(index);
        const exporting: string[] = [];
        for (const name of ['redis-0', 'redis-1', 'redis-2']) {
          const { metrics } = await ours.scrape(name);
          if (metrics.has(family)) exporting.push(name);
          // The other masters do not read the index: that is not a failure.
          const collector = family === 'redscope_hotkey_reports' ? 'hotkeys' : 'warming';
          expect(
            sampleValue(metrics, 'redscope_exporter_collector_success', { collector }),
            `${collector} on ${name}`,
          ).toBe(1);
        }
        expect(exporting, family).toEqual([owner]);
      }
    });

    it('reads the hot-key and warming indexes on their masters only, with no error reply (MOVED) on any master', async () => {
      const masters = ['redis-0', 'redis-1', 'redis-2'];
      const owners = [
        await cluster.masterNameOf(HOTKEY_REPORT_INDEX),
        await cluster.masterNameOf(WARMING_STATUS_INDEX),
      ];
      const admins = masters.map((name) => cluster.connect(cluster.port(name)));
      try {
        // Open before the first reading (a new connection's CLIENT SETINFO is an error reply),
        // as are the exporter's, kept from the scrapes before.
        await Promise.all(admins.map((admin) => admin.ping()));
        for (const name of masters) await ours.scrape(name);
        const errorsBefore = await Promise.all(admins.map(errorstats));
        const readsBefore = await Promise.all(admins.map((a) => commandCalls(a, 'zrevrange')));
        const scrapes = 3;
        for (let i = 0; i < scrapes; i++) for (const name of masters) await ours.scrape(name);
        expect(await Promise.all(admins.map(errorstats))).toEqual(errorsBefore);
        const reads = await Promise.all(admins.map((a) => commandCalls(a, 'zrevrange')));
        masters.forEach((name, i) => {
          const served = owners.filter((owner) => owner === name).length;
          expect((reads[i] ?? 0) - (readsBefore[i] ?? 0), name).toBe(scrapes * served);
        });
      } finally {
        for (const admin of admins) admin.disconnect();
      }
    });

    it('passes promtool check metrics but for the inherited redis_exporter names', async () => {
      for (const name of ['redis-0', 'redis-3']) {
        const findings = await promtoolFindings((await ours.scrape(name)).text);
        expect(findings.filter((f) => !INHERITED_PROMTOOL_FINDINGS.includes(f))).toEqual([]);
      }
    });

    it('exports no cluster family, and no failure, from a node not in cluster mode', async () => {
      const shared = sharedTopology();
      // The shared topology's admin user: its ACL would allow CLUSTER INFO, were it sent.
      const plain = await startTestExporter(
        {
          'redis-url': `rediss://127.0.0.1:${portOf(shared, 'master')}`,
          username: shared.auth?.username,
          'tls-ca': shared.tls?.caFile,
          'tls-cert': shared.tls?.certFile,
          'tls-key': shared.tls?.keyFile,
        } as never,
        { REDSCOPE_PASSWORD: shared.auth?.password },
      );
      try {
        const metrics = parseExposition((await plain.get('/metrics')).text);
        expect(sampleValue(metrics, 'redis_up')).toBe(1);
        expect(sampleValue(metrics, 'redis_cluster_enabled')).toBe(0);
        const cluster = [...metrics.keys()].filter(
          (name) => /cluster/.test(name) && !/^redis_cluster_(enabled|connections)$/.test(name),
        );
        expect(cluster).toEqual([]);
        const collectors = samples(metrics, 'redscope_exporter_collector_success').map(
          (s) => s.labels.collector,
        );
        expect(collectors).toContain('info');
        expect(collectors).not.toContain('cluster');
        expect(collectors).not.toContain('cluster_nodes');
      } finally {
        await plain.close();
      }
    });
  });

  describe('unhappy', () => {
    it('shows a paused master failing in the shard view of the others, and its own target down within the budget', async () => {
      const master = 'redis-1';
      const replica = 'redis-4';
      const shard = shardAtStart(master);
      const admin = cluster.connect(cluster.port(replica));
      // Without failover the paused master stays the shard's master: a state to observe, not a race.
      await admin.call('CONFIG', 'SET', 'cluster-replica-no-failover', 'yes');
      cluster.pause(master);
      try {
        const started = Date.now();
        const failing = (m: Map<string, ParsedFamily>) =>
          sampleValue(m, 'redscope_cluster_shard_master_failing', { shard }) === 1;
        const seen = await scrapeUntil('redis-0', failing, 10_000);
        expect(sampleValue(seen, 'redscope_cluster_shard_master_failing', { shard })).toBe(1);
        // cluster-node-timeout is 1.2 s: a few of them.
        expect(Date.now() - started).toBeLessThan(6000);
        const fail = await scrapeUntil(
          'redis-2',
          (m) => sampleValue(m, 'redis_cluster_slots_fail') === slotsAtStart(master),
          5000,
        );
        expect(sampleValue(fail, 'redis_cluster_slots_fail')).toBe(slotsAtStart(master));
        expect(sampleValue(fail, 'redis_cluster_state')).toBe(0);
        expect(sampleValue(fail, 'redscope_cluster_shard_master_failing', { shard })).toBe(1);
        for (const other of ['redis-0', 'redis-2'].map(shardAtStart)) {
          expect(sampleValue(fail, 'redscope_cluster_shard_master_failing', { shard: other })).toBe(
            0,
          );
        }
        const paused = await ours.scrape(master, 1);
        expect(sampleValue(paused.metrics, 'redis_up')).toBe(0);
        expect(paused.ms).toBeLessThan(1500);
      } finally {
        cluster.resume(master);
        await admin.call('CONFIG', 'SET', 'cluster-replica-no-failover', 'no');
        admin.disconnect();
      }
      await cluster.waitForHealthy(15_000);
      const healed = await scrapeUntil(
        'redis-0',
        (m) => sampleValue(m, 'redscope_cluster_shard_master_failing', { shard }) === 0,
        5000,
      );
      expect(sampleValue(healed, 'redscope_cluster_shard_master_failing', { shard })).toBe(0);
      expect(sampleValue(healed, 'redis_cluster_state')).toBe(1);
    });

    it('answers redis_up 0 fast for a killed master while the others answer, and shows the failover in the shard view', async () => {
      const master = 'redis-2';
      const replica = 'redis-5';
      const shard = shardAtStart(master);
      await cluster.kill(master);
      const dead = await ours.scrape(master);
      expect(sampleValue(dead.metrics, 'redis_up')).toBe(0);
      expect(dead.ms).toBeLessThan(1000);
      for (const name of ['redis-0', 'redis-1', 'redis-3', 'redis-4', 'redis-5']) {
        expect(sampleValue((await ours.scrape(name)).metrics, 'redis_up'), name).toBe(1);
      }
      await cluster.waitForHealthy(20_000);
      // The promoted replica serves the same slots: the shard keeps its name.
      const promoted = await scrapeUntil(
        replica,
        (m) => samples(m, 'redscope_cluster_node_info')[0]?.labels.role === 'master',
        5000,
      );
      expect(samples(promoted, 'redscope_cluster_node_info')[0]?.labels).toEqual({
        node_id: idOf(replica),
        role: 'master',
        shard,
      });
      const seen = await scrapeUntil(
        'redis-0',
        (m) => sampleValue(m, 'redscope_cluster_shard_replicas', { shard }) === 0,
        5000,
      );
      expect(sampleValue(seen, 'redis_cluster_state')).toBe(1);
      expect(sampleValue(seen, 'redscope_cluster_shard_slots', { shard })).toBe(
        slotsAtStart(master),
      );
      expect(sampleValue(seen, 'redscope_cluster_shard_master_failing', { shard })).toBe(0);
      // Its replica is gone: the one alert-worthy fact left about this shard.
      expect(sampleValue(seen, 'redscope_cluster_shard_replicas', { shard })).toBe(0);
      expect(sampleValue(seen, 'redis_cluster_known_nodes')).toBe(6);
      const dead2 = await ours.scrape(master);
      expect(sampleValue(dead2.metrics, 'redis_up')).toBe(0);
    });
  });
});
