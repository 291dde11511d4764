import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataNodeAclRules, EXPORTER_ACL_USER } from '../../exporter/acl.js';
import { loadExporterConfig } from '../../exporter/config.js';
import { RedisTopology } from '../../stack/topology.js';
import { familyDifferences } from './support/compare-families.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { errorstats } from './support/node-stats.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';
import { promtoolFindings } from './support/promtool.js';
import { type ReferenceExporter, startRedisExporter } from './support/redis-exporter.js';

/**
 * redis_exporter 1.45's opt-in collectors against ours on the same data:
 * `-check-keys`, `-check-single-keys`, `-check-streams`, `-check-single-streams`,
 * `-count-keys`, `-check-key-groups`, `-script`, `-export-client-list` and
 * `-include-config-metrics`, each with its redscope flag of the same name.
 */
let topology: RedisTopology;
let reference: ReferenceExporter;
let ours: TestExporter;
let dir: string;
let theirsText = '';
let oursText = '';

/** The same settings for both exporters; ours spells lists as arrays. */
const SETTINGS = {
  'check-keys': ['k:*'],
  // A key with a space: an ACL key pattern cannot hold one, escaped or not.
  'check-single-keys': ['db0=k:num', 'db0=k:str', 'db0=k:with space'],
  'check-streams': ['k:stream*'],
  'check-single-streams': ['db0=k:stream'],
  'count-keys': ['db0=k:*', 'db1=other:*'],
  'check-key-groups': ['^(k):.*'],
} as const;

const referenceArgs = (script: string) => [
  ...Object.entries(SETTINGS).flatMap(([flag, values]) => [`-${flag}`, values.join(',')]),
  '-script',
  script,
  '-export-client-list',
  '-include-config-metrics',
];

const ourFlags = (script: string) => ({
  ...Object.fromEntries(Object.entries(SETTINGS).map(([flag, values]) => [flag, [...values]])),
  script: [script],
  'export-client-list': true,
  'include-config-metrics': true,
  'allow-target': ['redis://127.0.0.1:*'],
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-compat-opt-in-'));
  const script = join(dir, 'queue-depth.lua');
  writeFileSync(
    script,
    // Constants: redis_exporter runs scripts on a connection its key scans moved to another DB.
    "return {'jobs_waiting', '3', 'ratio', '0.5'}\n",
  );
  topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  });
  const master = topology.connect(topology.port('redis-0'));
  try {
    await master.set('k:num', '42');
    await master.set('k:str', 'hello');
    await master.set('k:with space', 'spaced');
    await master.rpush('k:list', 'a', 'b', 'c');
    await master.sadd('k:set', 'a', 'b');
    await master.zadd('k:zset', 1, 'a', 2, 'b');
    await master.hset('k:hash', 'f', 'v', 'g', 'w');
    await master.pfadd('k:hll', 'a', 'b', 'c');
    await master.xadd('k:stream', '*', 'f', 'v');
    await master.xadd('k:stream', '*', 'f', 'w');
    await master.xgroup('CREATE', 'k:stream', 'g1', '0');
    await master.xreadgroup('GROUP', 'g1', 'c1', 'COUNT', '1', 'STREAMS', 'k:stream', '>');
    await master.select(1);
    await master.set('other:1', 'x');
  } finally {
    master.disconnect();
  }
  const url = `redis://127.0.0.1:${topology.port('redis-0')}`;
  reference = await startRedisExporter(topology.describe(), url, referenceArgs(script));
  ours = await startTestExporter(ourFlags(script) as never);
  theirsText = await (await fetch(`${reference.url}/metrics`)).text();
  const response = await ours.get(`/scrape?target=${encodeURIComponent(url)}`);
  expect(response.status).toBe(200);
  oursText = response.text;
}, 60_000);

afterAll(async () => {
  await ours?.close();
  await reference?.stop();
  await topology?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("compatibility of the opt-in collectors with redis_exporter 1.45's", () => {
  describe('happy', () => {
    it('exports every family redis_exporter does, with the same type and label names', () => {
      const theirs = parseExposition(theirsText);
      const mine = parseExposition(oursText);
      // The data must have produced the opt-in families on their side, or the comparison is empty.
      for (const name of [
        'redis_key_size',
        'redis_key_value',
        'redis_key_value_as_string',
        'redis_keys_count',
        'redis_key_group_count',
        'redis_key_group_memory_usage_bytes',
        'redis_number_of_distinct_key_groups',
        'redis_stream_length',
        'redis_stream_group_messages_pending',
        'redis_stream_group_consumer_idle_seconds',
        'redis_script_values',
        'redis_connected_clients_details',
        'redis_config_value',
        'redis_config_key_value',
      ]) {
        expect(theirs.has(name), `redis_exporter should export ${name}`).toBe(true);
        expect(mine.has(name), `redscope should export ${name}`).toBe(true);
      }
      expect(familyDifferences('master', theirs, mine)).toEqual([]);
      // The one documented label difference: several scripts stay apart by file.
      expect([...(mine.get('redis_script_values')?.labelNames ?? [])].sort()).toEqual([
        'filename',
        'key',
      ]);
    });

    it('agrees with redis_exporter on the values of every type, the counts and the stream', () => {
      const theirs = parseExposition(theirsText);
      const mine = parseExposition(oursText);
      const cases: [string, Record<string, string>][] = [
        ['redis_key_size', { db: 'db0', key: 'k:num' }],
        ['redis_key_size', { db: 'db0', key: 'k:str' }],
        ['redis_key_size', { db: 'db0', key: 'k:with space' }],
        ['redis_key_value', { db: 'db0', key: 'k:num' }],
        ['redis_key_value_as_string', { db: 'db0', key: 'k:str', val: 'hello' }],
        ['redis_keys_count', { db: 'db0', key: 'k:*' }],
        ['redis_keys_count', { db: 'db1', key: 'other:*' }],
        ['redis_key_group_count', { db: 'db0', key_group: 'k' }],
        ['redis_key_group_count', { db: 'db1', key_group: 'unclassified' }],
        ['redis_stream_length', { db: 'db0', stream: 'k:stream' }],
        ['redis_stream_groups', { db: 'db0', stream: 'k:stream' }],
        ['redis_stream_group_messages_pending', { db: 'db0', stream: 'k:stream', group: 'g1' }],
        ['redis_stream_group_consumers', { db: 'db0', stream: 'k:stream', group: 'g1' }],
        [
          'redis_stream_group_consumer_messages_pending',
          { db: 'db0', stream: 'k:stream', group: 'g1', consumer: 'c1' },
        ],
        ['redis_config_value', { key: 'maxclients' }],
      ];
      for (const [name, labels] of cases) {
        const expected = sampleValue(theirs, name, labels);
        expect(expected, `redis_exporter ${name} ${JSON.stringify(labels)}`).toBeDefined();
        expect(sampleValue(mine, name, labels), `${name} ${JSON.stringify(labels)}`).toBe(expected);
      }
      // Their script has no filename label; ours names the file.
      expect(sampleValue(theirs, 'redis_script_values', { key: 'jobs_waiting' })).toBe(3);
      expect(
        sampleValue(mine, 'redis_script_values', {
          filename: 'queue-depth.lua',
          key: 'jobs_waiting',
        }),
      ).toBe(3);
      // Every size redis_exporter reports for the pattern keys, ours reports too.
      for (const sample of theirs.get('redis_key_size')?.samples ?? []) {
        expect(sampleValue(mine, 'redis_key_size', sample.labels), sample.labels.key).toBe(
          sample.value,
        );
      }
    });

    it('passes promtool check metrics on the redscope families it adds', async () => {
      const findings = await promtoolFindings(oursText);
      expect(findings.filter((f) => f.startsWith('redscope_'))).toEqual([]);
    });
  });

  describe('unhappy', () => {
    it('lets every opt-in collector succeed with the documented least-privilege ACL for this config', async () => {
      const script = join(dir, 'queue-depth.lua');
      const flags = ourFlags(script);
      const config = loadExporterConfig({ flags: flags as never, env: {} });
      const admin = topology.connect(topology.port('redis-0'));
      const passwordFile = join(dir, 'exporter.password');
      writeFileSync(passwordFile, 'opt-in-pass-1\n');
      let limited: TestExporter | undefined;
      try {
        await admin.call(
          'ACL',
          'SETUSER',
          EXPORTER_ACL_USER,
          ...dataNodeAclRules('opt-in-pass-1', { optIn: config.optIn }),
        );
        const url = `redis://127.0.0.1:${topology.port('redis-0')}`;
        limited = await startTestExporter({
          ...flags,
          'redis-url': url,
          username: EXPORTER_ACL_USER,
          'password-file': passwordFile,
        } as never);
        const before = await errorstats(admin);
        const response = await limited.get('/metrics');
        const parsed = parseExposition(response.text);
        expect(sampleValue(parsed, 'redis_up')).toBe(1);
        const failed = (parsed.get('redscope_exporter_collector_success')?.samples ?? [])
          .filter((s) => s.value !== 1)
          .map((s) => s.labels.collector);
        expect(failed).toEqual([]);
        expect(sampleValue(parsed, 'redis_key_size', { db: 'db0', key: 'k:num' })).toBe(2);
        expect(sampleValue(parsed, 'redis_key_size', { db: 'db0', key: 'k:with space' })).toBe(6);
        // db1 is read on db1 (SELECT granted), not on db0 under db1's label.
        expect(sampleValue(parsed, 'redis_keys_count', { db: 'db1', key: 'other:*' })).toBe(1);
        expect(
          sampleValue(parsed, 'redis_key_group_count', { db: 'db1', key_group: 'unclassified' }),
        ).toBe(1);
        // The least-privilege scrape provokes no error reply (NOPERM, WRONGTYPE, ...) in Redis.
        expect(await errorstats(admin)).toBe(before);
      } finally {
        await limited?.close();
        await admin.call('ACL', 'DELUSER', EXPORTER_ACL_USER);
        admin.disconnect();
      }
    });
  });
});
