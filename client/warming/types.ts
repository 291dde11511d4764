import type { Redis } from 'ioredis';
import type { WarmingState } from '../common/warming-status.js';

/**
 * The usage record: which keys of which namespaces the app uses most, kept
 * in Redis for the warmer to rank by. Key names and scores only, never
 * values; the record stays in Redis (it holds real key names) and never
 * reaches metrics or logs.
 */
export interface UsageOptions {
  /** Key prefixes to record, e.g. `['app:session:']`; keys outside them are not recorded. */
  readonly namespaces: readonly string[];
  /**
   * Fraction of commands whose keys are counted (a random sample, so no app
   * pattern aliases with it).
   * @default 0.125
   */
  readonly sampleRate?: number;
  /**
   * Keys kept per namespace in Redis, the most used; the rest are dropped at each flush.
   * @default 100000
   */
  readonly maxKeys?: number;
  /**
   * How often this process adds its counts to the record in Redis.
   * @default 10000
   */
  readonly flushIntervalMs?: number;
  /**
   * An access counts half as much after this long: the ranking follows what
   * is used now, not what was used yesterday.
   * @default 3600
   */
  readonly halfLifeSeconds?: number;
}

/**
 * What a loader returns for a key: the value, null when the source of truth
 * has none (the key is skipped), or the value with a TTL of its own (a
 * session that expires before `ttlSeconds`). Anything else is skipped with a warning.
 */
export type WarmValue =
  | string
  | Buffer
  | null
  | { readonly value: string | Buffer; readonly ttlSeconds: number };

export type WarmSource =
  | {
      readonly kind: 'loader';
      /**
       * Fetches a batch from the source of truth. `signal` aborts when the
       * run is cancelled or the attempt timed out.
       */
      load(
        keys: readonly string[],
        context: { readonly signal: AbortSignal },
      ): Promise<ReadonlyMap<string, WarmValue>>;
      /** TTL of the keys written. */
      readonly ttlSeconds: number;
      /**
       * One attempt of `load` may take this long; it is then retried with backoff.
       * @default 5000
       */
      readonly timeoutMs?: number;
      /**
       * A counter key the app increments whenever it deletes from the cache
       * (the session cache's revocation counter). A batch is written only if
       * the counter did not move while it loaded, so warming cannot bring
       * back a value deleted during the load; a batch that raced a delete is
       * loaded again. On a Redis Cluster a script may only touch one slot, so
       * the guard must share the hash slot of the keys it guards: give a
       * function from a key to its guard (a counter per hash tag, as the
       * session cache keeps one per bucket); keys are then written in groups
       * of one guard.
       */
      readonly guardKey?: string | ((key: string) => string);
    }
  | {
      /**
       * Copy from a warm Redis (a replica, another deployment): DUMP + PTTL
       * there, RESTORE without REPLACE here, the remaining TTL kept. Needs
       * RESTORE in the ACL of this client's user (it is in `@dangerous`).
       * `from` reads the same key names: give it no `keyPrefix`.
       */
      readonly kind: 'redis';
      readonly from: Redis;
    };

export interface WarmOptions {
  /** The key prefix to warm, e.g. `app:session:`; keys outside it are refused. */
  readonly namespace: string;
  readonly source: WarmSource;
  /**
   * The plan, most valuable first: key names as Redis stores them (with any
   * ioredis `keyPrefix`), in the writer's db.
   * @default the usage record's top `limit` keys of the namespace
   */
  readonly keys?: readonly string[];
  /** Keys taken from the usage record. @default 10000 */
  readonly limit?: number;
  /** Token-bucket rate, keys per second; halved when live latency or errors rise. @default 2000 */
  readonly ratePerSecond?: number;
  /** Keys per pipeline. @default 100 */
  readonly batchSize?: number;
  /** Batches in flight. @default 2 */
  readonly concurrency?: number;
  /** Stop once the app's hit rate (`current()`, 0..1) reaches `ratio`. */
  readonly targetHitRate?: { readonly ratio: number; current(): number | undefined };
  /** Progress log line and status update period. @default 2000 */
  readonly progressEveryMs?: number;
}

export type WarmingOutcome = 'done' | 'cancelled' | 'failed' | 'target_reached';

export interface WarmingProgress {
  readonly namespace: string;
  readonly state: WarmingState;
  readonly planned: number;
  /** Keys written by this run. */
  readonly warmed: number;
  /** Keys live traffic had already filled, or the source does not have. */
  readonly skipped: number;
  /** Keys given up on (failed after retries, or an unusable value). */
  readonly failed: number;
  /** Failed attempts (retried or not) and unusable values. */
  readonly errors: number;
  /** Keys per second the token bucket allows now (lower than asked while backing off). */
  readonly rateLimit: number;
  /** Keys handled per second over the last progress period. */
  readonly keysPerSecond: number;
  /** undefined until a rate is known. */
  readonly etaSeconds: number | undefined;
  readonly elapsedMs: number;
}

export interface WarmingResult extends WarmingProgress {
  readonly outcome: WarmingOutcome;
  /** Why it stopped, unless plainly done. */
  readonly reason?: string;
}

/** A warming run in the background. `done` never rejects: a failure is an outcome. */
export interface WarmingRun {
  readonly done: Promise<WarmingResult>;
  progress(): WarmingProgress;
  /** Stops after the pipelines in flight answer; `done` then says `cancelled`. */
  cancel(): void;
}
