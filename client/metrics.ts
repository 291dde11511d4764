import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type CommandStats, DURATION_BUCKETS } from './command-stats.js';
import { ClientConfigError } from './errors.js';

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
}

/** Session cache families, updated by the session cache itself (not on the per-command path). */
export interface SessionMetrics {
  readonly hits: Counter;
  readonly misses: Counter;
  readonly loadDuration: Histogram;
}

export interface ClientMetrics {
  readonly session: SessionMetrics;
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
  sessionHits: 'redscope_session_cache_hits_total',
  sessionMisses: 'redscope_session_cache_misses_total',
  sessionLoadDuration: 'redscope_session_load_duration_seconds',
} as const;

/** Loader latency: a database round trip, 1 ms to 10 s. */
const LOAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Registers the client families on `registry` (the app's, never the global
 * one). Command counts and durations are read from `source.stats` when the
 * registry is scraped; connection gauges likewise.
 */
export function registerClientMetrics(
  registry: Registry,
  source: ClientMetricsSource,
): ClientMetrics {
  for (const name of Object.values(CLIENT_METRIC_NAMES)) {
    if (registry.getSingleMetric(name)) {
      throw new ClientConfigError(
        'registry',
        `already has ${name}: instrument the client once per registry, or close() the previous instrumentation first`,
      );
    }
  }
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
  const session: SessionMetrics = {
    hits: new Counter({
      name: CLIENT_METRIC_NAMES.sessionHits,
      help: 'Session validations answered from Redis.',
      registers,
    }),
    misses: new Counter({
      name: CLIENT_METRIC_NAMES.sessionMisses,
      help: 'Session validations that had to call the loader (not in Redis).',
      registers,
    }),
    loadDuration: new Histogram({
      name: CLIENT_METRIC_NAMES.sessionLoadDuration,
      help: 'Time the session loader took on a cache miss.',
      buckets: LOAD_BUCKETS,
      registers,
    }),
  };
  return {
    session,
    unregister() {
      for (const name of Object.values(CLIENT_METRIC_NAMES)) registry.removeSingleMetric(name);
    },
  };
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
      let cumulative = 0;
      for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
        cumulative += entry.buckets[i] as number;
        const le = i < DURATION_BUCKETS.length ? (DURATION_BUCKETS[i] as number) : '+Inf';
        values.push({
          labels: { le, command: entry.label },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({
        labels: { command: entry.label },
        value: entry.sum,
        metricName: `${this.name}_sum`,
      });
      values.push({
        labels: { command: entry.label },
        value: entry.count,
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
