import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableWriteError, type RedisClients } from '../../client/index.js';
import type {
  SentinelEventTracker,
  SentinelEventWatch,
} from '../../exporter/collectors/sentinel-events.js';
import type { RedisTopology } from '../../stack/topology.js';
import type { TestExporter } from '../exporter/support/exporter-harness.js';
import { parseExposition, valueOf as sampleOf } from '../exporter/support/parse-exposition.js';
import { startLoad, waitFor } from './support/load.js';
import { type ChaosRig, startChaosRig } from './support/rig.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('losing Sentinels', () => {
  let topology: RedisTopology;
  let clients: RedisClients;
  let exporter: TestExporter;
  let events: { tracker: SentinelEventTracker; watch: SentinelEventWatch };

  /** The exporter's metrics for sentinel-0, scraped through /scrape like Prometheus does. */
  async function scrapeSentinel() {
    const target = `rediss://127.0.0.1:${topology.port('sentinel-0')}`;
    const response = await exporter.get(`/scrape?target=${encodeURIComponent(target)}`);
    expect(response.status).toBe(200);
    return parseExposition(response.text);
  }

  let rig: ChaosRig;
  beforeAll(async () => {
    rig = await startChaosRig({ exporter: 'scrape-only' });
    ({ topology, clients, events } = rig);
    exporter = rig.exporter as TestExporter;
  });

  afterAll(() => rig?.stop());

  describe('happy', () => {
    it('keeps the master and serves every read and write when one of three Sentinels dies', async () => {
      await clients.writer.set('chaos:sentinel:read-me', 'value');
      const master = await topology.currentMasterPort();
      const load = startLoad(clients, 'chaos:sentinel');
      await waitFor('writes flowing', () => load.snapshot().acknowledged.length > 20);
      await topology.kill('sentinel-2');
      // Three times down-after-milliseconds: long enough for a wrong failover to start.
      await delay(3000);
      const report = await load.stop();
      expect(report.writeErrors).toBe(0);
      expect(report.readErrors).toEqual([]);
      expect(await topology.currentMasterPort()).toBe(master);
      expect(events.tracker.get('redscope')?.failovers ?? 0).toBe(0);
      const metrics = await scrapeSentinel();
      expect(
        sampleOf(metrics, 'redscope_sentinel_quorum_reachable', { master_name: 'redscope' }),
      ).toBe(1);
    });
  });

  describe('unhappy', () => {
    it('shows the quorum lost in the Sentinel metrics when a second Sentinel dies', async () => {
      await topology.kill('sentinel-1');
      await waitFor('the exporter to report the quorum lost', async () => {
        const metrics = await scrapeSentinel();
        return (
          sampleOf(metrics, 'redscope_sentinel_quorum_reachable', { master_name: 'redscope' }) === 0
        );
      });
      const metrics = await scrapeSentinel();
      expect(
        sampleOf(metrics, 'redis_sentinel_master_ckquorum_status', { master_name: 'redscope' }),
      ).toBe(0);
      expect(sampleOf(metrics, 'redscope_sentinel_up')).toBe(1);
      // The master itself is fine: reads and plain writes go on without a quorum.
      await clients.writer.set('chaos:sentinel:after', '1');
      expect(await clients.reader.get('chaos:sentinel:read-me')).toBe('value');
      // Durable writes fail closed: hearing one Sentinel of three, the client could not see a
      // failover by the other two (dead here, but a partition looks the same from the client).
      await waitFor('durable writes fenced', async () => {
        const refused = await clients
          .writeDurably((tx) => tx.set('chaos:sentinel:durable', '1'))
          .catch((error: unknown) => error);
        return refused instanceof DurableWriteError && refused.reason === 'no-sentinel';
      });
      const accepted = await clients.writeDurably((tx) => tx.set('chaos:sentinel:durable', '1'), {
        allowWithoutSentinels: true,
      });
      expect(accepted.acknowledged).toBeGreaterThanOrEqual(1);
    });
  });
});
