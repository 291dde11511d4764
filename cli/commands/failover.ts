import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { redactUrlCredentials } from '../../client/common/redaction.js';
import type { RedisAuth, RedisTls } from '../../exporter/config.js';
import { InvalidTargetError, parseTarget, type Target } from '../../exporter/target.js';
import { defaultStateDir, type StackState } from '../../stack/stack-state.js';
import { readSecret, wholeNumber } from '../connection-flags.js';
import type { SentinelDrillOptions } from '../drills/failover.js';
import { StackDefaults } from '../drills/stack-defaults.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';

const DEFAULT_TIMEOUT_SECONDS = 30;
const MAX_TIMEOUT_SECONDS = 3600;

interface FailoverFlags {
  sentinels?: string;
  masterName?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  sentinelPasswordFile?: string;
  username?: string;
  passwordFile?: string;
  crash?: boolean;
  timeout?: string;
  wait: boolean;
  stateDir?: string;
  clusterNodes?: string;
}

/**
 * `redscope failover`: a failover drill on a Sentinel deployment, planned
 * (`SENTINEL FAILOVER`) or a crash (`--crash`: kill -9 of the master, when it
 * runs on this machine). Without --sentinels it drills the `redscope up`
 * running on --state-dir.
 */
export function registerFailoverCommand(program: Command, io: CliIo): void {
  program
    .command('failover')
    .description(
      'fail the master over: planned (SENTINEL FAILOVER), or --crash (kill -9 of a local master); waits for the new master',
    )
    .option(
      '--sentinels <HOST:PORT,...>',
      'Sentinels of the deployment; given, nothing comes from the running redscope up (default: its Sentinels)',
    )
    .option(
      '--master-name <NAME>',
      "master group to fail over (default: the running redscope up's)",
    )
    .option(
      '--tls-ca <FILE>',
      'CA of the Sentinels and data nodes; given, both are reached over TLS',
    )
    .option('--tls-cert <FILE>', 'client certificate for TLS')
    .option('--tls-key <FILE>', 'key of --tls-cert')
    .option(
      '--sentinel-password-file <FILE>',
      "file holding the Sentinels' password, if they take one",
    )
    .option('--username <USER>', 'ACL user on the data nodes (--crash reads INFO on the master)')
    .option('--password-file <FILE>', 'file holding the password of --username')
    .option(
      '--crash',
      'kill -9 the master instead (only a redis-server of this machine on a loopback address), then wait for the Sentinels to elect another',
    )
    .option(
      '--timeout <SECONDS>',
      `how long to wait for the new master (default ${DEFAULT_TIMEOUT_SECONDS})`,
    )
    .option('--no-wait', 'return once the failover is requested or the master killed')
    .option(
      '--state-dir <DIR>',
      `where redscope up keeps stack.json, read for defaults (default ${defaultStateDir()})`,
    )
    // Hidden until cluster drills exist: typed, it says so instead of "unknown option".
    .addOption(new Option('--cluster-nodes <HOST:PORT,...>').hideHelp())
    .action(async (flags: FailoverFlags) => {
      const options = drillOptions(flags);
      const { crashMaster, plannedFailover, FailoverError } = await import('../drills/failover.js');
      const { NotLocalError } = await import('../drills/local-redis-process.js');
      const name = options.masterName;
      const waiting = `; waiting up to ${(options.timeoutMs ?? 0) / 1000} s for the Sentinels to agree on a new master`;
      try {
        const result = await (flags.crash ? crashMaster : plannedFailover)({
          ...options,
          onEvent: (event) => {
            if (event.kind === 'killed') {
              // The exact time on stdout: the alert-latency bench and the e2e test measure from it.
              io.out(
                `killed ${name} master ${event.master} (pid ${event.pid}) at ${event.at.toISOString()}\n`,
              );
              if (options.wait !== false) io.err(`redscope failover: master killed${waiting}\n`);
            } else if (options.wait !== false) {
              io.err(
                `redscope failover: Sentinel ${event.sentinel} is failing "${name}" over from ${event.master}${waiting}\n`,
              );
            }
          },
        });
        if (result.to !== undefined && result.seconds !== undefined) {
          io.out(
            `failover of ${name}: ${result.from} -> ${result.to} in ${result.seconds.toFixed(1)} s\n`,
          );
        } else if (!flags.crash) {
          io.out(
            `failover of ${name} requested: master was ${result.from} (--no-wait: not waiting)\n`,
          );
        }
        process.exitCode = ExitCode.ok;
      } catch (error) {
        if (error instanceof FailoverError || error instanceof NotLocalError) {
          io.err(`redscope failover: ${error.message}\n`);
          process.exitCode = ExitCode.failure;
          return;
        }
        throw error;
      }
    });
}

/**
 * Every flag checked, and the missing ones taken from the running stack,
 * before anything connects.
 */
function drillOptions(flags: FailoverFlags): SentinelDrillOptions {
  const timeoutSeconds = wholeNumber(
    '--timeout',
    flags.timeout ?? String(DEFAULT_TIMEOUT_SECONDS),
    1,
    MAX_TIMEOUT_SECONDS,
  );
  // Given --sentinels, the deployment is the flags': the local stack's CA or
  // password must not leak into a drill against another one.
  const stack = new StackDefaults(flags.stateDir ?? defaultStateDir());
  const fromStack = flags.sentinels === undefined;
  if (flags.clusterNodes !== undefined || (fromStack && stack.get()?.mode === 'cluster')) {
    const which =
      flags.clusterNodes !== undefined
        ? '--cluster-nodes'
        : `the redscope up in ${stack.dir} runs a Redis Cluster`;
    throw new UsageError(
      `failover on a cluster: not supported yet (${which}); redis-cli CLUSTER FAILOVER on a replica does a planned one`,
    );
  }
  const pick = <T>(flag: string, given: T | undefined, value: (s: StackState) => T | undefined) =>
    fromStack ? stack.value(flag, given, value) : given;

  const sentinelsText = pick('--sentinels', flags.sentinels, (s) => s.sentinels?.join(','));
  const masterName = pick('--master-name', flags.masterName, (s) => s.masterName);
  if (masterName === undefined || masterName.trim() === '') {
    throw new UsageError(
      '--master-name: give the master group to fail over (--sentinels needs it)',
    );
  }
  const stackTls = fromStack ? stack.get()?.tls : undefined;
  const caFile = flags.tlsCa ?? stackTls?.caFile;
  const certFile = flags.tlsCert ?? stackTls?.certFile;
  const keyFile = flags.tlsKey ?? stackTls?.keyFile;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  const tls: RedisTls = {
    ...(caFile ? { ca: readFile('--tls-ca', caFile) } : {}),
    ...(certFile ? { cert: readFile('--tls-cert', certFile) } : {}),
    ...(keyFile ? { key: readFile('--tls-key', keyFile) } : {}),
    insecureSkipVerify: false,
  };
  const sentinels = parseSentinels(sentinelsText ?? '', caFile !== undefined);

  const admin = fromStack && flags.username === undefined ? stack.get()?.admin : undefined;
  const username = flags.username ?? admin?.username;
  const passwordFile = flags.passwordFile ?? admin?.passwordFile;
  const passwordFrom = flags.passwordFile
    ? '--password-file'
    : `admin.passwordFile of ${stack.dir}/stack.json`;
  const dataAuth: RedisAuth = {
    ...(username ? { username } : {}),
    ...(passwordFile ? { password: readSecret(passwordFrom, passwordFile) } : {}),
  };
  const sentinelAuth: RedisAuth = flags.sentinelPasswordFile
    ? { password: readSecret('--sentinel-password-file', flags.sentinelPasswordFile) }
    : {};
  return {
    sentinels,
    masterName,
    tls,
    sentinelAuth,
    dataAuth,
    timeoutMs: timeoutSeconds * 1000,
    wait: flags.wait,
  };
}

/** `host:port,...`; bare addresses are TLS when a CA is given, `redis://`/`rediss://` as written. */
function parseSentinels(text: string, tls: boolean): Target[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('--sentinels: give at least one HOST:PORT');
  return items.map((item) => {
    const withScheme = item.includes('://') ? item : `${tls ? 'rediss' : 'redis'}://${item}`;
    try {
      return parseTarget(withScheme);
    } catch (error) {
      if (!(error instanceof InvalidTargetError)) throw error;
      throw new UsageError(
        `--sentinels ${JSON.stringify(redactUrlCredentials(item))}: ${redactUrlCredentials(error.message)}`,
      );
    }
  });
}

function readFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(
      `${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}
