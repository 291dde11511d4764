import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isTlsError } from '../common/tls-errors.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';
import type { Address, ResolvedSentinel } from './config.js';
import type { ConnectHealth } from './connect-errors.js';
import { socketGoesTo } from './dialed-address.js';
import { dropSocket } from './drop-socket.js';
import type { FailoverFence, FenceState } from './failover-fence.js';
import { FailoverWatcher, isConnectedTo } from './failover-watcher.js';

/**
 * The client's side of the Sentinels, apart from ioredis' own lookup: one
 * subscription per Sentinel feeds the failover fence (durable writes), steers
 * the writer to a new master at once, tells ready() the real cause of a
 * Sentinel failure, and logs what an on-call engineer needs: the switch with
 * the old and the new master, and each Sentinel connection problem once.
 */
export function watchSentinels(parts: {
  readonly config: ResolvedSentinel;
  readonly writer: Redis;
  readonly replica: Redis | undefined;
  readonly logger: Logger;
  readonly health: ConnectHealth;
  readonly fence: FailoverFence;
}): { close(): void } {
  const { config, writer, replica, logger, health, fence } = parts;
  const key = (sentinel: Address) => `${sentinel.host}:${sentinel.port}`;
  // Every Sentinel announces the same switch: one steering at a time, the latest wins.
  let stopSteering: (() => void) | undefined;
  const sentinelLines = new LogThrottle(60_000, 1);
  let lastAnnounced: string | undefined;
  const watcher = new FailoverWatcher(config, {
    onMessage: (sentinel, channel, message) => fence.handle(key(sentinel), channel, message),
    onSwitch: (master, previous) => {
      // Every Sentinel announces the switch: one line per new master.
      const announced = key(master);
      if (announced !== lastAnnounced) {
        lastAnnounced = announced;
        runDetached(() =>
          logger.warn(
            {
              event: 'redis.sentinel_switch_master',
              master_name: config.masterName,
              from: key(previous),
              to: announced,
            },
            'the Sentinels promoted a new master',
          ),
        );
      }
      if (writer.status === 'ready' && isConnectedTo(writer, master)) fence.writerOn(master);
      stopSteering?.();
      stopSteering = followNewMaster(master, writer, replica, config.connectTimeoutMs * 3);
    },
    onError: (sentinel, error) => {
      health.sentinelError(sentinel, error);
      const held = sentinelLines.take(`${key(sentinel)} ${error.message}`);
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
          logger.warn({ event: 'redis.sentinel_error', ...line }, 'Sentinel connection error');
        }
      });
    },
    onReachable: (sentinel, view, master) => {
      health.sentinelReachable(sentinel);
      fence.resync(key(sentinel), view, master);
      fence.hearing(key(sentinel), true);
      // Missed a switch while unheard: move now, as on +switch-master.
      if (!(writer.status === 'ready' && isConnectedTo(writer, master))) {
        stopSteering?.();
        stopSteering = followNewMaster(master, writer, replica, config.connectTimeoutMs * 3);
      }
    },
    onLost: (sentinel) => fence.hearing(key(sentinel), false),
  });
  return {
    close() {
      watcher.close();
      stopSteering?.();
    },
  };
}

/** One line per change of what durable writes may do. */
export function logFence(logger: Logger, state: FenceState): void {
  runDetached(() => {
    if (state === 'open') {
      logger.info(
        { event: 'redis.durable_writes_open', state },
        'durable writes confirmed again: no failover in sight and a Sentinel is heard',
      );
    } else {
      logger.warn(
        { event: 'redis.durable_writes_fenced', state },
        state === 'deaf'
          ? 'durable writes refused: no Sentinel is heard, a failover could go unseen'
          : 'durable writes refused: a failover of the master may have begun',
      );
    }
  });
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
    if (socket?.remotePort !== undefined && !socketGoesTo(socket, master)) dropSocket(socket);
  };
  const timer = setInterval(steer, 50);
  timer.unref();
  steer();
  return () => clearInterval(timer);
}
