import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_NODE_COMMANDS } from '../../../exporter/acl.js';
import { RedisTopology } from '../../../stack/topology.js';
import { startTestExporter, type TestExporter } from '../support/exporter-harness.js';
import { errorstats } from '../support/node-stats.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';
import { promtoolFindings } from '../support/promtool.js';

/**
 * The key collectors (key_checks, count_keys, key_groups, streams) against a
 * real master and replica: every type, two databases, redaction, caps,
 * read_from replica, a user without MEMORY, and no error reply provoked.
 */
let topology: RedisTopology;
let master: Redis;
let replica: Redis;
let dir: string;
const exporters: TestExporter[] = [];
/** Default settings: pattern keys redacted. */
let main: TestExporter;
let rawNames: TestExporter;
let missingAsZero: TestExporter;
let noConsumers: TestExporter;
let replicaOnly: TestExporter;
/** Scrapes `localhost` as a user without MEMORY, 127.0.0.1 as the admin. */
let noMemory: TestExporter;

const SESSION_ID = 'a3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
/**
 * db2: a string that starts like a sparse HyperLogLog whose cached count is
 * stale but whose registers are missing (PFCOUNT would answer -INVALIDOBJ), a
 * list whose name is not UTF-8, and a number longer than 64 bytes.
 */
const FAKE_HLL = Buffer.concat([
  Buffer.from('HYLL\x01', 'latin1'),
  Buffer.alloc(10),
  Buffer.from([0x80]),
]);
const BINARY_NAME = Buffer.from([0x62, 0xff, 0x01]);
const LONG_NUMBER = '1'.repeat(70);
const SESSION_KEY = `session:${SESSION_ID}`;
const LONG = 'x'.repeat(100);

/** Every db0 key a `k:*` pattern matches, with its type. */
const K_KEYS = [
  'k:num',
  'k:text',
  'k:long',
  'k:list',
  'k:set',
  'k:zset',
  'k:hash',
  'k:stream',
  'k:hll',
];

const FLAGS = {
  'allow-target': ['redis://127.0.0.1:*', 'redis://localhost:*'],
  'check-keys': ['db0=k:*', 'db0=session:*', 'db0=queue:*', 'db1=k:*', 'db2=*'],
  'check-single-keys': ['db0=k:num', 'db0=k:text', 'db0=missing:key', 'db1=k:one'],
  'check-streams': ['db0=s:*'],
  'check-single-streams': ['db0=s:orders', 'db0=k:list', 'db0=s:missing'],
  'count-keys': ['db0=k:*', 'db1=k:*', 'db0=session:*', 'db0=nothing:*'],
  'check-key-groups': ['^(k):', '^(queue):(%a+)'],
  'max-distinct-key-groups': '2',
};

async function scrape(on: TestExporter, port = topology.port('redis-0'), host = '127.0.0.1') {
  const target = encodeURIComponent(`redis://${host}:${port}`);
  const response = await on.get(`/scrape?target=${target}`);
  expect(response.status).toBe(200);
  return { text: response.text, metrics: parseExposition(response.text) };
}

const success = (metrics: ReturnType<typeof parseExposition>, collector: string) =>
  sampleValue(metrics, 'redscope_exporter_collector_success', { collector });

/** Label sets of a family, as `k=v,...` strings (sorted), for exact comparisons. */
function series(metrics: ReturnType<typeof parseExposition>, name: string): string[] {
  return (metrics.get(name)?.samples ?? [])
    .filter((s) => s.name === name)
    .map((s) =>
      Object.entries(s.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    )
    .sort();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-keys-'));
  topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 1,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  });
  master = topology.connect(topology.port('redis-0'));
  replica = topology.connect(topology.port('redis-1'));

  const db0 = master.pipeline();
  db0.set('k:num', '42.5');
  db0.set('k:text', 'hello world');
  db0.set('k:long', LONG);
  db0.rpush('k:list', 'a', 'b', 'c');
  db0.sadd('k:set', 'a', 'b');
  db0.zadd('k:zset', 1, 'a', 2, 'b', 3, 'c');
  db0.hset('k:hash', 'f', 'v', 'g', 'w');
  db0.xadd('k:stream', '*', 'f', 'v');
  db0.xadd('k:stream', '*', 'f', 'w');
  db0.pfadd('k:hll', 'a', 'b', 'c', 'd');
  db0.set(SESSION_KEY, 'user-17');
  db0.rpush('queue:email:wait', '1', '2', '3', '4', '5');
  db0.rpush('queue:sms:wait', '1');
  for (let i = 0; i < 3; i++) db0.xadd('s:orders', '*', 'n', String(i));
  db0.xgroup('CREATE', 's:orders', 'billing', '0');
  db0.xgroup('CREATE', 's:orders', 'shipping', '0');
  db0.xreadgroup('GROUP', 'billing', 'worker-1', 'COUNT', '2', 'STREAMS', 's:orders', '>');
  db0.xadd('s:audit', '*', 'who', 'me');
  await db0.exec();
  await master.select(1);
  await master.mset('k:one', '7', 'k:x', 'abc', 'other', 'z');
  await master.select(2);
  await master.set('hll:fake', FAKE_HLL);
  await master.rpush(BINARY_NAME, 'a', 'b');
  await master.set('num:long', LONG_NUMBER);
  await master.select(0);
  await master.call('WAIT', '1', '5000');

  // `localhost` scrapes log in as a user with every key command but MEMORY.
  await master.call(
    'ACL',
    'SETUSER',
    'no-memory',
    'reset',
    'on',
    '>pass-1',
    '-@all',
    ...DATA_NODE_COMMANDS.map((c) => `+${c}`),
    '+scan',
    '+select',
    '~*',
    ...['type', 'strlen', 'getrange', 'llen', 'scard', 'zcard', 'hlen', 'xlen', 'pfcount'].map(
      (c) => `+${c}`,
    ),
    '+xinfo|stream',
    '+xinfo|groups',
    '+xinfo|consumers',
  );
  writeFileSync(
    join(dir, 'credentials.yaml'),
    [
      'targets:',
      '  - match: "redis://localhost:*"',
      '    username: no-memory',
      '    password: pass-1',
      '',
    ].join('\n'),
  );

  const start = async (flags: Record<string, unknown>) => {
    const exporter = await startTestExporter({ ...FLAGS, ...flags } as never);
    exporters.push(exporter);
    return exporter;
  };
  main = await start({});
  rawNames = await start({ 'check-keys-raw-names': true });
  missingAsZero = await start({ 'check-single-keys-missing-as-zero': true });
  noConsumers = await start({ 'streams-exclude-consumer-metrics': true });
  replicaOnly = await start({ 'check-keys-read-from': 'replica' });
  noMemory = await start({ 'credentials-file': join(dir, 'credentials.yaml') });
}, 60_000);

afterAll(async () => {
  await Promise.all(exporters.map((e) => e.close()));
  master?.disconnect();
  replica?.disconnect();
  await topology?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the key collectors, against a real master and replica', () => {
  describe('happy', () => {
    it('sizes every type by its own command, with MEMORY USAGE, in db0 and db1', async () => {
      const { metrics } = await scrape(main);
      for (const name of ['key_checks', 'streams', 'count_keys', 'key_groups']) {
        expect(success(metrics, name), name).toBe(1);
      }
      const size = (key: string, db = 'db0') => sampleValue(metrics, 'redis_key_size', { db, key });
      expect(size('k:num')).toBe(4);
      expect(size('k:text')).toBe(11);
      expect(size('k:long')).toBe(100);
      expect(size('k:list')).toBe(3);
      expect(size('k:set')).toBe(2);
      expect(size('k:zset')).toBe(3);
      expect(size('k:hash')).toBe(2);
      expect(size('k:stream')).toBe(2);
      // PFCOUNT, not STRLEN, for the HyperLogLog.
      expect(size('k:hll')).toBe(4);
      expect(size('queue:email:wait')).toBe(5);
      expect(size('k:one', 'db1')).toBe(1);
      expect(size('k:x', 'db1')).toBe(3);
      for (const key of K_KEYS) {
        const memory = Number(await master.call('MEMORY', 'USAGE', key));
        expect(sampleValue(metrics, 'redis_key_memory_usage_bytes', { db: 'db0', key }), key).toBe(
          memory,
        );
      }
      // Each key once, though single keys and patterns name k:num and k:text twice.
      const sizes = series(metrics, 'redis_key_size');
      expect(new Set(sizes).size).toBe(sizes.length);
      expect(sizes.filter((s) => s.startsWith('db=db0,key=k:'))).toHaveLength(K_KEYS.length);
    });

    it('exports numbers as values, and text as a label only for single keys', async () => {
      const { metrics } = await scrape(main);
      expect(sampleValue(metrics, 'redis_key_value', { db: 'db0', key: 'k:num' })).toBe(42.5);
      expect(sampleValue(metrics, 'redis_key_value', { db: 'db1', key: 'k:one' })).toBe(7);
      // k:text is a single key; k:x (db1) and the session come from patterns; k:long is past 64 bytes.
      expect(series(metrics, 'redis_key_value_as_string')).toEqual([
        'db=db0,key=k:text,val=hello world',
      ]);
      expect(sampleValue(metrics, 'redis_key_value', { key: 'k:hll' })).toBeUndefined();
    });

    it('redacts key names found by a pattern, but not readable ones or configured ones', async () => {
      const { metrics, text } = await scrape(main);
      expect(text).not.toContain(SESSION_ID);
      const session = series(metrics, 'redis_key_size').find((s) => s.includes('key=session:'));
      expect(session).toMatch(/^db=db0,key=session:#[0-9a-f]{10}$/);
      expect(sampleValue(metrics, 'redis_key_size', { db: 'db0', key: 'queue:email:wait' })).toBe(
        5,
      );
      // A configured key is labelled as configured.
      expect(sampleValue(metrics, 'redis_key_size', { db: 'db0', key: 'k:text' })).toBe(11);
    });

    it('exports raw names and every short text value with --check-keys-raw-names', async () => {
      const { metrics } = await scrape(rawNames);
      expect(sampleValue(metrics, 'redis_key_size', { db: 'db0', key: SESSION_KEY })).toBe(7);
      expect(series(metrics, 'redis_key_value_as_string')).toEqual([
        'db=db0,key=k:text,val=hello world',
        `db=db0,key=${SESSION_KEY},val=user-17`,
        'db=db1,key=k:x,val=abc',
      ]);
    });

    it('has no series for a missing single key, unless missing keys count as zero', async () => {
      const { metrics } = await scrape(main);
      expect(sampleValue(metrics, 'redis_key_size', { key: 'missing:key' })).toBeUndefined();
      const zero = await scrape(missingAsZero);
      expect(sampleValue(zero.metrics, 'redis_key_size', { db: 'db0', key: 'missing:key' })).toBe(
        0,
      );
      expect(
        sampleValue(zero.metrics, 'redis_key_memory_usage_bytes', { key: 'missing:key' }),
      ).toBeUndefined();
    });

    it('counts the keys of each pattern per database', async () => {
      const { metrics } = await scrape(main);
      const count = (db: string, key: string) =>
        sampleValue(metrics, 'redis_keys_count', { db, key });
      expect(count('db0', 'k:*')).toBe(K_KEYS.length);
      expect(count('db1', 'k:*')).toBe(2);
      expect(count('db0', 'session:*')).toBe(1);
      expect(count('db0', 'nothing:*')).toBe(0);
      expect(
        sampleValue(metrics, 'redscope_key_scan_progress_ratio', {
          collector: 'count_keys',
          db: 'db0',
          pattern: 'k:*',
        }),
      ).toBe(1);
    });

    it('groups keys by their captures, with unclassified and overflow past the maximum', async () => {
      const before = await scrape(main);
      const { metrics } = await scrape(main);
      // db0: k (9 keys), queueemail, queuesms, and unclassified (the session, s:orders, s:audit).
      const memory = async (keys: string[]) => {
        let sum = 0;
        for (const key of keys) sum += Number(await master.call('MEMORY', 'USAGE', key));
        return sum;
      };
      const groups: [string, number, number][] = [
        ['k', K_KEYS.length, await memory(K_KEYS)],
        ['queueemail', 1, await memory(['queue:email:wait'])],
        ['queuesms', 1, await memory(['queue:sms:wait'])],
        ['unclassified', 3, await memory([SESSION_KEY, 's:orders', 's:audit'])],
      ];
      groups.sort((a, b) => b[2] - a[2] || a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
      const kept = groups.slice(0, 2);
      const folded = groups.slice(2);
      for (const [group, count, bytes] of kept) {
        expect(sampleValue(metrics, 'redis_key_group_count', { db: 'db0', key_group: group })).toBe(
          count,
        );
        expect(
          sampleValue(metrics, 'redis_key_group_memory_usage_bytes', {
            db: 'db0',
            key_group: group,
          }),
        ).toBe(bytes);
      }
      expect(
        sampleValue(metrics, 'redis_key_group_count', { db: 'db0', key_group: 'overflow' }),
      ).toBe(folded.reduce((n, g) => n + g[1], 0));
      expect(
        sampleValue(metrics, 'redis_key_group_memory_usage_bytes', {
          db: 'db0',
          key_group: 'overflow',
        }),
      ).toBe(folded.reduce((n, g) => n + g[2], 0));
      expect(
        series(metrics, 'redis_key_group_count').filter((s) => s.startsWith('db=db0')),
      ).toHaveLength(3);
      expect(sampleValue(metrics, 'redis_number_of_distinct_key_groups', { db: 'db0' })).toBe(4);
      // db1: k (k:one, k:x) and unclassified (other): within the maximum, no overflow.
      expect(
        series(metrics, 'redis_key_group_count').filter((s) => s.startsWith('db=db1')),
      ).toEqual(['db=db1,key_group=k', 'db=db1,key_group=unclassified']);
      expect(sampleValue(metrics, 'redis_number_of_distinct_key_groups', { db: 'db1' })).toBe(2);
      expect(
        sampleValue(metrics, 'redis_last_key_groups_scrape_duration_milliseconds'),
      ).toBeGreaterThanOrEqual(0);
      // Two groups folded by each pass (one per scrape on this small keyspace), counted as groups.
      const dropped = (m: ReturnType<typeof parseExposition>) =>
        sampleValue(m, 'redscope_exporter_series_dropped_total', { collector: 'key_groups' }) ?? -1;
      expect(dropped(metrics) - dropped(before.metrics)).toBe(2);
    });

    it('reads streams with groups, lag, pending and consumers; a wrong type is flagged, not read', async () => {
      const { metrics } = await scrape(main);
      const s = { db: 'db0', stream: 's:orders' };
      expect(sampleValue(metrics, 'redis_stream_length', s)).toBe(3);
      expect(sampleValue(metrics, 'redis_stream_groups', s)).toBe(2);
      expect(sampleValue(metrics, 'redis_stream_entries_added_total', s)).toBe(3);
      const info = (await master.call('XINFO', 'STREAM', 's:orders')) as unknown[];
      const lastId = String(info[info.indexOf('last-generated-id') + 1]);
      expect(sampleValue(metrics, 'redis_stream_last_generated_id', s)).toBe(
        Number(lastId.split('-')[0]),
      );
      expect(sampleValue(metrics, 'redis_stream_last_entry_id', s)).toBe(
        Number(lastId.split('-')[0]),
      );
      const billing = { ...s, group: 'billing' };
      expect(sampleValue(metrics, 'redis_stream_group_consumers', billing)).toBe(1);
      expect(sampleValue(metrics, 'redis_stream_group_messages_pending', billing)).toBe(2);
      expect(sampleValue(metrics, 'redis_stream_group_entries_read', billing)).toBe(2);
      expect(sampleValue(metrics, 'redis_stream_group_lag', billing)).toBe(1);
      expect(sampleValue(metrics, 'redis_stream_group_lag', { ...s, group: 'shipping' })).toBe(3);
      const worker = { ...billing, consumer: 'worker-1' };
      expect(sampleValue(metrics, 'redis_stream_group_consumer_messages_pending', worker)).toBe(2);
      expect(
        sampleValue(metrics, 'redis_stream_group_consumer_idle_seconds', worker),
      ).toBeGreaterThanOrEqual(0);
      // s:orders is both a single stream and a pattern match: one series.
      expect(series(metrics, 'redis_stream_length')).toEqual([
        'db=db0,stream=s:audit',
        'db=db0,stream=s:orders',
      ]);
      expect(
        sampleValue(metrics, 'redscope_key_check_wrong_type', {
          collector: 'streams',
          db: 'db0',
          key: 'k:list',
          type: 'list',
        }),
      ).toBe(1);
      expect(sampleValue(metrics, 'redis_stream_length', { stream: 'k:list' })).toBeUndefined();
      expect(sampleValue(metrics, 'redis_stream_length', { stream: 's:missing' })).toBeUndefined();
    });

    it('leaves out the per-consumer families with --streams-exclude-consumer-metrics', async () => {
      const { metrics } = await scrape(noConsumers);
      expect(
        sampleValue(metrics, 'redis_stream_group_lag', { stream: 's:orders', group: 'billing' }),
      ).toBe(1);
      expect(metrics.has('redis_stream_group_consumer_messages_pending')).toBe(false);
      expect(metrics.has('redis_stream_group_consumer_idle_seconds')).toBe(false);
    });

    it('reads a fake HyperLogLog as a string, a name that is not UTF-8 by its bytes, a 70-digit number whole', async () => {
      const { metrics } = await scrape(rawNames);
      expect(success(metrics, 'key_checks')).toBe(1);
      const db2 = (key: string) => sampleValue(metrics, 'redis_key_size', { db: 'db2', key });
      // STRLEN, not PFCOUNT: Redis would refuse to count it.
      expect(db2('hll:fake')).toBe(FAKE_HLL.length);
      expect(
        sampleValue(metrics, 'redis_key_value', { db: 'db2', key: 'hll:fake' }),
      ).toBeUndefined();
      // The list named b\xff\x01, read by its bytes and labelled with them.
      expect(db2('b\\xff\\x01')).toBe(2);
      expect(
        sampleValue(metrics, 'redis_key_memory_usage_bytes', { db: 'db2', key: 'b\\xff\\x01' }),
      ).toBeGreaterThan(0);
      // Go's ParseFloat reads every digit, and so does redscope.
      expect(sampleValue(metrics, 'redis_key_value', { db: 'db2', key: 'num:long' })).toBe(
        Number(LONG_NUMBER),
      );
      // MEMORY USAGE by bytes: the key that is not UTF-8 counts in its group too.
      expect(
        sampleValue(metrics, 'redis_key_group_count', { db: 'db2', key_group: 'unclassified' }),
      ).toBe(3);
    });

    it('redacts key group names captured from key names, unless raw key names', async () => {
      const flags = {
        'allow-target': ['redis://127.0.0.1:*'],
        'check-key-groups': ['^(session:[^:]+)', '^(queue:%a+)'],
      };
      const redacted = await startTestExporter(flags as never);
      const raw = await startTestExporter({ ...flags, 'check-keys-raw-names': true } as never);
      exporters.push(redacted, raw);
      const hidden = await scrape(redacted);
      expect(hidden.text).not.toContain(SESSION_ID);
      const groups = series(hidden.metrics, 'redis_key_group_count').filter((g) =>
        g.startsWith('db=db0,'),
      );
      expect(groups).toContainEqual(
        expect.stringMatching(/^db=db0,key_group=session:#[0-9a-f]{10}$/),
      );
      // Readable captures stay as they are.
      expect(groups).toContain('db=db0,key_group=queue:email');
      const shown = await scrape(raw);
      expect(
        sampleValue(shown.metrics, 'redis_key_group_count', { db: 'db0', key_group: SESSION_KEY }),
      ).toBe(1);
    });

    it('caps the streams of the patterns by their series, not their number', async () => {
      const capped = await startTestExporter({
        'allow-target': ['redis://127.0.0.1:*'],
        'check-streams': ['db0=s:*'],
        // s:audit writes 9 series; s:orders, with two groups and a consumer, about 20.
        'check-keys-max-series': '12',
      } as never);
      exporters.push(capped);
      const { metrics } = await scrape(capped);
      expect(success(metrics, 'streams')).toBe(1);
      const written = [...metrics.values()]
        .filter((f) => f.name.startsWith('redis_stream_'))
        .reduce((n, f) => n + f.samples.length, 0);
      expect(written).toBeLessThanOrEqual(12);
      expect(series(metrics, 'redis_stream_length')).toEqual(['db=db0,stream=s:audit']);
      expect(
        sampleValue(metrics, 'redscope_exporter_series_dropped_total', { collector: 'streams' }),
      ).toBe(1);
    });

    it('with read_from replica, leaves the master alone and reads the replica', async () => {
      const onMaster = await scrape(replicaOnly);
      for (const collector of ['key_checks', 'streams', 'count_keys', 'key_groups']) {
        expect(
          sampleValue(onMaster.metrics, 'redscope_key_checks_skipped', {
            collector,
            reason: 'master',
          }),
          collector,
        ).toBe(1);
        expect(success(onMaster.metrics, collector)).toBe(1);
      }
      for (const family of [
        'redis_key_size',
        'redis_keys_count',
        'redis_key_group_count',
        'redis_stream_length',
      ]) {
        expect(onMaster.metrics.has(family), family).toBe(false);
      }
      const onReplica = await scrape(replicaOnly, topology.port('redis-1'));
      expect(
        sampleValue(onReplica.metrics, 'redscope_key_checks_skipped', { collector: 'key_checks' }),
      ).toBe(0);
      expect(sampleValue(onReplica.metrics, 'redis_key_size', { db: 'db0', key: 'k:list' })).toBe(
        3,
      );
      expect(sampleValue(onReplica.metrics, 'redis_key_size', { db: 'db1', key: 'k:one' })).toBe(1);
      expect(sampleValue(onReplica.metrics, 'redis_keys_count', { db: 'db0', key: 'k:*' })).toBe(
        K_KEYS.length,
      );
      expect(sampleValue(onReplica.metrics, 'redis_stream_length', { stream: 's:orders' })).toBe(3);
    });

    it('passes promtool check metrics on the families it adds (redis_exporter names stay as they are)', async () => {
      const { text } = await scrape(main);
      const findings = await promtoolFindings(text);
      const added =
        /^(redscope_key|redis_key_memory_usage_bytes|redis_stream_(first_entry|last_entry|max_deleted|entries_added|group_entries_read|group_lag))/;
      expect(findings.filter((f) => added.test(f))).toEqual([]);
      // The check runs: it does flag redis_exporter's own _count gauge.
      expect(findings.some((f) => f.startsWith('redis_keys_count'))).toBe(true);
    });
  });

  describe('unhappy', () => {
    it('provokes no error reply in Redis: no WRONGTYPE, no missing key', async () => {
      const before = [await errorstats(master), await errorstats(replica)];
      for (const exporter of [main, rawNames, missingAsZero, noConsumers, replicaOnly]) {
        await scrape(exporter);
        await scrape(exporter, topology.port('redis-1'));
      }
      expect([await errorstats(master), await errorstats(replica)]).toEqual(before);
    });

    it('fails only the collectors whose command the ACL user lacks (MEMORY), not the scrape', async () => {
      const { metrics } = await scrape(noMemory, topology.port('redis-0'), 'localhost');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'key_checks')).toBe(0);
      expect(success(metrics, 'key_groups')).toBe(0);
      expect(success(metrics, 'count_keys')).toBe(1);
      expect(success(metrics, 'streams')).toBe(1);
      expect(success(metrics, 'info')).toBe(1);
      expect(sampleValue(metrics, 'redis_keys_count', { db: 'db0', key: 'k:*' })).toBe(
        K_KEYS.length,
      );
      expect(metrics.has('redis_key_size')).toBe(false);
      // The same exporter with the admin on 127.0.0.1 is unaffected.
      const admin = await scrape(noMemory);
      expect(success(admin.metrics, 'key_checks')).toBe(1);
    });

    it('fails the key collectors, not reads db0, for a database Redis will not SELECT', async () => {
      // `databases 16`: db20 does not exist. ioredis' own SELECT would only log and stay on db0.
      const beyond = await startTestExporter({
        'allow-target': ['redis://127.0.0.1:*'],
        'check-keys': ['db20=k:*'],
        'count-keys': ['db20=k:*'],
      } as never);
      exporters.push(beyond);
      const { metrics, text } = await scrape(beyond);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(success(metrics, 'key_checks')).toBe(0);
      expect(success(metrics, 'count_keys')).toBe(0);
      expect(text).not.toMatch(/redis_key(s_count|_size)\{db="db20"/);
    });

    it('caps the keys a pattern checks and counts the rest as dropped', async () => {
      const capped = await startTestExporter({
        'allow-target': ['redis://127.0.0.1:*'],
        'check-keys': ['db0=k:*'],
        'check-keys-max-series': '3',
      } as never);
      exporters.push(capped);
      const first = await scrape(capped);
      const second = await scrape(capped);
      expect(series(second.metrics, 'redis_key_size')).toHaveLength(3);
      const dropped = (m: ReturnType<typeof parseExposition>) =>
        sampleValue(m, 'redscope_exporter_series_dropped_total', { collector: 'key_checks' });
      expect(dropped(first.metrics)).toBe(K_KEYS.length - 3);
      expect(dropped(second.metrics)).toBe(2 * (K_KEYS.length - 3));
    });
  });
});
