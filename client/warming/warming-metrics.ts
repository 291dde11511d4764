import { Counter, Gauge, type Registry } from 'prom-client';
import { assertUnregistered } from '../instrumentation/metrics.js';
import type { NamespaceFigures } from './warming-run.js';

/** The client's cache-warming families, on the app's own registry. */
export const WARMING_METRIC_NAMES = {
  keys: 'redscope_client_warming_keys_total',
  planned: 'redscope_client_warming_planned_keys',
  running: 'redscope_client_warming_running',
  runs: 'redscope_client_warming_runs_total',
  rateLimit: 'redscope_client_warming_rate_limit',
} as const;

export interface WarmingMetrics {
  unregister(): void;
}

/**
 * Registers the warming families on the app's registry, one series per
 * namespace warmed (namespaces are the app's key prefixes, a handful).
 * `source` is read at scrape time: the figures of each namespace this
 * client warmed, or undefined before the client exists.
 */
export function registerWarmingMetrics(
  registry: Registry,
  source: () => ReadonlyMap<string, NamespaceFigures> | undefined,
): WarmingMetrics {
  const names = Object.values(WARMING_METRIC_NAMES);
  assertUnregistered(
    registry,
    names,
    'instrument the client once per registry, or detach() / close() the previous one first',
  );
  const registers = [registry];
  const each = (fn: (namespace: string, figures: NamespaceFigures) => void) => {
    for (const [namespace, figures] of source() ?? []) fn(namespace, figures);
  };
  new Counter({
    name: WARMING_METRIC_NAMES.keys,
    help: 'Keys cache warming handled: warmed (written), skipped (live traffic had filled it, or the source has none), failed (after retries, or an unusable value).',
    labelNames: ['namespace', 'result'],
    registers,
    collect() {
      this.reset();
      each((namespace, f) => {
        this.inc({ namespace, result: 'warmed' }, f.warmed);
        this.inc({ namespace, result: 'skipped' }, f.skipped);
        this.inc({ namespace, result: 'failed' }, f.failed);
      });
    },
  });
  new Gauge({
    name: WARMING_METRIC_NAMES.planned,
    help: "Keys in the plan of the namespace's current or last warming run.",
    labelNames: ['namespace'],
    registers,
    collect() {
      this.reset();
      each((namespace, f) => this.set({ namespace }, f.planned));
    },
  });
  new Gauge({
    name: WARMING_METRIC_NAMES.running,
    help: '1 while a warming run of the namespace is on in this process.',
    labelNames: ['namespace'],
    registers,
    collect() {
      this.reset();
      each((namespace, f) => this.set({ namespace }, f.running ? 1 : 0));
    },
  });
  new Counter({
    name: WARMING_METRIC_NAMES.runs,
    help: 'Warming runs that ended, by outcome (done, cancelled, failed, target_reached).',
    labelNames: ['namespace', 'outcome'],
    registers,
    collect() {
      this.reset();
      each((namespace, f) => {
        for (const [outcome, count] of f.runs) this.inc({ namespace, outcome }, count);
      });
    },
  });
  new Gauge({
    name: WARMING_METRIC_NAMES.rateLimit,
    help: 'Keys per second the warming token bucket allows now: under the configured rate while it backs off from live latency or errors; 0 when no run is on.',
    labelNames: ['namespace'],
    registers,
    collect() {
      this.reset();
      each((namespace, f) => this.set({ namespace }, f.rateLimit));
    },
  });
  return {
    unregister() {
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
