import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isTlsError } from '../common/tls-errors.js';
import type { ConnectionRole } from './metrics.js';

/** Where a connection currently points (follows Sentinel failovers). */
export interface Endpoint {
  readonly address: string;
  readonly port: number | undefined;
}

/**
 * Logs one connection's lifecycle at the level an operator would want:
 * `ready` and `end` at info, `close`, `reconnecting` and a changed endpoint
 * (a failover) at warn, errors at error, with TLS errors marked as such.
 * Commands themselves are never logged here.
 */
export function watchLifecycle(
  redis: Redis,
  role: ConnectionRole,
  logger: Logger,
  hooks: { onReconnect(): void; onReady(): void; endpoint(): Endpoint | undefined },
): () => void {
  let previous: Endpoint | undefined;
  let attempts = 0;
  const fields = () => {
    const endpoint = hooks.endpoint();
    return { role, address: endpoint?.address, port: endpoint?.port };
  };
  const listeners: Record<string, (...args: unknown[]) => void> = {
    connect: () => logger.debug({ event: 'redis.connect', ...fields() }, 'redis connected'),
    ready: () => {
      hooks.onReady();
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
      logger.info({ event: 'redis.ready', ...fields() }, 'redis connection ready');
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
    end: () => logger.info({ event: 'redis.end', ...fields() }, 'redis connection ended'),
    error: (error: unknown) => {
      const code = (error as { code?: unknown } | undefined)?.code;
      const tls = isTlsError(error);
      logger.error(
        {
          event: tls ? 'redis.tls_error' : 'redis.error',
          ...fields(),
          err: {
            type: (error as Error | undefined)?.name,
            code,
            message: (error as Error | undefined)?.message,
          },
        },
        tls ? 'redis TLS error' : 'redis connection error',
      );
    },
  };
  // A logger that throws must not break ioredis' own event handling.
  const guarded = Object.entries(listeners).map(([event, listener]) => {
    const safe = (...args: unknown[]) => {
      try {
        listener(...args);
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
