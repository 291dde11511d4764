/**
 * `npm run bench -- exporter`: redscope's exporter against redis_exporter 1.45
 * (prometheus-redis-exporter), both as real processes scraping the same local
 * Redis master in one run. Scrapes alternate between the two (the order flips
 * every round) so drift on a shared machine hits both alike; latency is the
 * client-side time of a keep-alive HTTP GET of the full response. CPU is each
 * process's utime+stime from /proc over the run, divided by its scrapes. Then
 * 50 concurrent scrapers per exporter, with Redis' own counters showing how
 * many commands each scrape costs the target.
 *
 * Memory (/proc VmRSS, VmHWM and the private part) is read at every phase: after
 * start, after the warm-up, after the interleaved run and after the concurrent
 * scrapers, for the default run (`redscope exporter` as the Docker image runs it)
 * and each variant in REDSCOPE_RUNS. `node dist/bench/exporter.js` prints the
 * result without writing BENCHMARKS.md.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { V8_DEFAULT_FLAGS } from '../exporter/node-flags.js';
import { requireBinary } from '../stack/binaries.js';
import { freePort } from '../stack/ports.js';
import { packageRoot } from '../stack/repo-paths.js';
import { RedisTopology } from '../stack/topology.js';
import {
  agent,
  CLOCK_TICKS,
  cpuSeconds,
  type Exporter,
  fmt,
  get,
  type Memory,
  memory,
  quantile,
  startProcess,
} from './support/exporter-processes.js';
import { keyChecksCase } from './support/key-checks-case.js';

const SCRAPES = 600;
const WARMUP = 50;
const CONCURRENT = 50;
const WAVES = 10;
/** The exporter's memory goal (issue #15): RSS and its peak, of the default run. */
const RSS_GOAL_MIB = 64;

/**
 * The redscope processes of the run, each with its node flags (before the script)
 * and exporter arguments (after --redis-url, --listen and --log-level). The first
 * is the default run, which the goals are about; a new case is one more entry.
 */
const CAPPED_HEAP_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=32'] as const;

const REDSCOPE_RUNS: readonly {
  readonly name: string;
  readonly nodeFlags: readonly string[];
  readonly args: readonly string[];
}[] = [
  { name: 'redscope', nodeFlags: [], args: [] },
  // A hard heap cap (1 MiB young, 32 MiB old generation), against the exporter's own flags.
  {
    name: `redscope, node ${CAPPED_HEAP_FLAGS.join(' ')}`,
    nodeFlags: CAPPED_HEAP_FLAGS,
    args: [],
  },
  // The default run's heap flags with V8's compilers kept: what the interpreter saves and costs.
  { name: 'redscope, node --opt --sparkplug', nodeFlags: ['--opt', '--sparkplug'], args: [] },
  // What the default run's V8 flags (exporter/node-flags.ts) save, against V8's own defaults.
  { name: `redscope, node ${V8_DEFAULT_FLAGS.join(' ')}`, nodeFlags: V8_DEFAULT_FLAGS, args: [] },
];

/** When memory is read, in order: the columns of the memory table. */
const PHASES = ['start', 'warm-up', 'run', 'concurrent'] as const;
type Phase = (typeof PHASES)[number];
const PHASE_HEADINGS: Record<Phase, string> = {
  start: 'after start',
  'warm-up': `after ${WARMUP} scrapes`,
  run: `after ${WARMUP + SCRAPES} scrapes`,
  concurrent: `after ${CONCURRENT * WAVES} concurrent scrapes`,
};

async function commandsProcessed(redis: Redis): Promise<{ total: number; info: number }> {
  const stats = await redis.info('stats');
  const commandstats = await redis.info('commandstats');
  return {
    total: Number(/total_commands_processed:(\d+)/.exec(stats)?.[1]),
    info: Number(/cmdstat_info:calls=(\d+)/.exec(commandstats)?.[1]),
  };
}

export default async function exporterBench(): Promise<string> {
  const topology = await RedisTopology.start({ tls: false, acl: false, replicas: 1, sentinels: 0 });
  const exporters: Exporter[] = [];
  const redis = topology.connect(topology.port('redis-0'));
  try {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.set(`bench:${i}`, 'x'.repeat(100));
    pipeline.select(1);
    for (let i = 0; i < 100; i++) pipeline.set(`bench:db1:${i}`, 'y', 'EX', 3600);
    pipeline.select(0);
    await pipeline.exec();
    const target = `redis://127.0.0.1:${topology.port('redis-0')}`;
    const portRe = await freePort();
    exporters.push(
      await startProcess(
        'redis_exporter 1.45',
        requireBinary('prometheus-redis-exporter'),
        ['-redis.addr', target, '-web.listen-address', `127.0.0.1:${portRe}`],
        `http://127.0.0.1:${portRe}/metrics`,
      ),
    );
    const memories = new Map<Exporter, Partial<Record<Phase, Memory>>>();
    const readMemory = (phase: Phase, of: readonly Exporter[] = exporters) => {
      for (const e of of) memories.set(e, { ...memories.get(e), [phase]: memory(e.pid) });
    };
    readMemory('start');
    const redscopes: Exporter[] = [];
    for (const run of REDSCOPE_RUNS) {
      const port = await freePort();
      const e = await startProcess(
        run.name,
        process.execPath,
        [
          ...run.nodeFlags,
          join(packageRoot(), 'bin', 'redscope.js'),
          'exporter',
          '--redis-url',
          target,
          '--listen',
          `127.0.0.1:${port}`,
          '--log-level',
          'warn',
          ...run.args,
        ],
        `http://127.0.0.1:${port}/metrics`,
      );
      exporters.push(e);
      redscopes.push(e);
      readMemory('start', [e]);
    }
    const theirs = exporters[0] as Exporter;
    const [ours, small] = redscopes as [Exporter, Exporter];

    for (let i = 0; i < WARMUP; i++) for (const e of exporters) await get(e.url);
    readMemory('warm-up');
    const latencies = new Map<Exporter, number[]>(exporters.map((e) => [e, []]));
    const families = new Map<Exporter, number>();
    const cpuBefore = new Map(exporters.map((e) => [e, cpuSeconds(e.pid)]));
    for (let i = 0; i < SCRAPES; i++) {
      // Rotate who goes first so no exporter always follows the same neighbour.
      const order = exporters.map((_, k) => exporters[(i + k) % exporters.length] as Exporter);
      for (const e of order) {
        const { ms, body } = await get(e.url);
        latencies.get(e)?.push(ms);
        if (i === 0) families.set(e, (body.match(/^# TYPE /gm) ?? []).length);
      }
    }
    const cpuPerScrape = new Map(
      exporters.map((e) => [e, ((cpuSeconds(e.pid) - (cpuBefore.get(e) ?? 0)) / SCRAPES) * 1000]),
    );
    readMemory('run');

    // Commands Redis runs per scrape, sequential and with 50 concurrent scrapers.
    const load = new Map<
      Exporter,
      { sequential: number; concurrent: number; collections: number }
    >();
    for (const e of exporters) {
      let before = await commandsProcessed(redis);
      for (let i = 0; i < 50; i++) await get(e.url);
      let after = await commandsProcessed(redis);
      // Our own two INFO calls per measurement are subtracted.
      const sequential = (after.total - before.total - 2) / 50;
      before = await commandsProcessed(redis);
      for (let w = 0; w < WAVES; w++) {
        await Promise.all(Array.from({ length: CONCURRENT }, () => get(e.url)));
      }
      after = await commandsProcessed(redis);
      const scrapes = CONCURRENT * WAVES;
      load.set(e, {
        sequential,
        concurrent: (after.total - before.total - 2) / scrapes,
        collections: after.info - before.info - 2,
      });
    }
    readMemory('concurrent');

    /** The most RSS the process ever had, in MiB (VmHWM, read after the concurrent scrapers). */
    const peakOf = (e: Exporter) => (memories.get(e)?.concurrent?.peak ?? 0) / 2 ** 20;
    const rows = exporters.map((e) => {
      const sorted = [...(latencies.get(e) ?? [])].sort((a, b) => a - b);
      const m = memories.get(e)?.run ?? { rss: 0, peak: 0, private: 0 };
      const l = load.get(e);
      return {
        e,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        cpu: cpuPerScrape.get(e) ?? 0,
        rss: m.rss / 2 ** 20,
        peak: m.peak / 2 ** 20,
        priv: m.private / 2 ** 20,
        l,
      };
    });
    const [r, o, m] = [theirs, ours, small].map((e) => rows.find((x) => x.e === e)) as [
      (typeof rows)[0],
      (typeof rows)[0],
      (typeof rows)[0],
    ];
    const lines = [
      `${SCRAPES} scrapes of \`/metrics\` each, interleaved (the order rotates every round) after ${WARMUP} warm-up scrapes, against one plain Redis 7 master with a replica, 1,100 keys in two DBs. Latency is client-side (keep-alive HTTP GET of the whole response).`,
      '',
      '| exporter | families | median ms | p99 ms | CPU ms/scrape | RSS MiB (peak) | private MiB | Redis commands/scrape | same, 50 concurrent scrapers | collections for 500 concurrent scrapes |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (x) =>
          `| ${x.e.name} | ${families.get(x.e)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${fmt(x.cpu)} | ${fmt(x.rss, 1)} (${fmt(x.peak, 1)}) | ${fmt(x.priv, 1)} | ${fmt(x.l?.sequential ?? 0, 1)} | ${fmt(x.l?.concurrent ?? 0, 2)} | ${x.l?.collections} |`,
      ),
      '',
      '| ratio redscope / redis_exporter | value | goal |',
      '|---|---|---|',
      `| median latency | ${fmt(o.p50 / r.p50)} | ≤ 1.0 |`,
      `| p99 latency | ${fmt(o.p99 / r.p99)} | ≤ 1.0 |`,
      `| CPU per scrape | ${fmt(o.cpu / r.cpu)} | (reported) |`,
      `| RSS of the default run (\`redscope exporter\`), after the run / peak | ${fmt(o.rss, 1)} / ${fmt(peakOf(ours), 1)} MiB (${o.rss <= RSS_GOAL_MIB && peakOf(ours) <= RSS_GOAL_MIB ? 'met' : 'not met'}); ${fmt(o.rss / r.rss)}x redis_exporter; capped heap ${fmt(m.rss, 1)} / ${fmt(peakOf(small), 1)} | ≤ ${RSS_GOAL_MIB} MiB absolute |`,
      `| private memory | redscope ${fmt(o.priv, 1)} MiB, capped heap ${fmt(m.priv, 1)} MiB, redis_exporter ${fmt(r.priv, 1)} MiB | (reported) |`,
      `| median / p99 latency with the capped heap | ${fmt(m.p50 / r.p50)} / ${fmt(m.p99 / r.p99)} | ≤ 1.0 |`,
      `| CPU per scrape with the capped heap | ${fmt(m.cpu / r.cpu)} | (reported) |`,
      `| Redis commands per scrape, 50 concurrent | ${fmt((o.l?.concurrent ?? 0) / (r.l?.concurrent ?? 1))} | one collection's worth or less |`,
      '',
      `Memory of each process (MiB; RSS counts the node binary's pages that every node process shares, private memory is this process's alone; peak is VmHWM, the most RSS the process ever had, read at the end):`,
      '',
      `| exporter | ${PHASES.map((p) => `RSS ${PHASE_HEADINGS[p]}`).join(' | ')} | peak | private at the end |`,
      `|---|${PHASES.map(() => '---|').join('')}---|---|`,
      ...exporters.map((e) => {
        const phases = memories.get(e) ?? {};
        const rss = PHASES.map((p) => fmt((phases[p]?.rss ?? 0) / 2 ** 20, 1));
        return `| ${e.name} | ${rss.join(' | ')} | ${fmt(peakOf(e), 1)} | ${fmt((phases.concurrent?.private ?? 0) / 2 ** 20, 1)} |`;
      }),
      '',
      `redscope runs its commands in one pipeline on a persistent connection (${fmt(o.l?.sequential ?? 0, 1)} commands per collection); concurrent scrapes of one target share the collection in flight, so 50 scrapers cost Redis ${fmt(o.l?.concurrent ?? 0, 2)} commands per scrape. redis_exporter connects, authenticates and runs its commands per scrape (${fmt(r.l?.sequential ?? 0, 1)} per scrape), whatever the concurrency. CPU is measured with /proc utime+stime at ${CLOCK_TICKS} Hz over the whole run.`,
    ];
    for (const e of exporters) e.stop();
    exporters.length = 0;
    lines.push('', await keyChecksCase());
    return lines.join('\n');
  } finally {
    for (const e of exporters) e.stop();
    redis.disconnect();
    await topology.stop();
    agent.destroy();
  }
}

// `node dist/bench/exporter.js`: the same run, printed rather than written into BENCHMARKS.md.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${await exporterBench()}\n`);
}
