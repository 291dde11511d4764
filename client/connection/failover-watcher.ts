import { Redis, type RedisOptions } from 'ioredis';
import { exponentialBackoff } from '../common/backoff.js';
import { parseSwitchMaster } from '../common/sentinel-messages.js';
import type { Address, ResolvedSentinel } from './config.js';
import { DISCONNECT_TIMEOUT_MS } from './ioredis-options.js';

/**
 * Listens for `+switch-master` on every configured Sentinel and tells the
 * factory the new master address at once, so a writer stuck on a hung
 * (SIGSTOPped, partitioned) master moves without waiting for a socket timeout:
 * the case of ioredis issue #1314.
 *
 * Written by hand instead of ioredis' `failoverDetector: true`, which does the
 * same but (in 6.0.0) gives its Sentinel subscribers no 'error' listener, so
 * ioredis prints "Unhandled error event" to the console whenever a Sentinel is
 * down, and it opens one subscriber per Sentinel per connection. This watcher
 * is shared by the writer and the reader, filters on our master name, and
 * hands its connection errors to the factory: they carry the real cause (a
 * TLS or auth failure) that ioredis' Sentinel lookup reduces to "Connection is closed".
 */
/** What the watcher reports to the factory. */
export interface FailoverWatcherEvents {
  /** The Sentinels announced a new master for our name (`+switch-master`). */
  onSwitch(master: Address, previous: Address): void;
  /** A connection to one Sentinel failed: the real error (TLS, auth, refused), unlike ioredis' lookup. */
  onError(sentinel: Address, error: Error): void;
  /** A connection to one Sentinel is up. */
  onReachable(sentinel: Address): void;
}

export class FailoverWatcher {
  private readonly subscribers: Redis[];
  private closed = false;

  constructor(
    config: ResolvedSentinel,
    private readonly events: FailoverWatcherEvents,
  ) {
    this.subscribers = config.sentinels.map((sentinel) => {
      const options: RedisOptions = {
        host: sentinel.host,
        port: sentinel.port,
        connectTimeout: config.connectTimeoutMs,
        // A Sentinel that is down is retried at the backoff cap, forever: it may come back.
        retryStrategy: exponentialBackoff(config.reconnectMinDelayMs, config.reconnectMaxDelayMs),
        maxRetriesPerRequest: null,
        enableReadyCheck: false,
        disableClientInfo: true,
        disconnectTimeout: DISCONNECT_TIMEOUT_MS,
        connectionName: `${config.connectionName}-failover-watch`,
        ...(config.sentinelTls ? { tls: { ...config.sentinelTls } } : {}),
        ...(config.sentinelUsername !== undefined ? { username: config.sentinelUsername } : {}),
        ...(config.sentinelPassword !== undefined ? { password: config.sentinelPassword } : {}),
      };
      const subscriber = new Redis(options);
      subscriber.on('error', (error: Error) => {
        if (!this.closed) this.events.onError(sentinel, error);
      });
      subscriber.on('ready', () => {
        if (!this.closed) this.events.onReachable(sentinel);
      });
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === '+switch-master') this.handle(config.masterName, message);
      });
      // ioredis resubscribes after every reconnect (autoResubscribe).
      subscriber.subscribe('+switch-master').catch(() => undefined);
      return subscriber;
    });
  }

  private handle(masterName: string, message: string): void {
    if (this.closed) return;
    const switched = parseSwitchMaster(message);
    if (switched?.name !== masterName) return;
    this.events.onSwitch(switched.to, switched.from);
  }

  close(): void {
    this.closed = true;
    for (const subscriber of this.subscribers) subscriber.disconnect();
  }
}

/**
 * Whether `client`'s socket goes to `address` (connected or still in its
 * handshake). ioredis' Sentinel connector hides the resolved address, but the
 * socket knows its peer.
 */
export function isConnectedTo(client: Redis, address: Address): boolean {
  const stream = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  const live = client.status === 'ready' || client.status === 'connect';
  return live && stream?.remotePort === address.port && stream.remoteAddress === address.host;
}
