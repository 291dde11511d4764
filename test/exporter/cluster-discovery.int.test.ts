import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, shardOf } from '../../client/common/cluster-nodes.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { freePort } from '../../stack/ports.js';
import { startPrometheus } from '../../stack/prometheus-server.js';
import {
  type ClusterExporter,
  settledView,
  startClusterExporter,
} from './support/cluster-exporter.js';
import { type FakeRedis, minimalRedis, startFakeRedis } from './support/fake-redis.js';
import { commandCalls } from './support/node-stats.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

// One cluster of our own: the last test kills the seed.
let cluster: ClusterTopology;
let ours: ClusterExporter;
let view: ClusterNode[];
let dir: string;
const NAMES = ['redis-0', 'redis-1', 'redis-2', 'redis-3', 'redis-4', 'redis-5'];

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

/** The answer as Prometheus' http_sd reads it: an array of {targets: string[], labels: {string: string}}. */
function httpSdGroups(text: string): Group[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error(`not an array: ${text}`);
  for (const group of parsed) {
    const { targets, labels, ...rest } = group as Record<string, unknown>;
    expect(Object.keys(rest)).toEqual([]);
    expect(Array.isArray(targets) && targets.every((t) => typeof t === 'string')).toBe(true);
    expect(Object.values(labels as object).every((v) => typeof v === 'string')).toBe(true);
  }
  return parsed as Group[];
}

/** What each node's group must say, from the cluster's own view. */
function expectedGroup(name: string): Group {
  const node = view.find((n) => n.port === cluster.port(name)) as ClusterNode;
  return {
    targets: [ours.urlOf(name)],
    labels: {
      __meta_redscope_cluster_node_id: node.id,
      __meta_redscope_cluster_role: node.role,
      __meta_redscope_cluster_shard: shardOf(node, view) ?? '',
    },
  };
}

const byTarget = (a: Group, b: Group) => ((a.targets[0] ?? '') < (b.targets[0] ?? '') ? -1 : 1);

/** `calls` of `cmdstat_cluster|nodes` on a node, read as admin. */
async function clusterNodesCalls(name: string): Promise<number> {
  const admin = cluster.connect(cluster.port(name));
  try {
    return await commandCalls(admin, 'cluster|nodes');
  } finally {
    admin.disconnect();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cluster-discovery-'));
  cluster = await ClusterTopology.start();
  view = await settledView(cluster, NAMES);
  ours = await startClusterExporter(cluster);
});

afterAll(async () => {
  await ours?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /discover-cluster-nodes', () => {
  describe('happy', () => {
    it('lists every node from the --redis-url seed as http_sd JSON, with id, role and shard', async () => {
      const response = await fetch(`${ours.exporter.url}/discover-cluster-nodes`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const groups = httpSdGroups(await response.text());
      expect(groups.sort(byTarget)).toEqual(NAMES.map(expectedGroup).sort(byTarget));
      expect(groups.filter((g) => g.labels.__meta_redscope_cluster_role === 'master')).toHaveLength(
        3,
      );
      // No credentials travel in the answer, only addresses.
      const password = cluster.describe().users?.exporter.password as string;
      expect(JSON.stringify(groups)).not.toContain(password);
    });

    it('lists the same nodes from any allowed ?seed=, and reads CLUSTER NODES once for many polls', async () => {
      const before = await clusterNodesCalls('redis-4');
      const seed = encodeURIComponent(ours.urlOf('redis-4'));
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => ours.exporter.get(`/discover-cluster-nodes?seed=${seed}`)),
      );
      answers.push(await ours.exporter.get(`/discover-cluster-nodes?target=${seed}`));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(httpSdGroups(answer.text).sort(byTarget)).toEqual(
          NAMES.map(expectedGroup).sort(byTarget),
        );
      }
      expect(await clusterNodesCalls('redis-4')).toBe(before + 1);
      const metrics = parseExposition((await ours.exporter.get('/metrics')).text);
      expect(
        sampleValue(metrics, 'redscope_exporter_cluster_discovery_targets', {
          seed: ours.urlOf('redis-4'),
        }),
      ).toBe(6);
    });
  });

  describe('unhappy', () => {
    let fakes: FakeRedis[] = [];
    afterAll(async () => {
      await Promise.all(fakes.map((f) => f.close()));
      fakes = [];
    });

    it('leaves out the nodes outside the allow-list, counts them and logs them once', async () => {
      const allowed = NAMES.slice(0, 4);
      const narrow = await startClusterExporter(cluster, {
        'allow-target': allowed.map((name) => ours.urlOf(name)),
      });
      try {
        for (let i = 0; i < 2; i++) {
          const response = await narrow.exporter.get('/discover-cluster-nodes');
          expect(response.status).toBe(200);
          expect(httpSdGroups(response.text).sort(byTarget)).toEqual(
            allowed.map(expectedGroup).sort(byTarget),
          );
        }
        const metrics = parseExposition((await narrow.exporter.get('/metrics')).text);
        const seed = ours.urlOf('redis-0');
        expect(
          sampleValue(metrics, 'redscope_exporter_cluster_discovery_excluded_targets', {
            seed,
            reason: 'allow_list',
          }),
        ).toBe(2);
        expect(sampleValue(metrics, 'redscope_exporter_cluster_discovery_targets', { seed })).toBe(
          4,
        );
        const warnings = narrow.exporter.logs.filter((l) =>
          String(l.msg).startsWith('cluster discovery left out'),
        );
        expect(warnings).toHaveLength(1);
        expect(warnings[0]?.excluded).toEqual(
          [ours.urlOf('redis-4'), ours.urlOf('redis-5')].sort(),
        );
      } finally {
        await narrow.close();
      }
    });

    it('refuses a seed outside the allow-list with 403 before connecting to it', async () => {
      const fake = await startFakeRedis(minimalRedis);
      fakes.push(fake);
      // The fake listens on plain redis://, which the exporter's allow-list does not name.
      const seed = encodeURIComponent(`redis://127.0.0.1:${fake.port}`);
      const response = await ours.exporter.get(`/discover-cluster-nodes?seed=${seed}`);
      expect(response.status).toBe(403);
      expect(response.text).toContain(`redis://127.0.0.1:${fake.port} is not allowed`);
      expect(fake.connections).toBe(0);
      const malformed = await ours.exporter.get('/discover-cluster-nodes?seed=http://x:1');
      expect(malformed.status).toBe(400);
      expect(malformed.text).toMatch(/^bad seed: scheme "http"/);
      const twice = await ours.exporter.get(`/discover-cluster-nodes?seed=${seed}&seed=${seed}`);
      expect(twice.status).toBe(400);
      expect(twice.text).toBe('bad seed: give "seed" once\n');
      const both = await ours.exporter.get(`/discover-cluster-nodes?seed=${seed}&target=${seed}`);
      expect(both.text).toBe('bad seed: give "seed" or "target", not both\n');
      const unknown = await ours.exporter.get('/discover-cluster-nodes?seeds=x');
      expect(unknown.status).toBe(400);
      expect(unknown.text).toBe(
        'bad seed: only the "seed" (or "target") parameter is accepted, got: seeds\n',
      );
    });

    it('answers 503 naming a seed that is down, fast, and again from the backoff', async () => {
      const seed = `rediss://127.0.0.1:${await freePort()}`;
      for (let i = 0; i < 2; i++) {
        const response = await ours.exporter.get(
          `/discover-cluster-nodes?seed=${encodeURIComponent(seed)}`,
        );
        expect(response.status).toBe(503);
        expect(response.text).toMatch(
          new RegExp(`^seed ${seed} did not give its cluster nodes \\(refused\\)`),
        );
        expect(response.ms).toBeLessThan(1000);
      }
    });

    it('answers 502 naming a seed that is not a cluster node, or answers garbage', async () => {
      const standalone = await startFakeRedis(minimalRedis);
      const garbage = await startFakeRedis((command, socket) => {
        const name = (command[0] ?? '').toUpperCase();
        if (name === 'INFO') {
          const body = '# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n';
          return `$${Buffer.byteLength(body)}\r\n${body}\r\n`;
        }
        if (name === 'CLUSTER') {
          const body = 'not a node table\n';
          return `$${Buffer.byteLength(body)}\r\n${body}\r\n`;
        }
        return minimalRedis(command, socket);
      });
      fakes.push(standalone, garbage);
      const plain = await startClusterExporter(cluster, {
        'allow-target': ['redis://127.0.0.1:*'],
      });
      try {
        const ask = (port: number) =>
          plain.exporter.get(
            `/discover-cluster-nodes?seed=${encodeURIComponent(`redis://127.0.0.1:${port}`)}`,
          );
        const notCluster = await ask(standalone.port);
        expect(notCluster.status).toBe(502);
        expect(notCluster.text).toBe(
          `seed redis://127.0.0.1:${standalone.port} is not a Redis Cluster node (INFO redis_mode is not "cluster")\n`,
        );
        expect(standalone.commands.map((c) => c[0]?.toUpperCase())).not.toContain('CLUSTER');
        const broken = await ask(garbage.port);
        expect(broken.status).toBe(502);
        expect(broken.text).toContain(`seed redis://127.0.0.1:${garbage.port}`);
        expect(broken.text).toContain('CLUSTER NODES line 1: expected at least 8 fields');
      } finally {
        await plain.close();
      }
    });

    it('feeds real Prometheus every node through http_sd_configs, which keeps them when the seed dies', async () => {
      const exporterAddress = new URL(ours.exporter.url).host;
      const configFile = join(dir, 'prometheus.yml');
      writeFileSync(
        configFile,
        [
          'global:',
          '  scrape_interval: 1s',
          '  scrape_timeout: 1s',
          'scrape_configs:',
          '  - job_name: redis-cluster',
          '    metrics_path: /scrape',
          '    http_sd_configs:',
          `      - url: ${ours.exporter.url}/discover-cluster-nodes`,
          '        refresh_interval: 1s',
          '    relabel_configs:',
          '      - source_labels: [__address__]',
          '        target_label: __param_target',
          '      - source_labels: [__address__]',
          '        target_label: instance',
          // Not `shard`: the redscope_cluster_shard_* families carry their own.
          '      - source_labels: [__meta_redscope_cluster_shard]',
          '        target_label: node_shard',
          '      - target_label: __address__',
          `        replacement: ${exporterAddress}`,
          '',
        ].join('\n'),
      );
      const prometheus = await startPrometheus({
        configFile,
        dir: join(dir, 'prometheus'),
        port: await freePort(),
      });
      const query = async (promql: string) => {
        const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`;
        const body = (await (await fetch(url)).json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.data.result;
      };
      const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
        const deadline = Date.now() + ms;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`Prometheus: ${what} within ${ms} ms`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      try {
        await until(
          'redis_up 1 from every node',
          async () => (await query('redis_up == 1')).length === NAMES.length,
          15_000,
        );
        const up = await query('redis_up');
        expect(up.map((r) => r.metric.instance).sort()).toEqual(NAMES.map(ours.urlOf).sort());
        for (const r of up) {
          const name = NAMES.find((n) => ours.urlOf(n) === r.metric.instance) as string;
          expect(r.metric.node_shard, name).toBe(
            expectedGroup(name).labels.__meta_redscope_cluster_shard,
          );
        }
        // Every node's view of every shard arrives with its own `shard` label.
        const views = await query('sum by (instance) (redscope_cluster_shard_slots)');
        expect(views.map((r) => Number(r.value[1]))).toEqual(NAMES.map(() => 16384));
        expect(await query('redscope_cluster_shard_slots{exported_shard!=""}')).toEqual([]);
        // The seed dies: discovery fails (503), Prometheus keeps the targets it had and
        // the dead node shows as redis_up 0 on its own target.
        await cluster.kill('redis-0');
        await until(
          'redis_up 0 from the dead seed',
          async () =>
            (await query(`redis_up{instance="${ours.urlOf('redis-0')}"} == 0`)).length === 1,
          10_000,
        );
        // Once the cached answer (5 s) runs out, discovery fails at every refresh.
        const discoveryErrors = async () =>
          sampleValue(
            parseExposition((await ours.exporter.get('/metrics')).text),
            'redscope_exporter_cluster_discovery_errors_total',
            { seed: ours.urlOf('redis-0') },
          ) ?? 0;
        await until('a failed discovery', async () => (await discoveryErrors()) >= 1, 10_000);
        // Prometheus hands target changes to its scrapers at most every 5 s: past that, an
        // answer that dropped the targets would have removed their series.
        await new Promise((resolve) => setTimeout(resolve, 5500));
        const after = await query('up{job="redis-cluster"}');
        expect(after).toHaveLength(NAMES.length);
        expect((await query('redis_up == 1')).length).toBe(NAMES.length - 1);
      } finally {
        await prometheus.stop();
      }
    });
  });
});
