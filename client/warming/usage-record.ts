import type { Cluster, Command, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { WARMING_PREFIX, warmingUsageKey } from '../common/warming-status.js';
import type { SideConnection } from '../connection/side-connection.js';
import { visitKeys } from '../instrumentation/command-keys.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';
import type { ResolvedUsageOptions } from './warming-options.js';

/**
 * Forward decay (Cormode et al., "Forward Decay", ICDE 2009): an access at
 * time t adds 2^((t - L) / halfLife) to its key's score, for a landmark L
 * every process derives from the clock alike. Scores then add up across
 * processes and flushes with plain ZINCRBY, and ranking by score is ranking
 * by exponentially decayed frequency, with no decay pass over the set. The
 * weights grow with time, so the landmark moves every LANDMARK_HALF_LIVES
 * half-lives (37.5 days at the default one hour): the scores before it then
 * weigh 2^-900 of the new ones, nothing, and the first flush after the move
 * drops the old set with UNLINK (freed off the main thread) instead of
 * rescaling it (ZUNIONSTORE ... WEIGHTS blocks Redis about 200 ms per 100k
 * keys); the fleet refills the record within a flush interval. Scores stay
 * under 2^1000, inside a double.
 */
const LANDMARK_HALF_LIVES = 900;
/**
 * Keys one flush command carries. A key costs Redis what a ZINCRBY costs
 * (3.5-4.5 us measured on a 100k-key record on the test VM, about as much as
 * a plain pipelined ZINCRBY there), so a call holds Redis under half a
 * millisecond and a live command never waits long behind a flush.
 */
const FLUSH_CHUNK = 100;
/** Keys one namespace collects between flushes; a new key past it triggers an early flush. */
const MAX_PENDING = 20_000;
/** An early flush waits at least this long after the last one. */
const MIN_FLUSH_GAP_MS = 1000;

/**
 * Adds one process's counts to the record, trims it to its `maxKeys` best,
 * and refreshes both keys' TTL. A process on a newer landmark drops the old
 * set first; one still on an older landmark (its clock behind at the move)
 * adds nothing, since its counts weigh nothing against the new ones.
 * KEYS: record, landmark. ARGV: landmark ms, max keys, TTL ms, then score/key pairs.
 */
const FLUSH_SCRIPT = `local mine = tonumber(ARGV[1])
local stored = tonumber(redis.call('GET', KEYS[2]) or ARGV[1])
if mine < stored then
  return 0
end
if mine > stored then
  redis.call('UNLINK', KEYS[1])
end
for i = 4, #ARGV, 2 do
  redis.call('ZINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if excess > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return excess`;

/** How long a namespace's record lives after its last flush from any process. */
export const USAGE_RECORD_TTL_MS = 24 * 3600_000;

/** The landmark key next to a namespace's record (same hash tag, one Cluster slot). */
export function usageLandmarkKey(namespace: string): string {
  return `${WARMING_PREFIX}usage-landmark:${namespace}`;
}

interface Pending {
  readonly namespace: string;
  /** The landmark the scores below are relative to. */
  landmark: number;
  scores: Map<string, number>;
}

/**
 * The client's record of which keys it uses, per namespace: a sample of the
 * commands (random, 1 in 8 by default) adds forward-decayed weights to a
 * bounded in-process map, which goes to a capped sorted set in Redis on the
 * side connection every flush interval. Key names and scores only, never a
 * value; the record never reaches metrics or logs (it holds real key names).
 */
export class UsageRecord {
  private readonly pending: Pending[];
  private readonly timer: NodeJS.Timeout;
  private readonly failureLines = new LogThrottle(60_000, 1);
  private readonly periodMs: number;
  /** Commands to skip before the next sampled one. */
  private gap = 1;
  /** The weight of one sampled access now, set once per sampled command. */
  private weight = 1;
  private lastFlush = 0;
  private earlyFlush: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** Bound once, so recording a key allocates no closure. */
  private readonly record = (key: string) => {
    for (const pending of this.pending) {
      if (!key.startsWith(pending.namespace)) continue;
      const scores = pending.scores;
      const score = scores.get(key);
      if (score !== undefined) {
        scores.set(key, score + this.weight);
      } else if (scores.size < MAX_PENDING) {
        scores.set(key, this.weight);
      } else {
        // Full: this access goes uncounted, and the map goes to Redis early to make room.
        this.flushSoon();
      }
    }
  };

  constructor(
    private readonly side: SideConnection,
    readonly settings: ResolvedUsageOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.periodMs = LANDMARK_HALF_LIVES * settings.halfLifeMs;
    const landmark = this.landmarkAt(clock());
    this.pending = settings.namespaces.map((namespace) => ({
      namespace,
      landmark,
      scores: new Map(),
    }));
    this.gap = this.nextGap();
    this.timer = setInterval(() => void this.flush(), settings.flushIntervalMs);
    this.timer.unref();
    side.get();
    // A process that stops hands in what it counted since the last flush.
    side.atClose((redis) => this.send(redis, this.takePending()));
  }

  /** Counts the keys of a sampled command; never throws into the command path. */
  observe(command: Command): void {
    if (--this.gap > 0) return;
    this.gap = this.nextGap();
    try {
      const now = this.clock();
      // Relative to each map's own landmark, which changes only when the map is flushed.
      const landmark = this.pending[0]?.landmark ?? now;
      this.weight = 2 ** ((now - landmark) / this.settings.halfLifeMs) / this.settings.sampleRate;
      visitKeys(command, this.record);
    } catch {
      // A command ioredis cannot find keys for is simply not counted.
    }
  }

  /** Sends what was counted since the last flush; resolves when Redis has it (or it failed). */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.flushing !== undefined) return this.flushing;
    const redis = this.side.get();
    if (redis === undefined || !this.side.ready) {
      // Kept (bounded) for the next flush, unless the landmark moved meanwhile: the weights
      // would keep growing with no flush to reset them.
      const stale = this.pending[0]?.landmark !== this.landmarkAt(this.clock());
      if (stale) this.takePending();
      return Promise.resolve();
    }
    const batch = this.takePending();
    this.flushing = this.send(redis, batch)
      .catch((error: unknown) => {
        const held = this.failureLines.take('failed');
        if (held === undefined) return;
        runDetached(() =>
          this.logger.warn(
            {
              event: 'redis.usage_flush_failed',
              err: errorFields(error),
              ...(held > 0 ? { suppressed: held } : {}),
            },
            "could not add this process's key usage to the usage record; warming ranks without it until it can",
          ),
        );
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    if (this.earlyFlush !== undefined) clearTimeout(this.earlyFlush);
  }

  private landmarkAt(now: number): number {
    return Math.floor(now / this.periodMs) * this.periodMs;
  }

  /** Swaps out the pending maps; the new ones start on the current landmark. */
  private takePending(): { namespace: string; landmark: number; scores: Map<string, number> }[] {
    const now = this.clock();
    this.lastFlush = now;
    const landmark = this.landmarkAt(now);
    const taken: { namespace: string; landmark: number; scores: Map<string, number> }[] = [];
    for (const p of this.pending) {
      if (p.scores.size > 0) taken.push({ ...p });
      p.scores = new Map();
      p.landmark = landmark;
    }
    return taken;
  }

  private async send(
    redis: Redis | Cluster,
    batch: readonly { namespace: string; landmark: number; scores: Map<string, number> }[],
  ): Promise<void> {
    if (batch.length === 0) return;
    const { maxKeys } = this.settings;
    const pipeline = redis.pipeline();
    for (const { namespace, landmark, scores } of batch) {
      const keys = [warmingUsageKey(namespace), usageLandmarkKey(namespace)];
      let args: (string | number)[] = [];
      const head = [landmark, maxKeys, USAGE_RECORD_TTL_MS];
      for (const [key, score] of scores) {
        args.push(score, key);
        if (args.length >= 2 * FLUSH_CHUNK) {
          pipeline.eval(FLUSH_SCRIPT, 2, ...keys, ...head, ...args);
          args = [];
        }
      }
      if (args.length > 0) pipeline.eval(FLUSH_SCRIPT, 2, ...keys, ...head, ...args);
    }
    const replies = (await pipeline.exec()) ?? [];
    const failure = replies.find(([error]) => error !== null)?.[0];
    if (failure) throw failure;
  }

  private flushSoon(): void {
    if (this.earlyFlush !== undefined || this.closed) return;
    const wait = Math.max(0, this.lastFlush + MIN_FLUSH_GAP_MS - this.clock());
    this.earlyFlush = setTimeout(() => {
      this.earlyFlush = undefined;
      void this.flush();
    }, wait);
    this.earlyFlush.unref();
  }

  /** A geometric gap with mean 1/sampleRate: every command has the same chance, whatever the pattern. */
  private nextGap(): number {
    const rate = this.settings.sampleRate;
    if (rate >= 1) return 1;
    return 1 + Math.floor(Math.log(1 - Math.random()) / Math.log(1 - rate));
  }
}

/**
 * The top `limit` keys of a namespace's usage record, most used first; only
 * the namespace's own keys (anything else under the record is not ours to
 * write). What a warming run plans from, and what `redscope warm` prints.
 *
 * ```ts
 * const plan = await readUsagePlan(redis, 'app:session:', 10_000);
 * ```
 */
export async function readUsagePlan(
  redis: Redis | Cluster,
  namespace: string,
  limit: number,
): Promise<string[]> {
  const keys = await redis.zrevrange(warmingUsageKey(namespace), 0, limit - 1);
  return keys.filter((key) => key.startsWith(namespace) && key.length > namespace.length);
}
