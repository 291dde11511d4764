import { createHmac, randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../client/common/backoff.js';
import type { ConnectionFacts, KeyCommand, TargetMode } from './collectors/types.js';
import type { RedisTls } from './config.js';
import { parseInfo } from './info-parser.js';
import { ScrapeTimeoutError } from './scrape-errors.js';
import type { Target } from './target.js';
import type { TargetAccess } from './target-credentials.js';

/** Reconnect backoff after a failed connect: doubles from 100 ms, capped so a recovered target is seen within 2 s. */
const reconnectDelay = exponentialBackoff(100, 2000);
/** Connections to targets nobody scraped for this long are closed. */
const IDLE_CLOSE_MS = 10 * 60_000;

/** ioredis' `tls` option for a `rediss://` target, from the exporter's --tls-* settings; none for `redis://`. */
export function tlsOptionsFor(target: Target, tls: RedisTls): Pick<RedisOptions, 'tls'> {
  if (target.scheme !== 'rediss') return {};
  return {
    tls: {
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      rejectUnauthorized: !tls.insecureSkipVerify,
    },
  };
}

/** Rejects with ScrapeTimeoutError at `deadline` (ms since epoch) unless `work` settles first. */
export function withDeadline<T>(work: Promise<T>, deadline: number, budgetMs: number): Promise<T> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) {
    work.catch(() => undefined);
    return Promise.reject(new ScrapeTimeoutError(budgetMs));
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ScrapeTimeoutError(budgetMs)), remaining);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Runs `commands` in one pipeline on `client` by `deadline`: one settled
 * result per command (a command Redis refused is `rejected`, the others
 * still answer). Rejects as a whole only on a timeout or a lost connection.
 * With `buffers`, bulk replies come back as Buffers (key names that are not UTF-8).
 */
export async function pipelineRoundTrip(
  client: Redis,
  commands: readonly KeyCommand[],
  deadline: number,
  budgetMs: number,
  buffers = false,
): Promise<PromiseSettledResult<unknown>[]> {
  if (commands.length === 0) return [];
  const pipeline = client.pipeline();
  for (const [name, ...args] of commands) {
    if (buffers) pipeline.callBuffer(String(name), ...args);
    else pipeline.call(String(name), ...args);
  }
  const results = (await withDeadline(pipeline.exec(), deadline, budgetMs)) ?? [];
  return results.map(
    ([error, value]): PromiseSettledResult<unknown> =>
      error ? { status: 'rejected', reason: error } : { status: 'fulfilled', value },
  );
}

/**
 * One persistent connection to one target with one set of credentials, opened
 * on the first scrape and reused by the next ones (no TCP+TLS handshake per
 * scrape). After a failure the next connect waits out a backoff, answering
 * scrapes with the last error meanwhile, so a dead target costs nothing but a
 * fast `redis_up 0`.
 */
export class TargetConnection {
  private client: Redis | undefined;
  private connecting: Promise<Redis> | undefined;
  private failures = 0;
  private retryAt = 0;
  private lastError: unknown;
  private facts: ConnectionFacts = {};
  /** Learnt from INFO when the connection opens; kept across reconnects. */
  mode: TargetMode | undefined;
  lastUsed = Date.now();
  /** The collection in flight, shared by concurrent scrapes (single-flight). */
  inflight: Promise<unknown> | undefined;
  /** Why the last collection failed, until one succeeds (logs only the transitions). */
  failingReason: string | undefined;
  /** Seconds the last connect of this scrape took (0 when the connection was reused). */
  lastConnectSeconds = 0;

  readonly target: Target;
  /** Connections to the target's other logical databases, opened for the key collectors. */
  private readonly databases = new Map<number, TargetConnection>();

  constructor(
    private readonly access: TargetAccess,
    private readonly tls: RedisTls,
    private readonly logger: Logger,
    /**
     * The pool's key of this connection: the target and an HMAC of the
     * credentials (CollectContext.scope). A database connection shares its parent's.
     */
    readonly scope: string = access.target.key,
    /** The logical database this connection SELECTs when it opens (0: none). */
    private readonly db = 0,
  ) {
    this.target = access.target;
  }

  /** A ready client on logical database `db` of the same target with the same credentials. */
  async database(db: number, deadline: number, budgetMs: number): Promise<Redis> {
    if (db === this.db) return this.ready(deadline, budgetMs);
    let connection = this.databases.get(db);
    if (!connection) {
      connection = new TargetConnection(this.access, this.tls, this.logger, this.scope, db);
      this.databases.set(db, connection);
    }
    return connection.ready(deadline, budgetMs);
  }

  /** Drops the connection to database `db` (after a timeout: a late reply could answer the next command). */
  discardDatabase(db: number): void {
    if (db === this.db) this.discard();
    else this.databases.get(db)?.discard();
  }

  get connection(): ConnectionFacts {
    return this.facts;
  }

  /** A ready client, connecting first if needed; rejects with the connect error or a timeout. */
  async ready(deadline: number, budgetMs: number): Promise<Redis> {
    this.lastUsed = Date.now();
    this.lastConnectSeconds = 0;
    if (this.client && this.client.status === 'ready') return this.client;
    if (!this.connecting) {
      if (Date.now() < this.retryAt && this.lastError !== undefined) throw this.lastError;
      this.connecting = this.open(deadline);
      this.connecting.then(
        () => {
          this.connecting = undefined;
        },
        () => {
          this.connecting = undefined;
        },
      );
    }
    return withDeadline(this.connecting, deadline, budgetMs);
  }

  private async open(deadline: number): Promise<Redis> {
    this.discard();
    const started = performance.now();
    const options: RedisOptions = {
      host: this.target.host,
      port: this.target.port,
      // IPv4 and IPv6: a target named by a private-network name may have only an AAAA record.
      // The target is dialled by its name, so TLS checks the certificate against that name.
      family: 0,
      lazyConnect: true,
      // Our own connect-on-scrape with backoff replaces ioredis' timer-driven reconnects.
      retryStrategy: () => null,
      enableReadyCheck: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      // RESP2 like redis_exporter, and no CLIENT SETINFO: the least-privilege ACL stays small.
      protocol: 2,
      disableClientInfo: true,
      connectTimeout: Math.max(100, deadline - Date.now()),
      // No `db` option: ioredis would send SELECT and, when Redis refuses it (an ACL without
      // +select, a database past `databases`), only emit an error and stay on db 0.
      ...(this.access.auth.username ? { username: this.access.auth.username } : {}),
      ...(this.access.auth.password ? { password: this.access.auth.password } : {}),
      ...tlsOptionsFor(this.target, this.tls),
    };
    const client = new Redis(options);
    // connect() rejects with a generic "Connection is closed"; the cause (WRONGPASS,
    // a certificate the CA did not sign, garbage) arrives as an 'error' event first.
    let cause: Error | undefined;
    client.on('error', (error: Error) => {
      cause ??= error;
      this.logger.debug({ target: this.target.key, err: error.message }, 'target connection error');
    });
    this.client = client;
    try {
      await client.connect();
      if (this.db !== 0) {
        // Our own SELECT, so a refusal fails the connect instead of reading db 0's keys
        // under another database's label. A database connection needs no INFO: its
        // parent learnt the mode.
        await client.call('SELECT', String(this.db));
      } else {
        const info = parseInfo(String(await client.call('INFO', 'server')));
        this.mode = modeOf(info.fields.get('redis_mode'));
      }
      this.facts = { ...peerCertificate(client) };
      this.failures = 0;
      this.lastError = undefined;
      this.lastConnectSeconds = (performance.now() - started) / 1000;
      return client;
    } catch (thrown) {
      const error = cause ?? thrown;
      this.failures++;
      this.retryAt = Date.now() + reconnectDelay(this.failures);
      this.lastError = error;
      if (this.client === client) this.discard();
      else client.disconnect();
      throw error;
    }
  }

  /** Drops the connection (after a timeout its reply stream cannot be trusted). */
  discard(): void {
    const client = this.client;
    this.client = undefined;
    if (client) client.disconnect();
  }

  close(): void {
    this.discard();
    for (const connection of this.databases.values()) connection.close();
    this.databases.clear();
  }
}

/** `redis_mode` of INFO server: standalone, cluster or sentinel (absent before Redis 3: standalone). */
function modeOf(redisMode: string | undefined): TargetMode {
  if (redisMode === 'sentinel') return 'sentinel';
  if (redisMode === 'cluster') return 'cluster';
  return 'redis';
}

function peerCertificate(client: Redis): ConnectionFacts {
  const stream = (client as unknown as { stream?: Partial<TLSSocket> }).stream;
  if (!stream || typeof stream.getPeerCertificate !== 'function') return {};
  const cert = stream.getPeerCertificate();
  if (!cert?.valid_to) return {};
  const notAfter = Date.parse(cert.valid_to);
  if (!Number.isFinite(notAfter)) return {};
  const cn = cert.subject?.CN;
  return {
    tlsPeer: {
      cn: Array.isArray(cn) ? cn.join(',') : (cn ?? ''),
      notAfterSeconds: notAfter / 1000,
    },
  };
}

/**
 * The connections to every target scraped recently, one per target and
 * credentials, closed when idle. /metrics and /scrape may reach one address
 * with different credentials: each gets the connection its own credentials
 * opened, whichever endpoint came first, and never joins a collection the
 * other started.
 */
export class TargetPool {
  private readonly connections = new Map<string, TargetConnection>();
  /** Keys an HMAC of the credentials: no password in a key, nor a bare hash a word list could reverse. */
  private readonly keySecret = randomBytes(32);

  constructor(
    private readonly tls: RedisTls,
    private readonly logger: Logger,
  ) {}

  get(access: TargetAccess): TargetConnection {
    this.closeIdle();
    const key = this.keyOf(access);
    let connection = this.connections.get(key);
    if (!connection) {
      connection = new TargetConnection(access, this.tls, this.logger, key);
      this.connections.set(key, connection);
    }
    return connection;
  }

  get size(): number {
    return this.connections.size;
  }

  private keyOf({ target, auth }: TargetAccess): string {
    // Empty counts as absent, as when the connection opens: both log in the same way.
    const credentials = createHmac('sha256', this.keySecret)
      .update(JSON.stringify([auth.username || null, auth.password || null]))
      .digest('base64url');
    return `${target.key} ${credentials}`;
  }

  private closeIdle(): void {
    const cutoff = Date.now() - IDLE_CLOSE_MS;
    for (const [key, connection] of this.connections) {
      if (connection.lastUsed < cutoff && !connection.inflight) {
        connection.close();
        this.connections.delete(key);
      }
    }
  }

  closeAll(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}
