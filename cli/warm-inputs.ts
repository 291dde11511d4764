import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RedisClientsConfig, TlsConfig } from '../client/connection/config.js';
import type { WarmSource } from '../client/warming/types.js';
import type { ExporterConfig } from '../exporter/config.js';
import { clientsTlsOf } from './connection-flags.js';
import { UsageError } from './exit-codes.js';

/**
 * What `redscope warm` reads before it writes anything: the loader module,
 * the keys file, the usage record, and how to reach a warm Redis. Every
 * problem here is the caller's input and ends in a UsageError (exit 2) that
 * names the flag, before any key is written.
 */

/** A keys file larger than this is not a list of keys someone meant to warm. */
const MAX_KEYS_FILE_BYTES = 256 * 1024 * 1024;

export type LoaderSource = Extract<WarmSource, { kind: 'loader' }>;

/**
 * The loader module: an ES module file exporting `load(keys)` (resolving to
 * a Map from key to value, or null when the source of truth has none) and
 * `ttlSeconds`. Importing runs its top-level code: a module that throws
 * there (a missing dependency, a bad config) is refused like a missing one.
 *
 * ```js
 * // loader.mjs
 * export const ttlSeconds = 3600;
 * export async function load(keys) { return new Map(await db.sessionsByKey(keys)); }
 * ```
 */
export async function importLoader(spec: string): Promise<LoaderSource> {
  const path = resolve(spec);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UsageError(`--loader ${spec}: no such file (${path})`);
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new UsageError(`--loader ${spec}: the module threw on import: ${reason}`);
  }
  const { load, ttlSeconds } = module;
  if (typeof load !== 'function') {
    throw new UsageError(
      `--loader ${spec}: exports no load function; it needs \`export async function load(keys)\` resolving to a Map of key to value (null when there is none)`,
    );
  }
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new UsageError(
      `--loader ${spec}: ttlSeconds must be exported as a positive number of seconds (the TTL of the keys written), got ${JSON.stringify(ttlSeconds) ?? 'nothing'}`,
    );
  }
  return {
    kind: 'loader',
    load: (keys, context) => (load as LoaderSource['load'])(keys, context),
    ttlSeconds,
  };
}

/**
 * The keys of a keys file, most valuable first: one per line, blank lines
 * skipped, duplicates dropped, at most `top`. A key outside the namespace is
 * refused with its line number (the warmer would refuse it too).
 */
export function readKeysFile(file: string, namespace: string, top: number): string[] {
  let text: string;
  try {
    if (statSync(file).size > MAX_KEYS_FILE_BYTES) {
      throw new UsageError(`--keys-file ${file}: larger than ${MAX_KEYS_FILE_BYTES} bytes`);
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `--keys-file ${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  const keys = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && keys.size < top; i++) {
    const key = (lines[i] ?? '').replace(/\r$/, '');
    if (key.trim() === '') continue;
    if (!key.startsWith(namespace) || key.length === namespace.length) {
      throw new UsageError(
        `--keys-file ${file}, line ${i + 1}: ${JSON.stringify(key.slice(0, 80))} is not a key of the namespace ${JSON.stringify(namespace)}`,
      );
    }
    keys.add(key);
  }
  if (keys.size === 0) throw new UsageError(`--keys-file ${file}: holds no key`);
  return [...keys];
}

export interface SourceFlags {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: TlsConfig;
}

/**
 * How to reach the warm Redis of `--from-redis`: its own `--from-*`
 * credentials and TLS files when given, else the target's (a replica of the
 * same deployment takes the same user and certificates). The scheme decides
 * TLS, as everywhere.
 */
export function sourceClientsConfig(from: SourceFlags, target: ExporterConfig): RedisClientsConfig {
  const ownCredentials = from.username !== undefined || from.password !== undefined;
  const { username, password } = ownCredentials ? from : target.redisAuth;
  const tls = from.tls ?? clientsTlsOf(target);
  return {
    url: from.url,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(/^rediss:/i.test(from.url) ? { tls } : {}),
    // The copy only reads there.
    connectionName: 'redscope-warm-source',
  };
}
