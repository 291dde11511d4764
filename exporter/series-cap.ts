import { family, type MetricSink } from './exposition.js';

const seriesDropped = family({
  name: 'redscope_exporter_series_dropped_total',
  type: 'counter',
  help: "Series a collector left out of this target's scrapes because they passed its cap (--check-keys-max-series, --client-list-max-series, --max-distinct-key-groups)",
  labels: ['collector'],
  source: 'the exporter',
});

/** Targets whose drop counts are kept; past this, the longest-unscraped is forgotten. */
const MAX_REMEMBERED_TARGETS = 1024;

/**
 * The series each capped collector dropped, per target, counted across
 * scrapes so `rate()` shows a cap that keeps biting. One per exporter, shared
 * by the collectors that cap their output.
 */
export class DroppedSeries {
  static readonly family = seriesDropped;
  private readonly totals = new Map<string, Map<string, number>>();

  /** Counts `count` series `collector` dropped at this scrape of `target` and writes the running total to `sink`. */
  record(sink: MetricSink, target: string, collector: string, count: number): void {
    let perCollector = this.totals.get(target);
    if (perCollector === undefined) {
      perCollector = new Map();
      if (this.totals.size >= MAX_REMEMBERED_TARGETS) {
        const oldest = this.totals.keys().next().value;
        if (oldest !== undefined) this.totals.delete(oldest);
      }
    } else {
      this.totals.delete(target);
    }
    this.totals.set(target, perCollector);
    const total = (perCollector.get(collector) ?? 0) + count;
    perCollector.set(collector, total);
    sink.add(seriesDropped, total, collector);
  }
}

/**
 * A cap on the series one collector writes at one scrape: `take()` says
 * whether one more may go out, and `dropped` how many did not.
 */
export class SeriesCap {
  private used = 0;
  dropped = 0;

  constructor(readonly max: number) {}

  /** Whether `count` more series fit; when not, they are counted as dropped. */
  take(count = 1): boolean {
    if (this.used + count > this.max) {
      this.dropped += count;
      return false;
    }
    this.used += count;
    return true;
  }
}
