import { afterAll, describe, expect, it } from 'vitest';
import { listening, startUp, type UpProcess, until } from './support/up-process.js';

interface Target {
  labels: Record<string, string>;
  health: string;
}

describe('redscope up --cluster', () => {
  let up: UpProcess | undefined;
  afterAll(() => up?.stop());

  it('runs the stack on a Redis Cluster: discovery finds every node, Prometheus scrapes them, the demo serves', async () => {
    up = await startUp(['--cluster', '--rate', '10']);
    const out = up.out();
    const prometheus = up.url('Prometheus ');
    const nodePorts = [
      ...out.matchAll(/^\s+redis-\d \((master|replica)\)\s+rediss:\/\/127\.0\.0\.1:(\d+)$/gm),
    ];
    expect(nodePorts.map((m) => m[1]).sort()).toEqual([
      'master',
      'master',
      'master',
      'replica',
      'replica',
      'replica',
    ]);
    // No `redscope warm` line: warm takes no cluster flags yet.
    expect(out).not.toContain(' warm --namespace');

    const discovered = (await (await fetch(up.url('exporter node discovery'))).json()) as {
      targets: string[];
      labels: Record<string, string>;
    }[];
    expect(discovered.flatMap((g) => g.targets).sort()).toEqual(
      nodePorts.map((m) => `rediss://127.0.0.1:${m[2]}`).sort(),
    );

    // The shipped prometheus-cluster.yml: 6 discovered nodes, the exporter, Alertmanager, the demo.
    const targets = await until('every target up', 60_000, async () => {
      const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as {
        data: { activeTargets: Target[] };
      };
      const active = body.data.activeTargets;
      return active.length === 9 && active.every((t) => t.health === 'up') ? active : undefined;
    });
    expect(
      targets
        .filter((t) => t.labels.job === 'redis')
        .map((t) => t.labels.instance)
        .sort(),
    ).toEqual(nodePorts.map((m) => `127.0.0.1:${m[2]}`).sort());

    // The cluster families arrive with the deployment labels the rules select on.
    const query = async (promql: string) =>
      (
        (await (
          await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`)
        ).json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        }
      ).data.result;
    const info = await until('redscope_cluster_node_info from every node', 30_000, async () => {
      const result = await query('redscope_cluster_node_info{job="redis",cluster="redscope"}');
      return result.length === 6 ? result : undefined;
    });
    expect(info.filter((s) => s.metric.role === 'master').length).toBe(3);
    expect(new Set(info.map((s) => s.metric.shard)).size).toBe(3);
    expect((await query('min(redis_cluster_state)'))[0]?.value[1]).toBe('1');

    // The demo app validates sessions through the client on the cluster.
    const demoMetrics = await until('session validations', 30_000, async () => {
      const text = await (await fetch(up?.url('demo /metrics') ?? '')).text();
      return /^redscope_session_cache_hits_total [1-9]/m.test(text) ? text : undefined;
    });
    expect(demoMetrics).toMatch(/^redscope_client_commands_total\{/m);

    // A healthy cluster raises no cluster alert, and a cluster client no Sentinel alert.
    // One evaluation may have run while
    // Prometheus had scraped only some nodes (RedisNoMaster pending before any master was
    // seen): what counts is that none is left once every node has been scraped and the
    // rules evaluated again, and that none ever fired.
    const suspect = /^RedisCluster|^RedisClientSentinels|^RedisNoMaster/;
    const clusterAlerts = async () =>
      (
        (await (await fetch(`${prometheus}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: { alertname: string }; state: string }[] };
        }
      ).data.alerts.filter((a) => suspect.test(a.labels.alertname));
    expect((await clusterAlerts()).filter((a) => a.state === 'firing')).toEqual([]);
    await until('no cluster or Sentinel alert left', 20_000, async () =>
      (await clusterAlerts()).length === 0 ? true : undefined,
    );

    const ports = up.ports();
    up.child.kill('SIGINT');
    expect(await up.exited).toBe(0);
    for (const port of ports) expect(await listening(port), `port ${port} still open`).toBe(false);
  });
});
