import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClients } from '../connection/create-redis-clients.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';
import type { WarmingRun, WarmValue } from '../warming/types.js';
import { MissStormDetector } from './miss-storm.js';
import type { SessionKeys, SessionRecord } from './session-cache.js';

export interface SessionWarmingOptions {
  /**
   * Sessions by the SHA-256 (hex) of their id, the way session keys are
   * named (apps that store hashed tokens look them up by it); leave out the
   * ones that no longer exist. `signal` aborts when the run is cancelled.
   */
  readonly loadByHash: (
    hashes: readonly string[],
    context: { readonly signal: AbortSignal },
  ) => Promise<ReadonlyMap<string, SessionRecord>>;
  /** Warm when the cache is created (app start). @default true */
  readonly onStart?: boolean;
  /**
   * Warm again after a miss storm: the hit ratio over the last 200
   * validations fell under 50% after being over 80%, or the cache was
   * flushed (the revocation counter it seeds vanished). At most once a minute.
   * @default true
   */
  readonly afterMissStorm?: boolean;
  /** Sessions warmed, most used first. @default 10000 */
  readonly limit?: number;
  /** Keys per second (halved while live latency suffers). @default 2000 */
  readonly ratePerSecond?: number;
}

/** A miss-storm run waits this long after the previous one. */
const STORM_RUN_GAP_MS = 60_000;
/** What a loaded "session" that is not a SessionRecord is handed to the warmer as: it skips and logs it. */
const NOT_A_SESSION = Object.freeze({ notASession: true }) as unknown as WarmValue;

export interface SessionWarming {
  /** One validation's lookup: hit or miss, and whether the master had its revocation counter `counterKey`. */
  observe(hit: boolean, counterMissing: boolean, counterKey: string): void;
}

/**
 * The session cache's warming: a run on start, and one after a miss storm,
 * through the clients' warmer, ranked by the usage record of the session
 * namespace. Writes go through the revocation counter as a guard, so a
 * session revoked while its batch loaded is not brought back.
 */
export function startSessionWarming(context: {
  readonly clients: Pick<RedisClients<Redis | Cluster>, 'writer' | 'warm'>;
  readonly options: SessionWarmingOptions;
  /** `<prefix>session:` */
  readonly namespace: string;
  /** The key layout: a session key's hash and its revocation counter. */
  readonly keys: SessionKeys;
  readonly ttlSeconds: number;
  readonly ttlFor: (session: SessionRecord) => number;
  readonly logger: Logger;
}): SessionWarming {
  const { clients, options, namespace, keys: layout, logger } = context;
  const storms = options.afterMissStorm === false ? undefined : new MissStormDetector();
  let lastStormRun = Number.NEGATIVE_INFINITY;
  let currentRun: WarmingRun | undefined;
  /**
   * A flush leaves no revocation counter behind: with one seeded, its absence
   * after it was seen is the signal (one GET the validation makes anyway).
   * One counter, or one per bucket on a cluster (a flush there is per node):
   * each is followed on its own, at most 4096 of them.
   */
  const counterSeen = new Set<string>();
  const lastSeed = new Map<string, number>();
  const seedCounter = (counterKey: string) => {
    const now = performance.now();
    if (now - (lastSeed.get(counterKey) ?? Number.NEGATIVE_INFINITY) < 1000) return;
    lastSeed.set(counterKey, now);
    clients.writer.set(counterKey, '0', 'NX').catch(() => undefined);
  };
  const warm = () => {
    currentRun = clients.warm({
      namespace,
      source: {
        kind: 'loader',
        ttlSeconds: context.ttlSeconds,
        // A revoke during a batch's load must not be undone by its write (as for the write-back).
        guardKey: layout.counterOf,
        load: async (keys, call) => {
          const hashes = keys.map((key) => layout.hashOf(key));
          const sessions = await options.loadByHash(hashes, call);
          const values = new Map<string, WarmValue>();
          keys.forEach((key, i) => {
            const session = sessions.get(hashes[i] as string) as unknown;
            if (session === undefined || session === null) return;
            if (!isSessionRecord(session)) {
              values.set(key, NOT_A_SESSION);
              return;
            }
            const ttl = context.ttlFor(session);
            values.set(key, ttl > 0 ? { value: JSON.stringify(session), ttlSeconds: ttl } : null);
          });
          return values;
        },
      },
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.ratePerSecond === undefined ? {} : { ratePerSecond: options.ratePerSecond }),
    });
  };
  /** A miss storm: warm again, unless a run is on or the last storm's run began under a minute ago. */
  const onStorm = (trigger: 'hit_ratio' | 'flush') => {
    const now = performance.now();
    let warming: 'started' | 'running' | 'too_soon' | 'refused' = 'started';
    let failure: unknown;
    if (currentRun !== undefined && currentRun.progress().state === 'running') {
      warming = 'running';
    } else if (now - lastStormRun < STORM_RUN_GAP_MS) {
      warming = 'too_soon';
    } else {
      try {
        warm();
        // Only a run that started counts: a refused one must not lock the next storm out.
        lastStormRun = now;
      } catch (error) {
        warming = 'refused';
        failure = error;
      }
    }
    const ratio = storms?.ratio;
    runDetached(() =>
      logger.warn(
        {
          event: 'session.miss_storm',
          trigger,
          ...(ratio === undefined ? {} : { hit_ratio: Math.round(ratio * 1000) / 1000 }),
          warming,
          ...(failure === undefined ? {} : { err: errorFields(failure) }),
        },
        'session cache miss storm: the cache lost its sessions',
      ),
    );
  };
  // One counter at start (the only one, or one bucket's on a cluster); the others as they are met.
  if (storms !== undefined) seedCounter(layout.counterOf(layout.keyOf('')));
  // A bad option (the namespace is not recorded) throws here, from createSessionCache.
  if (options.onStart !== false) warm();
  return {
    observe(hit, counterMissing, counterKey) {
      if (storms === undefined) return;
      const storm = storms.observe(hit);
      if (!counterMissing) {
        counterSeen.add(counterKey);
      } else {
        seedCounter(counterKey);
        if (counterSeen.delete(counterKey)) {
          storms.flushed();
          onStorm('flush');
        }
      }
      if (storm) onStorm('hit_ratio');
    },
  };
}

function isSessionRecord(value: unknown): value is SessionRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return typeof record.userId === 'string' && typeof record.orgId === 'string';
}
