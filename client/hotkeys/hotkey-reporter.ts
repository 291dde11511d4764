import type { Logger } from 'pino';
import {
  HOTKEY_REPORT_INDEX,
  type HotKeyReport,
  hotKeyReportKey,
  serializeHotKeyReport,
} from '../common/hotkey-report.js';
import type { SideConnection } from '../connection/side-connection.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { errorFields } from '../logging/logger.js';
import { runDetached } from '../logging/request-context.js';

/** Index entries older than this are dropped by whichever reporter writes next. */
const INDEX_GRACE_MS = 60_000;

/**
 * Publishes this process's hot-key report to the master every interval, on
 * the client's side connection (not instrumented: the reports are not app
 * traffic and must not count as accesses). The report expires after three
 * intervals, so a process that dies drops out of the fleet-wide view by
 * itself; a process that closes removes it at once.
 */
export class HotKeyReporter {
  private readonly timer: NodeJS.Timeout;
  private readonly failureLines = new LogThrottle(60_000, 1);
  private closed = false;
  private publishing = false;
  published = 0;
  failed = 0;

  constructor(
    private readonly side: SideConnection,
    private readonly instance: string,
    private readonly intervalMs: number,
    private readonly build: () => HotKeyReport,
    private readonly logger: Logger,
  ) {
    side.get();
    side.atClose((redis) =>
      redis.multi().del(hotKeyReportKey(instance)).zrem(HOTKEY_REPORT_INDEX, instance).exec(),
    );
    // Failures are counted and logged inside; a logger that throws must not become the app's
    // unhandled rejection.
    this.timer = setInterval(() => void this.publish().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Writes the report now; resolves whether it went out. */
  async publish(): Promise<boolean> {
    const connection = this.side.get();
    if (this.closed) return false;
    // Still waiting for the last one (the side connection times commands out), or not connected:
    // this interval's report is missed, and counted as such.
    if (this.publishing || connection === undefined || !this.side.ready) {
      this.failed += 1;
      return false;
    }
    this.publishing = true;
    try {
      const report = this.build();
      const now = Date.now();
      const ttl = 3 * this.intervalMs;
      const replies = await connection
        .multi()
        .set(hotKeyReportKey(this.instance), serializeHotKeyReport(report), 'PX', ttl)
        .zadd(HOTKEY_REPORT_INDEX, now + ttl, this.instance)
        .zremrangebyscore(HOTKEY_REPORT_INDEX, '-inf', now - INDEX_GRACE_MS)
        .pexpire(HOTKEY_REPORT_INDEX, Math.max(INDEX_GRACE_MS, 10 * this.intervalMs))
        .exec();
      const failure = replies?.find(([error]) => error !== null)?.[0];
      if (replies === null || failure)
        throw failure ?? new Error('the report transaction was aborted');
      this.published += 1;
      return true;
    } catch (error) {
      this.failed += 1;
      const held = this.failureLines.take('failed');
      if (held !== undefined) {
        runDetached(() =>
          this.logger.warn(
            {
              event: 'redis.hotkey_report_failed',
              err: errorFields(error),
              ...(held > 0 ? { suppressed: held } : {}),
            },
            'could not publish the hot-key report; the fleet-wide view misses this process until it can',
          ),
        );
      }
      return false;
    } finally {
      this.publishing = false;
    }
  }

  /** Stops publishing; the side connection removes the report when it closes. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
