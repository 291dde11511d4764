/**
 * `npm run bench -- tls`: what TLS costs the client. The same ioredis workload
 * (SET and GET of 128-byte values, 32 concurrent callers on one connection, as
 * an app process does) runs against the master of a TLS topology and of a
 * plain-TCP one, both started in this run from the same configs, in interleaved rounds so machine noise
 * hits both alike. Reported as TLS / plain ratios of throughput and p99, plus
 * the cost of a new connection (handshake + AUTH + PING), which is what a
 * reconnection storm after a failover pays.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RedisTopology } from '../stack/topology.js';

const ROUNDS = 8;
const ROUND_MS = 2000;
/** One caller waiting for each reply (pure round trips), and 32 sharing the connection (an app under load). */
const WORKLOADS = [1, 32] as const;
const VALUE = 'v'.repeat(128);
const KEYS = 1000;
const NEW_CONNECTIONS = 40;

interface RoundResult {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function clientOf(topology: RedisTopology): Redis {
  const client = new Redis({
    ...topology.connectionOptions(),
    port: topology.port('redis-0'),
    maxRetriesPerRequest: 1,
  });
  client.on('error', () => undefined);
  return client;
}

async function runRound(
  client: Redis,
  durationMs: number,
  concurrency: number,
): Promise<RoundResult> {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const key = `bench:tls:${n++ % KEYS}`;
      const start = performance.now();
      if (n % 2 === 0) await client.set(key, VALUE);
      else await client.get(key);
      latencies.push(performance.now() - start);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    opsPerSecond: (latencies.length / elapsed) * 1000,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

/** Server-side counters: how many commands arrived in how many socket reads. */
async function serverCounters(client: Redis): Promise<{ commands: number; reads: number }> {
  const stats = await client.info('stats');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return { commands: field('total_commands_processed'), reads: field('total_reads_processed') };
}

/** Median time to open a connection and get the first PONG (TLS handshake + AUTH + PING). */
async function connectCost(topology: RedisTopology): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < NEW_CONNECTIONS; i++) {
    const start = performance.now();
    const client = new Redis({
      ...topology.connectionOptions(),
      port: topology.port('redis-0'),
      enableReadyCheck: false,
    });
    client.on('error', () => undefined);
    await client.ping();
    times.push(performance.now() - start);
    client.disconnect();
  }
  return median(times);
}

const fmt = (value: number, digits = 2) => value.toFixed(digits);

export default async function tlsBench(): Promise<string> {
  const startedAt = performance.now();
  const tlsTopology = await RedisTopology.start({ tls: true });
  const tlsStartMs = performance.now() - startedAt;
  const plainStartedAt = performance.now();
  const plainTopology = await RedisTopology.start({ tls: false });
  const plainStartMs = performance.now() - plainStartedAt;
  const tlsClient = clientOf(tlsTopology);
  const plainClient = clientOf(plainTopology);
  try {
    // Warm-up: connections, key space, JIT.
    await runRound(tlsClient, 1000, 8);
    await runRound(plainClient, 1000, 8);
    const summary = (rounds: RoundResult[]) => ({
      ops: median(rounds.map((r) => r.opsPerSecond)),
      p50: median(rounds.map((r) => r.p50Ms)),
      p99: median(rounds.map((r) => r.p99Ms)),
    });
    const rows: string[] = [];
    const perRound: string[] = [];
    const batching: string[] = [];
    for (const concurrency of WORKLOADS) {
      const results = { tls: [] as RoundResult[], plain: [] as RoundResult[] };
      const before = {
        tls: await serverCounters(tlsClient),
        plain: await serverCounters(plainClient),
      };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first, so neither always runs on a warmer machine.
        const order = round % 2 === 0 ? (['tls', 'plain'] as const) : (['plain', 'tls'] as const);
        for (const kind of order) {
          const client = kind === 'tls' ? tlsClient : plainClient;
          results[kind].push(await runRound(client, ROUND_MS, concurrency));
        }
      }
      const tls = summary(results.tls);
      const plain = summary(results.plain);
      const label = `${concurrency} caller${concurrency === 1 ? '' : 's'}`;
      const perRead = async (kind: 'tls' | 'plain', client: Redis) => {
        const after = await serverCounters(client);
        return (
          (after.commands - before[kind].commands) / Math.max(1, after.reads - before[kind].reads)
        );
      };
      batching.push(
        `${label}: TLS ${fmt(await perRead('tls', tlsClient), 1)}, plain ${fmt(await perRead('plain', plainClient), 1)}`,
      );
      rows.push(
        `| ${label} | TLS | ${fmt(tls.ops, 0)} | ${fmt(tls.p50, 3)} | ${fmt(tls.p99, 3)} |`,
        `| ${label} | plain TCP | ${fmt(plain.ops, 0)} | ${fmt(plain.p50, 3)} | ${fmt(plain.p99, 3)} |`,
        `| ${label} | **TLS / plain** | **${fmt(tls.ops / plain.ops)}** | ${fmt(tls.p50 / plain.p50)} | **${fmt(tls.p99 / plain.p99)}** |`,
      );
      const ratios = results.tls.map(
        (r, i) => r.opsPerSecond / (results.plain[i]?.opsPerSecond ?? Number.NaN),
      );
      perRound.push(`${label}: ${ratios.map((r) => fmt(r)).join(', ')}`);
    }
    const tlsConnect = await connectCost(tlsTopology);
    const plainConnect = await connectCost(plainTopology);

    return [
      `Same ioredis workload (50% SET / 50% GET, 128-byte values, ACL user auth) against the master of a TLS topology (client certificate verified, TLS 1.3, P-256 certificates) and of a plain-TCP one, both started in this run from the configs in \`sentinel/\`; per workload ${ROUNDS} interleaved rounds of ${ROUND_MS / 1000} s each, medians over rounds.`,
      '',
      '| workload | transport | throughput (ops/s) | p50 (ms) | p99 (ms) |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      `New connection (TLS handshake + AUTH + PING, median of ${NEW_CONNECTIONS}): TLS ${fmt(tlsConnect)} ms, plain ${fmt(plainConnect)} ms (${fmt(tlsConnect / plainConnect, 1)}×): what every client pays again when it reconnects after a failover.`,
      '',
      `Throughput ratio TLS / plain per round (the spread is this shared machine's noise): ${perRound.join('; ')}.`,
      '',
      `Commands the master handled per socket read (INFO stats \`total_commands_processed\` / \`total_reads_processed\`, all rounds): ${batching.join('; ')}. With one caller every command is a round trip and TLS adds its record processing to each; with many callers sharing a connection, commands that queue up while the (slower) TLS write is in progress go out together, so each read and write carries more commands, which is why TLS can match or beat plain TCP on throughput there.`,
      '',
      `Topology start (master, 2 replicas, 3 Sentinels, ACL; until replication and Sentinels have converged): TLS ${fmt(tlsStartMs / 1000, 1)} s (including making the CA and certificates), plain ${fmt(plainStartMs / 1000, 1)} s.`,
    ].join('\n');
  } finally {
    tlsClient.disconnect();
    plainClient.disconnect();
    await Promise.all([tlsTopology.stop(), plainTopology.stop()]);
  }
}
