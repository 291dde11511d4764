import { compatFamily, type FamilySpec } from '../exposition.js';
import { numeric, type ParsedInfo, parseKeyValueList } from '../info-parser.js';
import { type Collector, INFO_ALL } from './types.js';

const cmd = ['cmd'];
const commandsTotal = compatFamily({
  name: 'redis_commands_total',
  type: 'counter',
  help: 'Total number of calls per command',
  labels: cmd,
  source: 'INFO commandstats: calls',
});
const commandsDuration = compatFamily({
  name: 'redis_commands_duration_seconds_total',
  type: 'counter',
  help: 'Total amount of time in seconds spent per command',
  labels: cmd,
  source: 'INFO commandstats: usec, in seconds',
});
const failedCalls = compatFamily({
  name: 'redis_commands_failed_calls_total',
  type: 'counter',
  help: 'Total number of calls per command that failed while executing (e.g. WRONGTYPE)',
  labels: cmd,
  source: 'INFO commandstats: failed_calls',
  difference:
    'HELP text corrected: redis_exporter 1.45 swaps the HELP texts of failed and rejected calls (the values are right).',
});
const rejectedCalls = compatFamily({
  name: 'redis_commands_rejected_calls_total',
  type: 'counter',
  help: 'Total number of calls per command rejected before executing (unknown arguments, ACL, OOM)',
  labels: cmd,
  source: 'INFO commandstats: rejected_calls',
  difference: 'HELP text corrected, as for redis_commands_failed_calls_total.',
});
const errorsTotal = compatFamily({
  name: 'redis_errors_total',
  type: 'counter',
  help: 'Total number of errors per error type',
  labels: ['err'],
  source: 'INFO errorstats: errorstat_<prefix> count',
});
const latencyPercentiles = compatFamily({
  name: 'redis_latency_percentiles_usec',
  type: 'summary',
  help: 'A summary of latency percentile distribution per command',
  labels: cmd,
  source: 'INFO latencystats (p50, p99, p99.9) with calls and usec from commandstats',
  difference:
    'Kept for compatibility (quantile="99.9", microseconds, not mergeable across instances); new dashboards should use redscope_redis_command_latency_seconds.',
});

export interface CommandStat {
  readonly calls: number;
  readonly usec: number;
  readonly rejected?: number;
  readonly failed?: number;
}

/** `cmdstat_get:calls=1,usec=2,...` lines by command name (`client|list` for subcommands). */
export function commandStats(info: ParsedInfo): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  const section = info.sections.get('commandstats');
  if (!section) return out;
  for (const [key, value] of section) {
    if (!key.startsWith('cmdstat_')) continue;
    const stats = parseKeyValueList(value);
    const calls = numeric(stats.get('calls'));
    const usec = numeric(stats.get('usec'));
    if (calls === undefined || usec === undefined) continue;
    const rejected = numeric(stats.get('rejected_calls'));
    const failed = numeric(stats.get('failed_calls'));
    out.set(key.slice('cmdstat_'.length), {
      calls,
      usec,
      ...(rejected !== undefined ? { rejected } : {}),
      ...(failed !== undefined ? { failed } : {}),
    });
  }
  return out;
}

const QUANTILE_KEY = /^p(\d+(?:\.\d+)?)$/;

export const commandstatsCollector: Collector = {
  name: 'commandstats',
  modes: ['redis', 'sentinel'],
  commands: [INFO_ALL],
  families: [
    commandsTotal,
    commandsDuration,
    failedCalls,
    rejectedCalls,
    errorsTotal,
    latencyPercentiles,
  ],
  collect(context, sink) {
    const info = context.info();
    const stats = commandStats(info);
    for (const [name, stat] of stats) {
      sink.add(commandsTotal, stat.calls, name);
      sink.add(commandsDuration, stat.usec / 1e6, name);
      if (stat.rejected !== undefined) sink.add(rejectedCalls, stat.rejected, name);
      if (stat.failed !== undefined) sink.add(failedCalls, stat.failed, name);
    }
    for (const [key, value] of info.sections.get('errorstats') ?? []) {
      if (!key.startsWith('errorstat_')) continue;
      const count = numeric(parseKeyValueList(value).get('count'));
      if (count !== undefined) sink.add(errorsTotal, count, key.slice('errorstat_'.length));
    }
    for (const [key, value] of info.sections.get('latencystats') ?? []) {
      if (!key.startsWith('latency_percentiles_usec_')) continue;
      const name = key.slice('latency_percentiles_usec_'.length);
      const stat = stats.get(name);
      if (!stat) continue;
      const quantiles: [string, number][] = [];
      for (const [p, v] of parseKeyValueList(value)) {
        const match = QUANTILE_KEY.exec(p);
        const n = numeric(v);
        if (match?.[1] && n !== undefined) quantiles.push([match[1], n]);
      }
      sink.summary(latencyPercentiles, [name], quantiles, stat.usec, stat.calls);
    }
  },
};

export const commandstatsFamilies: readonly FamilySpec[] = commandstatsCollector.families;
