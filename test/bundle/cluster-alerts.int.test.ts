import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../client/common/cluster-nodes.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import type { HttpService } from '../../stack/http-service.js';
import { freePort } from '../../stack/ports.js';
import { startPrometheus } from '../../stack/prometheus-server.js';
import {
  type ClusterExporter,
  startClusterExporter,
} from '../exporter/support/cluster-exporter.js';
import { repoPath, thresholds } from './support/bundle.js';

/**
 * The whole path on a real cluster: a TLS Redis Cluster (3 masters, 3 replicas), the
 * redscope exporter, and real Prometheus running prometheus/examples/cluster-http-sd.yml
 * (discovery through the exporter, every node through /scrape) with the generated rules.
 * A healthy cluster must leave every alert inactive, Sentinel ones included; a killed
 * master must page through RedisDown and report RedisClusterFailover for its shard, while
 * RedisClusterShardMasterDown stays quiet because the replica took over.
 */

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

let cluster: ClusterTopology;
let exporter: ClusterExporter;
let prometheus: HttpService;
const dir = mkdtempSync(join(tmpdir(), 'redscope-cluster-alerts-'));

async function alerts(): Promise<Alert[]> {
  const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
    data: { alerts: Alert[] };
  };
  return body.data.alerts;
}

async function query(expr: string): Promise<{ metric: Record<string, string> }[]> {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`;
  return (
    (await (await fetch(url)).json()) as { data: { result: { metric: Record<string, string> }[] } }
  ).data.result;
}

/** Waits until the alert rules were evaluated at or after `at` (epoch ms). */
async function evaluatedSince(at: number): Promise<void> {
  await eventually(
    'an evaluation of the alert rules',
    async () => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/rules?type=alert`)).json()) as {
        data: { groups: { name: string; lastEvaluation: string }[] };
      };
      const group = body.data.groups.find((g) => g.name === 'redscope-alerts');
      return group && Date.parse(group.lastEvaluation) >= at ? true : undefined;
    },
    20_000,
  );
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  cluster = await ClusterTopology.start();
  exporter = await startClusterExporter(cluster);
  const address = new URL(exporter.exporter.url).host;
  // The example as shipped, pointed at this exporter; its second cluster and the apps
  // job do not exist here, so only the first cluster's job is kept.
  const config = yaml.load(
    readFileSync(repoPath('prometheus', 'examples', 'cluster-http-sd.yml'), 'utf8').replaceAll(
      'exporter:9121',
      address,
    ),
  ) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string }[];
    alerting?: unknown;
  };
  // Faster scrapes than the example's 5 s, so the first scrape and the failover's show up
  // sooner; the rule groups keep their own 5 s evaluation interval.
  config.global = { ...config.global, scrape_interval: '2s', scrape_timeout: '1500ms' };
  config.rule_files = [repoPath('prometheus', 'rules', '*.yml')];
  config.scrape_configs = config.scrape_configs.filter((c) =>
    ['redis', 'redscope-exporter'].includes(c.job_name),
  );
  delete config.alerting;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, yaml.dump(config, { lineWidth: -1 }));
  prometheus = await startPrometheus({
    configFile,
    dir: join(dir, 'prometheus'),
    port: await freePort(),
  });
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the bundle on a real Redis Cluster, discovered through the exporter', () => {
  it('scrapes all six nodes as job redis and fires no alert on the healthy cluster', async () => {
    await eventually(
      'every node scraped with its cluster view',
      async () => {
        const info = await query('redscope_cluster_node_info{job="redis", cluster="orders"}');
        return info.length === 6 ? info : undefined;
      },
      20_000,
    );
    // Two evaluation rounds of the alert rules (5 s each) on the full series.
    await evaluatedSince(Date.now() + 5_000);
    expect(await alerts()).toEqual([]);
    const masters = await query('redscope_cluster_node_info{job="redis", role="master"}');
    expect(new Set(masters.map((m) => m.metric.shard)).size).toBe(3);
  }, 45_000);

  it('a killed master pages RedisDown and reports RedisClusterFailover for its shard, not ShardMasterDown', async () => {
    const nodes = await cluster.clusterNodes('redis-0');
    const victim = 'redis-1';
    const port = cluster.port(victim);
    const node = nodes.find((n) => n.port === port);
    expect(node?.role).toBe('master');
    const shard = node ? shardOf(node, nodes) : undefined;
    expect(shard).toBeDefined();

    await cluster.kill(victim);
    const killed = Date.now();
    const failover = await eventually(
      'RedisClusterFailover firing',
      async () => {
        const firing = (await alerts()).filter((a) => a.state === 'firing');
        return firing.some((a) => a.labels.alertname === 'RedisClusterFailover')
          ? firing
          : undefined;
      },
      25_000,
    );
    expect(
      failover.find((a) => a.labels.alertname === 'RedisClusterFailover')?.labels,
    ).toMatchObject({
      shard,
      cluster: 'orders',
      severity: 'warning',
    });
    expect(failover.find((a) => a.labels.alertname === 'RedisDown')?.labels.instance).toBe(
      `127.0.0.1:${port}`,
    );
    // The replica took over within seconds, well inside ShardMasterDown's `for`: past it,
    // that alert has not fired (ALERTS keeps the history).
    const pending = thresholds().alerts.RedisClusterShardMasterDown.for;
    expect(pending).toMatch(/^\d+s$/);
    await evaluatedSince(killed + Number.parseInt(pending, 10) * 1000 + 5_000);
    expect(
      await query(
        'max_over_time(ALERTS{alertname="RedisClusterShardMasterDown", alertstate="firing"}[5m])',
      ),
    ).toEqual([]);
  }, 45_000);
});
