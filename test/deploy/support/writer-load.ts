/**
 * A steady writer for downtime measurements: one SET every few milliseconds
 * through whatever clients `current()` returns (so the app can be repointed
 * under it), remembering which writes Redis acknowledged and when.
 */
import type { RedisClients } from '../../../client/index.js';
import { delay } from './loopback.js';

export interface WriterLoad {
  /** Write numbers Redis acknowledged, in order. */
  readonly acknowledged: readonly number[];
  /** performance.now() of each acknowledged write. */
  readonly ackTimes: readonly number[];
  readonly failures: number;
  /** The longest time between two acknowledged writes within [from, to] (ms). */
  longestGap(from: number, to: number): number;
  /** The first acknowledged write at or after `time` (performance.now()), if any. */
  firstAckAfter(time: number): number | undefined;
  /** The last acknowledged write at or before `time`. */
  lastAckBefore(time: number): number | undefined;
  stop(): Promise<void>;
}

export function startWriter(current: () => RedisClients, prefix: string, pauseMs = 5): WriterLoad {
  const acknowledged: number[] = [];
  const ackTimes: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    let n = 0;
    while (running) {
      n += 1;
      try {
        await current().writer.set(`${prefix}${n}`, String(n));
        acknowledged.push(n);
        ackTimes.push(performance.now());
      } catch {
        failures += 1;
      }
      await delay(pauseMs);
    }
  })();
  return {
    acknowledged,
    ackTimes,
    get failures() {
      return failures;
    },
    longestGap(from, to) {
      const inside = ackTimes.filter((t) => t >= from && t <= to);
      const before = ackTimes.filter((t) => t < from).at(-1);
      const points = before === undefined ? inside : [before, ...inside];
      let longest = 0;
      for (let i = 1; i < points.length; i++) {
        longest = Math.max(longest, (points[i] as number) - (points[i - 1] as number));
      }
      return longest;
    },
    firstAckAfter: (time) => ackTimes.find((t) => t >= time),
    lastAckBefore: (time) => ackTimes.filter((t) => t <= time).at(-1),
    async stop() {
      running = false;
      await loop;
    },
  };
}
