/**
 * What the exporter remembers per target (or per target and credentials):
 * a Map that holds at most `max` entries and, when full, forgets the one used
 * longest ago. `use()` counts as a use; `peek()` does not. Shared by the
 * collectors and self-metrics that keep state between scrapes, so no per-target
 * memory grows with the number of targets Prometheus names.
 */
export class RecentMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly max: number) {}

  /** The entry of `key`, created by `create` when absent, marked as the most recently used. */
  use(key: K, create: () => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = create();
      this.evictFor(1);
    } else {
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    return value;
  }

  /** Sets `key`, marked as the most recently used. */
  set(key: K, value: V): void {
    if (this.entries.has(key)) this.entries.delete(key);
    else this.evictFor(1);
    this.entries.set(key, value);
  }

  /** The entry of `key`, without marking it used. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries from the one used longest ago to the most recent. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries[Symbol.iterator]();
  }

  private evictFor(count: number): void {
    while (this.entries.size + count > this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) return;
      this.entries.delete(oldest.value);
    }
  }
}
