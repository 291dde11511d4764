import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WARMING_METRIC_NAMES } from '../../../client/warming/warming-metrics.js';
import { waitUntil } from '../../../stack/partition-faults.js';
import {
  clientsWithLogs,
  delay,
  eventsOf,
  keysOf,
  type PlainRedis,
  recordingLoader,
  sample,
  startPlainRedis,
} from './support/warming-harness.js';

let redis: PlainRedis;

beforeAll(async () => {
  redis = await startPlainRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('warming backs off when live traffic suffers', () => {
  it('halves its rate while the live p99 is up (Redis paused for real), and climbs back after', async () => {
    const { clients, registry, lines } = clientsWithLogs(redis.url);
    // The app's own traffic, open loop like requests arriving: two reads a millisecond
    // whether the last ones were answered or not (callers in a loop would send nothing
    // while Redis stalls, and their p99 would never see the stall).
    const pending = new Set<Promise<unknown>>();
    const traffic = setInterval(() => {
      for (let i = 0; i < 2; i++) {
        const read = clients.writer.get(`app:live:${i}`).catch(() => undefined);
        pending.add(read);
        void read.finally(() => pending.delete(read));
      }
    }, 1);
    const namespace = 'backoff:item:';
    const rate = 500;
    const run = clients.warm({
      namespace,
      keys: keysOf(namespace, 20_000),
      ratePerSecond: rate,
      batchSize: 5,
      source: { kind: 'loader', load: recordingLoader().load, ttlSeconds: 60 },
    });
    try {
      await waitUntil('warming under way', () => run.progress().warmed > 0, 5000);
      await delay(2000);
      // Alone on a quiet host warming at this rate leaves the app's p99 be (the rate stays
      // at 500); next to other test files on two cores it may have backed off already.
      const before = run.progress().rateLimit;
      const lineCount = eventsOf(lines, 'redis.warming_backoff').length;
      // Redis stops answering for 150 ms out of every 250 ms: every caller waits.
      let paused = true;
      const pauses = (async () => {
        while (paused) {
          await redis.admin.call('CLIENT', 'PAUSE', '150', 'ALL');
          await delay(250);
        }
      })();
      try {
        await waitUntil('the rate halved', () => run.progress().rateLimit <= before / 2, 8000);
        const text = await registry.metrics();
        expect(
          sample(text, `${WARMING_METRIC_NAMES.rateLimit}{namespace="${namespace}"}`),
        ).toBeLessThanOrEqual(before / 2);
      } finally {
        paused = false;
        await pauses;
      }
      // The stalls themselves, not jitter: callers waited up to 150 ms.
      const backoff = eventsOf(lines, 'redis.warming_backoff')
        .slice(lineCount)
        .find((line) => (line.p99_ms as number) > 10);
      expect(backoff).toMatchObject({ level: 'info', namespace, reason: 'latency' });
      expect(backoff?.p99_ms as number).toBeGreaterThan(1.5 * (backoff?.baseline_p99_ms as number));
      // Additive increase: a tenth of the rate back per healthy second.
      const lowest = run.progress().rateLimit;
      await waitUntil('the rate climbing back', () => run.progress().rateLimit > lowest, 15_000);
    } finally {
      run.cancel();
      await run.done;
      clearInterval(traffic);
      await Promise.all(pending);
      await clients.close();
    }
  }, 50_000);
});
