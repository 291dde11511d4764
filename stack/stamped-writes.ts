import type { Redis } from 'ioredis';
import type { RedisClients } from '../client/index.js';
import { DurableWriteError } from '../client/index.js';

/** Sets KEYS[1] to the server's clock at execution (seconds.micros): when the write ran, not when it was sent. */
const STAMP = `local t = redis.call('TIME')
redis.call('SET', KEYS[1], t[1] .. '.' .. string.format('%06d', tonumber(t[2])))
return 1`;

/** One write of the load and what its caller was told. */
export interface StampedWrite {
  readonly key: string;
  readonly durable: boolean;
  readonly ok: boolean;
  /** Date.now() / 1000 when the caller was told the result. */
  readonly toldAt: number;
  readonly error?: string;
}

export interface StampedLoad {
  /** Seconds.millis of every confirmed durable write, in order. */
  readonly confirmedAt: number[];
  stop(): Promise<StampedWrite[]>;
}

/**
 * Durable and plain writes of new keys, each stamped by the server with the
 * time it ran, from `workers` concurrent callers: what the partition tests
 * check for lost acknowledged writes and for writes run after their caller
 * was told they failed.
 */
export function startStampedLoad(
  clients: RedisClients,
  prefix: string,
  options: { readonly workers?: number; readonly replicas?: number | 'all' } = {},
): StampedLoad {
  const workers = options.workers ?? 4;
  const replicas = options.replicas ?? 1;
  const writes: StampedWrite[] = [];
  const confirmedAt: number[] = [];
  let running = true;
  let sequence = 0;
  const worker = async (id: number) => {
    while (running) {
      const durable = sequence % 2 === 0;
      const key = `${prefix}:${durable ? 'd' : 'p'}:${id}:${sequence++}`;
      try {
        if (durable) {
          await clients.writeDurably((tx) => tx.eval(STAMP, 1, key), { timeoutMs: 500, replicas });
          confirmedAt.push(Date.now() / 1000);
        } else {
          await clients.writer.eval(STAMP, 1, key);
        }
        writes.push({ key, durable, ok: true, toldAt: Date.now() / 1000 });
      } catch (error) {
        const told = Date.now() / 1000;
        writes.push({
          key,
          durable,
          ok: false,
          toldAt: told,
          error:
            error instanceof DurableWriteError
              ? `durable:${error.reason}`
              : String(error).slice(0, 60),
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return {
    confirmedAt,
    async stop() {
      running = false;
      await done;
      return writes;
    },
  };
}

/** What the final master holds of the load's writes. */
export interface StampedVerdict {
  /** Confirmed durable writes the master does not have. */
  readonly lostDurable: string[];
  /** Confirmed plain writes the master does not have (expected under partitions: they are not durable). */
  readonly lostPlain: number;
  /** When the last of those was confirmed (seconds), if any: how long a cut-off master kept taking writes. */
  readonly lastLostPlainAt: number | undefined;
  /** Writes whose caller was told they failed, run by a server after that (key, seconds late). */
  readonly ranAfterFailure: { key: string; lateBy: number }[];
  readonly confirmedDurable: number;
}

export async function verifyStampedWrites(
  master: Redis,
  writes: readonly StampedWrite[],
): Promise<StampedVerdict> {
  const lostDurable: string[] = [];
  const ranAfterFailure: { key: string; lateBy: number }[] = [];
  let lostPlain = 0;
  let lastLostPlainAt: number | undefined;
  let confirmedDurable = 0;
  for (let i = 0; i < writes.length; i += 500) {
    const batch = writes.slice(i, i + 500);
    const values = await master.mget(...batch.map((w) => w.key));
    batch.forEach((write, j) => {
      const value = values[j];
      if (write.ok) {
        if (write.durable) confirmedDurable += 1;
        if (value === null || value === undefined) {
          if (write.durable) lostDurable.push(write.key);
          else {
            lostPlain += 1;
            lastLostPlainAt = Math.max(lastLostPlainAt ?? 0, write.toldAt);
          }
        }
      } else if (value !== null && value !== undefined) {
        // Ran before the caller was told (a timeout after the server had it) is fine; after is not.
        const lateBy = Number(value) - write.toldAt;
        if (lateBy > 0.002) ranAfterFailure.push({ key: write.key, lateBy });
      }
    });
  }
  return { lostDurable, lostPlain, lastLostPlainAt, ranAfterFailure, confirmedDurable };
}

/** The longest time without a confirmed durable write from `fromSeconds` on (seconds). */
export function longestGap(
  confirmedAt: readonly number[],
  fromSeconds: number,
  toSeconds: number,
): number {
  let last = fromSeconds;
  let longest = 0;
  for (const at of confirmedAt) {
    if (at < fromSeconds) continue;
    longest = Math.max(longest, at - last);
    last = at;
  }
  return Math.max(longest, toSeconds - last);
}
