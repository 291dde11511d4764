import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../client/index.js';
import { NetworkPartition } from '../../stack/network-partition.js';
import { RedisTopology } from '../../stack/topology.js';
import { clientsConfigFor } from '../../stack/topology-clients.js';
import { nodeNameOf, waitFor } from './support/load.js';
import { longestGap, startStampedLoad, verifyStampedWrites } from './support/stamped-writes.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The address the test process (the app) connects from. */
const CLIENT = '127.0.0.1';

interface Rig {
  readonly topology: RedisTopology;
  readonly partition: NetworkPartition;
  readonly clients: RedisClients;
}

/** Addresses of the current master, the other data nodes, and the Sentinels. */
async function roles(topology: RedisTopology) {
  const masterPort = await topology.currentMasterPort();
  const master = nodeNameOf(topology, masterPort);
  const data = [...topology.names('master'), ...topology.names('replica')];
  return {
    master: topology.host(master),
    masterName: master,
    replicas: data.filter((n) => n !== master).map((n) => topology.host(n)),
    sentinels: topology.names('sentinel').map((n) => topology.host(n)),
  };
}

/**
 * The master the Sentinels name, once both other data nodes replicate from it
 * and have everything it has: then what it holds is what survived.
 */
async function settledMaster(topology: RedisTopology) {
  let port = 0;
  await waitFor(
    'one master with two replicas in sync',
    async () => {
      port = await topology.currentMasterPort();
      const master = topology.connect(port);
      try {
        const role = (await master.call('ROLE')) as [string, number, [string, string, string][]];
        if (role[0] !== 'master' || role[2].length < 2) return false;
        await master.set('partition:settle', String(Date.now()));
        return Number(await master.call('WAIT', 2, 2000)) >= 2;
      } finally {
        master.disconnect();
      }
    },
    45_000,
  );
  return topology.connect(port);
}

let rig: Rig | undefined;
afterEach(async () => {
  rig?.partition.close();
  await rig?.clients.close();
  await rig?.topology.stop();
  rig = undefined;
});

async function startRig(): Promise<Rig> {
  const topology = await RedisTopology.start({
    tls: true,
    addresses: 'per-node',
    // Several failovers of the same master within one test (the flapping case).
    sentinelOverrides: { 'sentinel failover-timeout': 'redscope 2000' },
  });
  const partition = NetworkPartition.create();
  const clients = createRedisClients(clientsConfigFor(topology), { tracing: { enabled: false } });
  rig = { topology, partition, clients };
  await clients.ready();
  return rig;
}

/**
 * Runs `fault` under a steady load of durable and plain writes, then checks
 * on the master that survived: no confirmed durable write lost, and no write
 * run after its caller was told it failed. Returns the write unavailability.
 */
async function underLoad(
  name: string,
  fault: (rig: Rig) => Promise<void>,
): Promise<{ unavailableSeconds: number; lostPlain: number }> {
  const current = await startRig();
  const load = startStampedLoad(current.clients, `partition:${name}`);
  await waitFor('durable writes confirmed', () => load.confirmedAt.length > 30);
  const faultAt = Date.now() / 1000;
  await fault(current);
  const healedAt = Date.now() / 1000;
  const before = load.confirmedAt.length;
  await waitFor('durable writes again', () => load.confirmedAt.length > before + 30, 30_000);
  const writes = await load.stop();
  const master = await settledMaster(current.topology);
  try {
    const verdict = await verifyStampedWrites(master, writes);
    expect(verdict.confirmedDurable).toBeGreaterThan(30);
    expect(verdict.lostDurable).toEqual([]);
    expect(verdict.ranAfterFailure).toEqual([]);
    return {
      unavailableSeconds: longestGap(load.confirmedAt, faultAt, healedAt),
      lostPlain: verdict.lostPlain,
    };
  } finally {
    master.disconnect();
  }
}

describe('durable writes under real network partitions (nftables between node addresses)', () => {
  it('loses no confirmed durable write when the master is cut from the Sentinels only', async ({
    annotate,
  }) => {
    const result = await underLoad('sentinels-only', async ({ topology, partition }) => {
      const { master, sentinels } = await roles(topology);
      partition.cut([master], sentinels);
      await delay(6000);
      partition.heal();
    });
    await annotate(`durable writes unavailable ${result.unavailableSeconds.toFixed(2)} s`);
  });

  it('loses no confirmed durable write when the master is cut from replicas and Sentinels', async ({
    annotate,
  }) => {
    const result = await underLoad('isolated-master', async ({ topology, partition }) => {
      const { master, replicas, sentinels } = await roles(topology);
      partition.cut([master], [...replicas, ...sentinels]);
      await delay(6000);
      partition.heal();
    });
    await annotate(
      `durable writes unavailable ${result.unavailableSeconds.toFixed(2)} s; plain writes lost ${result.lostPlain}`,
    );
  });

  it('loses no confirmed durable write while the master is cut and healed again and again', async ({
    annotate,
  }) => {
    const result = await underLoad('flapping', async ({ topology, partition }) => {
      for (let round = 0; round < 4; round++) {
        const { master, replicas, sentinels } = await roles(topology);
        partition.cut([master], [...replicas, ...sentinels]);
        await delay(1500 + Math.random() * 2000);
        partition.heal();
        await delay(1500 + Math.random() * 2000);
      }
    });
    await annotate(`durable writes unavailable ${result.unavailableSeconds.toFixed(2)} s`);
  });

  it('notices a client cut from the master (no reset, just silence) and runs no write late', async ({
    annotate,
  }) => {
    const result = await underLoad('client-master', async ({ topology, partition }) => {
      const { master } = await roles(topology);
      partition.cut([CLIENT], [master]);
      await delay(5000);
      partition.heal();
    });
    await annotate(`durable writes unavailable ${result.unavailableSeconds.toFixed(2)} s`);
  });

  it('refuses durable writes while it hears no Sentinel, across a master kill it cannot see', async ({
    annotate,
  }) => {
    const result = await underLoad('client-sentinels', async ({ topology, partition }) => {
      const { sentinels, masterName } = await roles(topology);
      partition.cut([CLIENT], sentinels);
      await delay(1000);
      await topology.kill(masterName);
      await delay(6000);
      partition.heal();
      // Back as a replica of the new master, so the survivors can be checked as in the other cases.
      await topology.restart(masterName);
    });
    await annotate(`durable writes unavailable ${result.unavailableSeconds.toFixed(2)} s`);
  });
});
