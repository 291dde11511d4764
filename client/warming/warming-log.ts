import type { Logger } from 'pino';
import type { WarmingSource } from '../common/warming-status.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';
import type { RateDecision } from './rate-control.js';
import type { WarmingProgress, WarmingResult } from './types.js';

/**
 * The log lines of one warming run (docs/logging.md, the `redis.warming_*`
 * rows). Never a key name: only the namespace, which is a prefix the app
 * chose. Lines belong to no request (runDetached): a run outlives the
 * request that may have started it.
 */
export class WarmingLog {
  private readonly attemptLines = new LogThrottle(10_000, 3);
  private readonly valueLines = new LogThrottle(10_000, 3);
  private readonly statusLines = new LogThrottle(60_000, 1);

  constructor(
    private readonly logger: Logger,
    private readonly namespace: string,
  ) {}

  started(fields: {
    source: WarmingSource;
    planned: number;
    ratePerSecond: number;
    batchSize: number;
    concurrency: number;
  }): void {
    runDetached(() =>
      this.logger.info(
        {
          event: 'redis.warming_started',
          namespace: this.namespace,
          source: fields.source,
          planned: fields.planned,
          rate_per_second: fields.ratePerSecond,
          batch_size: fields.batchSize,
          concurrency: fields.concurrency,
        },
        'cache warming started',
      ),
    );
  }

  progress(p: WarmingProgress): void {
    runDetached(() =>
      this.logger.info(
        {
          event: 'redis.warming_progress',
          namespace: this.namespace,
          warmed: p.warmed,
          skipped: p.skipped,
          failed: p.failed,
          planned: p.planned,
          keys_per_second: p.keysPerSecond,
          eta_seconds: p.etaSeconds ?? null,
          rate_limit: round(p.rateLimit),
        },
        'cache warming in progress',
      ),
    );
  }

  /** Every halving: RateControl halves at most once per window (3 s). */
  backedOff(decision: RateDecision, baselineP99Ms: number | undefined): void {
    runDetached(() =>
      this.logger.info(
        {
          event: 'redis.warming_backoff',
          namespace: this.namespace,
          reason: decision.backedOff,
          rate_limit: round(decision.rate),
          ...(decision.p99Ms === undefined ? {} : { p99_ms: round(decision.p99Ms) }),
          ...(baselineP99Ms === undefined ? {} : { baseline_p99_ms: round(baselineP99Ms) }),
        },
        'cache warming slowed down: live traffic suffers',
      ),
    );
  }

  finished(result: WarmingResult): void {
    const fields = {
      namespace: this.namespace,
      outcome: result.outcome,
      warmed: result.warmed,
      skipped: result.skipped,
      failed: result.failed,
      errors: result.errors,
      planned: result.planned,
      duration_ms: result.elapsedMs,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
    };
    runDetached(() => {
      if (result.outcome === 'failed') {
        this.logger.warn({ event: 'redis.warming_failed', ...fields }, 'cache warming failed');
      } else {
        this.logger.info({ event: 'redis.warming_finished', ...fields }, 'cache warming ended');
      }
    });
  }

  /** A batch attempt failed; `delayMs` 0: it was the last attempt. Three lines per 10 s. */
  attemptFailed(error: unknown, keys: number, attempt: number, delayMs: number): void {
    const held = this.attemptLines.take('attempt');
    if (held === undefined) return;
    runDetached(() =>
      this.logger.warn(
        {
          event: 'redis.warming_batch_failed',
          namespace: this.namespace,
          keys,
          attempt,
          ...(delayMs > 0 ? { retry_in_ms: delayMs } : { gave_up: true }),
          err: errorFields(error),
          ...(held > 0 ? { suppressed: held } : {}),
        },
        delayMs > 0
          ? 'a warming batch failed; retrying it'
          : 'a warming batch failed every attempt; its keys are left to live traffic',
      ),
    );
  }

  badValues(keys: number, types: readonly string[]): void {
    const held = this.valueLines.take('bad');
    if (held === undefined) return;
    runDetached(() =>
      this.logger.warn(
        {
          event: 'redis.warming_bad_value',
          namespace: this.namespace,
          keys,
          value_types: types,
          ...(held > 0 ? { suppressed: held } : {}),
        },
        'the warming loader returned values that are not a string, Buffer or null; those keys were skipped',
      ),
    );
  }

  statusFailed(error: unknown): void {
    const held = this.statusLines.take('failed');
    if (held === undefined) return;
    runDetached(() =>
      this.logger.warn(
        {
          event: 'redis.warming_status_failed',
          namespace: this.namespace,
          err: errorFields(error),
          ...(held > 0 ? { suppressed: held } : {}),
        },
        'could not write the warming status to Redis; the exporter shows it stale until it can',
      ),
    );
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
