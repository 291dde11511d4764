import { readdirSync } from 'node:fs';
import { family, type MetricSink } from './exposition.js';

// The conventional process_* families every Prometheus client library exports,
// written by hand: prom-client's default set adds nodejs_*_total gauges that
// `promtool check metrics` flags, and we need only these four.
const cpu = family({
  name: 'process_cpu_seconds_total',
  type: 'counter',
  help: 'Total user and system CPU time spent in seconds.',
  labels: [],
  source: 'process.cpuUsage()',
});
const rss = family({
  name: 'process_resident_memory_bytes',
  type: 'gauge',
  help: 'Resident memory size in bytes.',
  labels: [],
  source: 'process.memoryUsage().rss',
});
const heap = family({
  name: 'process_heap_bytes',
  type: 'gauge',
  help: 'Process heap size in bytes.',
  labels: [],
  source: 'process.memoryUsage().heapTotal',
});
const start = family({
  name: 'process_start_time_seconds',
  type: 'gauge',
  help: 'Start time of the process since unix epoch in seconds.',
  labels: [],
  source: 'process.uptime()',
});
const openFds = family({
  name: 'process_open_fds',
  type: 'gauge',
  help: 'Number of open file descriptors.',
  labels: [],
  source: '/proc/self/fd',
});

export const processFamilies = [cpu, rss, heap, start, openFds];

const startSeconds = Math.round(Date.now() / 1000 - process.uptime());

export function renderProcessMetrics(sink: MetricSink): void {
  const usage = process.cpuUsage();
  const memory = process.memoryUsage();
  sink.add(cpu, (usage.user + usage.system) / 1e6);
  sink.add(rss, memory.rss);
  sink.add(heap, memory.heapTotal);
  sink.add(start, startSeconds);
  try {
    // Counting /proc/self/fd is Linux-only; elsewhere the family is simply absent.
    sink.add(openFds, readdirSync('/proc/self/fd').length);
  } catch {
    // not Linux
  }
}
