import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRedactor } from '../../../client/common/key-redaction.js';
import { dataNodeAclRules } from '../../../exporter/acl.js';
import { RedisTopology } from '../../../stack/topology.js';
import { startTestExporter, type TestExporter } from '../support/exporter-harness.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';
import { promtoolFindings } from '../support/promtool.js';

const SECRET = 'lfu-int-test-secret-0123456789';
const redactor = new KeyRedactor({ secret: SECRET });

// One plain master of our own: the tests switch its eviction policy.
let topology: RedisTopology;
let master: Redis;
let dir: string;
/** Samples 1000 keys per scrape: the whole keyspace here. */
let exporter: TestExporter;
/** Samples 50 keys per scrape, 10 per SCAN: needs several scrapes to walk the keyspace. */
let small: TestExporter;

const sessions = Array.from(
  { length: 200 },
  () => `demo:session:${randomBytes(32).toString('hex')}`,
);
const hot = sessions[17] as string;
const cold = Array.from({ length: 200 }, (_, i) => `demo:cold:${i}`);

async function scrape(on: TestExporter, host = '127.0.0.1') {
  const target = encodeURIComponent(`redis://${host}:${topology.port('redis-0')}`);
  const response = await on.get(`/scrape?target=${target}`);
  expect(response.status).toBe(200);
  return { text: response.text, metrics: parseExposition(response.text) };
}

const frequencies = (metrics: ReturnType<typeof parseExposition>) =>
  new Map(
    (metrics.get('redscope_hotkey_lfu_frequency')?.samples ?? []).map((s) => [
      s.labels.key,
      s.value,
    ]),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-lfu-'));
  topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  });
  master = topology.connect(topology.port('redis-0'));
  // 127.0.0.1: the documented ACL with the sampler's selector; localhost: SCAN but no OBJECT.
  await master.call('ACL', 'SETUSER', 'exporter', ...dataNodeAclRules('pass-1', { lfu: true }));
  await master.call('ACL', 'SETUSER', 'no-object', ...dataNodeAclRules('pass-2'), '(%R~* +scan)');
  writeFileSync(
    join(dir, 'credentials.yaml'),
    [
      'targets:',
      '  - match: "redis://localhost:*"',
      '    username: no-object',
      '    password: pass-2',
      '  - match: "redis://127.0.0.1:*"',
      '    username: exporter',
      '    password: pass-1',
      '',
    ].join('\n'),
  );
  const flags = {
    'allow-target': ['redis://127.0.0.1:*', 'redis://localhost:*'],
    'credentials-file': join(dir, 'credentials.yaml'),
    'hotkeys-lfu': true,
  };
  const env = { REDSCOPE_HOTKEYS_SECRET: SECRET };
  exporter = await startTestExporter(flags as never, env);
  small = await startTestExporter(
    {
      ...flags,
      'hotkeys-lfu-sample-keys': '50',
      'hotkeys-lfu-scan-count': '10',
      'hotkeys-lfu-top': '3',
    } as never,
    env,
  );
  await master.mset(...[...sessions, ...cold].flatMap((key) => [key, 'v']));
}, 60_000);

afterAll(async () => {
  await exporter?.close();
  await small?.close();
  master?.disconnect();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the LFU hot-key sampler, against a real Redis', () => {
  describe('happy', () => {
    it('ranks a key read many times above the cold ones, with the redacted name the clients use', async () => {
      await master.config('SET', 'maxmemory-policy', 'allkeys-lfu');
      const reads = master.pipeline();
      for (let i = 0; i < 3000; i++) reads.get(hot);
      await reads.exec();
      const { metrics, text } = await scrape(exporter);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(sampleValue(metrics, 'redscope_hotkey_lfu_available', { reason: 'ok' })).toBe(1);
      expect(sampleValue(metrics, 'redscope_hotkey_lfu_keys_sampled')).toBe(400);
      const seen = frequencies(metrics);
      expect(seen.size).toBe(10);
      const hotLabel = redactor.redact(hot);
      expect(hotLabel).toMatch(/^demo:session:#[0-9a-f]{10}$/);
      const hotFrequency = seen.get(hotLabel) ?? 0;
      for (const [key, value] of seen)
        if (key !== hotLabel) expect(hotFrequency).toBeGreaterThan(value);
      // No raw session id anywhere in the exposition.
      for (const session of sessions) expect(text).not.toContain(session.split(':')[2]);
      expect((await promtoolFindings(text)).filter((f) => f.startsWith('redscope_'))).toEqual([]);
    });

    it('walks the keyspace across scrapes with a small sample, then keeps the hot key it found', async () => {
      await master.config('SET', 'maxmemory-policy', 'allkeys-lfu');
      const hotLabel = redactor.redact(hot);
      let foundAt = -1;
      // 400 keys, 50 per scrape: one pass is 8 scrapes.
      for (let scrapeNo = 0; scrapeNo < 10 && foundAt < 0; scrapeNo++) {
        const { metrics } = await scrape(small);
        const sampled = sampleValue(metrics, 'redscope_hotkey_lfu_keys_sampled') ?? 0;
        expect(sampled).toBeLessThanOrEqual(50 + 3);
        expect(frequencies(metrics).size).toBeLessThanOrEqual(3);
        if (frequencies(metrics).has(hotLabel)) foundAt = scrapeNo;
      }
      expect(foundAt).toBeGreaterThanOrEqual(0);
      for (let i = 0; i < 3; i++) {
        const { metrics } = await scrape(small);
        expect(frequencies(metrics).has(hotLabel)).toBe(true);
      }
    });
  });

  describe('unhappy', () => {
    it('is not available, with the reason, while the policy is not LFU', async () => {
      await master.config('SET', 'maxmemory-policy', 'noeviction');
      const { metrics } = await scrape(exporter);
      expect(
        sampleValue(metrics, 'redscope_hotkey_lfu_available', { reason: 'not-lfu-policy' }),
      ).toBe(0);
      expect(metrics.get('redscope_hotkey_lfu_available')?.samples).toHaveLength(1);
      expect(metrics.has('redscope_hotkey_lfu_frequency')).toBe(false);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'hotkeys_lfu' }),
      ).toBe(1);
    });

    it('is not available with reason noperm for a user without OBJECT FREQ, and the scrape still succeeds', async () => {
      await master.config('SET', 'maxmemory-policy', 'allkeys-lfu');
      const { metrics } = await scrape(exporter, 'localhost');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(sampleValue(metrics, 'redscope_hotkey_lfu_available', { reason: 'noperm' })).toBe(0);
      expect(metrics.has('redscope_hotkey_lfu_frequency')).toBe(false);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'hotkeys_lfu' }),
      ).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'info' }),
      ).toBe(1);
    });
  });
});
