import type { Cluster, Command, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../common/backoff.js';
import { nodeKey, slotMasterKey } from '../common/cluster-routing.js';
import {
  type HotKeyView,
  NearCache,
  type NearCacheFlushReason,
  type NearCacheSettings,
  type NearCacheStats,
} from './near-cache.js';

/** What the hot-key tracker asks of a near-cache, on one Redis or on a cluster. */
export type NearCacheLike = Pick<
  NearCache,
  'serve' | 'route' | 'written' | 'empty' | 'stats' | 'close'
>;

/**
 * A node connection of a Cluster redials nothing (ioredis drops it and
 * re-reads the slot map); the near-cache's own connections to the node do,
 * with the client's usual backoff, until the node leaves the slot map.
 */
const NODE_RECONNECT = exponentialBackoff(100, 2000);

/**
 * The near-cache on a Redis Cluster: one NearCache per master node, each
 * with its own tracked data connection and invalidation connection to that
 * node (CLIENT TRACKING is per connection, and a node only reports the keys
 * it serves). A read is served by, or routed through, the cache of the node
 * that serves the key's slot in the Cluster's map now.
 *
 * The caches follow the Cluster's masters as its slot map names them: they
 * are reconciled with `cluster.nodes('master')` at every slot refresh (the
 * Cluster's `refresh`, every few seconds and after a redirect), when it is
 * ready, and when ioredis drops a node connection (`-node`). Not on `+node`:
 * before the first slot map every seed counts as a master, replicas
 * included, and a failover promotes a replica by flipping its connection's
 * role, with no `+node` at all (ConnectionPool.findOrCreate). Caches are
 * keyed by the node connection, not its address: ioredis may replace the
 * connection of one address (ConnectionPool.recreate).
 *
 * A read routed to a node that no longer serves the key (MOVED, ASK) is sent
 * again through the Cluster; an entry of a slot that moved away was dropped
 * by the invalidation the move itself causes (MIGRATE deletes the keys on the
 * old node).
 */
export class ClusterNearCache implements NearCacheLike {
  private readonly caches = new Map<Redis, NearCache>();
  /** The same caches by pool key (`host:port`): what the slot map names. */
  private byKey = new Map<string, NearCache>();
  /** The counts of caches closed since: the counters stay monotonic as masters come and go. */
  private readonly retired = {
    hits: 0,
    misses: 0,
    invalidations: 0,
    flushes: new Map<NearCacheFlushReason, number>(),
  };
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly settings: NearCacheSettings,
    private readonly hot: HotKeyView,
    private readonly logger: Logger,
  ) {
    const reconcile = () => this.reconcile();
    cluster.on('refresh', reconcile);
    cluster.on('ready', reconcile);
    cluster.on('-node', reconcile);
    this.unsubscribe = () => {
      cluster.off('refresh', reconcile);
      cluster.off('ready', reconcile);
      cluster.off('-node', reconcile);
    };
    // Until then the pool holds the seeds, each taken for a master.
    if (cluster.status === 'ready') this.reconcile();
  }

  serve(command: Command): boolean {
    return this.cacheOf(command)?.serve(command) === true;
  }

  route(command: Command): boolean {
    return this.cacheOf(command)?.route(command) === true;
  }

  written(key: string): void {
    // The key's own node is enough in steady state; every node covers a slot that moved.
    for (const cache of this.caches.values()) cache.written(key);
  }

  get empty(): boolean {
    for (const cache of this.caches.values()) if (!cache.empty) return false;
    return true;
  }

  /**
   * Summed over the masters' caches, plus the counts of the caches closed
   * before (their entries are gone); `tracking` when every master's cache is
   * tracking.
   */
  stats(): NearCacheStats {
    const { retired } = this;
    const flushes = new Map(retired.flushes);
    let hits = retired.hits;
    let misses = retired.misses;
    let invalidations = retired.invalidations;
    let entries = 0;
    let bytes = 0;
    let tracking = this.caches.size > 0;
    for (const cache of this.caches.values()) {
      const node = cache.stats();
      hits += node.hits;
      misses += node.misses;
      invalidations += node.invalidations;
      entries += node.entries;
      bytes += node.bytes;
      tracking &&= node.tracking;
      addFlushes(flushes, node.flushes);
    }
    return { hits, misses, invalidations, entries, bytes, flushes, tracking };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const redis of [...this.caches.keys()]) this.retire(redis);
    this.byKey.clear();
  }

  /** The cache of the node serving the command's slot in the Cluster's map, if it has one. */
  private cacheOf(command: Command): NearCache | undefined {
    if (this.caches.size === 0) return undefined;
    const slot = command.getSlot();
    if (slot === null || slot === undefined) return undefined;
    const owner = slotMasterKey(this.cluster, slot);
    return owner === undefined ? undefined : this.byKey.get(owner);
  }

  /** A cache for every master connection of the Cluster now, and none for anything else. */
  private reconcile(): void {
    if (this.closed) return;
    const masters = new Set(this.cluster.nodes('master'));
    for (const redis of [...this.caches.keys()]) {
      if (!masters.has(redis) || redis.status === 'end') this.retire(redis);
    }
    const cluster = this.cluster;
    for (const redis of masters) {
      if (this.caches.has(redis) || redis.status === 'end') continue;
      this.caches.set(
        redis,
        new NearCache(redis, this.settings, this.hot, this.logger, {
          connectionOptions: { retryStrategy: NODE_RECONNECT, readOnly: false },
          resend: (command) => void cluster.sendCommand(command),
        }),
      );
    }
    this.byKey = new Map([...this.caches].map(([redis, cache]) => [nodeKey(redis), cache]));
  }

  /** Closes the cache of `redis` and keeps its counts. */
  private retire(redis: Redis): void {
    const cache = this.caches.get(redis);
    if (cache === undefined) return;
    this.caches.delete(redis);
    cache.close();
    const last = cache.stats();
    this.retired.hits += last.hits;
    this.retired.misses += last.misses;
    this.retired.invalidations += last.invalidations;
    addFlushes(this.retired.flushes, last.flushes);
  }
}

function addFlushes(
  into: Map<NearCacheFlushReason, number>,
  from: ReadonlyMap<NearCacheFlushReason, number>,
): void {
  for (const [reason, count] of from) into.set(reason, (into.get(reason) ?? 0) + count);
}
