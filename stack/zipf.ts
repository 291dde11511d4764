/**
 * Zipf-distributed key streams, seeded: the hot-key tests, the benchmark and
 * the demo's load all draw from the same generator, so a figure in
 * BENCHMARKS.md can be reproduced by a test.
 */

/** xorshift32: small, fast and reproducible (Math.random cannot be seeded). */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export interface ZipfOptions {
  /** Distinct keys; rank r (1-based) is drawn with probability ∝ r^-s. */
  readonly keys: number;
  readonly s: number;
  readonly seed: number;
  /** Key name for a rank; ranks are shuffled over names so rank order is not name order. @default `item:<n>` */
  readonly name?: (n: number) => string;
}

/** Draws ranks (0-based) from a Zipf distribution by binary search over its CDF. */
export class ZipfKeys {
  readonly names: readonly string[];
  private readonly cdf: Float64Array;
  private readonly total: number;
  private readonly random: () => number;

  constructor(options: ZipfOptions) {
    this.cdf = new Float64Array(options.keys);
    let sum = 0;
    for (let r = 0; r < options.keys; r++) {
      sum += 1 / (r + 1) ** options.s;
      this.cdf[r] = sum;
    }
    this.total = sum;
    this.random = seededRandom(options.seed);
    const name = options.name ?? ((n: number) => `item:${n}`);
    // A fixed permutation (multiplying by a prime coprime with the key count, when it is).
    const step = options.keys % 7919 === 0 ? 1 : 7919;
    this.names = Array.from({ length: options.keys }, (_, r) => name((r * step) % options.keys));
  }

  /** The 0-based rank of the next draw. */
  nextRank(): number {
    const u = this.random() * this.total;
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  next(): string {
    return this.names[this.nextRank()] as string;
  }

  /** `count` draws. */
  stream(count: number): string[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** Exact counts of a stream, hottest first. */
export function exactCounts(stream: readonly string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const key of stream) counts.set(key, (counts.get(key) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** Precision and recall of `found` against the true top `n` of `truth` (hottest first). */
export function precisionRecall(
  found: readonly string[],
  truth: readonly (readonly [string, number])[],
  n: number,
): { precision: number; recall: number } {
  const want = new Set(truth.slice(0, n).map(([key]) => key));
  const got = found.slice(0, n);
  const hits = got.filter((key) => want.has(key)).length;
  return {
    precision: got.length === 0 ? 0 : hits / got.length,
    recall: want.size === 0 ? 1 : hits / want.size,
  };
}
