import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import { dialedHost } from './dialed-address.js';

/**
 * Sockets whose host name was resolved: the lookup answered with an address,
 * or the socket connected. Kept apart from the socket because a socket that
 * ioredis destroyed on its connect timeout no longer tells (its peer address
 * reads undefined whether or not it ever connected).
 */
const resolved = new WeakSet<object>();

interface EventSource {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
}

function follow(socket: unknown): void {
  if (socket === null || typeof socket !== 'object') return;
  const events = socket as EventSource;
  if (typeof events.once !== 'function') return;
  // `lookup` fires once per address found (with an error when the lookup failed);
  // `connect` covers a host that needed no lookup.
  events.once('lookup', (error: unknown) => {
    if (!error) resolved.add(socket);
  });
  events.once('connect', () => resolved.add(socket));
}

/**
 * Makes the connect errors of `redis` say when the DNS server is the problem.
 *
 * ioredis gives up on a connect after `connectTimeout` with `connect
 * ETIMEDOUT`, and that timer runs from the start of the host name's lookup: a
 * DNS server that does not answer (a resolver that drops packets takes 10 s or
 * more to give up) ends as a timeout that names neither the name nor DNS, and
 * reads like a TLS handshake that never finished. Here such an error, when the
 * socket dialled a name that never resolved, becomes `EAI_AGAIN` (what the
 * resolver itself answers when no server replies) with the message `name X did
 * not resolve within N ms (DNS server not answering)`; a resolver's own
 * `getaddrinfo EAI_AGAIN X` gets the same wording. The error object is changed
 * in place, before any other listener sees it, so the lifecycle log, ready()
 * and the caller all see the same explanation.
 */
export function explainUnansweredDns(redis: Redis): void {
  // ioredis assigns `stream` once per connection attempt, before the socket can
  // resolve anything (the lookup answers on a later turn of the event loop): the
  // socket is followed from its first moment.
  let current: unknown = redis.stream;
  follow(current);
  Object.defineProperty(redis, 'stream', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (socket: unknown) => {
      current = socket;
      follow(socket);
    },
  });
  redis.prependListener('error', (error: unknown) => {
    describeDnsFailure(error, current, redis.options.connectTimeout);
  });
}

/** Rewrites `error` in place when it is a lookup that got no answer (see explainUnansweredDns). */
export function describeDnsFailure(
  error: unknown,
  socket: unknown,
  connectTimeoutMs: number | undefined,
): void {
  if (error === null || typeof error !== 'object') return;
  const e = error as {
    message?: unknown;
    code?: unknown;
    syscall?: unknown;
    hostname?: unknown;
  };
  if (e.code === 'EAI_AGAIN' && e.syscall === 'getaddrinfo' && typeof e.hostname === 'string') {
    if (typeof e.message === 'string' && !e.message.startsWith('name ')) {
      e.message = `name ${e.hostname} did not resolve: the DNS server did not answer (${e.message})`;
    }
    return;
  }
  if (e.code !== 'ETIMEDOUT' || e.syscall !== 'connect') return;
  if (socket === null || typeof socket !== 'object' || resolved.has(socket)) return;
  const host = dialedHost(socket as Parameters<typeof dialedHost>[0]);
  if (host === undefined || isIP(host) !== 0) return;
  const within = connectTimeoutMs === undefined ? '' : ` within ${connectTimeoutMs} ms`;
  e.message = `name ${host} did not resolve${within} (DNS server not answering)`;
  e.code = 'EAI_AGAIN';
  e.syscall = 'getaddrinfo';
  e.hostname = host;
}
