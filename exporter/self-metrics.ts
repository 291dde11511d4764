import { BucketCounts } from '../client/common/bucket-counts.js';
import { compatFamily, family, type MetricSink } from './exposition.js';
import { RecentMap } from './recent-map.js';
import { SCRAPE_ERROR_REASONS, type ScrapeErrorReason } from './scrape-errors.js';

export const redisUp = compatFamily({
  name: 'redis_up',
  type: 'gauge',
  help: 'Whether the target answered this scrape (1) or not (0)',
  labels: [],
  source: 'the scrape itself',
});
export const collectorSuccess = family({
  name: 'redscope_exporter_collector_success',
  type: 'gauge',
  help: 'Whether each collector produced its metrics in this scrape (1) or failed (0)',
  labels: ['collector'],
  source: 'the scrape itself',
});
export const collectorDuration = family({
  name: 'redscope_exporter_collector_duration_seconds',
  type: 'gauge',
  help: "Seconds from the scrape's start until each collector finished (the shared round trip included)",
  labels: ['collector'],
  source: 'the scrape itself',
});
const scrapeDuration = family({
  name: 'redscope_exporter_scrape_duration_seconds',
  type: 'histogram',
  help: 'Duration of collections per target, from the first command to the last reply',
  labels: ['target'],
  source: 'exporter state since start',
});
const scrapeErrors = family({
  name: 'redscope_exporter_scrape_errors_total',
  type: 'counter',
  help: 'Collections per target that found the target unreachable, by reason',
  labels: ['target', 'reason'],
  source: 'exporter state since start',
});
const lastScrapeDuration = compatFamily({
  name: 'redis_exporter_last_scrape_duration_seconds',
  type: 'gauge',
  help: 'Duration of this collection in seconds',
  labels: [],
  source: 'the scrape itself',
});
const lastScrapeConnectTime = compatFamily({
  name: 'redis_exporter_last_scrape_connect_time_seconds',
  type: 'gauge',
  help: 'Seconds this collection spent connecting (0 when it reused the persistent connection)',
  labels: [],
  source: 'the scrape itself',
  difference:
    'Usually 0: redscope keeps one connection per target instead of connecting per scrape.',
});
const lastScrapeError = compatFamily({
  name: 'redis_exporter_last_scrape_error',
  type: 'gauge',
  help: 'Whether this collection failed (1, with the error in err) or not (0)',
  labels: ['err'],
  source: 'the scrape itself',
});
const scrapesTotal = compatFamily({
  name: 'redis_exporter_scrapes_total',
  type: 'counter',
  help: 'Collections of this target since the exporter started',
  labels: [],
  source: 'exporter state since start',
});
const scrapeDurationSummary = compatFamily({
  name: 'redis_exporter_scrape_duration_seconds',
  type: 'summary',
  help: 'Durations of collections of this target since the exporter started',
  labels: [],
  source: 'exporter state since start',
  difference:
    'Per target (sum and count only, as in redis_exporter); redscope_exporter_scrape_duration_seconds is the histogram.',
});
const requestErrors = compatFamily({
  name: 'redis_target_scrape_request_errors_total',
  type: 'counter',
  help: 'Requests to /scrape refused as malformed (400) or not allowed (403)',
  labels: [],
  source: 'exporter state since start',
});

/** Scrape-duration buckets: a healthy scrape takes about a millisecond, a hung one the whole budget. */
export const SCRAPE_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface TargetStats {
  /** Scrape durations; also the sum and count of redis_exporter's summary. */
  readonly durations: BucketCounts;
  readonly errors: Map<ScrapeErrorReason, number>;
}

/** Families the exporter writes about itself, listed for docs/metrics.md. */
export const selfFamilies = [
  redisUp,
  collectorSuccess,
  collectorDuration,
  scrapeDuration,
  scrapeErrors,
  lastScrapeDuration,
  lastScrapeConnectTime,
  lastScrapeError,
  scrapesTotal,
  scrapeDurationSummary,
  requestErrors,
];

/** Most targets tracked; past this the least recently scraped target's history is dropped. */
const MAX_TARGETS = 2000;

/**
 * The exporter's memory of past scrapes, per target. Kept by the exporter
 * instance (no global registry) and rendered into each response by hand.
 */
export class ExporterTelemetry {
  private readonly targets = new RecentMap<string, TargetStats>(MAX_TARGETS);
  requestErrors = 0;

  record(target: string, durationSeconds: number, reason: ScrapeErrorReason | undefined): void {
    const stats = this.targets.use(target, () => ({
      durations: new BucketCounts(SCRAPE_BUCKETS),
      errors: new Map(),
    }));
    stats.durations.observe(durationSeconds);
    if (reason) stats.errors.set(reason, (stats.errors.get(reason) ?? 0) + 1);
  }

  /** The per-target history of `targets` (all when undefined). */
  render(sink: MetricSink, only?: string): void {
    for (const [target, stats] of this.targets) {
      if (only !== undefined && target !== only) continue;
      const { durations } = stats;
      sink.histogram(
        scrapeDuration,
        [target],
        durations.cumulative(),
        durations.sum,
        durations.count,
      );
      for (const reason of SCRAPE_ERROR_REASONS) {
        sink.add(scrapeErrors, stats.errors.get(reason) ?? 0, target, reason);
      }
    }
    sink.add(requestErrors, this.requestErrors);
  }

  /** redis_exporter's per-scrape self families, for one target. */
  renderCompat(
    sink: MetricSink,
    target: string,
    durationSeconds: number,
    connectSeconds: number,
    error: string | undefined,
  ): void {
    const stats = this.targets.peek(target);
    sink.add(lastScrapeDuration, durationSeconds);
    sink.add(lastScrapeConnectTime, connectSeconds);
    sink.add(lastScrapeError, error ? 1 : 0, error ?? '');
    const durations = stats?.durations;
    sink.add(scrapesTotal, durations?.count ?? 0);
    sink.summary(scrapeDurationSummary, [], [], durations?.sum ?? 0, durations?.count ?? 0);
  }
}
