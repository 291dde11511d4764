import { randomUUID } from 'node:crypto';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Cluster, type Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  instrumentRedis,
  type RedisInstrumentation,
  type TracingOptions,
} from '../../../client/instrumentation/instrumentation.js';
import { CLIENT_METRIC_NAMES } from '../../../client/instrumentation/metrics.js';
import { createLogger } from '../../../client/logging/logger.js';
import { runWithRequestContext } from '../../../client/logging/request-context.js';
import { registerSpanPipeline } from '../../../client/telemetry/command-spans.js';
import { ClusterTopology } from '../../../stack/cluster-topology.js';
import { capturedLogs } from '../support/captured-logs.js';
import { inMemoryTracing } from '../support/in-memory-tracing.js';

const tracing = inMemoryTracing();
let topology: ClusterTopology;
/** An admin connection per master, for slot moves. */
const admins = new Map<string, Redis>();

beforeAll(async () => {
  topology = await ClusterTopology.start();
  for (const name of topology.names('master'))
    admins.set(name, topology.connect(topology.port(name)));
}, 60_000);

afterAll(async () => {
  for (const admin of admins.values()) admin.disconnect();
  await topology?.stop();
  await tracing.shutdown();
});

function admin(name: string): Redis {
  const connection = admins.get(name);
  if (connection === undefined) throw new Error(`no admin connection to ${name}`);
  return connection;
}

const anyAdmin = () => admin(topology.names('master')[0] as string);

async function slotOf(key: string): Promise<number> {
  return (await anyAdmin().call('CLUSTER', 'KEYSLOT', key)) as number;
}

async function nodeIds(): Promise<Map<number, string>> {
  return new Map((await topology.clusterNodes()).map((n) => [n.port, n.id]));
}

/** A master other than `name`. */
function otherMaster(name: string): string {
  return topology.names('master').find((m) => m !== name) as string;
}

/**
 * Starts moving `key`'s slot from the master serving it to another:
 * IMPORTING and MIGRATING, then MIGRATE of `keys` (default: `key`). The
 * returned `finish` assigns the slot to the new master on every master.
 */
async function startSlotMove(key: string, keys: readonly string[] = [key]) {
  const slot = await slotOf(key);
  const from = await topology.masterNameOf(key);
  const to = otherMaster(from);
  const ids = await nodeIds();
  const idOf = (name: string) => ids.get(topology.port(name)) as string;
  await admin(to).call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', idOf(from));
  await admin(from).call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', idOf(to));
  const auth = topology.describe().auth;
  const migrate = (moved: readonly string[]) =>
    admin(from).call(
      'MIGRATE',
      topology.host(to),
      String(topology.port(to)),
      '',
      '0',
      '5000',
      ...(auth ? ['AUTH2', auth.username, auth.password] : []),
      'KEYS',
      ...moved,
    );
  if (keys.length > 0) await migrate(keys);
  return {
    slot,
    from,
    to,
    migrate,
    async finish() {
      // The new owner first, as redis-cli does, so no node points the slot at a node that refuses it.
      for (const name of [
        to,
        from,
        ...topology.names('master').filter((m) => m !== to && m !== from),
      ]) {
        await admin(name).call('CLUSTER', 'SETSLOT', String(slot), 'NODE', idOf(to));
      }
    },
  };
}

/** The value of one sample, e.g. `name{a="b"}`, from the text exposition (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Polls until `value` is above 0 (2 s at most). */
async function until(value: () => Promise<number>): Promise<void> {
  const deadline = Date.now() + 2000;
  while ((await value()) <= 0) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const nodeSeries = (family: string, name: string) =>
  `${family}{node="${topology.host(name)}:${topology.port(name)}"}`;

const SPAN_PATHS = [
  { path: 'the SDK tracer', pipeline: false },
  { path: 'the span pipeline', pipeline: true },
] as const;

describe.each(SPAN_PATHS)('a Redis Cluster, spans through $path', ({ pipeline }) => {
  let cluster: Cluster;
  let instrumentation: RedisInstrumentation;
  const registry = new Registry();
  const logs = capturedLogs();
  const prefix = `inst-${pipeline ? 'p' : 's'}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    if (pipeline) {
      trace.setGlobalTracerProvider(tracing.provider);
      registerSpanPipeline(tracing.pipeline);
    }
    const tracingOptions: TracingOptions = pipeline ? {} : { tracerProvider: tracing.provider };
    cluster = new Cluster(topology.seeds(), topology.clusterOptions());
    // Hooked before the Cluster has made any node connection: each gets its hook as it is made.
    instrumentation = instrumentRedis(
      { writer: cluster },
      {
        registry,
        tracing: tracingOptions,
        logger: createLogger({ destination: logs.stream, level: 'debug' }),
      },
    );
    await cluster.set(`${prefix}:warm`, '1');
    tracing.reset();
  });

  afterAll(() => {
    instrumentation.detach();
    cluster.disconnect();
    if (pipeline) {
      registerSpanPipeline(undefined);
      trace.disable();
    }
  });

  afterEach(() => tracing.reset());

  /** The command spans (the test's own spans have no `db.system.name`). */
  const redisSpans = (): ReadableSpan[] =>
    tracing.spans().filter((s) => s.attributes['db.system.name'] === 'redis');

  describe('happy', () => {
    it('gives each command a span naming the master that serves its key, on all three shards', async () => {
      const keyOf = new Map<string, string>();
      for (let i = 0; keyOf.size < 3 && i < 200; i++) {
        const key = `${prefix}:shard:${i}`;
        const master = await topology.masterNameOf(key);
        if (!keyOf.has(master)) keyOf.set(master, key);
      }
      expect(keyOf.size).toBe(3);
      const before = await registry.metrics();
      const ports = new Set<unknown>();
      for (const [master, key] of keyOf) {
        tracing.reset();
        await cluster.set(key, 'v');
        expect(await cluster.get(key)).toBe('v');
        const spans = tracing.spans().filter((s) => s.name === 'SET' || s.name === 'GET');
        expect(spans.map((s) => s.name).sort()).toEqual(['GET', 'SET']);
        for (const span of spans) {
          expect(span.attributes['server.port']).toBe(topology.port(master));
          expect(span.attributes['server.address']).toBe(topology.host(master));
          expect(span.attributes['db.redis.redirect']).toBeUndefined();
        }
        ports.add(spans[0]?.attributes['server.port']);
      }
      const after = await registry.metrics();
      for (const master of keyOf.keys()) {
        // Counted once per command, on the node that answered.
        const delta = (family: string) =>
          sample(after, nodeSeries(family, master)) - sample(before, nodeSeries(family, master));
        expect(delta(CLIENT_METRIC_NAMES.clusterNodeCommands)).toBe(2);
        expect(delta(CLIENT_METRIC_NAMES.clusterNodeErrors)).toBe(0);
      }
      expect(ports.size).toBe(3);
    });

    it('traces a pipeline and a MULTI on one slot as one span each, on the master of that slot', async () => {
      const [a, b] = [`{${prefix}:batch}:a`, `{${prefix}:batch}:b`];
      const master = await topology.masterNameOf(a);
      const before = await registry.metrics();
      expect(await cluster.pipeline().set(a, '1').set(b, '2').get(a).exec()).toEqual([
        [null, 'OK'],
        [null, 'OK'],
        [null, '1'],
      ]);
      const batch = redisSpans();
      expect(batch.map((s) => s.name)).toEqual(['PIPELINE']);
      expect(batch[0]?.attributes['db.operation.batch.size']).toBe(3);
      expect(batch[0]?.attributes['server.port']).toBe(topology.port(master));
      tracing.reset();
      expect(await cluster.multi().incr(a).get(b).exec()).toEqual([
        [null, 2],
        [null, '2'],
      ]);
      const multi = redisSpans();
      expect(multi.map((s) => s.name)).toEqual(['MULTI']);
      expect(multi[0]?.attributes['db.operation.batch.size']).toBe(2);
      expect(multi[0]?.attributes['server.port']).toBe(topology.port(master));
      const after = await registry.metrics();
      const delta = (series: string) => sample(after, series) - sample(before, series);
      expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="set"}`)).toBe(2);
      expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="get"}`)).toBe(2);
      expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="exec"}`)).toBe(1);
      // 3 pipelined, and MULTI, INCR, GET, EXEC.
      expect(delta(nodeSeries(CLIENT_METRIC_NAMES.clusterNodeCommands, master))).toBe(7);
    });

    it('follows a MOVED redirect after the slot moved: one span on the new master, the redirect on it and in the metrics', async () => {
      const key = `${prefix}:moved`;
      await cluster.set(key, 'before the move');
      const move = await startSlotMove(key);
      await move.finish();
      tracing.reset();
      const before = await registry.metrics();
      expect(await cluster.get(key)).toBe('before the move');
      const after = await registry.metrics();
      const spans = redisSpans();
      expect(spans.map((s) => s.name)).toEqual(['GET']);
      const span = spans[0] as ReadableSpan;
      expect(span.attributes['server.port']).toBe(topology.port(move.to));
      expect(span.attributes['db.redis.redirect']).toBe('moved');
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          'redis.cluster.redirect',
          {
            'db.redis.redirect': 'moved',
            'db.redis.slot': move.slot,
            'server.address': topology.host(move.to),
            'server.port': topology.port(move.to),
          },
        ],
      ]);
      const delta = (series: string) => sample(after, series) - sample(before, series);
      expect(delta(`${CLIENT_METRIC_NAMES.clusterRedirects}{kind="moved"}`)).toBe(1);
      expect(delta(`${CLIENT_METRIC_NAMES.clusterRedirects}{kind="ask"}`)).toBe(0);
      // One caller command: counted once, without error, on the node that answered.
      expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="get"}`)).toBe(1);
      expect(after).not.toContain('error_type="MOVED"');
      expect(delta(nodeSeries(CLIENT_METRIC_NAMES.clusterNodeCommands, move.to))).toBe(1);
      expect(delta(nodeSeries(CLIENT_METRIC_NAMES.clusterNodeCommands, move.from))).toBe(0);
    });

    it('follows an ASK redirect while the slot migrates: one span on the importing master, no ASKING counted', async () => {
      const key = `${prefix}:ask`;
      await cluster.set(key, 'migrating');
      const move = await startSlotMove(key);
      tracing.reset();
      try {
        const before = await registry.metrics();
        expect(await cluster.get(key)).toBe('migrating');
        const after = await registry.metrics();
        const spans = redisSpans();
        expect(spans.map((s) => s.name)).toEqual(['GET']);
        const span = spans[0] as ReadableSpan;
        expect(span.attributes['server.port']).toBe(topology.port(move.to));
        expect(span.attributes['db.redis.redirect']).toBe('ask');
        expect(span.events.map((e) => e.attributes?.['db.redis.redirect'])).toEqual(['ask']);
        expect(span.events[0]?.attributes?.['db.redis.slot']).toBe(move.slot);
        const delta = (series: string) => sample(after, series) - sample(before, series);
        expect(delta(`${CLIENT_METRIC_NAMES.clusterRedirects}{kind="ask"}`)).toBe(1);
        expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="get"}`)).toBe(1);
        expect(after).not.toContain('command="asking"');
      } finally {
        await move.finish();
      }
    });

    it('follows a pipeline sent again after MOVED: one span, each command counted once', async () => {
      const [a, b] = [`{${prefix}:pmoved}:a`, `{${prefix}:pmoved}:b`];
      await cluster.mset(a, '1', b, '2');
      const move = await startSlotMove(a, [a, b]);
      await move.finish();
      tracing.reset();
      const before = await registry.metrics();
      expect(await cluster.pipeline().get(a).get(b).exec()).toEqual([
        [null, '1'],
        [null, '2'],
      ]);
      const after = await registry.metrics();
      const spans = redisSpans();
      expect(spans.map((s) => s.name)).toEqual(['PIPELINE']);
      const span = spans[0] as ReadableSpan;
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.attributes['server.port']).toBe(topology.port(move.to));
      expect(span.attributes['db.operation.batch.size']).toBe(2);
      expect(span.events.map((e) => e.attributes?.['db.redis.redirect'])).toEqual(['moved']);
      const delta = (series: string) => sample(after, series) - sample(before, series);
      expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="get"}`)).toBe(2);
      expect(delta(`${CLIENT_METRIC_NAMES.clusterRedirects}{kind="moved"}`)).toBe(1);
      expect(after).not.toContain('error_type="MOVED"');
      expect(sample(after, CLIENT_METRIC_NAMES.inFlight)).toBe(0);
    });

    it('follows a MULTI sent again after MOVED (the EXECABORT it causes is no error) and a pipeline after ASK', async () => {
      const [a, b] = [`{${prefix}:mmoved}:a`, `{${prefix}:mmoved}:b`];
      await cluster.mset(a, '1', b, '2');
      const moved = await startSlotMove(a, [a, b]);
      await moved.finish();
      const [c, d] = [`{${prefix}:pask}:c`, `{${prefix}:pask}:d`];
      await cluster.mset(c, '3', d, '4');
      const asked = await startSlotMove(c, [c, d]);
      tracing.reset();
      try {
        const before = await registry.metrics();
        expect(await cluster.multi().incr(a).get(b).exec()).toEqual([
          [null, 2],
          [null, '2'],
        ]);
        expect(await cluster.pipeline().get(c).get(d).exec()).toEqual([
          [null, '3'],
          [null, '4'],
        ]);
        const after = await registry.metrics();
        const spans = redisSpans();
        expect(spans.map((s) => [s.name, s.status.code, s.attributes['server.port']])).toEqual([
          ['MULTI', SpanStatusCode.UNSET, topology.port(moved.to)],
          ['PIPELINE', SpanStatusCode.UNSET, topology.port(asked.to)],
        ]);
        expect(spans.map((s) => s.attributes['db.redis.redirect'])).toEqual(['moved', 'ask']);
        const delta = (series: string) => sample(after, series) - sample(before, series);
        for (const command of ['multi', 'incr', 'exec']) {
          expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="${command}"}`), command).toBe(1);
        }
        expect(delta(`${CLIENT_METRIC_NAMES.commands}{command="get"}`)).toBe(3);
        expect(after).not.toContain('error_type="EXECABORT"');
        expect(after).not.toContain('command="asking"');
        expect(sample(after, CLIENT_METRIC_NAMES.inFlight)).toBe(0);
      } finally {
        await asked.finish();
      }
    });

    it('shows TRYAGAIN on the span and in the metrics while a multi-key slot is half moved', async () => {
      const [a, b] = [`{${prefix}:try}:a`, `{${prefix}:try}:b`];
      await cluster.mset(a, '1', b, '2');
      const move = await startSlotMove(a, [a]);
      tracing.reset();
      try {
        const reply = cluster.mget(a, b);
        // ioredis retries TRYAGAIN every 100 ms, 16 times at most: move the other key meanwhile.
        await until(async () =>
          sample(await registry.metrics(), `${CLIENT_METRIC_NAMES.clusterErrors}{kind="tryagain"}`),
        );
        await move.migrate([b]);
        expect(await reply).toEqual(['1', '2']);
        const spans = redisSpans();
        expect(spans.map((s) => s.name)).toEqual(['MGET']);
        const span = spans[0] as ReadableSpan;
        expect(span.status.code).toBe(SpanStatusCode.UNSET);
        expect(span.attributes['server.port']).toBe(topology.port(move.to));
        expect(span.events.map((e) => e.name)).toContain('redis.cluster.retry');
        expect(
          span.events.find((e) => e.name === 'redis.cluster.retry')?.attributes?.[
            'db.response.status_code'
          ],
        ).toBe('TRYAGAIN');
        expect((await registry.metrics()).includes('command="mget",error_type')).toBe(false);
      } finally {
        await move.finish();
      }
    });

    it("logs a slow command with the request's correlation id and the node that served it", async () => {
      const key = `${prefix}:slow`;
      const master = await topology.masterNameOf(key);
      logs.lines.length = 0;
      // BLPOP waits its 0.2 s on the key's master: slower than the 100 ms default.
      await runWithRequestContext({ correlationId: 'req-cluster-7' }, () =>
        cluster.blpop(key, 0.2),
      );
      const line = logs.lines.find((l) => l.event === 'redis.slow_command');
      expect(line).toMatchObject({
        correlation_id: 'req-cluster-7',
        command: 'BLPOP',
        role: 'writer',
        node: `${topology.host(master)}:${topology.port(master)}`,
      });
    });
  });

  describe('unhappy', () => {
    it('counts an error reply against the command and the node, with the error on the span', async () => {
      const key = `${prefix}:wrongtype`;
      const master = await topology.masterNameOf(key);
      await cluster.set(key, 'a string');
      const before = await registry.metrics();
      await expect(cluster.lpush(key, 'x')).rejects.toThrow(/WRONGTYPE/);
      const after = await registry.metrics();
      const span = redisSpans().find((s) => s.name === 'LPUSH');
      expect(span?.status.code).toBe(SpanStatusCode.ERROR);
      expect(span?.attributes['error.type']).toBe('WRONGTYPE');
      expect(span?.attributes['server.port']).toBe(topology.port(master));
      const delta = (series: string) => sample(after, series) - sample(before, series);
      expect(
        delta(`${CLIENT_METRIC_NAMES.commandErrors}{command="lpush",error_type="WRONGTYPE"}`),
      ).toBe(1);
      expect(delta(nodeSeries(CLIENT_METRIC_NAMES.clusterNodeErrors, master))).toBe(1);
    });

    it('sends nothing, and so traces and counts nothing, for a pipeline whose keys live on different masters', async () => {
      const keyOf = new Map<string, string>();
      for (let i = 0; keyOf.size < 2 && i < 200; i++) {
        const key = `${prefix}:cross:${i}`;
        keyOf.set(await topology.masterNameOf(key), key);
      }
      const [a, b] = [...keyOf.values()] as [string, string];
      const before = await registry.metrics();
      await expect(cluster.pipeline().get(a).get(b).exec()).rejects.toThrow(/same slot/);
      expect(redisSpans()).toEqual([]);
      expect(
        sample(await registry.metrics(), `${CLIENT_METRIC_NAMES.commands}{command="get"}`),
      ).toBe(sample(before, `${CLIENT_METRIC_NAMES.commands}{command="get"}`));
    });

    it('shows CLUSTERDOWN on the span and in the metrics while a master serves no slot, then the value', async () => {
      const key = `${prefix}:down`;
      await cluster.set(key, 'still here');
      const master = await topology.masterNameOf(key);
      const slot = await slotOf(key);
      tracing.reset();
      await admin(master).call('CLUSTER', 'DELSLOTS', String(slot));
      let restored = false;
      try {
        const reply = cluster.get(key);
        await until(async () =>
          sample(
            await registry.metrics(),
            `${CLIENT_METRIC_NAMES.clusterErrors}{kind="clusterdown"}`,
          ),
        );
        await admin(master).call('CLUSTER', 'ADDSLOTS', String(slot));
        restored = true;
        expect(await reply).toBe('still here');
        const span = redisSpans().find((s) => s.name === 'GET');
        expect(span?.status.code).toBe(SpanStatusCode.UNSET);
        expect(span?.attributes['server.port']).toBe(topology.port(master));
        const retries = span?.events.filter((e) => e.name === 'redis.cluster.retry') ?? [];
        expect(retries.length).toBeGreaterThan(0);
        expect(retries[0]?.attributes?.['db.response.status_code']).toBe('CLUSTERDOWN');
      } finally {
        if (!restored) await admin(master).call('CLUSTER', 'ADDSLOTS', String(slot));
        await topology.waitForHealthy(10_000);
      }
    });
  });

  describe('detach', () => {
    it('removes the hooks from the Cluster and from every node connection it made', async () => {
      const nodes = cluster.nodes('all');
      expect(nodes.length).toBeGreaterThanOrEqual(3);
      for (const node of nodes) expect(Object.hasOwn(node, 'sendCommand')).toBe(true);
      instrumentation.detach();
      expect(Object.hasOwn(cluster, 'sendCommand')).toBe(false);
      for (const node of cluster.nodes('all'))
        expect(Object.hasOwn(node, 'sendCommand')).toBe(false);
      expect(await cluster.get(`${prefix}:after-detach`)).toBeNull();
      expect(redisSpans()).toEqual([]);
      expect(await registry.metrics()).not.toContain('redscope_client_');
    });
  });
});
