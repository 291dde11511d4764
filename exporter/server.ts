import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { KeyRedactor } from '../client/common/key-redaction.js';
import { AllowList } from './allow-list.js';
import { ClusterDiscovery, DiscoveryError } from './cluster-discovery.js';
import { createCollectors } from './collectors/index.js';
import { SentinelEventTracker, SentinelEventWatch } from './collectors/sentinel-events.js';
import { DEFAULTS, type ExporterConfig } from './config.js';
import { CONTENT_TYPE, MetricSink } from './exposition.js';
import { renderProcessMetrics } from './process-metrics.js';
import { describeScrapeError } from './scrape-errors.js';
import { Scraper } from './scraper.js';
import { ExporterTelemetry, redisUp } from './self-metrics.js';
import { InvalidTargetError, parseTarget, type Target } from './target.js';
import { TargetCredentials } from './target-credentials.js';
import { TargetPool, tlsOptionsFor } from './target-pool.js';
import { BasicAuthChecker } from './web-config.js';

/** An HTTP answer: written as one Buffer with its length, once. */
interface Answer {
  readonly status: number;
  readonly type: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The text, in parts as rendered: concatenating them first would flatten a copy on the heap. */
  readonly body: string | readonly string[];
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML = 'text/html; charset=utf-8';
const ALLOW = 'GET, HEAD';
const NOSNIFF = { 'X-Content-Type-Options': 'nosniff' } as const;

/** The parts' UTF-8 bytes in one Buffer, without joining them into a string first. */
function toBuffer(body: string | readonly string[]): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  let length = 0;
  for (const part of body) length += Buffer.byteLength(part);
  const buffer = Buffer.allocUnsafe(length);
  let at = 0;
  for (const part of body) at += buffer.write(part, at);
  return buffer;
}

/** How much of Prometheus' announced timeout we keep for ourselves (rendering, the network back). */
export function budgetMs(header: string | undefined, defaultSeconds: number): number {
  const announced = header === undefined ? Number.NaN : Number.parseFloat(header);
  const seconds = Number.isFinite(announced) && announced > 0 ? announced : defaultSeconds;
  const margin = Math.min(0.5, seconds * 0.1);
  return Math.max(50, Math.round((seconds - margin) * 1000));
}

export interface RunningExporter {
  readonly url: string;
  readonly server: Server;
  /** Stops taking requests, lets running ones finish, closes every Redis connection. */
  close(): Promise<void>;
}

/** Builds the exporter's HTTP app and starts listening on `config.listen`. */
export async function startExporter(
  config: ExporterConfig,
  logger: Logger,
): Promise<RunningExporter> {
  const allowList = new AllowList(config.allowTargets);
  const telemetry = new ExporterTelemetry();
  // This exporter's own: a second exporter in the process counts its own failovers.
  const sentinelEvents = new SentinelEventTracker();
  const pool = new TargetPool(config.tls, logger);
  // One redactor for every key name this exporter exports (LFU sampler, key checks, streams).
  const redactor = deploymentRedactor(config);
  const credentials = new TargetCredentials(config, pool);
  const discovery = new ClusterDiscovery({
    pool,
    allowList,
    logger,
    cacheMs: DEFAULTS.discoveryCacheSeconds * 1000,
  });
  const scraper = new Scraper(
    pool,
    telemetry,
    createCollectors({
      sentinelEvents,
      hotKeys: hotKeysDependencies(config, redactor),
      ...(redactor ? { keyRedactor: redactor } : {}),
      optIn: config.optIn,
      logger,
    }),
    { clientNameCap: config.clientNameCap },
    logger,
  );
  const auth = new BasicAuthChecker(config.webConfig?.basicAuthUsers ?? new Map());

  if (config.tls.insecureSkipVerify) {
    logger.warn(
      'TLS certificate verification of Redis targets is OFF (--tls-insecure-skip-verify)',
    );
  }

  const budgetOf = (req: IncomingMessage) => {
    const header = req.headers['x-prometheus-scrape-timeout-seconds'];
    return budgetMs(Array.isArray(header) ? header[0] : header, config.scrapeTimeoutSeconds);
  };

  const metrics = async (req: IncomingMessage): Promise<Answer> => {
    const budget = budgetOf(req);
    const deadline = Date.now() + budget;
    const parts: string[] = [];
    const access = await credentials.forMetrics(deadline, budget).catch((error) => {
      logger.warn({ err: describeScrapeError(error) }, 'no Sentinel named the master');
      return undefined;
    });
    if (access) parts.push(await scraper.scrape(access, Math.max(50, deadline - Date.now())));
    else if (config.sentinels.length > 0) {
      // The master is unknown, which is what redis_up 0 means to every alert on it.
      const sink = new MetricSink();
      sink.add(redisUp, 0);
      parts.push(sink.render());
    } else if (!config.redisTarget) {
      const sink = new MetricSink();
      telemetry.render(sink);
      parts.push(sink.render());
    }
    const own = new MetricSink();
    renderProcessMetrics(own);
    discovery.render(own);
    parts.push(own.render());
    return { status: 200, type: CONTENT_TYPE, body: parts };
  };

  /**
   * The target a request names in parameter `name`: undefined when absent, a
   * refusal (400 malformed, 403 outside the allow-list) when it may not be used.
   * Refused before any connection or DNS lookup: the allow-list looks at text only.
   */
  const namedTarget = (
    raw: string | string[] | undefined,
    name: string,
    path: string,
  ): { target: Target } | { refusal: Answer } | undefined => {
    if (raw === undefined) return undefined;
    let problem: string | undefined;
    let target: Target | undefined;
    // A repeated name becomes an array, so a second one is refused rather than ignored.
    if (typeof raw !== 'string') problem = `give "${name}" once`;
    else {
      try {
        target = parseTarget(raw);
      } catch (error) {
        if (!(error instanceof InvalidTargetError)) throw error;
        problem = error.message;
      }
    }
    if (problem || !target) {
      telemetry.requestErrors++;
      return { refusal: { status: 400, type: TEXT, body: `bad ${name}: ${problem}\n` } };
    }
    if (!allowList.allows(target)) {
      telemetry.requestErrors++;
      logger.warn({ target: target.key }, `${path} refused a ${name} outside the allow-list`);
      return {
        refusal: {
          status: 403,
          type: TEXT,
          body: `${name} ${target.key} is not allowed; add a matching --allow-target pattern\n`,
        },
      };
    }
    return { target };
  };

  const badRequest = (body: string): Answer => {
    telemetry.requestErrors++;
    return { status: 400, type: TEXT, body };
  };

  const scrape = async (req: IncomingMessage, search: string): Promise<Answer> => {
    const query = parseQuery(search);
    const others = Object.keys(query).filter((n) => n !== 'target');
    if (others.length > 0) {
      return badRequest(
        `bad target: only the "target" parameter is accepted, got: ${others.join(', ')}\n`,
      );
    }
    const named = namedTarget(query.target, 'target', '/scrape');
    if (!named) return badRequest('bad target: missing the "target" parameter\n');
    if ('refusal' in named) return named.refusal;
    const text = await scraper.scrape(credentials.forAddress(named.target), budgetOf(req));
    return { status: 200, type: CONTENT_TYPE, body: text };
  };

  /**
   * Prometheus http_sd: the nodes of the cluster of --redis-url, or of `?seed=`
   * (`?target=`, redis_exporter's name for it), as /scrape targets.
   */
  const discoverClusterNodes = async (_req: IncomingMessage, search: string): Promise<Answer> => {
    const query = parseQuery(search);
    const names = Object.keys(query);
    const unknown = names.filter((n) => n !== 'seed' && n !== 'target');
    if (unknown.length > 0) {
      return badRequest(
        `bad seed: only the "seed" (or "target") parameter is accepted, got: ${unknown.join(', ')}\n`,
      );
    }
    if (names.length > 1) return badRequest('bad seed: give "seed" or "target", not both\n');
    const name = names[0] ?? 'seed';
    const named = namedTarget(query[name], name, '/discover-cluster-nodes');
    if (named && 'refusal' in named) return named.refusal;
    const seed = named?.target ?? config.redisTarget;
    if (!seed) {
      return {
        status: 400,
        type: TEXT,
        body: 'no seed: start the exporter with --redis-url of a cluster node, or give ?seed=rediss://host:port\n',
      };
    }
    try {
      const groups = await discovery.discover(
        credentials.forAddress(seed),
        budgetMs(undefined, config.scrapeTimeoutSeconds),
      );
      return { status: 200, type: JSON_TYPE, body: `${JSON.stringify(groups)}\n` };
    } catch (error) {
      if (!(error instanceof DiscoveryError)) throw error;
      return { status: error.status, type: TEXT, body: `${error.message}\n` };
    }
  };

  const routes: Record<string, (req: IncomingMessage, search: string) => Answer | Promise<Answer>> =
    {
      '/metrics': metrics,
      '/scrape': scrape,
      '/discover-cluster-nodes': discoverClusterNodes,
      '/healthz': () => ({ status: 200, type: TEXT, body: 'ok\n' }),
      '/': () => ({ status: 200, type: HTML, body: indexPage(config, allowList.size) }),
    };

  /** Checks the client certificate and basic auth, then routes: an answer, never a throw. */
  const answer = async (req: IncomingMessage): Promise<Answer> => {
    if (config.webConfig?.tls?.verifyClientCert) {
      // VerifyClientCertIfGiven lets TLS finish without a certificate; one that is
      // given and does not verify against client_ca_file is refused here.
      const socket = req.socket as TLSSocket;
      const presented = Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;
      if (presented && !socket.authorized) {
        return {
          status: 403,
          type: HTML,
          body: `client certificate refused: ${String(socket.authorizationError)}\n`,
        };
      }
    }
    if (auth.enabled && !(await auth.check(req.headers.authorization))) {
      return {
        status: 401,
        type: HTML,
        headers: { 'WWW-Authenticate': 'Basic realm="redscope exporter"' },
        body: 'Unauthorized\n',
      };
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const search = q < 0 ? '' : url.slice(q + 1);
    // Case-insensitive, one trailing slash allowed: the paths users and old configs already use.
    let path = (q < 0 ? url : url.slice(0, q)).toLowerCase();
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    const method = req.method ?? 'GET';
    if (!route) {
      return { status: 404, type: TEXT, headers: NOSNIFF, body: `Cannot ${method} ${url}\n` };
    }
    if (method === 'OPTIONS') {
      return { status: 200, type: TEXT, headers: { Allow: ALLOW, ...NOSNIFF }, body: ALLOW };
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return {
        status: 405,
        type: TEXT,
        headers: { Allow: ALLOW, ...NOSNIFF },
        body: `method ${method} not allowed on ${path}; use GET\n`,
      };
    }
    return route(req, search);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    answer(req)
      .catch((error: unknown): Answer => {
        logger.error(
          { err: error instanceof Error ? error.message : String(error) },
          'request failed',
        );
        return { status: 500, type: TEXT, body: 'internal error\n' };
      })
      .then((a) => {
        if (res.headersSent || res.destroyed) return;
        // One Buffer, written once: no flattened copy, no ETag hash.
        const body = toBuffer(a.body);
        res.writeHead(a.status, {
          ...a.headers,
          'Content-Type': a.type,
          'Content-Length': body.length,
        });
        res.end(body);
      })
      .catch((error: unknown) => {
        logger.error({ err: String(error) }, 'writing a response failed');
        res.destroy();
      });
  };

  const tls = config.webConfig?.tls;
  const server = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca ? { ca: tls.ca } : {}),
          requestCert: tls.requireClientCert || tls.ca !== undefined,
          rejectUnauthorized: tls.requireClientCert,
          minVersion: tls.minVersion ?? 'TLSv1.2',
        },
        handle,
      )
    : createHttpServer(handle);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Failovers are events, not state: only a subscription sees them happen. Started
  // after listen() so a port conflict still ends the process.
  const watch =
    config.sentinels.length === 0
      ? undefined
      : watchSentinelEvents(config, sentinelEvents, credentials);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
  logger.info(
    {
      url,
      target: config.redisTarget?.key,
      sentinels: config.sentinels.map((s) => s.key),
      masterName: config.masterName,
      allowTargets: config.allowTargets,
      basicAuth: auth.enabled,
      hotKeysLfu: config.hotKeys.lfu !== undefined,
    },
    'exporter listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          watch?.close();
          pool.closeAll();
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** The hot-key collectors' settings; the LFU sampler gets the deployment's redactor. */
function hotKeysDependencies(config: ExporterConfig, redactor: KeyRedactor | undefined) {
  const { top, lfu } = config.hotKeys;
  if (!lfu || !redactor) return { top };
  const { secret: _secret, patterns: _patterns, ...sampling } = lfu;
  return { top, lfu: { ...sampling, redactor } };
}

/** Redacts key names as the clients do, when the deployment's secret is configured. */
function deploymentRedactor(config: ExporterConfig): KeyRedactor | undefined {
  if (config.redactionSecret === undefined) return undefined;
  const patterns = config.redactionPatterns;
  return new KeyRedactor({ secret: config.redactionSecret, ...(patterns ? { patterns } : {}) });
}

/** Subscribes to the --sentinels' event channels with the same TLS settings and credentials as scrapes. */
function watchSentinelEvents(
  config: ExporterConfig,
  tracker: SentinelEventTracker,
  credentials: TargetCredentials,
): SentinelEventWatch {
  return new SentinelEventWatch({
    tracker,
    sentinels: config.sentinels.map((sentinel) => ({
      host: sentinel.host,
      port: sentinel.port,
      ...credentials.forAddress(sentinel).auth,
      ...tlsOptionsFor(sentinel, config.tls),
    })),
  });
}

function indexPage(config: ExporterConfig, allowed: number): string {
  const target =
    config.redisTarget?.key ??
    (config.masterName ? `master "${config.masterName}" via Sentinel` : 'none');
  const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>redscope exporter</title></head>
<body>
<h1>redscope exporter</h1>
<p>Prometheus exporter for Redis and Sentinel, compatible with redis_exporter's metric names.</p>
<ul>
<li><a href="metrics">/metrics</a>: the configured target (${escapeHtml(target)}) and the exporter's own metrics</li>
<li>/scrape?target=redis://host:port: another target (${allowed} allow-list pattern${allowed === 1 ? '' : 's'})</li>
<li><a href="discover-cluster-nodes">/discover-cluster-nodes</a>: the nodes of the cluster of the configured target (or of ?seed=rediss://host:port) for Prometheus' http_sd_configs</li>
<li><a href="healthz">/healthz</a>: liveness</li>
</ul>
</body></html>
`;
}
