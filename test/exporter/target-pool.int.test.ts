import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataNodeAclRules, EXPORTER_ACL_USER } from '../../exporter/acl.js';
import { RedisTopology } from '../../stack/topology.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

// A master and one Sentinel of our own: the test counts every connection the master has.
let topology: RedisTopology;
let dir: string;
let masterTarget: string;
let exporterPassword: string;
const SCRAPE_USER = 'scrape-only';
const SCRAPE_PASSWORD = randomBytes(18).toString('base64url');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-target-pool-'));
  topology = await RedisTopology.start({ tls: false, replicas: 0, sentinels: 1 });
  const password = topology.describe().users?.exporter.password;
  if (!password) throw new Error('the topology runs with ACL users');
  exporterPassword = password;
  masterTarget = `redis://127.0.0.1:${topology.port('redis-0')}`;
  // A second least-privilege user, so each endpoint's connection shows by its user in CLIENT LIST.
  const admin = topology.connect(topology.port('redis-0'));
  try {
    await admin.call('ACL', 'SETUSER', SCRAPE_USER, ...dataNodeAclRules(SCRAPE_PASSWORD));
  } finally {
    admin.disconnect();
  }
  writeFileSync(
    join(dir, 'credentials.yaml'),
    `targets:\n  - match: "${masterTarget}"\n    username: ${SCRAPE_USER}\n    password: ${SCRAPE_PASSWORD}\n`,
  );
}, 60_000);

afterAll(async () => {
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An exporter whose /metrics follows our Sentinel with the exporter user; /scrape
 * of the master gets the credentials file's user when `scrapeCredentials`, else none.
 */
function startExporter(scrapeCredentials: boolean): Promise<TestExporter> {
  return startTestExporter(
    {
      sentinels: `redis://127.0.0.1:${topology.port('sentinel-0')}`,
      'master-name': topology.masterName,
      username: EXPORTER_ACL_USER,
      'allow-target': ['redis://127.0.0.1:*'],
      ...(scrapeCredentials ? { 'credentials-file': join(dir, 'credentials.yaml') } : {}),
    } as never,
    { REDSCOPE_PASSWORD: exporterPassword },
  );
}

async function scrape(exporter: TestExporter, path: string) {
  const metrics = parseExposition((await exporter.get(path)).text);
  return {
    up: sampleValue(metrics, 'redis_up'),
    error: metrics.get('redis_exporter_last_scrape_error')?.samples[0]?.labels.err ?? '',
  };
}

const metricsOf = (exporter: TestExporter) => scrape(exporter, '/metrics');
const scrapeOf = (exporter: TestExporter) =>
  scrape(exporter, `/scrape?target=${encodeURIComponent(masterTarget)}`);

/** How many connections the master has per user, leaving out our own (named) observer. */
async function connectionsByUser(): Promise<Record<string, number>> {
  const observer = topology.connect(topology.port('redis-0'), { connectionName: 'observer' });
  try {
    const list = String(await observer.call('CLIENT', 'LIST'));
    const counts: Record<string, number> = {};
    for (const line of list.split('\n')) {
      const user = / user=(\S+)/.exec(line)?.[1];
      if (!user || / name=observer /.test(line)) continue;
      counts[user] = (counts[user] ?? 0) + 1;
    }
    return counts;
  } finally {
    observer.disconnect();
  }
}

describe('one address reached by /metrics and /scrape with different credentials', () => {
  describe('happy', () => {
    it('gives each endpoint its own connection, logged in as its own user', async () => {
      const exporter = await startExporter(true);
      try {
        expect(await metricsOf(exporter)).toEqual({ up: 1, error: '' });
        expect(await scrapeOf(exporter)).toEqual({ up: 1, error: '' });
        // Concurrent scrapes of both: neither joins a collection the other started.
        const both = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 ? scrapeOf(exporter) : metricsOf(exporter))),
        );
        for (const result of both) expect(result).toEqual({ up: 1, error: '' });
        const users = await connectionsByUser();
        expect(users[EXPORTER_ACL_USER]).toBe(1);
        expect(users[SCRAPE_USER]).toBe(1);
      } finally {
        await exporter.close();
      }
    });
  });

  describe('unhappy', () => {
    it('fails /scrape with reason auth after /metrics logged in to the same master', async () => {
      const exporter = await startExporter(false);
      try {
        expect(await metricsOf(exporter)).toEqual({ up: 1, error: '' });
        const scraped = await scrapeOf(exporter);
        expect(scraped.up).toBe(0);
        expect(scraped.error).toMatch(/^auth: /);
        expect((await metricsOf(exporter)).up).toBe(1);
      } finally {
        await exporter.close();
      }
    });

    it('keeps /metrics working after a /scrape without credentials reached the master first', async () => {
      const exporter = await startExporter(false);
      try {
        expect((await scrapeOf(exporter)).up).toBe(0);
        expect(await metricsOf(exporter)).toEqual({ up: 1, error: '' });
        expect((await scrapeOf(exporter)).up).toBe(0);
      } finally {
        await exporter.close();
      }
    });
  });
});
