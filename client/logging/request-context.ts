import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { context as otelContext, ROOT_CONTEXT } from '@opentelemetry/api';

/** What every log line of one request carries. */
export interface RequestContext {
  /** From `x-request-id`, else the trace id of `traceparent`, else generated. */
  readonly correlationId: string;
  userId?: string;
  orgId?: string;
  /** `hashSessionId()` of the session, never the raw id. */
  sessionIdHash?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/**
 * The correlation id for an incoming request: a well-formed `x-request-id`
 * as sent, else the trace id of a valid `traceparent`, else a new UUID.
 * Malformed ids are replaced rather than echoed, so a client cannot inject
 * text into every log line.
 *
 * ```ts
 * correlationIdFrom({ 'x-request-id': 'req-42' }); // 'req-42'
 * ```
 */
export function correlationIdFrom(headers: Record<string, string | string[] | undefined>): string {
  const requestId = first(headers['x-request-id']);
  if (requestId !== undefined && REQUEST_ID.test(requestId)) return requestId;
  const traceparent = first(headers.traceparent);
  const traceId = traceparent === undefined ? undefined : TRACEPARENT.exec(traceparent)?.[1];
  if (traceId !== undefined && !/^0+$/.test(traceId)) return traceId;
  return randomUUID();
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A session id as it may appear in logs and span attributes: the first 16 hex
 * digits of its SHA-256. Enough to follow one session across lines, useless to
 * hijack it.
 *
 * ```ts
 * hashSessionId('s3cr3t-token'); // 16 hex characters
 * ```
 */
export function hashSessionId(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 16);
}

/**
 * Runs `fn` with `context` as the current request context: every log line
 * written inside it (also after awaits) carries its fields.
 *
 * ```ts
 * await runWithRequestContext({ correlationId: 'job-7' }, () => sessions.validate(id));
 * ```
 */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The request context of the caller, if any.
 *
 * ```ts
 * const id = currentRequestContext()?.correlationId;
 * ```
 */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * Records who the current request belongs to, for the log lines still to
 * come; the session id is hashed here. A no-op outside a request context.
 *
 * ```ts
 * setRequestIdentity({ userId: 'u1', orgId: 'acme', sessionId: token });
 * ```
 */
export function setRequestIdentity(identity: {
  userId?: string;
  orgId?: string;
  sessionId?: string;
}): void {
  const context = storage.getStore();
  if (!context) return;
  if (identity.userId !== undefined) context.userId = identity.userId;
  if (identity.orgId !== undefined) context.orgId = identity.orgId;
  if (identity.sessionId !== undefined) context.sessionIdHash = hashSessionId(identity.sessionId);
}

/**
 * Runs `fn` in `context`, or outside any request context when it is
 * undefined: for lines written from a callback that belongs to a request
 * other than the one that happens to be current (an ioredis reply or socket
 * event runs in the context of whatever request touched the socket last).
 */
export function runInRequestContext<T>(context: RequestContext | undefined, fn: () => T): T {
  return context === undefined ? storage.exit(fn) : storage.run(context, fn);
}

/** Runs `fn` outside any request context and active span, for lines that belong to no request. */
export function runDetached<T>(fn: () => T): T {
  return storage.exit(() => otelContext.with(ROOT_CONTEXT, fn));
}
