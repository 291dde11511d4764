import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  serializeWarmingStatus,
  WARMING_STATUS_INDEX,
  type WarmingStatus,
  warmingStatusKey,
  warmingStatusMember,
  warmingUsageKey,
} from '../../../client/common/warming-status.js';
import { createRedisClients, type RedisClients } from '../../../client/index.js';
import { dataNodeAclRules } from '../../../exporter/acl.js';
import { RedisTopology } from '../../../stack/topology.js';
import { startTestExporter, type TestExporter } from '../support/exporter-harness.js';
import { type ParsedFamily, parseExposition, sampleValue } from '../support/parse-exposition.js';
import { promtoolFindings } from '../support/promtool.js';

// A master and a replica of our own: the tests fill the warming prefix with garbage.
let topology: RedisTopology;
let master: Redis;
let exporter: TestExporter;
let dir: string;
const written: string[] = [];

const NAMESPACE = 'demo:session:';

/** Writes a status as the spec has the client write it: SET PX and ZADD to the index (score = expiry) in one MULTI. */
async function record(fields: Partial<WarmingStatus>, ttlMs = 15_000): Promise<WarmingStatus> {
  const now = Date.now();
  const status: WarmingStatus = {
    v: 1,
    instance: 'demo@web-1:101',
    service: 'demo',
    namespace: NAMESPACE,
    state: 'running',
    source: 'usage',
    planned: 1000,
    warmed: 0,
    skipped: 0,
    errors: 0,
    startedAt: now - 4000,
    updatedAt: now,
    ...fields,
  };
  const key = warmingStatusKey(status.instance, status.namespace);
  written.push(key);
  await master
    .multi()
    .set(key, serializeWarmingStatus(status), 'PX', ttlMs)
    .zadd(WARMING_STATUS_INDEX, now + ttlMs, warmingStatusMember(status.instance, status.namespace))
    .exec();
  return status;
}

/** A value under the prefix that no client wrote, indexed like a status. */
async function plant(member: string, write: (key: string) => Promise<unknown>): Promise<void> {
  const key = `redscope:{warming}:status:${member}`;
  written.push(key);
  await write(key);
  await master.zadd(WARMING_STATUS_INDEX, Date.now() + 60_000, member);
}

async function scrape(node: 'redis-0' | 'redis-1', host = '127.0.0.1') {
  const target = encodeURIComponent(`redis://${host}:${topology.port(node)}`);
  const response = await exporter.get(`/scrape?target=${target}`);
  expect(response.status).toBe(200);
  return { text: response.text, metrics: parseExposition(response.text) };
}

const series = (metrics: Map<string, ParsedFamily>, name: string) =>
  metrics.get(name)?.samples ?? [];

const runLabels = (instance = 'demo@web-1:101', namespace = NAMESPACE) => ({
  instance_id: instance,
  namespace,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-warming-'));
  topology = await RedisTopology.start({ tls: false, acl: false, replicas: 1, sentinels: 0 });
  master = topology.connect(topology.port('redis-0'));
  // 127.0.0.1: the documented exporter ACL; localhost: an older ACL without the warming rights.
  for (const node of ['redis-0', 'redis-1']) {
    const client = topology.connect(topology.port(node));
    try {
      await client.call('ACL', 'SETUSER', 'exporter', ...dataNodeAclRules('exporter-pass'));
      const before = dataNodeAclRules('old-pass').filter((rule) => !rule.includes('{warming}'));
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
  // The real runs' status records too, found through the index.
  for (const member of await master.zrange(WARMING_STATUS_INDEX, '0', '-1')) {
    written.push(`redscope:{warming}:status:${member}`);
  }
  if (written.length > 0) await master.del(...written.splice(0));
  await master.del(WARMING_STATUS_INDEX);
});

afterAll(async () => {
  await exporter?.close();
  master?.disconnect();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the warming collector, against a real Redis', () => {
  describe('happy', () => {
    it('exports a running and a finished run per app process and namespace', async () => {
      const now = Date.now();
      await record({ planned: 1000, warmed: 300, skipped: 100, errors: 2, startedAt: now - 4000 });
      await record({
        instance: 'demo@web-2:202',
        state: 'done',
        source: 'redis',
        planned: 500,
        warmed: 480,
        skipped: 20,
        startedAt: now - 30_000,
        updatedAt: now - 20_000,
        finishedAt: now - 20_000,
      });
      const { metrics } = await scrape('redis-0');
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'warming' }),
      ).toBe(1);
      const running = runLabels();
      expect(sampleValue(metrics, 'redscope_warming_state', { ...running, state: 'running' })).toBe(
        1,
      );
      for (const state of ['done', 'cancelled', 'failed']) {
        expect(sampleValue(metrics, 'redscope_warming_state', { ...running, state })).toBe(0);
      }
      expect(sampleValue(metrics, 'redscope_warming_keys_warmed', running)).toBe(300);
      expect(sampleValue(metrics, 'redscope_warming_keys_planned', running)).toBe(1000);
      expect(sampleValue(metrics, 'redscope_warming_progress_ratio', running)).toBe(0.4);
      expect(sampleValue(metrics, 'redscope_warming_errors', running)).toBe(2);
      // Still running: the duration grows with the clock.
      const soFar = sampleValue(metrics, 'redscope_warming_duration_seconds', running) ?? 0;
      expect(soFar).toBeGreaterThanOrEqual(4);
      expect(soFar).toBeLessThan(10);
      const age = sampleValue(metrics, 'redscope_warming_last_update_age_seconds', running) ?? -1;
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(5);

      const done = runLabels('demo@web-2:202');
      expect(sampleValue(metrics, 'redscope_warming_state', { ...done, state: 'done' })).toBe(1);
      expect(sampleValue(metrics, 'redscope_warming_progress_ratio', done)).toBe(1);
      // Ended: the duration is the run's, not the time since it started.
      expect(sampleValue(metrics, 'redscope_warming_duration_seconds', done)).toBe(10);
      expect(
        sampleValue(metrics, 'redscope_warming_last_update_age_seconds', done),
      ).toBeGreaterThanOrEqual(20);
      expect(sampleValue(metrics, 'redscope_warming_records')).toBe(2);
    });

    it('drops a run whose status expires (its process died mid-run) from the families', async () => {
      await record({ warmed: 10 });
      await record({ instance: 'demo@gone:303', warmed: 20 }, 300);
      const before = await scrape('redis-0');
      expect(sampleValue(before.metrics, 'redscope_warming_records')).toBe(2);
      expect(
        sampleValue(before.metrics, 'redscope_warming_keys_warmed', runLabels('demo@gone:303')),
      ).toBe(20);
      await new Promise((resolve) => setTimeout(resolve, 400));
      const after = await scrape('redis-0');
      expect(sampleValue(after.metrics, 'redscope_warming_records')).toBe(1);
      expect(
        sampleValue(after.metrics, 'redscope_warming_keys_warmed', runLabels('demo@gone:303')),
      ).toBeUndefined();
      expect(sampleValue(after.metrics, 'redscope_warming_keys_warmed', runLabels())).toBe(10);
      // An expired status is not an invalid one.
      for (const sample of series(after.metrics, 'redscope_warming_records_invalid')) {
        expect(sample.value).toBe(0);
      }
    });

    it('exports the 100 most recently updated runs only, however many statuses there are', async () => {
      const now = Date.now();
      for (let i = 0; i < 130; i++) {
        await record({ instance: `demo@web-${i}:1`, updatedAt: now - (130 - i) * 1000 });
      }
      const { metrics } = await scrape('redis-0');
      const planned = series(metrics, 'redscope_warming_keys_planned');
      expect(planned).toHaveLength(100);
      expect(planned[0]?.labels.instance_id).toBe('demo@web-129:1');
      expect(planned.map((s) => s.labels.instance_id)).not.toContain('demo@web-29:1');
      expect(planned.map((s) => s.labels.instance_id)).toContain('demo@web-30:1');
      expect(series(metrics, 'redscope_warming_state')).toHaveLength(400);
      expect(sampleValue(metrics, 'redscope_warming_records')).toBe(130);
    });

    it('exports nothing about warming from a replica, where the same statuses replicate', async () => {
      await record({ warmed: 10 });
      const { metrics } = await scrape('redis-1');
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'warming' }),
      ).toBe(1);
      expect([...metrics.keys()].filter((name) => name.startsWith('redscope_warming_'))).toEqual(
        [],
      );
    });

    it('follows a real warming run from start to done, then a cancelled one', async () => {
      const clients: RedisClients = createRedisClients(
        { url: `redis://127.0.0.1:${topology.port('redis-0')}` },
        { tracing: { enabled: false } },
      );
      try {
        await clients.ready();
        const namespace = 'demo:follow:';
        const keys = Array.from({ length: 300 }, (_, i) => `${namespace}${i}`);
        written.push(...keys);
        const loader = {
          kind: 'loader' as const,
          load: async (batch: readonly string[]) => new Map(batch.map((k) => [k, `v:${k}`])),
          ttlSeconds: 60,
        };
        const run = clients.warm({
          namespace,
          source: loader,
          keys,
          ratePerSecond: 200,
          progressEveryMs: 200,
        });
        const ofRun = (metrics: Map<string, ParsedFamily>, name: string) =>
          series(metrics, name).filter((s) => s.labels.namespace === namespace);

        // Started: running, the plan known, part of it warmed.
        let during: Map<string, ParsedFamily> | undefined;
        for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
          const { metrics } = await scrape('redis-0');
          const warmedSoFar = ofRun(metrics, 'redscope_warming_keys_warmed')[0]?.value ?? 0;
          if (warmedSoFar > 0 && warmedSoFar < 300) {
            during = metrics;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (!during) throw new Error('the exporter never showed the run in progress');
        const instance = ofRun(during, 'redscope_warming_keys_planned')[0]?.labels.instance_id;
        expect(instance).toMatch(/@.+:\d+$/);
        const labels = runLabels(instance, namespace);
        const state = (metrics: Map<string, ParsedFamily>, s: string) =>
          sampleValue(metrics, 'redscope_warming_state', { ...labels, state: s });
        expect(state(during, 'running')).toBe(1);
        expect(state(during, 'done')).toBe(0);
        expect(sampleValue(during, 'redscope_warming_keys_planned', labels)).toBe(300);
        const ratio = sampleValue(during, 'redscope_warming_progress_ratio', labels) ?? -1;
        expect(ratio).toBeGreaterThan(0);
        expect(ratio).toBeLessThan(1);

        const result = await run.done;
        expect(result.outcome).toBe('done');
        const after = (await scrape('redis-0')).metrics;
        expect(state(after, 'running')).toBe(0);
        expect(state(after, 'done')).toBe(1);
        expect(sampleValue(after, 'redscope_warming_keys_warmed', labels)).toBe(300);
        expect(sampleValue(after, 'redscope_warming_progress_ratio', labels)).toBe(1);
        expect(sampleValue(after, 'redscope_warming_errors', labels)).toBe(0);
        // 300 keys at 200/s: about 1.5 s, and it no longer grows once done.
        const took = sampleValue(after, 'redscope_warming_duration_seconds', labels) ?? 0;
        expect(took).toBeGreaterThan(1);
        expect(took).toBeLessThan(5);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const later = (await scrape('redis-0')).metrics;
        expect(sampleValue(later, 'redscope_warming_duration_seconds', labels)).toBe(took);

        // Cancelled midway: the status says so and the exporter shows it.
        const other = 'demo:cancel:';
        const more = Array.from({ length: 1000 }, (_, i) => `${other}${i}`);
        written.push(...more);
        const second = clients.warm({
          namespace: other,
          source: loader,
          keys: more,
          ratePerSecond: 200,
          progressEveryMs: 200,
        });
        await new Promise((resolve) => setTimeout(resolve, 1500));
        second.cancel();
        expect((await second.done).outcome).toBe('cancelled');
        const cancelled = (await scrape('redis-0')).metrics;
        const cancelledRun = runLabels(instance, other);
        expect(
          sampleValue(cancelled, 'redscope_warming_state', { ...cancelledRun, state: 'cancelled' }),
        ).toBe(1);
        const part = sampleValue(cancelled, 'redscope_warming_progress_ratio', cancelledRun) ?? -1;
        expect(part).toBeGreaterThan(0);
        expect(part).toBeLessThan(1);
      } finally {
        await clients.close();
      }
    }, 20_000);

    it('passes promtool check metrics', async () => {
      await record({ warmed: 10 });
      await record({ instance: 'demo@web-2:202', state: 'failed', reason: 'loader timed out' });
      const { text } = await scrape('redis-0');
      const findings = await promtoolFindings(text);
      expect(findings.filter((f) => f.startsWith('redscope_warming'))).toEqual([]);
    });
  });

  describe('unhappy', () => {
    it('counts garbage, too-large, wrong-type, future and misfiled records by reason, and the scrape still succeeds', async () => {
      await record({ warmed: 10 });
      await plant('garbage:x:', (key) => master.set(key, '{"v":1, this is not json'));
      await plant('big:x:', (key) => master.set(key, 'x'.repeat(5000)));
      await plant('hash:x:', (key) => master.hset(key, 'v', '1'));
      await plant('future:x:', (key) => master.set(key, JSON.stringify({ v: 2 })));
      await plant('shape:x:', (key) => master.set(key, JSON.stringify({ v: 1, state: 'odd' })));
      // A valid status filed under another process's member.
      const other = await record({ instance: 'demo@web-2:202' });
      await plant('demo@web-9:909:demo:session:', (key) =>
        master.set(key, serializeWarmingStatus(other)),
      );
      const { metrics } = await scrape('redis-0');
      for (const collector of ['warming', 'info', 'replication', 'hotkeys']) {
        expect(sampleValue(metrics, 'redscope_exporter_collector_success', { collector })).toBe(1);
      }
      const invalid = (reason: string) =>
        sampleValue(metrics, 'redscope_warming_records_invalid', { reason });
      expect(invalid('not-json')).toBe(1);
      expect(invalid('too-large')).toBe(1);
      expect(invalid('invalid')).toBe(3); // the hash, the wrong shape, the misfiled one
      expect(invalid('version')).toBe(1);
      expect(sampleValue(metrics, 'redscope_warming_records')).toBe(2);
      expect(sampleValue(metrics, 'redscope_warming_keys_warmed', runLabels())).toBe(10);
    });

    it('marks only the warming collector failed when the ACL lacks the warming rights', async () => {
      await record({ warmed: 10 });
      const { metrics } = await scrape('redis-0', 'localhost');
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'warming' }),
      ).toBe(0);
      for (const collector of ['info', 'hotkeys']) {
        expect(sampleValue(metrics, 'redscope_exporter_collector_success', { collector })).toBe(1);
      }
      // On a replica the role is checked first: an old ACL costs nothing there.
      const replica = await scrape('redis-1', 'localhost');
      expect(
        sampleValue(replica.metrics, 'redscope_exporter_collector_success', {
          collector: 'warming',
        }),
      ).toBe(1);
    });

    it('reads with the documented ACL only: the status records, never a usage record nor a write', async () => {
      const usage = warmingUsageKey(NAMESPACE);
      await master.zadd(usage, 5, `${NAMESPACE}0123456789abcdef`);
      written.push(usage);
      await record({ warmed: 10 });
      const limited = topology.connect(topology.port('redis-0'), {
        username: 'exporter',
        password: 'exporter-pass',
      });
      try {
        await expect(limited.zrevrange(usage, 0, -1)).rejects.toThrow(/NOPERM/);
        await expect(limited.set(warmingStatusKey('x@y:1', NAMESPACE), '{}')).rejects.toThrow(
          /NOPERM/,
        );
        expect(await limited.zrevrange(WARMING_STATUS_INDEX, 0, -1)).toEqual([
          warmingStatusMember('demo@web-1:101', NAMESPACE),
        ]);
      } finally {
        limited.disconnect();
      }
    });
  });
});
