import type { ChainableCommander, Redis } from 'ioredis';
import { ConfigError, DurableWriteError } from '../errors.js';

/** How many replicas must confirm a write, and how long to wait for them. */
export interface DurableWriteOptions {
  /**
   * Replicas that must acknowledge (WAIT numreplicas).
   * @default 1
   */
  readonly replicas?: number;
  /**
   * How long Redis waits for them (WAIT timeout, ms). Must be below the writer's command timeout.
   * @default 1000
   */
  readonly timeoutMs?: number;
}

export interface DurableWriteResult {
  /** Replicas that acknowledged the write (WAIT's answer), at least `replicas`. */
  readonly acknowledged: number;
  /** The replies of the commands queued by `write`, in order. */
  readonly results: readonly unknown[];
}

const DURABLE_WRITE_DEFAULTS = { replicas: 1, timeoutMs: 1000 } as const;

/**
 * Counts connection closes per client: a WAIT answered on a different connection
 * than its write would count acknowledgements of nothing.
 */
const closes = new WeakMap<Redis, { count: number }>();

function closeCounter(writer: Redis): { count: number } {
  let counter = closes.get(writer);
  if (!counter) {
    const created = { count: 0 };
    writer.on('close', () => {
      created.count += 1;
    });
    closes.set(writer, created);
    counter = created;
  }
  return counter;
}

/**
 * Sends the commands `write` queues, then `WAIT replicas timeoutMs`, in one
 * pipeline on the master connection. Resolves with the replies and the number
 * of replicas that acknowledged; rejects with DurableWriteError when fewer
 * than `replicas` did in time or the connection changed in between (the write
 * may then exist on the master only, and a failover could lose it), and with
 * the command's own error when a command failed. Plain writes succeed as soon
 * as the master has them; use this for writes that must survive a failover.
 *
 * ```ts
 * const { acknowledged } = await writeDurably(clients.writer, (tx) =>
 *   tx.set('session:42', token, 'EX', 3600),
 * );
 * ```
 */
export async function writeDurably(
  writer: Redis,
  write: (pipeline: ChainableCommander) => unknown,
  options: DurableWriteOptions = {},
): Promise<DurableWriteResult> {
  const replicas = options.replicas ?? DURABLE_WRITE_DEFAULTS.replicas;
  const timeoutMs = options.timeoutMs ?? DURABLE_WRITE_DEFAULTS.timeoutMs;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new ConfigError('replicas', `must be an integer >= 1, got ${replicas}`);
  }
  // WAIT 0 would block forever.
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError('timeoutMs', `must be an integer >= 1 ms, got ${timeoutMs}`);
  }
  const commandTimeout = writer.options.commandTimeout;
  if (commandTimeout !== undefined && timeoutMs >= commandTimeout) {
    throw new ConfigError(
      'timeoutMs',
      `must be below the writer's command timeout (${commandTimeout} ms), or WAIT times out on the client first`,
    );
  }
  const counter = closeCounter(writer);
  const closesBefore = counter.count;
  const pipeline = writer.pipeline();
  write(pipeline);
  const queued = pipeline.length;
  if (queued === 0) throw new ConfigError('write', 'queued no command');
  pipeline.wait(replicas, timeoutMs);
  const replies = await pipeline.exec();
  if (!replies) throw new DurableWriteError('connection-changed', 0, replicas, timeoutMs);
  const results: unknown[] = [];
  for (const [error, result] of replies) {
    if (error) throw error;
    results.push(result);
  }
  if (counter.count !== closesBefore) {
    throw new DurableWriteError('connection-changed', 0, replicas, timeoutMs);
  }
  const acknowledged = Number(results.pop());
  if (!(acknowledged >= replicas)) {
    throw new DurableWriteError('not-acknowledged', acknowledged, replicas, timeoutMs);
  }
  return { acknowledged, results };
}
