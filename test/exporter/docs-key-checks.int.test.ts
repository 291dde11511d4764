import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORTER_ACL_USER, optInAclRules } from '../../exporter/acl.js';
import { ConfigError, loadExporterConfig } from '../../exporter/config.js';
import { packageRoot } from '../../exporter/package-root.js';
import { RedisTopology } from '../../stack/topology.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

/** docs/key-checks.md's example configuration, run as the guide says against BullMQ-shaped data. */
const EXAMPLE = 'docs/examples/exporter-key-checks.yaml';

let topology: RedisTopology;
let exporter: TestExporter;
let text = '';
const sessions = Array.from({ length: 50 }, () => `session:${randomBytes(32).toString('hex')}`);

beforeAll(async () => {
  topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  });
  const redis = topology.connect(topology.port('redis-0'));
  try {
    const batch = redis.pipeline();
    batch.rpush('bull:email:wait', '1', '2', '3', '4', '5');
    batch.rpush('bull:email:active', '6');
    batch.zadd('bull:email:delayed', 1, '7', 2, '8');
    batch.zadd('bull:email:failed', 1, '9');
    for (let i = 0; i < 10; i++) batch.xadd('bull:email:events', '*', 'event', 'added');
    batch.rpush('bull:billing:wait', '1', '2');
    for (const session of sessions) batch.set(session, '{"user":1}');
    await batch.exec();
  } finally {
    redis.disconnect();
  }
  exporter = await startTestExporter({
    config: EXAMPLE,
    'redis-url': `redis://127.0.0.1:${topology.port('redis-0')}`,
  });
  const response = await exporter.get('/metrics');
  expect(response.status).toBe(200);
  text = response.text;
}, 60_000);

afterAll(async () => {
  await exporter?.close();
  await topology?.stop();
});

describe('docs/key-checks.md example', () => {
  describe('happy', () => {
    it('exports the queue lengths, the event stream, the session count, the groups and the script', () => {
      const metrics = parseExposition(text);
      const size = (key: string) => sampleValue(metrics, 'redis_key_size', { db: 'db0', key });
      expect(size('bull:email:wait')).toBe(5);
      expect(size('bull:email:active')).toBe(1);
      expect(size('bull:email:delayed')).toBe(2);
      expect(size('bull:email:failed')).toBe(1);
      expect(size('bull:billing:wait')).toBe(2);
      expect(
        sampleValue(metrics, 'redis_stream_length', { db: 'db0', stream: 'bull:email:events' }),
      ).toBe(10);
      expect(metrics.has('redis_stream_group_consumer_idle_seconds')).toBe(false);
      expect(sampleValue(metrics, 'redis_keys_count', { db: 'db0', key: 'session:*' })).toBe(50);
      const group = (name: string) =>
        sampleValue(metrics, 'redis_key_group_count', { db: 'db0', key_group: name });
      expect(group('bull:email')).toBe(5);
      expect(group('bull:billing')).toBe(1);
      expect(group('session')).toBe(50);
      expect(
        sampleValue(metrics, 'redis_script_values', {
          filename: 'jobs-waiting.lua',
          key: 'jobs_waiting_total',
        }),
      ).toBe(7);
      for (const collector of ['key_checks', 'streams', 'count_keys', 'key_groups', 'scripts']) {
        expect(
          sampleValue(metrics, 'redscope_exporter_collector_success', { collector }),
          collector,
        ).toBe(1);
      }
    });

    it('never exports a session id', () => {
      for (const session of sessions) expect(text).not.toContain(session.slice(8));
    });

    it('is embedded in the guide exactly as tested', () => {
      const guide = readFileSync(join(packageRoot(), 'docs', 'key-checks.md'), 'utf8');
      for (const [file, language] of [
        ['exporter-key-checks.yaml', 'yaml'],
        ['jobs-waiting.lua', 'lua'],
      ] as const) {
        const marker = `<!-- example: docs/examples/${file} -->\n\`\`\`${language}\n`;
        const at = guide.indexOf(marker);
        expect(at, `the guide embeds ${file}`).toBeGreaterThanOrEqual(0);
        const body = guide.slice(at + marker.length, guide.indexOf('```', at + marker.length));
        expect(body).toBe(readFileSync(join(packageRoot(), 'docs', 'examples', file), 'utf8'));
      }
      // The ACL the guide prints is the one the code derives from the example.
      const { optIn } = loadExporterConfig({ flags: { config: EXAMPLE }, env: {} });
      const rules = optInAclRules(optIn).map((r) => (r.startsWith('(') ? `"${r}"` : r));
      expect(guide).toContain(`ACL SETUSER ${EXPORTER_ACL_USER} ${rules.join(' ')}\n`);
    });
  });

  describe('unhappy', () => {
    it('refuses the example with a broken pattern, naming the key and the file', () => {
      const yaml = readFileSync(join(packageRoot(), EXAMPLE), 'utf8').replace(
        '"bull:*:wait"',
        '"bull:[email:wait"',
      );
      expect(() =>
        loadExporterConfig({
          flags: { config: EXAMPLE },
          env: {},
          readFile: (path) => (path === EXAMPLE ? yaml : readFileSync(path, 'utf8')),
        }),
      ).toThrow(ConfigError);
      expect(() =>
        loadExporterConfig({
          flags: { config: EXAMPLE },
          env: {},
          readFile: (path) => (path === EXAMPLE ? yaml : readFileSync(path, 'utf8')),
        }),
      ).toThrow(/key_checks\.keys.*exporter-key-checks\.yaml.*not a valid Redis glob/);
    });
  });
});
