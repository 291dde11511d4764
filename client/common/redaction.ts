/** What every redacted value becomes, in logs, errors and config messages. */
export const REDACTED = '[REDACTED]';

/**
 * `text` with the password of every `scheme://user:password@` in it replaced
 * by REDACTED (a userinfo without `:` is taken as a password, as Redis URLs
 * put it: `redis://:secret@host`). For error messages that may quote a URL.
 * A password runs to the last `@` before a blank: a hand-written URL may hold
 * an unencoded `@` or `/` in it, and hiding a host too is better than showing
 * the end of a password.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\/\/([^:@/\s]*)(:\S*)?@/g, (_match, user: string, password?: string) =>
    password === undefined ? `//${REDACTED}@` : `//${user}:${REDACTED}@`,
  );
}
