import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Cluster, Redis } from 'ioredis';
import type { ClientOptions, RedisClients, TlsConfig } from '../../client/index.js';
import { DEMO_DEFAULTS } from '../../demo/defaults.js';
import { readSecret, wholeNumber } from '../connection-flags.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';

interface DemoFlags {
  listen: string;
  redisUrl?: string;
  sentinels?: string;
  masterName?: string;
  clusterNodes?: string;
  username?: string;
  passwordFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tls: boolean;
  rate: string;
  hotKeyRate?: string;
  hotKeyThreshold: string;
  returningSessions: string;
  hotkeysSecretFile?: string;
  nearCache: boolean;
  databaseDir?: string;
  warming: boolean;
  otlpEndpoint?: string;
}

/** `HOST:PORT` -> parts, or a UsageError naming the flag. */
function hostPort(flag: string, value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `${flag} ${JSON.stringify(value)}: expected HOST:PORT, e.g. 127.0.0.1:3000`,
    );
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** A folder the demo can keep its sessions in (made if missing), or a UsageError naming the flag. */
function usableFolder(flag: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new UsageError(
      `${flag} ${dir}: cannot keep sessions there (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir}: not a directory`);
}

/** The load's flags, checked together: the hot key is a part of the rate. */
function loadSettings(flags: DemoFlags) {
  const rate = wholeNumber('--rate', flags.rate, 0, 2000);
  const hotKeyPerMinute =
    flags.hotKeyRate === undefined
      ? Math.round(rate * 60 * DEMO_DEFAULTS.hotKeyShare)
      : wholeNumber('--hot-key-rate', flags.hotKeyRate, 0, 120_000);
  if (hotKeyPerMinute > rate * 60) {
    throw new UsageError(
      rate === 0
        ? `--hot-key-rate ${flags.hotKeyRate}: the hot-key reads are part of the load; give --rate too`
        : `--hot-key-rate ${flags.hotKeyRate}: the hot-key reads are part of --rate, at most ${rate * 60} a minute at --rate ${flags.rate}`,
    );
  }
  const hotKeyThreshold = wholeNumber('--hot-key-threshold', flags.hotKeyThreshold, 1, 10_000_000);
  const returningSessions = wholeNumber(
    '--returning-sessions',
    flags.returningSessions,
    0,
    100_000,
  );
  // Without load nobody would come back with them: warming them would show nothing true.
  return {
    rate,
    hotKeyPerMinute,
    hotKeyThreshold,
    returningSessions: rate > 0 ? returningSessions : 0,
  };
}

/**
 * `redscope demo`: the demo service (login, a session-validated API, logout,
 * /metrics) over redscope/client, optionally with its own load generator.
 */
export function registerDemoCommand(program: Command, io: CliIo): void {
  const option = (flags: string, help: string, env: string) => new Option(flags, help).env(env);
  program
    .command('demo')
    .description('run the demo app: session validation through redscope/client, with optional load')
    .addOption(
      option('--listen <HOST:PORT>', 'HTTP address', 'REDSCOPE_LISTEN').default('127.0.0.1:3000'),
    )
    .addOption(
      option('--redis-url <URL>', 'one Redis: redis:// or rediss://', 'REDSCOPE_REDIS_URL'),
    )
    .addOption(
      option('--sentinels <HOST:PORT,...>', 'Sentinels (with --master-name)', 'REDSCOPE_SENTINELS'),
    )
    .addOption(
      option('--master-name <NAME>', 'master group the Sentinels watch', 'REDSCOPE_MASTER_NAME'),
    )
    .addOption(
      option(
        '--cluster-nodes <HOST:PORT,...>',
        'seed nodes of a Redis Cluster instead (TLS, verified against --tls-ca, as with Sentinels)',
        'REDSCOPE_CLUSTER_NODES',
      ),
    )
    .addOption(option('--username <USER>', 'ACL user for the data nodes', 'REDSCOPE_USERNAME'))
    .addOption(
      option('--password-file <FILE>', 'file holding the password', 'REDSCOPE_PASSWORD_FILE'),
    )
    .addOption(option('--tls-ca <FILE>', 'CA that signed the Redis servers', 'REDSCOPE_TLS_CA'))
    .addOption(option('--tls-cert <FILE>', 'client certificate', 'REDSCOPE_TLS_CERT'))
    .addOption(option('--tls-key <FILE>', 'key of the client certificate', 'REDSCOPE_TLS_KEY'))
    .addOption(
      new Option(
        '--no-tls',
        'plain TCP to the Sentinels, the cluster nodes and Redis (those modes use TLS unless told so; a --redis-url says it with its scheme)',
      ),
    )
    .addOption(
      option(
        '--rate <REQ_PER_S>',
        `requests per second the built-in load sends, open loop: logins, session-validated pages, logouts, forged tokens and the hot key (0: no load; \`redscope up\` runs ${DEMO_DEFAULTS.rate})`,
        'REDSCOPE_DEMO_RATE',
      ).default('0'),
    )
    .addOption(
      option(
        '--hot-key-rate <PER_MINUTE>',
        `of --rate, reads per minute of the busiest org's settings, the hot key (default: ${DEMO_DEFAULTS.hotKeyShare * 100}% of --rate, ${DEMO_DEFAULTS.rate * 60 * DEMO_DEFAULTS.hotKeyShare}/min at ${DEMO_DEFAULTS.rate} requests/s; 0: none)`,
        'REDSCOPE_HOT_KEY_RATE',
      ),
    )
    .addOption(
      option(
        '--hot-key-threshold <PER_MINUTE>',
        `accesses per minute from which a key counts as hot (the client's default is 1000; the demo's session cache reads its revocation counter twice per validation, about ${DEMO_DEFAULTS.counterReadsPerValidation * 60 * DEMO_DEFAULTS.rate}/min at --rate ${DEMO_DEFAULTS.rate})`,
        'REDSCOPE_HOT_KEY_THRESHOLD',
      ).default(String(DEMO_DEFAULTS.hotKeyThresholdPerMinute)),
    )
    .addOption(
      option(
        '--returning-sessions <N>',
        'with --rate: start as an app restarted in front of a cold cache, N sessions of returning users in the database and the usage record, none in Redis, for the start-up warming to put back and the load to use (0: none)',
        'REDSCOPE_DEMO_RETURNING_SESSIONS',
      ).default(String(DEMO_DEFAULTS.returningSessions)),
    )
    .addOption(
      option(
        '--hotkeys-secret-file <FILE>',
        'file with the secret that hashes key names in hot-key reports (turns detection on)',
        'REDSCOPE_HOTKEYS_SECRET_FILE',
      ),
    )
    .addOption(new Option('--no-near-cache', 'do not serve reads of hot keys from memory'))
    .addOption(
      option(
        '--database-dir <DIR>',
        "keep the demo database's sessions in this folder (one file per token hash) instead of memory: they survive a restart, and `redscope warm --loader dist/demo/session-loader.js` reads them",
        'REDSCOPE_DEMO_DATABASE',
      ),
    )
    .addOption(
      new Option(
        '--no-warming',
        'do not warm the session cache (on start, and after a flush or a miss storm)',
      ),
    )
    .addOption(
      option('--otlp-endpoint <URL>', 'export spans over OTLP/HTTP', 'OTEL_EXPORTER_OTLP_ENDPOINT'),
    )
    .action(async (flags: DemoFlags) => {
      const listen = hostPort('--listen', flags.listen);
      const load = loadSettings(flags);
      const modes = [flags.redisUrl, flags.sentinels, flags.clusterNodes].filter(Boolean).length;
      if (modes !== 1) {
        throw new UsageError(
          'give one of --redis-url, --sentinels with --master-name, or --cluster-nodes',
        );
      }
      let otlpEndpoint: string | undefined;
      if (flags.otlpEndpoint) {
        try {
          otlpEndpoint = new URL('/v1/traces', flags.otlpEndpoint).href;
        } catch {
          throw new UsageError(
            `--otlp-endpoint ${JSON.stringify(flags.otlpEndpoint)}: expected a URL such as http://localhost:4318`,
          );
        }
      }
      if (flags.databaseDir !== undefined) usableFolder('--database-dir', flags.databaseDir);
      const sentinels = flags.sentinels?.split(',').map((s) => hostPort('--sentinels', s.trim()));
      const clusterNodes = flags.clusterNodes
        ?.split(',')
        .map((s) => hostPort('--cluster-nodes', s.trim()));
      const password = flags.passwordFile
        ? readSecret('--password-file', flags.passwordFile)
        : undefined;
      const hotKeysSecret = flags.hotkeysSecretFile
        ? readSecret('--hotkeys-secret-file', flags.hotkeysSecretFile)
        : process.env.REDSCOPE_HOTKEYS_SECRET;
      if (!flags.tls && (flags.tlsCa || flags.tlsCert || flags.tlsKey)) {
        throw new UsageError(
          '--no-tls with --tls-ca, --tls-cert or --tls-key: give one or the other',
        );
      }
      if (!flags.tls && flags.redisUrl?.startsWith('rediss:')) {
        throw new UsageError('--no-tls with a rediss:// --redis-url: use a redis:// URL');
      }
      const tls: TlsConfig | false | undefined = !flags.tls
        ? false
        : flags.tlsCa || flags.tlsCert || flags.tlsKey
          ? {
              ...(flags.tlsCa ? { caFile: flags.tlsCa } : {}),
              ...(flags.tlsCert ? { certFile: flags.tlsCert } : {}),
              ...(flags.tlsKey ? { keyFile: flags.tlsKey } : {}),
            }
          : undefined;

      const client = await import('../../client/index.js');
      const { startDemo, startLoad, sessionNamespace } = await import('../../demo/index.js');
      const logger = client.createLogger({ name: 'redscope-demo' });
      const { Registry } = await import('prom-client');
      const registry = new Registry();
      const credentials = {
        ...(flags.username ? { username: flags.username } : {}),
        ...(password ? { password } : {}),
      };
      const config = clusterNodes
        ? {
            cluster: { nodes: clusterNodes },
            ...credentials,
            ...(tls === undefined ? {} : { tls }),
          }
        : {
            ...(flags.redisUrl ? { url: flags.redisUrl } : {}),
            ...(sentinels ? { sentinels, masterName: flags.masterName } : {}),
            ...credentials,
            ...(tls === undefined ? {} : { tls }),
          };
      const open = (options: ClientOptions): RedisClients<Redis | Cluster> => {
        try {
          // Two calls: the overloads of createRedisClients type the writer from the config's shape.
          return 'cluster' in config
            ? client.createRedisClients(config, options)
            : client.createRedisClients(config, options);
        } catch (error) {
          if (error instanceof client.ConfigError) throw new UsageError(error.message);
          throw error;
        }
      };
      const clients = open({
        registry,
        logger,
        // What the session cache's warming ranks sessions by (key names and scores, in Redis).
        usage: { namespaces: [sessionNamespace()] },
        // Hot-key detection needs the deployment's redaction secret; without one it stays off.
        ...(hotKeysSecret
          ? {
              hotKeys: {
                thresholdPerMinute: load.hotKeyThreshold,
                redaction: { secret: hotKeysSecret },
                report: { service: 'redscope-demo', intervalMs: 2000 },
                nearCache: { enabled: flags.nearCache },
              },
            }
          : {}),
      });
      // Whatever fails from here on, the connections close so the process can exit.
      let recorder: RedisClients<Redis | Cluster> | undefined;
      let telemetry: Awaited<ReturnType<typeof client.startTelemetry>> | undefined;
      let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
      let traffic: ReturnType<typeof startLoad> | undefined;
      try {
        if (otlpEndpoint) {
          telemetry = await client.startTelemetry({
            serviceName: 'redscope-demo',
            endpoint: otlpEndpoint,
          });
        }
        await clients.ready();
        // The previous process of the app, as far as the usage record knows: every command sampled.
        recorder =
          load.returningSessions > 0
            ? open({
                logger,
                tracing: { enabled: false },
                usage: { namespaces: [sessionNamespace()], sampleRate: 1 },
              })
            : undefined;
        demo = await startDemo({
          clients,
          registry,
          host: listen.host,
          port: listen.port,
          logger,
          ...(flags.databaseDir === undefined ? {} : { databaseDir: flags.databaseDir }),
          ...(flags.warming ? {} : { warming: false }),
          ...(recorder ? { returningSessions: { count: load.returningSessions, recorder } } : {}),
        });
        traffic =
          load.rate > 0
            ? startLoad({
                url: demo.url,
                rate: load.rate,
                hotKeyPerMinute: load.hotKeyPerMinute,
                returningSessions: demo.returningSessions,
                logger,
              })
            : undefined;
        const details = [
          ...(load.hotKeyPerMinute > 0 ? [`hot key ${load.hotKeyPerMinute}/min`] : []),
          ...(demo.returningSessions.length > 0
            ? [`${demo.returningSessions.length} returning sessions`]
            : []),
        ];
        io.err(
          `redscope demo: listening on ${demo.url}${traffic ? `, load ${load.rate} requests/s${details.length > 0 ? ` (${details.join(', ')})` : ''}` : ''}\n`,
        );
        const counterPerMinute = Math.round(
          load.rate * 60 * DEMO_DEFAULTS.counterReadsPerValidation,
        );
        if (hotKeysSecret && counterPerMinute >= load.hotKeyThreshold) {
          io.err(
            `redscope demo: at --rate ${flags.rate} the session cache reads its revocation counter about ${counterPerMinute} times a minute, at or over --hot-key-threshold ${load.hotKeyThreshold}: RedisHotKey will fire on it\n`,
          );
        }
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', () => resolve());
          process.once('SIGINT', () => resolve());
        });
      } finally {
        const report = await traffic?.stop();
        if (report) {
          io.err(
            `redscope demo: the load sent ${report.requests} requests, ${report.unexpected} answered unexpectedly, ${report.dropped} dropped\n`,
          );
        }
        await demo?.close();
        await recorder?.close();
        await clients.close();
        await telemetry?.shutdown();
      }
      process.exitCode = ExitCode.ok;
    });
}
