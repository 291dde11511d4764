import { type Cluster, type Redis, ReplyError } from 'ioredis';

/**
 * Read-only commands the reader exposes. Each is flagged `readonly` by Redis
 * (`COMMAND INFO`), so it is safe on a replica; a test checks that against a
 * real server. Anything else goes through `read(fn)`.
 */
export const READ_COMMANDS = [
  'get',
  'mget',
  'getrange',
  'strlen',
  'exists',
  'type',
  'ttl',
  'pttl',
  'hget',
  'hmget',
  'hgetall',
  'hkeys',
  'hvals',
  'hlen',
  'hexists',
  'hstrlen',
  'lrange',
  'llen',
  'lindex',
  'smembers',
  'sismember',
  'smismember',
  'scard',
  'srandmember',
  'zrange',
  'zrangebyscore',
  'zrevrange',
  'zrevrangebyscore',
  'zscore',
  'zmscore',
  'zcard',
  'zcount',
  'zrank',
  'zrevrank',
  'xrange',
  'xrevrange',
  'xlen',
  'bitcount',
  'getbit',
  'scan',
  'hscan',
  'sscan',
  'zscan',
  'dbsize',
] as const;

export type ReadCommand = (typeof READ_COMMANDS)[number];

/**
 * Reads on a replica, retried on the master when the replica cannot answer.
 * The read commands keep ioredis' own signatures; writes are not on this type,
 * so sending one to a replica is a compile error. `C` is the connection kind:
 * `Redis`, or an ioredis `Cluster` whose reads go to the replicas of each
 * key's shard (`cluster.scaleReads`).
 */
export type ReadClient<C extends Redis | Cluster = Redis> = Pick<C, ReadCommand> & {
  /**
   * Runs `fn` on a replica, and again on the master if the replica is down or
   * does not answer in time. For pipelines and commands not listed above (on
   * a cluster, a pipeline's keys must share a slot).
   *
   * ```ts
   * const [a, b] = await reader.read((r) => r.pipeline().get('a').get('b').exec());
   * ```
   */
  read<T>(fn: (redis: C) => Promise<T>): Promise<T>;
  /** Reads that went to the master because no replica answered, since creation. */
  readonly fallbacks: number;
  /** True when every read goes to the master (standalone Redis, `readFrom: 'master'`, `cluster.scaleReads: 'master'`). */
  readonly readsFromMaster: boolean;
};

/**
 * Redis answered, but only this replica is in no state to: loading its dataset,
 * cut off from its master with stale reads disabled, busy with a script, or
 * (cluster) its shard is down or mid-migration for the key and ioredis ran out
 * of redirections. Other reply errors (WRONGTYPE, a syntax error) would fail
 * on the master too.
 */
const REPLICA_STATE_ERRORS = /^(LOADING|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/** Whether a failed replica read is worth retrying on the master. */
export function isReplicaUnavailable(error: unknown): boolean {
  if (error instanceof ReplyError) return REPLICA_STATE_ERRORS.test((error as Error).message);
  // Connection closed, command timed out, MaxRetriesPerRequestError, TLS or socket errors.
  return error instanceof Error;
}

/**
 * Builds the reader. `replica` is undefined when there is nothing to read from
 * but the master (standalone Redis, or readFrom: 'master'). A read tries the
 * replica, then the master, then waits up to `retryWindowMs` for the replica
 * to reconnect and tries it once more.
 */
export function createReadClient<C extends Redis | Cluster>(
  replica: C | undefined,
  writer: C,
  retryWindowMs: number,
): ReadClient<C> {
  let fallbacks = 0;
  const read = async <T>(fn: (redis: C) => Promise<T>): Promise<T> => {
    // A replica that is not connected right now would only make the caller wait.
    if (replica?.status === 'ready') {
      try {
        return await fn(replica);
      } catch (error) {
        if (!isReplicaUnavailable(error)) throw error;
      }
    }
    if (!replica) return fn(writer);
    fallbacks += 1;
    try {
      return await fn(writer);
    } catch (error) {
      // The master is failing over too, and the replica dropped its connection
      // (Sentinel kills client connections of the nodes it reconfigures): it is
      // usually back within a reconnect, with the data.
      if (!isReplicaUnavailable(error)) throw error;
      if (!(await becomesReady(replica, retryWindowMs))) throw error;
      return fn(replica);
    }
  };
  const client: Record<string, unknown> = {
    read,
    get fallbacks() {
      return fallbacks;
    },
    readsFromMaster: replica === undefined,
  };
  for (const name of READ_COMMANDS) {
    client[name] = (...args: unknown[]) => {
      const last = args.at(-1);
      // Node-style callbacks still work: answer them from the promise with fallback.
      const callback =
        typeof last === 'function' ? (last as (e: unknown, r?: unknown) => void) : undefined;
      const commandArgs = callback ? args.slice(0, -1) : args;
      const promise = read((redis) => {
        const method = redis[name] as unknown as (...a: unknown[]) => Promise<unknown>;
        return method.apply(redis, commandArgs);
      });
      if (!callback) return promise;
      promise.then(
        (result) => callback(null, result),
        (error) => callback(error),
      );
      return promise;
    };
  }
  // The generic loop above cannot be typed per command; each method forwards to the same Redis method.
  return client as unknown as ReadClient<C>;
}

/** Resolves true as soon as `client` is ready, false after `ms`. */
function becomesReady(client: Redis | Cluster, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    client.once('ready', onReady);
  });
}
