import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { freePort } from '../../stack/ports.js';
import { SupervisedProcess } from '../../stack/processes.js';
import { packageRoot } from '../../stack/repo-paths.js';
import { committedAlertRules, committedRecordingRules, run } from '../bundle/support/bundle.js';
import { startTestExporter, type TestExporter } from '../exporter/support/exporter-harness.js';
import { type ParsedSample, parseExposition } from '../exporter/support/parse-exposition.js';
import { until } from './support/loopback.js';

const RULES = ['redscope-recording.yml', 'redscope-alerts.yml'].map((f) =>
  join(packageRoot(), 'prometheus', 'rules', f),
);
const LABELS = {
  job: 'redis',
  instance: 'redis.railway.internal:6379',
  environment: 'prod',
  cluster: 'railway',
};

/** A promtool series selector for a sample, with the labels Prometheus' redis job adds. */
function selector(sample: ParsedSample, extra: Record<string, string> = LABELS): string {
  const labels = { ...sample.labels, ...extra };
  const text = Object.entries(labels)
    .map(
      ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
    )
    .join(', ');
  return `${sample.name}{${text}}`;
}

/** Every alert and recording rule that reads a CONFIG-derived series, directly or through a recording rule. */
function configDependentAlerts(): string[] {
  const derived = new Set(
    committedRecordingRules()
      .filter((r) => /\bredis_config_/.test(r.expr))
      .map((r) => r.record),
  );
  return committedAlertRules()
    .filter(
      (a) => /\bredis_config_/.test(a.expr) || [...derived].some((name) => a.expr.includes(name)),
    )
    .map((a) => a.alert);
}

/**
 * Managed Redis services often disable CONFIG (`rename-command CONFIG ""`).
 * The exporter must stay up with only the collectors that need CONFIG failing,
 * and the shipped rules must still evaluate; what is lost is listed in
 * docs/railway.md, which this test keeps honest.
 */
describe('the exporter and the alert rules on a Redis with CONFIG disabled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redscope-noconfig-'));
  let server: SupervisedProcess;
  let exporter: TestExporter;
  let metrics = '';

  beforeAll(async () => {
    const port = await freePort();
    server = new SupervisedProcess({
      name: 'redis-noconfig',
      command: requireBinary('redis-server'),
      args: [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--rename-command',
        'CONFIG',
        '',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      outputFile: join(dir, 'redis.log'),
    });
    await server.start();
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await until('Redis to answer', async () => {
      await client.connect().catch(() => undefined);
      return (await client.ping()) === 'PONG';
    });
    await client.set('noconfig:key', 'v');
    const refused = await client.call('CONFIG', 'GET', 'maxclients').catch((e: Error) => e);
    expect(String(refused)).toMatch(/unknown command/i);
    client.disconnect();
    exporter = await startTestExporter({ 'redis-url': `redis://127.0.0.1:${port}` });
    metrics = (await exporter.get('/metrics')).text;
  }, 30_000);

  afterAll(async () => {
    await exporter?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps redis_up 1, with only the config collector failing and its series absent', () => {
    const families = parseExposition(metrics);
    expect(families.get('redis_up')?.samples[0]?.value).toBe(1);
    const collectors = families.get('redscope_exporter_collector_success')?.samples ?? [];
    expect(collectors.length).toBeGreaterThan(5);
    expect(collectors.filter((s) => s.value === 0).map((s) => s.labels.collector)).toEqual([
      'config',
    ]);
    for (const name of [
      'redis_config_maxclients',
      'redis_config_maxmemory',
      'redis_config_io_threads',
    ]) {
      expect(families.has(name), name).toBe(false);
    }
    // What CONFIG is not needed for is all there: memory (maxmemory comes from INFO), clients, keys.
    for (const name of [
      'redis_memory_max_bytes',
      'redis_connected_clients',
      'redis_instance_info',
    ]) {
      expect(families.get(name)?.samples.length, name).toBeGreaterThan(0);
    }
    // Without CONFIG GET databases, only the non-empty DBs are reported.
    expect(families.get('redis_db_keys')?.samples.map((s) => s.labels.db)).toEqual(['db0']);
    expect(families.get('redis_exporter_last_scrape_error')?.samples[0]?.value).toBe(0);
  });

  it('the shipped rules evaluate on its series; only RedisClientsNearMax, the one alert on CONFIG data, goes blind', async () => {
    const lost = configDependentAlerts();
    expect(lost).toEqual(['RedisClientsNearMax']);
    // docs/railway.md says which alerts need CONFIG; it must say exactly these.
    const doc = readFileSync(join(packageRoot(), 'docs', 'railway.md'), 'utf8');
    for (const alert of lost) expect(doc).toContain(alert);

    const samples = [...parseExposition(metrics).values()]
      .flatMap((f) => f.samples)
      .filter((s) => Number.isFinite(s.value));
    const scraped = (override: (s: ParsedSample) => number = (s) => s.value) =>
      samples.map((s) => ({ series: selector(s), values: `${override(s)}x120` }));
    const up = {
      series: `up{${Object.entries(LABELS)
        .map(([k, v]) => `${k}="${v}"`)
        .join(', ')}}`,
      values: '1x120',
    };
    const nearMaxClients = (s: ParsedSample) =>
      s.name === 'redis_connected_clients' ? 9990 : s.value;
    const ratio = 'instance:redis_connected_clients_per_maxclients:ratio';
    const ratioLabels = `${ratio}{cluster="railway", environment="prod", instance="redis.railway.internal:6379"}`;
    const tests = {
      rule_files: RULES,
      evaluation_interval: '5s',
      tests: [
        {
          name: 'a healthy Redis without CONFIG: every rule evaluates, no alert fires',
          interval: '5s',
          input_series: [...scraped(), up],
          alert_rule_test: committedAlertRules().map((a) => ({
            eval_time: '5m',
            alertname: a.alert,
            exp_alerts: [],
          })),
        },
        {
          name: 'without CONFIG, 9990 of 10000 clients connected: the ratio and RedisClientsNearMax stay empty',
          interval: '5s',
          input_series: [...scraped(nearMaxClients), up],
          promql_expr_test: [{ expr: `${ratio} > 0.85`, eval_time: '5m', exp_samples: [] }],
          alert_rule_test: [{ eval_time: '5m', alertname: 'RedisClientsNearMax', exp_alerts: [] }],
        },
        {
          name: 'the same with CONFIG (redis_config_maxclients 10000): the ratio crosses 0.85',
          interval: '5s',
          input_series: [
            ...scraped(nearMaxClients),
            up,
            {
              series: `redis_config_maxclients{${Object.entries(LABELS)
                .map(([k, v]) => `${k}="${v}"`)
                .join(', ')}}`,
              values: '10000x120',
            },
          ],
          promql_expr_test: [
            {
              expr: `${ratio} > 0.85`,
              eval_time: '5m',
              exp_samples: [{ labels: ratioLabels, value: 0.999 }],
            },
          ],
        },
      ],
    };
    const file = join(dir, 'noconfig.test.yml');
    writeFileSync(file, yaml.dump(tests, { lineWidth: -1 }));
    const result = await run('promtool', ['test', 'rules', file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  }, 60_000);
});
