import type { Socket } from 'node:net';
import type { ChainableCommander, Cluster } from 'ioredis';
import { Redis } from 'ioredis';
import { ConfigError, DurableWriteError } from '../errors.js';
import type { HotKeySnapshot } from '../hotkeys/hot-keys.js';
import { Instrumentation, type InstrumentOptions } from '../instrumentation/instrumentation.js';
import type { WarmingRun, WarmOptions } from '../warming/types.js';
import { insecureTlsOptions, neverSendSettled, quit, warnInsecureTls } from './client-lifecycle.js';
import { createClusterClients } from './cluster-clients.js';
import {
  type ClusterClientsConfig,
  type RedisClientsConfig,
  type ResolvedClientsConfig,
  resolveClientsConfig,
} from './config.js';
import { ConnectHealth, RedisConnectError, whenReady } from './connect-errors.js';
import { peerOf } from './dialed-address.js';
import { dropSocket } from './drop-socket.js';
import { DurabilityStats } from './durability-stats.js';
import {
  type DurableWriteOptions,
  type DurableWriteResult,
  writeDurably,
} from './durable-write.js';
import { FailoverFence } from './failover-fence.js';
import { readerOptions, writerOptions } from './ioredis-options.js';
import { createReadClient, type ReadClient } from './read-client.js';
import { logFence, watchSentinels } from './sentinel-watch.js';
import { explainUnansweredDns } from './unanswered-dns.js';

/**
 * What `createRedisClients` records, and where: metrics on the app's
 * registry, lifecycle logs, command spans. Every option is optional; the
 * connections are instrumented either way.
 */
export type ClientOptions = InstrumentOptions;

/**
 * The connections an app uses, made and instrumented from one config by
 * `createRedisClients`. `W` is what `writer` is: an ioredis `Redis`, or for a
 * cluster config an ioredis `Cluster` (it routes each command to the master
 * of its key's slot and follows MOVED/ASK redirects).
 */
export interface RedisClients<W extends Redis | Cluster = Redis> {
  /** The master: every write, and reads that must see the latest write. */
  readonly writer: W;
  /** Reads on a replica, retried on the master when no replica answers; a write here is a compile error. */
  readonly reader: ReadClient<W>;
  /** `standalone` (one Redis from a URL), `sentinel` or `cluster`. */
  readonly mode: ResolvedClientsConfig['mode'];
  /**
   * Write, then wait for `replicas` replicas to acknowledge it (see `writeDurably`).
   * On a cluster the commands run as one MULTI/EXEC on the master of their
   * keys' slot, with WAIT there: every key must hash to one slot (a hash
   * tag), else ConfigError before anything is sent (cluster-durable-write.ts
   * says what protects such a write when the master dies). There `write` may
   * run more than once (the slot moved before anything was written), so it
   * must only queue commands.
   *
   * ```ts
   * await clients.writeDurably((tx) => tx.set('k', 'v'), { replicas: 1, timeoutMs: 500 });
   * await cluster.writeDurably((tx) => tx.set('{user:42}:a', '1').set('{user:42}:b', '2'));
   * ```
   */
  writeDurably(
    write: (pipeline: ChainableCommander) => unknown,
    options?: DurableWriteOptions,
  ): Promise<DurableWriteResult>;
  /**
   * Resolves when the master connection is up (a cluster: the slot map is
   * read and the cluster reports ok). Rejects with RedisConnectError as soon
   * as an error retrying cannot fix is seen (a refused password, a failed
   * TLS handshake or a TLS/plain mismatch, a host that does not resolve or
   * that no DNS server answers for, a master name no Sentinel knows, a seed
   * that is not a cluster node: `reason` says which, the message names the
   * node), else after `timeoutMs` naming the last error, for a cluster every
   * seed tried and its error (default 5 × connectTimeoutMs); `dns` then too
   * when that error was a DNS failure.
   */
  ready(timeoutMs?: number): Promise<void>;
  /**
   * This process's hottest keys (names redacted), hottest first, at most
   * `limit` (default 10); undefined unless the `hotKeys` option is on.
   *
   * ```ts
   * app.get('/healthz', (_req, res) => res.json({ hotKeys: clients.hotKeys()?.keys ?? [] }));
   * ```
   */
  hotKeys(limit?: number): HotKeySnapshot | undefined;
  /**
   * Warms a namespace from a loader or a warm Redis in the background and
   * returns at once: rank order (the usage record's top keys unless `keys`
   * are given), paced by a token bucket that backs off when the app's own
   * latency or errors rise, every write conditional (a value live traffic
   * wrote is never overwritten). Bad options throw ConfigError; after that,
   * failures are outcomes of `done`, never exceptions. See docs/warming.md.
   *
   * ```ts
   * const run = clients.warm({
   *   namespace: 'app:product:',
   *   source: { kind: 'loader', load: (keys) => db.productsByKey(keys), ttlSeconds: 600 },
   * });
   * run.done.then((result) => logger.info({ result }, 'warm'));
   * ```
   */
  warm(options: WarmOptions): WarmingRun;
  /**
   * Flushes the spans of completed commands, removes the instrumentation and
   * closes every connection (QUIT, then drop after a short grace). Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * The one way in: creates the writer and reader connections from one config,
 * a standalone Redis from `url`, a Sentinel-managed master (`sentinels` +
 * `masterName`) with reads on a replica, or a Redis Cluster (`cluster`, see
 * the second example) with reads on the replicas of each shard, already instrumented with the
 * `options` (metrics on your registry, logs, spans). The config is checked
 * first and a bad one throws ConfigError naming the option, before any
 * connection. Connections then start in the background: commands queue
 * until they are up, and `ready()` waits for the master. TLS verification is
 * on unless `tls.insecureSkipVerify` is set, which logs a warning.
 *
 * ```ts
 * const clients = createRedisClients(
 *   {
 *     sentinels: ['10.0.0.11:26379', '10.0.0.12:26379', '10.0.0.13:26379'],
 *     masterName: 'redscope',
 *     tls: { caFile: '/etc/redscope/ca.crt', certFile: '/etc/redscope/app.crt', keyFile: '/etc/redscope/app.key' },
 *     username: 'app',
 *     password: process.env.REDIS_PASSWORD,
 *   },
 *   { registry, logger: createLogger() },
 * );
 * await clients.ready();
 * await clients.writer.set('greeting', 'hello');
 * const value = await clients.reader.get('greeting');
 * await clients.close();
 *
 * // A Redis Cluster: `writer` is an ioredis Cluster, reads go to each shard's replicas.
 * const cluster = createRedisClients(
 *   {
 *     cluster: { nodes: ['redis-0.internal:6379', 'redis-1.internal:6379', 'redis-2.internal:6379'] },
 *     tls: { caFile: '/etc/redscope/ca.crt', certFile: '/etc/redscope/app.crt', keyFile: '/etc/redscope/app.key' },
 *     username: 'app',
 *     password: process.env.REDIS_PASSWORD,
 *   },
 *   { registry, logger: createLogger() },
 * );
 * await cluster.ready();
 * ```
 */
export function createRedisClients(
  config: ClusterClientsConfig,
  options?: ClientOptions,
): RedisClients<Cluster>;
export function createRedisClients(
  config: RedisClientsConfig,
  options?: ClientOptions,
): RedisClients<Redis>;
export function createRedisClients(
  config: RedisClientsConfig | ClusterClientsConfig,
  options: ClientOptions = {},
): RedisClients<Redis> | RedisClients<Cluster> {
  const resolved = resolveClientsConfig(config);
  const insecure = insecureTlsOptions(resolved);
  if (insecure.length > 0 && options.logger === undefined) {
    throw new ConfigError(
      'logger',
      `${insecure.join(' and ')} needs a logger so the warning it causes is recorded`,
    );
  }
  if (resolved.mode === 'cluster') return createClusterClients(resolved, options, insecure);
  const writer = new Redis(writerOptions(resolved));
  neverSendSettled(writer);
  // Before the first socket exists: a DNS server that does not answer is named as such.
  explainUnansweredDns(writer);
  const replicaOptions = readerOptions(resolved);
  const replica = replicaOptions ? new Redis(replicaOptions) : undefined;
  if (replica) explainUnansweredDns(replica);
  const durability = new DurabilityStats();
  // Built before the instrumentation, whose metrics show it.
  const fence =
    resolved.mode === 'sentinel'
      ? new FailoverFence(resolved.masterName, Math.floor(resolved.sentinels.length / 2) + 1)
      : undefined;
  durability.fence = fence;
  let instrumentation: Instrumentation;
  try {
    instrumentation = new Instrumentation(
      { writer, ...(replica ? { reader: replica } : {}) },
      options,
      {
        durability,
        onWriterTimeout: (sentOn) => {
          // Only the socket the command went out on, if it is still the writer's.
          if (sentOn === writer.stream) dropSocket(sentOn as Socket);
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
  const health = new ConnectHealth(resolved.mode === 'sentinel' ? resolved.sentinels : []);
  const node =
    resolved.mode === 'standalone'
      ? `${resolved.address.host}:${resolved.address.port}`
      : `master of "${resolved.masterName}"`;
  // ioredis prints unhandled 'error' events to the console; failures reach callers through
  // their commands, the lifecycle log names each one, and ready() fails fast on a final one.
  writer.on('error', (error: Error) => {
    if (/^All sentinels are unreachable/.test(error.message) && resolved.mode === 'sentinel') {
      health.lookupRoundFailed(resolved.masterName, error);
    } else {
      health.dataNodeError(error, node);
    }
  });
  writer.on('sentinelError', (error: Error) => health.lookupFailed(error));
  writer.on('ready', () => health.connected());
  replica?.on('error', () => undefined);
  const reader = createReadClient(replica, writer, resolved.readRetryWindowMs);
  if (fence !== undefined) fence.onChange = (state) => logFence(logger, state);
  const sentinels =
    resolved.mode === 'sentinel' && fence !== undefined
      ? watchSentinels({ config: resolved, writer, replica, logger, health, fence })
      : undefined;
  if (fence !== undefined) {
    writer.on('ready', () => {
      // In the Sentinels' terms (a name when they announce names), as the fence compares them.
      const peer = peerOf(writer.stream as Socket | undefined);
      if (peer !== undefined) fence.writerOn(peer);
    });
  }
  let closing: Promise<void> | undefined;
  return {
    writer,
    reader,
    mode: resolved.mode,
    writeDurably: async (write, options) => {
      try {
        return await writeDurably(writer, write, options, fence);
      } catch (error) {
        if (error instanceof DurableWriteError) durability.rejected(error.reason);
        throw error;
      }
    },
    hotKeys: (limit) => instrumentation.hotKeys(limit),
    warm: (warmOptions) => instrumentation.warm(warmOptions),
    ready: async (timeoutMs = resolved.connectTimeoutMs * 5) => {
      const deadline = performance.now() + timeoutMs;
      await whenReady(writer, health, timeoutMs, resolved.tls !== undefined);
      // Durable writes need a Sentinel heard: ready means they can be confirmed.
      if (
        fence !== undefined &&
        !(await fence.whenHeard(Math.max(0, deadline - performance.now())))
      ) {
        throw new RedisConnectError(
          'timeout',
          `the master is connected, but no Sentinel subscription came up within ${timeoutMs} ms; durable writes are refused until one does${health.last ? ` (last error: ${health.last.message})` : ''}`,
        );
      }
    },
    close: () => {
      sentinels?.close();
      // Detached first: the QUIT that close() sends is the client's own, not app traffic.
      instrumentation.detach();
      closing ??= Promise.all([quit(writer), replica ? quit(replica) : undefined]).then(
        () => undefined,
      );
      return closing;
    },
  };
}
