import type { CommandStats } from './command-stats.js';
import { DURATION_BUCKETS } from './command-stats.js';

/** Cumulative figures of the app's own commands at one moment. */
export interface LiveSnapshot {
  readonly at: number;
  readonly commands: number;
  readonly errors: number;
  /** Cumulative counts per bound of DURATION_BUCKETS. */
  readonly buckets: readonly number[];
}

/** The app's commands between two snapshots. */
export interface LiveWindow {
  readonly commands: number;
  readonly errors: number;
  /** p99 in ms, interpolated within its bucket; undefined without commands. */
  readonly p99Ms: number | undefined;
}

/**
 * The live-latency signal cache warming backs off on: the p99 and error
 * count of the app's own commands (writer and reader, blocking commands
 * left out: they wait by design) over any window, read from the per-command
 * duration buckets the instrumentation keeps anyway. The command path pays
 * nothing for it; a snapshot sums the buckets of every command name (a few
 * microseconds, taken once a second while a run is on). The buckets double
 * from 0.1 ms, so the p99 is interpolated within its bucket, as
 * Prometheus' histogram_quantile does, rather than jumping from bound to bound.
 */
export class LiveLatency {
  constructor(
    private readonly stats: CommandStats,
    private readonly exclude: ReadonlySet<string>,
  ) {}

  snapshot(now = performance.now()): LiveSnapshot {
    const buckets = new Array<number>(DURATION_BUCKETS.length).fill(0);
    let commands = 0;
    let errors = 0;
    for (const entry of this.stats.all()) {
      if (this.exclude.has(entry.label)) continue;
      commands += entry.count;
      for (const count of entry.errors.values()) errors += count;
      const cumulative = entry.durations.cumulative();
      for (let i = 0; i < cumulative.length; i++) {
        buckets[i] = (buckets[i] as number) + (cumulative[i]?.[1] ?? 0);
      }
    }
    return { at: now, commands, errors, buckets };
  }

  /** What happened between `from` and `to` (two snapshots of this object). */
  static between(from: LiveSnapshot, to: LiveSnapshot): LiveWindow {
    const commands = to.commands - from.commands;
    const errors = to.errors - from.errors;
    if (commands <= 0) return { commands: 0, errors: Math.max(0, errors), p99Ms: undefined };
    const rank = 0.99 * commands;
    let lower = 0;
    let below = 0;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      const upper = DURATION_BUCKETS[i] as number;
      const cumulative = (to.buckets[i] ?? 0) - (from.buckets[i] ?? 0);
      if (cumulative >= rank) {
        const inBucket = cumulative - below;
        const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
        return { commands, errors, p99Ms: (lower + (upper - lower) * fraction) * 1000 };
      }
      lower = upper;
      below = cumulative;
    }
    // Over the last bound (10 s): as high as the histogram can say.
    return { commands, errors, p99Ms: lower * 1000 };
  }
}
