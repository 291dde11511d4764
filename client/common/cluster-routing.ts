import { type Cluster, Command, type Redis } from 'ioredis';

/**
 * How a command finds its node on a Redis Cluster, as ioredis routes it:
 * the one copy the client's modules and the exporter share.
 */

/**
 * Whether a connection is an ioredis Cluster. Duck-typed on `nodes()`
 * rather than `instanceof` or ioredis' `isCluster` flag: two copies of
 * ioredis may be loaded (the app's and ours), and a wrapper may hide the flag.
 */
export function isCluster(target: object): target is Cluster {
  return typeof (target as Partial<Cluster>).nodes === 'function';
}

/**
 * A key's hash slot (CRC16 of the key, or of its `{hash tag}`, mod 16384).
 * ioredis' own computation (it wraps the `cluster-key-slot` package, which
 * @redscope/client does not depend on directly), so the client and ioredis
 * can never disagree on where a key lives.
 */
export function hashSlot(key: string | Buffer): number {
  return new Command('exists', [key]).getSlot();
}

/**
 * The connection-pool key (`host:port`) of the master the Cluster's slot map
 * names for `slot` now, or undefined while it names none. After a slot
 * refresh the map holds natMap-ped addresses, but ioredis' MOVED handler
 * writes the announced one into it (cluster/index.js, `moved:`) while its
 * pool is keyed by the natMap-ped one: mapping it again is what finds the
 * connection in both cases.
 */
export function slotMasterKey(cluster: Cluster, slot: number): string | undefined {
  const owner = cluster.slots[slot]?.[0];
  return owner === undefined ? undefined : dialledKey(cluster, owner);
}

/** The pool key of a node the cluster announces as `announced` (`host:port`), through the natMap. */
export function dialledKey(cluster: Cluster, announced: string): string {
  const natMap = cluster.options.natMap;
  const mapped = typeof natMap === 'function' ? natMap(announced) : natMap?.[announced];
  return mapped ? `${mapped.host}:${mapped.port}` : announced;
}

/** The pool key of a node connection, as ioredis' ConnectionPool keys it. */
export function nodeKey(redis: Redis): string {
  return `${redis.options.host}:${redis.options.port}`;
}
