import { readFileSync } from 'node:fs';
import type { RedisClientsConfig, TlsConfig } from '../client/connection/config.js';
import {
  ConfigError,
  type ExporterConfig,
  envName,
  type FlagName,
  loadExporterConfig,
  PASSWORD_ENV,
} from '../exporter/config.js';
import { secretFromFileText } from '../exporter/secret-file.js';
import { UsageError } from './exit-codes.js';

/**
 * How the commands that read or write one deployment (`redscope hotkeys`,
 * `redscope warm`) reach its master: the exporter's own flags, parsed by the
 * exporter's own code, so a flag means the same in every command.
 */
export const CONNECTION_FLAGS: readonly FlagName[] = [
  'redis-url',
  'sentinels',
  'master-name',
  'username',
  'password-file',
  'tls-ca',
  'tls-cert',
  'tls-key',
  'tls-insecure-skip-verify',
];

/**
 * The connection settings through the exporter's own parsing. Only the
 * connection's env vars are read: the exporter's other settings
 * (REDSCOPE_LISTEN, ...) are not these commands'.
 */
export function connectionConfig(
  flags: Record<string, string | string[] | boolean>,
): ExporterConfig {
  const env: Record<string, string | undefined> = { [PASSWORD_ENV]: process.env[PASSWORD_ENV] };
  for (const flag of CONNECTION_FLAGS) env[envName(flag)] = process.env[envName(flag)];
  let config: ExporterConfig;
  try {
    config = loadExporterConfig({ flags, env });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  if (!config.redisTarget && config.sentinels.length === 0) {
    throw new UsageError('give --redis-url, or --sentinels with --master-name');
  }
  return config;
}

/** Where the flags point, for messages: the URL, or the master group and its Sentinels. */
export function describeConnection(config: ExporterConfig): string {
  return (
    config.redisTarget?.key ??
    `the master "${config.masterName}" of ${config.sentinels.map((s) => s.key).join(', ')}`
  );
}

/**
 * The same settings in the shape `createRedisClients` takes, for commands
 * that act as an app would. The scheme decides TLS, as in the exporter: a
 * rediss:// Sentinel setup is TLS throughout. The Sentinels get no
 * credentials, as the exporter's (the password is the master's).
 */
export function clientsConfigOf(config: ExporterConfig): RedisClientsConfig {
  const { username, password } = config.redisAuth;
  const tls = clientsTlsOf(config);
  const credentials = {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
  if (config.redisTarget) {
    return {
      url: config.redisTarget.key,
      ...credentials,
      ...(config.redisTarget.scheme === 'rediss' ? { tls } : {}),
    };
  }
  return {
    sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
    ...(config.masterName ? { masterName: config.masterName } : {}),
    ...credentials,
    tls: config.sentinels[0]?.scheme === 'rediss' ? tls : false,
  };
}

/** The TLS files of the flags (already read), as `createRedisClients` takes them. */
export function clientsTlsOf(config: ExporterConfig): TlsConfig {
  return {
    ...(config.tls.ca ? { ca: config.tls.ca } : {}),
    ...(config.tls.cert ? { cert: config.tls.cert } : {}),
    ...(config.tls.key ? { key: config.tls.key } : {}),
    ...(config.tls.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
  };
}

/** A whole number flag within bounds, or a UsageError naming the flag and what is allowed. */
export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${flag} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

/** A password or secret from the file a flag names, or a UsageError naming the flag. */
export function readSecret(flag: string, file: string): string {
  try {
    return secretFromFileText(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}
