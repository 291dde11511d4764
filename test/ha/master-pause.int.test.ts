import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClients } from '../../client/index.js';
import type {
  SentinelEventTracker,
  SentinelEventWatch,
} from '../../exporter/collectors/sentinel-events.js';
import type { RedisTopology } from '../../stack/topology.js';
import { missingOnMaster, startLoad, waitFor, waitForReplicas } from './support/load.js';
import { type ChaosRig, startChaosRig } from './support/rig.js';

describe('SIGSTOP of the master past down-after-milliseconds, then SIGCONT', () => {
  let topology: RedisTopology;
  let clients: RedisClients;
  let events: { tracker: SentinelEventTracker; watch: SentinelEventWatch };

  let rig: ChaosRig;
  beforeAll(async () => {
    rig = await startChaosRig();
    ({ topology, clients, events } = rig);
  });

  afterAll(() => rig?.stop());

  describe('happy', () => {
    it('follows the new master, gets the old one back as a replica and loses no acknowledged write', async () => {
      await clients.writer.set('chaos:pause:read-me', 'value');
      const load = startLoad(clients, 'chaos:pause');
      let gap = Number.NaN;
      try {
        await waitFor('writes flowing', () => load.snapshot().acknowledged.length > 20);
        const oldPort = topology.port('redis-0');
        const pausedAt = Date.now();
        topology.pause('redis-0');
        try {
          await waitFor(
            'a new master',
            async () => (await topology.currentMasterPort()) !== oldPort,
          );
          const switchedAt = Date.now();
          await waitFor(
            'a write acknowledged by the new master',
            () => (load.snapshot().ackTimes.at(-1) ?? 0) > switchedAt,
          );
          gap = load.unavailabilityAround(pausedAt);
        } finally {
          topology.resume('redis-0');
        }
        const newPort = await topology.currentMasterPort();
        await waitFor(
          'the events collector to count the failover',
          () => events.tracker.get('redscope')?.failovers === 1,
        );
        expect(events.tracker.get('redscope')?.master).toBe(`127.0.0.1:${newPort}`);

        // The resumed node must turn into a replica of the new master, as Sentinel tells it to.
        // Sentinel kills client connections of a node it reconfigures: a fresh one per poll.
        await waitFor(
          'the old master to become a replica of the new one',
          async () => {
            const old = topology.connect(oldPort);
            try {
              const role = (await old.call('ROLE')) as unknown[];
              return role[0] === 'slave' && Number(role[2]) === newPort;
            } finally {
              old.disconnect();
            }
          },
          30_000,
        );
        await waitForReplicas(topology, 2);
        const ackedBefore = load.snapshot().acknowledged.length;
        await waitFor(
          'writes after the old master came back',
          () => load.snapshot().acknowledged.length > ackedBefore + 20,
        );
      } finally {
        const report = await load.stop();
        console.info(
          `[chaos SIGSTOP] write unavailability ms: ${gap}; acked writes ${report.acknowledged.length}, write errors ${report.writeErrors}, reads ${report.reads}, read errors ${report.readErrors.length}`,
          report.writeErrorKinds,
        );
      }
      const report = load.snapshot();
      expect(await topology.currentMasterPort()).not.toBe(topology.port('redis-0'));
      expect(await missingOnMaster(topology, report.acknowledged)).toEqual([]);
      expect(report.readErrors).toEqual([]);
      expect(Number.isFinite(gap)).toBe(true);
    });
  });
});
