import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../client/index.js';
import { NetworkPartition } from '../../stack/network-partition.js';
import { PARTITION_FAULTS, runFaultUnderLoad } from '../../stack/partition-faults.js';
import { RedisTopology } from '../../stack/topology.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';

interface Rig {
  readonly topology: RedisTopology;
  readonly partition: NetworkPartition;
  readonly clients: RedisClients;
}

let rig: Rig | undefined;
afterEach(async () => {
  rig?.partition.close();
  await rig?.clients.close();
  await rig?.topology.stop();
  rig = undefined;
});

/**
 * Each fault of the issue's table, for real: nftables drops packets between
 * the nodes' own loopback addresses while durable and plain writes run. On
 * the master that survives: no acknowledged durable write lost, and no write
 * run by a server after its caller was told it failed. Without the client's
 * failover fence the first and third cases lose acknowledged durable writes.
 */
describe('durable writes under real network partitions (nftables between node addresses)', () => {
  // A fault WAIT 1 cannot make lossless is measured by the bench, not asserted here.
  for (const fault of PARTITION_FAULTS.filter((f) => f.lossless !== false)) {
    it(`loses no acknowledged durable write and runs no write late: ${fault.description}`, async ({
      annotate,
    }) => {
      const topology = await RedisTopology.start({
        tls: true,
        addresses: 'per-node',
        // The flapping case fails the same master over more than once.
        sentinelOverrides: { 'sentinel failover-timeout': 'redscope 2000' },
      });
      const partition = NetworkPartition.create();
      const clients = createRedisClients(clientsConfigFor(topology), {
        tracing: { enabled: false },
      });
      rig = { topology, partition, clients };
      await clients.ready();
      const run = await runFaultUnderLoad(
        clients,
        topology,
        partition,
        fault,
        `partition:${fault.name}`,
      );
      expect(run.verdict.confirmedDurable).toBeGreaterThan(30);
      expect(run.verdict.lostDurable).toEqual([]);
      expect(run.verdict.ranAfterFailure).toEqual([]);
      await annotate(
        `durable writes unavailable ${run.unavailableSeconds.toFixed(2)} s; plain writes lost ${run.verdict.lostPlain}`,
      );
    });
  }
});
