import type { Redis } from 'ioredis';
import { isTlsError } from '../common/tls-errors.js';
import { errorFields } from '../logging/logger.js';
import type { Address } from './config.js';

/** Why connecting cannot succeed however often it is retried. */
export type FinalConnectReason =
  /** The ACL user or password was refused (WRONGPASS, NOAUTH). */
  | 'auth'
  /** The TLS handshake failed: an unknown CA, a name mismatch, an expired certificate, TLS against a plain port. */
  | 'tls'
  /** The host name does not resolve, or no DNS server answers for it. */
  | 'dns'
  /** The Sentinels answered, but none monitors a master of that name. */
  | 'master-name'
  /** A seed node of a cluster config answered, but runs without `cluster-enabled yes`. */
  | 'not-cluster';

/**
 * `ready()` gave up: a connection error that retrying cannot fix (`reason`
 * is one of FinalConnectReason, reported as soon as it is seen), or no
 * connection within the time allowed (`reason` is `timeout`, with the last
 * error seen). The message names the node and what to change.
 */
export class RedisConnectError extends Error {
  override readonly name = 'RedisConnectError';
  constructor(
    readonly reason: FinalConnectReason | 'timeout',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What to change for each final reason; `role` is the kind of node that
 * refused, `error` the error seen (a DNS server that does not answer needs
 * another fix than a name that does not exist).
 */
const ADVICE: Record<FinalConnectReason, (role: 'Redis' | 'Sentinel', error: Error) => string> = {
  auth: (role) =>
    role === 'Sentinel'
      ? 'check sentinelUsername and sentinelPassword'
      : 'check username and password (the ACL user of the data nodes)',
  tls: (role) =>
    role === 'Sentinel'
      ? 'check sentinelTls (caFile, certFile, keyFile), and that the Sentinel port speaks TLS'
      : 'check tls (caFile, certFile, keyFile, servername), and that the port speaks TLS',
  dns: (_role, error) =>
    isUnansweredLookup(error)
      ? 'check the DNS servers this process uses (/etc/resolv.conf) and that they are reachable'
      : 'the host name does not resolve; check the address',
  'master-name': () => 'check masterName against "sentinel monitor <name> ..." on the Sentinels',
  'not-cluster': () =>
    'it is not a Redis Cluster node: check cluster.nodes, or use url or sentinels for a Redis without cluster-enabled',
};

/** The RedisConnectError for a final `reason` seen on data node `node` ("Redis 10.0.0.5:6379", "Redis Cluster node ..."). */
export function finalConnectError(
  reason: FinalConnectReason,
  node: string,
  error: Error,
): RedisConnectError {
  return new RedisConnectError(
    reason,
    `${node}: ${error.message}; ${ADVICE[reason]('Redis', error)}`,
    { cause: errorFields(error) },
  );
}

/** A lookup no DNS server answered in time (client/connection/unanswered-dns.ts words it). */
function isUnansweredLookup(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  return e?.code === 'EAI_AGAIN' || /\bEAI_AGAIN\b/.test(String(e?.message ?? ''));
}

/**
 * The reason an error can never be fixed by retrying, if it is one of those.
 * A connection closed or reset during the TLS handshake is not one: a server
 * at maxclients, restarting, or a proxy without a backend does that too.
 */
export function finalReasonOf(error: unknown): FinalConnectReason | undefined {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (/^(WRONGPASS|NOAUTH)\b|invalid username-password pair|-NOAUTH/.test(message)) return 'auth';
  if (/cluster support disabled/.test(message)) return 'not-cluster';
  if (code === 'ENOTFOUND' || /\bENOTFOUND\b/.test(message)) return 'dns';
  // No DNS server answered (the resolver's EAI_AGAIN, or a connect that timed out during the
  // lookup, reworded by unanswered-dns.ts): as final as a missing name, after as many tries.
  if (isUnansweredLookup(error)) return 'dns';
  if (code !== undefined && TRANSIENT_CODES.has(code)) return undefined;
  if (isTlsError(error)) return 'tls';
  return undefined;
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED']);

/**
 * A name that does not resolve may be a service not created yet (a pod, a
 * container that starts alongside), and a DNS server may be restarting: final
 * only after this many failures in a row (ready() reports it at its timeout if
 * that comes first).
 */
export const DNS_FAILURES_BEFORE_FINAL = 3;

/**
 * What the factory has learned about reaching Redis: the last error of the
 * master connection, final errors of the data nodes, and each Sentinel's
 * state as the failover watcher and ioredis' Sentinel lookup see it. `ready()`
 * fails as soon as this holds a final error, instead of retrying until its timeout.
 */
export class ConnectHealth {
  private lastError: Error | undefined;
  private final: RedisConnectError | undefined;
  /** A DNS failure of the master connection not yet repeated enough to be final. */
  private pendingDns: RedisConnectError | undefined;
  private readonly sentinelFinal = new Map<string, RedisConnectError>();
  /** Sentinels that answered "no such master" in the current lookup round. */
  private unknownMaster = 0;
  private dnsFailures = 0;
  private readonly listeners = new Set<(error: RedisConnectError) => void>();

  constructor(private readonly sentinels: readonly Address[] = []) {}

  /** An error of the master (or standalone) connection. */
  dataNodeError(error: Error, node: string): void {
    this.lastError = error;
    const reason = finalReasonOf(error);
    this.dnsFailures = reason === 'dns' ? this.dnsFailures + 1 : 0;
    this.pendingDns = undefined;
    if (reason === undefined) return;
    const final = finalConnectError(reason, `Redis ${node}`, error);
    if (reason === 'dns' && this.dnsFailures < DNS_FAILURES_BEFORE_FINAL) {
      this.pendingDns = final;
      return;
    }
    this.fail(final);
  }

  /** An error of the watcher's own connection to one Sentinel (it carries the real TLS or auth error). */
  sentinelError(sentinel: Address, error: Error): void {
    this.lastError = error;
    const reason = finalReasonOf(error);
    const key = `${sentinel.host}:${sentinel.port}`;
    if (reason === undefined) {
      this.sentinelFinal.delete(key);
      return;
    }
    this.sentinelFinal.set(
      key,
      new RedisConnectError(
        reason,
        `Sentinel ${key}: ${error.message}; ${ADVICE[reason]('Sentinel', error)}`,
        { cause: errorFields(error) },
      ),
    );
    // One bad Sentinel among good ones is a warning, not a failure: the others still answer.
    if (this.sentinels.every((s) => this.sentinelFinal.has(`${s.host}:${s.port}`))) {
      this.fail(this.sentinelFinal.get(key) as RedisConnectError);
    }
  }

  /** A Sentinel answered: forget a final error it had (fixed, or a passing fault). */
  sentinelReachable(sentinel: Address): void {
    this.sentinelFinal.delete(`${sentinel.host}:${sentinel.port}`);
  }

  /** ioredis' `sentinelError` event: one Sentinel of the lookup round failed or did not know the master. */
  lookupFailed(error: Error): void {
    // Redis 7 Sentinels answer an unknown name with an error, older ones with a null reply.
    if (
      /No such master with that name|successfully, but got an invalid reply: null/.test(
        error.message,
      )
    ) {
      this.unknownMaster += 1;
    }
  }

  /** The end of a lookup round in which no Sentinel gave a master (ioredis' "All sentinels are unreachable"). */
  lookupRoundFailed(masterName: string, error: Error): void {
    this.lastError = this.lastError ?? error;
    const unknown = this.unknownMaster;
    this.unknownMaster = 0;
    // A majority that knows no such master: not one misconfigured or freshly started Sentinel.
    if (unknown >= Math.floor(this.sentinels.length / 2) + 1) {
      this.fail(
        new RedisConnectError(
          'master-name',
          `${unknown} Sentinel(s) answered but monitor no master named "${masterName}"; ${ADVICE['master-name']('Sentinel', error)}`,
        ),
      );
    }
  }

  /** The final error seen so far, if any. */
  get finalError(): RedisConnectError | undefined {
    return this.final;
  }

  get last(): Error | undefined {
    return this.lastError;
  }

  /**
   * What ready() reports when its time runs out: the master connection's last
   * error was a DNS failure not yet repeated enough to be final (a DNS server
   * that does not answer costs a whole connect timeout per try).
   */
  get atTimeout(): RedisConnectError | undefined {
    return this.pendingDns;
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

  /** The master is connected: earlier errors no longer describe the connection. */
  connected(): void {
    this.final = undefined;
    this.lastError = undefined;
    this.unknownMaster = 0;
    this.dnsFailures = 0;
    this.pendingDns = undefined;
  }

  private fail(error: RedisConnectError): void {
    if (this.final) return;
    this.final = error;
    for (const listener of [...this.listeners]) listener(error);
  }
}

/**
 * Resolves when `client` is ready; rejects with RedisConnectError at the
 * first final error `health` learns of, or after `timeoutMs` naming the last
 * error seen.
 */
export function whenReady(
  client: Redis,
  health: ConnectHealth,
  timeoutMs: number,
  tls: boolean,
): Promise<void> {
  return readyOrFinal(client, timeoutMs, {
    onFinal: (listener) => health.onFinal(listener),
    timedOut: () => {
      const dns = health.atTimeout;
      if (dns !== undefined) return dns;
      const last = health.last;
      return new RedisConnectError(
        'timeout',
        `Redis not ready after ${timeoutMs} ms (status ${client.status}${last ? `; last error: ${last.message}${hintFor(last, tls)}` : ''})`,
        { cause: last === undefined ? undefined : errorFields(last) },
      );
    },
    ended: 'Redis connection ended before it was ready',
  });
}

/** What readyOrFinal watches: an ioredis Redis or Cluster. */
interface Connecting {
  readonly status: string;
  on(event: 'ready' | 'end', listener: () => void): unknown;
  off(event: 'ready' | 'end', listener: () => void): unknown;
}

/**
 * The wait every ready() shares: resolves when `client` is ready; rejects
 * with the first final error `onFinal` reports, with a `timeout`
 * RedisConnectError saying `ended` when the client ends first, or with
 * `timedOut()` after `timeoutMs`.
 */
export function readyOrFinal(
  client: Connecting,
  timeoutMs: number,
  outcome: {
    /** Subscribes to final errors (called at once with one already known); returns the unsubscribe. */
    onFinal(listener: (error: RedisConnectError) => void): () => void;
    timedOut(): Error;
    ended: string;
  },
): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let stopFinal: (() => void) | undefined;
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      stopFinal?.();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => finish(outcome.timedOut()), timeoutMs);
    const onReady = () => finish();
    const onEnd = () => finish(new RedisConnectError('timeout', outcome.ended));
    client.on('ready', onReady);
    client.on('end', onEnd);
    // onFinal may call back at once (a final error already known): finish() ran before the
    // unsubscribe existed, so it is called here.
    stopFinal = outcome.onFinal((error) => finish(error));
    if (finished) stopFinal();
  });
}

/**
 * What a TLS mismatch looks like from the client, which cannot tell it apart
 * from a hung server for sure: a plain client against a TLS port sees the
 * connection closed before any reply; a TLS client against a plain port waits
 * for a handshake the server never answers.
 */
export function hintFor(error: Error, tls: boolean): string {
  if (!tls && /Connection is closed|ECONNRESET|socket hang up/.test(error.message)) {
    return ' (a server that closes the connection during the handshake often expects TLS: use rediss:// or the tls option)';
  }
  if (tls && /ETIMEDOUT/.test(error.message)) {
    return ' (with TLS on, a handshake that never finishes often means the port speaks plain TCP: use redis:// or tls: false)';
  }
  return '';
}
