import {
  LiveLatency,
  type LiveSnapshot,
  type LiveWindow,
} from '../instrumentation/live-latency.js';

/**
 * The live p99 is pooled over this many seconds. One second's p99 is noise on
 * a busy host: an idle loopback client measured 0.22 ms to 2.87 ms from one
 * second to the next (GC pauses, scheduling), so a per-second comparison
 * backed off on nothing; a stall or an overload lasts, and shows over three.
 */
export const WINDOW_SECONDS = 3;
/** The baseline pools up to this many seconds before the run, when the client has them. */
export const BASELINE_SECONDS = 10;
/** Snapshots kept: enough for the baseline. */
const KEPT = BASELINE_SECONDS + 1;
/** Fewer app commands than this in the window: its p99 is noise, and nobody is there to hurt. */
const MIN_LIVE_COMMANDS = 50;
/** Live p99 above this multiple of the baseline means warming hurts: halve the rate. */
const LATENCY_FACTOR = 1.5;
/**
 * ... and at least this much above it, in ms: on loopback a p99 that moves
 * from 0.2 ms to 0.5 ms is jitter, not harm (the duration buckets are 2-2.5x
 * apart there, and one GC pause moves a second's p99 by a millisecond).
 */
const MIN_LATENCY_RISE_MS = 0.5;
/** Live errors above the baseline's error ratio by this much: halve the rate. */
const ERROR_RATIO_RISE = 0.01;
/** ... and at least this many in the window (one failed command is not a trend). */
const MIN_LIVE_ERRORS = 3;
/** The rate never falls under this fraction of the configured one (six halvings). */
const MIN_RATE_FRACTION = 1 / 64;
/** Each healthy second gives back this fraction of the configured rate (additive increase). */
const INCREASE_FRACTION = 0.1;

/**
 * Keeps a snapshot of the app's live commands (LiveLatency) every second
 * once the client's first run starts, until the client closes: later runs
 * find their baseline in the seconds before them at once. A snapshot sums a
 * few dozen counters; the command path pays nothing.
 */
export class LiveTicker {
  private timer: NodeJS.Timeout | undefined;
  private readonly snapshots: LiveSnapshot[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(private readonly latency: LiveLatency) {}

  /** Calls `listener` after every tick; starts ticking if it is not yet. */
  subscribe(listener: () => void): () => void {
    this.start();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Full seconds of history. */
  get seconds(): number {
    return Math.max(0, this.snapshots.length - 1);
  }

  /** The app's commands over the last `seconds` full seconds (fewer if there are not as many). */
  window(seconds: number): LiveWindow | undefined {
    const last = this.snapshots.at(-1);
    const first = this.snapshots.at(-1 - Math.min(seconds, this.seconds));
    if (last === undefined || first === undefined || first === last) return undefined;
    return LiveLatency.between(first, last);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.snapshots.push(this.latency.snapshot());
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  private tick(): void {
    this.snapshots.push(this.latency.snapshot());
    if (this.snapshots.length > KEPT) this.snapshots.shift();
    for (const listener of [...this.listeners]) listener();
  }
}

export type BackOffReason = 'latency' | 'errors';

export interface RateDecision {
  readonly rate: number;
  /** Set when the rate was halved. */
  readonly backedOff?: BackOffReason;
  readonly p99Ms?: number;
}

/**
 * AIMD on the warmer's rate, the way TCP shares a link. Once a second: halve
 * it when the app's live p99 over the last three seconds rose over 1.5x the
 * p99 of the seconds before the run (and by at least MIN_LATENCY_RISE_MS),
 * or live errors rose, or the warmer's own attempts failed; otherwise give
 * back a tenth of the configured rate. After a halving, the next one waits
 * for a window that began after it: one stall is not punished three times.
 * When the app was idle before the run, its first busy window is the baseline.
 */
export class RateControl {
  private rate: number;
  private baseline: LiveWindow | undefined;
  /** Seconds until the window holds only seconds after the last halving. */
  private holdOff = 0;

  constructor(
    private readonly configured: number,
    baseline: LiveWindow | undefined,
  ) {
    this.rate = configured;
    this.baseline = qualifies(baseline) ? baseline : undefined;
  }

  get current(): number {
    return this.rate;
  }

  get baselineP99Ms(): number | undefined {
    return this.baseline?.p99Ms;
  }

  /** One second's evidence: the app's commands over the window, and the warmer's own failed attempts. */
  onSecond(window: LiveWindow | undefined, ownErrors: number): RateDecision {
    const baseline = this.baseline;
    if (baseline === undefined && qualifies(window)) this.baseline = window;
    let reason: BackOffReason | undefined;
    if (ownErrors > 0) reason = 'errors';
    if (baseline !== undefined && window !== undefined && qualifies(window)) {
      const base = baseline.p99Ms as number;
      const p99 = window.p99Ms as number;
      if (p99 > Math.max(base * LATENCY_FACTOR, base + MIN_LATENCY_RISE_MS)) reason = 'latency';
      const baseRatio = baseline.errors / baseline.commands;
      if (
        window.errors >= MIN_LIVE_ERRORS &&
        window.errors / window.commands > baseRatio + ERROR_RATIO_RISE
      ) {
        reason ??= 'errors';
      }
    }
    if (this.holdOff > 0) this.holdOff -= 1;
    if (reason !== undefined && this.holdOff === 0) {
      const floor = Math.max(this.configured * MIN_RATE_FRACTION, Math.min(this.configured, 1));
      this.rate = Math.max(floor, this.rate / 2);
      this.holdOff = WINDOW_SECONDS;
      return {
        rate: this.rate,
        backedOff: reason,
        ...(window?.p99Ms === undefined ? {} : { p99Ms: window.p99Ms }),
      };
    }
    if (reason === undefined) {
      this.rate = Math.min(this.configured, this.rate + this.configured * INCREASE_FRACTION);
    }
    return { rate: this.rate };
  }
}

function qualifies(window: LiveWindow | undefined): boolean {
  return window !== undefined && window.commands >= MIN_LIVE_COMMANDS && window.p99Ms !== undefined;
}
