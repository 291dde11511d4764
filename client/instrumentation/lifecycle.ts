import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isTlsError } from '../common/tls-errors.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';
import type { ConnectionRole } from './metrics.js';

/** Where a connection currently points (follows Sentinel failovers). */
export interface Endpoint {
  readonly address: string;
  readonly port: number | undefined;
}

/** What the lifecycle watch asks of the connection it logs. */
export interface LifecycleHooks {
  onReconnect(): void;
  /** Re-reads where the connection points (on `connect` and `ready`, before the line is written). */
  refresh(): void;
  endpoint(): Endpoint | undefined;
  /**
   * A Cluster's node connection: ioredis makes and drops these as routine, so
   * their `ready` and `end` are debug lines of their own (the Cluster's own lines
   * say when it is ready or gone); close, reconnects and errors are as for any connection.
   */
  readonly clusterNode?: boolean;
}

/** The same connection error repeats on every reconnect attempt: one line per error a minute at most (plus a count). */
const errorThrottle = () => new LogThrottle(60_000, 1);

/**
 * Logs one connection's lifecycle at the level an operator would want:
 * `ready` and `end` at info, `close`, `reconnecting` and a changed endpoint
 * (a failover, with the old and the new node) at warn, errors at error, with
 * TLS errors marked as such and the error's class in `err.type`. Lines are
 * written outside any request context and span: a socket event belongs to
 * no request, even when it fires in the async context of the request that
 * last touched the socket. Commands themselves are never logged here.
 */
export function watchLifecycle(
  redis: Redis | Cluster,
  role: ConnectionRole,
  logger: Logger,
  hooks: LifecycleHooks,
): () => void {
  // A connection already up when the watch starts is where a later failover moves from.
  let previous: Endpoint | undefined = redis.status === 'ready' ? hooks.endpoint() : undefined;
  let attempts = 0;
  const errors = errorThrottle();
  const fields = () => {
    const endpoint = hooks.endpoint();
    return { role, address: endpoint?.address, port: endpoint?.port };
  };
  const listeners: Record<string, (...args: unknown[]) => void> = {
    connect: () => {
      hooks.refresh();
      logger.debug({ event: 'redis.connect', ...fields() }, 'redis connected');
    },
    ready: () => {
      hooks.refresh();
      const endpoint = hooks.endpoint();
      if (
        previous !== undefined &&
        endpoint !== undefined &&
        (previous.address !== endpoint.address || previous.port !== endpoint.port)
      ) {
        logger.warn(
          {
            event: 'redis.failover',
            role,
            from: `${previous.address}:${previous.port}`,
            to: `${endpoint.address}:${endpoint.port}`,
          },
          'redis connection moved to another node (failover)',
        );
      }
      previous = endpoint;
      attempts = 0;
      if (hooks.clusterNode) {
        logger.debug({ event: 'redis.cluster_node_ready', ...fields() }, 'cluster node ready');
      } else {
        logger.info({ event: 'redis.ready', ...fields() }, 'redis connection ready');
      }
    },
    close: () => {
      if (redis.status === 'end') return;
      logger.warn({ event: 'redis.close', ...fields() }, 'redis connection closed');
    },
    reconnecting: (delay: unknown) => {
      attempts += 1;
      hooks.onReconnect();
      logger.warn(
        { event: 'redis.reconnecting', ...fields(), attempt: attempts, delay_ms: delay },
        'redis reconnecting',
      );
    },
    end: () => {
      if (hooks.clusterNode) {
        logger.debug(
          { event: 'redis.cluster_node_end', ...fields() },
          'cluster node connection ended',
        );
      } else {
        logger.info({ event: 'redis.end', ...fields() }, 'redis connection ended');
      }
    },
    error: (error: unknown) => {
      const err = errorFields(error);
      const held = errors.take(`${err.code ?? ''}:${err.message}`);
      if (held === undefined) return;
      const line = { ...fields(), err, ...(held > 0 ? { suppressed: held } : {}) };
      if (isTlsError(error)) logger.error({ event: 'redis.tls_error', ...line }, 'redis TLS error');
      else logger.error({ event: 'redis.error', ...line }, 'redis connection error');
    },
  };
  // A logger that throws must not break ioredis' own event handling.
  const guarded = Object.entries(listeners).map(([event, listener]) => {
    const safe = (...args: unknown[]) => {
      try {
        runDetached(() => listener(...args));
      } catch {
        // nothing sensible to do: the logger itself failed
      }
    };
    return [event, safe] as const;
  });
  for (const [event, listener] of guarded) redis.on(event, listener);
  return () => {
    for (const [event, listener] of guarded) redis.off(event, listener);
  };
}
