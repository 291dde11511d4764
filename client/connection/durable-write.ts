import { type ChainableCommander, type Redis, ReplyError } from 'ioredis';
import { ConfigError, DurableWriteError } from '../errors.js';
import { errorFields } from '../logging/logger.js';
import type { FailoverFence } from './failover-fence.js';

/** How many replicas must confirm a write, how long to wait for them, and what the fence allows. */
export interface DurableWriteOptions {
  /**
   * Replicas that must acknowledge (WAIT numreplicas), or `'all'`: every
   * replica connected to the master when the write starts (ROLE; at least 1).
   * With all of them acknowledging, no single partition can lose the write;
   * a replica that is disconnected at that moment is not counted.
   * @default 1
   */
  readonly replicas?: number | 'all';
  /**
   * How long Redis waits for them (WAIT timeout, ms). Must be below the writer's command timeout.
   * @default 1000
   */
  readonly timeoutMs?: number;
  /**
   * Confirm durable writes while no Sentinel is heard. Without a Sentinel the
   * client cannot see a failover begin, so by default such writes are refused
   * (`DurableWriteError`, reason `no-sentinel`) rather than confirmed blind.
   * Sentinel mode only: a Redis Cluster has no Sentinels (see cluster-durable-write.ts).
   * @default false
   */
  readonly allowWithoutSentinels?: boolean;
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

export function closeCounter(writer: Redis): { count: number } {
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
 * of replicas that acknowledged. Rejects with DurableWriteError when the write
 * cannot be confirmed: fewer than `replicas` acknowledged in time, the
 * connection changed in between, or (with a `fence`, in Sentinel mode) a
 * failover of the master was under way or began before the acknowledgement,
 * or no Sentinel is heard. `outcome` on the error says whether anything was
 * sent. A command's own error rejects with that error. Plain writes succeed as
 * soon as the master has them; use this for writes that must survive a failover.
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
  fence?: FailoverFence,
): Promise<DurableWriteResult> {
  const { wanted, timeoutMs } = checkedOptions(options, writer.options.commandTimeout);
  const required = wanted === 'all' ? 0 : wanted;
  // A client still starting has not subscribed yet: hold the write that long (bounded),
  // as ioredis holds commands until the connection is up.
  if (fence !== undefined && !fence.everHeard && options.allowWithoutSentinels !== true) {
    await fence.whenHeard(timeoutMs);
  }
  // Refused before anything is sent: the caller can retry as is.
  const before = fence?.state();
  if (before === 'failover' || (before === 'deaf' && options.allowWithoutSentinels !== true)) {
    throw new DurableWriteError({
      reason: before === 'failover' ? 'failover' : 'no-sentinel',
      outcome: 'not-written',
      required,
      timeoutMs,
    });
  }
  const epoch = fence?.epoch;
  const replicas = wanted === 'all' ? await replicaCount(writer, timeoutMs) : wanted;
  const counter = closeCounter(writer);
  const closesBefore = counter.count;
  const pipeline = writer.pipeline();
  write(pipeline);
  const queued = pipeline.length;
  if (queued === 0) throw new ConfigError('write', 'queued no command');
  pipeline.wait(replicas, timeoutMs);
  const unknown = (reason: 'connection-changed' | 'failover', acknowledged = 0, cause?: unknown) =>
    unknownOutcome({ required: replicas, timeoutMs }, reason, acknowledged, cause);
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await pipeline.exec();
  } catch (error) {
    // A timeout or a dropped connection: Redis may or may not have run the write.
    throw unknown('connection-changed', 0, error);
  }
  if (!replies) throw unknown('connection-changed');
  const results: unknown[] = [];
  for (const [error, result] of replies) {
    if (error instanceof ReplyError) throw error;
    if (error) throw unknown('connection-changed', 0, error);
    results.push(result);
  }
  if (counter.count !== closesBefore) throw unknown('connection-changed');
  const acknowledged = Number(results.pop());
  // A failover that began before this acknowledgement may promote a replica that lacks the
  // write while the one that acknowledged it resyncs from the new master and drops it.
  if (fence !== undefined && (fence.epoch !== epoch || fence.state() === 'failover')) {
    throw unknown('failover', acknowledged);
  }
  if (!(acknowledged >= replicas)) {
    throw unknownOutcome({ required: replicas, timeoutMs }, 'not-acknowledged', acknowledged);
  }
  return { acknowledged, results };
}

/**
 * A durable write whose fate the client cannot know (Redis may have run it):
 * the error both the Sentinel and the Cluster paths throw, with the replicas
 * that acknowledged and, when there was one, the error that cut it short.
 */
export function unknownOutcome(
  attempt: { readonly required: number; readonly timeoutMs: number },
  reason: 'connection-changed' | 'failover' | 'not-acknowledged',
  acknowledged = 0,
  cause?: unknown,
): DurableWriteError {
  return new DurableWriteError({
    reason,
    outcome: 'unknown',
    acknowledged,
    required: attempt.required,
    timeoutMs: attempt.timeoutMs,
    ...(cause === undefined ? {} : { cause: errorFields(cause) }),
  });
}

/** `replicas` and `timeoutMs` with defaults applied; ConfigError naming the bad one. */
export function checkedOptions(
  options: DurableWriteOptions,
  commandTimeout: number | undefined,
): { readonly wanted: number | 'all'; readonly timeoutMs: number } {
  const wanted = options.replicas ?? DURABLE_WRITE_DEFAULTS.replicas;
  const timeoutMs = options.timeoutMs ?? DURABLE_WRITE_DEFAULTS.timeoutMs;
  if (wanted !== 'all' && (!Number.isInteger(wanted) || wanted < 1)) {
    throw new ConfigError('replicas', `must be an integer >= 1 or 'all', got ${String(wanted)}`);
  }
  // WAIT 0 would block forever.
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError('timeoutMs', `must be an integer >= 1 ms, got ${timeoutMs}`);
  }
  if (commandTimeout !== undefined && timeoutMs >= commandTimeout) {
    throw new ConfigError(
      'timeoutMs',
      `must be below the writer's command timeout (${commandTimeout} ms), or WAIT times out on the client first`,
    );
  }
  return { wanted, timeoutMs };
}

/** The replicas the master has now (ROLE), at least 1: WAIT 0 would confirm nothing. */
export async function replicaCount(writer: Redis, timeoutMs: number): Promise<number> {
  const role = (await writer.call('ROLE')) as [string, number, unknown[]?];
  if (role[0] !== 'master') {
    // The node was demoted (a failover the client has not followed yet): nothing was sent.
    throw new DurableWriteError({
      reason: 'failover',
      outcome: 'not-written',
      required: 0,
      timeoutMs,
    });
  }
  return Math.max(1, role[2]?.length ?? 0);
}
