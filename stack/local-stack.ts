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
  let topology: RedisTopology | undefined;
  let receivers: LoopbackReceivers | undefined;

  const stop = async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await receivers?.close().catch(() => undefined);
    await topology?.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    log('starting Redis: master, 2 replicas, 3 Sentinels (TLS, ACL)');
    topology = await RedisTopology.start({ tls: true });
    const { tls, nodes, masterName, dir: topologyDir } = topology.describe();
    if (!tls) throw new Error('the local stack runs Redis with TLS only');
    const secret = (user: string) => join(topologyDir, 'secrets', `${user}.password`);
    const portOf = (name: string) => topology?.port(name) ?? 0;
    const sentinels = nodes.filter((n) => n.role === 'sentinel');
    const dataNodes = nodes.filter((n) => n.role !== 'sentinel');
    const tlsFlags = ['--tls-ca', tls.caFile, '--tls-cert', tls.certFile, '--tls-key', tls.keyFile];
    const sentinelList = sentinels.map((n) => `127.0.0.1:${n.port}`).join(',');
    // The exporter takes targets as URLs: the scheme says TLS.
    const sentinelUrls = sentinels.map((n) => `rediss://127.0.0.1:${n.port}`).join(',');

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
          '--sentinels',
          sentinelUrls,
          '--master-name',
          masterName,
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
    const hotKeysSecret = join(topologyDir, 'secrets', 'hotkeys.secret');
    writeFileSync(hotKeysSecret, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    services.push(
      await startHttpService({
        name: 'demo',
        command: process.execPath,
        args: [
          cli,
          'demo',
          '--sentinels',
          sentinelList,
          '--master-name',
          masterName,
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
    };
    for (const node of dataNodes) addresses[`${node.name}:6379`] = portOf(node.name);
    for (const node of sentinels) addresses[`${node.name}:26379`] = portOf(node.name);
    const promConfig = join(promDir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      localizeAddresses(
        readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8'),
        addresses,
      ),
    );
    services.push(await startPrometheus({ configFile: promConfig, dir: promDir, port: promPort }));

    const endpoints: Endpoint[] = [
      { name: 'Prometheus', url: `http://127.0.0.1:${promPort}` },
      { name: 'Prometheus alerts', url: `http://127.0.0.1:${promPort}/alerts` },
      { name: 'Alertmanager', url: `http://127.0.0.1:${amPort}` },
      { name: 'exporter', url: `http://127.0.0.1:${exporterPort}/` },
      { name: 'exporter /metrics (master)', url: `http://127.0.0.1:${exporterPort}/metrics` },
      { name: 'demo app /healthz', url: `http://127.0.0.1:${demoPort}/healthz` },
      { name: 'demo /metrics', url: `http://127.0.0.1:${demoPort}/metrics` },
      ...nodes.map((n) => ({ name: `${n.name} (${n.role})`, url: `rediss://127.0.0.1:${n.port}` })),
    ];
    // What the on-call engineer would run after the demo's cache went cold: the app user
    // writes (SET NX, and the status record the exporter shows), the demo's database loads.
    const warmDemoSessions: StackCommand = {
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
        '--sentinels',
        sentinelUrls,
        '--master-name',
        masterName,
        '--username',
        'app',
        '--password-file',
        secret('app'),
        ...tlsFlags,
        '--dry-run',
      ],
    };
    return { endpoints, commands: [warmDemoSessions], dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
