import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClients } from '../../client/index.js';
import type {
  SentinelEventTracker,
  SentinelEventWatch,
} from '../../exporter/collectors/sentinel-events.js';
import type { RedisTopology } from '../../stack/topology.js';
import type { TestExporter } from '../exporter/support/exporter-harness.js';
import { parseExposition, valueOf as sampleOf } from '../exporter/support/parse-exposition.js';
import {
  missingOnMaster,
  nodeNameOf,
  startLoad,
  waitFor,
  waitForReplicas,
} from './support/load.js';
import { type ChaosRig, startChaosRig } from './support/rig.js';
import { scrapeSentinelEvents } from './support/sentinel-events.js';

// Three failovers in a row within one test: Sentinel refuses to fail the same master
// over again within 2 x failover-timeout, so the tests shorten it from the shipped 5 s.
const SENTINEL_OVERRIDES = { 'sentinel failover-timeout': 'redscope 2000' };

describe('kill -9 of the master under load', () => {
  let topology: RedisTopology;
  let clients: RedisClients;
  let events: { tracker: SentinelEventTracker; watch: SentinelEventWatch };
  let exporter: TestExporter;

  let rig: ChaosRig;
  beforeAll(async () => {
    rig = await startChaosRig({
      sentinelOverrides: SENTINEL_OVERRIDES,
      exporter: 'with-sentinels',
    });
    ({ topology, clients, events } = rig);
    exporter = rig.exporter as TestExporter;
  });

  afterAll(() => rig?.stop());

  describe('happy', () => {
    it('fails over three times in a row without losing an acknowledged write or failing a read', async () => {
      await clients.writer.set('chaos:kill:read-me', 'value');
      const load = startLoad(clients, 'chaos:kill');
      const gaps: number[] = [];
      const rejoins: number[] = [];
      try {
        for (let round = 1; round <= 3; round++) {
          await waitFor('writes flowing', () => load.snapshot().acknowledged.length > 20 * round);
          const oldPort = await topology.currentMasterPort();
          const oldMaster = nodeNameOf(topology, oldPort);
          const killedAt = Date.now();
          await topology.kill(oldMaster);
          await waitFor(
            'a new master',
            async () => (await topology.currentMasterPort()) !== oldPort,
          );
          const newPort = await topology.currentMasterPort();
          // Acks after the Sentinels named the new master: a write in flight at the kill does not count.
          const switchedAt = Date.now();
          await waitFor(
            'a write acknowledged by the new master',
            () => (load.snapshot().ackTimes.at(-1) ?? 0) > switchedAt,
          );
          gaps.push(load.unavailabilityAround(killedAt));

          await waitFor(
            'the events collector to count the failover',
            () => events.tracker.get('redscope')?.failovers === round,
          );
          const state = events.tracker.get('redscope');
          expect(state?.master).toBe(`127.0.0.1:${newPort}`);
          expect(state?.lastDurationSeconds).toBeGreaterThan(0);
          const text = await scrapeSentinelEvents(topology, events.tracker, 'sentinel-0');
          expect(text).toContain(
            `redscope_sentinel_failovers_total{master_name="redscope"} ${round}`,
          );
          expect(text).toMatch(
            /redscope_sentinel_last_failover_duration_seconds\{master_name="redscope"\} \d/,
          );

          // The exporter's Sentinel collector names the new master too.
          const target = encodeURIComponent(`rediss://127.0.0.1:${topology.port('sentinel-0')}`);
          await waitFor('the exporter to report the new master', async () => {
            const scraped = parseExposition((await exporter.get(`/scrape?target=${target}`)).text);
            return (
              sampleOf(scraped, 'redscope_sentinel_master_info', {
                master_name: 'redscope',
                master_address: `127.0.0.1:${newPort}`,
              }) === 1 &&
              sampleOf(scraped, 'redscope_sentinel_failovers_total', {
                master_name: 'redscope',
              }) === round
            );
          });

          // The old master comes back and Sentinel turns it into a replica of the new one.
          const rejoinStarted = Date.now();
          await topology.restart(oldMaster);
          await waitForReplicas(topology, 2);
          rejoins.push(Date.now() - rejoinStarted);
          expect(await missingOnMaster(topology, load.snapshot().acknowledged)).toEqual([]);
        }
      } finally {
        const report = await load.stop();
        console.info(
          `[chaos kill -9] write unavailability ms: ${gaps.join(', ')}; rejoin ms: ${rejoins.join(', ')}; acked writes ${report.acknowledged.length}, write errors ${report.writeErrors}, reads ${report.reads}, read errors ${report.readErrors.length}`,
          report.writeErrorKinds,
          report.readErrors.slice(0, 5),
        );
      }
      const report = load.snapshot();
      expect(await missingOnMaster(topology, report.acknowledged)).toEqual([]);
      expect(report.readErrors).toEqual([]);
      expect(gaps.every((gap) => Number.isFinite(gap))).toBe(true);
    });
  });
});
