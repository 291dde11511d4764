import type { Socket } from 'node:net';
import { Cluster } from 'ioredis';
import { DurableWriteError } from '../errors.js';
import { Instrumentation } from '../instrumentation/instrumentation.js';
import { neverSendSettled, quit, warnInsecureTls } from './client-lifecycle.js';
import { writeDurablyOnCluster } from './cluster-durable-write.js';
import { ClusterHealth, watchReaderReady, whenClusterReady } from './cluster-health.js';
import type { ResolvedCluster } from './config.js';
import type { ClientOptions, RedisClients } from './create-redis-clients.js';
import { dropSocket } from './drop-socket.js';
import { DurabilityStats } from './durability-stats.js';
import { clusterOptions } from './ioredis-options.js';
import { createReadClient } from './read-client.js';

/**
 * createRedisClients for a Redis Cluster: the writer is an ioredis Cluster
 * that sends every command to the master of its key's slot; the reader a
 * second Cluster whose reads go to a replica of that shard (`scaleReads`),
 * or the writer itself with `scaleReads: 'master'`. Both are instrumented
 * like the connections of the other modes.
 */
export function createClusterClients(
  resolved: ResolvedCluster,
  options: ClientOptions,
  insecure: readonly string[],
): RedisClients<Cluster> {
  const writerSetup = clusterOptions(resolved, 'writer');
  const writer = new Cluster(writerSetup.nodes, writerSetup.options);
  neverSendSettled(writer);
  // Before the first slot refresh (it starts on a later tick): every seed's real error is seen.
  const healthOf = (cluster: Cluster, role: 'writer' | 'reader') => {
    const health = new ClusterHealth(
      resolved.nodes,
      resolved.tls !== undefined,
      resolved.connectTimeoutMs,
      role,
    );
    health.watch(cluster);
    return health;
  };
  const health = healthOf(writer, 'writer');
  const readerSetup =
    resolved.scaleReads === 'master' ? undefined : clusterOptions(resolved, 'reader');
  const replica = readerSetup ? new Cluster(readerSetup.nodes, readerSetup.options) : undefined;
  const readerHealth = replica ? healthOf(replica, 'reader') : undefined;
  // ioredis prints 'error' events nobody listens to; failures reach callers through their
  // commands, and ready() names the node (ClusterHealth).
  writer.on('error', () => undefined);
  replica?.on('error', () => undefined);
  const durability = new DurabilityStats();
  let instrumentation: Instrumentation;
  try {
    instrumentation = new Instrumentation(
      { writer, ...(replica ? { reader: replica } : {}) },
      options,
      {
        durability,
        onWriterTimeout: (sentOn) => {
          // Only a socket still held by one of the writer's node connections (see the Sentinel case).
          if (sentOn !== undefined && writer.nodes('all').some((node) => node.stream === sentOn)) {
            dropSocket(sentOn as Socket);
          }
        },
      },
    );
  } catch (error) {
    writer.disconnect();
    replica?.disconnect();
    throw error;
  }
  const { logger } = instrumentation;
  warnInsecureTls(logger, insecure);
  health.logTo(logger);
  readerHealth?.logTo(logger);
  const reader = createReadClient(replica, writer, resolved.readRetryWindowMs);
  let closing: Promise<void> | undefined;
  /** The first ready() starts watching the reader; it never waits for it (see watchReaderReady). */
  let readerWatched = false;
  return {
    writer,
    reader,
    mode: 'cluster',
    writeDurably: async (write, durableOptions) => {
      try {
        return await writeDurablyOnCluster(writer, write, durableOptions ?? {});
      } catch (error) {
        if (error instanceof DurableWriteError) durability.rejected(error.reason);
        throw error;
      }
    },
    hotKeys: (limit) => instrumentation.hotKeys(limit),
    warm: (warmOptions) => instrumentation.warm(warmOptions),
    ready: (timeoutMs = resolved.connectTimeoutMs * 5) => {
      if (replica !== undefined && readerHealth !== undefined && !readerWatched) {
        readerWatched = true;
        void watchReaderReady(
          replica,
          readerHealth,
          timeoutMs,
          logger,
          () => closing !== undefined,
        );
      }
      return whenClusterReady(writer, health, timeoutMs);
    },
    close: () => {
      // Detached first: the QUIT that close() sends is the client's own, not app traffic.
      instrumentation.detach();
      closing ??= Promise.all([quit(writer), replica ? quit(replica) : undefined]).then(
        () => undefined,
      );
      return closing;
    },
  };
}
