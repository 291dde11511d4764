import { compatFamily, family } from '../exposition.js';
import { fieldsOf } from '../indexed-records.js';
import { commandStats } from './commandstats.js';
import { type Collector, INFO_ALL, type RedisCommand } from './types.js';

const LATENCY_HISTOGRAM: RedisCommand = ['LATENCY', 'HISTOGRAM'];
const LATENCY_LATEST: RedisCommand = ['LATENCY', 'LATEST'];

/**
 * Conventional 1-5-10 `le` bounds in seconds from 10 µs to 1 s: 11 buckets,
 * since a histogram per command must stay cheap to store, and the same for
 * every instance so series merge across a fleet. Redis counts at its own power-of-two microsecond edges;
 * each bound gets the cumulative count of the largest Redis edge at or below
 * it, so a bucket never overstates (it may understate by less than one Redis bucket).
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
];

export const commandLatency = family({
  name: 'redscope_redis_command_latency_seconds',
  type: 'histogram',
  help: 'Per-command latency inside Redis, from LATENCY HISTOGRAM (sum from INFO commandstats)',
  labels: ['cmd'],
  source: 'LATENCY HISTOGRAM; _sum from INFO commandstats usec',
});

const spikeLast = compatFamily({
  name: 'redis_latency_spike_last',
  type: 'gauge',
  help: 'When the latency spike last occurred',
  labels: ['event_name'],
  source: 'LATENCY LATEST: timestamp',
});
const spikeDuration = compatFamily({
  name: 'redis_latency_spike_duration_seconds',
  type: 'gauge',
  help: 'Length of the last latency spike in seconds',
  labels: ['event_name'],
  source: 'LATENCY LATEST: latest (ms), in seconds',
});

export const latencyHistogramCollector: Collector = {
  name: 'latency_histogram',
  modes: ['redis'],
  commands: [LATENCY_HISTOGRAM, INFO_ALL],
  families: [commandLatency],
  collect(context, sink) {
    const reply = context.reply(LATENCY_HISTOGRAM);
    if (!Array.isArray(reply)) throw new Error('LATENCY HISTOGRAM did not answer with an array');
    const stats = commandStats(context.info());
    for (const [name, body] of fieldsOf(reply)) {
      const fields = fieldsOf(body);
      const calls = Number(fields.get('calls'));
      const edges = fields.get('histogram_usec');
      if (!Number.isFinite(calls) || !Array.isArray(edges)) continue;
      const buckets: [number, number][] = [];
      let edge = 0;
      let cumulative = 0;
      for (const le of LATENCY_BUCKETS_SECONDS) {
        const limitUsec = le * 1e6;
        while (edge + 1 < edges.length && Number(edges[edge]) <= limitUsec) {
          cumulative = Number(edges[edge + 1]);
          edge += 2;
        }
        buckets.push([le, cumulative]);
      }
      sink.histogram(commandLatency, [name], buckets, (stats.get(name)?.usec ?? 0) / 1e6, calls);
    }
  },
};

export const latencySpikesCollector: Collector = {
  name: 'latency_spikes',
  modes: ['redis'],
  commands: [LATENCY_LATEST],
  families: [spikeLast, spikeDuration],
  collect(context, sink) {
    const reply = context.reply(LATENCY_LATEST);
    if (!Array.isArray(reply)) throw new Error('LATENCY LATEST did not answer with an array');
    for (const entry of reply) {
      if (!Array.isArray(entry) || entry.length < 3) continue;
      const [event, timestamp, latestMs] = entry as [unknown, unknown, unknown];
      sink.add(spikeLast, Number(timestamp), String(event));
      sink.add(spikeDuration, Number(latestMs) / 1000, String(event));
    }
  },
};
