/**
 * What `redscope maintenance start` reads from its command line: how long the
 * silence holds and which alerts it mutes, in amtool's own spelling, so an
 * engineer who knows `amtool silence add` types the same here.
 */

/** One label matcher of a silence, in Alertmanager's v2 API shape. */
export interface SilenceMatcher {
  readonly name: string;
  readonly value: string;
  readonly isRegex: boolean;
  /** false for `!=` and `!~`. */
  readonly isEqual: boolean;
}

/** A bad --for or --matcher; the message names the flag and what is allowed. */
export class SilenceInputError extends Error {
  override readonly name = 'SilenceInputError';
}

const SECOND = 1000;
const DAY = 24 * 3600 * SECOND;
/** Units of --for, largest first, as they must be written. */
const UNITS = [
  ['w', 7 * DAY],
  ['d', DAY],
  ['h', 3600 * SECOND],
  ['m', 60 * SECOND],
  ['s', SECOND],
] as const;
/**
 * Longest window: a maintenance that needs more is a change of the alert
 * rules, not a silence someone may forget.
 */
export const MAX_SILENCE_MS = 7 * DAY;

/**
 * `90s`, `30m`, `1h`, `1h30m`, `2d`: whole numbers with units from the
 * largest down, as Prometheus writes durations. Bounded: > 0 and <= 7d.
 */
export function parseSilenceDuration(text: string): number {
  const trimmed = text.trim();
  const match = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(trimmed);
  if (trimmed === '' || !match) {
    throw new SilenceInputError(
      `--for ${JSON.stringify(text)}: expected a duration such as 90s, 30m, 1h or 1h30m (units w, d, h, m, s, largest first)`,
    );
  }
  let ms = 0;
  UNITS.forEach(([, size], i) => {
    const n = match[i + 1];
    if (n !== undefined) ms += Number(n) * size;
  });
  if (ms <= 0 || ms > MAX_SILENCE_MS) {
    throw new SilenceInputError(
      `--for ${JSON.stringify(text)}: a silence must last more than 0s and at most 7d`,
    );
  }
  return ms;
}

/** `1h30m0s` style, for "ends in ...": the two largest units that are not zero. */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms / SECOND));
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || (unit === 's' && parts.length === 0)) parts.push(`${n}${unit}`);
  }
  return parts.slice(0, 2).join('');
}

/** Prometheus' label name rule. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * One matcher as amtool takes it: `name=value`, `name!=value`, `name=~regex`,
 * `name!~regex`; the value may be double-quoted (`name="a b"`, with `\"` and
 * `\\` inside). The regex is Alertmanager's (Go RE2, anchored); Alertmanager
 * checks it when the silence is created.
 */
export function parseMatcher(text: string): SilenceMatcher {
  const match = /^\s*([^=!~\s]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s.exec(text);
  if (!match) {
    throw new SilenceInputError(
      `--matcher ${JSON.stringify(text)}: expected name=value, name!=value, name=~regex or name!~regex`,
    );
  }
  const [, name = '', op = '', raw = ''] = match;
  if (!LABEL_NAME.test(name)) {
    throw new SilenceInputError(
      `--matcher ${JSON.stringify(text)}: label name ${JSON.stringify(name)} is not valid (letters, digits and _, not starting with a digit)`,
    );
  }
  return {
    name,
    value: unquote(raw, text),
    isRegex: op === '=~' || op === '!~',
    isEqual: op === '=' || op === '=~',
  };
}

function unquote(raw: string, text: string): string {
  if (!raw.startsWith('"')) return raw;
  if (raw.length < 2 || !raw.endsWith('"')) {
    throw new SilenceInputError(
      `--matcher ${JSON.stringify(text)}: the quoted value is not closed`,
    );
  }
  try {
    // A JSON string is exactly a double-quoted value with backslash escapes.
    return JSON.parse(raw) as string;
  } catch {
    throw new SilenceInputError(
      `--matcher ${JSON.stringify(text)}: the quoted value has a bad escape (use \\" and \\\\)`,
    );
  }
}

/**
 * The matchers of one silence. At least one, and not only matchers that an
 * alert without those labels satisfies: either would mute every alert.
 * (Regexes are left to Alertmanager, which refuses the same case.)
 */
export function parseMatchers(texts: readonly string[]): SilenceMatcher[] {
  if (texts.length === 0) {
    throw new SilenceInputError(
      '--matcher: give at least one (e.g. --matcher cluster=redscope): a silence without matchers would mute every alert',
    );
  }
  const matchers = texts.map(parseMatcher);
  const matchesEmpty = (m: SilenceMatcher) => !m.isRegex && (m.value === '') === m.isEqual;
  if (matchers.every(matchesEmpty)) {
    throw new SilenceInputError(
      '--matcher: every matcher given also matches alerts without that label, so the silence would mute every alert; add one such as cluster=redscope',
    );
  }
  return matchers;
}

/** amtool's spelling of a matcher, the value quoted: `cluster="redscope"`. */
export function formatMatcher(matcher: SilenceMatcher): string {
  // Alertmanager leaves isEqual out of older silences: absent means equal.
  const negated = matcher.isEqual === false;
  const op = matcher.isRegex ? (negated ? '!~' : '=~') : negated ? '!=' : '=';
  return `${matcher.name}${op}${JSON.stringify(matcher.value)}`;
}
