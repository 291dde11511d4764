import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';
import type { DurabilityStats } from '../connection/durability-stats.js';
import { ConfigError } from '../errors.js';
import type { ClusterStats } from './cluster-stats.js';
import type { CommandStats } from './command-stats.js';

export type ConnectionRole = 'writer' | 'reader';

/** What the client metrics read at scrape time. */
export interface ClientMetricsSource {
  readonly stats: CommandStats;
  connections(): Iterable<{
    readonly role: ConnectionRole;
    readonly up: boolean;
    readonly reconnects: number;
    readonly offlineQueue: number;
  }>;
  inFlight(): number;
  /** Durable-write refusals and the failover fence (clients of createRedisClients only). */
  readonly durability?: DurabilityStats;
  /** Redirects, retries and per-node counts, when a Redis Cluster is instrumented. */
  readonly cluster?: ClusterStats;
}

export interface ClientMetrics {
  /** Removes every family this registered (so a registry can be reused). */
  unregister(): void;
}

export const CLIENT_METRIC_NAMES = {
  commandDuration: 'redscope_client_command_duration_seconds',
  commands: 'redscope_client_commands_total',
  commandErrors: 'redscope_client_command_errors_total',
  connectionUp: 'redscope_client_connection_up',
  reconnects: 'redscope_client_reconnects_total',
  offlineQueue: 'redscope_client_offline_queue_length',
  inFlight: 'redscope_client_commands_in_flight',
  durableRejected: 'redscope_client_durable_writes_rejected_total',
  durableFenced: 'redscope_client_durable_writes_fenced',
  durableFencedSeconds: 'redscope_client_durable_writes_fenced_seconds_total',
  sentinelSubscriptions: 'redscope_client_sentinel_subscriptions',
  clusterRedirects: 'redscope_client_cluster_redirects_total',
  clusterErrors: 'redscope_client_cluster_errors_total',
  clusterNodeCommands: 'redscope_client_cluster_node_commands_total',
  clusterNodeErrors: 'redscope_client_cluster_node_command_errors_total',
} as const;

/**
 * Registers the client families on `registry` (the app's, never the global
 * one). Command counts and durations are read from `source.stats` when the
 * registry is scraped; connection gauges likewise.
 */
export function registerClientMetrics(
  registry: Registry,
  source: ClientMetricsSource,
): ClientMetrics {
  assertUnregistered(
    registry,
    Object.values(CLIENT_METRIC_NAMES),
    'instrument the client once per registry, or detach() / close() the previous one first',
  );
  const registers = [registry];
  // Hand-built family (see command-stats.ts); a cast because prom-client's
  // Metric type is a union of its own classes, while the registry only needs get().
  registry.registerMetric(
    new PrecollectedHistogram(
      CLIENT_METRIC_NAMES.commandDuration,
      'Time from sending a Redis command to its reply (including time queued while offline), by command.',
      source.stats,
    ) as unknown as Histogram,
  );
  new Counter({
    name: CLIENT_METRIC_NAMES.commands,
    help: 'Redis commands completed (successfully or not), by command.',
    labelNames: ['command'],
    registers,
    collect() {
      this.reset();
      for (const entry of source.stats.all()) this.inc({ command: entry.label }, entry.count);
    },
  });
  new Counter({
    name: CLIENT_METRIC_NAMES.commandErrors,
    help: 'Redis commands that failed, by command and error type (Redis error prefix, timeout, connection_closed, ...).',
    labelNames: ['command', 'error_type'],
    registers,
    collect() {
      this.reset();
      for (const entry of source.stats.all()) {
        for (const [errorType, count] of entry.errors) {
          this.inc({ command: entry.label, error_type: errorType }, count);
        }
      }
    },
  });
  new Gauge({
    name: CLIENT_METRIC_NAMES.connectionUp,
    help: '1 when the connection is ready for commands, by role (writer: the master, reader: a replica or the master).',
    labelNames: ['role'],
    registers,
    collect() {
      this.reset();
      for (const c of source.connections()) this.set({ role: c.role }, c.up ? 1 : 0);
    },
  });
  new Counter({
    name: CLIENT_METRIC_NAMES.reconnects,
    help: 'Reconnection attempts, by role.',
    labelNames: ['role'],
    registers,
    collect() {
      this.reset();
      for (const c of source.connections()) this.inc({ role: c.role }, c.reconnects);
    },
  });
  new Gauge({
    name: CLIENT_METRIC_NAMES.offlineQueue,
    help: 'Commands queued while no connection is ready (they run after reconnecting).',
    registers,
    collect() {
      let queued = 0;
      for (const c of source.connections()) queued += c.offlineQueue;
      this.set(queued);
    },
  });
  new Gauge({
    name: CLIENT_METRIC_NAMES.inFlight,
    help: 'Commands sent or queued that have no reply yet.',
    registers,
    collect() {
      this.set(source.inFlight());
    },
  });
  const { durability } = source;
  new Counter({
    name: CLIENT_METRIC_NAMES.durableRejected,
    help: 'Durable writes not confirmed, by reason: not-acknowledged, connection-changed, failover (began before the acknowledgement, or under way), no-sentinel (none heard).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of durability?.refusals ?? []) this.inc({ reason }, count);
    },
  });
  // Sentinel mode only: a standalone client has no fence, and a 0 would read as "no Sentinel heard".
  const fence = durability?.fence;
  if (fence !== undefined) {
    new Gauge({
      name: CLIENT_METRIC_NAMES.durableFenced,
      help: '1 while durable writes are refused because a failover may have begun or no Sentinel is heard (Sentinel mode).',
      registers,
      collect() {
        this.set(fence.state() === 'open' ? 0 : 1);
      },
    });
    new Counter({
      name: CLIENT_METRIC_NAMES.durableFencedSeconds,
      help: 'Seconds durable writes have been refused by the failover fence since the client started (Sentinel mode).',
      registers,
      collect() {
        this.reset();
        this.inc(fence.closedSecondsTotal());
      },
    });
    new Gauge({
      name: CLIENT_METRIC_NAMES.sentinelSubscriptions,
      help: 'Sentinels whose event subscription is up (Sentinel mode); at 0 a failover goes unseen and durable writes are refused.',
      registers,
      collect() {
        this.set(fence.sentinelsHeard);
      },
    });
  }
  // Cluster mode only, as the fence families are Sentinel mode only.
  const { cluster } = source;
  if (cluster !== undefined) registerClusterFamilies(registers, cluster);
  return {
    unregister() {
      for (const name of Object.values(CLIENT_METRIC_NAMES)) registry.removeSingleMetric(name);
    },
  };
}

function registerClusterFamilies(registers: Registry[], cluster: ClusterStats): void {
  new Counter({
    name: CLIENT_METRIC_NAMES.clusterRedirects,
    help: 'MOVED and ASK replies from Redis Cluster nodes, by kind; ioredis sent the command on to the node named (Cluster mode).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, count] of Object.entries(cluster.redirects)) this.inc({ kind }, count);
    },
  });
  new Counter({
    name: CLIENT_METRIC_NAMES.clusterErrors,
    help: 'CLUSTERDOWN and TRYAGAIN replies from Redis Cluster nodes, by kind; ioredis retries them after a delay (Cluster mode).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      for (const [kind, count] of Object.entries(cluster.errors)) this.inc({ kind }, count);
    },
  });
  new Counter({
    name: CLIENT_METRIC_NAMES.clusterNodeCommands,
    help: 'Redis commands completed, by the Cluster node that answered last (host:port as the client dials it; Cluster mode).',
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const [node, stats] of cluster.series()) this.inc({ node }, stats.commands);
    },
  });
  new Counter({
    name: CLIENT_METRIC_NAMES.clusterNodeErrors,
    help: 'Redis commands that failed, by the Cluster node that answered last (Cluster mode).',
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const [node, stats] of cluster.series()) this.inc({ node }, stats.errors);
    },
  });
}

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** A histogram family whose values come from CommandStats at scrape time. */
class PrecollectedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['command'];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly stats: CommandStats,
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: HistogramValue[];
  }> {
    const values: HistogramValue[] = [];
    for (const entry of this.stats.all()) {
      const { durations } = entry;
      for (const [le, cumulative] of durations.cumulative()) {
        values.push({
          labels: { le, command: entry.label },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({
        labels: { le: '+Inf', command: entry.label },
        value: durations.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({
        labels: { command: entry.label },
        value: durations.sum,
        metricName: `${this.name}_sum`,
      });
      values.push({
        labels: { command: entry.label },
        value: durations.count,
        metricName: `${this.name}_count`,
      });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    // Values are owned by CommandStats; prom-client's registry.resetMetrics() finds nothing to clear here.
  }
}

/** Throws ConfigError when `registry` already has one of `names` (a second client or cache on it). */
export function assertUnregistered(
  registry: Registry,
  names: readonly string[],
  advice: string,
): void {
  for (const name of names) {
    if (registry.getSingleMetric(name)) {
      throw new ConfigError('registry', `already has ${name}: ${advice}`);
    }
  }
}
