import { type Command, Option } from 'commander';
import type { Level } from 'pino';
import { redactUrlCredentials } from '../../client/common/redaction.js';
import { WARMING_DEFAULTS } from '../../client/warming/warming-options.js';
import {
  CONNECTION_FLAGS,
  connectionConfig,
  readSecret,
  wholeNumber,
} from '../connection-flags.js';
import { UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';
import type { SourceFlags } from '../warm-inputs.js';
import { type WarmRequest, warm } from '../warm-run.js';
import { addExporterFlags, flagValues } from './exporter.js';

/** The most keys one run plans (the warmer's own limit). */
const MAX_TOP = 1_000_000;
/** Plain progress lines, by default: often enough to see it move, rare enough for a CI log. */
const DEFAULT_PROGRESS_SECONDS = 2;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** `redscope warm`: warms a cold cache from the usage record or a list of keys, through the client's warmer. */
export function registerWarmCommand(program: Command, io: CliIo): void {
  const command = program
    .command('warm')
    .description(
      'warm a cold cache: the most used keys of a namespace (or a list), loaded from the source of truth or copied from a warm Redis, rate-limited',
    );
  addExporterFlags(command, CONNECTION_FLAGS, {
    'redis-url': ['URL', 'the Redis to warm: redis://host:port or rediss://host:port'],
    username: ['USER', 'ACL user on the Redis to warm (it needs SET, or RESTORE for a copy)'],
    'password-file': ['FILE', 'file holding the password of --username (or env REDSCOPE_PASSWORD)'],
  });
  const plain = (flags: string, help: string) => command.addOption(new Option(flags, help));
  plain('--namespace <PREFIX>', 'key prefix to warm, e.g. demo:session: (required)');
  plain(
    '--top <N>',
    `warm the N most valuable keys (default ${WARMING_DEFAULTS.limit}, at most ${MAX_TOP})`,
  );
  plain('--keys-file <FILE>', 'the keys to warm, one per line, most valuable first');
  plain(
    '--from <PLAN>',
    'usage (the default): the top of the usage record redscope:{warming}:usage:<namespace> the apps keep',
  );
  plain(
    '--loader <MODULE>',
    'ES module file exporting load(keys) -> Map of key to value, and ttlSeconds: values from the source of truth',
  );
  plain(
    '--from-redis <URL>',
    'copy the values from a warm Redis (a replica, another deployment), TTLs kept',
  );
  plain('--from-username <USER>', "ACL user on --from-redis (default: the target's)");
  plain('--from-password-file <FILE>', 'file holding the password of --from-username');
  plain('--from-tls-ca <FILE>', "CA of --from-redis (default: the target's TLS files)");
  plain('--from-tls-cert <FILE>', 'client certificate for --from-redis');
  plain('--from-tls-key <FILE>', 'key of --from-tls-cert');
  plain('--from-tls-insecure-skip-verify', 'do not verify the certificate of --from-redis');
  plain(
    '--rate <KEYS_PER_SECOND>',
    `at most this many keys a second, less while live traffic slows down (default ${WARMING_DEFAULTS.ratePerSecond})`,
  );
  plain('--dry-run', 'print the plan (keys, source, estimated time) and write nothing');
  plain(
    '--progress-interval <SECONDS>',
    `period of the progress lines when stdout is not a terminal (default ${DEFAULT_PROGRESS_SECONDS})`,
  );
  plain(
    '--log-level <LEVEL>',
    "the warmer's JSON logs on stderr: info shows its progress events (default warn)",
  );
  command.action(async (options: Record<string, string | boolean>) => {
    process.exitCode = await warm(parseWarmFlags(options, io));
  });
}

function text(options: Record<string, string | boolean>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}

/** Every flag checked, each error naming the flag: nothing connects before this passes. */
function parseWarmFlags(options: Record<string, string | boolean>, io: CliIo): WarmRequest {
  const namespace = text(options, 'namespace');
  if (namespace === undefined || namespace === '') {
    throw new UsageError(
      '--namespace: give the key prefix to warm, e.g. --namespace demo:session:',
    );
  }
  const from = text(options, 'from');
  if (from !== undefined && from !== 'usage') {
    throw new UsageError(
      `--from ${JSON.stringify(from)}: expected "usage" (the usage record); a list of keys is --keys-file FILE, a warm Redis --from-redis URL, the source of truth --loader MODULE`,
    );
  }
  const keysFile = text(options, 'keysFile');
  if (keysFile !== undefined && from !== undefined) {
    throw new UsageError('--keys-file: give either --keys-file or --from usage, not both');
  }
  const loader = text(options, 'loader');
  const fromRedis = text(options, 'fromRedis');
  if ((loader === undefined) === (fromRedis === undefined)) {
    throw new UsageError(
      loader === undefined
        ? 'give --loader MODULE (values from the source of truth) or --from-redis URL (a copy from a warm Redis): the usage record names the keys, not their values'
        : '--loader: give either --loader or --from-redis, not both',
    );
  }
  const fromFlags = Object.keys(options).filter((o) => /^from[A-Z]/.test(o) && o !== 'fromRedis');
  if (fromRedis === undefined && fromFlags.length > 0) {
    const flag = (fromFlags[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new UsageError(`--${flag}: only applies with --from-redis`);
  }
  const rate = Number(text(options, 'rate') ?? WARMING_DEFAULTS.ratePerSecond);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1_000_000) {
    throw new UsageError(
      `--rate ${JSON.stringify(options.rate)}: expected keys per second, more than 0 and at most 1000000`,
    );
  }
  const progressSeconds = Number(text(options, 'progressInterval') ?? DEFAULT_PROGRESS_SECONDS);
  if (!Number.isFinite(progressSeconds) || progressSeconds < 0.1) {
    throw new UsageError(
      `--progress-interval ${JSON.stringify(options.progressInterval)}: expected seconds, at least 0.1`,
    );
  }
  const logLevel = (text(options, 'logLevel') ?? 'warn') as Level | 'silent';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(
      `--log-level ${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const top = wholeNumber(
    '--top',
    text(options, 'top') ?? String(WARMING_DEFAULTS.limit),
    1,
    MAX_TOP,
  );
  const values: WarmRequest['values'] =
    loader !== undefined
      ? { kind: 'loader', module: loader }
      : { kind: 'redis', from: sourceFlags(fromRedis as string, options) };
  const connection: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(flagValues(options))) {
    if ((CONNECTION_FLAGS as readonly string[]).includes(name)) connection[name] = value as string;
  }
  const target = connectionConfig(connection);
  if (target.tls.insecureSkipVerify) {
    io.err('redscope warm: TLS certificate verification of Redis is OFF\n');
  }
  return {
    target,
    namespace,
    top,
    ...(keysFile !== undefined ? { keysFile } : {}),
    values,
    ratePerSecond: rate,
    dryRun: options.dryRun === true,
    progressEveryMs: progressSeconds * 1000,
    logLevel,
    io,
  };
}

function sourceFlags(url: string, options: Record<string, string | boolean>): SourceFlags {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new UsageError(
      `--from-redis ${JSON.stringify(redactUrlCredentials(url))}: expected redis://host:port or rediss://host:port`,
    );
  }
  const username = text(options, 'fromUsername');
  const passwordFile = text(options, 'fromPasswordFile');
  const ca = text(options, 'fromTlsCa');
  const cert = text(options, 'fromTlsCert');
  const key = text(options, 'fromTlsKey');
  const insecure = options.fromTlsInsecureSkipVerify === true;
  const ownTls = ca !== undefined || cert !== undefined || key !== undefined || insecure;
  return {
    url,
    ...(username !== undefined ? { username } : {}),
    ...(passwordFile !== undefined
      ? { password: readSecret('--from-password-file', passwordFile) }
      : {}),
    ...(ownTls
      ? {
          tls: {
            ...(ca !== undefined ? { caFile: ca } : {}),
            ...(cert !== undefined ? { certFile: cert } : {}),
            ...(key !== undefined ? { keyFile: key } : {}),
            ...(insecure ? { insecureSkipVerify: true } : {}),
          },
        }
      : {}),
  };
}
