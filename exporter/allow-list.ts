import type { Target } from './target.js';

/**
 * Which targets `/scrape` may contact. Patterns are globs over the normalised
 * target `scheme://host:port`, where `*` matches within one DNS label, IPv4
 * octet or port (no `.`, `:` or `/`, so `redis://10.0.0.*:6379` cannot be
 * stretched to `10.0.0.7.evil.com` or another port) and `**` matches anything. Matching looks at the text only: no DNS
 * lookup happens before a target is allowed.
 */
export class AllowList {
  private readonly patterns: readonly { source: string; regex: RegExp }[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((source) => ({ source, regex: globToRegex(normalise(source)) }));
  }

  allows(target: Target): boolean {
    return this.patterns.some((p) => p.regex.test(target.key));
  }

  get size(): number {
    return this.patterns.length;
  }
}

/** Lower-cases and gives a scheme-less pattern the redis:// scheme, as targets get. */
function normalise(pattern: string): string {
  const text = pattern.trim().toLowerCase();
  return text.includes('://') ? text : `redis://${text}`;
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
