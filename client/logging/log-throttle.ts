/**
 * Caps how often one kind of line is written: at most `perWindow` lines per
 * key in each `windowMs`. A line let through after others were held back
 * says how many (`suppressed`), so the count is never lost, only the noise:
 * during a failover every in-flight command turns slow and every reconnect
 * attempt fails the same way.
 */
export class LogThrottle {
  private readonly keys = new Map<string, { windowStart: number; written: number; held: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly perWindow: number,
  ) {}

  /** undefined: hold this line back. A number: write it, with that many held back before it. */
  take(key: string, now = performance.now()): number | undefined {
    let state = this.keys.get(key);
    if (state === undefined) {
      // Bounded: keys are event kinds and error codes, but a flood of distinct ones must not grow this.
      if (this.keys.size >= 256) this.keys.clear();
      state = { windowStart: now, written: 0, held: 0 };
      this.keys.set(key, state);
    }
    if (now - state.windowStart >= this.windowMs) {
      state.windowStart = now;
      state.written = 0;
    }
    if (state.written >= this.perWindow) {
      state.held += 1;
      return undefined;
    }
    state.written += 1;
    const held = state.held;
    state.held = 0;
    return held;
  }
}
