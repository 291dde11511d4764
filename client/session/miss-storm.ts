/** Validations the hit ratio is measured over. */
const WINDOW = 200;
/** The cache counts as warm once the ratio reached this... */
const WARM_RATIO = 0.8;
/** ... and a storm is a fall under this after it was warm. */
const STORM_RATIO = 0.5;

/**
 * Spots a miss storm in the session cache: the hit ratio over the last 200
 * validations falls under 50% after having been over 80% (the cache was
 * flushed, or a failover promoted a replica that was far behind), or a
 * flush is seen directly (the revocation counter the cache seeded vanished).
 * One storm per fall: the ratio must climb back over 80% before the next.
 */
export class MissStormDetector {
  private readonly outcomes = new Uint8Array(WINDOW);
  private next = 0;
  private filled = 0;
  private hits = 0;
  private warm = false;

  /** Records one validation; true when it completes a storm. */
  observe(hit: boolean): boolean {
    if (this.filled === WINDOW) this.hits -= this.outcomes[this.next] as number;
    else this.filled += 1;
    this.outcomes[this.next] = hit ? 1 : 0;
    this.hits += hit ? 1 : 0;
    this.next = (this.next + 1) % WINDOW;
    if (this.filled < WINDOW) return false;
    const ratio = this.hits / WINDOW;
    if (ratio >= WARM_RATIO) this.warm = true;
    else if (ratio < STORM_RATIO && this.warm) {
      this.warm = false;
      return true;
    }
    return false;
  }

  /**
   * A flush was seen: the validations before it say nothing of the cache
   * now, and the fall of the ratio that follows is this storm, not a new one.
   */
  flushed(): void {
    this.outcomes.fill(0);
    this.next = 0;
    this.filled = 0;
    this.hits = 0;
    this.warm = false;
  }

  /** The hit ratio over the window, once it is full. */
  get ratio(): number | undefined {
    return this.filled < WINDOW ? undefined : this.hits / WINDOW;
  }
}
