/**
 * `npm run bench -- cluster`: redscope on a Redis Cluster.
 *
 * 1. Client overhead: the client bench's workload on a 3-shard cluster through
 *    bare ioredis `Cluster`, redscope (metrics + logs) and redscope with 100%
 *    tracing, interleaved rounds, ratios of paired rounds.
 * 2. Shard scaling: the same workload through bare ioredis on clusters of 1, 2
 *    and 3 masters running side by side, interleaved.
 * 3. Failover: kill -9 a shard master under writes to every shard, 10 times
 *    across the shards; write unavailability of the killed shard (longest
 *    silence between acknowledged writes), and of the other shards.
 * 4. Exporter: scrape cost per node through `/scrape?target=` as the cluster
 *    grows (6, 12, 24 nodes), redscope and redis_exporter 1.45 side by side.
 */
import { join } from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Cluster } from 'ioredis';
import { Registry } from 'prom-client';
import {
  createLogger,
  createRedisClients,
  instrumentRedis,
  type RedisClients,
  type RedisInstrumentation,
} from '../client/index.js';
import { requireBinary } from '../stack/binaries.js';
import { ClusterTopology } from '../stack/cluster-topology.js';
import { freePort } from '../stack/ports.js';
import { packageRoot } from '../stack/repo-paths.js';
import {
  median,
  nullStream,
  percentile,
  type RoundResult,
  round,
  shuffled,
  tracingSetup,
  VALUE,
  type WorkloadClient,
} from './support/client-workload.js';
import { cpuSeconds, type Exporter, fmt, get, startProcess } from './support/exporter-processes.js';

const ROUNDS = 20;
const ROUND_MS = 500;
const KILLS = 10;
const SCRAPES_PER_NODE = 20;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Plain TCP, no persistence: the numbers are the client's and the cluster's, not the disk's. */
const FAST = { appendonly: 'no', save: '""' } as const;

/** A cluster that stops answering fails the bench instead of hanging it. */
const BOUNDED = { redisOptions: { commandTimeout: 5000 } } as const;

interface Variant {
  readonly name: string;
  readonly client: WorkloadClient;
  readonly enter?: () => void;
  readonly leave?: () => void;
}

/** Interleaved rounds in a fresh order each time; results by variant name. */
async function interleaved(
  variants: readonly Variant[],
  between: () => Promise<void> = async () => undefined,
): Promise<Map<string, RoundResult[]>> {
  for (const variant of variants) {
    variant.enter?.();
    await round(variant.client, 300);
    variant.leave?.();
  }
  const results = new Map<string, RoundResult[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const variant of shuffled(variants, r)) {
      variant.enter?.();
      results.get(variant.name)?.push(await round(variant.client, ROUND_MS));
      variant.leave?.();
      await between();
      await delay(50);
    }
  }
  return results;
}

/** Median of per-round ratios to the base variant's round next to it. */
function pairedRatio(results: Map<string, RoundResult[]>, name: string, base: string): number {
  const ours = results.get(name) ?? [];
  const theirs = results.get(base) ?? [];
  return median(ours.map((r, i) => r.opsPerSecond / (theirs[i]?.opsPerSecond ?? Number.NaN)));
}

function throughputRows(
  results: Map<string, RoundResult[]>,
  base: string,
  goals: Record<string, string>,
): string[] {
  return [...results.entries()].map(([name, rounds]) => {
    const ratio = pairedRatio(results, name, base);
    const samples = rounds.map((r) => r.latenciesMs);
    return `| ${name} | ${Math.round(median(rounds.map((r) => r.opsPerSecond))).toLocaleString('en-US')} | ${pct(ratio)} | ${goals[name] ?? ''} | ${median(rounds.map((r) => r.cpuUsPerOp)).toFixed(1)} µs | ${percentile(samples, 50).toFixed(3)} ms | ${percentile(samples, 99).toFixed(3)} ms |`;
  });
}

async function clientOverhead(): Promise<string> {
  const cluster = await ClusterTopology.start({ tls: false, acl: false, redisOverrides: FAST });
  const clients: Cluster[] = [];
  const hooks: RedisInstrumentation[] = [];
  try {
    const connect = () => {
      const client = new Cluster(cluster.seeds(), cluster.clusterOptions(BOUNDED));
      clients.push(client);
      return client;
    };
    const logger = createLogger({ destination: nullStream(), level: 'info' });
    const tracing = tracingSetup(1);
    const contextManager = new AsyncLocalStorageContextManager();
    const instrumented = (traced: boolean) => {
      const client = connect();
      hooks.push(
        instrumentRedis(
          { writer: client },
          {
            registry: new Registry(),
            logger,
            tracing: traced ? { pipeline: tracing.pipeline } : { enabled: false },
            // As the client bench's (a): the goal counts hot keys and the usage record in.
            ...(traced
              ? {}
              : {
                  hotKeys: {
                    redaction: { secret: 'bench-secret-0123456789' },
                    report: { intervalMs: 1000 },
                  },
                  usage: { namespaces: ['bench:'] },
                }),
          },
        ),
      );
      return client;
    };
    const variants: Variant[] = [
      { name: 'bare ioredis Cluster', client: connect() },
      {
        name: '(a) redscope: metrics + logs + hot keys + usage record',
        client: instrumented(false),
      },
      {
        name: '(b) redscope: metrics + logs + 100% tracing',
        client: instrumented(true),
        enter: () => {
          contextManager.enable();
          context.setGlobalContextManager(contextManager);
        },
        leave: () => context.disable(),
      },
    ];
    const results = await interleaved(variants, () => tracing.provider.forceFlush());
    const rows = throughputRows(results, 'bare ioredis Cluster', {
      '(a) redscope: metrics + logs + hot keys + usage record': '≥ 97%',
      '(b) redscope: metrics + logs + 100% tracing': '≥ 85%',
    });
    return [
      `Workload as in the client bench (50 concurrent callers, 80% GET / 20% SET of ${VALUE.length}-byte values over 1,000 keys, spread over all three shards), on a 3-master, 3-replica cluster on this machine (plain TCP, no persistence); ${ROUNDS} interleaved rounds of ${ROUND_MS / 1000} s per variant; ratios are medians of per-round ratios to the bare round. Tracing as \`startTelemetry()\` sets it up, spans dropped by the exporter (${tracing.exporter.exported.toLocaleString('en-US')} exported).`,
      '',
      '| variant | ops/s (median round) | vs bare (median of paired rounds) | goal | client CPU per op | p50 | p99 |',
      '|---|---:|---:|---|---:|---:|---:|',
      ...rows,
    ].join('\n');
  } finally {
    for (const hook of hooks) hook.detach();
    for (const client of clients) client.disconnect();
    await cluster.stop();
  }
}

async function shardScaling(): Promise<string> {
  const sizes = [1, 2, 3];
  const started = await Promise.allSettled(
    sizes.map((masters) =>
      ClusterTopology.start({
        masters,
        replicasPerMaster: 0,
        tls: false,
        acl: false,
        redisOverrides: FAST,
      }),
    ),
  );
  const clusters = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(clusters.map((c) => c.stop()));
    throw failed.reason;
  }
  const clients = clusters.map((c) => new Cluster(c.seeds(), c.clusterOptions(BOUNDED)));
  try {
    const variants = sizes.map((masters, i) => ({
      name: `${masters} shard${masters === 1 ? '' : 's'}`,
      client: clients[i] as Cluster,
    }));
    const results = await interleaved(variants);
    const base = '1 shard';
    // How much of a core the benchmark process itself burns: near 1, it is the limit, not Redis.
    const clientCores = [...results.values()].map((rounds) =>
      median(rounds.map((r) => (r.cpuUsPerOp * r.opsPerSecond) / 1e6)),
    );
    return [
      `Bare ioredis \`Cluster\`, the same workload, on clusters of 1, 2 and 3 masters (no replicas, plain TCP, no persistence) running side by side, ${ROUNDS} interleaved rounds each. This machine has ${(await import('node:os')).cpus().length} cores shared by the benchmark process and every redis-server.`,
      '',
      '| cluster | ops/s (median round) | vs 1 shard | | client CPU per op | p50 | p99 |',
      '|---|---:|---:|---|---:|---:|---:|',
      ...throughputRows(results, base, {}),
      '',
      `The benchmark process alone uses ${clientCores.map((c) => c.toFixed(2)).join(' / ')} of a core (client CPU per op × ops/s) for 1 / 2 / 3 shards, and the redis-servers share the other: on 2 cores the client and the shared CPU are the limit, so more shards cannot add throughput here. Shards scale throughput when each has its own cores, as on separate hosts.`,
    ].join('\n');
  } finally {
    for (const client of clients) client.disconnect();
    await Promise.all(clusters.map((c) => c.stop()));
  }
}

async function failover(): Promise<string> {
  const cluster = await ClusterTopology.start();
  try {
    const { tls, users } = cluster.describe();
    const app = users?.app;
    if (!tls || !app)
      throw new Error('cluster bench: the failover cluster runs TLS with ACL users');
    const clients = createRedisClients({
      cluster: {
        nodes: cluster
          .seeds()
          .slice(0, 3)
          .map(({ host, port }) => `${host}:${port}`),
      },
      username: app.username,
      password: app.password,
      tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile },
    });
    try {
      return await killShardMasters(cluster, clients);
    } finally {
      await clients.close();
    }
  } finally {
    await cluster.stop();
  }
}

/** KILLS kill -9 of a shard master under one writer per shard; the write gaps as a table. */
async function killShardMasters(
  cluster: ClusterTopology,
  clients: RedisClients<Cluster>,
): Promise<string> {
  await clients.ready();
  // One hash tag per shard, found by asking the cluster, so each writer stays on one shard.
  const tags: string[] = [];
  const owners = new Set<string>();
  for (let i = 0; tags.length < 3 && i < 1000; i++) {
    const master = await cluster.masterNameOf(`{s${i}}`);
    if (!owners.has(master)) {
      owners.add(master);
      tags.push(`{s${i}}`);
    }
  }
  const acks = new Map<string, number[]>(tags.map((tag) => [tag, []]));
  const errors = new Map<string, number>(tags.map((tag) => [tag, 0]));
  let running = true;
  const writers = tags.map(async (tag) => {
    let n = 0;
    while (running) {
      try {
        await clients.writer.set(`${tag}:${n++}`, '1');
        acks.get(tag)?.push(Date.now());
      } catch {
        errors.set(tag, (errors.get(tag) ?? 0) + 1);
      }
      await delay(5);
    }
  });
  const gaps: { killed: number; others: number }[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      const tag = tags[k % tags.length] as string;
      const victim = await cluster.masterNameOf(tag);
      await delay(1000);
      const faultAt = Date.now();
      await cluster.kill(victim);
      await cluster.waitForHealthy(30_000, victim);
      // The killed shard's writer must have written again, so its gap is closed and counted.
      const deadline = Date.now() + 30_000;
      while ((acks.get(tag)?.at(-1) ?? 0) <= faultAt + 1 || Date.now() - faultAt < 1000) {
        if (Date.now() > deadline)
          throw new Error(`cluster bench: no write to ${tag} after kill ${k + 1}`);
        await delay(20);
      }
      await delay(500);
      gaps.push({
        killed: longestClosedGap(acks.get(tag) ?? [], faultAt),
        others: Math.max(
          ...tags.filter((t) => t !== tag).map((t) => longestClosedGap(acks.get(t) ?? [], faultAt)),
        ),
      });
      await cluster.restart(victim);
      await cluster.waitForHealthy(30_000);
    }
  } finally {
    running = false;
    await Promise.all(writers);
  }
  const killed = gaps.map((g) => g.killed).sort((a, b) => a - b);
  const others = gaps.map((g) => g.others).sort((a, b) => a - b);
  return [
    `${KILLS} kill -9 of a shard master (the three shards in turn) on a TLS cluster with ACL users and the shipped \`cluster-node-timeout 1200\`, under one writer per shard (SET through \`createRedisClients({ cluster })\`, 5 ms apart); each time, after the slots moved to the replica and the killed shard's writer wrote again, the killed node is restarted (it rejoins as a replica) and the cluster is healthy before the next kill. Write unavailability: the longest silence between two acknowledged writes from the kill on, for the killed shard and, for the others, the worse of the two.`,
    '',
    '| | median | max | goal |',
    '|---|---:|---:|---|',
    `| killed shard | ${fmt(median(killed) / 1000)} s | ${fmt((killed.at(-1) ?? 0) / 1000)} s | ≤ 3 s |`,
    `| the other shards (worst of the two) | ${fmt(median(others) / 1000)} s | ${fmt((others.at(-1) ?? 0) / 1000)} s | |`,
    '',
    `Per kill (s): ${gaps.map((g) => fmt(g.killed / 1000)).join(', ')}. Write errors seen by the callers, per shard: ${tags.map((t) => errors.get(t) ?? 0).join(', ')}.`,
  ].join('\n');
}

/** Longest silence between consecutive acks, counting the one just before `faultAt`. */
function longestClosedGap(times: readonly number[], faultAt: number): number {
  let gap = 0;
  let previous = times.filter((t) => t < faultAt).at(-1);
  for (const t of times) {
    if (t < faultAt) continue;
    if (previous !== undefined) gap = Math.max(gap, t - previous);
    previous = t;
  }
  return gap;
}

async function exporterCost(): Promise<string> {
  const rows: string[] = [];
  for (const masters of [3, 6, 12]) {
    const cluster = await ClusterTopology.start({
      masters,
      replicasPerMaster: 1,
      tls: false,
      acl: false,
      redisOverrides: FAST,
      startTimeoutMs: 60_000,
    });
    const exporters: Exporter[] = [];
    try {
      const seed = `redis://127.0.0.1:${cluster.port('redis-0')}`;
      const ours = await freePort();
      const theirs = await freePort();
      exporters.push(
        await startProcess(
          'redscope',
          process.execPath,
          [
            join(packageRoot(), 'bin', 'redscope.js'),
            'exporter',
            '--redis-url',
            seed,
            '--allow-target',
            'redis://127.0.0.1:*',
            '--listen',
            `127.0.0.1:${ours}`,
            '--log-level',
            'warn',
          ],
          `http://127.0.0.1:${ours}/metrics`,
        ),
      );
      // One at a time, so a failing second start still leaves the first to be stopped.
      exporters.push(
        await startProcess(
          'redis_exporter 1.45 -is-cluster',
          requireBinary('prometheus-redis-exporter'),
          ['-redis.addr', seed, '-is-cluster', '-web.listen-address', `127.0.0.1:${theirs}`],
          `http://127.0.0.1:${theirs}/metrics`,
        ),
      );
      const nodes = cluster.seeds().map(({ port }) => `redis://127.0.0.1:${port}`);
      const cost = new Map<Exporter, { ms: number[]; cpu: number; bytes: number }>();
      for (const exporter of exporters) cost.set(exporter, { ms: [], cpu: 0, bytes: 0 });
      for (let i = 0; i < SCRAPES_PER_NODE; i++) {
        for (const exporter of shuffled(exporters, i)) {
          const entry = cost.get(exporter) as { ms: number[]; cpu: number; bytes: number };
          const base = new URL(exporter.url).origin;
          const before = cpuSeconds(exporter.pid);
          for (const node of nodes) {
            const { ms, body } = await get(`${base}/scrape?target=${encodeURIComponent(node)}`);
            entry.ms.push(ms);
            entry.bytes += body.length;
          }
          entry.cpu += cpuSeconds(exporter.pid) - before;
        }
      }
      for (const exporter of exporters) {
        const entry = cost.get(exporter) as { ms: number[]; cpu: number; bytes: number };
        const scrapes = entry.ms.length;
        rows.push(
          `| ${nodes.length} | ${exporter.name} | ${fmt(median(entry.ms))} ms | ${fmt(percentile([Float64Array.from(entry.ms)], 99))} ms | ${fmt((entry.cpu * 1000) / scrapes)} ms | ${Math.round(entry.bytes / scrapes / 1024)} KiB |`,
        );
      }
      if (masters === 3) {
        const started = performance.now();
        const { body } = await get(
          `${new URL((exporters[0] as Exporter).url).origin}/discover-cluster-nodes`,
        );
        const groups = JSON.parse(body) as unknown[];
        rows.push(
          `| ${nodes.length} | redscope \`/discover-cluster-nodes\` | ${fmt(performance.now() - started)} ms | | | ${groups.length} targets |`,
        );
      }
    } finally {
      for (const exporter of exporters) exporter.stop();
      await cluster.stop();
    }
  }
  return [
    `One exporter process each, scraping every node of the cluster in turn through \`/scrape?target=\` (${SCRAPES_PER_NODE} passes, exporters interleaved), clusters of 3, 6 and 12 masters with one replica each (plain TCP, no persistence). CPU is the exporter process's user + system time per scrape, from /proc. (redis_exporter 1.45 \`-is-cluster\` changes only how its key checks connect; its cluster families come from CLUSTER INFO on every node, as redscope's.)`,
    '',
    '| nodes | exporter | median scrape | p99 | CPU per scrape | response |',
    '|---:|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

export default async function clusterBench(): Promise<string> {
  const sections: string[] = [];
  sections.push('### Client overhead on a cluster', '', await clientOverhead(), '');
  sections.push('### Throughput with 1, 2 and 3 shards', '', await shardScaling(), '');
  sections.push('### Failover, per shard', '', await failover(), '');
  sections.push('### Exporter scrape cost per node', '', await exporterCost());
  return sections.join('\n');
}
