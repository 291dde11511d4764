import { BucketCounts } from '../common/bucket-counts.js';

/**
 * Per-command counts, errors and duration buckets kept as plain numbers on the
 * hot path and turned into Prometheus families only when the registry is
 * scraped (the counting is common/bucket-counts.ts). Written by hand because prom-client's `observe()` + `inc()` cost
 * about 0.7 µs per command (label hashing on every call), a quarter of the
 * client's whole overhead budget; this costs about 10 ns. See BENCHMARKS.md.
 */

/** Upper bounds in seconds: 100 µs (a local GET) up to 10 s (a stuck command). */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Distinct command labels before further names are counted as `other`. */
const MAX_COMMANDS = 256;
/** Distinct error types per command before further ones are counted as `other`. */
const MAX_ERROR_TYPES = 32;

export class CommandEntry {
  /** Durations in seconds. */
  readonly durations = new BucketCounts(DURATION_BUCKETS);
  readonly errors = new Map<string, number>();
  /** The span name and `db.operation.name` (upper case, as Redis documents commands). */
  readonly operation: string;

  constructor(readonly label: string) {
    this.operation = label.toUpperCase();
  }

  observe(seconds: number): void {
    this.durations.observe(seconds);
  }

  /** Commands completed, with or without error. */
  get count(): number {
    return this.durations.count;
  }

  error(type: string): void {
    const key = this.errors.has(type) || this.errors.size < MAX_ERROR_TYPES ? type : 'other';
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }
}

export class CommandStats {
  private readonly entries = new Map<string, CommandEntry>();

  /** The entry for a command as ioredis names it (`get`, `GET` and `Get` share one). */
  entry(name: string): CommandEntry {
    let entry = this.entries.get(name);
    if (entry === undefined) {
      const label = name.toLowerCase();
      entry = this.entries.get(label);
      if (entry === undefined) {
        const capped = this.entries.size < MAX_COMMANDS ? label : 'other';
        entry = this.entries.get(capped) ?? new CommandEntry(capped);
        this.entries.set(capped, entry);
      }
      this.entries.set(name, entry);
    }
    return entry;
  }

  /** Every distinct entry once (aliases such as `GET` for `get` are skipped). */
  *all(): IterableIterator<CommandEntry> {
    for (const [name, entry] of this.entries) if (name === entry.label) yield entry;
  }
}
