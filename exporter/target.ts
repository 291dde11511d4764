import { unparsedUrlHostHint, urlHost } from '../client/common/host.js';
import { redactUrlCredentials } from '../client/common/redaction.js';

/** A Redis or Sentinel endpoint, normalised so that equal targets compare equal. */
export interface Target {
  readonly scheme: 'redis' | 'rediss';
  readonly host: string;
  readonly port: number;
  /** `scheme://host:port`: the pool key, the allow-list subject and the `target` label. */
  readonly key: string;
}

/** The target of a `/scrape` request or `--redis-url` cannot be used; the message says why. */
export class InvalidTargetError extends Error {
  override readonly name = 'InvalidTargetError';
}

const DEFAULT_PORT = 6379;

/**
 * Parses `redis://host:port`, `rediss://host:port` or a bare `host:port`
 * (redis_exporter accepts those); the host is a DNS name, an IPv4 address or
 * an IPv6 address in brackets (`rediss://[fd00::5]:6379`), written back in
 * one spelling (`[0:0::1]` is `[::1]`); the client's host check
 * (client/common/host.ts) decides, so both take and refuse the same hosts.
 * Names are not resolved here.
 * Credentials, paths other than a DB index 0, and query strings are refused:
 * the only thing a request may choose is where.
 */
export function parseTarget(input: string): Target {
  const text = input.trim();
  if (text === '') throw new InvalidTargetError('the target is empty; expected redis://host:port');
  const withScheme = text.includes('://') ? text : `redis://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    // `redis://::1:6379` cannot be split into host and port, `[fe80::1%eth0]` has a zone id:
    // say so instead of only "not a URL".
    const hint = unparsedUrlHostHint(withScheme);
    // Redacted before printable() cuts it: a cut could drop the `@` that ends the password.
    throw new InvalidTargetError(
      `"${printable(redactUrlCredentials(text))}" is not a URL; ${hint === undefined ? 'expected redis://host:port or rediss://host:port' : hint.replace(/[^\x20-\x7e]/g, '?')}`,
    );
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new InvalidTargetError(
      `scheme "${printable(scheme)}" is not allowed; use redis:// or rediss://`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidTargetError(
      'credentials in the target URL are not accepted; put them in the credentials file',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidTargetError('the target must not carry a query string or fragment');
  }
  if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') {
    throw new InvalidTargetError('the target must not carry a path; DB indexes are not supported');
  }
  if (url.hostname === '') throw new InvalidTargetError('the target has no host');
  const { host: bareHost, written, problem } = urlHost(url.hostname);
  if (problem !== undefined) {
    throw new InvalidTargetError(`host "${printable(written)}" ${problem}`);
  }
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidTargetError(`port "${printable(url.port)}" is not between 1 and 65535`);
  }
  return {
    scheme,
    host: bareHost,
    port,
    key: `${scheme}://${url.hostname.toLowerCase()}:${port}`,
  };
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}
