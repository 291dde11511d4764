import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { type HttpService, startHttpService } from '../../stack/http-service.js';
import { freePort } from '../../stack/ports.js';
import { startPrometheus } from '../../stack/prometheus-server.js';
import { repoPath, run, thresholds } from './support/bundle.js';

/**
 * The shipped example configs under prometheus/examples/: promtool accepts them, and real
 * Prometheus servers run them against a stand-in for the exporter that speaks its
 * discovery and /scrape wire formats, which proves the relabelling (targets, `instance`,
 * `job`, the `target` parameter) and the remote_write section (external labels, the
 * write filter) end to end. The remote_write receiver is Prometheus' own
 * (--web.enable-remote-write-receiver, the same protocol Thanos Receive and Mimir take);
 * Thanos and Mimir themselves are not run here.
 */

const EXAMPLES = ['cluster-http-sd.yml', 'remote-write.yml'] as const;
/** The exporter address the examples use: tests point it at the stand-in. */
const EXPORTER = 'exporter:9121';

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  http_sd_configs?: { url: string }[];
  relabel_configs?: { source_labels?: string[]; target_label?: string; replacement?: string }[];
}
interface PrometheusConfig {
  global: { external_labels?: Record<string, string> };
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
  remote_write?: {
    name: string;
    url: string;
    headers?: Record<string, string>;
    basic_auth?: unknown;
    tls_config?: unknown;
  }[];
}

const exampleText = (name: string) =>
  readFileSync(repoPath('prometheus', 'examples', name), 'utf8');
const example = (name: string) => yaml.load(exampleText(name)) as PrometheusConfig;

/** The job label a scrape config gives its targets: a relabelled `job`, else its job_name. */
const jobOf = (c: ScrapeConfig) =>
  c.relabel_configs?.find((r) => r.target_label === 'job')?.replacement ?? c.job_name;
const discovers = (c: ScrapeConfig) =>
  (c.http_sd_configs ?? []).some((sd) => new URL(sd.url).pathname === '/discover-cluster-nodes');

// ---------------------------------------------------------------------------------------
// A stand-in for the exporter: /discover-cluster-nodes answers http_sd groups for two
// clusters (the default seed, and ?seed=...sessions...), /scrape records each target it
// is asked for and answers a few series, /metrics answers the exporter's self-metrics.

const ORDERS = [7001, 7002, 7003].map((port, i) => ({
  target: `rediss://127.0.0.1:${port}`,
  labels: {
    __meta_redscope_cluster_node_id: `${i}`.repeat(40),
    __meta_redscope_cluster_role: i === 0 ? 'master' : 'replica',
    __meta_redscope_cluster_shard: '0',
  },
}));
const SESSIONS = [7101, 7102].map((port, i) => ({
  target: `rediss://127.0.0.1:${port}`,
  labels: {
    __meta_redscope_cluster_node_id: `${i + 5}`.repeat(40),
    __meta_redscope_cluster_role: i === 0 ? 'master' : 'replica',
    __meta_redscope_cluster_shard: '0',
  },
}));

interface StandIn {
  readonly address: string;
  readonly scraped: Set<string>;
  readonly seeds: Set<string>;
  close(): Promise<void>;
}

async function startStandIn(): Promise<StandIn> {
  const scraped = new Set<string>();
  const seeds = new Set<string>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname === '/discover-cluster-nodes') {
      const seed = url.searchParams.get('seed') ?? '';
      seeds.add(seed);
      const nodes = seed.includes('sessions') ? SESSIONS : ORDERS;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(nodes.map((n) => ({ targets: [n.target], labels: n.labels }))));
    } else if (url.pathname === '/scrape') {
      scraped.add(url.searchParams.get('target') ?? '');
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      // redis_up passes the example's write filter, nodejs_* must not.
      res.end('redis_up 1\nredis_cluster_state 1\nnodejs_heap_size_used_bytes 1e6\n');
    } else if (url.pathname === '/metrics') {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('redscope_exporter_scrapes_total 1\n');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    scraped,
    seeds,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * An example as a test runs it: the exporter address pointed at the stand-in, rule files
 * found from the repository, and `edit` for what the test changes on purpose.
 */
function runnable(
  name: string,
  exporter: string,
  edit: (c: PrometheusConfig) => void = () => {},
): string {
  const text = exampleText(name);
  expect(text).toContain(EXPORTER);
  const config = yaml.load(text.replaceAll(EXPORTER, exporter)) as PrometheusConfig;
  config.rule_files = [repoPath('prometheus', 'rules', '*.yml')];
  edit(config);
  return yaml.dump(config, { lineWidth: -1 });
}

interface Target {
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  scrapeUrl: string;
  health: string;
}

async function activeTargets(prometheus: HttpService): Promise<Target[]> {
  const response = await fetch(`${prometheus.url}/api/v1/targets?state=active`);
  const body = (await response.json()) as { data: { activeTargets: Target[] } };
  return body.data.activeTargets;
}

async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 25_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('the example Prometheus configs (static)', () => {
  it.each(EXAMPLES)('promtool check config accepts %s with its rule files', async (name) => {
    const result = await run('promtool', ['check', 'config', `prometheus/examples/${name}`]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toContain('SUCCESS: 2 rule files found');
  });

  it.each(EXAMPLES)(
    '%s says it is an example and scrapes cluster nodes as the rules expect',
    (name) => {
      expect(exampleText(name).split('\n')[0]).toMatch(/^# EXAMPLE/);
      const t = thresholds();
      const configs = example(name).scrape_configs;
      const nodes = configs.filter(discovers);
      expect(nodes.length, name).toBeGreaterThan(0);
      for (const c of nodes) {
        expect(jobOf(c), c.job_name).toBe(t.jobs.redis);
        expect(c.metrics_path, c.job_name).toBe('/scrape');
        const labels = (c.relabel_configs ?? []).map((r) => r.target_label);
        for (const label of [
          '__param_target',
          'instance',
          '__address__',
          'environment',
          'cluster',
        ]) {
          expect(labels, `${c.job_name} sets ${label}`).toContain(label);
        }
        // As target labels they would clash with the series' own shard, or churn at failovers.
        expect(labels).not.toContain('shard');
        expect(labels).not.toContain('role');
      }
      const jobs = new Set(configs.map(jobOf));
      for (const job of [t.jobs.exporter, t.jobs.redis]) expect(jobs, name).toContain(job);
    },
  );

  it('the remote_write example writes to Thanos Receive and Mimir with a region label, not a cluster one', () => {
    const config = example('remote-write.yml');
    expect(Object.keys(config.global.external_labels ?? {})).toEqual(['region', 'prometheus']);
    const urls = (config.remote_write ?? []).map((w) => new URL(w.url).pathname);
    expect(urls).toEqual(['/api/v1/receive', '/api/v1/push']);
    expect(config.remote_write?.[1]?.headers).toHaveProperty('X-Scope-OrgID');
    // Secrets from files, never inline.
    expect(exampleText('remote-write.yml')).not.toMatch(/^\s+password:/m);
  });
});

describe('the example configs run by real Prometheus against a stand-in exporter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-examples-'));
  let standIn: StandIn;
  let discovering: HttpService;
  let receiver: HttpService;
  let writer: HttpService;

  beforeAll(async () => {
    standIn = await startStandIn();
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    const receiverUrl = `http://127.0.0.1:${p2}`;
    [discovering, receiver, writer] = await Promise.all([
      startPrometheus({
        configFile: file('cluster-http-sd.yml', runnable('cluster-http-sd.yml', standIn.address)),
        dir: join(dir, 'discovering'),
        port: p1,
      }),
      // stack/prometheus-server.ts has no receiver flag: the same binary, started directly.
      startHttpService({
        name: 'prometheus-receiver',
        command: requireBinary('prometheus'),
        args: [
          `--config.file=${file('receiver.yml', 'global: {}\n')}`,
          `--storage.tsdb.path=${join(dir, 'receiver', 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${p2}`,
          '--web.enable-remote-write-receiver',
          '--log.level=warn',
        ],
        dir: join(dir, 'receiver'),
        url: receiverUrl,
        readyPath: '/-/ready',
      }),
      startPrometheus({
        configFile: file(
          'remote-write.yml',
          runnable('remote-write.yml', standIn.address, (c) => {
            for (const w of c.remote_write ?? []) {
              w.url = `${receiverUrl}/api/v1/write`;
              // The loopback receiver has neither TLS nor a password.
              delete w.basic_auth;
              delete w.tls_config;
            }
            // What the example's comment warns about: a `cluster` external label loses
            // against the series' own `cluster`.
            c.global.external_labels = { ...c.global.external_labels, cluster: 'eu-west-1' };
          }),
        ),
        dir: join(dir, 'writer'),
        port: p3,
      }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([discovering?.stop(), receiver?.stop(), writer?.stop()]);
    await standIn?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('discovers every node of both clusters as /scrape?target= targets of job redis, and scrapes them', async () => {
    const nodes = await eventually('every discovered node scraped', async () => {
      const targets = (await activeTargets(discovering)).filter(
        (t) => t.labels.job === 'redis' && t.health === 'up',
      );
      return targets.length === ORDERS.length + SESSIONS.length ? targets : undefined;
    });
    const byInstance = new Map(nodes.map((t) => [t.labels.instance, t]));
    for (const [cluster, members] of [
      ['orders', ORDERS],
      ['sessions', SESSIONS],
    ] as const) {
      for (const node of members) {
        const address = new URL(node.target).host;
        const target = byInstance.get(address);
        expect(target, address).toBeDefined();
        expect(target?.labels).toEqual({
          job: 'redis',
          instance: address,
          environment: 'prod',
          cluster,
        });
        const scrape = new URL(target?.scrapeUrl ?? '');
        expect(scrape.host).toBe(standIn.address);
        expect(scrape.pathname).toBe('/scrape');
        expect(scrape.searchParams.get('target')).toBe(node.target);
        expect(target?.discoveredLabels.__meta_redscope_cluster_node_id).toBe(
          node.labels.__meta_redscope_cluster_node_id,
        );
        expect(standIn.scraped).toContain(node.target);
      }
    }
    // The default seed (the exporter's --redis-url) and the second cluster's seed.
    expect(standIn.seeds).toEqual(new Set(['', 'rediss://sessions-redis-0:6379']));
  });

  it('remote-writes the filtered series with the region labels, each series keeping its own cluster', async () => {
    type Series = Record<string, string>;
    const query = async (selector: string): Promise<Series[]> => {
      const url = `${receiver.url}/api/v1/series?match[]=${encodeURIComponent(selector)}`;
      return ((await (await fetch(url)).json()) as { data: Series[] }).data;
    };
    const received = await eventually('redis_up of every node at the receiver', async () => {
      const series = await query('redis_up');
      return series.length === ORDERS.length ? series : undefined;
    });
    for (const s of received) {
      expect(s).toMatchObject({
        job: 'redis',
        environment: 'prod',
        cluster: 'orders',
        region: 'eu-west-1',
        prometheus: 'eu-west-1-a',
      });
    }
    expect(received.map((s) => s.instance).sort()).toEqual(
      ORDERS.map((n) => new URL(n.target).host).sort(),
    );
    // The write filter: nodejs_* internals and Prometheus' own scrape series stay regional.
    expect(await query('nodejs_heap_size_used_bytes')).toEqual([]);
    expect(await query('scrape_duration_seconds')).toEqual([]);
    // Both remote_write entries sent, and nothing failed.
    const metrics = await (await fetch(`${writer.url}/metrics`)).text();
    for (const name of ['thanos-receive', 'mimir']) {
      const sent = new RegExp(
        `^prometheus_remote_storage_samples_total\\{[^}]*remote_name="${name}"[^}]*\\} ([0-9.e+]+)$`,
        'm',
      ).exec(metrics);
      expect(Number(sent?.[1]), name).toBeGreaterThan(0);
      const failed = new RegExp(
        `^prometheus_remote_storage_samples_failed_total\\{[^}]*remote_name="${name}"[^}]*\\} ([0-9.e+]+)$`,
        'm',
      ).exec(metrics);
      expect(Number(failed?.[1] ?? 0), name).toBe(0);
    }
  });
});
