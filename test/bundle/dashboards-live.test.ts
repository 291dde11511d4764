import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { emptyWhenHealthy } from '../../grafana/src/empty-when-healthy.js';
import { thresholds } from './support/bundle.js';
import { queriesWithoutData, recordingRulesWithoutData } from './support/dashboard-live.js';

/**
 * The live check's own logic (variables, instant or range, one instance after another,
 * the documented exceptions) against a stand-in for Prometheus' HTTP API that answers
 * from a rule of the test. The real Prometheus of `redscope up` is the end-to-end test's.
 */

interface Received {
  readonly path: string;
  readonly params: URLSearchParams;
}

const NODES = ['127.0.0.1:6379', '127.0.0.1:6380'];
const CLUSTER_FAMILY = /redis_cluster_|redscope_cluster_/;

let server: Server;
let url: string;
let received: Received[] = [];
/** Whether the stand-in returns a series for this query; the default: every query has data. */
let hasData: (expr: string, path: string) => boolean;
let failWith: { status: number; body: string } | undefined;
/** The data nodes the stand-in knows (the `redis_up` discovery query). */
let discovered: readonly string[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const params = new URLSearchParams(body);
      const path = req.url ?? '';
      received.push({ path, params });
      if (failWith) {
        res.writeHead(failWith.status, { 'content-type': 'application/json' });
        res.end(failWith.body);
        return;
      }
      const expr = params.get('query') ?? '';
      const discovery = expr.startsWith('redis_up{');
      const result =
        discovery || hasData(expr, path)
          ? discovery
            ? discovered.map((instance) => ({ metric: { instance }, value: [1, '1'] }))
            : [{ metric: {}, value: [1, '1'], values: [[1, '1']] }]
          : [];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  hasData = () => true;
  failWith = undefined;
  discovered = NODES;
});

describe('queriesWithoutData (happy path)', () => {
  it('reports nothing when every query has data', async () => {
    expect(await queriesWithoutData(url)).toEqual([]);
  });

  it('marks the documented empty panels with their reason, per topology', async () => {
    hasData = (expr) => !CLUSTER_FAMILY.test(expr) && !expr.includes('command_errors_total');
    const onSentinel = await queriesWithoutData(url, { topology: 'sentinel' });
    const list = emptyWhenHealthy(thresholds());
    const clusterReason = list.find((e) => e.topology === 'sentinel')?.reason;
    expect(onSentinel.length).toBeGreaterThan(10);
    expect(onSentinel.filter((e) => e.expected === undefined)).toEqual([]);
    expect(onSentinel.find((e) => e.panel === 'Shard map')?.expected).toBe(clusterReason);
    expect(onSentinel.find((e) => e.panel === 'Client errors by type')?.expected).toContain(
      'No client command has failed',
    );

    const onCluster = await queriesWithoutData(url, { topology: 'cluster' });
    const unexplained = onCluster.filter((e) => e.expected === undefined).map((e) => e.panel);
    expect(unexplained).toContain('Shard map');
    expect(unexplained).not.toContain('Client errors by type');
  });

  it('a query of a documented panel that is not among its documented lines is still reported', async () => {
    // The rate-limit line may be empty; the keys line of the same panel may not.
    hasData = (expr) => !expr.includes('redscope_client_warming_');
    const empty = await queriesWithoutData(url);
    const panel = empty.filter((e) => e.panel === 'Warming throughput and rate limit');
    expect(panel.map((e) => [e.refId, e.expected === undefined])).toEqual([
      ['A', true],
      ['B', false],
    ]);
  });

  it('fills in the variables and asks tables for an instant, time series for the last minute at the scrape step', async () => {
    await queriesWithoutData(url, { environment: 'dev.1' });
    const queries = received.filter((r) => !r.params.get('query')?.startsWith('redis_up{'));
    for (const { params } of queries) {
      const expr = params.get('query') ?? '';
      expect(expr).not.toMatch(/\$\w+/);
      if (expr.includes('environment')) expect(expr).toContain('environment=~"dev\\\\.1"');
    }
    const hotKeys = queries.find((r) =>
      r.params.get('query')?.startsWith('topk(10, max by (cluster, key)'),
    );
    expect(hotKeys?.path).toBe('/api/v1/query');
    const ops = queries.find((r) =>
      r.params.get('query')?.startsWith('instance:redis_commands_processed:rate1m'),
    );
    expect(ops?.path).toBe('/api/v1/query_range');
    expect(ops?.params.get('step')).toBe('5s');
    expect(Number(ops?.params.get('end')) - Number(ops?.params.get('start'))).toBe(60);
    const epochChanges = queries
      .map((r) => r.params.get('query') ?? '')
      .filter((q) => q.includes('changes(redscope_sentinel_config_epoch'));
    // "Failovers in range" over $__range, "Failovers" over $__rate_interval.
    expect(epochChanges.some((q) => q.includes('}[5m])'))).toBe(true);
    expect(epochChanges.some((q) => q.includes('}[1m])'))).toBe(true);
  });

  it('checks the drill-down with each data node, and a query is empty only when empty for all', async () => {
    // Only the second node is a replica: its link panel has data, the first's has none.
    hasData = (expr) => !expr.includes('redis_master_link_up') || expr.includes('6380');
    const empty = await queriesWithoutData(url);
    expect(empty.map((e) => e.panel)).not.toContain('Link to master (as replica)');
    const instanceQueries = received
      .map((r) => r.params.get('query') ?? '')
      .filter((q) => q.startsWith('min(redis_master_link_up'));
    expect(instanceQueries).toEqual([
      'min(redis_master_link_up{job="redis", environment=~"dev", instance=~"127\\\\.0\\\\.0\\\\.1:6379"})',
      'min(redis_master_link_up{job="redis", environment=~"dev", instance=~"127\\\\.0\\\\.0\\\\.1:6380"})',
    ]);
    // The overview selects every instance at once.
    expect(received.some((r) => r.params.get('query')?.includes('instance=~".*"'))).toBe(true);

    hasData = (expr) => !expr.includes('redis_master_link_up');
    const none = await queriesWithoutData(url, { instances: NODES });
    expect(none).toContainEqual(
      expect.objectContaining({
        dashboard: DASHBOARDS.instance.uid,
        panel: 'Link to master (as replica)',
        refId: 'A',
      }),
    );
  });
});

describe('queriesWithoutData (unhappy path)', () => {
  it('names the URL and the query when Prometheus refuses one', async () => {
    failWith = { status: 400, body: '{"status":"error","error":"parse error"}' };
    await expect(queriesWithoutData(url, { instances: NODES })).rejects.toThrow(
      new RegExp(`${url}/api/v1/query(_range)? answered 400 to .*parse error`, 's'),
    );
  });

  it('refuses to check a Prometheus that knows no data node', async () => {
    discovered = [];
    await expect(queriesWithoutData(url)).rejects.toThrow(
      /knows no data node \(redis_up\{environment="dev"\}\)/,
    );
  });
});

describe('recordingRulesWithoutData', () => {
  it('lists the rules whose series are missing, a quantile rule with its label', async () => {
    hasData = (expr) =>
      !expr.startsWith('cluster:redscope_client_command_errors:rate1m{') &&
      !expr.includes('quantile="0.95"');
    const missing = await recordingRulesWithoutData(url);
    expect(missing.map((m) => `${m.record} ${JSON.stringify(m.labels)}`).sort()).toEqual([
      'cluster:redscope_client_command_errors:rate1m {}',
      'cluster_quantile:redscope_client_command_duration_seconds:histogram_quantile_rate1m {"quantile":"0.95"}',
      'instance_quantile:redscope_redis_command_latency_seconds:histogram_quantile_rate1m {"quantile":"0.95"}',
    ]);
    expect(
      received.map((r) => r.params.get('query')).filter((q) => q?.includes('quantile="0.99"')),
    ).toHaveLength(2);
  });
});
