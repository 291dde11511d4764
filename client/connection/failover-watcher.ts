import type { Socket } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { exponentialBackoff } from '../common/backoff.js';
import { parseSwitchMaster } from '../common/sentinel-messages.js';
import type { Address, ResolvedSentinel } from './config.js';
import { type PeerSocket, socketGoesTo } from './dialed-address.js';
import { dropSocket } from './drop-socket.js';
import type { SentinelView } from './failover-fence.js';
import { DISCONNECT_TIMEOUT_MS } from './ioredis-options.js';
import { explainUnansweredDns } from './unanswered-dns.js';

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
  /**
   * A connection to one Sentinel is subscribed to its events (again, after a
   * reconnect), and `view` is what that Sentinel says of the master now
   * (SENTINEL MASTER, asked after subscribing, so nothing falls in between).
   */
  onReachable(sentinel: Address, view: SentinelView, master: Address): void;
  /** A connection to one Sentinel closed, or stopped answering its health check and was dropped. */
  onLost(sentinel: Address): void;
  /** Any event one Sentinel published (`+sdown`, `+odown`, `+try-failover`, ...). */
  onMessage(sentinel: Address, channel: string, message: string): void;
}

/**
 * How often each Sentinel subscription is checked with a PING, and how long
 * the answer may take: a Sentinel behind a partition is noticed within about
 * half a second, which is how long a client on the minority side of a
 * partition can still confirm durable writes with WAIT 1 (docs/ha.md).
 */
const HEALTH_CHECK_MS = 250;
const HEALTH_TIMEOUT_MS = 250;

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
        // Subscribed by hand at every ready, so "heard" means subscribed, not just connected.
        autoResubscribe: false,
        disableClientInfo: true,
        disconnectTimeout: DISCONNECT_TIMEOUT_MS,
        connectionName: `${config.connectionName}-failover-watch`,
        // IPv4 and IPv6 alike: a Sentinel named by a DNS name may have only an AAAA record.
        family: 0,
        ...(config.sentinelTls ? { tls: { ...config.sentinelTls } } : {}),
        ...(config.sentinelUsername !== undefined ? { username: config.sentinelUsername } : {}),
        ...(config.sentinelPassword !== undefined ? { password: config.sentinelPassword } : {}),
      };
      const subscriber = new Redis(options);
      explainUnansweredDns(subscriber);
      subscriber.on('error', (error: Error) => {
        if (!this.closed) this.events.onError(sentinel, error);
      });
      subscriber.on('ready', () => {
        if (!this.closed) void this.subscribe(subscriber, sentinel, options, config.masterName);
      });
      subscriber.on('close', () => {
        if (!this.closed) this.events.onLost(sentinel);
      });
      subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
        if (this.closed) return;
        this.events.onMessage(sentinel, channel, message);
        if (channel === '+switch-master') this.handle(config.masterName, message);
      });
      return subscriber;
    });
    // A Sentinel cut off without a reset (packets dropped) leaves the socket open and silent:
    // a PING that gets no answer in time drops the connection, so the loss is seen and retried.
    this.healthCheck = setInterval(
      () => this.checkHealth(config.connectTimeoutMs),
      HEALTH_CHECK_MS,
    );
    this.healthCheck.unref();
  }

  private readonly healthCheck: NodeJS.Timeout;

  /**
   * Subscribes to every event (the failover fence needs +sdown, +odown and the
   * failover steps, not only +switch-master), then asks the Sentinel for the
   * master's state on a second, short connection: what was published while
   * this Sentinel was unheard is in that answer. A subscription refused (an
   * ACL without channel access) drops the connection: it is retried, and the
   * Sentinel stays unheard.
   */
  private async subscribe(
    subscriber: Redis,
    sentinel: Address,
    options: RedisOptions,
    masterName: string,
  ): Promise<void> {
    try {
      await subscriber.psubscribe('*');
      const query = new Redis({ ...options, retryStrategy: () => null, lazyConnect: true });
      explainUnansweredDns(query);
      query.on('error', () => undefined);
      let fields: string[];
      try {
        await query.connect();
        fields = (await query.call('SENTINEL', 'MASTER', masterName)) as string[];
      } finally {
        query.disconnect();
      }
      const field = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
      const flags = field('flags').split(',');
      if (this.closed || subscriber.status !== 'ready') return;
      this.events.onReachable(
        sentinel,
        {
          sdown: flags.includes('s_down'),
          odown: flags.includes('o_down'),
          failover: flags.includes('failover_in_progress'),
        },
        { host: field('ip'), port: Number(field('port')) },
      );
    } catch (error) {
      if (this.closed) return;
      this.events.onError(sentinel, error as Error);
      dropSocket(subscriber.stream as Socket | undefined);
    }
  }

  private checkHealth(timeoutMs: number): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.status !== 'ready') continue;
      let answered = false;
      subscriber.ping().then(
        () => {
          answered = true;
        },
        () => undefined,
      );
      setTimeout(
        () => {
          if (!answered && !this.closed) dropSocket(subscriber.stream as Socket | undefined);
        },
        Math.min(timeoutMs, HEALTH_TIMEOUT_MS),
      ).unref();
    }
  }

  private handle(masterName: string, message: string): void {
    if (this.closed) return;
    const switched = parseSwitchMaster(message);
    if (switched?.name !== masterName) return;
    this.events.onSwitch(switched.to, switched.from);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.healthCheck);
    for (const subscriber of this.subscribers) subscriber.disconnect();
  }
}

/**
 * Whether `client`'s socket goes to `address` (connected or still in its
 * handshake). ioredis' Sentinel connector hides the resolved address, but the
 * socket knows its peer, and the name it dialled when Sentinel announces names.
 */
export function isConnectedTo(client: Redis, address: Address): boolean {
  const live = client.status === 'ready' || client.status === 'connect';
  return live && socketGoesTo(client.stream as PeerSocket | undefined, address);
}
