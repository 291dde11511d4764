/**
 * The whole redscope stack on one machine, for `redscope up`: the TLS Redis HA
 * topology, the exporter, the demo app under load, Prometheus with our rules
 * and Alertmanager with our routing, its PagerDuty and Slack URLs pointed at a
 * local receiver that prints every notification. Every config is the one in
 * this repository with compose host names swapped for loopback ports.
 */
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { sessionNamespace } from '../demo/defaults.js';
import { renderLoopbackAlertmanagerConfig } from './alertmanager-loopback-config.js';
import { startAlertmanager } from './alertmanager-server.js';
import { ClusterTopology } from './cluster-topology.js';
import { startHttpService } from './http-service.js';
import { LoopbackReceivers, type Received } from './loopback-receivers.js';
import { OtlpReceiver } from './otlp-receiver.js';
import { checkPortsFree, type PortPlan, planPorts } from './port-plan.js';
import { startPrometheus } from './prometheus-server.js';
import { packageRoot } from './repo-paths.js';
import {
  processStartTime,
  removeStackState,
  type StackState,
  writeStackState,
} from './stack-state.js';
import { RedisTopology } from './topology.js';

export interface LocalStackOptions {
  /** Progress and notifications, one line each. */
  readonly log: (line: string) => void;
  /** Requests per second the demo's load generator sends (default 40; 0: none). */
  readonly rate?: number;
  /** TLS between every part and Redis (default true). */
  readonly tls?: boolean;
  /** Where the stack keeps its state, its runtime files and every component's log. */
  readonly stateDir: string;
  /** Every port from this base (see stack/port-plan.ts); default: the well-known ports. */
  readonly portsBase?: number;
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
  /** Absent with `--no-tls`. */
  readonly tls: { caFile: string; certFile: string; keyFile: string } | undefined;
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
  /** What stack.json records about the Redis side. */
  readonly state: Pick<StackState, 'mode' | 'sentinels' | 'masterName' | 'clusterNodes'>;
}

async function startRedisSide(
  options: { cluster: boolean; tls: boolean; logDir: string },
  ports: PortPlan,
): Promise<RedisSide> {
  const scheme = options.tls ? 'rediss' : 'redis';
  if (options.cluster) {
    const topology = await ClusterTopology.start({
      tls: options.tls,
      ports: ports.redis,
      busPorts: ports.clusterBus,
      logDir: options.logDir,
    });
    const { tls, nodes, dir } = topology.describe();
    const seeds = nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`);
    return {
      topology,
      nodes,
      tls,
      secretsDir: join(dir, 'secrets'),
      // One seed: discovery (/discover-cluster-nodes) finds the others.
      exporterTarget: ['--redis-url', `${scheme}://127.0.0.1:${topology.port('redis-0')}`],
      appTarget: ['--cluster-nodes', seeds.join(',')],
      warmTarget: undefined,
      prometheusConfig: 'prometheus-cluster.yml',
      addresses: {},
      state: { mode: 'cluster', clusterNodes: nodes.map((n) => `127.0.0.1:${n.port}`) },
    };
  }
  const topology = await RedisTopology.start({
    tls: options.tls,
    ports: ports.redis,
    logDir: options.logDir,
  });
  const { tls, nodes, masterName, dir } = topology.describe();
  const sentinels = nodes.filter((n) => n.role === 'sentinel');
  const sentinelAddresses = sentinels.map((n) => `127.0.0.1:${n.port}`);
  // The exporter takes targets as URLs: the scheme says TLS.
  const sentinelUrls = sentinelAddresses.map((a) => `${scheme}://${a}`).join(',');
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
    appTarget: ['--sentinels', sentinelAddresses.join(','), '--master-name', masterName],
    warmTarget: ['--sentinels', sentinelUrls, '--master-name', masterName],
    prometheusConfig: 'prometheus.yml',
    addresses,
    state: { mode: 'sentinel', sentinels: sentinelAddresses, masterName },
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
  /** Every component's log, one file each. */
  readonly logDir: string;
  readonly state: StackState;
  /** `host:port` -> node name, for the status line. */
  readonly nodeNames: Readonly<Record<string, string>>;
  /** Stops every process the stack started, newest first, and removes its runtime files. */
  stop(): Promise<void>;
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

/** The Redis nodes a stack runs: 3 data nodes and 3 Sentinels, or 6 cluster nodes. */
const REDIS_NODES = 6;

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const root = packageRoot();
  const cli = join(root, 'bin', 'redscope.js');
  const log = options.log;
  const tlsOn = options.tls ?? true;
  const cluster = options.cluster ?? false;
  const ports = await planPorts(REDIS_NODES, cluster, options.portsBase);
  await checkPortsFree(ports);

  // Runtime files of the previous run go; its logs too, so every log here is of this run.
  const dir = join(options.stateDir, 'run');
  const logDir = join(options.stateDir, 'logs');
  for (const folder of [dir, logDir]) {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  }
  const steps = 7;
  let stepNumber = 0;
  const step = async <T>(what: string, start: () => Promise<T>): Promise<T> => {
    stepNumber += 1;
    const began = performance.now();
    log(`[${stepNumber}/${steps}] ${what}`);
    const result = await start();
    log(`[${stepNumber}/${steps}] ready in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return result;
  };
  /** Started parts, stopped newest first. */
  const parts: { name: string; stop: () => Promise<void> }[] = [];
  let removeState: () => void = () => undefined;
  const stop = async () => {
    removeState();
    for (const part of parts.reverse()) {
      log(`stopping ${part.name}`);
      await part
        .stop()
        .catch((error: unknown) =>
          log(`could not stop ${part.name} cleanly: ${(error as Error).message}`),
        );
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const redis = await step(
      cluster
        ? `Redis Cluster: 3 masters, 3 replicas (${tlsOn ? 'TLS, ' : ''}ACL)`
        : `Redis: master, 2 replicas, 3 Sentinels (${tlsOn ? 'TLS, ' : ''}ACL)`,
      () => startRedisSide({ cluster, tls: tlsOn, logDir }, ports),
    );
    parts.push({ name: 'Redis', stop: () => redis.topology.stop() });
    const { tls, nodes, secretsDir } = redis;
    const scheme = tls ? 'rediss' : 'redis';
    const secret = (user: string) => join(secretsDir, `${user}.password`);
    const dataNodes = nodes.filter((n) => n.role !== 'sentinel');
    const tlsFlags = tls
      ? ['--tls-ca', tls.caFile, '--tls-cert', tls.certFile, '--tls-key', tls.keyFile]
      : [];

    const notifications = join(logDir, 'notifications.jsonl');
    const receivers = await step('alert receivers (local PagerDuty and Slack)', () =>
      LoopbackReceivers.start((kind, entry) => {
        appendFileSync(notifications, `${JSON.stringify({ kind, ...entry })}\n`);
        log(`notification → ${describeNotification(kind, entry)}`);
      }, ports.receivers),
    );
    parts.push({ name: 'alert receivers', stop: () => receivers.close() });

    const traces = await step('trace receiver (OTLP/HTTP)', () =>
      OtlpReceiver.start({ port: ports.traces }),
    );
    parts.push({ name: 'trace receiver', stop: () => traces.close() });

    const amDir = join(dir, 'alertmanager');
    mkdirSync(join(amDir, 'secrets'), { recursive: true });
    symlinkSync(join(root, 'alertmanager', 'templates'), join(amDir, 'templates'));
    writeFileSync(join(amDir, 'secrets', 'pagerduty-routing-key'), 'local-routing-key\n');
    const amConfig = join(amDir, 'alertmanager.yml');
    writeFileSync(
      amConfig,
      renderLoopbackAlertmanagerConfig(
        readFileSync(join(root, 'alertmanager', 'alertmanager.yml'), 'utf8'),
        { pagerduty: receivers.pagerdutyUrl, slack: receivers.slackUrl },
      ),
    );
    const alertmanager = await step(
      'Alertmanager (PagerDuty and Slack point at the receivers)',
      () =>
        startAlertmanager({
          configFile: amConfig,
          dir: amDir,
          port: ports.alertmanager,
          outputFile: join(logDir, 'alertmanager.log'),
        }),
    );
    parts.push({ name: 'Alertmanager', stop: () => alertmanager.stop() });

    const credentialsFile = join(dir, 'exporter-credentials.yaml');
    writeFileSync(
      credentialsFile,
      `targets:\n${dataNodes
        .map(
          (n) =>
            `  - match: "${scheme}://127.0.0.1:${n.port}"\n    username: redscope-exporter\n    password_file: ${secret('exporter')}\n`,
        )
        .join('')}`,
    );
    const exporter = await step('exporter', () =>
      startHttpService({
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
          `${scheme}://127.0.0.1:*`,
          '--listen',
          `127.0.0.1:${ports.exporter}`,
          '--log-level',
          'warn',
        ],
        dir: join(dir, 'exporter'),
        outputFile: join(logDir, 'exporter.log'),
        url: `http://127.0.0.1:${ports.exporter}`,
        readyPath: '/healthz',
      }),
    );
    parts.push({ name: 'exporter', stop: () => exporter.stop() });

    const rate = options.rate ?? 40;
    // Its sessions in files, by token hash: `redscope warm` loads them from there too.
    const demoDatabase = join(dir, 'demo-database');
    // Per run, like the passwords: it only has to be the same in every process of this stack.
    const hotKeysSecret = join(secretsDir, 'hotkeys.secret');
    writeFileSync(hotKeysSecret, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    const demo = await step(`demo app, ${rate} requests/s`, () =>
      startHttpService({
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
          ...(tls ? tlsFlags : ['--no-tls']),
          '--listen',
          `127.0.0.1:${ports.demo}`,
          '--rate',
          String(rate),
          '--hotkeys-secret-file',
          hotKeysSecret,
          '--database-dir',
          demoDatabase,
          '--otlp-endpoint',
          traces.url,
        ],
        dir: join(dir, 'demo'),
        outputFile: join(logDir, 'demo.log'),
        url: `http://127.0.0.1:${ports.demo}`,
        readyPath: '/healthz',
      }),
    );
    parts.push({ name: 'demo app', stop: () => demo.stop() });

    const promDir = join(dir, 'prometheus');
    mkdirSync(promDir, { recursive: true });
    symlinkSync(join(root, 'prometheus', 'rules'), join(promDir, 'rules'));
    const addresses: Record<string, number> = {
      'exporter:9121': ports.exporter,
      'alertmanager:9093': ports.alertmanager,
      'demo:3000': ports.demo,
      ...redis.addresses,
    };
    const promConfig = join(promDir, 'prometheus.yml');
    const promText = localizeAddresses(
      readFileSync(join(root, 'prometheus', redis.prometheusConfig), 'utf8'),
      addresses,
    );
    writeFileSync(promConfig, tls ? promText : promText.replaceAll('rediss://', 'redis://'));
    const prometheus = await step('Prometheus with the rules in prometheus/rules', () =>
      startPrometheus({
        configFile: promConfig,
        dir: promDir,
        port: ports.prometheus,
        outputFile: join(logDir, 'prometheus.log'),
      }),
    );
    parts.push({ name: 'Prometheus', stop: () => prometheus.stop() });

    const url = (port: number) => `http://127.0.0.1:${port}`;
    const endpoints: Endpoint[] = [
      { name: 'Prometheus', url: url(ports.prometheus) },
      { name: 'Prometheus alerts', url: `${url(ports.prometheus)}/alerts` },
      { name: 'Alertmanager', url: url(ports.alertmanager) },
      { name: 'exporter', url: `${url(ports.exporter)}/` },
      cluster
        ? { name: 'exporter node discovery', url: `${url(ports.exporter)}/discover-cluster-nodes` }
        : { name: 'exporter /metrics (master)', url: `${url(ports.exporter)}/metrics` },
      { name: 'demo app /healthz', url: `${url(ports.demo)}/healthz` },
      { name: 'demo /metrics', url: `${url(ports.demo)}/metrics` },
      { name: 'alerts received', url: `${receivers.baseUrl}/received` },
      { name: 'trace by id', url: `${traces.url}/api/traces/<trace_id>` },
      ...nodes.map((n) => ({
        name: `${n.name} (${n.role})`,
        url: `${scheme}://127.0.0.1:${n.port}`,
      })),
      { name: 'logs', url: logDir },
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
    const pidStartTime = processStartTime(process.pid);
    const state: StackState = {
      pid: process.pid,
      ...(pidStartTime ? { pidStartTime } : {}),
      startedAt: new Date().toISOString(),
      ...redis.state,
      urls: {
        prometheus: url(ports.prometheus),
        alertmanager: url(ports.alertmanager),
        exporter: url(ports.exporter),
        demo: url(ports.demo),
        receivers: receivers.baseUrl,
        traces: traces.url,
      },
      ...(tls ? { tls } : {}),
      admin: { username: 'admin', passwordFile: secret('admin') },
      logDir,
    };
    writeStackState(options.stateDir, state);
    removeState = () => removeStackState(options.stateDir);
    const nodeNames = Object.fromEntries(nodes.map((n) => [`127.0.0.1:${n.port}`, n.name]));
    return {
      endpoints,
      commands: warmDemoSessions ? [warmDemoSessions] : [],
      logDir,
      state,
      nodeNames,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
