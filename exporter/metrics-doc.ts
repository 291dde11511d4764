import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { KeyRedactor } from '../client/common/key-redaction.js';
import { DurabilityStats } from '../client/connection/durability-stats.js';
import { FailoverFence } from '../client/connection/failover-fence.js';
import { registerHotKeyMetrics } from '../client/hotkeys/hotkey-metrics.js';
import { ClusterStats } from '../client/instrumentation/cluster-stats.js';
import { CommandStats } from '../client/instrumentation/command-stats.js';
import { registerClientMetrics } from '../client/instrumentation/metrics.js';
import { registerSessionMetrics } from '../client/session/session-metrics.js';
import { registerWarmingMetrics } from '../client/warming/warming-metrics.js';
import {
  CLUSTER_NODE_COMMANDS,
  dataNodeAclRules,
  EXPORTER_ACL_USER,
  KEY_CHECK_COMMANDS,
  LFU_SAMPLER_SELECTOR,
  optInAclRules,
  STREAM_COMMANDS,
  sentinelAclRules,
} from './acl.js';
import { DISCOVERY_LABELS, discoveryFamilies } from './cluster-discovery.js';
import { createCollectors } from './collectors/index.js';
import { SentinelEventTracker } from './collectors/sentinel-events.js';
import type { RedisCommand } from './collectors/types.js';
import { DEFAULTS } from './config.js';
import type { FamilySpec } from './exposition.js';
import { optInConfig } from './opt-in-config.js';
import { packageRoot } from './package-root.js';
import { processFamilies } from './process-metrics.js';
import { selfFamilies } from './self-metrics.js';
import { DroppedSeries } from './series-cap.js';

/** Roles of a target, for the exclusion list. */
export type TargetRole = 'master' | 'replica' | 'sentinel';

/**
 * redis_exporter 1.45 families we do not export, with the reason. The
 * compatibility test skips exactly these; docs/metrics.md lists them.
 */
export const REDIS_EXPORTER_EXCLUSIONS: readonly {
  families: string;
  match: RegExp;
  roles: readonly TargetRole[];
  reason: string;
}[] = [
  {
    families: 'redis_exporter_build_info',
    match: /^redis_exporter_build_info$/,
    roles: ['master', 'replica', 'sentinel'],
    reason:
      "describes the Go binary of redis_exporter (golang_version, commit_sha); redscope's version is in its logs and `redscope --version`",
  },
  {
    families: 'redis_last_key_groups_scrape_duration_milliseconds',
    match: /^redis_last_key_groups_scrape_duration_milliseconds$/,
    roles: ['master', 'replica', 'sentinel'],
    reason:
      'exported only with --check-key-groups (the key_groups collector); redis_exporter reports a constant 0 without it',
  },
  {
    families: 'redis_script_values',
    match: /^redis_script_values$/,
    roles: ['master', 'replica'],
    reason:
      'labelled `{filename,key}` as newer redis_exporter versions do, so several scripts may return the same key; 1.45 runs one script and labels `{key}` only',
  },
  {
    families: 'redis_db_keys, redis_db_keys_expiring',
    match: /^redis_db_keys(_expiring)?$/,
    roles: ['sentinel'],
    reason:
      'a Sentinel holds no keys; redis_exporter reports 16 zero-filled DBs because CONFIG GET databases fails there',
  },
  {
    families: 'go_*, process_*, promhttp_*',
    match: /^(go|process|promhttp)_/,
    roles: ['master', 'replica', 'sentinel'],
    reason:
      "the Go runtime's own metrics, on every redis_exporter response; redscope puts the Node process's process_* families on /metrics only, not on every /scrape",
  },
];

function familyRow(spec: FamilySpec, collector: string): string {
  const labels = spec.labels.length > 0 ? spec.labels.map((l) => `\`${l}\``).join(', ') : '';
  const compat = spec.redisExporter ? `\`${spec.redisExporter}\`` : 'new';
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return `| \`${spec.name}\` | ${spec.type} | ${labels} | ${collector} | ${cell(spec.source)} | ${compat} |`;
}

/** The opt-in collectors, all on, for the docs: a script and a function stand for the lists. */
const DOC_OPT_IN = optInConfig(
  {
    // Every key collector: a pattern and a single key or stream of each kind.
    key_checks: {
      keys: ['queue:*'],
      single_keys: ['config:version'],
      streams: ['events:*'],
      single_streams: ['events'],
      count_keys: ['session:*'],
      key_groups: ['^(%a+):'],
    },
    scripts: ['example.lua'],
    functions: ['example'],
    client_list: { enabled: true },
    config_metrics: { enabled: true },
  },
  (key) => key,
  () => 'return {}',
);

/** docs/metrics.md, generated from the families the collectors declare. */
export function renderMetricsDoc(): string {
  // Names, commands and families do not depend on what a tracker has seen: a fresh one will do.
  // The LFU sampler is off by default; it is built here (with a throwaway secret) to be listed.
  const collectors = createCollectors({
    sentinelEvents: new SentinelEventTracker(),
    hotKeys: {
      top: DEFAULTS.hotKeysTop,
      lfu: {
        ...DEFAULTS.hotKeysLfu,
        budgetMs: DEFAULTS.hotKeysLfu.budgetSeconds * 1000,
        redactor: new KeyRedactor({ secret: 'metrics-doc-only-secret' }),
      },
    },
    optIn: DOC_OPT_IN,
  });
  const lines: string[] = [
    '# redscope exporter metrics',
    '',
    "<!-- Generated by `npx tsx exporter/metrics-doc.ts` from the collectors' own family",
    '     declarations; test/exporter/metrics-doc.test.ts fails when this file is stale. -->',
    '',
    'One scrape of one target (`/metrics` for the configured target, `/scrape?target=` for',
    'others) runs the collectors below over a single pipeline on a persistent connection.',
    "Families that keep redis_exporter 1.45's name, type and labels say so in the last",
    'column; everything new is under `redscope_`. A collector whose command fails (ACL',
    '`NOPERM`, a fork without the command) reports `redscope_exporter_collector_success{collector} 0`',
    'and the others still report.',
    '',
    'Each heading says where a collector runs: `redis` on every master and replica, standalone',
    'or Redis Cluster node; `cluster` on Redis Cluster nodes only; `sentinel` on Sentinels. The',
    'exporter learns which a target is from `INFO server` (`redis_mode`) when it connects.',
    '',
  ];
  const header = [
    '| family | type | labels | collector | source | redis_exporter |',
    '|---|---|---|---|---|---|',
  ];
  for (const collector of collectors) {
    lines.push(`## Collector \`${collector.name}\` (${collector.modes.join(', ')})`, '');
    if (collector.description) lines.push(collector.description, '');
    const list = (commands: readonly RedisCommand[]) =>
      commands.map((c) => `\`${c.join(' ')}\``).join(', ');
    const commands = list(collector.commands);
    lines.push(`Commands: ${commands || 'none (reads the connection)'}.`);
    if (collector.clusterCommands) {
      lines.push('', `Commands on a cluster node: ${list(collector.clusterCommands)}.`);
    }
    lines.push('', ...header);
    for (const spec of collector.families) lines.push(familyRow(spec, collector.name));
    lines.push('');
  }
  lines.push('## Exporter self-metrics', '', ...header);
  for (const spec of selfFamilies) lines.push(familyRow(spec, '(scrape)'));
  lines.push(familyRow(DroppedSeries.family, '(capped collectors)'));
  lines.push('', 'On `/metrics` only, the exporter process itself:', '', ...header);
  for (const spec of processFamilies) lines.push(familyRow(spec, '(process)'));
  lines.push('', ...renderDiscoveryDoc(header));
  lines.push('', '## Deliberate differences from redis_exporter 1.45', '');
  // The key collectors share their scan families: each difference once.
  const all = new Map(
    [...collectors.flatMap((c) => c.families), ...selfFamilies].map((spec) => [spec.name, spec]),
  );
  for (const spec of all.values()) {
    if (spec.difference) lines.push(`- \`${spec.name}\`: ${spec.difference}`);
  }
  lines.push(
    '- `redis_up` and the `redis_exporter_*` self families are per target and per scrape: redscope serves one target per request like redis_exporter, but keeps the connection.',
    '- `/scrape` contacts only targets matching `--allow-target`, and sends a password only to the targets its credentials entry names (redis_exporter sends its one password to any target a query names).',
    '- `/discover-cluster-nodes` is not in redis_exporter 1.45 (later versions added it under that path, answering one group with every node and no labels); redscope answers one group per node with its id, role and shard, lists only nodes `/scrape` would accept, and takes a `seed` only when `--allow-target` allows it.',
    '',
    'Families redis_exporter exports by default that redscope does not:',
    '',
    '| family | where | reason |',
    '|---|---|---|',
  );
  for (const e of REDIS_EXPORTER_EXCLUSIONS) {
    lines.push(`| \`${e.families}\` | ${e.roles.join(', ')} | ${e.reason} |`);
  }
  lines.push('', ...renderClientMetrics());
  lines.push(
    '',
    '## Least-privilege Redis ACL',
    '',
    'The exporter needs no channel access and reads no key but the hot-key reports',
    '(`redscope:{hotkeys}*`) and the warming status records (`redscope:{warming}:status*`),',
    'both written by the app processes; never the warming usage records, which hold real',
    'key names. On every master and replica:',
    '',
    '```',
    `ACL SETUSER ${EXPORTER_ACL_USER} ${dataNodeAclRules('PASSWORD').join(' ')}`,
    '```',
    '',
    'On a Redis Cluster node, the same plus the topology commands of the `cluster` and',
    '`cluster_nodes` collectors and node discovery (`cluster/users.acl.template` grants them;',
    '`dataNodeAclRules(password, { cluster: true })` in `exporter/acl.ts`). They are left out',
    'of a standalone deployment, where the exporter never sends them:',
    '',
    '```',
    `ACL SETUSER ${EXPORTER_ACL_USER} ${CLUSTER_NODE_COMMANDS.map((c) => `+${c}`).join(' ')}`,
    '```',
    '',
    'On every Sentinel (Sentinel keeps its own ACL):',
    '',
    '```',
    `ACL SETUSER ${EXPORTER_ACL_USER} ${sentinelAclRules('PASSWORD').join(' ')}`,
    '```',
    '',
    'The LFU sampler (`hotkeys.lfu.enabled`, off by default) needs one more selector, which',
    'lets OBJECT FREQ name any key while MGET stays on the reports. SCAN shows the exporter',
    'every key name (session ids included; it exports them redacted only), so add it only',
    'with the sampler:',
    '',
    '```',
    `ACL SETUSER ${EXPORTER_ACL_USER} "${LFU_SAMPLER_SELECTOR}"`,
    '```',
    '',
    'The opt-in collectors need rules that follow their configuration; each adds exactly',
    'what it sends, on the keys it is configured for, and nothing when it is off:',
    '',
    '| collector | commands | keys |',
    '|---|---|---|',
    `| \`key_checks\` | \`+scan\` (patterns only), ${KEY_CHECK_COMMANDS.map((c) => `\`+${c.replace('|', '\\|')}\``).join(' ')} | the patterns and single keys (\`%R~\`) |`,
    `| \`streams\` | \`+scan\` (patterns only), ${STREAM_COMMANDS.map((c) => `\`+${c.replace('|', '\\|')}\``).join(' ')} | the stream patterns and keys |`,
    '| `count_keys` | `+scan` | none: SCAN names no key |',
    '| `key_groups` | `+scan`, `+memory\\|usage`, `+select` | every key (`%R~*`) |',
    '| any key collector reading a database other than 0 (`dbN=`) | `+select` | none |',
    '| `scripts` | `+eval_ro` / `+fcall_ro` (`+eval` / `+fcall` with `--script-allow-writes`) | plus every command and key your scripts use |',
    '| `client_list`, `config_values` | `client\\|list`, `config\\|get`: already above | none |',
    '',
    '`dataNodeAclRules(password, { optIn })` in `exporter/acl.ts` builds them from a config;',
    'for the example configuration used for this page they are:',
    '',
    '```',
    `ACL SETUSER ${EXPORTER_ACL_USER} ${optInAclRules(DOC_OPT_IN)
      .map((r) => (r.startsWith('(') ? `"${r}"` : r))
      .join(' ')}`,
    '```',
    '',
    'Then give the exporter `--username redscope-exporter --password-file FILE` (or, for',
    '`/scrape` targets, an entry in `--credentials-file`). Without `config|get` the',
    '`config` collector reports 0 and `redis_db_keys` covers the non-empty DBs only; without',
    'the hot-key rights the `hotkeys` collector fails on the master (its success is 0), and',
    'without the warming rights the `warming` collector; every other collector is unaffected.',
    '',
  );
  return lines.join('\n');
}

/** The discovery endpoint: what it answers, its labels, a scrape config, its self-metrics. */
function renderDiscoveryDoc(header: readonly string[]): string[] {
  const lines = [
    '## Cluster node discovery (`GET /discover-cluster-nodes`)',
    '',
    "For Prometheus' `http_sd_configs`: the nodes of the Redis Cluster the seed belongs to,",
    'read with one `CLUSTER NODES` on the seed, as `/scrape` targets. The seed is `--redis-url`,',
    'or `?seed=URL` (`?target=URL`, the parameter name of later redis_exporter versions), which',
    'must match `--allow-target` like a `/scrape` target (400 when malformed, 403 when not',
    'allowed, before any connection). The exporter reads the seed with the credentials',
    '`/scrape` would use for it (`--username` and the password for `--redis-url`, else the',
    '`--credentials-file` entry); no credential ever appears in the answer.',
    '',
    '- `200 application/json`: one group per node, `{"targets": ["rediss://10.0.0.5:6379"], "labels": {...}}`.',
    "  A target keeps the seed's scheme and uses the node's announced hostname",
    '  (`cluster-announce-hostname`), else its IP (bracketed when IPv6), and its client port.',
    '  Nodes flagged `fail` stay listed, so their targets report `redis_up 0`.',
    '- Only nodes whose target passes `--allow-target` are listed; the others are left out,',
    '  counted in `redscope_exporter_cluster_discovery_excluded_targets` and logged once per change.',
    '- `503` when the seed did not answer (refused, timeout), `502` when it answered something',
    '  else than a node table (not a cluster node, a refused login or command, garbage); the',
    '  text names the seed. Prometheus keeps the targets of its last good answer.',
    `- Bounded by \`--scrape-timeout\`. An answer is reused for ${DEFAULTS.discoveryCacheSeconds} s per seed and credentials,`,
    '  and concurrent requests share one `CLUSTER NODES`: many Prometheus servers polling cost',
    '  the seed one command per period.',
    '',
    '| label | value |',
    '|---|---|',
    `| \`${DISCOVERY_LABELS.nodeId}\` | the node id (40 hex digits) |`,
    `| \`${DISCOVERY_LABELS.role}\` | \`master\` or \`replica\`, as the seed sees it |`,
    `| \`${DISCOVERY_LABELS.shard}\` | the lowest hash slot of the master the node is or follows (as \`shard\` in the \`redscope_cluster_*\` families); empty for a master without slots |`,
    '',
    'A scrape config, as in `prometheus/prometheus-cluster.yml` (the rules select',
    '`job="redis"` and the dashboards read `instance` as the node\'s host:port; the `/scrape`',
    'credentials file must name every node, e.g. one `match: "rediss://10.0.0.*:6379"` entry).',
    '`prometheus/examples/cluster-http-sd.yml` watches several clusters through one exporter.',
    '',
    '```yaml',
    'scrape_configs:',
    '  - job_name: redis',
    '    metrics_path: /scrape',
    '    http_sd_configs:',
    '      - url: http://redscope-exporter:9121/discover-cluster-nodes',
    '    relabel_configs:',
    '      - source_labels: [__address__]',
    '        target_label: __param_target',
    '      - source_labels: [__param_target]',
    '        regex: "rediss?://([^/?]+).*"',
    '        target_label: instance',
    '      - target_label: __address__',
    '        replacement: redscope-exporter:9121',
    '      - target_label: cluster',
    '        replacement: orders',
    '```',
    '',
    'Do not name a target label `shard`: the `redscope_cluster_shard_*` families carry their',
    'own `shard` (every node reports every shard), which Prometheus would rename to',
    '`exported_shard`. Keep `role` out of the target labels: it changes at every failover, and',
    "with it every series' identity; `redscope_cluster_node_info{role}` carries it instead.",
    '',
    'On `/metrics`, per seed asked recently:',
    '',
    ...header,
  ];
  for (const spec of discoveryFamilies) lines.push(familyRow(spec, '(discovery)'));
  return lines;
}

/**
 * The families an app's registry gets from `redscope/client`, read from the
 * very registry the client fills (so the doc cannot list a family it lacks).
 */
function renderClientMetrics(): string[] {
  const registry = new Registry();
  // A Sentinel-mode client (its fence families) and a Cluster one (the cluster_* families)
  // at once, so the table lists every family a client can have.
  const durability = new DurabilityStats();
  durability.fence = new FailoverFence('redscope', 2);
  registerClientMetrics(registry, {
    stats: new CommandStats(),
    inFlight: () => 0,
    connections: () => [],
    durability,
    cluster: new ClusterStats(),
  });
  registerSessionMetrics(registry);
  registerHotKeyMetrics(registry, () => undefined, 10);
  registerWarmingMetrics(registry, () => undefined);
  const lines = [
    '## Client metrics (`redscope/client`)',
    '',
    "On the app's own registry: `createRedisClients(config, { registry })` registers the",
    '`redscope_client_*` families, `createSessionCache(clients, { registry })` the',
    '`redscope_session_*` ones. Command values are read from the client at scrape time;',
    "ioredis' own handshake (HELLO, CLIENT, SELECT, READONLY, the INFO ready check) is not",
    'counted. `command` is the lower-case command name, capped at 256 names (then `other`).',
    'The `durable_writes_fenced*` and `sentinel_subscriptions` families exist in Sentinel mode only,',
    'the `cluster_*` ones on a Redis Cluster only (`node` is the host:port of the node that answered).',
    'The `hotkey_*` and `near_cache_*` families exist with the `hotKeys` option (docs/hotkeys.md);',
    '`key` is a redacted key name, one series per key of the top `hotKeys.metricsTop` (10).',
    'The `warming_*` families follow `clients.warm()` runs, by namespace (docs/warming.md).',
    '',
    '| family | type | labels | help |',
    '|---|---|---|---|',
  ];
  for (const metric of registry.getMetricsAsArray()) {
    const { name, help, type, labelNames } = metric as unknown as {
      name: string;
      help: string;
      type: string;
      labelNames?: readonly string[];
    };
    const labels = (labelNames ?? []).map((l) => `\`${l}\``).join(', ');
    lines.push(`| \`${name}\` | ${type} | ${labels} | ${help} |`);
  }
  return lines;
}

export const METRICS_DOC_PATH = (): string => join(packageRoot(), 'docs', 'metrics.md');

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(METRICS_DOC_PATH(), renderMetricsDoc());
  process.stdout.write(`wrote ${METRICS_DOC_PATH()}\n`);
}
