import { Ajv } from 'ajv';
import { globToRegex, normalisePattern } from './allow-list.js';
import type { RedisAuth } from './config.js';
import { ConfigError, loadYamlFile } from './config-errors.js';
import { credentialsSchema } from './config-schema.js';
import { secretFromFileText } from './secret-file.js';
import type { Target } from './target.js';

interface Entry {
  readonly regex: RegExp;
  readonly auth: RedisAuth;
}

/**
 * Per-target credentials: the first entry whose pattern matches a target's
 * `scheme://host:port` gives its user and password. A target no entry matches
 * gets none, so a password can only ever reach the targets it was written for.
 *
 * ```yaml
 * targets:
 *   - match: "rediss://cache-*.internal:6379"
 *     username: redscope-exporter
 *     password_file: /run/secrets/redis-exporter
 * ```
 */
export class Credentials {
  constructor(private readonly entries: readonly Entry[]) {}

  for(target: Target): RedisAuth {
    for (const entry of this.entries) if (entry.regex.test(target.key)) return entry.auth;
    return {};
  }

  /** These credentials with an exact entry for `target` placed first. */
  withExact(target: Target, auth: RedisAuth): Credentials {
    const regex = new RegExp(`^${target.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    return new Credentials([{ regex, auth }, ...this.entries]);
  }

  get size(): number {
    return this.entries.length;
  }
}

const validate = new Ajv({ strict: true }).compile(credentialsSchema);

export function loadCredentials(
  path: string,
  readFile: (path: string) => string,
  origin: string,
): Credentials {
  const parsed = loadYamlFile<{ targets: Record<string, string>[] }>(
    path,
    readFile,
    origin,
    validate,
    () => ['match', 'username', 'password', 'password_file'],
  );
  const entries = parsed.targets.map((t, i) => {
    const normalised = normalisePattern(t.match as string);
    let password = t.password;
    if (t.password_file) {
      try {
        password = secretFromFileText(readFile(t.password_file));
      } catch (error) {
        throw new ConfigError(
          `targets.${i}.password_file in ${path}: cannot read ${t.password_file}: ${(error as Error).message}`,
        );
      }
    }
    const auth: RedisAuth = {
      ...(t.username ? { username: t.username } : {}),
      ...(password ? { password } : {}),
    };
    return { regex: globToRegex(normalised), auth };
  });
  return new Credentials(entries);
}
