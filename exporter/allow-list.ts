import { isIPv6 } from 'node:net';
import type { Target } from './target.js';

/**
 * Which targets `/scrape` may contact. Patterns are globs over the normalised
 * target `scheme://host:port`, where `*` matches within one DNS label, IPv4
 * octet, IPv6 group or port (no `.`, `:` or `/`, so `redis://10.0.0.*:6379`
 * cannot be stretched to `10.0.0.7.evil.com` or another port) and `**`
 * matches anything. IPv6 hosts are bracketed as in a URL:
 * `rediss://[::1]:*`, `rediss://[fd12:**]:6379`. Matching looks at the text
 * only: no DNS lookup happens before a target is allowed.
 */
export class AllowList {
  private readonly patterns: readonly { source: string; regex: RegExp }[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((source) => ({
      source,
      regex: globToRegex(normalisePattern(source)),
    }));
  }

  allows(target: Target): boolean {
    return this.patterns.some((p) => p.regex.test(target.key));
  }

  get size(): number {
    return this.patterns.length;
  }
}

/**
 * Lower-cases and gives a scheme-less pattern the redis:// scheme, as targets
 * get; a bracketed IPv6 address without wildcards is written the way target
 * keys write it (`[0:0::1]` is `[::1]`), so the pattern matches however it was
 * spelled. Host names are not resolved: `rediss://*.railway.internal:6379`
 * matches the name a request gives, whatever it points to.
 */
export function normalisePattern(pattern: string): string {
  const text = pattern.trim().toLowerCase();
  const withScheme = text.includes('://') ? text : `redis://${text}`;
  return withScheme.replace(/\[([0-9a-f:.]+)\]/, (literal, address: string) =>
    isIPv6(address) ? new URL(`redis://[${address}]`).hostname : literal,
  );
}

export function globToRegex(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^:/.]*';
      }
    } else if (ch === '?') {
      source += '[^:/.]';
    } else {
      source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
