/**
 * A HeavyKeeper top-k sketch (Gong et al., "HeavyKeeper: An Accurate
 * Algorithm for Finding Top-k Elephant Flows", USENIX ATC 2018) over a
 * sliding window, in a fixed memory budget.
 *
 * Written here rather than taken from npm: `bloom-filters`' TopK (the one
 * maintained package with a top-k) keeps exact counts in a count-min sketch
 * that never forgets, hashes with allocating string digests, and cannot say
 * how much memory it holds; the HeavyKeeper packages are Rust, Go and Python.
 *
 * Two tiers. Keys that are not tracked go through the sketch: `depth` rows of
 * `width` buckets, each a fingerprint and a count; a bucket held by another
 * key decays with probability 1.08^-count, so the many cold keys wear each
 * other down while a hot key keeps its bucket. When a key's estimate beats
 * what the coldest tracked key had in its last two slots, it takes that
 * key's place. Tracked keys (at most
 * `trackedKeys`) skip the sketch: a Map lookup finds their slot and a ring of
 * per-slot counts counts them exactly from then on, so a key that cools down
 * loses its count slot by slot and drops out after one window.
 *
 * Nothing is allocated for a key that is already tracked; the sketch's arrays
 * are typed and sized once.
 */

/** HeavyKeeper's decay base: the paper's recommended value. */
const DECAY_BASE = 1.08;
/** Counts above this never decay in practice (1.08^-256 ≈ 3e-9); the table stops there. */
const DECAY_TABLE_SIZE = 256;
const SKETCH_DEPTH = 2;
/** Estimated V8 overhead of one tracked key beyond its characters: string header, Map entry. */
const KEY_OVERHEAD_BYTES = 72;
/** Keys longer than this are counted in the sketch but never tracked by name (see docs/hotkeys.md). */
export const MAX_TRACKED_KEY_LENGTH = 256;
/** The key budget reserves this many characters per tracked key on average. */
const BUDGETED_KEY_CHARS = 64;
/** A rate is never measured over less than this: one access in a microsecond is not 60 million a minute. */
const MIN_SPAN_MS = 1000;
/** Fewer buckets than this and the sketch cannot tell hot keys from collisions. */
const MIN_WIDTH = 64;

export interface TopKSettings {
  /** Keys counted exactly (k). */
  readonly trackedKeys: number;
  /** Accesses older than this no longer count. */
  readonly windowMs: number;
  /** Upper bound of what the sketch holds, key names included. */
  readonly memoryBytes: number;
  /** How many steps the window slides in. @default 12 */
  readonly slots?: number;
}

export interface TopKEntry {
  readonly key: string;
  /** Accesses per minute over the window (or since the key was first tracked, when younger). */
  readonly ratePerMinute: number;
  /** Of which were not served locally (reached Redis). */
  readonly redisRatePerMinute: number;
  /** Accesses counted in the window. */
  readonly count: number;
}

const decayTable = Float64Array.from({ length: DECAY_TABLE_SIZE }, (_, c) => DECAY_BASE ** -c);

/** 32-bit FNV-1a over UTF-16 code units: no allocation, a few ns for a typical key. */
function fnv1a(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** murmur3's finalizer: derives independent-enough values from one hash. */
function mix(value: number): number {
  let h = value ^ (value >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The number of sketch buckets per row and the bytes the structure needs, for a budget. */
export function sketchLayout(settings: TopKSettings): {
  width: number;
  bytes: number;
  /** The smallest memoryBytes that works for these settings. */
  minimumBytes: number;
} {
  const slots = settings.slots ?? 12;
  const k = settings.trackedKeys;
  // Per tracked slot: two rings of Uint32, four Float64 fields, heap and position (Int32),
  // a free-list entry (Int32) and the pointer to its key.
  const perEntry = slots * 8 + 4 * 8 + 3 * 4 + 8;
  const fixed = k * perEntry + k * (KEY_OVERHEAD_BYTES + 2 * BUDGETED_KEY_CHARS);
  const width = Math.floor((settings.memoryBytes - fixed) / (SKETCH_DEPTH * 8));
  return {
    width,
    bytes: fixed + width * SKETCH_DEPTH * 8,
    minimumBytes: fixed + MIN_WIDTH * SKETCH_DEPTH * 8,
  };
}

export class TopKSketch {
  readonly windowMs: number;
  private readonly k: number;
  private readonly slots: number;
  private readonly slotMs: number;
  private readonly width: number;
  private readonly fingerprints: Uint32Array;
  private readonly counts: Uint32Array;
  // Tracked keys, by id 0..k-1; ids of evicted keys go back to `free`.
  private readonly keys: (string | undefined)[];
  private readonly free: Int32Array;
  private freeCount: number;
  private readonly index = new Map<string, number>();
  private readonly ring: Uint32Array;
  private readonly servedRing: Uint32Array;
  private readonly windowCount: Float64Array;
  private readonly servedCount: Float64Array;
  /** The count a key brought with it from the sketch when it was admitted. */
  private readonly admittedCount: Float64Array;
  private readonly admittedAt: Float64Array;
  /** A min-heap of slot ids by windowCount: heap[0] is the coldest tracked key. */
  private readonly heap: Int32Array;
  private readonly heapPosition: Int32Array;
  private size = 0;
  private current = 0;
  private slotStartedAt: number;
  private keyChars = 0;
  private readonly keyCharBudget: number;
  private readonly budgetBytes: number;
  /** Accesses to keys too long to track by name. */
  untrackable = 0;

  constructor(
    settings: TopKSettings,
    now: number,
    private readonly random: () => number = Math.random,
  ) {
    this.k = settings.trackedKeys;
    this.windowMs = settings.windowMs;
    this.slots = settings.slots ?? 12;
    this.slotMs = this.windowMs / this.slots;
    const layout = sketchLayout(settings);
    if (layout.width < MIN_WIDTH) {
      throw new RangeError(
        `memoryBytes ${settings.memoryBytes} is too small for ${this.k} tracked keys; allow at least ${layout.minimumBytes}`,
      );
    }
    this.width = layout.width;
    this.budgetBytes = layout.bytes;
    this.fingerprints = new Uint32Array(SKETCH_DEPTH * this.width);
    this.counts = new Uint32Array(SKETCH_DEPTH * this.width);
    this.keys = new Array<string | undefined>(this.k).fill(undefined);
    this.free = Int32Array.from({ length: this.k }, (_, i) => this.k - 1 - i);
    this.freeCount = this.k;
    this.ring = new Uint32Array(this.k * this.slots);
    this.servedRing = new Uint32Array(this.k * this.slots);
    this.windowCount = new Float64Array(this.k);
    this.servedCount = new Float64Array(this.k);
    this.admittedCount = new Float64Array(this.k);
    this.admittedAt = new Float64Array(this.k);
    this.heap = new Int32Array(this.k);
    this.heapPosition = new Int32Array(this.k).fill(-1);
    this.keyCharBudget = this.k * BUDGETED_KEY_CHARS;
    this.slotStartedAt = now;
  }

  /**
   * Counts one access. `now` is read only when the key is admitted (rarely),
   * so the caller may pass a function that reads the clock.
   */
  add(key: string, now: () => number): void {
    const id = this.index.get(key);
    if (id !== undefined) {
      const at = id * this.slots + this.current;
      this.ring[at] = (this.ring[at] as number) + 1;
      this.windowCount[id] = (this.windowCount[id] as number) + 1;
      this.siftDown(this.heapPosition[id] as number);
      return;
    }
    const estimate = this.sketchAdd(key);
    if (key.length > MAX_TRACKED_KEY_LENGTH) {
      this.untrackable += 1;
      return;
    }
    // Room is made by evicting the coldest tracked keys, but only for a key that beats them.
    // "Beats" compares with the coldest key's last two slots, not its whole window: the
    // sketch forgets half of its counts every slot, so an estimate stands for recent traffic,
    // and a key that just turned hot must not wait for a full window to get in.
    while (this.size >= this.k || this.keyChars + key.length > this.keyCharBudget) {
      if (this.size === 0) return;
      const coldest = this.heap[0] as number;
      if (estimate <= this.recentCount(coldest)) return;
      this.evictColdest();
    }
    this.freeCount -= 1;
    this.admit(this.free[this.freeCount] as number, key, estimate, now());
  }

  /** Accesses of a tracked key in the current and the previous slot. */
  private recentCount(id: number): number {
    const base = id * this.slots;
    const previous = (this.current + this.slots - 1) % this.slots;
    return (this.ring[base + this.current] as number) + (this.ring[base + previous] as number);
  }

  private evictColdest(): void {
    const id = this.heap[0] as number;
    const key = this.keys[id] as string;
    this.index.delete(key);
    this.keyChars -= key.length;
    this.keys[id] = undefined;
    this.size -= 1;
    this.heapPosition[id] = -1;
    if (this.size > 0) {
      const last = this.heap[this.size] as number;
      this.heap[0] = last;
      this.heapPosition[last] = 0;
      this.siftDown(0);
    }
    this.free[this.freeCount] = id;
    this.freeCount += 1;
  }

  /** An access to a tracked key that was served without Redis (the near-cache). */
  servedLocally(key: string): void {
    const id = this.index.get(key);
    if (id === undefined) return;
    const at = id * this.slots + this.current;
    this.servedRing[at] = (this.servedRing[at] as number) + 1;
    this.servedCount[id] = (this.servedCount[id] as number) + 1;
  }

  /** Accesses per minute of `key` at `now`; 0 when it is not tracked. */
  rateOf(key: string, now: number): number {
    const id = this.index.get(key);
    return id === undefined ? 0 : this.rate(id, now);
  }

  /**
   * Slides the window to `now`: every slot that ended drops its counts, and
   * the sketch's buckets are halved, so a key that went cold loses its hold
   * there too. Call it at least once per slot.
   */
  advance(now: number): void {
    let rotations = 0;
    while (now - this.slotStartedAt >= this.slotMs && rotations < this.slots + 1) {
      this.slotStartedAt += this.slotMs;
      rotations += 1;
      this.current = (this.current + 1) % this.slots;
      for (let h = 0; h < this.size; h++) {
        const id = this.heap[h] as number;
        const at = id * this.slots + this.current;
        this.windowCount[id] = (this.windowCount[id] as number) - (this.ring[at] as number);
        this.servedCount[id] = (this.servedCount[id] as number) - (this.servedRing[at] as number);
        this.ring[at] = 0;
        this.servedRing[at] = 0;
      }
      // Halving: an estimate is mostly the last two slots' traffic, comparable with recentCount().
      for (let i = 0; i < this.counts.length; i++) {
        this.counts[i] = (this.counts[i] as number) >>> 1;
      }
    }
    // A long pause (a suspended process): the window is simply empty now.
    if (now - this.slotStartedAt >= this.slotMs) this.slotStartedAt = now;
    if (rotations > 0) this.heapify();
  }

  /** Tracked keys with a count in the window, hottest first, at most `limit`. */
  top(limit: number, now: number): TopKEntry[] {
    const entries: TopKEntry[] = [];
    for (let h = 0; h < this.size; h++) {
      const id = this.heap[h] as number;
      const count = this.windowCount[id] as number;
      if (count <= 0) continue;
      const rate = this.rate(id, now);
      const served = Math.min(count, this.servedCount[id] as number);
      entries.push({
        key: this.keys[id] as string,
        ratePerMinute: rate,
        redisRatePerMinute: rate * (1 - served / count),
        count,
      });
    }
    entries.sort((a, b) => b.count - a.count || b.ratePerMinute - a.ratePerMinute);
    return entries.slice(0, limit);
  }

  /** The bytes this sketch holds by its own accounting (typed arrays, key names, Map entries). */
  memoryBytes(): number {
    const keyBytes = this.size * KEY_OVERHEAD_BYTES + 2 * this.keyChars;
    const arrays =
      this.fingerprints.byteLength +
      this.counts.byteLength +
      this.ring.byteLength +
      this.servedRing.byteLength +
      this.windowCount.byteLength +
      this.servedCount.byteLength +
      this.admittedCount.byteLength +
      this.admittedAt.byteLength +
      this.heap.byteLength +
      this.heapPosition.byteLength +
      this.free.byteLength +
      8 * this.k;
    return arrays + keyBytes;
  }

  /** What memoryBytes() can reach at most: the budget the layout was sized for. */
  get capacityBytes(): number {
    return this.budgetBytes;
  }

  /**
   * Accesses per minute. A key tracked for less than the window is measured
   * over the time since it was tracked, and without the count it brought
   * from the sketch (which piled up over an unknown time): a key that jumps
   * to 5,000 a minute shows it within a second, and a lukewarm key that
   * slowly climbed into the tracked set does not look hot for arriving.
   */
  private rate(id: number, now: number): number {
    const covered = (this.slots - 1) * this.slotMs + Math.max(0, now - this.slotStartedAt);
    const age = now - (this.admittedAt[id] as number);
    const count = this.windowCount[id] as number;
    if (age >= covered) return (count / covered) * 60_000;
    const observed = Math.max(0, count - (this.admittedCount[id] as number));
    return (observed / Math.max(MIN_SPAN_MS, age)) * 60_000;
  }

  private admit(id: number, key: string, estimate: number, now: number): void {
    this.keys[id] = key;
    this.index.set(key, id);
    this.keyChars += key.length;
    const base = id * this.slots;
    this.ring.fill(0, base, base + this.slots);
    this.servedRing.fill(0, base, base + this.slots);
    this.ring[base + this.current] = estimate;
    this.windowCount[id] = estimate;
    this.servedCount[id] = 0;
    this.admittedCount[id] = estimate - 1;
    this.admittedAt[id] = now;
    this.heap[this.size] = id;
    this.heapPosition[id] = this.size;
    this.size += 1;
    this.siftUp(this.size - 1);
  }

  /** HeavyKeeper's update; returns the key's estimate after it. */
  private sketchAdd(key: string): number {
    const h1 = fnv1a(key);
    const h2 = mix(h1) | 1;
    // 0 marks an empty bucket, so a fingerprint is never 0.
    const fingerprint = mix(h1 ^ 0x9e3779b9) || 1;
    let estimate = 0;
    for (let row = 0; row < SKETCH_DEPTH; row++) {
      const at = row * this.width + (((h1 + Math.imul(row, h2)) >>> 0) % this.width);
      const count = this.counts[at] as number;
      if (this.fingerprints[at] === fingerprint) {
        this.counts[at] = count + 1;
        if (count + 1 > estimate) estimate = count + 1;
      } else if (count === 0) {
        this.fingerprints[at] = fingerprint;
        this.counts[at] = 1;
        if (estimate < 1) estimate = 1;
      } else if (count < DECAY_TABLE_SIZE && this.random() < (decayTable[count] as number)) {
        if (count === 1) {
          this.fingerprints[at] = fingerprint;
          if (estimate < 1) estimate = 1;
        } else {
          this.counts[at] = count - 1;
        }
      }
    }
    return estimate;
  }

  private heapify(): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private less(a: number, b: number): boolean {
    return (this.windowCount[a] as number) < (this.windowCount[b] as number);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i] as number;
    const b = this.heap[j] as number;
    this.heap[i] = b;
    this.heap[j] = a;
    this.heapPosition[b] = i;
    this.heapPosition[a] = j;
  }

  private siftDown(position: number): void {
    let i = position;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) return;
      const right = left + 1;
      let smallest = left;
      if (right < this.size && this.less(this.heap[right] as number, this.heap[left] as number)) {
        smallest = right;
      }
      if (!this.less(this.heap[smallest] as number, this.heap[i] as number)) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private siftUp(position: number): void {
    let i = position;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.heap[i] as number, this.heap[parent] as number)) return;
      this.swap(i, parent);
      i = parent;
    }
  }
}
