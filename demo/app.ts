import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Cluster, Redis } from 'ioredis';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import {
  createLogger,
  createSessionCache,
  type Logger,
  type RedisClients,
  requestContextMiddleware,
  type SessionCache,
  type SessionRecord,
} from '../client/index.js';
import { DEMO_DEFAULTS, LOAD_HEADER, LOGGED_LOAD_SHARE } from './defaults.js';
import { openReturningSessions, type ReturningSessions } from './returning-sessions.js';
import { DemoDatabase, demoUsers } from './users.js';

export interface DemoOptions {
  /** The Redis connections from createRedisClients; the caller closes them. */
  readonly clients: RedisClients<Redis | Cluster>;
  /** The registry the clients were created with, served at /metrics with the session and process metrics. */
  readonly registry: Registry;
  /** Where to listen (default 127.0.0.1 and a free port). */
  readonly host?: string;
  readonly port?: number;
  readonly logger?: Logger;
  /** Spans for requests and session validations (default true; needs startTelemetry() to export them). */
  readonly tracing?: boolean;
  /** Prefix of the demo's Redis keys (default `demo:`). */
  readonly keyPrefix?: string;
  /** Demo accounts `user-0..N-1` with passwords `password-0..` (default 100). */
  readonly users?: number;
  /** Session lifetime (default 900 s). */
  readonly sessionTtlSeconds?: number;
  /**
   * The database of record; default a new one with `users` accounts, its
   * sessions in `databaseDir` (or in memory). Pass one to keep its sessions
   * across restarts of the app in one process.
   */
  readonly database?: DemoDatabase;
  /** Folder of the sessions (one file per token hash), for a database made here (default: memory). */
  readonly databaseDir?: string;
  /**
   * The session cache warms itself from the database, in the background:
   * on start and after a miss storm, the most used sessions first (the usage
   * record of `<keyPrefix>session:`: list it in the clients' `usage` option).
   * `false` turns it off. Default on, at the warmer's default rate and limit.
   */
  readonly warming?: false | DemoWarming;
  /**
   * Start as an app restarted in front of a cold cache: sessions of
   * returning users in the database and in the usage record, none in Redis,
   * so the start-up warming has them to warm (see openReturningSessions).
   * Their tokens are `returningSessions` of the running demo. Default none.
   */
  readonly returningSessions?: ReturningSessions;
}

/** The session cache's warming switches and budget, as the demo sets them. */
export interface DemoWarming {
  readonly onStart?: boolean;
  readonly afterMissStorm?: boolean;
  readonly limit?: number;
  readonly ratePerSecond?: number;
}

export interface RunningDemo {
  readonly url: string;
  readonly registry: Registry;
  /** Tokens of the returning users' sessions, for the load to come back with (empty without the option). */
  readonly returningSessions: readonly string[];
  close(): Promise<void>;
}

interface Authenticated {
  readonly session: SessionRecord;
  readonly token: string;
}

function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

/**
 * Starts the demo service: login, an authenticated API that validates the
 * session on every request through the session cache, logout, `/metrics` and
 * `/healthz`. The session cache warms itself from the database in the
 * background (on start, and after a flush or a miss storm); the app listens
 * and answers meanwhile. Resolves once it listens.
 *
 * ```ts
 * const registry = new Registry();
 * const demo = await startDemo({ clients: createRedisClients(config, { registry }), registry });
 * console.log(demo.url); // later: await demo.close();
 * ```
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const logger = options.logger ?? createLogger({ name: 'redscope-demo' });
  const { clients, registry } = options;
  collectDefaultMetrics({ register: registry });
  const tracing = options.tracing ?? true;
  const prefix = options.keyPrefix ?? DEMO_DEFAULTS.keyPrefix;
  const accounts = demoUsers(options.users ?? DEMO_DEFAULTS.users);
  const database =
    options.database ??
    (await DemoDatabase.create(accounts, {
      ...(options.databaseDir === undefined ? {} : { dir: options.databaseDir }),
    }));
  // Before the session cache exists: its start-up warming plans from the record at once.
  const returningSessions =
    options.returningSessions === undefined
      ? []
      : await openReturningSessions({
          returning: options.returningSessions,
          database,
          accounts,
          keyPrefix: prefix,
          clients,
          logger,
        });
  const warming = options.warming ?? {};
  const sessions = createSessionCache(clients, {
    loader: (id) => database.findSession(id),
    keyPrefix: prefix,
    ttlSeconds: options.sessionTtlSeconds ?? DEMO_DEFAULTS.sessionTtlSeconds,
    registry,
    logger,
    tracing: { enabled: tracing },
    // Started here, in the background: the app listens (and answers) while it runs.
    ...(warming === false
      ? {}
      : {
          warming: {
            onStart: true,
            afterMissStorm: true,
            ...warming,
            loadByHash: (hashes) => database.findSessionsByHash(hashes),
          },
        }),
  });
  const app = createDemoApp({ clients, sessions, database, registry, logger, tracing, prefix });
  const server: Server = app.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('demo server has no TCP address');
  const url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;
  logger.info({ event: 'demo.listening', url }, 'demo app listening');
  return {
    url,
    registry,
    returningSessions,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function createDemoApp(parts: {
  clients: RedisClients<Redis | Cluster>;
  sessions: SessionCache;
  database: DemoDatabase;
  registry: Registry;
  logger: Logger;
  tracing: boolean;
  prefix: string;
}): express.Express {
  const { clients, sessions, database, registry, logger, prefix } = parts;
  const app = express();
  app.disable('x-powered-by');
  // The local view of hot keys (redacted) next to liveness: what this process sees, now.
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, hotKeys: clients.hotKeys() ?? null });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  // Every request gets its context (correlation id, span); the request-finished line is
  // written for every request but the load's, of which a sample: ~1 MB a minute otherwise.
  const logged = requestContextMiddleware({ logger, tracing: parts.tracing });
  const unlogged = requestContextMiddleware({ tracing: parts.tracing });
  app.use((req, res, next) =>
    (req.headers[LOAD_HEADER] !== undefined && Math.random() >= LOGGED_LOAD_SHARE
      ? unlogged
      : logged)(req, res, next),
  );
  app.use(express.json({ limit: '4kb' }));

  const authenticate = async (req: Request, res: Response, next: NextFunction) => {
    const token = bearer(req);
    if (token === undefined) {
      res.status(401).json({ error: 'missing bearer token' });
      return;
    }
    const result = await sessions.validate(token);
    if (!result.valid) {
      logger.info({ event: 'auth.rejected' }, 'invalid or revoked session');
      res.status(401).json({ error: 'invalid session' });
      return;
    }
    res.locals.auth = { session: result.session, token } satisfies Authenticated;
    next();
  };

  app.post('/login', async (req, res) => {
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string') {
      res.status(400).json({ error: 'username and password are required strings' });
      return;
    }
    const user = await database.checkPassword(username, password);
    if (!user) {
      logger.warn({ event: 'auth.login_failed', username }, 'login failed');
      res.status(401).json({ error: 'wrong username or password' });
      return;
    }
    const token = randomBytes(32).toString('base64url');
    const session: SessionRecord = {
      userId: user.userId,
      orgId: user.orgId,
      createdAt: Date.now(),
    };
    await database.saveSession(token, session);
    await sessions.create(token, session);
    logger.info({ event: 'auth.login', user_id: user.userId, org_id: user.orgId }, 'logged in');
    res.json({ token, userId: user.userId, orgId: user.orgId });
  });

  app.get('/api/me', authenticate, (_req, res) => {
    const { session } = res.locals.auth as Authenticated;
    res.json({ userId: session.userId, orgId: session.orgId });
  });

  // An org-wide counter: one write and one replica read per call, like a typical cache-backed page.
  app.get('/api/org/visits', authenticate, async (_req, res) => {
    const { session } = res.locals.auth as Authenticated;
    const key = `${prefix}org:${session.orgId}:visits`;
    await clients.writer.incr(key);
    const visits = Number((await clients.reader.get(key)) ?? 0);
    res.json({ orgId: session.orgId, visits });
  });

  // Per-tenant settings read on every page, as most multi-tenant apps do: a big tenant makes it a
  // hot key (one GET per request), which the near-cache can take off Redis.
  app.get('/api/org/settings', authenticate, async (_req, res) => {
    const { session } = res.locals.auth as Authenticated;
    const key = `${prefix}org:${session.orgId}:settings`;
    let settings = await clients.reader.get(key);
    if (settings === null) {
      settings = JSON.stringify({ orgId: session.orgId, plan: 'team', theme: 'light' });
      await clients.writer.set(key, settings, 'EX', 3600);
    }
    res.type('application/json').send(settings);
  });

  app.post('/logout', authenticate, async (_req, res) => {
    const { token } = res.locals.auth as Authenticated;
    await database.deleteSession(token);
    await sessions.revoke(token);
    logger.info({ event: 'auth.logout' }, 'logged out');
    res.status(204).end();
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error(
      {
        event: 'http.error',
        err: { type: (error as Error)?.name, message: (error as Error)?.message },
      },
      'request failed',
    );
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}
