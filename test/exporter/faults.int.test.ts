import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../stack/certificates.js';
import { RedisTopology } from '../../stack/topology.js';
import { portOf, sharedTopology } from '../support/shared-topology.js';
import { startTestExporter, type TestExporter } from './support/exporter-harness.js';
import { type FakeRedis, minimalRedis, startFakeRedis } from './support/fake-redis.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

// One plain master of our own: these tests kill and pause it.
let topology: RedisTopology;
let exporter: TestExporter;
let dir: string;
let masterUrl: string;
const fakes: FakeRedis[] = [];

const TIMEOUT_HEADER = { 'X-Prometheus-Scrape-Timeout-Seconds': '2' };

async function scrape(target: string, headers: Record<string, string> = TIMEOUT_HEADER) {
  const response = await exporter.get(`/scrape?target=${encodeURIComponent(target)}`, headers);
  return { ...response, metrics: parseExposition(response.text) };
}

const errorsOf = (metrics: ReturnType<typeof parseExposition>, target: string, reason: string) =>
  sampleValue(metrics, 'redscope_exporter_scrape_errors_total', { target, reason });

/** The error the scrape reported, to make a failed assertion say what happened. */
const lastError = (metrics: ReturnType<typeof parseExposition>) =>
  metrics.get('redis_exporter_last_scrape_error')?.samples[0]?.labels.err;

/** Scrapes until `redis_up` is 1 or the deadline passes (reconnect backoff is at most 2 s). */
async function untilUp(target: string, deadlineMs = 8000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const result = await scrape(target);
    if (sampleValue(result.metrics, 'redis_up') === 1) return result;
    if (Date.now() > deadline) throw new Error(`${target} did not come back up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-faults-'));
  topology = await RedisTopology.start({ tls: false, acl: false, replicas: 0, sentinels: 0 });
  masterUrl = `redis://127.0.0.1:${topology.port('redis-0')}`;
  const master = topology.connect(topology.port('redis-0'));
  await master.call('ACL', 'SETUSER', 'pw-user', 'on', '>right-password', '+@all');
  master.disconnect();
  const garbage = await startFakeRedis(() => 'HTTP/1.1 400 Bad Request\r\n\r\n<html>nope</html>');
  fakes.push(garbage);
  const wrongCa = await createCertificateAuthority(join(dir, 'other-ca'), 'other-ca');
  const shared = sharedTopology();
  writeFileSync(
    join(dir, 'credentials.yaml'),
    [
      'targets:',
      '  - match: "redis://localhost:*"',
      '    username: pw-user',
      '    password: wrong-password-do-not-log',
      '',
    ].join('\n'),
  );
  exporter = await startTestExporter({
    'allow-target': ['redis://127.0.0.1:*', 'redis://localhost:*', 'rediss://127.0.0.1:*'],
    'credentials-file': join(dir, 'credentials.yaml'),
    'tls-ca': wrongCa.certFile,
    'tls-cert': shared.tls?.certFile,
    'tls-key': shared.tls?.keyFile,
  } as never);
  (globalThis as { garbagePort?: number }).garbagePort = garbage.port;
}, 60_000);

afterAll(async () => {
  await exporter?.close();
  for (const fake of fakes) await fake.close();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('scraping a target that fails', () => {
  describe('happy', () => {
    it('reports redis_up 1 and every collector on a healthy target', async () => {
      const { metrics, status } = await scrape(masterUrl);
      expect(status).toBe(200);
      expect(sampleValue(metrics, 'redis_up')).toBe(1);
      expect(
        sampleValue(metrics, 'redscope_exporter_collector_success', { collector: 'info' }),
      ).toBe(1);
    });

    it('reuses one connection across scrapes instead of reconnecting', async () => {
      const master = topology.connect(topology.port('redis-0'));
      try {
        const before = Number(
          /total_connections_received:(\d+)/.exec(await master.info('stats'))?.[1],
        );
        for (let i = 0; i < 5; i++) await scrape(masterUrl);
        const after = Number(
          /total_connections_received:(\d+)/.exec(await master.info('stats'))?.[1],
        );
        expect(after - before).toBe(0);
      } finally {
        master.disconnect();
      }
    });

    it('shares one collection among 50 concurrent scrapes of the same target', async () => {
      // A target that takes 300 ms to answer INFO: every scrape arrives while the first runs.
      const slow = await startFakeRedis((command, socket) => {
        const answer = minimalRedis(command, socket);
        if (command[0]?.toUpperCase() !== 'INFO' || command[1] !== 'ALL') return answer;
        setTimeout(() => socket.write(answer ?? ''), 300);
        return undefined;
      });
      fakes.push(slow);
      const target = `redis://127.0.0.1:${slow.port}`;
      const results = await Promise.all(Array.from({ length: 50 }, () => scrape(target)));
      for (const r of results) expect(sampleValue(r.metrics, 'redis_up')).toBe(1);
      const infoAll = slow.commands.filter((c) => c[0]?.toUpperCase() === 'INFO' && c[1] === 'ALL');
      expect(infoAll).toHaveLength(1);
      expect(slow.connections).toBe(1);
    });
  });

  describe('unhappy', () => {
    it('answers redis_up 0 with reason refused when the target is killed, and recovers when it is back', async () => {
      await topology.kill('redis-0');
      const down = await scrape(masterUrl);
      expect(down.status).toBe(200);
      expect(sampleValue(down.metrics, 'redis_up')).toBe(0);
      expect(
        errorsOf(down.metrics, masterUrl, 'refused'),
        lastError(down.metrics),
      ).toBeGreaterThanOrEqual(1);
      expect(down.ms).toBeLessThan(2500);
      await topology.restart('redis-0');
      const up = await untilUp(masterUrl);
      expect(
        sampleValue(up.metrics, 'redscope_exporter_collector_success', { collector: 'info' }),
      ).toBe(1);
    });

    it('answers within the announced budget with reason timeout when the target hangs (SIGSTOP)', async () => {
      await untilUp(masterUrl);
      topology.pause('redis-0');
      try {
        const hung = await scrape(masterUrl);
        expect(hung.status).toBe(200);
        expect(hung.ms).toBeLessThan(2500);
        expect(sampleValue(hung.metrics, 'redis_up')).toBe(0);
        expect(
          errorsOf(hung.metrics, masterUrl, 'timeout'),
          lastError(hung.metrics),
        ).toBeGreaterThanOrEqual(1);
        expect(
          sampleValue(hung.metrics, 'redscope_exporter_collector_success', { collector: 'info' }),
        ).toBe(0);
      } finally {
        topology.resume('redis-0');
      }
      await untilUp(masterUrl);
    });

    it('answers reason auth for a wrong password and never logs the password', async () => {
      const target = `redis://localhost:${topology.port('redis-0')}`;
      const result = await scrape(target);
      expect(sampleValue(result.metrics, 'redis_up')).toBe(0);
      expect(errorsOf(result.metrics, target, 'auth'), lastError(result.metrics)).toBe(1);
      expect(result.text).not.toContain('wrong-password-do-not-log');
      expect(JSON.stringify(exporter.logs)).not.toContain('wrong-password-do-not-log');
      const warning = exporter.logs.find((l) => l.target === target && l.reason === 'auth');
      expect(warning?.msg).toBe('target did not answer');
    });

    it('answers reason tls when the target certificate is not signed by the configured CA', async () => {
      const target = `rediss://127.0.0.1:${portOf(sharedTopology(), 'master')}`;
      const result = await scrape(target);
      expect(sampleValue(result.metrics, 'redis_up')).toBe(0);
      expect(errorsOf(result.metrics, target, 'tls'), lastError(result.metrics)).toBe(1);
    });

    it('answers reason refused when the target resets the connection mid-reply', async () => {
      const resetting = await startFakeRedis((command, socket) => {
        const answer = minimalRedis(command, socket);
        if (command[0]?.toUpperCase() !== 'INFO' || command[1] !== 'ALL') return answer;
        socket.write((answer ?? '').slice(0, 20));
        setTimeout(() => socket.resetAndDestroy(), 10);
        return undefined;
      });
      fakes.push(resetting);
      const target = `redis://127.0.0.1:${resetting.port}`;
      const result = await scrape(target);
      expect(result.status).toBe(200);
      expect(result.ms).toBeLessThan(2500);
      expect(sampleValue(result.metrics, 'redis_up')).toBe(0);
      expect(errorsOf(result.metrics, target, 'refused'), lastError(result.metrics)).toBe(1);
    });

    it('answers reason protocol when the target sends garbage', async () => {
      const target = `redis://127.0.0.1:${(globalThis as { garbagePort?: number }).garbagePort}`;
      const result = await scrape(target);
      expect(result.status).toBe(200);
      expect(sampleValue(result.metrics, 'redis_up')).toBe(0);
      expect(errorsOf(result.metrics, target, 'protocol'), lastError(result.metrics)).toBe(1);
    });

    it('logs a failing target once, not on every scrape', async () => {
      const target = `redis://127.0.0.1:${(globalThis as { garbagePort?: number }).garbagePort}`;
      await scrape(target);
      await scrape(target);
      const warnings = exporter.logs.filter(
        (l) => l.target === target && l.msg === 'target did not answer',
      );
      expect(warnings).toHaveLength(1);
    });
  });
});

describe('the /scrape endpoint', () => {
  let listener: Server;
  let listenerPort = 0;
  let accepted = 0;

  beforeAll(async () => {
    listener = createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.2', resolve));
    const address = listener.address();
    if (address && typeof address !== 'string') listenerPort = address.port;
  });

  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
  });

  describe('happy', () => {
    it('serves /healthz and an HTML index', async () => {
      expect((await exporter.get('/healthz')).status).toBe(200);
      const index = await exporter.get('/');
      expect(index.text).toContain('<a href="metrics">');
    });

    it('answers /metrics once with its length, the exposition type and no ETag, also to HEAD', async () => {
      const got = await fetch(`${exporter.url}/metrics`);
      const text = await got.text();
      expect(got.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(Number(got.headers.get('content-length'))).toBe(Buffer.byteLength(text));
      expect(got.headers.get('etag')).toBeNull();
      const head = await fetch(`${exporter.url}/healthz/`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('3');
      expect(await head.text()).toBe('');
    });
  });

  describe('unhappy', () => {
    it('refuses a target outside the allow-list with 403 without connecting to it', async () => {
      const result = await exporter.get(`/scrape?target=redis://127.0.0.2:${listenerPort}`);
      expect(result.status).toBe(403);
      expect(result.text).toMatch(/not allowed; add a matching --allow-target/);
      await new Promise((r) => setTimeout(r, 200));
      expect(accepted).toBe(0);
    });

    it('answers 404 to an unknown path and 405 to another method on a known one', async () => {
      const missing = await fetch(`${exporter.url}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe('Cannot GET /nope\n');
      const post = await fetch(`${exporter.url}/metrics`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      expect(await post.text()).toMatch(/method POST not allowed/);
    });

    it.each([
      ['', /missing the "target" parameter/],
      ['?target=redis://user:pw@127.0.0.1:1', /credentials in the target URL/],
      ['?target=ftp://127.0.0.1:1', /scheme "ftp"/],
      ['?target=redis://127.0.0.1:1&password=x', /only the "target" parameter/],
      ['?target=redis://127.0.0.1:1&target=redis://127.0.0.1:2', /give "target" once/],
    ])('answers 400 naming the problem for /scrape%s', async (query, message) => {
      const result = await exporter.get(`/scrape${query}`);
      expect(result.status).toBe(400);
      expect(result.text).toMatch(message);
    });
  });
});

describe('per-target credentials', () => {
  describe('unhappy', () => {
    it('never sends one target credentials, or the --redis-url password, to another target', async () => {
      const a = await startFakeRedis();
      const b = await startFakeRedis();
      const c = await startFakeRedis();
      fakes.push(a, b, c);
      writeFileSync(join(dir, 'global.password'), 'global-secret');
      writeFileSync(
        join(dir, 'per-target.yaml'),
        `targets:\n  - match: "redis://127.0.0.1:${b.port}"\n    username: b-user\n    password: b-secret\n`,
      );
      const isolated = await startTestExporter({
        'redis-url': `redis://127.0.0.1:${a.port}`,
        'password-file': join(dir, 'global.password'),
        'credentials-file': join(dir, 'per-target.yaml'),
        'allow-target': ['redis://127.0.0.1:*'],
      } as never);
      try {
        await isolated.get('/metrics');
        await isolated.get(`/scrape?target=redis://127.0.0.1:${b.port}`);
        await isolated.get(`/scrape?target=redis://127.0.0.1:${c.port}`);
      } finally {
        await isolated.close();
      }
      const auths = (fake: FakeRedis) =>
        fake.commands.filter((cmd) => cmd[0]?.toUpperCase() === 'AUTH');
      expect(auths(a)).toEqual([['auth', 'global-secret']]);
      expect(auths(b)).toEqual([['auth', 'b-user', 'b-secret']]);
      expect(auths(c)).toEqual([]);
      expect(c.commands.length).toBeGreaterThan(0);
    });
  });
});
