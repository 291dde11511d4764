import type { Cluster, Redis } from 'ioredis';
import { hashSlot, isCluster, slotMasterKey } from '../common/cluster-routing.js';
import { errorFields } from '../logging/logger.js';
import type { WarmValue } from './types.js';
import type { ResolvedWarmSource } from './warming-options.js';

/**
 * One attempt at one batch of a warming run, from a loader or a warm Redis.
 * Every write is conditional: what live traffic wrote is never overwritten.
 * An attempt throws to be retried (a Redis or loader error, a timeout), or
 * FatalError when no retry can help; the run owns the retries and counts.
 */

/**
 * Writes a batch only if the guard counter did not move since the batch read
 * it (a delete raced the load: the batch is loaded again), and each key only
 * if absent. KEYS: guard, then the batch. ARGV: the guard's value, then
 * TTL ms and value per key. Returns -1 when the guard moved, else 1/0 per key.
 */
const GUARDED_WRITE_SCRIPT = `if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then
  return -1
end
local written = {}
for i = 2, #KEYS do
  local ok = redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i - 2], 'NX')
  written[i - 1] = ok and 1 or 0
end
return written`;

/** Errors no retry can fix: the run stops with this as its reason. */
const FATAL = /^(NOPERM|OOM|ERR unknown command|NOSCRIPT|ERR DUMP payload version)/;

/** No retry can fix it (a refused command, Redis out of memory): the run fails. */
export class FatalError extends Error {}
/** A delete raced the batch's load (the guard counter moved): load it again. */
export class GuardMoved extends Error {}
/** The run was cancelled during the attempt. */
export class Stopped extends Error {}

export interface BatchCounts {
  warmed: number;
  skipped: number;
  failed: number;
}

/** What an attempt needs from its run. */
export interface BatchContext {
  /** The connection for the app's keys. */
  readonly redis: Redis | Cluster;
  /** Aborts when the run is cancelled. */
  readonly signal: AbortSignal;
  stopped(): boolean;
  /** `keys` values the loader returned were unusable, of these types. */
  badValues(keys: number, types: string[]): void;
}

type LoaderSource = Extract<ResolvedWarmSource, { kind: 'loader' }>;

export function replyError(replies: [Error | null, unknown][] | null): Error | undefined {
  if (replies === null) return new Error('the pipeline was aborted');
  return replies.find(([error]) => error !== null)?.[0] ?? undefined;
}

export function messageOf(error: unknown): string {
  return errorFields(error).message;
}

function isValue(value: unknown): value is string | Buffer {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

function classify(error: unknown, where = 'Redis'): Error {
  const message = messageOf(error);
  if (FATAL.test(message)) {
    const hint = /^NOPERM/.test(message)
      ? ' (the ACL user lacks a command warming needs: RESTORE for copies, EVAL for a guardKey)'
      : /^OOM/.test(message)
        ? ' (Redis is at maxmemory: warming would only evict what live traffic uses)'
        : '';
    return new FatalError(`${where} refused: ${message}${hint}`);
  }
  return error instanceof Error ? error : new Error(message);
}

/** The keys of `keys` not in Redis yet (live traffic may have filled some), and the guard's value. */
async function missing(
  redis: Redis | Cluster,
  keys: readonly string[],
  guardKey: string | undefined,
): Promise<{ missing: string[]; guard: string }> {
  const probe = redis.pipeline();
  if (guardKey !== undefined) probe.get(guardKey);
  for (const key of keys) probe.exists(key);
  const replies = await probe.exec();
  const failure = replyError(replies);
  if (failure !== undefined) throw classify(failure);
  const offset = guardKey === undefined ? 0 : 1;
  const guard = guardKey === undefined ? '' : ((replies?.[0]?.[1] as string | null) ?? '');
  return { missing: keys.filter((_, i) => replies?.[i + offset]?.[1] === 0), guard };
}

/** Keys that go out together: one pipeline, or one guarded script. */
interface KeyGroup {
  readonly keys: string[];
  readonly guardKey: string | undefined;
}

/**
 * The batch cut into what can go out together. On one Redis: one group per
 * guard key (one group without a guard, or with a fixed one). On a Redis
 * Cluster a pipeline must stay on one node and a script in one slot: keys
 * are grouped by the node that serves them, or by their guard, whose slot
 * must then be theirs (FatalError otherwise: no retry can fix a key layout).
 */
function groupsOf(
  redis: Redis | Cluster,
  keys: readonly string[],
  guardKey: string | ((key: string) => string) | undefined,
): KeyGroup[] {
  const cluster = isCluster(redis) ? redis : undefined;
  if (cluster === undefined && typeof guardKey !== 'function') {
    return [{ keys: [...keys], guardKey }];
  }
  const groups = new Map<string, KeyGroup>();
  for (const key of keys) {
    const guard = typeof guardKey === 'function' ? guardKey(key) : guardKey;
    const by = guard ?? (cluster ? slotMasterKey(cluster, hashSlot(key)) : undefined) ?? '';
    let group = groups.get(by);
    if (group === undefined) {
      group = { keys: [], guardKey: guard };
      groups.set(by, group);
    }
    group.keys.push(key);
  }
  if (cluster !== undefined) {
    for (const group of groups.values()) {
      if (group.guardKey === undefined) continue;
      const slot = hashSlot(group.guardKey);
      const apart = group.keys.filter((key) => hashSlot(key) !== slot).length;
      if (apart > 0) {
        throw new FatalError(
          `on a Redis Cluster the guardKey must share the hash slot of the keys it guards, and ${apart} key(s) of a batch hash elsewhere: give a guard per hash tag (a function of the key)`,
        );
      }
    }
  }
  return [...groups.values()];
}

/** Sums the counts of the groups of one batch. */
function summed(parts: readonly BatchCounts[]): BatchCounts {
  const total: BatchCounts = { warmed: 0, skipped: 0, failed: 0 };
  for (const part of parts) {
    total.warmed += part.warmed;
    total.skipped += part.skipped;
    total.failed += part.failed;
  }
  return total;
}

/** One loader call, bounded by the timeout and the run's cancel. */
async function load(
  context: BatchContext,
  source: LoaderSource,
  keys: readonly string[],
): Promise<ReadonlyMap<string, WarmValue>> {
  const attempt = new AbortController();
  const run = context.signal;
  let timer: NodeJS.Timeout | undefined;
  const onCancel = () => attempt.abort();
  run.addEventListener('abort', onCancel, { once: true });
  try {
    const loaded = await Promise.race([
      Promise.resolve().then(() => source.load(keys, { signal: attempt.signal })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`the loader did not answer within ${source.timeoutMs} ms`));
          attempt.abort();
        }, source.timeoutMs);
        timer.unref();
        attempt.signal.addEventListener('abort', () => reject(new Stopped()), { once: true });
      }),
    ]);
    if (!(loaded instanceof Map)) {
      const what = loaded === null ? 'null' : Array.isArray(loaded) ? 'an array' : typeof loaded;
      throw new Error(`the loader returned ${what}, not a Map of key to value`);
    }
    return loaded;
  } finally {
    clearTimeout(timer);
    run.removeEventListener('abort', onCancel);
  }
}

/**
 * EXISTS for the batch (keys live traffic filled are skipped, not loaded),
 * the loader for the rest, then SET ... PX ttl NX (or the guarded script
 * when the source has a guard key). Unusable values are counted failed and
 * reported; null and missing ones skipped.
 */
/** Longest TTL a loader may give one key: a year (Redis takes far more, but no cache needs it). */
const MAX_TTL_MS = 365 * 24 * 3600 * 1000;

export async function loadBatch(
  context: BatchContext,
  source: LoaderSource,
  keys: readonly string[],
): Promise<BatchCounts> {
  const { redis } = context;
  const groups = groupsOf(redis, keys, source.guardKey);
  const probes = await Promise.all(groups.map((g) => missing(redis, g.keys, g.guardKey)));
  const absent = probes.flatMap((probe) => probe.missing);
  const counts: BatchCounts = { warmed: 0, skipped: keys.length - absent.length, failed: 0 };
  if (absent.length === 0) return counts;
  // One loader call for the whole batch, however many groups it is written in.
  const values = await load(context, source, absent);
  if (context.stopped()) throw new Stopped();
  const badTypes = new Set<string>();
  const writes = probes.map((probe) => {
    const chosen: Write[] = [];
    for (const key of probe.missing) {
      const found = values.get(key) as unknown;
      if (found === null || found === undefined) {
        counts.skipped += 1;
      } else if (isValue(found)) {
        chosen.push({ key, value: found, ttlMs: source.ttlMs });
      } else if (
        typeof found === 'object' &&
        isValue((found as { value?: unknown }).value) &&
        typeof (found as { ttlSeconds?: unknown }).ttlSeconds === 'number'
      ) {
        const entry = found as Exclude<WarmValue, string | Buffer | null>;
        const ttlMs = Math.round(entry.ttlSeconds * 1000);
        if (!Number.isSafeInteger(ttlMs) || ttlMs > MAX_TTL_MS) {
          // Infinity or 1e20 would fail the whole pipeline (PX takes an integer): a bad value.
          counts.failed += 1;
          badTypes.add('ttlSeconds out of range');
        } else if (ttlMs > 0) {
          chosen.push({ key, value: entry.value, ttlMs });
        } else {
          // A value whose own TTL is over (an expired session) is not worth writing.
          counts.skipped += 1;
        }
      } else {
        counts.failed += 1;
        badTypes.add(Array.isArray(found) ? 'array' : typeof found);
      }
    }
    return chosen;
  });
  if (badTypes.size > 0) context.badValues(counts.failed, [...badTypes]);
  const written = await Promise.all(
    groups.map((group, g) =>
      writeGroup(redis, writes[g] ?? [], group.guardKey, probes[g]?.guard ?? ''),
    ),
  );
  return summed([counts, ...written]);
}

interface Write {
  readonly key: string;
  readonly value: string | Buffer;
  readonly ttlMs: number;
}

/** SET ... PX ttl NX for each key, or the guarded script when the group has a guard. */
async function writeGroup(
  redis: Redis | Cluster,
  writes: readonly Write[],
  guardKey: string | undefined,
  guard: string,
): Promise<BatchCounts> {
  const counts: BatchCounts = { warmed: 0, skipped: 0, failed: 0 };
  if (writes.length === 0) return counts;
  if (guardKey !== undefined) {
    const args: (string | Buffer | number)[] = [guard];
    for (const w of writes) args.push(w.ttlMs, w.value);
    let reply: unknown;
    try {
      reply = await redis.eval(
        GUARDED_WRITE_SCRIPT,
        1 + writes.length,
        guardKey,
        ...writes.map((w) => w.key),
        ...args,
      );
    } catch (error) {
      throw classify(error);
    }
    if (reply === -1) throw new GuardMoved();
    const written = reply as number[];
    for (let i = 0; i < writes.length; i++) {
      if (written[i] === 1) counts.warmed += 1;
      else counts.skipped += 1;
    }
    return counts;
  }
  const pipeline = redis.pipeline();
  for (const w of writes) pipeline.set(w.key, w.value, 'PX', w.ttlMs, 'NX');
  const replies = await pipeline.exec();
  const failure = replyError(replies);
  if (failure !== undefined) throw classify(failure);
  for (const [, reply] of replies ?? []) {
    if (reply === 'OK') counts.warmed += 1;
    else counts.skipped += 1;
  }
  return counts;
}

/**
 * EXISTS here, then PTTL + DUMP on the warm Redis for the missing keys, then
 * RESTORE here without REPLACE (BUSYKEY: live traffic got there first, skipped),
 * with what is left of the TTL.
 */
export async function copyBatch(
  context: BatchContext,
  from: Redis,
  keys: readonly string[],
): Promise<BatchCounts> {
  // On a cluster each node's keys go in their own pipelines (groupsOf); one Redis is one group.
  const groups = groupsOf(context.redis, keys, undefined);
  return summed(await Promise.all(groups.map((group) => copyGroup(context, from, group.keys))));
}

async function copyGroup(
  context: BatchContext,
  from: Redis,
  keys: readonly string[],
): Promise<BatchCounts> {
  const { redis } = context;
  const probe = await missing(redis, keys, undefined);
  const counts: BatchCounts = { warmed: 0, skipped: keys.length - probe.missing.length, failed: 0 };
  if (probe.missing.length === 0) return counts;
  const read = from.pipeline();
  for (const key of probe.missing) read.pttl(key).dumpBuffer(key);
  const readAt = performance.now();
  const dumped = await read.exec();
  const readFailure = replyError(dumped);
  if (readFailure !== undefined) throw classify(readFailure, 'the warm Redis');
  if (context.stopped()) throw new Stopped();
  // The time the dumps spent in flight comes off the TTL: the copy expires when the original
  // does, within a round trip.
  const elapsed = Math.ceil(performance.now() - readAt);
  const restore = redis.pipeline();
  let restores = 0;
  probe.missing.forEach((key, i) => {
    const pttl = dumped?.[2 * i]?.[1] as number;
    const payload = dumped?.[2 * i + 1]?.[1] as Buffer | null;
    const ttl = pttl === -1 ? 0 : pttl - elapsed;
    if (payload === null || pttl === -2 || (pttl !== -1 && ttl <= 0)) {
      counts.skipped += 1;
      return;
    }
    restore.restore(key, ttl, payload);
    restores += 1;
  });
  if (restores === 0) return counts;
  const replies = (await restore.exec()) ?? [];
  for (const [error] of replies) {
    if (error === null) counts.warmed += 1;
    // Live traffic wrote the key since the EXISTS: RESTORE without REPLACE leaves it alone.
    else if (/^BUSYKEY/.test(error.message)) counts.skipped += 1;
    else throw classify(error);
  }
  return counts;
}
