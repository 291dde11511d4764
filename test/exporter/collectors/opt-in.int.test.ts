import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataNodeAclRules } from '../../../exporter/acl.js';
import { parseClientList } from '../../../exporter/collectors/client-list.js';
import { RedisTopology } from '../../../stack/topology.js';
import { startTestExporter, type TestExporter } from '../support/exporter-harness.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';

/**
 * The scripts, client list and config values collectors against a real Redis:
 * one plain master for the scripts and the client list, and a second one with
 * CONFIG renamed away, as managed Redis services do.
 */
let topology: RedisTopology;
let renamed: RedisTopology;
let master: Redis;
let app: Redis;
const extras: Redis[] = [];
let dir: string;
/** Every script, the function, the client list and config values; no credentials (default user). */
let exporter: TestExporter;
/** Client list with ports, capped at 2 series. */
let capped: TestExporter;
/**
 * localhost: a user with FCALL_RO (and LLEN on queue:*, which the function calls) but not
 * EVAL_RO; 127.0.0.1: a user with neither.
 */
let restricted: TestExporter;

const FUNCTION_LIBRARY = [
  '#!lua name=redscope_int',
  "redis.register_function{function_name='queue_depth', flags={'no-writes'},",
  "  callback=function(keys, args) return {'jobs_waiting', tostring(redis.call('LLEN', 'queue:jobs'))} end}",
].join('\n');

const SCRIPTS: Record<string, string> = {
  'queue.lua':
    "return {'jobs_waiting', tostring(redis.call('LLEN', 'queue:jobs')), 'ratio', '0.25'}",
  'other-queue.lua': "return {'jobs_waiting', '99'}",
  'broken.lua': "return {'jobs_waiting' BROKEN",
  'writes.lua': "redis.call('SET', 'queue:touched', '1') return {'a', '1'}",
  'text.lua': "return {'a', 'apples'}",
};

async function scrape(on: TestExporter, port = topology.port('redis-0'), host = '127.0.0.1') {
  const target = encodeURIComponent(`redis://${host}:${port}`);
  const response = await on.get(`/scrape?target=${target}`);
  expect(response.status).toBe(200);
  return parseExposition(response.text);
}

const success = (metrics: ReturnType<typeof parseExposition>, collector: string) =>
  sampleValue(metrics, 'redscope_exporter_collector_success', { collector });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-opt-in-'));
  const options = {
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  } as const;
  [topology, renamed] = await Promise.all([
    RedisTopology.start(options),
    RedisTopology.start({
      ...options,
      redisOverrides: { ...options.redisOverrides, 'rename-command': 'CONFIG ""' },
    }),
  ]);
  master = topology.connect(topology.port('redis-0'));
  await master.rpush('queue:jobs', 'a', 'b', 'c');
  await master.call('FUNCTION', 'LOAD', 'REPLACE', FUNCTION_LIBRARY);
  await master.config('SET', 'maxmemory', '104857600');
  await master.config('SET', 'save', '3600 1');
  await master.config('SET', 'masterauth', 'int-test-never-exported');
  await master.call(
    'ACL',
    'SETUSER',
    'fcall-only',
    ...dataNodeAclRules('pass-1'),
    '+fcall_ro',
    '+llen',
    '%R~queue:*',
  );
  await master.call('ACL', 'SETUSER', 'no-scripts', ...dataNodeAclRules('pass-2'));
  app = topology.connect(topology.port('redis-0'), { connectionName: 'int-test-app', db: 2 });
  await app.ping();
  for (let i = 0; i < 2; i++) {
    const extra = topology.connect(topology.port('redis-0'));
    await extra.ping();
    extras.push(extra);
  }

  const script = Object.keys(SCRIPTS).map((name) => {
    writeFileSync(join(dir, name), SCRIPTS[name] as string);
    return join(dir, name);
  });
  writeFileSync(
    join(dir, 'credentials.yaml'),
    [
      'targets:',
      '  - match: "redis://localhost:*"',
      '    username: fcall-only',
      '    password: pass-1',
      '  - match: "redis://127.0.0.1:*"',
      '    username: no-scripts',
      '    password: pass-2',
      '',
    ].join('\n'),
  );
  const allow = { 'allow-target': ['redis://127.0.0.1:*', 'redis://localhost:*'] };
  exporter = await startTestExporter({
    ...allow,
    script,
    function: ['queue_depth'],
    'export-client-list': true,
    'include-config-metrics': true,
    'config-metrics': ['maxmemory', 'hz', 'maxmemory-policy', 'save', 'appendonly'],
  } as never);
  capped = await startTestExporter({
    ...allow,
    'export-client-list': true,
    'export-client-port': true,
    'client-list-max-series': '2',
  } as never);
  restricted = await startTestExporter({
    ...allow,
    'credentials-file': join(dir, 'credentials.yaml'),
    script: [join(dir, 'queue.lua')],
    function: ['queue_depth'],
  } as never);
}, 60_000);

afterAll(async () => {
  await exporter?.close();
  await capped?.close();
  await restricted?.close();
  for (const client of [master, app, ...extras]) client?.disconnect();
  await topology?.stop();
  await renamed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the opt-in collectors, against a real Redis', () => {
  describe('happy', () => {
    it('exports the values of every good script and of the function, apart by filename', async () => {
      const metrics = await scrape(exporter);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'scripts')).toBe(1);
      const value = (filename: string, key: string) =>
        sampleValue(metrics, 'redis_script_values', { filename, key });
      expect(value('queue.lua', 'jobs_waiting')).toBe(3);
      expect(value('queue.lua', 'ratio')).toBe(0.25);
      expect(value('other-queue.lua', 'jobs_waiting')).toBe(99);
      expect(value('function:queue_depth', 'jobs_waiting')).toBe(3);
      const result = (filename: string) =>
        sampleValue(metrics, 'redis_script_result', { filename });
      expect(result('queue.lua')).toBe(1);
      expect(result('other-queue.lua')).toBe(1);
      expect(result('function:queue_depth')).toBe(1);
    });

    it('writes one client series per connection with the labels of redis_exporter 1.45, no port', async () => {
      const before = Math.floor(Date.now() / 1000);
      const metrics = await scrape(exporter);
      expect(success(metrics, 'client_list')).toBe(1);
      const family = metrics.get('redis_connected_clients_details');
      expect([...(family?.labelNames ?? [])].sort()).toEqual([
        'cmd',
        'created_at',
        'db',
        'flags',
        'host',
        'idle_since',
        'name',
        'omem',
      ]);
      const mine = family?.samples.filter((s) => s.labels.name === 'int-test-app') ?? [];
      expect(mine).toHaveLength(1);
      const labels = mine[0]?.labels ?? {};
      expect(labels).toMatchObject({
        cmd: 'ping',
        db: '2',
        flags: 'N',
        host: '127.0.0.1',
        omem: '0',
      });
      // Connected in beforeAll: created within the last minute, idle since its PING.
      const createdAt = Number(labels.created_at);
      expect(createdAt).toBeLessThanOrEqual(before + 1);
      expect(createdAt).toBeGreaterThan(before - 60);
      expect(Number(labels.idle_since)).toBeGreaterThanOrEqual(createdAt);
      expect(
        sampleValue(metrics, 'redscope_exporter_series_dropped_total', {
          collector: 'client_list',
        }),
      ).toBe(0);
    });

    it('keeps the longest-connected clients under the cap, with ports, and counts the others', async () => {
      const metrics = await scrape(capped);
      const samples = metrics.get('redis_connected_clients_details')?.samples ?? [];
      expect(samples).toHaveLength(2);
      const dropped = sampleValue(metrics, 'redscope_exporter_series_dropped_total', {
        collector: 'client_list',
      });
      // The test's four connections and the exporters' (each connects at its first scrape).
      expect(dropped).toBeGreaterThanOrEqual(3);
      const oldest = parseClientList(String(await master.client('LIST')))
        .sort((a, b) => b.age - a.age || a.id - b.id)
        .slice(0, 2)
        .map((c) => c.port);
      expect(samples.map((s) => s.labels.port).sort()).toEqual(oldest.sort());
      const again = await scrape(capped);
      expect(
        sampleValue(again, 'redscope_exporter_series_dropped_total', { collector: 'client_list' }),
      ).toBeGreaterThanOrEqual(2 * (dropped ?? 0));
    });

    it('exports the listed config parameters, numeric values only as redis_config_value, no secret', async () => {
      const response = await exporter.get(
        `/scrape?target=${encodeURIComponent(`redis://127.0.0.1:${topology.port('redis-0')}`)}`,
      );
      const metrics = parseExposition(response.text);
      expect(success(metrics, 'config_values')).toBe(1);
      const keyValue = (key: string, value: string) =>
        sampleValue(metrics, 'redis_config_key_value', { key, value });
      expect(keyValue('maxmemory', '104857600')).toBe(1);
      // The shipped configs' policy (sentinel/redis-master.conf).
      expect(keyValue('maxmemory-policy', 'volatile-lru')).toBe(1);
      expect(keyValue('save', '3600 1')).toBe(1);
      expect(keyValue('appendonly', 'yes')).toBe(1);
      expect(sampleValue(metrics, 'redis_config_value', { key: 'maxmemory' })).toBe(104857600);
      expect(sampleValue(metrics, 'redis_config_value', { key: 'hz' })).toBe(10);
      expect(
        metrics
          .get('redis_config_value')
          ?.samples.map((s) => s.labels.key)
          .sort(),
      ).toEqual(['hz', 'maxmemory']);
      expect(response.text).not.toContain('int-test-never-exported');
      expect(response.text).not.toContain('masterauth');
    });
  });

  describe('unhappy', () => {
    it('gives a script that does not compile, writes or returns text result 0 and no values, logged at debug', async () => {
      const metrics = await scrape(exporter);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'scripts')).toBe(1);
      for (const filename of ['broken.lua', 'writes.lua', 'text.lua']) {
        expect(sampleValue(metrics, 'redis_script_result', { filename })).toBe(0);
        expect(
          metrics.get('redis_script_values')?.samples.some((s) => s.labels.filename === filename),
        ).toBe(false);
      }
      expect(await master.exists('queue:touched')).toBe(0);
      const logged = (filename: string) =>
        exporter.logs.find((l) => l.msg === 'script failed' && l.filename === filename)?.err;
      expect(logged('broken.lua')).toMatch(/Error compiling script/);
      expect(logged('writes.lua')).toMatch(/Write commands are not allowed from read-only scripts/);
      expect(logged('text.lua')).toMatch(/"a" is not a number/);
    });

    it('sends a script Redis could not compile once, not at every scrape', async () => {
      await scrape(exporter);
      const errors = async () =>
        Number(/errorstat_ERR:count=(\d+)/.exec(String(await master.info('errorstats')))?.[1] ?? 0);
      const before = await errors();
      const metrics = await scrape(exporter);
      await scrape(exporter);
      // writes.lua still fails at every scrape (Redis refuses its write); broken.lua is not sent again.
      expect((await errors()) - before).toBe(2);
      expect(sampleValue(metrics, 'redis_script_result', { filename: 'broken.lua' })).toBe(0);
      const logged = exporter.logs.filter(
        (l) => l.msg === 'script failed' && l.filename === 'broken.lua',
      );
      expect(logged.at(-1)?.err).toMatch(/Error compiling script/);
    });

    it('shows the client port only when asked', async () => {
      const plain = await scrape(exporter);
      expect(plain.get('redis_connected_clients_details')?.labelNames.has('port')).toBe(false);
      const withPort = await scrape(capped);
      const samples = withPort.get('redis_connected_clients_details')?.samples ?? [];
      expect(samples).toHaveLength(2);
      for (const sample of samples) expect(sample.labels.port).toMatch(/^\d+$/);
    });

    it('fails only config_values (and config) on a Redis with CONFIG renamed away', async () => {
      const metrics = await scrape(exporter, renamed.port('redis-0'));
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'config_values')).toBe(0);
      expect(success(metrics, 'config')).toBe(0);
      expect(metrics.has('redis_config_key_value')).toBe(false);
      expect(success(metrics, 'client_list')).toBe(1);
      expect(success(metrics, 'info')).toBe(1);
      expect(
        sampleValue(metrics, 'redis_script_values', {
          filename: 'other-queue.lua',
          key: 'jobs_waiting',
        }),
      ).toBe(99);
    });

    it('gives scripts result 0 for a user without EVAL_RO while the function still runs', async () => {
      const metrics = await scrape(restricted, topology.port('redis-0'), 'localhost');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'scripts')).toBe(1);
      expect(sampleValue(metrics, 'redis_script_result', { filename: 'queue.lua' })).toBe(0);
      expect(
        sampleValue(metrics, 'redis_script_values', {
          filename: 'function:queue_depth',
          key: 'jobs_waiting',
        }),
      ).toBe(3);
      expect(
        restricted.logs.find((l) => l.msg === 'script failed' && l.filename === 'queue.lua')?.err,
      ).toMatch(/NOPERM.*eval_ro/);
    });

    it('fails the scripts collector, not the scrape, for a user with neither EVAL_RO nor FCALL_RO', async () => {
      const metrics = await scrape(restricted);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'scripts')).toBe(0);
      expect(metrics.has('redis_script_values')).toBe(false);
      expect(success(metrics, 'info')).toBe(1);
    });
  });
});
