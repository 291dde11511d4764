import type { Cluster, Command, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../common/backoff.js';
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
 * that serves the key's slot in the Cluster's map now. The caches follow the
 * Cluster's node connections: one is made when ioredis adds a master
 * (`+node`), closed when ioredis drops the node (`-node`, after a failover
 * or when the node leaves the slot map). A read routed to a node that no
 * longer serves the key (MOVED, ASK) is sent again through the Cluster; an
 * entry of a slot that moved away was dropped by the invalidation the move
 * itself causes (MIGRATE deletes the keys on the old node).
 */
export class ClusterNearCache implements NearCacheLike {
  private readonly nodes = new Map<string, NearCache>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly settings: NearCacheSettings,
    private readonly hot: HotKeyView,
    private readonly logger: Logger,
  ) {
    const added = (redis: Redis) => this.added(redis);
    const removed = (redis: Redis) => this.removed(redis);
    cluster.on('+node', added);
    cluster.on('-node', removed);
    this.unsubscribe = () => {
      cluster.off('+node', added);
      cluster.off('-node', removed);
    };
    for (const redis of cluster.nodes('master')) this.added(redis);
  }

  serve(command: Command): boolean {
    return this.cacheOf(command)?.serve(command) === true;
  }

  route(command: Command): boolean {
    return this.cacheOf(command)?.route(command) === true;
  }

  written(key: string): void {
    // The key's own node is enough in steady state; every node covers a slot that moved.
    for (const cache of this.nodes.values()) cache.written(key);
  }

  get empty(): boolean {
    for (const cache of this.nodes.values()) if (!cache.empty) return false;
    return true;
  }

  /** Summed over the nodes; `tracking` when every master's cache is tracking. */
  stats(): NearCacheStats {
    const flushes = new Map<NearCacheFlushReason, number>();
    let hits = 0;
    let misses = 0;
    let invalidations = 0;
    let entries = 0;
    let bytes = 0;
    let tracking = this.nodes.size > 0;
    for (const cache of this.nodes.values()) {
      const node = cache.stats();
      hits += node.hits;
      misses += node.misses;
      invalidations += node.invalidations;
      entries += node.entries;
      bytes += node.bytes;
      tracking &&= node.tracking;
      for (const [reason, count] of node.flushes) {
        flushes.set(reason, (flushes.get(reason) ?? 0) + count);
      }
    }
    return { hits, misses, invalidations, entries, bytes, flushes, tracking };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const cache of this.nodes.values()) cache.close();
    this.nodes.clear();
  }

  /** The cache of the node serving the command's slot in the Cluster's map, if it has one. */
  private cacheOf(command: Command): NearCache | undefined {
    if (this.nodes.size === 0) return undefined;
    const slot = command.getSlot();
    if (slot === null || slot === undefined) return undefined;
    const owner = this.cluster.slots[slot]?.[0];
    return owner === undefined ? undefined : this.nodes.get(owner);
  }

  private added(redis: Redis): void {
    if (this.closed || redis.options.readOnly === true) return;
    const key = `${redis.options.host}:${redis.options.port}`;
    if (this.nodes.has(key)) return;
    const cluster = this.cluster;
    this.nodes.set(
      key,
      new NearCache(redis, this.settings, this.hot, this.logger, {
        connectionOptions: { retryStrategy: NODE_RECONNECT, readOnly: false },
        resend: (command) => void cluster.sendCommand(command),
      }),
    );
  }

  private removed(redis: Redis): void {
    const key = `${redis.options.host}:${redis.options.port}`;
    const cache = this.nodes.get(key);
    if (cache === undefined) return;
    this.nodes.delete(key);
    cache.close();
  }
}
