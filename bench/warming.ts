/**
 * `npm run bench -- warming`: a session cache coming back from a cold Redis,
 * once with warming and once without, in one run, on the same Zipf session
 * workload: the hit rate second by second (time to 90%), the loads on the
 * source of truth, and the latency of live validations while warming runs
 * against after. Writes the hit-rate chart to bench/results/warming-hit-rate.svg.
 *
 * The usage record the warmer ranks by comes from a "before" phase: the
 * workload's session reads through a client that records usage, as the app
 * did before its Redis went cold. Each variant then starts from a flushed
 * Redis into which that record is put back (the record as a warm Redis
 * keeps it: `redscope warm --from-redis` reads it there, or copy it over).
 *
 * What warming costs live latency is measured apart, in interleaved slots:
 * on a warm cache, the same live traffic with and without a warming run
 * going on, round after round, compared slot by slot (as the client bench
 * compares variants), because a p99 of a few hundred microseconds on a
 * shared machine drifts more from one ten-second window to the next than
 * warming moves it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { warmingUsageKey } from '../client/common/warming-status.js';
import {
  createLogger,
  createRedisClients,
  createSessionCache,
  type RedisClients,
  type SessionCache,
  type SessionRecord,
} from '../client/index.js';
import { usageLandmarkKey } from '../client/warming/usage-record.js';
import { WARMING_DEFAULTS } from '../client/warming/warming-options.js';
import { sessionNamespace } from '../demo/defaults.js';
import { sessionHash } from '../demo/session-store.js';
import { DATABASE_ROUND_TRIP_MS, DemoDatabase } from '../demo/users.js';
import { packageRoot } from '../stack/repo-paths.js';
import { RedisTopology } from '../stack/topology.js';
import { seededRandom, ZipfKeys } from '../stack/zipf.js';
import { type ChartSecond, renderHitRateChart } from './support/hit-rate-chart.js';

const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');

/** Live sessions in the database; each validation draws one by Zipf. */
const SESSIONS = 50_000;
const ZIPF_S = 1.0;
/** Virtual users: each validates a session, then thinks. */
const USERS = 200;
/** Mean think time (exponential): USERS / THINK_MS ≈ 1,000 validations a second. */
const THINK_MS = 200;
/** Each variant's run from the cold start. */
const RUN_SECONDS = 32;
const SESSION_TTL_SECONDS = 3600;
/** Session reads of the before phase, and how fast they are replayed. */
const BEFORE_READS = 400_000;
const BEFORE_PER_SECOND = 40_000;
/** The warmer's plan: the record's top 20,000 sessions draw 92% of the validations at Zipf 1.0 over 50,000. */
const WARM_LIMIT = 20_000;
const GOAL = { hitRate: 0.9, withinSeconds: 30, p99Ratio: 1.1 };
/** Interleaved latency slots: rounds of (no warming, batches of 100, batches of 20), in rotating order. */
const ROUNDS = 12;
/** A warming slot warms this many sessions (2 s at the default rate); a slot without lasts as long. */
const SLOT_KEYS = 4000;
const QUIET_MS = 2000;
const SLOT_BATCHES = [WARMING_DEFAULTS.batchSize, 20] as const;
/** The namespace the latency slots warm (the live traffic's own sessions are all cached there). */
const SLOT_PREFIX = 'bench-slot:';
const PREFIX = 'bench:';
const NAMESPACE = sessionNamespace(PREFIX);
const CHART = join('bench', 'results', 'warming-hit-rate.svg');

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fixed = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const count = (n: number) => Math.round(n).toLocaleString('en');

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const sessionId = (n: number) => `bench-session-${n}`;
const zipf = (seed: number) =>
  new ZipfKeys({ keys: SESSIONS, s: ZIPF_S, seed, name: (n) => String(n) });

/** The source of truth: the demo's database, its sessions stored by token hash; loads counted per second. */
class CountedDatabase {
  readonly database: DemoDatabase;
  private t0 = 0;
  liveLoads: number[] = [];
  warmedRows: number[] = [];
  warmQueries = 0;

  private constructor(database: DemoDatabase) {
    this.database = database;
  }

  static async create(): Promise<CountedDatabase> {
    const database = await DemoDatabase.create([]);
    for (let n = 0; n < SESSIONS; n++) {
      await database.saveSession(sessionId(n), { userId: `u-${n}`, orgId: `org-${n % 100}` });
    }
    return new CountedDatabase(database);
  }

  /** Starts counting from zero at the cold start. */
  reset(t0: number): void {
    this.t0 = t0;
    this.liveLoads = new Array(RUN_SECONDS + 1).fill(0);
    this.warmedRows = new Array(RUN_SECONDS + 1).fill(0);
    this.warmQueries = 0;
  }

  private second(): number {
    return Math.min(RUN_SECONDS, Math.floor((performance.now() - this.t0) / 1000));
  }

  loader = async (id: string): Promise<SessionRecord | null> => {
    (this.liveLoads[this.second()] as number) += 1;
    return this.database.findSession(id);
  };

  loadByHash = async (hashes: readonly string[], _context?: { readonly signal: AbortSignal }) => {
    (this.warmedRows[this.second()] as number) += hashes.length;
    this.warmQueries += 1;
    return this.database.findSessionsByHash(hashes);
  };
}

/**
 * `close()` resolves before the client's own connection has sent its last
 * writes (the usage counts since the last flush, the warming status): wait
 * until it is gone, so they land before the next cold start, not after it.
 */
async function sideConnectionGone(admin: Redis): Promise<void> {
  const deadline = performance.now() + 5000;
  while (String(await admin.client('LIST')).includes('name=redscope-side')) {
    if (performance.now() > deadline) throw new Error('the client side connection never closed');
    await delay(20);
  }
}

/** The before phase: the workload's session reads through a client that records usage (every read sampled). */
async function recordUsage(url: string, admin: Redis): Promise<{ keys: number; distinct: number }> {
  const clients = createRedisClients(
    { url },
    {
      registry: new Registry(),
      tracing: { enabled: false },
      usage: { namespaces: [NAMESPACE], sampleRate: 1, flushIntervalMs: 1000 },
    },
  );
  const stream = zipf(1);
  const distinct = new Set<number>();
  try {
    await clients.ready();
    const batch = 1000;
    const started = performance.now();
    for (let sent = 0; sent < BEFORE_READS; sent += batch) {
      const pipeline = clients.writer.pipeline();
      for (let i = 0; i < batch; i++) {
        const rank = stream.nextRank();
        distinct.add(rank);
        pipeline.get(`${NAMESPACE}${sessionHash(sessionId(Number(stream.names[rank])))}`);
      }
      await pipeline.exec();
      // Paced: the record's in-process map takes 20,000 new keys between flushes, no more.
      const due = started + ((sent + batch) / BEFORE_PER_SECOND) * 1000;
      await delay(Math.max(0, due - performance.now()));
    }
  } finally {
    // Its last counts go out as it closes.
    await clients.close();
    await sideConnectionGone(admin);
  }
  return { keys: await admin.zcard(warmingUsageKey(NAMESPACE)), distinct: distinct.size };
}

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly hit: boolean;
}

interface WarmingLog {
  startedAt?: number;
  finishedAt?: number;
  finished?: Record<string, unknown>;
  backoffs: Record<string, unknown>[];
}

/** The warming events of a client, timed as they are logged (pino writes synchronously to a destination object). */
function warmingLogger(
  t0: number,
  onEvent: (event: string, at: number, entry: Record<string, unknown>) => void,
) {
  return createLogger({
    level: 'info',
    destination: {
      write(line: string) {
        if (!line.includes('"redis.warming_')) return;
        const entry = JSON.parse(line) as Record<string, unknown>;
        onEvent(String(entry.event), performance.now() - t0, entry);
      },
    },
  });
}

function recordInto(log: WarmingLog) {
  return (event: string, at: number, entry: Record<string, unknown>) => {
    if (event === 'redis.warming_started') log.startedAt = at;
    if (event === 'redis.warming_backoff') log.backoffs.push({ at, ...entry });
    if (event === 'redis.warming_finished' || event === 'redis.warming_failed') {
      log.finishedAt = at;
      log.finished = entry;
    }
  };
}

/** Virtual users validating Zipf-drawn sessions until `running()` says stop; every validation sampled. */
async function virtualUsers(
  sessions: SessionCache,
  t0: number,
  running: () => boolean,
  samples: Sample[],
): Promise<void> {
  const stream = zipf(2);
  const random = seededRandom(3);
  const think = () => delay(-Math.log(1 - random()) * THINK_MS);
  await Promise.all(
    Array.from({ length: USERS }, async () => {
      await think();
      while (running()) {
        const id = sessionId(Number(stream.next()));
        const started = performance.now();
        const result = await sessions.validate(id);
        const finished = performance.now();
        samples.push({ at: started - t0, ms: finished - started, hit: result.source !== 'loader' });
        await think();
      }
    }),
  );
}

interface VariantResult {
  readonly name: string;
  readonly samples: readonly Sample[];
  readonly liveLoads: readonly number[];
  readonly warmedRows: readonly number[];
  readonly warmQueries: number;
  readonly warming: WarmingLog | undefined;
}

/** One cold start: a flushed Redis with the usage record put back, the app started, the workload for RUN_SECONDS. */
async function coldStart(
  name: string,
  warm: boolean,
  url: string,
  admin: Redis,
  record: readonly { key: string; payload: Buffer }[],
  db: CountedDatabase,
): Promise<VariantResult> {
  await admin.flushall();
  for (const { key, payload } of record) await admin.restore(key, 0, payload);
  const warming: WarmingLog = { backoffs: [] };
  const t0 = performance.now();
  const clients = createRedisClients(
    { url },
    {
      registry: new Registry(),
      logger: warmingLogger(t0, recordInto(warming)),
      tracing: { enabled: false },
      // Both variants record usage, as the app does: only the warming differs.
      usage: { namespaces: [NAMESPACE] },
    },
  );
  await clients.ready();
  db.reset(t0);
  const sessions = createSessionCache(clients, {
    loader: db.loader,
    keyPrefix: PREFIX,
    ttlSeconds: SESSION_TTL_SECONDS,
    tracing: { enabled: false },
    ...(warm ? { warming: { loadByHash: db.loadByHash, limit: WARM_LIMIT } } : {}),
  });
  const samples: Sample[] = [];
  const end = t0 + RUN_SECONDS * 1000;
  await virtualUsers(sessions, t0, () => performance.now() < end, samples);
  await clients.close();
  await sideConnectionGone(admin);
  return {
    name,
    samples,
    liveLoads: db.liveLoads,
    warmedRows: db.warmedRows,
    warmQueries: db.warmQueries,
    warming: warm ? warming : undefined,
  };
}

interface Slot {
  readonly round: number;
  /** undefined: no warming in the slot. */
  readonly batchSize: number | undefined;
  readonly from: number;
  readonly to: number;
}

/**
 * The interleaved latency slots: every session cached, the same live
 * traffic throughout, and in each round a slot without warming and one
 * warming run per batch size (SLOT_KEYS sessions of another namespace,
 * loaded from the database and written as the session cache's warming
 * writes them: guarded by a revocation counter), in rotating order; the
 * slot's keys are deleted again between slots.
 */
async function latencySlots(
  url: string,
  admin: Redis,
  db: CountedDatabase,
): Promise<{ samples: Sample[]; slots: Slot[] }> {
  await admin.flushall();
  // Every session cached, as after a complete warm-up: live validations hit.
  for (let n = 0; n < SESSIONS; n += 1000) {
    const pipeline = admin.pipeline();
    for (let i = n; i < Math.min(SESSIONS, n + 1000); i++) {
      const session = { userId: `u-${i}`, orgId: `org-${i % 100}` };
      pipeline.set(
        `${NAMESPACE}${sessionHash(sessionId(i))}`,
        JSON.stringify(session),
        'EX',
        SESSION_TTL_SECONDS,
      );
    }
    await pipeline.exec();
  }
  const t0 = performance.now();
  let current: WarmingLog = { backoffs: [] };
  const clients = createRedisClients(
    { url },
    {
      registry: new Registry(),
      logger: warmingLogger(t0, (event, at, entry) => recordInto(current)(event, at, entry)),
      tracing: { enabled: false },
      usage: { namespaces: [NAMESPACE] },
    },
  );
  await clients.ready();
  const sessions = createSessionCache(clients, {
    loader: db.loader,
    keyPrefix: PREFIX,
    ttlSeconds: SESSION_TTL_SECONDS,
    tracing: { enabled: false },
  });
  db.reset(t0);
  const samples: Sample[] = [];
  let running = true;
  const traffic = virtualUsers(sessions, t0, () => running, samples);
  const slotNamespace = sessionNamespace(SLOT_PREFIX);
  const slotKeys = Array.from(
    { length: SLOT_KEYS },
    (_, n) => `${slotNamespace}${sessionHash(sessionId(n))}`,
  );
  const slots: Slot[] = [];
  try {
    // Live traffic first: the client's code paths compiled, and the warmer's latency history filled.
    await delay(3000);
    for (let round = 0; round < ROUNDS; round++) {
      const kinds = [undefined, ...SLOT_BATCHES];
      for (let k = 0; k < kinds.length; k++) {
        const batchSize = kinds[(k + round) % kinds.length];
        if (batchSize === undefined) {
          const from = performance.now() - t0;
          await delay(QUIET_MS);
          slots.push({ round, batchSize, from, to: performance.now() - t0 });
          continue;
        }
        current = { backoffs: [] };
        await warmSessions(clients, db, { prefix: SLOT_PREFIX, batchSize, keys: slotKeys }).done;
        const { startedAt, finishedAt } = current;
        if (startedAt !== undefined && finishedAt !== undefined) {
          slots.push({ round, batchSize, from: startedAt, to: finishedAt });
        }
        await admin.unlink(...slotKeys);
        await delay(300);
      }
    }
  } finally {
    running = false;
    await traffic;
    await clients.close();
    await sideConnectionGone(admin);
  }
  return { samples, slots };
}

/**
 * What the session cache's warming hands the warmer, with the batch size as
 * a knob (the session cache's warming takes none): sessions by the hash
 * their key ends with, as JSON, each batch written only if the revocation
 * counter did not move while it loaded.
 */
function warmSessions(
  clients: RedisClients,
  db: CountedDatabase,
  options: { prefix: string; batchSize: number; keys: readonly string[] },
) {
  const namespace = sessionNamespace(options.prefix);
  return clients.warm({
    namespace,
    keys: options.keys,
    batchSize: options.batchSize,
    source: {
      kind: 'loader',
      ttlSeconds: SESSION_TTL_SECONDS,
      guardKey: `${options.prefix}sessions:revocations`,
      load: async (keys, context) => {
        const hashes = keys.map((key) => key.slice(namespace.length));
        const found = await db.loadByHash(hashes, context);
        const values = new Map<string, string>();
        keys.forEach((key, i) => {
          const session = found.get(hashes[i] as string);
          if (session !== undefined) values.set(key, JSON.stringify(session));
        });
        return values;
      },
    },
  });
}

/** Hit rate of each whole second since the cold start. */
function hitRates(samples: readonly Sample[]): (number | undefined)[] {
  const hits = new Array(RUN_SECONDS).fill(0);
  const all = new Array(RUN_SECONDS).fill(0);
  for (const s of samples) {
    const second = Math.floor(s.at / 1000);
    if (second >= RUN_SECONDS) continue;
    all[second] += 1;
    if (s.hit) hits[second] += 1;
  }
  return all.map((n, i) => (n === 0 ? undefined : hits[i] / n));
}

/** End of the first second whose hit rate reaches `ratio`. */
function timeTo(rates: readonly (number | undefined)[], ratio: number): number {
  const i = rates.findIndex((r) => r !== undefined && r >= ratio);
  return i === -1 ? Number.POSITIVE_INFINITY : i + 1;
}

interface Window {
  readonly from: number;
  readonly to: number;
}

function hitLatencies(samples: readonly Sample[], window: Window, hitsOnly = true): number[] {
  return samples
    .filter((s) => s.at >= window.from && s.at < window.to && (!hitsOnly || s.hit))
    .map((s) => s.ms);
}

const toGoal = (s: number) => (Number.isFinite(s) ? `${s} s` : `not within ${RUN_SECONDS} s`);
const median = (values: readonly number[]) => percentile(values, 50);

function backoffs(entries: readonly Record<string, unknown>[]): string {
  if (entries.length === 0) return 'no back-off';
  const each = entries.map(
    (e) =>
      `at ${fixed(Number(e.at) / 1000, 1)} s to ${count(Number(e.rate_limit))} keys/s (${String(e.reason)}${e.p99_ms === undefined ? '' : `: live p99 ${fixed(Number(e.p99_ms), 2)} ms against ${fixed(Number(e.baseline_p99_ms), 2)} ms before warming`})`,
  );
  return `${entries.length} back-off${entries.length === 1 ? '' : 's'}: ${each.join('; ')}`;
}

export default async function warmingBench(): Promise<string> {
  const topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0', appendonly: 'no', save: '""' },
  });
  const url = `redis://127.0.0.1:${topology.port('redis-0')}`;
  const admin = topology.connect(topology.port('redis-0'));
  let before: { keys: number; distinct: number };
  let without: VariantResult;
  let withWarming: VariantResult;
  let latency: { samples: Sample[]; slots: Slot[] };
  try {
    const db = await CountedDatabase.create();
    before = await recordUsage(url, admin);
    const record = [];
    for (const key of [warmingUsageKey(NAMESPACE), usageLandmarkKey(NAMESPACE)]) {
      const payload = await admin.dumpBuffer(key);
      if (payload !== null) record.push({ key, payload });
    }
    without = await coldStart('without warming', false, url, admin, record, db);
    withWarming = await coldStart('with warming', true, url, admin, record, db);
    latency = await latencySlots(url, admin, db);
  } finally {
    admin.disconnect();
    await topology.stop();
  }
  const variants = [without, withWarming];
  const rates = new Map(variants.map((r) => [r, hitRates(r.samples)]));
  const warming = withWarming.warming;
  const during =
    warming?.startedAt === undefined || warming.finishedAt === undefined
      ? undefined
      : { from: warming.startedAt, to: warming.finishedAt };
  const svg = await renderHitRateChart({
    seconds: variants.flatMap((r) =>
      (rates.get(r) ?? []).map(
        (hitRate, i): ChartSecond => ({
          variant: r.name,
          second: i + 1,
          hitRate,
          liveLoads: r.liveLoads[i] ?? 0,
          warmedRows: r.warmedRows[i] ?? 0,
        }),
      ),
    ),
    warming:
      during === undefined
        ? undefined
        : { label: withWarming.name, from: during.from / 1000, to: during.to / 1000 },
    goal: GOAL,
  });
  mkdirSync(join(packageRoot(), 'bench', 'results'), { recursive: true });
  writeFileSync(join(packageRoot(), CHART), svg);

  const hitRows = variants.map((r) => {
    const hr = rates.get(r) ?? [];
    const at = (s: number) => fixed((hr[s - 1] ?? Number.NaN) * 100, 1);
    const first30 = (values: readonly number[]) => values.slice(0, 30).reduce((a, b) => a + b, 0);
    return (
      `| ${r.name} | ${count(r.samples.length / RUN_SECONDS)} | ${at(5)}% | ${at(10)}% | ${at(20)}% | ${at(30)}% | ` +
      `${toGoal(timeTo(hr, GOAL.hitRate))} | ` +
      `${count(first30(r.liveLoads))} (peak ${count(Math.max(...r.liveLoads))}/s) | ` +
      `${count(first30(r.warmedRows))} in ${count(r.warmQueries)} queries |`
    );
  });
  const p = (values: readonly number[], q: number) => fixed(percentile(values, q), 3);

  // The cold start: the run's window, and one as long a second after it; without warming, the same seconds.
  const after =
    during === undefined
      ? undefined
      : {
          from: during.to + 1000,
          to: Math.min(RUN_SECONDS * 1000, 2 * during.to + 1000 - during.from),
        };
  const coldRows = variants.map((r) => {
    if (during === undefined || after === undefined)
      return `| ${r.name} | no warming window | | | |`;
    const d = hitLatencies(r.samples, during);
    const a = hitLatencies(r.samples, after);
    return (
      `| ${r.name} | ${p(d, 50)} / ${p(a, 50)} | ${p(d, 99)} / ${p(a, 99)} | ${fixed(percentile(d, 99) / percentile(a, 99))} | ` +
      `${p(hitLatencies(r.samples, during, false), 99)} / ${p(hitLatencies(r.samples, after, false), 99)} |`
    );
  });

  // The slots: each warming slot against the slot without warming of its own round.
  const slotP99 = (slot: Slot) => percentile(hitLatencies(latency.samples, slot), 99);
  const slotP50 = (slot: Slot) => percentile(hitLatencies(latency.samples, slot), 50);
  const quiet = (round: number) =>
    latency.slots.find((s) => s.round === round && s.batchSize === undefined);
  const slotRows: { batchSize: number | undefined; ratio: number }[] = [];
  const slotLines = [undefined, ...SLOT_BATCHES].map((batchSize) => {
    const slots = latency.slots.filter((s) => s.batchSize === batchSize);
    const ratios = slots.flatMap((s) => {
      const q = quiet(s.round);
      return q === undefined ? [] : [slotP99(s) / slotP99(q)];
    });
    const ratio = median(ratios);
    slotRows.push({ batchSize, ratio });
    const seconds = median(slots.map((s) => (s.to - s.from) / 1000));
    return (
      `| ${batchSize === undefined ? 'none' : `batches of ${batchSize}${batchSize === WARMING_DEFAULTS.batchSize ? ' (the default)' : ''}`} | ${slots.length} × ${fixed(seconds, 1)} s | ` +
      `${fixed(median(slots.map(slotP50)), 3)} | ${fixed(median(slots.map(slotP99)), 3)} | ` +
      `**${fixed(ratio)}** (${ratios.map((x) => fixed(x)).join(', ')}) |`
    );
  });
  const to90 = timeTo(rates.get(withWarming) ?? [], GOAL.hitRate);
  const slotVerdicts = slotRows
    .filter((r) => r.batchSize !== undefined)
    .map(
      (r) => `batches of ${r.batchSize}: ${verdict(r.ratio <= GOAL.p99Ratio)} (${fixed(r.ratio)}×)`,
    )
    .join('; ');
  const f = warming?.finished ?? {};
  const n = (field: string) => count(Number(f[field] ?? 0));

  return [
    `Workload: ${count(SESSIONS)} live sessions in the source of truth (the demo's database, sessions stored by token hash, ${DATABASE_ROUND_TRIP_MS} ms per query whatever its rows), each validation drawing one by Zipf s = ${ZIPF_S}; ${USERS} virtual users, each validating a session then thinking ${THINK_MS} ms on average (exponential), so about ${count((USERS * 1000) / THINK_MS)} validations a second; the session cache of redscope/client (cache TTL ${SESSION_TTL_SECONDS / 3600} h) on one local redis-server (plain TCP, no persistence, no replica); the app, its warmer and the virtual users in one Node process.`,
    '',
    `Before phase: the same Zipf stream's session keys read ${count(BEFORE_READS)} times (${count(BEFORE_PER_SECOND)}/s) through a client recording usage with every read sampled (what the default 1-in-8 sampling collects from 1,000 validations/s in ${Math.round(BEFORE_READS / 125 / 60)} minutes): the record holds ${count(before.keys)} keys (${count(before.distinct)} distinct sessions were read). Cold start: FLUSHALL, then the record put back (RESTORE of its DUMP, as a warm Redis keeps it), then the app starts and the traffic with it, ${RUN_SECONDS} s per variant, one after the other. With warming: the session cache's \`warming: { onStart: true, limit: ${count(WARM_LIMIT)} }\` at its defaults (${count(WARMING_DEFAULTS.ratePerSecond)} keys/s, batches of ${WARMING_DEFAULTS.batchSize}, ${WARMING_DEFAULTS.concurrency} in flight). Both variants record usage (default sampling).`,
    '',
    `![Hit rate over time, with and without warming](${CHART})`,
    '',
    '| variant | validations/s | hit rate at 5 s | at 10 s | at 20 s | at 30 s | time to 90% | loads of live misses, first 30 s | sessions the warmer loaded |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...hitRows,
    '',
    `The warming run started ${fixed((warming?.startedAt ?? Number.NaN) / 1000, 1)} s after the cold start (the warmer measures one second of live latency first) and ended at ${fixed((warming?.finishedAt ?? Number.NaN) / 1000, 1)} s (${String(f.outcome ?? 'no end logged')}): ${n('planned')} planned, ${n('warmed')} warmed, ${n('skipped')} skipped (live traffic had filled them), ${n('failed')} failed; ${backoffs(warming?.backoffs ?? [])}.`,
    '',
    `Latency of live validations in the cold start, ms, measured around \`validate()\`: cache hits (what Redis answers, and what the warmer's work competes with) in the warming run's window${during === undefined ? '' : ` (${fixed(during.from / 1000, 1)}–${fixed(during.to / 1000, 1)} s)`} and in a window as long a second after it${after === undefined ? '' : ` (${fixed(after.from / 1000, 1)}–${fixed(after.to / 1000, 1)} s)`}; without warming, the same seconds. A miss also waits for the source of truth (and misses are fewer with warming), so every validation's p99 is shown apart.`,
    '',
    '| variant | hits p50 during / after | hits p99 during / after | ratio | all validations p99 during / after |',
    '|---|---:|---:|---:|---:|',
    ...coldRows,
    '',
    `Two windows of one run compare badly at these latencies: the variant without warming, which has nothing running in either, differs between them too, by as much as warming does, from one run to the next (a garbage-collection pause, the machine's other work). What warming costs live traffic is measured instead in interleaved slots: every session cached, the same traffic throughout, and ${ROUNDS} rounds of a slot without warming and a warming run of ${count(SLOT_KEYS)} sessions of another namespace per batch size (loaded from the database and written as the session cache writes them, at the default ${count(WARMING_DEFAULTS.ratePerSecond)} keys/s), in rotating order; each warming slot's hit p99 is divided by that of the slot without warming of its round.`,
    '',
    "| warming in the slot | slots | hits p50 (median of slots) | hits p99 (median of slots) | p99 / the round's slot without warming: median (each round) |",
    '|---|---|---:|---:|---|',
    ...slotLines,
    '',
    `Goals: 90% hit rate within ${GOAL.withinSeconds} s of the cold start: ${verdict(to90 <= GOAL.withinSeconds)} (${toGoal(to90)} with warming; ${toGoal(timeTo(rates.get(without) ?? [], GOAL.hitRate))} without). Live p99 while warming at most ${GOAL.p99Ratio}× without it: ${slotVerdicts}.`,
  ].join('\n');
}
