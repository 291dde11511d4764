import { createHmac } from 'node:crypto';

/**
 * Key names that leave a process (hot-key reports, metric labels, log lines)
 * are redacted here first. A session id in a Grafana label is a bearer
 * secret anyone with dashboard access could replay, so the secret parts of a
 * key are replaced by a keyed hash: the same key always maps to the same label
 * (reports from many processes still merge), and nobody without the
 * per-deployment secret can go back from the label to the key.
 */

/** A redaction pattern that does not compile; the message names it. */
export class RedactionPatternError extends Error {
  override readonly name = 'RedactionPatternError';
}

/** What gets redacted when no pattern is configured: everything after a `session` segment. */
export const DEFAULT_REDACTION_PATTERNS: readonly string[] = ['session:*'];

/** The shortest secret accepted: a guessable secret makes the hashes reversible by brute force. */
export const MIN_REDACTION_SECRET_LENGTH = 16;

const HASH_HEX_CHARS = 10;

// Segments that look like credentials or ids whatever the pattern list says.
const LONG_HEX = /^[0-9a-f]{16,}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]{20,}={0,2}$/;
const HAS_DIGIT = /\d/;
const HAS_LETTER = /[A-Za-z]/;

/**
 * Whether one `:`-separated segment looks like a token: long hex, a UUID, or
 * 20+ characters of base64url mixing letters and digits (a long plain word
 * such as `organization_settings` has no digit and stays readable).
 */
export function looksLikeToken(segment: string): boolean {
  if (LONG_HEX.test(segment) || UUID.test(segment)) return true;
  return BASE64URL.test(segment) && HAS_DIGIT.test(segment) && HAS_LETTER.test(segment);
}

/** A compiled pattern: the regex and which of its groups are secret. */
interface CompiledPattern {
  readonly source: string;
  readonly regex: RegExp;
}

/**
 * Compiles redaction patterns. A pattern is a glob over `:`-separated
 * segments in which every `*` marks a secret part: a `*` in the middle
 * matches one segment, a trailing `*` the rest of the key. It matches at any
 * segment boundary, so `session:*` covers `app:session:<id>`. A pattern in
 * slashes is a regular expression whose capture groups are the secret parts
 * (`/^tenant:([^:]+):token$/`).
 *
 * ```ts
 * compileRedactionPatterns(['session:*', 'user:*:profile']);
 * ```
 */
export function compileRedactionPatterns(patterns: readonly string[]): readonly CompiledPattern[] {
  return patterns.map((source, index) => {
    if (typeof source !== 'string' || source.length === 0) {
      throw new RedactionPatternError(`pattern ${index} is empty; give a glob such as "session:*"`);
    }
    if (source.length > 2 && source.startsWith('/') && source.endsWith('/')) {
      let regex: RegExp;
      try {
        regex = new RegExp(source.slice(1, -1), 'd');
      } catch (error) {
        throw new RedactionPatternError(
          `pattern ${index} (${source}) is not a valid regular expression: ${(error as Error).message}`,
        );
      }
      if (new RegExp(`${regex.source}|`).exec('')?.length === 1) {
        throw new RedactionPatternError(
          `pattern ${index} (${source}) has no capture group: put the secret part in parentheses`,
        );
      }
      return { source, regex };
    }
    if (!source.includes('*')) {
      throw new RedactionPatternError(
        `pattern ${index} (${source}) has no "*": mark the secret part, as in "session:*"`,
      );
    }
    const parts = source.split('*');
    const body = parts
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .reduce((regex, part, i) => {
        if (i === 0) return part;
        const last = i === parts.length - 1 && part === '';
        return `${regex}(${last ? '.+' : '[^:]+'})${part}`;
      }, '');
    return { source, regex: new RegExp(`^(?:.*:)?${body}$`, 'sd') };
  });
}

export interface KeyRedactorOptions {
  /** The per-deployment HMAC secret (at least 16 characters); the same in every process that reports. */
  readonly secret: string;
  /** Globs or `/regex/` (see compileRedactionPatterns). @default ['session:*'] */
  readonly patterns?: readonly string[];
}

/** A few times the tracked keys: reports redact the same few dozen names every few seconds. */
const MAX_MEMOIZED = 512;

/** What splits a key into segments: the separators apps use in key names. */
const SEPARATORS = /([:/.=|,;@ ])/;
/**
 * A segment shown as it is: a word, optionally ending in a small number
 * (`org-3`, `shard12`), or a small number. Secrets are long or mix letters
 * and digits throughout, so they never pass.
 */
const READABLE = /^(?:[A-Za-z][A-Za-z_-]{0,31}\d{0,6}|\d{1,6})$/;

/**
 * Redacts key names before they leave the process, by allow-list: the parts
 * a pattern marks secret are hashed whole, and of the rest every segment
 * (between `:`, `/`, `.`, `=` and the like) that is not a word (perhaps
 * ending in a small number) or a small number is hashed too, tokens included. A hashed part becomes `#` and
 * ten hex characters of HMAC-SHA256 under the deployment's secret.
 *
 * ```ts
 * const redactor = new KeyRedactor({ secret: process.env.REDSCOPE_HOTKEYS_SECRET ?? '' });
 * redactor.redact('demo:session:9f86d081884c7d659a2feaa0c55ad015'); // 'demo:session:#5c1e0b3d7a'
 * redactor.redact('demo:org:42:settings'); // unchanged
 * ```
 */
export class KeyRedactor {
  private readonly patterns: readonly CompiledPattern[];
  private readonly secret: string;
  private readonly memo = new Map<string, string>();

  constructor(options: KeyRedactorOptions) {
    if (typeof options.secret !== 'string' || options.secret.length < MIN_REDACTION_SECRET_LENGTH) {
      throw new RedactionPatternError(
        `the redaction secret must be at least ${MIN_REDACTION_SECRET_LENGTH} characters`,
      );
    }
    this.secret = options.secret;
    this.patterns = compileRedactionPatterns(options.patterns ?? DEFAULT_REDACTION_PATTERNS);
  }

  redact(key: string): string {
    let redacted = this.memo.get(key);
    if (redacted === undefined) {
      redacted = this.compute(key);
      if (this.memo.size >= MAX_MEMOIZED) this.memo.clear();
      this.memo.set(key, redacted);
    }
    return redacted;
  }

  private hash(secretPart: string): string {
    return `#${createHmac('sha256', this.secret).update(secretPart).digest('hex').slice(0, HASH_HEX_CHARS)}`;
  }

  private compute(key: string): string {
    let result = '';
    let at = 0;
    for (const [start, end] of this.secretSpans(key)) {
      result += this.readable(key.slice(at, start)) + this.hash(key.slice(start, end));
      at = end;
    }
    return result + this.readable(key.slice(at));
  }

  /** Plain words and small numbers stay; every other segment is hashed. */
  private readable(text: string): string {
    return text
      .split(SEPARATORS)
      .map((part, i) =>
        i % 2 === 1 || part === '' || READABLE.test(part) ? part : this.hash(part),
      )
      .join('');
  }

  /**
   * The parts of `key` the patterns mark secret, in order, as [start, end)
   * offsets into the original key; overlapping or nested groups are merged
   * into the outermost, so no part of a secret is left out of its hash.
   */
  private secretSpans(key: string): [number, number][] {
    const spans: [number, number][] = [];
    for (const { regex } of this.patterns) {
      const match = regex.exec(key);
      for (let group = 1; match?.indices !== undefined && group < match.length; group++) {
        const span = match.indices[group];
        if (span !== undefined && span[1] > span[0]) spans.push([span[0], span[1]]);
      }
    }
    spans.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const span of spans) {
      const last = merged.at(-1);
      if (last !== undefined && span[0] < last[1]) last[1] = Math.max(last[1], span[1]);
      else merged.push([span[0], span[1]]);
    }
    return merged;
  }
}
