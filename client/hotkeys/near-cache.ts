import { Command, type Redis, type RedisOptions, ReplyError } from 'ioredis';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../common/backoff.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';

export interface NearCacheSettings {
  /** Hard cap on the life of every entry, whatever the invalidations say. */
  readonly ttlMs: number;
  /** Cached replies (one per command and arguments) over all keys. */
  readonly maxEntries: number;
  /** Estimated bytes of the cached replies, keys included. */
  readonly maxBytes: number;
}

/** What the near-cache asks the hot-key tracker. */
export interface HotKeyView {
  isHot(key: string): boolean;
  servedLocally(key: string): void;
}

export type NearCacheFlushReason = 'connection_lost' | 'flushall' | 'tracking_failed' | 'closed';

export interface NearCacheStats {
  /** Reads answered from the cache. */
  readonly hits: number;
  /** Reads of a hot key that went to Redis (tracked, or untracked while tracking is off). */
  readonly misses: number;
  /** Keys named by invalidation messages. */
  readonly invalidations: number;
  readonly entries: number;
  readonly bytes: number;
  readonly flushes: ReadonlyMap<NearCacheFlushReason, number>;
  readonly tracking: boolean;
}

/**
 * Single-key reads whose key is the first argument, by the names ioredis
 * gives its commands (lower case) and the upper case an app's `call('GET')`
 * keeps; a mixed-case name is simply not cached. Value: the name the
 * entries are filed under.
 */
const CACHEABLE: ReadonlyMap<string, string> = new Map(
  'get hget hmget hgetall hexists strlen exists smembers sismember scard lrange llen zrange zscore zcard'
    .split(' ')
    .flatMap((name) => [[name, name] as const, [name.toUpperCase(), name] as const]),
);

const INVALIDATE_CHANNEL = '__redis__:invalidate';
/** A key whose UTF-16 would not survive the trip to UTF-8 and back cannot be matched to its invalidation. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type ReplyContext = Parameters<Command['setReplyContext']>[0];

/**
 * A tracked read on its way. An invalidation that arrives before the reply
 * deletes it, and the reply then finds no placeholder to fill: a write the
 * server ran after the read can never be hidden by that read's reply.
 */
interface Pending {
  readonly pending: true;
  /** The tracking session the read was sent in; a reply from an older one is never cached. */
  readonly session: number;
  readonly expiresAt: number;
  /** CLIENT CACHING YES was answered OK: the server tracks the key for this read. */
  tracked: boolean;
}

interface Cached {
  readonly pending: false;
  /** The raw reply (before ioredis' conversion), a private copy. */
  readonly value: unknown;
  /** From when the read was sent, not when the reply came: the cap holds from the server's view. */
  readonly expiresAt: number;
  readonly bytes: number;
  readonly context: ReplyContext;
}

/** All cached replies of one key: an invalidation names the key, so it drops them together. */
interface KeyEntry {
  readonly replies: Map<string, Pending | Cached>;
  cached: number;
  bytes: number;
}

/**
 * What a near-cache on one node of a Redis Cluster adds: options for its two
 * connections (a cluster's node connections do not reconnect by themselves),
 * and where a routed read goes when this node no longer serves its key.
 */
export interface NearCacheNodeOptions {
  readonly connectionOptions: Partial<RedisOptions>;
  /**
   * A routed read was answered with a redirect (MOVED, ASK, TRYAGAIN,
   * CLUSTERDOWN) or lost with its connection closing: send it again through the
   * Cluster, which follows redirects. The command's own resolve and reject
   * are back in place when this is called.
   */
  readonly resend: (command: Command) => void;
}

/**
 * A reply that says another node serves the key now, or that this one cannot
 * answer yet; or the connection closed before the reply (the node failed):
 * the Cluster knows where to go next.
 */
const CLUSTER_REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b|^Connection is closed\.$/;

/** Where a connection landed: two connections of one cache must reach the same server. */
interface ServerIdentity {
  readonly runId: string | undefined;
  readonly role: string | undefined;
}

/**
 * A small in-process cache for reads of hot keys, kept correct by Redis'
 * server-assisted client-side caching in the RESP2 redirect mode: ioredis 6
 * speaks RESP3 but drops `invalidate` push frames (DataHandler.returnPush
 * ignores them), so a second connection opened with `protocol: 2` subscribes
 * to `__redis__:invalidate` and the data connection redirects its tracking
 * there (`CLIENT TRACKING ON REDIRECT <id> OPTIN`, `CLIENT CACHING YES` right
 * before each tracked read). Both are duplicates of the app's writer, never
 * instrumented: the cache's own traffic feeds neither the hot-key sketch nor
 * the app's metrics.
 *
 * What can be stale, and for how long: a cached reply is served until its
 * invalidation is delivered (about one round trip after the write), and
 * never longer than `ttlMs`, even if an invalidation is lost (a half-open
 * invalidation connection). Losing either connection, a FLUSHALL or a failed
 * CLIENT CACHING empties the cache, and nothing is cached again until
 * tracking is back on both connections on the same server.
 */
export class NearCache {
  private readonly data: Redis;
  private readonly invalidations: Redis;
  private readonly keys = new Map<string, KeyEntry>();
  private readonly flushes = new Map<NearCacheFlushReason, number>();
  private readonly sentinelManaged: boolean;
  private readonly backoff = exponentialBackoff(100, 2000);
  /** A failover makes every attempt fail the same way: one line per error a minute, plus a count. */
  private readonly failureLines = new LogThrottle(60_000, 1);
  private readonly sweeper: NodeJS.Timeout;
  private hits = 0;
  private misses = 0;
  private invalidated = 0;
  private entries = 0;
  private bytes = 0;
  private tracking = false;
  /** Bumped whenever tracking stops: replies to reads sent before are not cached. */
  private session = 0;
  /** Bumped on every close of the connection, so a set-up step that awaited across one gives up. */
  private dataEpoch = 0;
  private invalidationEpoch = 0;
  /** The invalidation connection's id and server while it is subscribed. */
  private redirect: { readonly id: string; readonly server: ServerIdentity } | undefined;
  private enabling = false;
  private enableAgain = false;
  private attempts = 0;
  private internalErrors = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly resend: ((command: Command) => void) | undefined;

  /**
   * `source`: the app's writer (master) ioredis client; the cache opens two
   * connections of its own from it with source.duplicate(...): a tracked data
   * connection and a RESP2 (`protocol: 2`) invalidation connection.
   */
  constructor(
    source: Redis,
    private readonly settings: NearCacheSettings,
    private readonly hot: HotKeyView,
    private readonly logger: Logger,
    node?: NearCacheNodeOptions,
  ) {
    this.resend = node?.resend;
    const overrides = node?.connectionOptions ?? {};
    const options = source.options;
    const sentinels = (options as { sentinels?: unknown[] }).sentinels;
    this.sentinelManaged = Array.isArray(sentinels) && sentinels.length > 0;
    const name = options.connectionName ?? 'redscope';
    // Same protocol and reply mapping as the app's connection: a cached raw reply converts
    // exactly as the app's own would. Nothing subscribes here, nothing to resubscribe. No key
    // prefix: the app's commands arrive with theirs already applied.
    this.data = source.duplicate({
      ...overrides,
      keyPrefix: '',
      lazyConnect: false,
      autoResubscribe: false,
      connectionName: `${name}-near-cache`,
    });
    // The subscription follows CLIENT ID on every (re)connect (subscribed, the connection
    // could not ask), so ioredis must neither resubscribe nor resend on its own.
    this.invalidations = source.duplicate({
      ...overrides,
      keyPrefix: '',
      protocol: 2,
      replyMapping: 'legacy',
      lazyConnect: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      connectionName: `${name}-near-cache-invalidations`,
    });
    for (const connection of [this.data, this.invalidations]) {
      // Failures show as tracking off; without a listener ioredis would print them.
      connection.on('error', () => undefined);
    }
    this.data.on('close', () => this.connectionLost('data'));
    this.invalidations.on('close', () => this.connectionLost('invalidations'));
    this.data.on('ready', () => this.requestEnable());
    this.invalidations.on('ready', () => this.requestEnable());
    this.invalidations.on('messageBuffer', (channel: Buffer, message: unknown) =>
      this.onInvalidation(channel, message),
    );
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, settings.ttlMs));
    this.sweeper.unref();
    this.requestEnable();
  }

  /**
   * A single (non-pipeline, non-MULTI) command about to be sent by the app on
   * any of its connections: on a hit, resolves the command from the cache
   * (command.resolve with the cached raw reply, so ioredis' reply conversion
   * runs as usual) and returns true; calls hot.servedLocally(key). Else false.
   */
  serve(command: Command): boolean {
    if (this.keys.size === 0) return false;
    const canonical = CACHEABLE.get(command.name);
    if (canonical === undefined) return false;
    const args = command.args;
    const key = args[0];
    if (typeof key !== 'string') return false;
    const entry = this.keys.get(key);
    if (entry === undefined) return false;
    if (command.inTransaction || (canonical === 'exists' && args.length !== 1)) return false;
    const signature = signatureOf(canonical, args);
    if (signature === undefined) return false;
    const reply = entry.replies.get(signature);
    if (reply === undefined || reply.pending) return false;
    if (performance.now() >= reply.expiresAt) {
      this.forget(entry, signature, reply);
      if (entry.replies.size === 0) this.keys.delete(key);
      return false;
    }
    if (!this.hot.isHot(key)) {
      this.drop(key, entry);
      return false;
    }
    this.hits += 1;
    this.hot.servedLocally(key);
    command.setReplyContext(reply.context);
    command.resolve(copyReply(reply.value));
    return true;
  }

  /**
   * A single command that was not served: when it is a cacheable read of a
   * hot key and tracking is on, sends `CLIENT CACHING YES` then the command on
   * the tracked data connection, back to back, fills the cache from the reply
   * unless an invalidation for the key arrived in between, and returns true.
   * Else false: the caller sends the command as usual.
   */
  route(command: Command): boolean {
    const canonical = CACHEABLE.get(command.name);
    if (canonical === undefined) return false;
    const args = command.args;
    const key = args[0];
    if (typeof key !== 'string' || command.inTransaction) return false;
    if (canonical === 'exists' && args.length !== 1) return false;
    if (!this.hot.isHot(key)) return false;
    this.misses += 1;
    if (!this.tracking || this.closed || this.data.status !== 'ready') return false;
    const signature = signatureOf(canonical, args);
    if (signature === undefined || LONE_SURROGATE.test(key)) return false;
    let entry = this.keys.get(key);
    if (entry === undefined) {
      entry = { replies: new Map(), cached: 0, bytes: 0 };
      this.keys.set(key, entry);
    } else {
      const previous = entry.replies.get(signature);
      if (previous !== undefined) this.forget(entry, signature, previous);
    }
    const placeholder: Pending = {
      pending: true,
      session: this.session,
      expiresAt: performance.now() + this.settings.ttlMs,
      tracked: false,
    };
    entry.replies.set(signature, placeholder);

    // Wrapped, not awaited: both replies can arrive in one chunk, and the read's must
    // find the CACHING answer already recorded (a promise would settle a microtask later).
    const caching = new Command('client', ['CACHING', 'YES']);
    const cachingResolve = caching.resolve;
    caching.resolve = (reply: unknown) => {
      placeholder.tracked = true;
      cachingResolve(reply);
    };
    const cachingReject = caching.reject;
    caching.reject = (error: Error) => {
      this.cachingFailed(placeholder.session, error);
      cachingReject(error);
    };
    caching.promise.catch(() => undefined);
    const { resolve, reject } = command;
    command.resolve = (reply: unknown) => {
      this.fill(key, signature, placeholder, reply);
      resolve(reply);
    };
    command.reject = (error: Error) => {
      this.abandon(key, signature, placeholder);
      const resend = this.resend;
      if (resend !== undefined && CLUSTER_REDIRECT.test(error.message)) {
        // The slot moved (or the node is gone) since the Cluster's map was read: the Cluster
        // sends it where the key is now, as it does for any command.
        command.resolve = resolve;
        command.reject = reject;
        resend(command);
        return;
      }
      reject(error);
    };
    this.data.sendCommand(caching);
    this.data.sendCommand(command);
    return true;
  }

  /** Whether `command` is a read the cache may answer (a write to a cached key must go through `written`). */
  static isCacheableRead(command: Command): boolean {
    return CACHEABLE.has(command.name);
  }

  /**
   * This process is about to change `key` (any command on it that is not a
   * cacheable read): its entries and any placeholder go now, before the write
   * is even sent, so a read after the write's reply can never be answered
   * from an entry older than it. Other processes learn of it from Redis.
   */
  written(key: string): void {
    const entry = this.keys.get(key);
    if (entry !== undefined) this.drop(key, entry);
  }

  /** Whether anything is cached or on its way (cheap: the hook asks on every command). */
  get empty(): boolean {
    return this.keys.size === 0;
  }

  stats(): NearCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      invalidations: this.invalidated,
      entries: this.entries,
      bytes: this.bytes,
      flushes: new Map(this.flushes),
      tracking: this.tracking,
    };
  }

  /** Closes both connections, empties the cache. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tracking = false;
    this.session += 1;
    clearInterval(this.sweeper);
    clearTimeout(this.retry);
    this.flush('closed');
    this.data.disconnect();
    this.invalidations.disconnect();
  }

  private fill(key: string, signature: string, placeholder: Pending, reply: unknown): void {
    try {
      const entry = this.keys.get(key);
      // Gone or replaced: an invalidation or a flush came first, and this reply may be older.
      if (entry === undefined || entry.replies.get(signature) !== placeholder) return;
      const bytes = sizeOf(reply);
      if (
        !placeholder.tracked ||
        placeholder.session !== this.session ||
        !this.tracking ||
        bytes === undefined ||
        performance.now() >= placeholder.expiresAt
      ) {
        this.abandon(key, signature, placeholder);
        return;
      }
      const size = bytes + 2 * (key.length + signature.length) + 64;
      if (size > this.settings.maxBytes) {
        this.abandon(key, signature, placeholder);
        return;
      }
      entry.replies.set(signature, {
        pending: false,
        value: copyReply(reply),
        expiresAt: placeholder.expiresAt,
        bytes: size,
        context: this.data.condition ?? this.data.options,
      });
      entry.cached += 1;
      entry.bytes += size;
      this.entries += 1;
      this.bytes += size;
      // Newest last: eviction takes keys from the front of the map.
      this.keys.delete(key);
      this.keys.set(key, entry);
      this.evict();
    } catch (error) {
      // A cache that cannot fill is a miss, never a failed command: the reply still goes out.
      this.abandon(key, signature, placeholder);
      this.internalErrors += 1;
      if (this.internalErrors <= 3) {
        this.detached(() =>
          this.logger.warn(
            { event: 'redscope.telemetry_error', err: errorFields(error) },
            'redscope near-cache failed to cache a reply; the command itself is unaffected',
          ),
        );
      }
    }
  }

  private abandon(key: string, signature: string, placeholder: Pending): void {
    const entry = this.keys.get(key);
    if (entry === undefined || entry.replies.get(signature) !== placeholder) return;
    entry.replies.delete(signature);
    if (entry.replies.size === 0) this.keys.delete(key);
  }

  private forget(entry: KeyEntry, signature: string, reply: Pending | Cached): void {
    entry.replies.delete(signature);
    if (reply.pending) return;
    entry.cached -= 1;
    entry.bytes -= reply.bytes;
    this.entries -= 1;
    this.bytes -= reply.bytes;
  }

  private drop(key: string, entry: KeyEntry): void {
    this.keys.delete(key);
    this.entries -= entry.cached;
    this.bytes -= entry.bytes;
  }

  private evict(): void {
    for (const [key, entry] of this.keys) {
      if (this.entries <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) return;
      this.drop(key, entry);
    }
  }

  /** Expired replies, stale placeholders and keys that cooled down. */
  private sweep(): void {
    const now = performance.now();
    for (const [key, entry] of this.keys) {
      if (!this.hot.isHot(key)) {
        this.drop(key, entry);
        continue;
      }
      for (const [signature, reply] of entry.replies) {
        if (now >= reply.expiresAt) this.forget(entry, signature, reply);
      }
      if (entry.replies.size === 0) this.keys.delete(key);
    }
  }

  private onInvalidation(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    if (Array.isArray(message)) {
      // The raw array: a key may contain a comma, which ioredis' 'message' event would join on.
      for (const raw of message) {
        this.invalidated += 1;
        const key = Buffer.isBuffer(raw) ? raw.toString() : String(raw);
        const entry = this.keys.get(key);
        if (entry !== undefined) this.drop(key, entry);
      }
    } else if (message === null) {
      // FLUSHALL / FLUSHDB: every key at once.
      this.flush('flushall');
    } else {
      // Not a shape Redis sends: trust nothing cached.
      this.flush('tracking_failed');
    }
  }

  private flush(reason: NearCacheFlushReason): void {
    const dropped = this.entries;
    // Losing a connection with nothing cached and tracking already off is no news.
    if (this.keys.size === 0 && !this.tracking && reason === 'connection_lost') return;
    this.keys.clear();
    this.entries = 0;
    this.bytes = 0;
    this.flushes.set(reason, (this.flushes.get(reason) ?? 0) + 1);
    this.detached(() =>
      this.logger.info(
        { event: 'redis.near_cache_flushed', reason, entries: dropped },
        'near-cache emptied',
      ),
    );
  }

  private connectionLost(which: 'data' | 'invalidations'): void {
    if (which === 'data') this.dataEpoch += 1;
    else {
      this.invalidationEpoch += 1;
      this.redirect = undefined;
    }
    if (this.closed) return;
    // Invalidations may have been lost with the connection: nothing cached can be trusted.
    this.flush('connection_lost');
    this.trackingOff('connection_lost');
  }

  private cachingFailed(session: number, error: Error): void {
    if (this.closed || session !== this.session || !this.tracking) return;
    // A lost connection is handled by its close; a reply error means this connection is not tracked.
    if (!(error instanceof ReplyError)) return;
    this.flush('tracking_failed');
    this.trackingOff('tracking_failed', error);
    this.requestEnable();
  }

  private trackingOff(reason: 'connection_lost' | 'tracking_failed', error?: unknown): void {
    this.session += 1;
    if (!this.tracking) return;
    this.tracking = false;
    this.detached(() =>
      this.logger.warn(
        {
          event: 'redis.near_cache_tracking_off',
          reason,
          ...(error !== undefined ? { err: errorFields(error) } : {}),
        },
        'near-cache tracking off: hot keys are read from Redis until it is back',
      ),
    );
  }

  /** One set-up at a time; a `ready` during one runs another after it. */
  private requestEnable(): void {
    if (this.closed || this.tracking) return;
    if (this.enabling) {
      this.enableAgain = true;
      return;
    }
    this.enabling = true;
    this.enable()
      .catch((error: unknown) => this.enableFailed(error))
      .finally(() => {
        this.enabling = false;
        if (this.enableAgain) {
          this.enableAgain = false;
          this.requestEnable();
        }
      });
  }

  /**
   * CLIENT ID and SUBSCRIBE on the invalidation connection (once per
   * connection), then CLIENT TRACKING on the data connection, once both are
   * known to be on the same server: after a failover one may reconnect to the
   * new master while the other still reaches the old one, and a client id
   * that happens to exist there would take the invalidations. Gives up
   * quietly when a connection closes meanwhile: its `ready` starts over.
   */
  private async enable(): Promise<void> {
    const { data, invalidations } = this;
    if (data.status !== 'ready' || invalidations.status !== 'ready') return;
    let redirect = this.redirect;
    if (redirect === undefined) {
      const epoch = this.invalidationEpoch;
      const [id, info] = await Promise.all([
        invalidations.call('CLIENT', 'ID') as Promise<number>,
        invalidations.info(),
      ]);
      if (epoch !== this.invalidationEpoch) return;
      await invalidations.subscribe(INVALIDATE_CHANNEL);
      if (epoch !== this.invalidationEpoch) return;
      redirect = { id: String(id), server: identityOf(info) };
      this.redirect = redirect;
    }
    const dataEpoch = this.dataEpoch;
    const invalidationEpoch = this.invalidationEpoch;
    const server = identityOf(await data.info());
    if (dataEpoch !== this.dataEpoch || invalidationEpoch !== this.invalidationEpoch) return;
    if (server.runId === undefined || server.runId !== redirect.server.runId) {
      // Under Sentinel, the connection left on a demoted master asks Sentinel again.
      if (this.sentinelManaged && server.role !== 'master') data.disconnect(true);
      else if (this.sentinelManaged && redirect.server.role !== 'master') {
        invalidations.disconnect(true);
      }
      throw new Error(
        'the near-cache connections reached two different Redis servers (a failover in progress?)',
      );
    }
    await data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', redirect.id, 'OPTIN');
    if (dataEpoch !== this.dataEpoch || invalidationEpoch !== this.invalidationEpoch) return;
    if (this.closed) return;
    this.tracking = true;
    this.attempts = 0;
    this.detached(() =>
      this.logger.info({ event: 'redis.near_cache_tracking_on' }, 'near-cache tracking on'),
    );
  }

  private enableFailed(error: unknown): void {
    if (this.closed) return;
    this.attempts += 1;
    const delay = this.backoff(this.attempts);
    const err = errorFields(error);
    const held = this.failureLines.take(`${err.code ?? ''}:${err.message}`);
    if (held !== undefined) {
      const attempt = this.attempts;
      this.detached(() =>
        this.logger.warn(
          {
            event: 'redis.near_cache_tracking_failed',
            err,
            attempt,
            delay_ms: delay,
            ...(held > 0 ? { suppressed: held } : {}),
          },
          'near-cache could not turn tracking on; retrying',
        ),
      );
    }
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.requestEnable(), delay);
    this.retry.unref();
  }

  /** Connection events belong to no request; a logger that throws must not break ioredis' events. */
  private detached(write: () => void): void {
    try {
      runDetached(write);
    } catch {
      // nothing sensible to do: the logger itself failed
    }
  }
}

/** The cache slot of one command within its key: the name, then each argument length-prefixed. */
function signatureOf(canonical: string, args: readonly unknown[]): string | undefined {
  if (args.length === 1) return canonical;
  let signature = canonical;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg !== 'string') return undefined;
    signature += ` ${arg.length}:${arg}`;
  }
  return signature;
}

function identityOf(info: string): ServerIdentity {
  return {
    runId: /^run_id:(\S+)/m.exec(info)?.[1],
    role: /^role:(\S+)/m.exec(info)?.[1],
  };
}

/** Estimated heap bytes of a raw reply; undefined for a shape that is not cached (an error). */
export function sizeOf(value: unknown): number | undefined {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return 8;
  if (typeof value === 'bigint') return 16;
  if (typeof value === 'string') return 16 + 2 * value.length;
  if (Buffer.isBuffer(value)) return 48 + value.length;
  if (Array.isArray(value)) return sizeOfAll(value, 16);
  if (value instanceof Map) return sizeOfAll([...value.keys(), ...value.values()], 64);
  if (isPlainObject(value)) return sizeOfAll([...Object.keys(value), ...Object.values(value)], 64);
  return undefined;
}

function sizeOfAll(values: readonly unknown[], overhead: number): number | undefined {
  let total = overhead + 8 * values.length;
  for (const value of values) {
    const size = sizeOf(value);
    if (size === undefined) return undefined;
    total += size;
  }
  return total;
}

/**
 * A deep copy of a raw reply: the cache keeps its own, and every hit gets a
 * fresh one, so an app that edits a Buffer it was handed changes nobody else's.
 */
export function copyReply(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(copyReply);
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [copyReply(k), copyReply(v)]));
  }
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    // defineProperty: a field named `__proto__` stays a field.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(copy, k, {
        value: copyReply(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
