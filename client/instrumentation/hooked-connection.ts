import type { Attributes } from '@opentelemetry/api';
import type { Cluster, Redis } from 'ioredis';
import { type PeerSocket, peerOf } from '../connection/dialed-address.js';
import type { NodeStats } from './cluster-stats.js';
import type { CommandEntry } from './command-stats.js';
import type { Endpoint } from './lifecycle.js';
import type { ConnectionRole } from './metrics.js';

/**
 * `redis`: a connection the app made (standalone or Sentinel); `cluster`: an
 * ioredis Cluster, which routes each command to a node; `node`: one of a
 * Cluster's node connections (made and dropped by ioredis as the slot map changes).
 */
export type ConnectionKind = 'redis' | 'cluster' | 'node';

/**
 * What the hook knows about one instrumented ioredis connection: its role,
 * where it points (the node Sentinel named, for Sentinel clients), its db index,
 * its reconnects, and the span attributes of its commands, cached per
 * command so no span builds its own.
 */
export class HookedConnection {
  reconnects = 0;
  attributes: Attributes = {};
  endpoint: Endpoint | undefined;
  /** The db index after a SELECT (ioredis emits `select`). */
  selected: number | undefined;
  /**
   * A MULTI or WATCH sent as single commands (`multi({ pipeline: false })`) is
   * open: a read in it must reach Redis (it answers QUEUED, or must see the
   * watched value), so the near-cache stays out.
   */
  private transaction = false;
  private readonly byOperation = new Map<CommandEntry, Attributes>();
  private readonly byBatch = new Map<string, Attributes>();

  constructor(
    readonly redis: Redis | Cluster,
    readonly role: ConnectionRole,
    readonly kind: ConnectionKind = 'redis',
    /** A Cluster node's counts (`node` connections only). */
    readonly nodeStats: NodeStats | undefined = undefined,
  ) {
    this.refresh();
  }

  /**
   * Re-reads where the connection points; with Sentinel, `options.host` is not the node, the socket is.
   * A Cluster points nowhere itself: its commands take their node's attributes once routed.
   */
  refresh(): void {
    if (this.kind === 'cluster') {
      this.endpoint = undefined;
      this.attributes = { 'db.system.name': 'redis', 'db.namespace': '0' };
      this.byOperation.clear();
      this.byBatch.clear();
      return;
    }
    const { options, stream } = this.redis as Redis;
    const viaSentinel = (options.sentinels?.length ?? 0) > 0;
    // The node as Sentinel named it (a DNS name with `announce-hostnames yes`), else its IP.
    const peer = peerOf(stream as PeerSocket | undefined);
    this.endpoint = viaSentinel
      ? peer === undefined
        ? undefined
        : { address: peer.host, port: peer.port }
      : { address: options.host ?? 'localhost', port: options.port ?? 6379 };
    const attributes: Attributes = {
      'db.system.name': 'redis',
      'db.namespace': String(this.database()),
    };
    if (this.endpoint) {
      attributes['server.address'] = this.endpoint.address;
      if (this.endpoint.port !== undefined) attributes['server.port'] = this.endpoint.port;
    }
    // network.peer.* would repeat server.*: direct connections name the node they dial, and
    // Sentinel connections take server.* from the socket. Each attribute costs ~0.4 µs a span.
    this.attributes = attributes;
    this.byOperation.clear();
    this.byBatch.clear();
  }

  /** The creation-time attributes of a span for `entry` on this connection (cached: no per-span object). */
  attributesFor(entry: CommandEntry): Attributes {
    let attributes = this.byOperation.get(entry);
    if (attributes === undefined) {
      // Frozen: every span of this command shares it, samplers and processors included.
      attributes = Object.freeze({ ...this.attributes, 'db.operation.name': entry.operation });
      this.byOperation.set(entry, attributes);
    }
    return attributes;
  }

  /** The same for a pipeline or MULTI span (`PIPELINE` or `MULTI`). */
  batchAttributesFor(name: string): Attributes {
    let attributes = this.byBatch.get(name);
    if (attributes === undefined) {
      attributes = Object.freeze({ ...this.attributes, 'db.operation.name': name });
      this.byBatch.set(name, attributes);
    }
    return attributes;
  }

  /**
   * Follows MULTI/WATCH ... EXEC/DISCARD/UNWATCH, single or in a pipeline (a
   * WATCH sent alone is often ended by the EXEC of a `multi()` pipeline); a
   * reconnect ends them too.
   */
  noteCommand(name: string): void {
    if (name === 'multi' || name === 'watch') this.transaction = true;
    else if (name === 'exec' || name === 'discard' || name === 'unwatch') this.transaction = false;
  }

  /** A reconnect drops any open transaction and watch on the server. */
  reconnected(): void {
    this.reconnects += 1;
    this.transaction = false;
  }

  /** Whether the near-cache may answer this connection's reads: no open transaction, and the db it caches. */
  get nearCacheable(): boolean {
    return !this.transaction && this.database() === this.configuredDatabase();
  }

  private database(): number {
    return this.selected ?? this.configuredDatabase();
  }

  /** A Cluster has db 0 only. */
  private configuredDatabase(): number {
    return this.kind === 'cluster' ? 0 : ((this.redis as Redis).options.db ?? 0);
  }
}

/**
 * Puts `hooked` in place of `target.sendCommand` as an own property of this
 * instance only (a client elsewhere in the process pays nothing); the returned
 * function puts back exactly what was there.
 */
export function replaceSendCommand<T extends { sendCommand: unknown }>(
  target: T,
  hooked: T['sendCommand'],
): () => void {
  const own = Object.hasOwn(target, 'sendCommand');
  const previous = target.sendCommand;
  target.sendCommand = hooked;
  return () => {
    if (own) target.sendCommand = previous;
    else delete (target as { sendCommand?: unknown }).sendCommand;
  };
}
