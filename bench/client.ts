/**
 * `npm run bench -- client`: what the instrumented client costs. One local
 * plain Redis; the same workload (80% GET / 20% SET of 100-byte values over
 * 1,000 keys, 50 concurrent callers) through bare ioredis and through the
 * redscope client with (a) metrics and logs on, (b) plus 100% tracing as
 * `startTelemetry()` sets it up (command spans recorded by redscope into the
 * SDK's processor), (b') the same through the SDK's own spans, and
 * (c) bare ioredis with a no-op `ioredis:command` diagnostics_channel
 * subscriber, the design the client does not use (see client/instrument.ts).
 * Variants run in interleaved rounds in one process; ratios are medians of
 * per-round ratios to the bare round next to them, because absolute numbers
 * on a shared machine drift.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Command, Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  type ClientOptions,
  createLogger,
  instrumentRedis,
  type RedisInstrumentation,
  runWithRequestContext,
} from '../client/index.js';
import type { TracingOptions } from '../client/instrumentation/instrumentation.js';
import { setRequestIdentity } from '../client/logging/request-context.js';
import { RedisTopology } from '../stack/topology.js';
import {
  CALLERS,
  KEYS,
  median,
  nullStream,
  percentile,
  type RoundResult,
  round,
  shuffled,
  type TracingSetup,
  tracingSetup,
  VALUE,
} from './support/client-workload.js';

const ROUNDS = 30;
const ROUND_MS = 500;
const WARMUP_MS = 1500;

const CONTEXT_ONLY = '(e) bare + OpenTelemetry context manager only (no redscope, no spans)';

/** Busy CPU that variant (f) adds to every command it sends, µs. */
const SPIN_US = 1;

/**
 * A bare client that spends SPIN_US of CPU before each command it sends:
 * how much throughput a known amount of client work costs on this machine,
 * to read the other variants' costs against.
 */
function withSpin(redis: Redis): Redis {
  const send = redis.sendCommand;
  redis.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const until = performance.now() + SPIN_US / 1000;
    while (performance.now() < until) {
      // busy on purpose
    }
    return send.apply(this, args);
  } as Redis['sendCommand'];
  return redis;
}

interface Variant {
  readonly name: string;
  readonly redis: Redis;
  /** Switches process-wide state on for this variant's rounds only (context manager, channel subscriber). */
  readonly enter?: () => void;
  readonly leave?: () => void;
}

/**
 * What the hook itself costs per command, without a network or a server: the
 * client's `sendCommand` is replaced by one that answers at once, so the loop
 * measures command construction + the hook (+ span) + the reply path, and the
 * difference to the same loop without the hook is redscope's share.
 */
export async function hookCost(
  setup: TracingSetup,
): Promise<{ metricsNs: number; pipelineNs: number; sdkNs: number }> {
  const answering = (tracing: TracingOptions | undefined) => {
    const redis = new Redis({ lazyConnect: true });
    const instant = (command: Command) => {
      command.resolve('OK');
      return command.promise;
    };
    redis.sendCommand = instant as unknown as Redis['sendCommand'];
    if (tracing !== undefined)
      instrumentRedis({ writer: redis }, { registry: new Registry(), tracing });
    return redis;
  };
  const plain = answering(undefined);
  const metrics = answering({ enabled: false });
  const recorded = answering({ pipeline: setup.pipeline });
  const sdkSpans = answering({ tracerProvider: setup.provider });
  const n = 200_000;
  const loop = async (redis: Redis) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const command = new Command('get', [`bench:${i % KEYS}`]);
      redis.sendCommand(command);
      await command.promise;
      // Yield to the event loop now and then, as a networked client does between replies:
      // staged command spans are made at setImmediate.
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
    }
    return ((performance.now() - t0) * 1e6) / n;
  };
  // One phase per variant: a traced loop leaves span garbage whose collection would land in its
  // neighbours' loops, so each comparison runs on its own.
  const phase = async (other: Redis, rounds: number) => {
    const base: number[] = [];
    const hooked: number[] = [];
    for (let r = 0; r < rounds; r++) {
      base.push(await loop(plain));
      hooked.push(await loop(other));
      // Staged command spans are made at the next setImmediate: let that happen outside the loops.
      await new Promise((resolve) => setImmediate(resolve));
      await setup.provider.forceFlush();
    }
    return median(hooked) - median(base);
  };
  const metricsNs = await phase(metrics, 9);
  const pipelineNs = await phase(recorded, 7);
  const sdkNs = await phase(sdkSpans, 5);
  return { metricsNs, pipelineNs, sdkNs };
}

function logLineCost(): { plainUs: number; inRequestUs: number } {
  const logger = createLogger({ destination: nullStream(), level: 'info' });
  const tracer = new BasicTracerProvider().getTracer('bench');
  const n = 100_000;
  const measure = (fn: () => void) => {
    for (let i = 0; i < 5_000; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - t0) * 1000) / n;
  };
  const line = () =>
    logger.info(
      { event: 'session.validate', valid: true, source: 'replica', duration_ms: 0.4 },
      'session validated',
    );
  const plainUs = measure(line);
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  let inRequestUs = 0;
  runWithRequestContext({ correlationId: 'bench-request' }, () => {
    setRequestIdentity({ userId: 'u-1', orgId: 'org-1', sessionId: 'token' });
    const span = tracer.startSpan('request');
    context.with(trace.setSpan(context.active(), span), () => {
      inRequestUs = measure(line);
    });
    span.end();
  });
  context.disable();
  return { plainUs, inRequestUs };
}

export default async function clientBench(): Promise<string> {
  const topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    // The shipped master refuses writes without a replica; persistence would only add server noise.
    redisOverrides: { 'min-replicas-to-write': '0', appendonly: 'no', save: '""' },
  });
  const connect = () =>
    new Redis({ host: '127.0.0.1', port: topology.port('redis-0'), maxRetriesPerRequest: 1 });
  const clients: Redis[] = [];
  const hooks: RedisInstrumentation[] = [];
  try {
    // Tracing configured exactly as startTelemetry() configures it (sampler, id generator,
    // batch size and queue, span pipeline), only the exporter drops the batches.
    const full = tracingSetup(1);
    const viaSdk = tracingSetup(1);
    const sampled = tracingSetup(0.1);
    const setups = [full, viaSdk, sampled];
    const contextManager = new AsyncLocalStorageContextManager();
    const enterTracing = () => {
      contextManager.enable();
      context.setGlobalContextManager(contextManager);
      // Node 20's AsyncLocalStorage switches its async hook on at the first run(); the SDK
      // does that at its first export anyway, so every round measures it switched on.
      context.with(context.active(), () => undefined);
    };
    const leaveTracing = () => context.disable();
    const logger = createLogger({ destination: nullStream(), level: 'info' });
    const instrumented = (
      tracing: TracingOptions,
      extra: Pick<ClientOptions, 'hotKeys' | 'usage'> = {},
    ) => {
      const redis = connect();
      clients.push(redis);
      hooks.push(
        instrumentRedis({ writer: redis }, { registry: new Registry(), logger, tracing, ...extra }),
      );
      return redis;
    };
    const bare = connect();
    const withChannel = connect();
    const withContextOnly = connect();
    const spinning = withSpin(connect());
    clients.push(bare, withChannel, withContextOnly, spinning);
    const commandChannel = tracingChannel('ioredis:command');
    const noop = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    const traced = {
      name: '(b) redscope: metrics + logs + 100% tracing',
      redis: instrumented({ pipeline: full.pipeline }),
      enter: enterTracing,
      leave: leaveTracing,
    };
    const tracedViaSdk = {
      name: "(b') as (b), with the OpenTelemetry SDK's own spans (`tracerProvider` option)",
      redis: instrumented({ tracerProvider: viaSdk.provider }),
      enter: enterTracing,
      leave: leaveTracing,
    };
    const variants: Variant[] = [
      { name: 'bare ioredis', redis: bare },
      {
        name: '(a) redscope: metrics + logs + hot keys + usage record',
        redis: instrumented(
          { enabled: false },
          {
            hotKeys: {
              redaction: { secret: 'bench-secret-0123456789' },
              report: { intervalMs: 1000 },
            },
            // Every key of this workload is in the recorded namespace: the most it can cost.
            usage: { namespaces: ['bench:'] },
          },
        ),
      },
      {
        name: "(a') redscope: metrics + logs, hot keys off",
        redis: instrumented({ enabled: false }),
      },
      traced,
      tracedViaSdk,
      {
        name: '(d) redscope: metrics + logs + tracing sampled at 10%',
        redis: instrumented({ pipeline: sampled.pipeline }),
        enter: enterTracing,
        leave: leaveTracing,
      },
      {
        name: CONTEXT_ONLY,
        redis: withContextOnly,
        enter: enterTracing,
        leave: leaveTracing,
      },
      {
        name: '(c) bare + no-op diagnostics_channel subscriber',
        redis: withChannel,
        enter: () => commandChannel.subscribe(noop),
        leave: () => commandChannel.unsubscribe(noop),
      },
      {
        name: `(f) bare + ${SPIN_US} µs of busy CPU per command sent (calibration: what that much client work costs here)`,
        redis: spinning,
      },
    ];
    // Every command of a fully traced variant must become an exported span.
    const tracedCommands = new Map<Variant, number>([
      [traced, 0],
      [tracedViaSdk, 0],
    ]);
    const count = (variant: Variant, commands: number) => {
      const seen = tracedCommands.get(variant);
      if (seen !== undefined) tracedCommands.set(variant, seen + commands);
    };
    for (const variant of variants) {
      await variant.redis.set('bench:0', VALUE);
      count(variant, 1);
      variant.enter?.();
      const warm = await round(variant.redis, WARMUP_MS / variants.length);
      variant.leave?.();
      count(variant, warm.commands);
    }
    const results = new Map<string, RoundResult[]>(variants.map((v) => [v.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // A fresh order each round: garbage and batched spans left by one variant must not
      // always land in the same neighbour's round.
      for (const variant of shuffled(variants, r)) {
        variant.enter?.();
        const result = await round(variant.redis, ROUND_MS);
        results.get(variant.name)?.push(result);
        count(variant, result.commands);
        variant.leave?.();
        // Let the span batches export and the collector run between rounds, outside any measurement.
        await Promise.all(setups.map((setup) => setup.provider.forceFlush()));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // A full batch queue drops spans, which would make tracing look cheaper than it is.
    // (A few more spans than commands: the connection handshake is traced too.)
    for (const [variant, setup] of [
      [traced, full],
      [tracedViaSdk, viaSdk],
    ] as const) {
      const commands = tracedCommands.get(variant) ?? 0;
      if (setup.exporter.exported < commands) {
        throw new Error(
          `bench: ${commands} traced commands in "${variant.name}" but ${setup.exporter.exported} spans exported; spans were dropped`,
        );
      }
    }
    const exportedSpans = full.exporter.exported;
    const bareRounds = results.get('bare ioredis') ?? [];
    const rows = variants.map((variant) => {
      const rounds = results.get(variant.name) ?? [];
      const ratios = rounds.map(
        (rr, i) => rr.opsPerSecond / (bareRounds[i]?.opsPerSecond ?? Number.NaN),
      );
      const samples = rounds.map((rr) => rr.latenciesMs);
      return {
        name: variant.name,
        throughput: median(rounds.map((rr) => rr.opsPerSecond)),
        ratio: median(ratios),
        minRatio: Math.min(...ratios),
        maxRatio: Math.max(...ratios),
        cpu: median(rounds.map((rr) => rr.cpuUsPerOp)),
        // Ratio of medians: per-round CPU pairs are noisier than each variant's own median.
        cpuRatio:
          median(bareRounds.map((rr) => rr.cpuUsPerOp)) / median(rounds.map((rr) => rr.cpuUsPerOp)),
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
      };
    });
    const goals: Record<string, string> = {
      '(a) redscope: metrics + logs + hot keys + usage record': '≥ 97%',
      '(b) redscope: metrics + logs + 100% tracing': '≥ 85%',
    };
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const logCost = logLineCost();
    const hook = await hookCost(tracingSetup(1));
    // What tracing adds for an app that already runs OpenTelemetry's context manager (as any traced app does).
    const pairedRatio = (over: string, under: string) => {
      const a = results.get(over) ?? [];
      const b = results.get(under) ?? [];
      return median(a.map((rr, i) => rr.opsPerSecond / (b[i]?.opsPerSecond ?? Number.NaN)));
    };
    const tracedOverContext = pairedRatio(traced.name, CONTEXT_ONLY);
    const bareCpu = rows[0]?.cpu ?? Number.NaN;
    const ns = (x: number) =>
      x < 100
        ? `under 0.1 µs (not separable from noise: ${Math.round(x)} ns)`
        : `${(x / 1000).toFixed(2)} µs`;
    const table = [
      '| variant | ops/s (median round) | throughput vs bare (median of paired rounds) | range over rounds | goal | client CPU per op (median) | CPU-bound throughput ratio (bare CPU / variant CPU) | p50 latency | p99 latency |',
      '|---|---:|---:|---:|---|---:|---:|---:|---:|',
      ...rows.map(
        (row) =>
          `| ${row.name} | ${Math.round(row.throughput).toLocaleString('en-US')} | ${pct(row.ratio)} | ${pct(row.minRatio)}–${pct(row.maxRatio)} | ${goals[row.name] ?? ''} | ${row.cpu.toFixed(1)} µs | ${pct(row.cpuRatio)} | ${row.p50.toFixed(3)} ms | ${row.p99.toFixed(3)} ms |`,
      ),
    ];
    return [
      `Workload: ${CALLERS} concurrent callers, 80% GET / 20% SET of ${VALUE.length}-byte values over ${KEYS} keys, one local redis-server (plain TCP, no persistence) on the same machine; ${ROUNDS} interleaved rounds of ${ROUND_MS / 1000} s per variant after a warm-up, in a fresh order each round. Tracing: configured as \`startTelemetry()\` configures it (parent-based sampler, pooled id generator, the SDK's BatchSpanProcessor with its batch of 512 and queue of 2048, OpenTelemetry's AsyncLocalStorage context manager); (b) records command spans through the span pipeline \`startTelemetry()\` registers, (b') through the SDK tracer. Spans are batched and handed to an exporter that reads every field an OTLP exporter reads, then drops them instead of serializing and sending (${exportedSpans.toLocaleString('en-US')} spans for (b), at least one per command: none lost to a full queue). Logs: pino at info to a discarding stream (commands are not logged at info).`,
      '',
      ...table,
      '',
      `(b) against (e), i.e. what tracing costs an app that already runs OpenTelemetry's context manager, as every traced Node app does: ${pct(tracedOverContext)} (median of paired rounds).`,
      '',
      `redscope's own cost per command, measured without network or server (200,000 commands answered in-process, yielding to the event loop every 256 as a networked client does, median of alternating loops with and without the hook, minus the loop without): ${ns(hook.metricsNs)} with metrics + logs; ${ns(hook.pipelineNs)} with a span per command through the span pipeline; ${ns(hook.sdkNs)} through the SDK's own spans. Against the ${bareCpu.toFixed(1)} µs of client CPU a bare command costs here, that predicts ${pct(bareCpu / (bareCpu + Math.max(0, hook.metricsNs) / 1000))} of bare throughput for (a) and ${pct(bareCpu / (bareCpu + hook.pipelineNs / 1000))} for (b) before the context manager's cost (e), when the client process is the bottleneck.`,
      '',
      `One log line (pino JSON with redaction and the correlation mixin, to a discarding stream): ${logCost.plainUs.toFixed(2)} µs outside a request, ${logCost.inRequestUs.toFixed(2)} µs inside a request context with an active span (correlation id, user, org, hashed session, trace and span ids added). Goal from the seed: under 1 ms.`,
    ].join('\n');
  } finally {
    for (const hook of hooks) hook.detach();
    for (const c of clients) c.disconnect();
    await topology.stop();
  }
}
