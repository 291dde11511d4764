import { type Command, Option } from 'commander';
import {
  ConfigError,
  envName,
  FLAGS,
  type FlagName,
  loadExporterConfig,
} from '../../exporter/config.js';
import { appliedExporterV8Flags } from '../../exporter/node-flags.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';

/** Argument name and help of each exporter flag; `redscope hotkeys` shows the same for the flags it shares. */
export const FLAG_HELP: Record<string, [string, string]> = {
  'redis-url': [
    'URL',
    'target of /metrics (and seed of /discover-cluster-nodes): redis://host:port or rediss://host:port',
  ],
  username: ['USER', 'ACL user for --redis-url, or for the master the --sentinels name'],
  'password-file': [
    'FILE',
    'file holding the password of --username (or env REDSCOPE_PASSWORD); never sent to /scrape targets',
  ],
  sentinels: [
    'HOST:PORT,...',
    'Sentinels that name the master of --master-name (instead of --redis-url)',
  ],
  'master-name': ['NAME', 'master group to follow through --sentinels'],
  listen: ['HOST:PORT', 'address of the HTTP server (default 0.0.0.0:9121)'],
  'allow-target': [
    'PATTERN',
    'glob of targets /scrape may contact and cluster discovery may list, e.g. rediss://10.0.0.*:6379 (repeatable)',
  ],
  'tls-ca': ['FILE', 'CA certificate that signs the Redis servers'],
  'tls-cert': ['FILE', 'client certificate for Redis'],
  'tls-key': ['FILE', 'key of the client certificate'],
  'tls-insecure-skip-verify': ['', 'do not verify Redis server certificates (logs a warning)'],
  'credentials-file': [
    'FILE',
    'YAML mapping target patterns to username and password(_file) for /scrape',
  ],
  'web-config-file': [
    'FILE',
    'exporter-toolkit web config: TLS and basic auth for the HTTP endpoint',
  ],
  'scrape-timeout': [
    'SECONDS',
    'budget when Prometheus sends no scrape timeout header (default 10)',
  ],
  'client-name-cap': [
    'N',
    'distinct client names reported before the rest fold together (default 50)',
  ],
  'log-level': ['LEVEL', 'fatal, error, warn, info, debug, trace or silent (default info)'],
  'hotkeys-top': ['N', 'keys of the fleet-wide hot-key list exported (default 10, at most 100)'],
  'hotkeys-secret-file': [
    'FILE',
    'file holding the redaction secret the clients use (or env REDSCOPE_HOTKEYS_SECRET); needed by --hotkeys-lfu',
  ],
  'hotkeys-lfu': [
    '',
    'sample hot keys server-side with OBJECT FREQ (needs an LFU maxmemory-policy)',
  ],
  'hotkeys-lfu-sample-keys': ['N', 'keys the LFU sampler SCANs per scrape (default 1000)'],
  'hotkeys-lfu-scan-count': ['N', 'COUNT of each SCAN call (default 100)'],
  'hotkeys-lfu-top': ['N', 'LFU keys exported, hottest first (default 10, at most 100)'],
  'hotkeys-lfu-budget': ['SECONDS', 'time the LFU sampler may take per scrape (default 1)'],
  'check-keys': [
    '[dbN=]GLOB,...',
    'key patterns (SCAN MATCH) whose keys get redis_key_size/_value/_memory_usage_bytes',
  ],
  'check-single-keys': ['[dbN=]KEY,...', 'keys by name; a missing key has no series'],
  'check-single-keys-missing-as-zero': [
    '',
    "report a missing single key as redis_key_size 0 (redis_exporter's old behaviour)",
  ],
  'check-streams': ['[dbN=]GLOB,...', 'stream key patterns: length, groups, lag, consumers'],
  'check-single-streams': ['[dbN=]KEY,...', 'streams by name'],
  'streams-exclude-consumer-metrics': ['', 'leave out the per-consumer stream series'],
  'count-keys': ['[dbN=]GLOB,...', 'patterns whose keys are counted (redis_keys_count)'],
  'check-key-groups': [
    'LUA_PATTERN,...',
    'Lua patterns whose captures name a key group: count and memory per group',
  ],
  'max-distinct-key-groups': [
    'N',
    'key groups per DB with their own series; the rest add up under "overflow" (default 100)',
  ],
  'check-keys-batch-size': ['N', 'COUNT of each SCAN of the key collectors (default 100)'],
  'check-keys-budget': [
    'SECONDS',
    'time the key collectors may take per scrape; longer scans continue at the next (default 1)',
  ],
  'check-keys-max-series': [
    'N',
    'series per key collector and target; the rest are dropped and counted (default 10000)',
  ],
  'check-keys-read-from': [
    'any|replica',
    'replica: run the key collectors only when the scraped node is a replica (default any)',
  ],
  'check-keys-raw-names': [
    '',
    'export key names found by patterns unredacted (session ids included: know your keys)',
  ],
  script: ['FILE,...', 'Lua scripts run with EVAL_RO; their results become redis_script_values'],
  function: ['NAME,...', 'Redis functions run with FCALL_RO NAME 0, exported like scripts'],
  'script-allow-writes': ['', 'run scripts and functions with EVAL/FCALL, which may write'],
  'export-client-list': ['', 'one redis_connected_clients_details series per client connection'],
  'export-client-port': ['', 'add the client port label to the client list series'],
  'client-list-max-series': ['N', 'client list series per target at most (default 200)'],
  'include-config-metrics': [
    '',
    'export allow-listed CONFIG parameters as redis_config_value / redis_config_key_value',
  ],
  'config-metrics': ['NAME,...', 'the CONFIG parameters exported (default: docs/metrics.md)'],
};

/** Adds the exporter's `flags` to `command`, each with its help (or the command's own) and env var. */
export function addExporterFlags(
  command: Command,
  flags: readonly FlagName[],
  help: Partial<Record<FlagName, [string, string]>> = {},
): void {
  for (const flag of flags) {
    const [arg, description] = help[flag] ?? FLAG_HELP[flag] ?? ['VALUE', ''];
    const text = `${description} (env ${envName(flag)})`;
    if (flag === 'allow-target') {
      command.addOption(
        new Option(`--${flag} <${arg}>`, text).argParser(
          (value: string, previous: string[] = []) => [...previous, value],
        ),
      );
    } else if (arg === '') {
      command.addOption(new Option(`--${flag}`, text));
    } else {
      command.addOption(new Option(`--${flag} <${arg}>`, text));
    }
  }
}

/** Commander's camelCase options back to flag names (`redisUrl` -> `redis-url`). */
export function flagValues(
  options: Record<string, string | string[] | boolean>,
): Record<string, string | string[] | boolean> {
  const flags: Record<string, string | string[] | boolean> = {};
  for (const [camel, value] of Object.entries(options)) {
    flags[camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = value;
  }
  return flags;
}

/** `redscope exporter`: the Prometheus exporter for Redis and Sentinel. */
export function registerExporterCommand(program: Command, io: CliIo): void {
  const command = program
    .command('exporter')
    .description('run the Prometheus exporter for Redis and Sentinel (redis_exporter-compatible)');
  command.addOption(
    new Option('--config <FILE>', `YAML file with the same settings (env ${envName('config')})`),
  );
  addExporterFlags(command, Object.keys(FLAGS) as FlagName[]);
  command.action(async (options: Record<string, string | string[] | boolean>) => {
    const flags = flagValues(options);
    let config: ReturnType<typeof loadExporterConfig>;
    try {
      config = loadExporterConfig({ flags, env: process.env });
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    // The server (node:http, ioredis, pino) loads only when the command runs.
    const { createExporterLogger } = await import('../../exporter/logger.js');
    const { startExporter } = await import('../../exporter/server.js');
    const logger = createExporterLogger(config.logLevel);
    // bin/redscope.js set these before anything loaded; the line says what this process runs with.
    const v8Flags = appliedExporterV8Flags();
    if (v8Flags.length > 0) logger.info({ v8Flags }, 'V8 flags set for a small heap');
    let running: Awaited<ReturnType<typeof startExporter>>;
    try {
      running = await startExporter(config, logger);
    } catch (error) {
      logger.fatal({ err: (error as Error).message }, 'exporter could not start');
      io.err(`redscope exporter: ${(error as Error).message}\n`);
      process.exitCode = ExitCode.failure;
      return;
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'draining and stopping');
        running.close().then(resolve, resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    logger.info('stopped');
    process.exitCode = ExitCode.ok;
  });
}
