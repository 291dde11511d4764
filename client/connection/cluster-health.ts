import type { Cluster, Redis } from 'ioredis';
import { errorFields } from '../logging/logger.js';
import type { Address } from './config.js';
import { finalConnectError, finalReasonOf, hintFor, RedisConnectError } from './connect-errors.js';
import { speaksOtherProtocol } from './protocol-probe.js';

/** ioredis' stand-in for the real error when a node connection closes before its command ran. */
const CONNECTION_CLOSED = 'Connection is closed.';

/** As in Sentinel mode (connect-errors.ts): a name that does not resolve is final after this many tries. */
const DNS_FAILURES_BEFORE_FINAL = 3;

interface NodeState {
  /** The last real error of the node (never ioredis' "Connection is closed." stand-in). */
  last?: Error;
  dnsFailures: number;
  /** A protocol probe was started for the node since the last ready. */
  probed?: boolean;
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
 * then the node's `duplicate`). A refused password, a node without
 * `cluster-enabled`, a TLS failure and a name that does not resolve are final
 * as soon as one seed shows them (they are config mistakes: the same
 * credentials and TLS settings go to every node); a TLS/plain mismatch is
 * proven by trying the other protocol once (protocol-probe.ts).
 */
export class ClusterHealth {
  private readonly nodes = new Map<string, NodeState>();
  private final: RedisConnectError | undefined;
  private readonly listeners = new Set<(error: RedisConnectError) => void>();
  private everReady = false;

  constructor(
    private readonly seeds: readonly Address[],
    private readonly tls: boolean,
    private readonly probeTimeoutMs: number,
  ) {}

  /** Follows `cluster`'s node connections and their CLUSTER SLOTS duplicates. */
  watch(cluster: Cluster): void {
    cluster.on('+node', (redis: Redis) => this.follow(redis));
    for (const redis of cluster.nodes('all')) this.follow(redis);
    cluster.on('node error', (error: Error, key: string) => this.nodeError(key, error));
    cluster.on('ready', () => this.connected());
  }

  private follow(redis: Redis): void {
    const key = `${redis.options.host}:${redis.options.port}`;
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
      this.fail(finalConnectError(reason, `Redis Cluster node ${key}`, error));
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
    this.everReady = true;
    this.final = undefined;
    this.nodes.clear();
  }

  private maybeProbe(key: string): void {
    const state = this.stateOf(key);
    if (this.everReady || state.probed) return;
    const address = addressOf(key);
    if (address === undefined) return;
    state.probed = true;
    void speaksOtherProtocol(address, this.tls, this.probeTimeoutMs).then((other) => {
      if (!other || this.everReady) return;
      const message = this.tls
        ? `speaks plain TCP, not TLS (a TLS handshake got no answer, a plain PING did): set tls: false for a plain cluster, or check the port`
        : `speaks TLS (it closed a plain connection, and completed a TLS handshake): configure tls ({ caFile, certFile, keyFile })`;
      this.fail(new RedisConnectError('tls', `Redis Cluster node ${key} ${message}`));
    });
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
  if (cluster.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      cluster.off('ready', onReady);
      cluster.off('end', onEnd);
      stopFinal();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(health.timeoutError(timeoutMs, cluster.status)),
      timeoutMs,
    );
    const onReady = () => finish();
    const onEnd = () =>
      finish(
        new RedisConnectError('timeout', 'Redis Cluster connection ended before it was ready'),
      );
    cluster.on('ready', onReady);
    cluster.on('end', onEnd);
    const stopFinal = health.onFinal((error) => finish(error));
  });
}
