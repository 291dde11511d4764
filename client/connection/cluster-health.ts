import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { nodeKey } from '../common/cluster-routing.js';
import { errorFields } from '../logging/logger.js';
import type { Address } from './config.js';
import {
  DNS_FAILURES_BEFORE_FINAL,
  finalConnectError,
  finalReasonOf,
  hintFor,
  RedisConnectError,
  readyOrFinal,
} from './connect-errors.js';
import { speaksOtherProtocol } from './protocol-probe.js';

/** ioredis' stand-in for the real error when a node connection closes before its command ran. */
const CONNECTION_CLOSED = 'Connection is closed.';

/** ioredis' error when every node of a slot refresh failed (ClusterAllFailedError.defaultMessage). */
const ALL_NODES_FAILED = 'Failed to refresh slots cache.';

interface NodeState {
  /** The last real error of the node (never ioredis' "Connection is closed." stand-in). */
  last?: Error;
  dnsFailures: number;
  /** A protocol probe was started for the node since the last ready. */
  probed?: boolean;
  /** A mistake retrying cannot fix, seen on this node (final once no other node can make up for it). */
  unfixable?: RedisConnectError;
}

/**
 * What the cluster writer has learned about reaching its nodes before it
 * was first ready, so `ready()` can name the node and the fix.
 *
 * ioredis learns the cluster from its seeds with a CLUSTER SLOTS on a
 * short-lived duplicate of each node connection, and reports a failure there
 * as `node error` with only "Connection is closed." when the connect itself
 * failed: the real error (ECONNREFUSED, a TLS verification failure, a
 * timeout) goes to the duplicate's own `error` event, which ioredis ignores.
 * So the duplicates are followed from the moment they are made (`+node`,
 * then the node's `duplicate`).
 *
 * A refused password, a node without `cluster-enabled`, a TLS failure, a
 * name that does not resolve and a TLS/plain mismatch (proven by trying the
 * other protocol once, protocol-probe.ts) cannot be fixed by retrying that
 * node. They are final only when no other seed makes up for them: once every
 * node of a slot refresh has failed (ioredis' "Failed to refresh slots
 * cache.") with none answering since. ioredis tries the seeds in a shuffled
 * order, so one stale seed among good ones must not fail ready() on the
 * orders that try it first; it is logged, naming the node, once the cluster
 * is ready (`redis.cluster_node_unusable`).
 */
export class ClusterHealth {
  private readonly nodes = new Map<string, NodeState>();
  private final: RedisConnectError | undefined;
  private readonly listeners = new Set<(error: RedisConnectError) => void>();
  private everReady = false;
  /** Every node of a slot refresh failed, and none has answered a slot refresh since. */
  private allFailed = false;
  private logger: Logger | undefined;
  /** Warnings from before logTo(). */
  private readonly unlogged: (() => void)[] = [];

  constructor(
    private readonly seeds: readonly Address[],
    private readonly tls: boolean,
    private readonly probeTimeoutMs: number,
    /** The Cluster watched, for the log lines. */
    private readonly role: 'writer' | 'reader' = 'writer',
  ) {}

  /** Follows `cluster`'s node connections and their CLUSTER SLOTS duplicates. */
  watch(cluster: Cluster): void {
    cluster.on('+node', (redis: Redis) => this.follow(redis));
    for (const redis of cluster.nodes('all')) this.follow(redis);
    cluster.on('node error', (error: Error, key: string) => this.nodeError(key, error));
    cluster.on('error', (error: Error) => {
      if (error?.message === ALL_NODES_FAILED) this.roundFailed();
    });
    cluster.on('refresh', () => {
      this.allFailed = false;
    });
    cluster.on('ready', () => this.connected());
  }

  /** Where warnings go (the instrumentation's logger, made after the Cluster). */
  logTo(logger: Logger): void {
    this.logger = logger;
    for (const warn of this.unlogged.splice(0)) warn();
  }

  private follow(redis: Redis): void {
    const key = nodeKey(redis);
    const duplicate = redis.duplicate;
    // An own property on this node connection only: ioredis calls it for the slot refresh.
    redis.duplicate = ((...args: Parameters<Redis['duplicate']>) => {
      const copy = duplicate.apply(redis, args);
      copy.on('error', (error: Error) => this.nodeError(key, error));
      return copy;
    }) as Redis['duplicate'];
  }

  /** An error of node `key` (`host:port`), from ioredis or from a slot-refresh duplicate. */
  nodeError(key: string, error: Error): void {
    if (error?.message === CONNECTION_CLOSED) {
      this.maybeProbe(key);
      return;
    }
    const state = this.stateOf(key);
    state.last = error;
    if (this.everReady) return;
    const reason = finalReasonOf(error);
    state.dnsFailures = reason === 'dns' ? state.dnsFailures + 1 : 0;
    if (reason === 'dns' && state.dnsFailures < DNS_FAILURES_BEFORE_FINAL) return;
    if (reason !== undefined) {
      this.unfixable(key, finalConnectError(reason, `Redis Cluster node ${key}`, error));
      return;
    }
    if (this.tls ? isUnansweredHandshake(error) : isClosedUnanswered(error)) this.maybeProbe(key);
  }

  /** Calls `listener` at the first final error (now, if there is one already); returns the unsubscribe. */
  onFinal(listener: (error: RedisConnectError) => void): () => void {
    if (this.final) {
      listener(this.final);
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What ready() rejects with when its time runs out: every seed, and what it last did. */
  timeoutError(timeoutMs: number, status: string): RedisConnectError {
    const tried = this.seeds.map((seed) => {
      const key = `${seed.host}:${seed.port}`;
      const last = this.nodes.get(key)?.last;
      return last === undefined ? key : `${key} (${last.message}${hintFor(last, this.tls)})`;
    });
    const last = [...this.nodes.values()].map((n) => n.last).find((e) => e !== undefined);
    return new RedisConnectError(
      'timeout',
      `Redis Cluster not ready after ${timeoutMs} ms (status ${status}); seed nodes tried: ${tried.join(', ')}`,
      { cause: last === undefined ? undefined : errorFields(last) },
    );
  }

  private connected(): void {
    if (!this.everReady) {
      for (const [key, state] of this.nodes) {
        if (state.unfixable !== undefined) this.warnUnusable(key, state.unfixable);
      }
    }
    this.everReady = true;
    this.final = undefined;
    this.allFailed = false;
    this.nodes.clear();
  }

  /** A node's mistake that retrying cannot fix: final now if no node can make up for it. */
  private unfixable(key: string, error: RedisConnectError): void {
    if (this.everReady) {
      // A probe that answered after the cluster was reached through another node.
      this.warnUnusable(key, error);
      return;
    }
    this.stateOf(key).unfixable ??= error;
    if (this.allFailed) this.fail(error);
  }

  /** A slot refresh in which every node failed: the first unfixable mistake seen is final. */
  private roundFailed(): void {
    this.allFailed = true;
    if (this.everReady) return;
    for (const state of this.nodes.values()) {
      if (state.unfixable !== undefined) {
        this.fail(state.unfixable);
        return;
      }
    }
  }

  private warnUnusable(key: string, error: RedisConnectError): void {
    const warn = () =>
      this.logger?.warn(
        {
          event: 'redis.cluster_node_unusable',
          role: this.role,
          node: key,
          reason: error.reason,
          err: errorFields(error),
        },
        'a Redis Cluster node cannot be used (retrying will not fix it); the cluster was reached through another node',
      );
    if (this.logger === undefined) this.unlogged.push(warn);
    else warn();
  }

  private maybeProbe(key: string): void {
    const state = this.stateOf(key);
    if (this.everReady || state.probed) return;
    const address = addressOf(key);
    if (address === undefined) return;
    state.probed = true;
    void speaksOtherProtocol(address, this.tls, this.probeTimeoutMs).then((other) => {
      if (other) this.unfixable(key, this.mismatch(key));
    });
  }

  /** What a probe that got an answer in the other protocol proves. */
  private mismatch(key: string): RedisConnectError {
    const message = this.tls
      ? `speaks plain TCP, not TLS (a TLS handshake got no answer, a plain PING did): set tls: false for a plain cluster, or check the port`
      : `speaks TLS (it closed a plain connection, and completed a TLS handshake): configure tls ({ caFile, certFile, keyFile })`;
    return new RedisConnectError('tls', `Redis Cluster node ${key} ${message}`);
  }

  private stateOf(key: string): NodeState {
    let state = this.nodes.get(key);
    if (state === undefined) {
      state = { dnsFailures: 0 };
      this.nodes.set(key, state);
    }
    return state;
  }

  private fail(error: RedisConnectError): void {
    if (this.final || this.everReady) return;
    this.final = error;
    for (const listener of [...this.listeners]) listener(error);
  }
}

/**
 * A TLS connect that timed out: the handshake got no answer (plain ports read
 * it as a command). ioredis reports it as `connect ETIMEDOUT`, or, when its
 * slot refresh gives up first, as a bare `timeout`; either way the probe then
 * tells a plain port from a hung server.
 */
function isUnansweredHandshake(error: Error): boolean {
  return (
    (error as { code?: unknown }).code === 'ETIMEDOUT' ||
    /\bETIMEDOUT\b/.test(error.message) ||
    error.message === 'timeout'
  );
}

/** A plain connection the server dropped before any reply: what a TLS port does with plain text. */
function isClosedUnanswered(error: Error): boolean {
  return /ECONNRESET|socket hang up|EPIPE/.test(
    `${(error as { code?: unknown }).code ?? ''} ${error.message}`,
  );
}

/** `host:port` (the host may be IPv6, unbracketed, as ioredis keys nodes). */
function addressOf(key: string): Address | undefined {
  const colon = key.lastIndexOf(':');
  const port = Number(key.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return undefined;
  return { host: key.slice(0, colon), port };
}

/**
 * Resolves when `cluster` is ready; rejects with RedisConnectError at the
 * first final error `health` learns of, or after `timeoutMs` naming every
 * seed and its last error.
 */
export function whenClusterReady(
  cluster: Cluster,
  health: ClusterHealth,
  timeoutMs: number,
): Promise<void> {
  return readyOrFinal(cluster, timeoutMs, {
    onFinal: (listener) => health.onFinal(listener),
    timedOut: () => health.timeoutError(timeoutMs, cluster.status),
    ended: 'Redis Cluster connection ended before it was ready',
  });
}

/**
 * Waits for the reader Cluster as ready() waits for the writer, but never
 * fails: reads go to the masters while the reader is not ready
 * (read-client.ts), so an app works without it, only slower and with the
 * masters carrying the reads. A reader that is still not ready after
 * `timeoutMs` or has a final error (a replica-only TLS or ACL problem) is
 * logged instead (`redis.cluster_reader_unready`, naming the nodes and
 * their errors); `redscope_client_connection_up{role="reader"}` reads 0
 * meanwhile. Nothing is logged when `closing()` says the app closed the
 * clients first.
 */
export async function watchReaderReady(
  reader: Cluster,
  health: ClusterHealth,
  timeoutMs: number,
  logger: Logger,
  closing: () => boolean,
): Promise<void> {
  try {
    await whenClusterReady(reader, health, timeoutMs);
  } catch (error) {
    if (closing()) return;
    logger.warn(
      { event: 'redis.cluster_reader_unready', err: errorFields(error) },
      'the Redis Cluster reader is not ready: reads go to the masters until it is',
    );
  }
}
