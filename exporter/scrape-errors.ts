import { redactUrlCredentials } from '../client/common/redaction.js';
import { isTlsError } from '../client/common/tls-errors.js';

/** Why a target did not answer: the fixed values of the `reason` label. */
export const SCRAPE_ERROR_REASONS = ['refused', 'timeout', 'auth', 'tls', 'protocol'] as const;
export type ScrapeErrorReason = (typeof SCRAPE_ERROR_REASONS)[number];

/** The scrape ran out of its time budget before the target answered. */
export class ScrapeTimeoutError extends Error {
  override readonly name = 'ScrapeTimeoutError';
  constructor(budgetMs: number) {
    super(`the target did not answer within the scrape budget of ${budgetMs} ms`);
  }
}

/** The target answered something that is not Redis (garbage, an HTTP server, a wrong port). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * Sorts an error from connecting to or reading from a target into one of the
 * five reasons. A reset or closed connection counts as `refused`: to an
 * operator both mean "the target is not taking our connection".
 */
export function classifyScrapeError(error: unknown): ScrapeErrorReason {
  if (error instanceof ScrapeTimeoutError) return 'timeout';
  if (error instanceof ProtocolError) return 'protocol';
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (isTlsError(error)) return 'tls';
  if (/^(WRONGPASS|NOAUTH)|invalid (username-)?password|AUTH failed|-NOAUTH/i.test(message)) {
    return 'auth';
  }
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(message)) return 'timeout';
  if (
    name === 'ParserError' ||
    /protocol error|unknown RESP type|unexpected reply/i.test(message)
  ) {
    return 'protocol';
  }
  return 'refused';
}

/** A short, secret-free description of an error for logs and the `err` label. */
export function describeScrapeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Redis never echoes a password, but a URL with credentials in a message might.
  return redactUrlCredentials(message).slice(0, 200);
}
