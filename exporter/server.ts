import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { AllowList } from './allow-list.js';
import { collectors } from './collectors/index.js';
import { exporterSentinelEvents, SentinelEventWatch } from './collectors/sentinel-events.js';
import type { ExporterConfig } from './config.js';
import { CONTENT_TYPE, MetricSink } from './exposition.js';
import { renderProcessMetrics } from './process-metrics.js';
import { Scraper } from './scraper.js';
import { ExporterTelemetry, redisUp } from './self-metrics.js';
import { InvalidTargetError, parseTarget, type Target } from './target.js';
import { TargetPool, withDeadline } from './target-pool.js';
import { BasicAuthChecker } from './web-config.js';

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
  // Masters the Sentinels named for /metrics: --username/--password-file are theirs.
  const sentinelMasters = new Set<string>();
  const authFor = (t: Target) =>
    sentinelMasters.has(t.key) ? config.redisAuth : config.credentials.for(t);
  const pool = new TargetPool(authFor, config.tls, logger);
  const scraper = new Scraper(
    pool,
    telemetry,
    collectors,
    { clientNameCap: config.clientNameCap },
    logger,
  );
  const auth = new BasicAuthChecker(config.webConfig?.basicAuthUsers ?? new Map());

  if (config.tls.insecureSkipVerify) {
    logger.warn(
      'TLS certificate verification of Redis targets is OFF (--tls-insecure-skip-verify)',
    );
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  if (config.webConfig?.tls?.verifyClientCert) {
    // VerifyClientCertIfGiven lets TLS finish without a certificate; one that is
    // given and does not verify against client_ca_file is refused here.
    app.use((req, res, next) => {
      const socket = req.socket as TLSSocket;
      const presented = Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;
      if (presented && !socket.authorized) {
        res.status(403).send(`client certificate refused: ${String(socket.authorizationError)}\n`);
        return;
      }
      next();
    });
  }

  if (auth.enabled) {
    app.use((req, res, next) => {
      auth.check(req.headers.authorization).then((ok) => {
        if (ok) return next();
        res
          .set('WWW-Authenticate', 'Basic realm="redscope exporter"')
          .status(401)
          .send('Unauthorized\n');
      }, next);
    });
  }

  const budgetOf = (req: Request) =>
    budgetMs(req.get('X-Prometheus-Scrape-Timeout-Seconds'), config.scrapeTimeoutSeconds);

  const send = (res: Response, text: string) => {
    res.set('Content-Type', CONTENT_TYPE).send(text);
  };

  app.get('/metrics', async (req, res, next) => {
    try {
      const budget = budgetOf(req);
      const deadline = Date.now() + budget;
      let text = '';
      const target = await resolveMetricsTarget(config, pool, deadline, budget).catch((error) => {
        logger.warn({ err: (error as Error).message }, 'no Sentinel named the master');
        return undefined;
      });
      if (target && !config.redisTarget) sentinelMasters.add(target.key);
      if (target) text += await scraper.scrape(target, Math.max(50, deadline - Date.now()));
      else if (config.sentinels.length > 0) {
        // The master is unknown, which is what redis_up 0 means to every alert on it.
        const sink = new MetricSink();
        sink.add(redisUp, 0);
        text += sink.render();
      } else if (!config.redisTarget) {
        const sink = new MetricSink();
        telemetry.render(sink);
        text += sink.render();
      }
      const own = new MetricSink();
      renderProcessMetrics(own);
      text += own.render();
      send(res, text);
    } catch (error) {
      next(error);
    }
  });

  app.get('/scrape', async (req, res, next) => {
    try {
      const names = Object.keys(req.query);
      const raw = req.query.target;
      let problem: string | undefined;
      if (names.some((n) => n !== 'target')) {
        problem = `only the "target" parameter is accepted, got: ${names.filter((n) => n !== 'target').join(', ')}`;
      } else if (typeof raw !== 'string') {
        problem = raw === undefined ? 'missing the "target" parameter' : 'give "target" once';
      }
      let target: Target | undefined;
      if (!problem) {
        try {
          target = parseTarget(raw as string);
        } catch (error) {
          if (!(error instanceof InvalidTargetError)) throw error;
          problem = error.message;
        }
      }
      if (problem || !target) {
        telemetry.requestErrors++;
        res.status(400).type('text/plain').send(`bad target: ${problem}\n`);
        return;
      }
      // Refused before any connection or DNS lookup: the allow-list looks at text only.
      if (!allowList.allows(target)) {
        telemetry.requestErrors++;
        logger.warn({ target: target.key }, '/scrape refused a target outside the allow-list');
        res
          .status(403)
          .type('text/plain')
          .send(`target ${target.key} is not allowed; add a matching --allow-target pattern\n`);
        return;
      }
      send(res, await scraper.scrape(target, budgetOf(req)));
    } catch (error) {
      next(error);
    }
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/', (_req, res) => {
    res.type('html').send(indexPage(config, allowList.size));
  });

  app.use((error: unknown, _req: Request, res: Response, _next: unknown) => {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'request failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('internal error\n');
  });

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
        app,
      )
    : createHttpServer(app);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Failovers are events, not state: only a subscription sees them happen. Started
  // after listen() so a port conflict still ends the process.
  const sentinelEvents =
    config.sentinels.length === 0 ? undefined : watchSentinelEvents(config, config.sentinels);
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
          sentinelEvents?.close();
          pool.closeAll();
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** Subscribes to the --sentinels' event channels with the same TLS settings as scrapes. */
function watchSentinelEvents(
  config: ExporterConfig,
  sentinels: readonly Target[],
): SentinelEventWatch {
  const { ca, cert, key, insecureSkipVerify } = config.tls;
  return new SentinelEventWatch({
    tracker: exporterSentinelEvents,
    sentinels: sentinels.map((sentinel) => ({
      host: sentinel.host,
      port: sentinel.port,
      ...config.credentials.for(sentinel),
      ...(sentinel.scheme === 'rediss'
        ? {
            tls: {
              ...(ca ? { ca } : {}),
              ...(cert ? { cert } : {}),
              ...(key ? { key } : {}),
              rejectUnauthorized: !insecureSkipVerify,
            },
          }
        : {}),
    })),
  });
}

/** The target of /metrics: --redis-url, or the master the Sentinels name now. */
async function resolveMetricsTarget(
  config: ExporterConfig,
  pool: TargetPool,
  deadline: number,
  budget: number,
): Promise<Target | undefined> {
  if (config.redisTarget) return config.redisTarget;
  if (config.sentinels.length === 0 || !config.masterName) return undefined;
  let lastError: unknown;
  for (const [index, sentinel] of config.sentinels.entries()) {
    // A hung Sentinel may take its share of the budget, not the others' too.
    const share = Math.max(50, (deadline - Date.now()) / (config.sentinels.length - index));
    const until = Math.min(deadline, Date.now() + share);
    try {
      const client = await pool.get(sentinel).ready(until, budget);
      const reply = (await withDeadline(
        client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', config.masterName),
        until,
        budget,
      )) as [string, string] | null;
      if (reply) {
        const host = reply[0].includes(':') ? `[${reply[0]}]` : reply[0];
        return parseTarget(`${sentinel.scheme}://${host}:${reply[1]}`);
      }
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? new Error(`no Sentinel knows the master ${config.masterName}`);
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
<li><a href="healthz">/healthz</a>: liveness</li>
</ul>
</body></html>
`;
}
