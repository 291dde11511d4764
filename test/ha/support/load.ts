import type { Redis } from 'ioredis';
import type { RedisClients } from '../../../client/index.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import type { RedisTopology } from '../../../stack/topology.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds, failing with `what` after `timeoutMs` (the one poll loop, in stack/). */
export function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  return waitUntil(what, check, timeoutMs);
}

/** What a steady writer and reader saw. */
export interface LoadReport {
  /** Keys whose durable write resolved (acknowledged by at least one replica). */
  readonly acknowledged: readonly string[];
  /** Times (ms since epoch) at which durable writes resolved, in order. */
  readonly ackTimes: readonly number[];
  readonly writeErrors: number;
  /** Write errors by message (first 90 characters), to explain the unavailability. */
  readonly writeErrorKinds: Readonly<Record<string, number>>;
  readonly reads: number;
  readonly readErrors: readonly string[];
}

export interface Load {
  /** Write unavailability around a fault at `atMs`: the longest gap between acks from then on (ms). */
  unavailabilityAround(atMs: number): number;
  snapshot(): LoadReport;
  stop(): Promise<LoadReport>;
}

/**
 * A steady writer (durable writes of new keys, one at a time, every `pauseMs`)
 * and a steady reader (GETs of a known key through the reader) on `clients`.
 */
export function startLoad(clients: RedisClients, prefix: string, pauseMs = 5): Load {
  const acknowledged: string[] = [];
  const ackTimes: number[] = [];
  const readErrors: string[] = [];
  let writeErrors = 0;
  const writeErrorKinds = new Map<string, number>();
  let reads = 0;
  let running = true;
  let sequence = 0;
  const readKey = `${prefix}:read-me`;

  const writer = (async () => {
    while (running) {
      const key = `${prefix}:w:${sequence++}`;
      try {
        await clients.writeDurably((tx) => tx.set(key, String(sequence)), { timeoutMs: 500 });
        acknowledged.push(key);
        ackTimes.push(Date.now());
      } catch (error) {
        writeErrors++;
        const kind = String(error).slice(0, 90);
        writeErrorKinds.set(kind, (writeErrorKinds.get(kind) ?? 0) + 1);
      }
      await delay(pauseMs);
    }
  })();
  const reader = (async () => {
    while (running) {
      try {
        await clients.reader.get(readKey);
        reads++;
      } catch (error) {
        readErrors.push(String(error));
      }
      await delay(pauseMs);
    }
  })();

  const snapshot = (): LoadReport => ({
    acknowledged: [...acknowledged],
    ackTimes: [...ackTimes],
    writeErrors,
    writeErrorKinds: Object.fromEntries(writeErrorKinds),
    reads,
    readErrors: [...readErrors],
  });
  return {
    unavailabilityAround(atMs) {
      // The longest silence between two acks from 1 s before the fault on: a write
      // already in flight may still be acknowledged a few ms after the kill.
      let longest = Number.NaN;
      let previous: number | undefined;
      for (const t of ackTimes) {
        if (t >= atMs - 1000) {
          if (previous !== undefined)
            longest = Math.max(Number.isNaN(longest) ? 0 : longest, t - previous);
        }
        previous = t;
      }
      return longest;
    },
    snapshot,
    async stop() {
      running = false;
      await Promise.all([writer, reader]);
      return snapshot();
    },
  };
}

/** A client for the node the Sentinels name as master now. The caller disconnects it. */
export async function currentMaster(topology: RedisTopology): Promise<Redis> {
  return topology.connect(await topology.currentMasterPort());
}

/** Keys of `keys` that the current master does not have. */
export async function missingOnMaster(
  topology: RedisTopology,
  keys: readonly string[],
): Promise<string[]> {
  const master = await currentMaster(topology);
  try {
    const missing: string[] = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      if (chunk.length === 0) continue;
      const values = await master.mget(...chunk);
      values.forEach((value, j) => {
        if (value === null) missing.push(chunk[j] as string);
      });
    }
    return missing;
  } finally {
    master.disconnect();
  }
}

/** Name of the data node listening on `port`. */
export function nodeNameOf(topology: RedisTopology, port: number): string {
  const name = [...topology.names('master'), ...topology.names('replica')].find(
    (n) => topology.port(n) === port,
  );
  if (!name) throw new Error(`no data node on port ${port}`);
  return name;
}

/** Resolves when the current master has `replicas` replicas online (replication settled). */
export async function waitForReplicas(topology: RedisTopology, replicas: number): Promise<void> {
  await waitFor(`${replicas} replicas online`, async () => {
    const master = await currentMaster(topology);
    try {
      const info = await master.info('replication');
      const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
      return info.includes('role:master') && online >= replicas;
    } finally {
      master.disconnect();
    }
  });
}
