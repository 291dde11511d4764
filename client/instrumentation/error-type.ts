/**
 * `error.type` for a failed command: the Redis error prefix for server replies
 * (`WRONGTYPE`, `NOSCRIPT`, `ERR`), else a short class: `timeout`,
 * `connection_closed`, `max_retries`, or the error's name. Messages are never
 * used as values: they can quote data.
 */
export function errorTypeOf(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown';
  if (error.name === 'ReplyError') return redisErrorPrefix(error) ?? 'ERR';
  if (error.name === 'MaxRetriesPerRequestError') return 'max_retries';
  if (/timed out|timeout/i.test(error.message)) return 'timeout';
  if (/Connection is closed|Stream isn't writeable|connection closed/i.test(error.message)) {
    return 'connection_closed';
  }
  return /^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(error.name) ? error.name : 'Error';
}

/** The simple-error prefix of a Redis reply error (`db.response.status_code`). */
export function redisErrorPrefix(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  return /^([A-Z][A-Z_]{1,30})\b/.exec(error.message)?.[1];
}
