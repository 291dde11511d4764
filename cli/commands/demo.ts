import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Cluster, Redis } from 'ioredis';
import type { ClientOptions, RedisClients } from '../../client/index.js';
import { readSecret } from '../connection-flags.js';
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
  load: string;
  hotKeyRate: string;
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
      option('--load <USERS>', 'virtual users driving the demo (0: none)', 'REDSCOPE_LOAD').default(
        '0',
      ),
    )
    .addOption(
      option(
        '--hot-key-rate <PER_MINUTE>',
        "requests per minute on one org's settings, a hot key (0: none)",
        'REDSCOPE_HOT_KEY_RATE',
      ).default('0'),
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
      const load = Number(flags.load);
      if (!Number.isInteger(load) || load < 0) {
        throw new UsageError(
          `--load ${JSON.stringify(flags.load)}: expected a whole number of users`,
        );
      }
      const hotKeyRate = Number(flags.hotKeyRate);
      if (!Number.isFinite(hotKeyRate) || hotKeyRate < 0 || hotKeyRate > 60_000) {
        throw new UsageError(
          `--hot-key-rate ${JSON.stringify(flags.hotKeyRate)}: expected requests per minute, 0..60000`,
        );
      }
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
      const tls =
        flags.tlsCa || flags.tlsCert || flags.tlsKey
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
      let clients: RedisClients<Redis | Cluster>;
      try {
        const options: ClientOptions = {
          registry,
          logger,
          // What the session cache's warming ranks sessions by (key names and scores, in Redis).
          usage: { namespaces: [sessionNamespace()] },
          // Hot-key detection needs the deployment's redaction secret; without one it stays off.
          ...(hotKeysSecret
            ? {
                hotKeys: {
                  redaction: { secret: hotKeysSecret },
                  report: { service: 'redscope-demo', intervalMs: 2000 },
                  nearCache: { enabled: flags.nearCache },
                },
              }
            : {}),
        };
        clients = clusterNodes
          ? client.createRedisClients(
              { cluster: { nodes: clusterNodes }, ...credentials, ...(tls ? { tls } : {}) },
              options,
            )
          : client.createRedisClients(
              {
                ...(flags.redisUrl ? { url: flags.redisUrl } : {}),
                ...(sentinels ? { sentinels, masterName: flags.masterName } : {}),
                ...credentials,
                ...(tls ? { tls } : {}),
              },
              options,
            );
      } catch (error) {
        if (error instanceof client.ConfigError) throw new UsageError(error.message);
        throw error;
      }
      // Whatever fails from here on, the connections close so the process can exit.
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
        demo = await startDemo({
          clients,
          registry,
          host: listen.host,
          port: listen.port,
          logger,
          ...(flags.databaseDir === undefined ? {} : { databaseDir: flags.databaseDir }),
          ...(flags.warming ? {} : { warming: false }),
        });
        traffic =
          load > 0 || hotKeyRate > 0
            ? startLoad({ url: demo.url, concurrency: load, hotKeyPerMinute: hotKeyRate })
            : undefined;
        io.err(
          `redscope demo: listening on ${demo.url}${traffic ? ` with ${load} virtual users` : ''}\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', () => resolve());
          process.once('SIGINT', () => resolve());
        });
      } finally {
        await traffic?.stop();
        await demo?.close();
        await clients.close();
        await telemetry?.shutdown();
      }
      process.exitCode = ExitCode.ok;
    });
}
