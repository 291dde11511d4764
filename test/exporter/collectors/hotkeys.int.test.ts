import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  HOTKEY_REPORT_INDEX,
  type HotKeyReportEntry,
  hotKeyReportKey,
  serializeHotKeyReport,
} from '../../../client/common/hotkey-report.js';
import { KeyRedactor } from '../../../client/common/key-redaction.js';
import { dataNodeAclRules } from '../../../exporter/acl.js';
import { RedisTopology } from '../../../stack/topology.js';
import { startTestExporter, type TestExporter } from '../support/exporter-harness.js';
import { publishHotKeyReport, reportEntry } from '../support/hotkey-report-writer.js';
import { type ParsedFamily, parseExposition, sampleValue } from '../support/parse-exposition.js';
import { promtoolFindings } from '../support/promtool.js';

// A master and a replica of our own: the tests fill the report prefix with garbage.
let topology: RedisTopology;
let master: Redis;
let exporter: TestExporter;
let dir: string;

const redactor = new KeyRedactor({ secret: 'hotkeys-int-test-secret' });
const rawSession = `demo:session:${randomBytes(32).toString('hex')}`;
const sessionLabel = redactor.redact(rawSession);
const written: string[] = [];

/** Publishes a report as the client does, remembering its key for cleanup. */
async function publish(
  instance: string,
  keys: readonly HotKeyReportEntry[],
  ttlMs = 15_000,
): Promise<void> {
  written.push(hotKeyReportKey(instance));
  await publishHotKeyReport(master, instance, keys, ttlMs);
}

/** A value under the prefix that no client wrote, indexed like a report. */
async function plant(instance: string, write: (key: string) => Promise<unknown>): Promise<void> {
  written.push(hotKeyReportKey(instance));
  await write(hotKeyReportKey(instance));
  await master.zadd(HOTKEY_REPORT_INDEX, Date.now() + 60_000, instance);
}

const entry = reportEntry;

async function scrape(node: 'redis-0' | 'redis-1', host = '127.0.0.1') {
  const target = encodeURIComponent(`redis://${host}:${topology.port(node)}`);
  const response = await exporter.get(`/scrape?target=${target}`);
  expect(response.status).toBe(200);
  return { text: response.text, metrics: parseExposition(response.text) };
}

const series = (metrics: Map<string, ParsedFamily>, name: string) =>
  metrics.get(name)?.samples ?? [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-hotkeys-'));
  topology = await RedisTopology.start({ tls: false, acl: false, replicas: 1, sentinels: 0 });
  master = topology.connect(topology.port('redis-0'));
  // 127.0.0.1: the documented exporter ACL; localhost: an older ACL without the hot-key rights.
  for (const node of ['redis-0', 'redis-1']) {
    const client = topology.connect(topology.port(node));
    try {
      await client.call('ACL', 'SETUSER', 'exporter', ...dataNodeAclRules('exporter-pass'));
      const before = dataNodeAclRules('old-pass').filter(
        (rule) => !['+zrevrange', '+strlen', '+mget'].includes(rule) && !rule.startsWith('%R~'),
      );
      await client.call('ACL', 'SETUSER', 'old-exporter', ...before);
    } finally {
      client.disconnect();
    }
  }
  writeFileSync(
    join(dir, 'credentials.yaml'),
    [
      'targets:',
      '  - match: "redis://localhost:*"',
      '    username: old-exporter',
      '    password: old-pass',
      '  - match: "redis://127.0.0.1:*"',
      '    username: exporter',
      '    password: exporter-pass',
      '',
    ].join('\n'),
  );
  exporter = await startTestExporter({
    'allow-target': ['redis://127.0.0.1:*', 'redis://localhost:*'],
    'credentials-file': join(dir, 'credentials.yaml'),
  } as never);
}, 60_000);

afterEach(async () => {
  if (written.length > 0) await master.del(...written.splice(0));
  await master.del(HOTKEY_REPORT_INDEX);
});

afterAll(async () => {
  await exporter?.close();
  master?.disconnect();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the hotkeys collector, against a real Redis', () => {
  describe('happy', () => {
    it('merges two processes into one fleet-wide top list: the hot key with processes=2 and the summed rate', async () => {
      // Each process sees part of the traffic; neither alone is over the threshold for the org key.
      await publish('demo@web-1:101', [
        entry(sessionLabel, 3000, 300),
        entry('demo:org:42:settings', 600),
      ]);
      await publish('demo@web-2:202', [
        entry(sessionLabel, 2500, 250),
        entry('demo:org:42:settings', 500),
        entry('demo:org:7:settings', 40),
      ]);
      const { metrics, text } = await scrape('redis-0');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'hotkeys' }),
      ).toBe(1);
      const key = { key: sessionLabel };
      expect(sampleValue(metrics, 'redscope_hotkey_rate_per_minute', key)).toBe(5500);
      expect(sampleValue(metrics, 'redscope_hotkey_redis_rate_per_minute', key)).toBe(550);
      expect(sampleValue(metrics, 'redscope_hotkey_processes', key)).toBe(2);
      expect(sampleValue(metrics, 'redscope_hotkey_over_threshold', key)).toBe(1);
      const org = { key: 'demo:org:42:settings' };
      expect(sampleValue(metrics, 'redscope_hotkey_rate_per_minute', org)).toBe(1100);
      expect(sampleValue(metrics, 'redscope_hotkey_over_threshold', org)).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_hotkey_over_threshold', { key: 'demo:org:7:settings' }),
      ).toBe(0);
      expect(sampleValue(metrics, 'redscope_hotkey_keys_over_threshold')).toBe(2);
      expect(sampleValue(metrics, 'redscope_hotkey_threshold_per_minute')).toBe(1000);
      expect(sampleValue(metrics, 'redscope_hotkey_reports')).toBe(2);
      const age = sampleValue(metrics, 'redscope_hotkey_report_age_seconds') ?? -1;
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(10);
      expect(text).not.toContain(rawSession.split(':')[2]);
    });

    it('drops a stopped process: its report expires with its PX and it leaves the list', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000)]);
      await publish(
        'demo@gone:303',
        [entry(sessionLabel, 2000), entry('demo:only-gone', 900)],
        300,
      );
      const before = await scrape('redis-0');
      expect(sampleValue(before.metrics, 'redscope_hotkey_reports')).toBe(2);
      expect(sampleValue(before.metrics, 'redscope_hotkey_processes', { key: sessionLabel })).toBe(
        2,
      );
      await new Promise((resolve) => setTimeout(resolve, 400));
      const after = await scrape('redis-0');
      expect(sampleValue(after.metrics, 'redscope_hotkey_reports')).toBe(1);
      expect(sampleValue(after.metrics, 'redscope_hotkey_processes', { key: sessionLabel })).toBe(
        1,
      );
      expect(
        sampleValue(after.metrics, 'redscope_hotkey_rate_per_minute', { key: sessionLabel }),
      ).toBe(3000);
      expect(
        sampleValue(after.metrics, 'redscope_hotkey_rate_per_minute', { key: 'demo:only-gone' }),
      ).toBeUndefined();
      // An expired report is not an invalid one.
      for (const sample of series(after.metrics, 'redscope_hotkey_reports_invalid'))
        expect(sample.value).toBe(0);
    });

    it('exports the top 10 only, however many keys the processes report', async () => {
      const many = Array.from({ length: 300 }, (_, i) => entry(`demo:item:${i}`, 10 + i));
      await publish('demo@web-1:101', many.slice(0, 150));
      await publish('demo@web-2:202', many.slice(150));
      const { metrics } = await scrape('redis-0');
      const rates = series(metrics, 'redscope_hotkey_rate_per_minute');
      expect(rates.map((s) => s.labels.key)).toEqual(
        Array.from({ length: 10 }, (_, i) => `demo:item:${299 - i}`),
      );
      expect(series(metrics, 'redscope_hotkey_processes')).toHaveLength(10);
    });

    it('exports nothing about hot keys from a replica, where the same reports replicate', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000)]);
      const { metrics } = await scrape('redis-1');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'hotkeys' }),
      ).toBe(1);
      expect([...metrics.keys()].filter((name) => name.startsWith('redscope_hotkey_'))).toEqual([]);
    });

    it('has only reports and zero counts, no per-key series, when no process reports', async () => {
      const { metrics } = await scrape('redis-0');
      expect(sampleValue(metrics, 'redscope_hotkey_reports')).toBe(0);
      expect(sampleValue(metrics, 'redscope_hotkey_keys_over_threshold')).toBe(0);
      expect(metrics.has('redscope_hotkey_rate_per_minute')).toBe(false);
      expect(metrics.has('redscope_hotkey_threshold_per_minute')).toBe(false);
      expect(metrics.has('redscope_hotkey_report_age_seconds')).toBe(false);
    });

    it('passes promtool check metrics', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000), entry('demo:org:1', 5)]);
      const { text } = await scrape('redis-0');
      const findings = await promtoolFindings(text);
      expect(findings.filter((f) => f.startsWith('redscope_hotkey'))).toEqual([]);
    });
  });

  describe('unhappy', () => {
    it('counts a garbage, a too-large and a wrong-type value by reason, and the scrape still succeeds', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000)]);
      await plant('garbage', (key) => master.set(key, '{"v":1, this is not json'));
      await plant('big', (key) => master.set(key, 'x'.repeat(70 * 1024)));
      await plant('hash', (key) => master.hset(key, 'v', '1'));
      await plant('future', (key) => master.set(key, JSON.stringify({ v: 2 })));
      await plant('shape', (key) => master.set(key, JSON.stringify({ v: 1, instance: 'shape' })));
      const { metrics } = await scrape('redis-0');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      for (const collector of ['hotkeys', 'info', 'replication']) {
        expect(sampleValue(metrics, 'redscope_exporter_collector_success', { collector })).toBe(1);
      }
      const invalid = (reason: string) =>
        sampleValue(metrics, 'redscope_hotkey_reports_invalid', { reason });
      expect(invalid('not-json')).toBe(1);
      expect(invalid('too-large')).toBe(1);
      expect(invalid('invalid')).toBe(2); // the hash and the wrong shape
      expect(invalid('version')).toBe(1);
      expect(sampleValue(metrics, 'redscope_hotkey_reports')).toBe(1);
      expect(sampleValue(metrics, 'redscope_hotkey_rate_per_minute', { key: sessionLabel })).toBe(
        3000,
      );
    });

    it('skips a report whose keys were not redacted: no raw session id reaches /metrics', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000)]);
      await publish('demo@careless:404', [entry(rawSession, 9000)]);
      const { metrics, text } = await scrape('redis-0');
      expect(text).not.toContain(rawSession.split(':')[2]);
      expect(sampleValue(metrics, 'redscope_hotkey_reports_invalid', { reason: 'invalid' })).toBe(
        1,
      );
      expect(sampleValue(metrics, 'redscope_hotkey_reports')).toBe(1);
    });

    it('skips a report stored under another instance than the one it names', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000)]);
      await plant('demo@web-9:909', (key) =>
        master.set(
          key,
          serializeHotKeyReport({
            v: 1,
            instance: 'demo@web-1:101',
            service: 'demo',
            at: Date.now(),
            windowSeconds: 60,
            thresholdPerMinute: 1000,
            keys: [entry(sessionLabel, 3000)],
          }),
        ),
      );
      const { metrics } = await scrape('redis-0');
      expect(sampleValue(metrics, 'redscope_hotkey_processes', { key: sessionLabel })).toBe(1);
      expect(sampleValue(metrics, 'redscope_hotkey_reports_invalid', { reason: 'invalid' })).toBe(
        1,
      );
    });

    it('marks only the hotkeys collector failed when the ACL lacks the hot-key rights', async () => {
      await publish('demo@web-1:101', [entry(sessionLabel, 3000)]);
      const { metrics } = await scrape('redis-0', 'localhost');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'hotkeys' }),
      ).toBe(0);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'info' }),
      ).toBe(1);
      // On a replica the role is checked first: an old ACL costs nothing there.
      const replica = await scrape('redis-1', 'localhost');
      expect(
        sampleValue(replica.metrics, 'redscope_exporter_collector_success', {
          collector: 'hotkeys',
        }),
      ).toBe(1);
    });

    it('reads with the documented ACL only: the exporter user can read no other key', async () => {
      await master.set('demo:secret', 'value');
      const limited = topology.connect(topology.port('redis-0'), {
        username: 'exporter',
        password: 'exporter-pass',
      });
      try {
        await expect(limited.mget('demo:secret')).rejects.toThrow(/NOPERM/);
        await expect(limited.set(hotKeyReportKey('x'), '1')).rejects.toThrow(/NOPERM/);
        expect(await limited.zrevrange(HOTKEY_REPORT_INDEX, 0, -1)).toEqual([]);
      } finally {
        limited.disconnect();
        await master.del('demo:secret');
      }
    });
  });
});
