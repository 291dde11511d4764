/**
 * The warmer's rate limit: keys per second, taken a batch at a time. A
 * batch larger than what is in the bucket goes into debt and waits it off,
 * so the long-run rate holds whatever the batch size, and the burst is one
 * batch. The rate can change at any time (AIMD back-off): debt is then
 * repaid at the new rate, so a halving slows the very next batch.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private rate: number,
    private readonly capacity: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = clock();
  }

  get ratePerSecond(): number {
    return this.rate;
  }

  setRate(rate: number): void {
    this.refill();
    this.rate = rate;
  }

  /** Takes `n` tokens; resolves how long to wait (ms) before using them. */
  take(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}
