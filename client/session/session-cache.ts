import { createHash } from 'node:crypto';
import {
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Cluster, Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { isCluster } from '../common/cluster-routing.js';
import type { RedisClients } from '../connection/create-redis-clients.js';
import type { DurableWriteOptions } from '../connection/durable-write.js';
import { ConfigError } from '../errors.js';
import { errorFields } from '../logging/logger.js';
import { setRequestIdentity } from '../logging/request-context.js';
import { registerSessionMetrics } from './session-metrics.js';
import { type SessionWarmingOptions, startSessionWarming } from './session-warming.js';

/** What a session carries: who it belongs to, plus any JSON fields the app adds. */
export interface SessionRecord {
  readonly userId: string;
  readonly orgId: string;
  /** Epoch milliseconds after which the session is invalid; caps the cache TTL. */
  readonly expiresAt?: number;
  readonly [field: string]: unknown;
}

export type SessionSource = 'replica' | 'master' | 'loader';

export type SessionValidation =
  | { readonly valid: true; readonly session: SessionRecord; readonly source: SessionSource }
  | { readonly valid: false; readonly source: 'loader' };

export interface SessionCacheOptions {
  /** The source of truth (your database): the session, or null when it does not exist (any more). */
  readonly loader: (sessionId: string) => Promise<SessionRecord | null>;
  /**
   * Cache lifetime of a session in Redis, in seconds, capped by the record's `expiresAt`.
   * @default 3600
   */
  readonly ttlSeconds?: number;
  /**
   * Prefix of every key; keys are `<prefix>session:<sha256 of the id>`, and
   * on a Redis Cluster `<prefix>session:{<first 3 hex digits>}<sha256>`
   * (see the revocation comment below).
   * @default 'redscope:'
   */
  readonly keyPrefix?: string;
  /**
   * How many replicas must confirm a create or revoke, and how long to wait
   * (`writeDurably` of the clients).
   * @default { replicas: 1, timeoutMs: 1000 }
   */
  readonly durability?: DurableWriteOptions;
  /**
   * The app's registry for the `redscope_session_*` families.
   * @default none: no metrics
   */
  readonly registry?: Registry;
  /**
   * Where `session.*` events go.
   * @default a silent logger
   */
  readonly logger?: Logger;
  /**
   * A `session.validate` span around the Redis spans of each validation.
   * @default on, through the global tracer provider
   */
  readonly tracing?: { readonly enabled?: boolean; readonly tracerProvider?: TracerProvider };
  /**
   * Warms the cache from the source of truth in the background: the most
   * used sessions first (the usage record of `<keyPrefix>session:`: list that
   * namespace in createRedisClients' `usage` option), at the clients' warming
   * rate and back-off. Needs the clients of createRedisClients.
   * @default off
   */
  readonly warming?: SessionWarmingOptions;
}

/**
 * Revocation and the stale-replica problem. A revoke deletes the session on
 * the master and, in the same Lua call, increments a revocation counter.
 * Replicas apply the replication stream in order, so a replica whose counter
 * is at least N has also applied the deletes of revocations 1..N.
 *
 * validate() reads the counter and the session from the replica in one
 * pipeline (counter first), and the counter from the master in parallel. The
 * replica's answer is used only when its counter has caught up with the
 * master's: then every revocation committed before validate() started is
 * reflected in it. Otherwise (the replica lags behind a revocation, or it just
 * does not have the session yet) the session is read from the master. The
 * master thus serves one small GET of a shared key per validation and the
 * session payload only when the replica cannot be trusted.
 *
 * The write-back after a cache miss is a Lua script that sets the session
 * only if the counter still has the value read at the start, so a revoke
 * that races with a miss cannot be undone by the write-back.
 *
 * On a Redis Cluster every shard has its own replication stream, so a counter
 * only vouches for keys of its own shard, and a script may only touch keys of
 * one slot. There the sessions are split into 4096 buckets by the first three
 * hex digits of their hash, each bucket with its own counter, and the bucket
 * is the hash tag of both (`<prefix>session:{3fa}3fa9…`,
 * `<prefix>sessions:revocations:{3fa}`): a session and its counter share a
 * slot, the validation pipeline, the write-back and the revoke script run on
 * one shard, and the revocation counters are spread over the cluster instead
 * of one key every validation reads.
 */
const REVOKE_SCRIPT = `redis.call('DEL', KEYS[1])
return redis.call('INCR', KEYS[2])`;
const WRITE_BACK_SCRIPT = `if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`;

/** Hex digits of the session hash that name its bucket on a cluster: 16^3 = 4096 buckets. */
const BUCKET_DIGITS = 3;

/** Where a session and its revocation counter live. */
export interface SessionKeys {
  /** The session key of a session id. */
  keyOf(sessionId: string): string;
  /** The revocation counter that guards a session key. */
  counterOf(key: string): string;
  /** The SHA-256 (hex) of the session id a session key holds. */
  hashOf(key: string): string;
}

/** The key layout of the session cache (see the revocation comment above). */
function sessionKeys(prefix: string, clustered: boolean): SessionKeys {
  const namespace = `${prefix}session:`;
  const counter = `${prefix}sessions:revocations`;
  const hash = (sessionId: string) => createHash('sha256').update(sessionId).digest('hex');
  if (!clustered) {
    return {
      keyOf: (sessionId) => `${namespace}${hash(sessionId)}`,
      counterOf: () => counter,
      hashOf: (key) => key.slice(namespace.length),
    };
  }
  return {
    keyOf: (sessionId) => {
      const digest = hash(sessionId);
      return `${namespace}{${digest.slice(0, BUCKET_DIGITS)}}${digest}`;
    },
    counterOf: (key) =>
      `${counter}:${key.slice(namespace.length, namespace.length + BUCKET_DIGITS + 2)}`,
    hashOf: (key) => key.slice(namespace.length + BUCKET_DIGITS + 2),
  };
}

/** What the session cache needs of the clients: a Redis or a Redis Cluster. */
export type SessionClients = Pick<
  RedisClients<Redis | Cluster>,
  'writer' | 'reader' | 'writeDurably'
> &
  Partial<Pick<RedisClients<Redis | Cluster>, 'warm'>>;

export interface SessionCache {
  /** Whether `sessionId` is a live session, and whose (see SessionValidation). */
  validate(sessionId: string): Promise<SessionValidation>;
  /** Caches a new session durably (the app stores it in its database first). */
  create(sessionId: string, session: SessionRecord): Promise<void>;
  /** Removes a session durably; no replica serves it afterwards (the app deletes it from its database first). */
  revoke(sessionId: string): Promise<void>;
}

/**
 * The session-validation flow on the clients of `createRedisClients`:
 * replica reads when the replica is fresh enough, the loader on a miss with
 * a write-back and TTL, create and revoke through `writeDurably`, a
 * `session.validate` span around the Redis spans, hit/miss metrics and a
 * debug line with the correlation id. A valid session also sets `user_id`,
 * `org_id` and the hashed `session_id` on the current request context for
 * the log lines that follow.
 *
 * ```ts
 * const sessions = createSessionCache(clients, { loader: (id) => db.findSession(id), registry, logger });
 * const result = await sessions.validate(token);
 * if (!result.valid) return res.status(401).end();
 * ```
 */
export function createSessionCache(
  clients: SessionClients,
  options: SessionCacheOptions,
): SessionCache {
  const ttlSeconds = options.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new ConfigError('ttlSeconds', `must be an integer >= 1, got ${ttlSeconds}`);
  }
  const prefix = options.keyPrefix ?? 'redscope:';
  const keys = sessionKeys(prefix, isCluster(clients.writer));
  const { keyOf } = keys;
  if (typeof options.loader !== 'function') {
    throw new ConfigError(
      'loader',
      'must be a function (sessionId) => Promise<SessionRecord | null>',
    );
  }
  const warming = options.warming;
  if (warming !== undefined) {
    if (typeof warming.loadByHash !== 'function') {
      throw new ConfigError(
        'warming.loadByHash',
        'must be a function (hashes) => Promise<Map<hash, SessionRecord>>',
      );
    }
    if (typeof clients.warm !== 'function') {
      throw new ConfigError('warming', 'needs the clients of createRedisClients (their warm())');
    }
  }
  const { writer, reader } = clients;
  const logger = options.logger ?? pino({ level: 'silent' });
  const tracer: Tracer | undefined =
    options.tracing?.enabled === false
      ? undefined
      : (options.tracing?.tracerProvider ?? trace.getTracerProvider()).getTracer(
          'redscope-session',
        );
  // Registered last among the checks: a bad option must not leave families behind.
  const metrics = options.registry ? registerSessionMetrics(options.registry) : undefined;
  const durableWrite = (write: Parameters<RedisClients['writeDurably']>[0]) =>
    clients.writeDurably(write, options.durability);

  const ttlFor = (session: SessionRecord): number => {
    if (session.expiresAt === undefined) return ttlSeconds;
    return Math.min(ttlSeconds, Math.ceil((session.expiresAt - Date.now()) / 1000));
  };
  const parse = (raw: string | null): SessionRecord | undefined => {
    if (raw === null) return undefined;
    try {
      const session = JSON.parse(raw) as SessionRecord;
      if (session.expiresAt !== undefined && session.expiresAt <= Date.now()) return undefined;
      return session;
    } catch {
      return undefined;
    }
  };

  async function lookup(
    key: string,
    counterKey: string,
  ): Promise<{
    session?: SessionRecord;
    source: SessionSource;
    counter: string;
    /** The master has no revocation counter: the dataset was flushed if warming seeded it. */
    counterMissing: boolean;
  }> {
    if (reader.readsFromMaster) {
      const replies = (await writer.pipeline().get(counterKey).get(key).exec()) ?? [];
      for (const [error] of replies) if (error) throw error;
      const session = parse((replies[1]?.[1] as string | null) ?? null);
      const stored = (replies[0]?.[1] as string | null) ?? null;
      return { session, source: 'master', counter: stored ?? '0', counterMissing: stored === null };
    }
    let fromMaster = false;
    const [replicaReplies, masterCounter] = await Promise.all([
      // A replica that fails is skipped, not fatal: the master answers instead.
      reader
        .read((replica) => {
          // The reader falls back to the master when no replica answers.
          fromMaster = replica === writer;
          return replica.pipeline().get(counterKey).get(key).exec();
        })
        .catch(() => null),
      writer.get(counterKey),
    ]);
    const counter = masterCounter ?? '0';
    const counterMissing = masterCounter === null;
    const usable = replicaReplies !== null && !replicaReplies.some(([error]) => error);
    const replicaCounter = (replicaReplies?.[0]?.[1] as string | null) ?? '0';
    if (usable && Number(replicaCounter) >= Number(counter)) {
      const session = parse((replicaReplies?.[1]?.[1] as string | null) ?? null);
      if (session) {
        return { session, source: fromMaster ? 'master' : 'replica', counter, counterMissing };
      }
    }
    // The replica lags behind a revocation, failed, or lacks a session created a moment ago.
    return { session: parse(await writer.get(key)), source: 'master', counter, counterMissing };
  }

  const warm = clients.warm;
  const warmer =
    warming === undefined || warm === undefined
      ? undefined
      : startSessionWarming({
          clients: { writer, warm: (run) => warm.call(clients, run) },
          options: warming,
          namespace: `${prefix}session:`,
          keys,
          ttlSeconds,
          ttlFor,
          logger,
        });

  async function validateIn(sessionId: string, span: Span | undefined): Promise<SessionValidation> {
    const startedAt = performance.now();
    const key = keyOf(sessionId);
    const counterKey = keys.counterOf(key);
    let found: Awaited<ReturnType<typeof lookup>> | undefined;
    try {
      found = await lookup(key, counterKey);
    } catch (error) {
      // Redis is down or refusing: the loader is the source of truth, so ask it and skip the
      // write-back (slower, never wrong), rather than logging everybody out.
      logger.warn(
        {
          event: 'session.cache_unavailable',
          err: errorFields(error),
        },
        'session cache unavailable; validating with the loader',
      );
    }
    if (found !== undefined) {
      warmer?.observe(found.session !== undefined, found.counterMissing, counterKey);
    }
    let result: SessionValidation;
    if (found?.session) {
      metrics?.hits.inc();
      result = { valid: true, session: found.session, source: found.source };
    } else {
      metrics?.misses.inc();
      const stopTimer = metrics?.loadDuration.startTimer();
      let loaded: SessionRecord | null;
      try {
        loaded = await options.loader(sessionId);
      } finally {
        stopTimer?.();
      }
      const ttl = loaded ? ttlFor(loaded) : 0;
      if (loaded && ttl > 0) {
        if (found) {
          await writer
            .eval(WRITE_BACK_SCRIPT, 2, counterKey, key, found.counter, JSON.stringify(loaded), ttl)
            .catch((error: unknown) =>
              logger.warn(
                { event: 'session.write_back_failed', err: errorFields(error) },
                'could not cache the loaded session',
              ),
            );
        }
        result = { valid: true, session: loaded, source: 'loader' };
      } else {
        result = { valid: false, source: 'loader' };
      }
    }
    // Telemetry and log context: a failure here must not change the answer.
    try {
      if (result.valid) {
        setRequestIdentity({
          userId: result.session.userId,
          orgId: result.session.orgId,
          sessionId,
        });
      }
      span?.setAttributes({
        'redscope.session.valid': result.valid,
        'redscope.session.source': result.source,
        'redscope.session.cache_hit': result.source !== 'loader',
      });
      logger.debug(
        {
          event: 'session.validate',
          valid: result.valid,
          source: result.source,
          cache_hit: result.source !== 'loader',
          duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
        },
        'session validated',
      );
    } catch {
      // the validation result stands
    }
    return result;
  }

  return {
    validate(sessionId) {
      if (tracer === undefined) return validateIn(sessionId, undefined);
      return tracer.startActiveSpan(
        'session.validate',
        { kind: SpanKind.INTERNAL },
        async (span) => {
          try {
            return await validateIn(sessionId, span);
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name });
            span.setAttribute('error.type', (error as Error).name);
            throw error;
          } finally {
            span.end();
          }
        },
      );
    },
    async create(sessionId, session) {
      const ttl = ttlFor(session);
      if (ttl <= 0)
        throw new ConfigError(
          'session.expiresAt',
          'is in the past: the session is already expired',
        );
      await durableWrite((pipeline) =>
        pipeline.set(keyOf(sessionId), JSON.stringify(session), 'EX', ttl),
      );
      logger.debug({ event: 'session.create' }, 'session cached');
    },
    async revoke(sessionId) {
      const key = keyOf(sessionId);
      await durableWrite((pipeline) => pipeline.eval(REVOKE_SCRIPT, 2, key, keys.counterOf(key)));
      logger.debug({ event: 'session.revoke' }, 'session revoked');
    },
  };
}
