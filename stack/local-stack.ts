/**
 * The whole redscope stack on one machine, for `redscope up`: the TLS Redis HA
 * topology, the exporter, the demo app under load, Prometheus with our rules
 * and Alertmanager with our routing, its PagerDuty and Slack URLs pointed at a
 * local receiver that prints every notification. Every config is the one in
 * this repository with compose host names swapped for loopback ports.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sessionNamespace } from '../demo/defaults.js';
import { renderLoopbackAlertmanagerConfig } from './alertmanager-loopback-config.js';
import { startAlertmanager } from './alertmanager-server.js';
import { ClusterTopology } from './cluster-topology.js';
import { type HttpService, startHttpService } from './http-service.js';
import { LoopbackReceivers, type Received } from './loopback-receivers.js';
import { freePort } from './ports.js';
import { startPrometheus } from './prometheus-server.js';
import { packageRoot } from './repo-paths.js';
import { RedisTopology } from './topology.js';

export interface LocalStackOptions {
  /** Progress and notifications, one line each. */
  readonly log: (line: string) => void;
  /** Virtual users driving the demo app (default 20). */
  readonly demoUsers?: number;
  /** Requests per minute on one tenant's settings, the demo's hot key (default 3000; 0: none). */
  readonly hotKeyRate?: number;
  /** A Redis Cluster (3 masters, 3 replicas) instead of the Sentinel topology. */
  readonly cluster?: boolean;
}

/**
 * The Redis side of the stack, as the other parts need it: how the exporter
 * and the demo reach it, which Prometheus config watches it.
 */
interface RedisSide {
  readonly topology: RedisTopology | ClusterTopology;
  readonly nodes: readonly { name: string; role: string; port: number }[];
  readonly tls: { caFile: string; certFile: string; keyFile: string };
  readonly secretsDir: string;
  /** The exporter's flags that name what it watches. */
  readonly exporterTarget: readonly string[];
  /** The demo's flags that name where the app connects. */
  readonly appTarget: readonly string[];
  /** The same for `redscope warm`, which takes the exporter's flags (none for a cluster yet). */
  readonly warmTarget: readonly string[] | undefined;
  /** The Prometheus config in prometheus/ that watches it. */
  readonly prometheusConfig: string;
  /** Compose address -> port, for the scrape targets it lists. */
  readonly addresses: Readonly<Record<string, number>>;
}

async function startRedisSide(cluster: boolean, log: (line: string) => void): Promise<RedisSide> {
  if (cluster) {
    log('starting a Redis Cluster: 3 masters, 3 replicas (TLS, ACL)');
    const topology = await ClusterTopology.start({ tls: true });
    const { tls, nodes, dir } = topology.describe();
    if (!tls) throw new Error('the local stack runs Redis with TLS only');
    return {
      topology,
      nodes,
      tls,
      secretsDir: join(dir, 'secrets'),
      // One seed: discovery (/discover-cluster-nodes) finds the others.
      exporterTarget: ['--redis-url', `rediss://127.0.0.1:${topology.port('redis-0')}`],
      appTarget: [
        '--cluster-nodes',
        nodes
          .slice(0, 3)
          .map((n) => `127.0.0.1:${n.port}`)
          .join(','),
      ],
      warmTarget: undefined,
      prometheusConfig: 'prometheus-cluster.yml',
      addresses: {},
    };
  }
  log('starting Redis: master, 2 replicas, 3 Sentinels (TLS, ACL)');
  const topology = await RedisTopology.start({ tls: true });
  const { tls, nodes, masterName, dir } = topology.describe();
  if (!tls) throw new Error('the local stack runs Redis with TLS only');
  const sentinels = nodes.filter((n) => n.role === 'sentinel');
  // The exporter takes targets as URLs: the scheme says TLS.
  const sentinelUrls = sentinels.map((n) => `rediss://127.0.0.1:${n.port}`).join(',');
  const addresses: Record<string, number> = {};
  for (const node of nodes) {
    addresses[`${node.name}:${node.role === 'sentinel' ? 26379 : 6379}`] = node.port;
  }
  return {
    topology,
    nodes,
    tls,
    secretsDir: join(dir, 'secrets'),
    exporterTarget: ['--sentinels', sentinelUrls, '--master-name', masterName],
    appTarget: [
      '--sentinels',
      sentinels.map((n) => `127.0.0.1:${n.port}`).join(','),
      '--master-name',
      masterName,
    ],
    warmTarget: ['--sentinels', sentinelUrls, '--master-name', masterName],
    prometheusConfig: 'prometheus.yml',
    addresses,
  };
}

export interface Endpoint {
  readonly name: string;
  readonly url: string;
}

/** A command to run against the stack, ready to paste into a shell. */
export interface StackCommand {
  readonly what: string;
  /** Environment variables the command needs, before the program and its arguments. */
  readonly env: Readonly<Record<string, string>>;
  readonly argv: readonly string[];
}

export interface LocalStack {
  readonly endpoints: readonly Endpoint[];
  /** Commands worth trying on this stack (`redscope warm` on the demo's sessions). */
  readonly commands: readonly StackCommand[];
  readonly dir: string;
  /** Stops every process the stack started, newest first, and removes its folder. */
  stop(): Promise<void>;
}

/** The well-known port if it is free (so bookmarks keep working), else any free one. */
async function preferredPort(port: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: '127.0.0.1', port, exclusive: true }, () =>
      probe.close(() => resolve(true)),
    );
  });
  return free ? port : freePort();
}

/**
 * Rewrites compose service addresses (`redis-0:6379`, `exporter:9121`, ...) to
 * loopback ports. Throws if a compose address is left, so a new scrape target in
 * prometheus.yml cannot silently point nowhere.
 */
export function localizeAddresses(
  text: string,
  addresses: Readonly<Record<string, number>>,
): string {
  let out = text;
  for (const [address, port] of Object.entries(addresses)) {
    const pattern = new RegExp(`(?<![\\w.-])${address.replace(/[.]/g, '\\.')}(?!\\d)`, 'g');
    out = out.replace(pattern, `127.0.0.1:${port}`);
  }
  const left = /(?<![\w.-])(redis-\d+|sentinel-\d+|exporter|alertmanager|demo):\d+/.exec(out);
  if (left) throw new Error(`prometheus.yml names ${left[0]}, which the local stack does not run`);
  return out;
}

/** `argv` as one shell line: words with nothing a shell would read otherwise go as they are. */
export function shellLine(command: StackCommand): string {
  const quote = (word: string) =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
  return [
    ...Object.entries(command.env).map(([name, value]) => `${name}=${quote(value)}`),
    ...command.argv.map(quote),
  ].join(' ');
}

function describeNotification(kind: 'pagerduty' | 'slack', entry: Received): string {
  if (kind === 'pagerduty') {
    const body = entry.body as {
      event_action?: string;
      payload?: { summary?: string; severity?: string };
    };
    return `PagerDuty ${body.event_action ?? '?'}: ${body.payload?.summary ?? JSON.stringify(body)}`;
  }
  const body = entry.body as { text?: string; attachments?: { title?: string }[] };
  return `Slack: ${body.attachments?.[0]?.title ?? body.text ?? JSON.stringify(body)}`;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const root = packageRoot();
  const cli = join(root, 'bin', 'redscope.js');
  const dir = mkdtempSync(join(tmpdir(), 'redscope-up-'));
  const log = options.log;
  const services: HttpService[] = [];
  let redis: RedisSide | undefined;
  let receivers: LoopbackReceivers | undefined;

  const stop = async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await receivers?.close().catch(() => undefined);
    await redis?.topology.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    redis = await startRedisSide(options.cluster ?? false, log);
    const { tls, nodes, secretsDir } = redis;
    const secret = (user: string) => join(secretsDir, `${user}.password`);
    const dataNodes = nodes.filter((n) => n.role !== 'sentinel');
    const tlsFlags = ['--tls-ca', tls.caFile, '--tls-cert', tls.certFile, '--tls-key', tls.keyFile];

    receivers = await LoopbackReceivers.start((kind, entry) =>
      log(`notification → ${describeNotification(kind, entry)}`),
    );

    log('starting Alertmanager (PagerDuty and Slack point at a local receiver)');
    const amDir = join(dir, 'alertmanager');
    mkdirSync(join(amDir, 'secrets'), { recursive: true });
    symlinkSync(join(root, 'alertmanager', 'templates'), join(amDir, 'templates'));
    writeFileSync(join(amDir, 'secrets', 'pagerduty-routing-key'), 'local-routing-key\n');
    const amConfig = join(amDir, 'alertmanager.yml');
    writeFileSync(
      amConfig,
      renderLoopbackAlertmanagerConfig(
        readFileSync(join(root, 'alertmanager', 'alertmanager.yml'), 'utf8'),
        {
          pagerduty: receivers.pagerdutyUrl,
          slack: receivers.slackUrl,
        },
      ),
    );
    const amPort = await preferredPort(9093);
    services.push(await startAlertmanager({ configFile: amConfig, dir: amDir, port: amPort }));

    log('starting the exporter');
    const exporterPort = await preferredPort(9121);
    const credentialsFile = join(dir, 'exporter-credentials.yaml');
    writeFileSync(
      credentialsFile,
      `targets:\n${dataNodes
        .map(
          (n) =>
            `  - match: "rediss://127.0.0.1:${n.port}"\n    username: redscope-exporter\n    password_file: ${secret('exporter')}\n`,
        )
        .join('')}`,
    );
    services.push(
      await startHttpService({
        name: 'exporter',
        command: process.execPath,
        // No node flags: the exporter sets its own V8 flags for a small heap.
        args: [
          cli,
          'exporter',
          ...redis.exporterTarget,
          '--username',
          'redscope-exporter',
          '--password-file',
          secret('exporter'),
          ...tlsFlags,
          '--credentials-file',
          credentialsFile,
          '--allow-target',
          'rediss://127.0.0.1:*',
          '--listen',
          `127.0.0.1:${exporterPort}`,
          '--log-level',
          'warn',
        ],
        dir: join(dir, 'exporter'),
        url: `http://127.0.0.1:${exporterPort}`,
        readyPath: '/healthz',
      }),
    );

    const demoUsers = options.demoUsers ?? 20;
    log(`starting the demo app with ${demoUsers} virtual users`);
    // Its sessions in files, by token hash: `redscope warm` loads them from there too.
    const demoDatabase = join(dir, 'demo-database');
    const demoPort = await preferredPort(3000);
    // Per run, like the passwords: it only has to be the same in every process of this stack.
    const hotKeysSecret = join(secretsDir, 'hotkeys.secret');
    writeFileSync(hotKeysSecret, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    services.push(
      await startHttpService({
        name: 'demo',
        command: process.execPath,
        args: [
          cli,
          'demo',
          ...redis.appTarget,
          '--username',
          'app',
          '--password-file',
          secret('app'),
          ...tlsFlags,
          '--listen',
          `127.0.0.1:${demoPort}`,
          '--load',
          String(demoUsers),
          '--hot-key-rate',
          String(options.hotKeyRate ?? 3000),
          '--hotkeys-secret-file',
          hotKeysSecret,
          '--database-dir',
          demoDatabase,
        ],
        dir: join(dir, 'demo'),
        url: `http://127.0.0.1:${demoPort}`,
        readyPath: '/healthz',
      }),
    );

    log('starting Prometheus with the rules in prometheus/rules');
    const promDir = join(dir, 'prometheus');
    mkdirSync(promDir, { recursive: true });
    symlinkSync(join(root, 'prometheus', 'rules'), join(promDir, 'rules'));
    const promPort = await preferredPort(9090);
    const addresses: Record<string, number> = {
      'exporter:9121': exporterPort,
      'alertmanager:9093': amPort,
      'demo:3000': demoPort,
      ...redis.addresses,
    };
    const promConfig = join(promDir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      localizeAddresses(
        readFileSync(join(root, 'prometheus', redis.prometheusConfig), 'utf8'),
        addresses,
      ),
    );
    services.push(await startPrometheus({ configFile: promConfig, dir: promDir, port: promPort }));

    const endpoints: Endpoint[] = [
      { name: 'Prometheus', url: `http://127.0.0.1:${promPort}` },
      { name: 'Prometheus alerts', url: `http://127.0.0.1:${promPort}/alerts` },
      { name: 'Alertmanager', url: `http://127.0.0.1:${amPort}` },
      { name: 'exporter', url: `http://127.0.0.1:${exporterPort}/` },
      options.cluster
        ? {
            name: 'exporter node discovery',
            url: `http://127.0.0.1:${exporterPort}/discover-cluster-nodes`,
          }
        : { name: 'exporter /metrics (master)', url: `http://127.0.0.1:${exporterPort}/metrics` },
      { name: 'demo app /healthz', url: `http://127.0.0.1:${demoPort}/healthz` },
      { name: 'demo /metrics', url: `http://127.0.0.1:${demoPort}/metrics` },
      ...nodes.map((n) => ({ name: `${n.name} (${n.role})`, url: `rediss://127.0.0.1:${n.port}` })),
    ];
    // What the on-call engineer would run after the demo's cache went cold: the app user
    // writes (SET NX, and the status record the exporter shows), the demo's database loads.
    const warmDemoSessions: StackCommand | undefined = redis.warmTarget && {
      what: "warm the demo's sessions from its database (prints the plan; drop --dry-run to run it)",
      env: { REDSCOPE_DEMO_DATABASE: demoDatabase },
      argv: [
        process.execPath,
        cli,
        'warm',
        '--namespace',
        sessionNamespace(),
        '--loader',
        join(root, 'dist', 'demo', 'session-loader.js'),
        ...redis.warmTarget,
        '--username',
        'app',
        '--password-file',
        secret('app'),
        ...tlsFlags,
        '--dry-run',
      ],
    };
    return { endpoints, commands: warmDemoSessions ? [warmDemoSessions] : [], dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
