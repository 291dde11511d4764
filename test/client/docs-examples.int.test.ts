import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startFromEnv } from '../../docs/examples/config-from-env.js';
import { startWithHotKeys } from '../../docs/examples/hot-keys.js';
import { traceWithOwnSdk } from '../../docs/examples/own-sdk-span-pipeline.js';
import { createApp } from '../../docs/examples/request-logging.js';
import { traceOneValidation } from '../../docs/examples/trace-session-validation.js';
import { type Database, startSessions, warmBestSellers } from '../../docs/examples/warming.js';
import { OtlpReceiver } from '../../stack/otlp-receiver.js';
import { waitUntil } from '../../stack/partition-faults.js';
import { packageRoot } from '../../stack/repo-paths.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';
import { capturedLogs } from './support/captured-logs.js';
import { sharedPair, uniquePrefix } from './support/redis-pair.js';

// Not connected first: the client leaves ioredis' handshake out of spans and metrics.
const pair = sharedPair();
afterAll(() => pair.close());

const examplesDir = join(packageRoot(), 'docs', 'examples');
const published = (source: string) =>
  source
    .replaceAll("'../../client/index.js'", "'redscope/client'")
    .replaceAll("'../../client/otel.js'", "'redscope/client/otel'");

describe('docs examples, happy path', () => {
  it('trace-session-validation.ts exports HTTP span > session.validate > Redis spans', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      await traceOneValidation(clientsConfigFor(sharedTopology()), `${receiver.url}/v1/traces`);
      const byName = new Map(receiver.spans.map((s) => [s.name, s]));
      const root = byName.get('GET /profile');
      const validate = byName.get('session.validate');
      expect(root?.serviceName).toBe('example-app');
      expect(validate?.parentSpanId).toBe(root?.spanId);
      const redisSpans = receiver.spans.filter((s) => s.kind === 3);
      expect(redisSpans.length).toBeGreaterThanOrEqual(3);
      for (const span of redisSpans) expect(span.parentSpanId).toBe(validate?.spanId);
      expect(redisSpans.map((s) => s.name)).toContain('EVAL');
    } finally {
      await receiver.close();
    }
  });

  it('own-sdk-span-pipeline.ts exports the job span with its Redis span under it', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      await traceWithOwnSdk(pair.writer, `${receiver.url}/v1/traces`, 1);
      const job = receiver.spans.find((s) => s.name === 'purge-expired');
      const set = receiver.spans.find((s) => s.name === 'SET');
      expect(job?.serviceName).toBe('nightly-jobs');
      expect(set?.parentSpanId).toBe(job?.spanId);
      expect(set?.serviceName).toBe('nightly-jobs');
      expect(set?.attributes['db.query.text']).toBe('SET jobs:purge:<redacted> ?');
    } finally {
      // NodeSDK.shutdown() leaves its globals registered; the next example registers its own.
      trace.disable();
      context.disable();
      propagation.disable();
      await receiver.close();
    }
  });

  it('request-logging.ts tags every line with the request id and censors the token', async () => {
    const logs = capturedLogs();
    const server = createApp(logs.stream).listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const response = await fetch(`http://127.0.0.1:${address.port}/orders`, {
        headers: { 'x-request-id': 'docs-req-1', authorization: 'raw-session' },
      });
      expect(response.headers.get('x-request-id')).toBe('docs-req-1');
      const deadline = Date.now() + 2000;
      while (logs.lines.length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(logs.lines.map((l) => l.correlation_id)).toEqual(['docs-req-1', 'docs-req-1']);
      expect(logs.lines[0]).toMatchObject({
        user_id: 'u-1',
        org_id: 'acme',
        payment: { token: '[REDACTED]' },
      });
      expect(JSON.stringify(logs.lines)).not.toMatch(/tok_live_123|raw-session/);
    } finally {
      server.close();
    }
  });

  it('config-from-env.ts starts with tracing off and registers the client metrics', async () => {
    const started = await startFromEnv(
      { REDSCOPE_TRACING: 'off', REDSCOPE_LOG_LEVEL: 'warn' },
      clientsConfigFor(sharedTopology()),
    );
    try {
      await started.clients.writer.ping();
      expect(started.registry).toBeInstanceOf(Registry);
      // Only the app's PING: ioredis' handshake (HELLO, CLIENT, INFO) is not app traffic.
      const text = await started.registry.metrics();
      expect(text).toMatch(/redscope_client_commands_total\{command="ping"\} 1/);
      expect(text).not.toMatch(/command="(hello|client|info|auth|select)"/);
    } finally {
      await started.stop();
    }
  });

  it('hot-keys.ts reports a key read 3,000 times a minute as hot and answers its reads from memory', async () => {
    const { clients, registry } = await startWithHotKeys(
      clientsConfigFor(sharedTopology()),
      'docs-example-secret-0123',
    );
    try {
      const key = 'docs:tenant:acme:settings';
      await clients.writer.set(key, 'v1');
      const deadline = Date.now() + 5000;
      while (clients.hotKeys()?.keys.find((k) => k.key === key)?.hot !== true) {
        if (Date.now() > deadline) throw new Error('the key never turned hot');
        await clients.reader.get(key);
        await new Promise((r) => setTimeout(r, 20));
      }
      // Its own two connections set up tracking in the background; reads go to Redis until then.
      while (!/redscope_client_near_cache_tracking 1/.test(await registry.metrics())) {
        if (Date.now() > deadline) throw new Error('near-cache tracking never came on');
        await new Promise((r) => setTimeout(r, 20));
      }
      // Hot now: the next read fills the near-cache, the ones after are answered from it.
      for (let i = 0; i < 20; i++) expect(await clients.reader.get(key)).toBe('v1');
      const text = await registry.metrics();
      const hits = Number(/redscope_client_near_cache_hits_total (\d+)/.exec(text)?.[1]);
      expect(hits).toBeGreaterThanOrEqual(10);
      // A write from anywhere invalidates it: the next reads see the new value.
      await clients.writer.set(key, 'v2');
      await new Promise((r) => setTimeout(r, 50));
      expect(await clients.reader.get(key)).toBe('v2');
    } finally {
      await clients.close();
    }
  });

  it('warming.ts warms the most used sessions on start, then the best sellers without overwriting a live value', async () => {
    const shared = sharedTopology();
    const master = clientFor(shared, portOf(shared, 'master'), shared.users?.app ?? {});
    const prefix = uniquePrefix('docs-warm');
    const sha256 = (id: string) => createHash('sha256').update(id).digest('hex');
    const ids = Array.from({ length: 30 }, (_, i) => `sid-${i}`);
    const byHash = new Map(ids.map((id, i) => [sha256(id), { userId: `u${i}`, orgId: 'acme' }]));
    const askedOneByOne: string[] = [];
    const db: Database = {
      findSession: async (id) => {
        askedOneByOne.push(id);
        return byHash.get(sha256(id)) ?? null;
      },
      findSessionsByTokenHash: async (hashes) => {
        const found = new Map<string, { userId: string; orgId: string }>();
        for (const hash of hashes) {
          const session = byHash.get(hash);
          if (session !== undefined) found.set(hash, session);
        }
        return found;
      },
      bestSellerIds: async (count) =>
        Array.from({ length: Math.min(count, 20) }, (_, i) => `p${i}`),
      // p19 was withdrawn: the loader has nothing for it.
      productsByIds: async (products) =>
        products.map((id) => (id === 'p19' ? undefined : { id, price: 10 })),
    };
    const sessionKeys = ids.map((id) => `${prefix}session:${sha256(id)}`);
    const record = `redscope:{warming}:usage:${prefix}session:`;
    // The usage record outlived the cached sessions (a failover to a replica that had it).
    await master.zadd(record, ...sessionKeys.flatMap((key, i) => [String(30 - i), key]));
    const { clients, sessions } = startSessions(clientsConfigFor(shared), db, prefix);
    const productKeys = Array.from({ length: 20 }, (_, i) => `${prefix}product:p${i}`);
    try {
      await clients.ready();
      await waitUntil(
        'the sessions warmed on start',
        async () => (await master.exists(...sessionKeys)) === sessionKeys.length,
        10_000,
      );
      for (const id of ids) expect((await sessions.validate(id)).source).not.toBe('loader');
      expect(askedOneByOne).toEqual([]);

      // Live traffic cached a newer price of p0 before the run.
      await master.set(`${prefix}product:p0`, '{"id":"p0","price":12}');
      const result = await warmBestSellers(clients, db, prefix);
      expect(result).toMatchObject({
        outcome: 'done',
        planned: 20,
        warmed: 18,
        skipped: 2,
        failed: 0,
      });
      expect(await master.get(`${prefix}product:p0`)).toBe('{"id":"p0","price":12}');
      expect(await master.get(`${prefix}product:p1`)).toBe('{"id":"p1","price":10}');
      expect(await master.ttl(`${prefix}product:p1`)).toBeGreaterThan(590);
      expect(await master.exists(`${prefix}product:p19`)).toBe(0);
    } finally {
      await clients.close();
      await master.del(record, ...sessionKeys, ...productKeys);
      master.disconnect();
    }
  });

  it('the docs show each example exactly as it is tested', () => {
    const docs = [
      'tracing.md',
      'logging.md',
      'hotkeys.md',
      'warming.md',
      'railway.md',
      'cluster.md',
    ]
      .map((f) => readFileSync(join(packageRoot(), 'docs', f), 'utf8'))
      .join('\n');
    const files = readdirSync(examplesDir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBe(8);
    for (const file of files) {
      const marker = `<!-- example: docs/examples/${file} -->\n\`\`\`ts\n`;
      const at = docs.indexOf(marker);
      expect(at, `docs embed ${file}`).toBeGreaterThanOrEqual(0);
      const body = docs.slice(at + marker.length, docs.indexOf('```', at + marker.length));
      expect(body).toBe(published(readFileSync(join(examplesDir, file), 'utf8')));
    }
  });
});

describe('docs examples, unhappy path', () => {
  it('config-from-env.ts refuses a bad variable, naming it', async () => {
    await expect(
      startFromEnv({ REDSCOPE_TRACING_SAMPLE_RATIO: 'half' }, clientsConfigFor(sharedTopology())),
    ).rejects.toThrow(/REDSCOPE_TRACING_SAMPLE_RATIO/);
  });
});
