import { AsyncResource } from 'node:async_hooks';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Logger } from 'pino';
import { correlationIdFrom, runWithRequestContext } from './request-context.js';

/**
 * The parts of an express (or connect-style) request the middleware reads:
 * typed by shape, so the client needs no express types.
 */
interface MiddlewareRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly method: string;
  readonly path: string;
  readonly baseUrl: string;
  readonly route?: unknown;
}

/** The parts of the response it touches. */
interface MiddlewareResponse {
  readonly statusCode: number;
  setHeader(name: string, value: string): unknown;
  on(event: 'finish', listener: () => void): unknown;
}

export interface RequestContextMiddlewareOptions {
  /** Logs one info line per finished request (method, route, status, duration). */
  readonly logger?: Logger;
  /**
   * Start a SERVER span per request, continuing an incoming `traceparent`.
   * Skipped when a span is already active, e.g. from
   * `@opentelemetry/instrumentation-http`.
   * @default true
   */
  readonly tracing?: boolean;
  readonly tracerProvider?: TracerProvider;
}

/**
 * Express middleware that opens the request context: the correlation id from
 * `x-request-id` (else `traceparent`, else a new one) is on every log line
 * written while handling the request and goes back as `x-request-id`; with
 * tracing on, the request gets a SERVER span that Redis spans nest under.
 *
 * ```ts
 * app.use(requestContextMiddleware({ logger }));
 * ```
 */
export function requestContextMiddleware(
  options: RequestContextMiddlewareOptions = {},
): (req: MiddlewareRequest, res: MiddlewareResponse, next: () => void) => void {
  const tracing = options.tracing ?? true;
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer('redscope-http');
  return (req, res, next) => {
    const correlationId = correlationIdFrom(req.headers);
    res.setHeader('x-request-id', correlationId);
    const startedAt = performance.now();
    const active = context.active();
    const span =
      tracing && trace.getSpan(active) === undefined
        ? tracer.startSpan(
            req.method,
            {
              kind: SpanKind.SERVER,
              attributes: { 'http.request.method': req.method, 'url.path': req.path },
            },
            propagation.extract(ROOT_CONTEXT, req.headers),
          )
        : undefined;
    const onFinish = () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const routeText = typeof route === 'string' ? `${req.baseUrl}${route}` : undefined;
      if (span) {
        if (routeText) {
          span.updateName(`${req.method} ${routeText}`);
          span.setAttribute('http.route', routeText);
        }
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.setAttribute('error.type', String(res.statusCode));
        }
        span.end();
      }
      options.logger?.info(
        {
          event: 'http.request',
          method: req.method,
          route: routeText ?? req.path,
          status: res.statusCode,
          duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
        },
        'request finished',
      );
    };
    const run = () =>
      runWithRequestContext({ correlationId }, () => {
        // Bound here so the last line of the request still carries its context.
        res.on('finish', AsyncResource.bind(onFinish));
        next();
      });
    if (span) context.with(trace.setSpan(active, span), run);
    else run();
  };
}
