import type { ClusterOptions, RedisOptions } from 'ioredis';
import { exponentialBackoff } from '../common/backoff.js';
import type {
  Address,
  ResolvedClientsConfig,
  ResolvedCluster,
  ResolvedSentinel,
  ResolvedTls,
} from './config.js';

/**
 * Translates a resolved config into ioredis options for the writer and the
 * reader. Kept apart from the factory so the mapping is unit-testable without
 * a server.
 */

/**
 * A demoted master answers writes with READONLY (it came back as a replica
 * after a failover the client missed, e.g. it was paused). Reconnecting makes
 * ioredis ask Sentinel for the master again; `2` resends the failed write there.
 */
export function reconnectOnReadonly(error: Error): boolean | 2 {
  return error.message.startsWith('READONLY') ? 2 : false;
}

/**
 * How long disconnect() waits for the peer to close before destroying the
 * socket. ioredis' 2 s default kept a process alive for 2 s after close() of a
 * connection that never became ready (it waits for a close event from a socket
 * that closed long before); close() has already sent QUIT to a live server.
 */
export const DISCONNECT_TIMEOUT_MS = 100;

function tlsOf(tls: ResolvedTls | undefined): RedisOptions['tls'] {
  if (!tls) return undefined;
  return {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

function common(config: ResolvedClientsConfig): RedisOptions {
  const retry = exponentialBackoff(config.reconnectMinDelayMs, config.reconnectMaxDelayMs);
  return {
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    connectTimeout: config.connectTimeoutMs,
    // Both address families, for the data nodes and the Sentinels (ioredis hands `family` to
    // its Sentinel connections): a private-network name may have only an AAAA record (Railway's
    // `*.railway.internal`), and ioredis 5 defaulted to IPv4 only. A data node found through
    // Sentinel is dialled by Node's default lookup, which takes both families as well.
    family: 0,
    retryStrategy: retry,
    // Bounded: fail commands instead of queueing them forever while there is no connection.
    maxRetriesPerRequest: config.maxRetriesPerRequest,
    lazyConnect: false,
    // CLIENT SETINFO exists from Redis 7.2; 7.0 answers every (re)connect with an error.
    // The connection name (CLIENT SETNAME) already says who we are.
    disableClientInfo: true,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  };
}

function sentinelPart(config: ResolvedSentinel): RedisOptions {
  const retry = exponentialBackoff(config.reconnectMinDelayMs, config.reconnectMaxDelayMs);
  const tls = tlsOf(config.tls);
  const sentinelTls = tlsOf(config.sentinelTls);
  return {
    sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
    name: config.masterName,
    ...(config.sentinelUsername !== undefined ? { sentinelUsername: config.sentinelUsername } : {}),
    ...(config.sentinelPassword !== undefined ? { sentinelPassword: config.sentinelPassword } : {}),
    ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
    ...(sentinelTls ? { sentinelTLS: sentinelTls } : {}),
    // Failovers are detected by FailoverWatcher (failover-watcher.ts says why not ioredis' own).
    failoverDetector: false,
    sentinelRetryStrategy: retry,
    sentinelCommandTimeout: config.connectTimeoutMs,
  };
}

const CLUSTER_HAS_ITS_OWN = 'a cluster config maps to ioredis options through clusterOptions()';

/** ioredis options of the connection that takes writes (always the master). */
export function writerOptions(config: ResolvedClientsConfig): RedisOptions {
  if (config.mode === 'cluster') throw new TypeError(CLUSTER_HAS_ITS_OWN);
  const base: RedisOptions = {
    ...common(config),
    commandTimeout: config.commandTimeoutMs,
    reconnectOnError: reconnectOnReadonly,
    connectionName: `${config.connectionName}-writer`,
  };
  if (config.mode === 'standalone') {
    const tls = tlsOf(config.tls);
    return {
      ...base,
      host: config.address.host,
      port: config.address.port,
      db: config.db,
      ...(tls ? { tls } : {}),
    };
  }
  return { ...base, ...sentinelPart(config), role: 'master' };
}

/**
 * ioredis options of the replica connection, or undefined when reads go to the
 * master (standalone, or readFrom: 'master').
 */
export function readerOptions(config: ResolvedClientsConfig): RedisOptions | undefined {
  if (config.mode === 'cluster') throw new TypeError(CLUSTER_HAS_ITS_OWN);
  if (config.mode === 'standalone' || config.readFrom === 'master') return undefined;
  const preferred = config.preferredReplicas.map((r) => ({
    ip: r.host,
    port: String(r.port),
    prio: r.priority ?? 1,
  }));
  return {
    ...common(config),
    ...sentinelPart(config),
    role: 'slave',
    ...(preferred.length > 0 ? { preferredSlaves: preferred } : {}),
    // A slow or gone replica costs at most readTimeoutMs before the read is retried on the master.
    commandTimeout: config.readTimeoutMs,
    // Fail queued reads at the first connection loss: the fallback to the master is faster.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectionName: `${config.connectionName}-reader`,
  };
}

/**
 * Hands a seed's host to the socket as written. ioredis resolves seed names
 * to IPs before dialling by default; a node reached by IP then fails a TLS
 * certificate issued for its name, and an IPv6-only name fails the IPv4
 * lookup ioredis makes. Node's own lookup runs at connect, with both families.
 */
export function dialAsWritten(
  host: string,
  callback: (error: NodeJS.ErrnoException | null, address: string) => void,
): void {
  callback(null, host);
}

/**
 * How often the client re-reads the slot map without being told to. ioredis
 * 6 does not by default: a replica that came back, or one added, would get
 * no reads until some command hit a MOVED or a closed connection.
 */
const SLOTS_REFRESH_INTERVAL_MS = 5000;

/** Cluster options whose reply mapping is the default one (the `Cluster` type infers it from here). */
type LegacyClusterOptions = ClusterOptions & {
  readonly redisOptions: NonNullable<ClusterOptions['redisOptions']> & {
    readonly replyMapping: 'legacy';
  };
};

/**
 * ioredis Cluster options for the writer (`reader: false`: every command to
 * the master of its slot) or the reader (reads spread by `scaleReads`). Each
 * node connection gets the data-node settings of the other modes: ACL user,
 * TLS (verified against the address the node is dialled at), timeouts and
 * the connection name. A node connection that drops is not redialled: ioredis
 * re-reads the slot map and follows it, which is how a failover is found.
 */
export function clusterOptions(
  config: ResolvedCluster,
  role: 'writer' | 'reader',
): { readonly nodes: Address[]; readonly options: LegacyClusterOptions } {
  const tls = tlsOf(config.tls);
  const { retryStrategy: _perNode, ...node } = common(config);
  const natMap = Object.keys(config.natMap).length > 0 ? { natMap: { ...config.natMap } } : {};
  return {
    nodes: config.nodes.map(({ host, port }) => ({ host, port })),
    options: {
      redisOptions: {
        ...node,
        ...(tls ? { tls } : {}),
        // Reads fail over to the writer quickly (read-client.ts), writes wait out their timeout.
        commandTimeout: role === 'reader' ? config.readTimeoutMs : config.commandTimeoutMs,
        connectionName: `${config.connectionName}-${role}`,
        // ioredis' default reply shapes, stated so the Cluster's type says which it returns.
        replyMapping: 'legacy',
      },
      scaleReads:
        role === 'writer' || config.scaleReads === 'master'
          ? 'master'
          : config.scaleReads === 'all'
            ? 'all'
            : 'slave',
      dnsLookup: dialAsWritten,
      ...natMap,
      // The whole cluster unreachable (every seed failed): try again, backing off like the other modes.
      clusterRetryStrategy: exponentialBackoff(
        config.reconnectMinDelayMs,
        config.reconnectMaxDelayMs,
      ),
      // A CLUSTER SLOTS on a fresh TLS connection needs the connect time plus one round trip.
      slotsRefreshTimeout: config.connectTimeoutMs,
      slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS,
      lazyConnect: false,
    },
  };
}
