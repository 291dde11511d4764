/**
 * The "key checks" case of `npm run bench -- exporter`: redis_exporter 1.45
 * with `-check-keys` and redscope with `--check-keys`, the same pattern on the
 * same Redis holding 91,000 matching keys (numeric and text strings, lists,
 * HyperLogLogs), one after the other so Redis' own counters tell each one's
 * cost apart: scrape latency, samples, peak RSS, Redis commands and error
 * replies per scrape, and for redscope how many scrapes a complete pass takes.
 */
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { requireBinary } from '../../stack/binaries.js';
import { freePort } from '../../stack/ports.js';
import { packageRoot } from '../../stack/repo-paths.js';
import { RedisTopology } from '../../stack/topology.js';
import { type Exporter, fmt, get, memory, quantile, startProcess } from './exporter-processes.js';

const MATCHING = 91_000;
/** redis_exporter's scrapes take seconds each and are all alike: a few tell the story. */
const REFERENCE_SCRAPES = 4;
/** redscope's: until a complete pass is served, then this many more (at most MAX_SCRAPES). */
const SCRAPES_AFTER_PASS = 3;
const MAX_SCRAPES = 40;
/** What Prometheus sends by default: redscope plans its work within it. */
const TIMEOUT_HEADER = { 'X-Prometheus-Scrape-Timeout-Seconds': '10' };

interface Outcome {
  readonly name: string;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly samples: number;
  readonly keySeries: number;
  readonly peakMiB: number;
  readonly commandsPerScrape: number;
  readonly errorsPerScrape: number;
  /** Scrapes until a complete pass was served (redscope); undefined for redis_exporter. */
  readonly scrapesToConverge?: number;
}

async function counters(redis: Redis): Promise<{ commands: number; errors: number }> {
  const stats = await redis.info('stats');
  const errorstats = await redis.info('errorstats');
  const errors = [...errorstats.matchAll(/errorstat_[^:]+:count=(\d+)/g)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
  return { commands: Number(/total_commands_processed:(\d+)/.exec(stats)?.[1]), errors };
}

const samplesOf = (body: string) => body.split('\n').filter((l) => l !== '' && l[0] !== '#');
const countOf = (body: string, family: string) =>
  samplesOf(body).filter((l) => l.startsWith(`${family}{`) || l.startsWith(`${family} `)).length;

async function measure(
  redis: Redis,
  exporter: Exporter,
  converging: boolean,
): Promise<Omit<Outcome, 'name'>> {
  const before = await counters(redis);
  const times: number[] = [];
  let body = '';
  let scrapesToConverge: number | undefined;
  const limit = converging ? MAX_SCRAPES : REFERENCE_SCRAPES;
  for (let i = 0; i < limit; i++) {
    const answer = await get(exporter.url, TIMEOUT_HEADER);
    times.push(answer.ms);
    body = answer.body;
    if (converging && scrapesToConverge === undefined && countOf(body, 'redis_key_size') > 0) {
      scrapesToConverge = i + 1;
    }
    if (scrapesToConverge !== undefined && i + 1 >= scrapesToConverge + SCRAPES_AFTER_PASS) break;
  }
  const after = await counters(redis);
  const sorted = [...times].sort((a, b) => a - b);
  return {
    medianMs: quantile(sorted, 0.5),
    maxMs: sorted[sorted.length - 1] ?? 0,
    samples: samplesOf(body).length,
    keySeries: countOf(body, 'redis_key_size'),
    peakMiB: memory(exporter.pid).peak / 2 ** 20,
    // Our own two INFO calls per measurement are subtracted.
    commandsPerScrape: (after.commands - before.commands - 4) / times.length,
    errorsPerScrape: (after.errors - before.errors) / times.length,
    ...(scrapesToConverge !== undefined ? { scrapesToConverge } : {}),
  };
}

export async function keyChecksCase(): Promise<string> {
  const topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    // No replica to acknowledge writes: the shipped min-replicas-to-write would refuse the data.
    redisOverrides: { 'min-replicas-to-write': '0' },
  });
  const redis = topology.connect(topology.port('redis-0'));
  const running: Exporter[] = [];
  try {
    for (let from = 0; from < MATCHING; from += 5000) {
      const batch = redis.pipeline();
      for (let i = from; i < Math.min(MATCHING, from + 5000); i++) {
        const key = `queue:${i}`;
        if (i % 10 === 0) batch.rpush(key, 'a', 'b');
        else if (i % 10 === 1) batch.pfadd(key, 'a', 'b', 'c');
        else if (i % 2 === 0) batch.set(key, String(i));
        else batch.set(key, `job-${i}`);
      }
      for (const [error] of (await batch.exec()) ?? []) if (error) throw error;
    }
    if ((await redis.dbsize()) !== MATCHING) throw new Error('the keys were not all written');
    const target = `redis://127.0.0.1:${topology.port('redis-0')}`;
    const outcomes: Outcome[] = [];

    const reference = await freePort();
    const theirs = await startProcess(
      'redis_exporter 1.45 -check-keys',
      requireBinary('prometheus-redis-exporter'),
      [
        '-redis.addr',
        target,
        '-web.listen-address',
        `127.0.0.1:${reference}`,
        '-check-keys',
        'queue:*',
      ],
      `http://127.0.0.1:${reference}/health`,
    );
    running.push(theirs);
    const theirMetrics = { ...theirs, url: `http://127.0.0.1:${reference}/metrics` };
    outcomes.push({ name: theirs.name, ...(await measure(redis, theirMetrics, false)) });
    theirs.stop();

    for (const [name, extra] of [
      ['redscope --check-keys (default cap 10,000 keys)', []],
      [
        'redscope --check-keys --check-keys-max-series 100000',
        ['--check-keys-max-series', '100000'],
      ],
    ] as const) {
      const port = await freePort();
      const ours = await startProcess(
        name,
        process.execPath,
        [
          join(packageRoot(), 'bin', 'redscope.js'),
          'exporter',
          '--redis-url',
          target,
          '--listen',
          `127.0.0.1:${port}`,
          '--log-level',
          'warn',
          '--check-keys',
          'queue:*',
          ...extra,
        ],
        `http://127.0.0.1:${port}/healthz`,
      );
      running.push(ours);
      outcomes.push({
        name,
        ...(await measure(redis, { ...ours, url: `http://127.0.0.1:${port}/metrics` }, true)),
      });
      ours.stop();
    }

    const [r, o] = outcomes as [Outcome, Outcome];
    return [
      '### Key checks',
      '',
      `${MATCHING.toLocaleString('en')} keys matching \`queue:*\` (numeric and text strings, lists, HyperLogLogs) on one plain Redis 7; \`/metrics\` scraped ${REFERENCE_SCRAPES} times for redis_exporter and, for redscope, until a complete pass is served and ${SCRAPES_AFTER_PASS} times more, one exporter at a time, with Prometheus' default 10 s scrape timeout header (redscope spends at most its 1 s key budget per scrape). Samples are those of the last scrape; Redis commands and error replies come from INFO stats and errorstats around each exporter's scrapes.`,
      '',
      '| exporter | median ms | max ms | samples | redis_key_size series | peak RSS MiB | Redis commands/scrape | error replies/scrape | scrapes until a complete pass |',
      '|---|---|---|---|---|---|---|---|---|',
      ...outcomes.map(
        (x) =>
          `| ${x.name} | ${fmt(x.medianMs, 0)} | ${fmt(x.maxMs, 0)} | ${x.samples} | ${x.keySeries} | ${fmt(x.peakMiB, 1)} | ${fmt(x.commandsPerScrape, 0)} | ${fmt(x.errorsPerScrape, 0)} | ${x.scrapesToConverge ?? (x.name.startsWith('redis_exporter') ? 'every scrape' : `not within ${MAX_SCRAPES}`)} |`,
      ),
      '',
      `redscope, default flags, against redis_exporter: median scrape ${fmt(o.medianMs / r.medianMs)}x, samples ${fmt(o.samples / r.samples)}x, peak RSS ${fmt(o.peakMiB, 1)} MiB (goal ≤ 64) against ${fmt(r.peakMiB, 1)} MiB, ${fmt(o.errorsPerScrape, 0)} error replies per scrape against ${fmt(r.errorsPerScrape, 0)}.`,
    ].join('\n');
  } finally {
    for (const e of running) e.stop();
    redis.disconnect();
    await topology.stop();
  }
}
