import type { Socket } from 'node:net';
import type { ChainableCommander } from 'ioredis';
import { Redis } from 'ioredis';
import { isTlsError } from '../common/tls-errors.js';
import { ConfigError } from '../errors.js';
import { Instrumentation, type InstrumentOptions } from '../instrumentation/instrumentation.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';
import {
  type Address,
  type RedisClientsConfig,
  type ResolvedClientsConfig,
  resolveClientsConfig,
} from './config.js';
import { ConnectHealth, whenReady } from './connect-errors.js';
import {
  type DurableWriteOptions,
  type DurableWriteResult,
  writeDurably,
} from './durable-write.js';
import { FailoverWatcher, isConnectedTo } from './failover-watcher.js';
import { readerOptions, writerOptions } from './ioredis-options.js';
import { createReadClient, type ReadClient } from './read-client.js';

/**
 * What `createRedisClients` records, and where: metrics on the app's
 * registry, lifecycle logs, command spans. Every option is optional; the
 * connections are instrumented either way.
 */
export type ClientOptions = InstrumentOptions;

/** The connections an app uses, made and instrumented from one config by `createRedisClients`. */
export interface RedisClients {
  /** The master: every write, and reads that must see the latest write. */
  readonly writer: Redis;
  /** Reads on a replica, retried on the master when no replica answers; a write here is a compile error. */
  readonly reader: ReadClient;
  /** `standalone` (one Redis from a URL) or `sentinel`. */
  readonly mode: ResolvedClientsConfig['mode'];
  /**
   * Write, then wait for `replicas` replicas to acknowledge it (see `writeDurably`).
   *
   * ```ts
   * await clients.writeDurably((tx) => tx.set('k', 'v'), { replicas: 1, timeoutMs: 500 });
   * ```
   */
  writeDurably(
    write: (pipeline: ChainableCommander) => unknown,
    options?: DurableWriteOptions,
  ): Promise<DurableWriteResult>;
  /**
   * Resolves when the master connection is up. Rejects with RedisConnectError
   * as soon as an error retrying cannot fix is seen (a refused password, a
   * failed TLS handshake, a host that does not resolve, a master name no
   * Sentinel knows: `reason` says which), else after `timeoutMs` naming the
   * last error (default 5 × connectTimeoutMs).
   */
  ready(timeoutMs?: number): Promise<void>;
  /**
   * Flushes the spans of completed commands, removes the instrumentation and
   * closes every connection (QUIT, then drop after a short grace). Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * The one way in: creates the writer and reader connections from one config,
 * a standalone Redis from `url` or a Sentinel-managed master (`sentinels` +
 * `masterName`) with reads on a replica, already instrumented with the
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
 * ```
 */
export function createRedisClients(
  config: RedisClientsConfig,
  options: ClientOptions = {},
): RedisClients {
  const resolved = resolveClientsConfig(config);
  const insecure = insecureTlsOptions(resolved);
  if (insecure.length > 0 && options.logger === undefined) {
    throw new ConfigError(
      'logger',
      `${insecure.join(' and ')} needs a logger so the warning it causes is recorded`,
    );
  }
  const writer = new Redis(writerOptions(resolved));
  const replicaOptions = readerOptions(resolved);
  const replica = replicaOptions ? new Redis(replicaOptions) : undefined;
  let instrumentation: Instrumentation;
  try {
    instrumentation = new Instrumentation(
      { writer, ...(replica ? { reader: replica } : {}) },
      options,
    );
  } catch (error) {
    writer.disconnect();
    replica?.disconnect();
    throw error;
  }
  if (insecure.length > 0) {
    instrumentation.logger.warn(
      { event: 'redis.tls_insecure', options: insecure },
      'Redis TLS certificate verification is OFF: anyone on the network path can impersonate Redis. Use only in a lab.',
    );
  }
  const { logger } = instrumentation;
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
  // Every Sentinel announces the same switch: one steering at a time, the latest wins.
  let stopSteering: (() => void) | undefined;
  const sentinelLines = new LogThrottle(60_000, 1);
  let lastAnnounced: string | undefined;
  const watcher =
    resolved.mode === 'sentinel'
      ? new FailoverWatcher(resolved, {
          onSwitch: (master, previous) => {
            // Every Sentinel announces the switch: one line per new master.
            const announced = `${master.host}:${master.port}`;
            if (announced !== lastAnnounced) {
              lastAnnounced = announced;
              runDetached(() =>
                logger.warn(
                  {
                    event: 'redis.sentinel_switch_master',
                    master_name: resolved.masterName,
                    from: `${previous.host}:${previous.port}`,
                    to: `${master.host}:${master.port}`,
                  },
                  'the Sentinels promoted a new master',
                ),
              );
            }
            stopSteering?.();
            stopSteering = followNewMaster(master, writer, replica, resolved.connectTimeoutMs * 3);
          },
          onError: (sentinel, error) => {
            health.sentinelError(sentinel, error);
            const address = `${sentinel.host}:${sentinel.port}`;
            const held = sentinelLines.take(`${address} ${error.message}`);
            if (held === undefined) return;
            const line = {
              role: 'sentinel',
              address: sentinel.host,
              port: sentinel.port,
              err: errorFields(error),
              ...(held > 0 ? { suppressed: held } : {}),
            };
            // A TLS failure needs a fix; any other Sentinel error may pass (the others still answer).
            runDetached(() => {
              if (isTlsError(error)) {
                logger.error({ event: 'redis.tls_error', ...line }, 'redis TLS error');
              } else {
                logger.warn(
                  { event: 'redis.sentinel_error', ...line },
                  'Sentinel connection error',
                );
              }
            });
          },
          onReachable: (sentinel) => health.sentinelReachable(sentinel),
        })
      : undefined;
  let closing: Promise<void> | undefined;
  return {
    writer,
    reader,
    mode: resolved.mode,
    writeDurably: (write, options) => writeDurably(writer, write, options),
    ready: (timeoutMs = resolved.connectTimeoutMs * 5) =>
      whenReady(writer, health, timeoutMs, resolved.tls !== undefined),
    close: () => {
      watcher?.close();
      stopSteering?.();
      // Detached first: the QUIT that close() sends is the client's own, not app traffic.
      instrumentation.detach();
      closing ??= Promise.all([quit(writer), replica ? quit(replica) : undefined]).then(
        () => undefined,
      );
      return closing;
    },
  };
}

/**
 * After `+switch-master` the writer is steered to the announced master for a
 * few seconds: its socket to any other node is destroyed, whether connected or
 * still connecting. Without that, a reconnect that asks a Sentinel not yet
 * updated would go back to a hung (paused, partitioned) old master and wait out
 * the connect timeout. A reader whose replica was the one
 * promoted moves to a replica, once the writer is back (reads fall back to it
 * meanwhile).
 */
function followNewMaster(
  master: Address,
  writer: Redis,
  replica: Redis | undefined,
  steerForMs: number,
): () => void {
  const deadline = Date.now() + steerForMs;
  const steer = () => {
    if (writer.status === 'end' || Date.now() > deadline) return clearInterval(timer);
    if (writer.status === 'ready' && isConnectedTo(writer, master)) {
      clearInterval(timer);
      if (replica && isConnectedTo(replica, master)) replica.disconnect(true);
      return;
    }
    // Destroying the socket is what a network failure does: ioredis reconnects and
    // resends. disconnect() would wait for a hung peer to acknowledge the close
    // (and, during the Sentinel lookup, end the client for good).
    const socket = writer.stream as Socket | undefined;
    if (
      socket &&
      !socket.destroyed &&
      socket.remotePort !== undefined &&
      !isAddress(socket, master)
    ) {
      socket.destroy();
    }
  };
  const timer = setInterval(steer, 50);
  timer.unref();
  steer();
  return () => clearInterval(timer);
}

function isAddress(socket: Socket, address: Address): boolean {
  return socket.remotePort === address.port && socket.remoteAddress === address.host;
}

/** The options that turn certificate verification off, by name. */
function insecureTlsOptions(config: ResolvedClientsConfig): string[] {
  const insecure: string[] = [];
  if (config.tls?.rejectUnauthorized === false) insecure.push('tls.insecureSkipVerify');
  if (config.mode === 'sentinel' && config.sentinelTls?.rejectUnauthorized === false) {
    if (config.sentinelTls !== config.tls) insecure.push('sentinelTls.insecureSkipVerify');
  }
  return insecure;
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await Promise.race([
        client.quit(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('quit timed out')), 1000).unref(),
        ),
      ]);
    } catch {
      // closed below either way
    }
  }
  // quit() leaves ioredis' Sentinel connector and its timers alive; disconnect() ends them.
  client.disconnect();
}
