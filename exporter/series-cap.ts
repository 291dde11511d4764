import { family, type MetricSink } from './exposition.js';
import { RecentMap } from './recent-map.js';

const seriesDropped = family({
  name: 'redscope_exporter_series_dropped_total',
  type: 'counter',
  help: 'What a capped collector left out of this target\'s scrapes: keys (key_checks) or streams (streams) past --check-keys-max-series, counted once per SCAN pass, when it ends; key groups folded into "overflow" past --max-distinct-key-groups (key_groups), once per pass; series past --client-list-max-series (client_list), at every scrape',
  labels: ['collector'],
  source: 'the exporter',
});

/** Scopes whose drop counts are kept; past this, the longest-unscraped is forgotten. */
const MAX_REMEMBERED_SCOPES = 1024;

/**
 * What each capped collector left out, per scope (target and credentials),
 * counted across scrapes so `rate()` shows a cap that keeps biting. One per
 * exporter, shared by the collectors that cap their output.
 */
export class DroppedSeries {
  static readonly family = seriesDropped;
  private readonly totals = new RecentMap<string, Map<string, number>>(MAX_REMEMBERED_SCOPES);

  /** Adds `count` to what `collector` left out on `scope` and writes the running total to `sink`. */
  record(sink: MetricSink, scope: string, collector: string, count: number): void {
    const perCollector = this.totals.use(scope, () => new Map());
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
