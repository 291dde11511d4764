/**
 * Renders the Redis and Sentinel configs in `sentinel/` for a local run: the
 * launcher keeps every directive users deploy and replaces only what must
 * differ on one machine (ports, paths, addresses). That way the tests exercise
 * the very configs that ship.
 */

/** One directive of a redis.conf / sentinel.conf, e.g. `sentinel monitor`. */
export interface Directive {
  readonly key: string;
  readonly args: string;
}

/** Directive identity: the first word, or the first two for `sentinel <sub> ...`. */
function keyOf(line: string): { key: string; args: string } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const words = trimmed.split(/\s+/);
  const first = (words[0] ?? '').toLowerCase();
  if (first === 'sentinel' && words.length > 1) {
    const sub = (words[1] ?? '').toLowerCase();
    return { key: `sentinel ${sub}`, args: words.slice(2).join(' ') };
  }
  return { key: first, args: words.slice(1).join(' ') };
}

export function parseRedisConfig(text: string): Directive[] {
  const directives: Directive[] = [];
  for (const line of text.split('\n')) {
    const parsed = keyOf(line);
    if (parsed) directives.push(parsed);
  }
  return directives;
}

/**
 * Overrides by directive key. A string replaces the arguments (or appends the
 * directive when the template lacks it); `null` removes the directive.
 * For `sentinel <sub>` keys the value is what follows `sentinel <sub>`.
 */
export type ConfigOverrides = Readonly<Record<string, string | null>>;

/**
 * Applies overrides to a template, keeping its comments and order so a rendered
 * file reads like the one in the repository.
 */
export function renderRedisConfig(template: string, overrides: ConfigOverrides): string {
  const applied = new Set<string>();
  const out: string[] = [];
  for (const line of template.split('\n')) {
    const parsed = keyOf(line);
    if (!parsed || !(parsed.key in overrides)) {
      out.push(line);
      continue;
    }
    const value = overrides[parsed.key];
    if (value === null || value === undefined || applied.has(parsed.key)) continue;
    out.push(`${parsed.key} ${value}`);
    applied.add(parsed.key);
  }
  const appended = Object.entries(overrides).filter(
    ([key, value]) => value !== null && !applied.has(key),
  );
  if (appended.length > 0) {
    out.push('', '# set by the redscope launcher for this run');
    for (const [key, value] of appended) out.push(`${key} ${value}`);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The `tls-*` directives that a plain-TCP run drops. */
export const TLS_DIRECTIVES = [
  'tls-port',
  'tls-cert-file',
  'tls-key-file',
  'tls-ca-cert-file',
  'tls-auth-clients',
  'tls-replication',
  'tls-cluster',
  'tls-protocols',
  'tls-prefer-server-ciphers',
  'tls-client-cert-file',
  'tls-client-key-file',
] as const;
