/**
 * Items by the time they are next ready, earliest first (a binary min-heap):
 * the load generator takes the visitor who has waited longest, in O(log n)
 * whatever the number of visitors thinking.
 */
export class ReadyQueue<T extends { readyAt: number }> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as T).readyAt <= item.readyAt) break;
      items[i] = items[parent] as T;
      i = parent;
    }
    items[i] = item;
  }

  /** The earliest item if it is ready at `now`, removed; else undefined. */
  takeReady(now: number): T | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined || top.readyAt > now) return undefined;
    const last = items.pop() as T;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child =
          right < items.length && (items[right] as T).readyAt < (items[left] as T).readyAt
            ? right
            : left;
        if ((items[child] as T).readyAt >= last.readyAt) break;
        items[i] = items[child] as T;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
