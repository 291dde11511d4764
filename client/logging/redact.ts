import { REDACTED } from '../common/redaction.js';

/**
 * Key-based redaction for log objects. Written here instead of pino's
 * `redact` option because pino's path redaction (fast-redact) with the
 * `*.password`-style wildcards needed to catch secrets at any depth cost
 * about 30 µs per line in bench/client.ts, ten times the rest of the line;
 * this walks the (small) object once and copies only what it censors.
 */

/**
 * Field names whose values never reach a log line, compared case-insensitively
 * and ignoring `-` and `_` (so `api_key`, `apiKey` and `API-KEY` all match).
 * `session_id` is not among them: the request context puts the *hashed*
 * session id there; raw ids go by `sessionId` or `sessionToken` and are censored.
 */
export const DEFAULT_REDACTED_KEYS: readonly string[] = [
  'password',
  'passwd',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'sessionId',
  'sessionToken',
  'secret',
  'clientSecret',
  'apiKey',
  'privateKey',
  'authorization',
  'cookie',
  'setCookie',
];

const MAX_DEPTH = 5;
const normalize = (key: string) => key.toLowerCase().replace(/[-_]/g, '');

/** A function that returns `value` with every secret field censored (a copy only where needed). */
export function createRedactor(extraKeys: readonly string[] = []): <T>(value: T) => T {
  const secret = new Set([...DEFAULT_REDACTED_KEYS, ...extraKeys].map(normalize));
  const verdicts = new Map<string, boolean>();
  const isSecret = (key: string): boolean => {
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      verdict = key !== 'session_id' && secret.has(normalize(key));
      if (verdicts.size < 10_000) verdicts.set(key, verdict);
    }
    return verdict;
  };
  const walk = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const redacted = walk(value[i], depth + 1);
        if (redacted !== value[i]) {
          copy ??= value.slice();
          copy[i] = redacted;
        }
      }
      return copy ?? value;
    }
    // Class instances (errors, buffers, requests) are left to pino's serializers.
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return value;
    let copy: Record<string, unknown> | undefined;
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const field = record[key];
      const redacted = isSecret(key) && field !== undefined ? REDACTED : walk(field, depth + 1);
      if (redacted !== field) {
        copy ??= { ...record };
        copy[key] = redacted;
      }
    }
    return copy ?? value;
  };
  return <T>(value: T) => walk(value, 0) as T;
}
