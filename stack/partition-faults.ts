import type { Redis } from 'ioredis';
import type { RedisClients } from '../client/index.js';
import type { NetworkPartition } from './network-partition.js';
import {
  longestGap,
  type StampedVerdict,
  startStampedLoad,
  verifyStampedWrites,
} from './stamped-writes.js';
import type { RedisTopology } from './topology.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The address an app on this machine connects from (the topology's nodes have their own). */
export const CLIENT_ADDRESS = '127.0.0.1';

/** Polls `check` until it holds, failing with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await delay(50);
  }
  throw new Error(
    `timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
  );
}

/** The node names and addresses of the current master, the other data nodes and the Sentinels. */
export async function currentRoles(topology: RedisTopology) {
  const masterPort = await topology.currentMasterPort();
  const data = [...topology.names('master'), ...topology.names('replica')];
  const master = data.find((name) => topology.port(name) === masterPort);
  if (master === undefined) throw new Error(`no data node listens on ${masterPort}`);
  return {
    masterName: master,
    master: topology.host(master),
    replicas: data.filter((n) => n !== master).map((n) => topology.host(n)),
    sentinels: topology.names('sentinel').map((n) => topology.host(n)),
  };
}

/**
 * A client for the master the Sentinels name, once `replicas` replicas
 * replicate from it and have all it has (a WAIT on a fresh write): what it
 * holds then is what survived the fault. The caller disconnects it.
 */
export async function settledMaster(topology: RedisTopology, replicas = 2): Promise<Redis> {
  let port = 0;
  await waitUntil(
    `one master with ${replicas} replicas in sync`,
    async () => {
      port = await topology.currentMasterPort();
      const master = topology.connect(port);
      try {
        const role = (await master.call('ROLE')) as [string, number, unknown[]];
        if (role[0] !== 'master' || role[2].length < replicas) return false;
        await master.set('partition:settle', String(Date.now()));
        return Number(await master.call('WAIT', replicas, 2000)) >= replicas;
      } finally {
        master.disconnect();
      }
    },
    60_000,
  );
  return topology.connect(port);
}

/** One kind of network fault, run against a topology started with `addresses: 'per-node'`. */
export interface PartitionFault {
  readonly name: string;
  /** What is cut from what, for how long, as a table row says it. */
  readonly description: string;
  /** The durable writes' `replicas` (default 1). */
  readonly replicas?: number | 'all';
  /**
   * Whether no acknowledged durable write may be lost. False for a fault where
   * WAIT 1 cannot promise it: the bench reports the loss, the tests skip it.
   */
  readonly lossless?: boolean;
  run(topology: RedisTopology, partition: NetworkPartition): Promise<void>;
}

/**
 * The client and the master on the minority side: the majority fails over to
 * the replica it has, while the client, hearing one Sentinel, needs about half
 * a second to notice it hears too few. Durable writes acknowledged meanwhile by
 * the replica on its side are lost with WAIT 1; with every replica they are
 * never acknowledged (the far replica cannot answer).
 */
async function cutMinoritySide(
  topology: RedisTopology,
  partition: NetworkPartition,
): Promise<void> {
  const { master, replicas, sentinels } = await currentRoles(topology);
  const [near, far] = replicas as [string, string];
  const [heard, ...majority] = sentinels as [string, string, string];
  partition.cut([CLIENT_ADDRESS, master, near, heard], [far, ...majority]);
  await delay(6000);
  partition.heal();
}

/** The faults of issue #12's table: each loses acknowledged writes unless durable writes are fenced. */
export const PARTITION_FAULTS: readonly PartitionFault[] = [
  {
    name: 'sentinels-only',
    description: 'master cut from the Sentinels only (replicas and client still reach it), 6 s',
    async run(topology, partition) {
      const { master, sentinels } = await currentRoles(topology);
      partition.cut([master], sentinels);
      await delay(6000);
      partition.heal();
    },
  },
  {
    name: 'isolated-master',
    description: 'master cut from replicas and Sentinels (not from the client), 6 s',
    async run(topology, partition) {
      const { master, replicas, sentinels } = await currentRoles(topology);
      partition.cut([master], [...replicas, ...sentinels]);
      await delay(6000);
      partition.heal();
    },
  },
  {
    name: 'flapping',
    description: 'master cut from replicas and Sentinels and healed 4 times, random 1.5-3.5 s each',
    async run(topology, partition) {
      for (let round = 0; round < 4; round++) {
        const { master, replicas, sentinels } = await currentRoles(topology);
        partition.cut([master], [...replicas, ...sentinels]);
        await delay(1500 + Math.random() * 2000);
        partition.heal();
        await delay(1500 + Math.random() * 2000);
      }
    },
  },
  {
    name: 'minority-side',
    description:
      'client, master, one replica and one Sentinel on the minority side (the majority fails over), 6 s; durable writes wait for 1 replica',
    lossless: false,
    run: cutMinoritySide,
  },
  {
    name: 'minority-side-all',
    description:
      "client, master, one replica and one Sentinel on the minority side (the majority fails over), 6 s; durable writes wait for every replica (`replicas: 'all'`)",
    replicas: 'all',
    run: cutMinoritySide,
  },
  {
    name: 'client-master',
    description: 'client cut from the master only (packets dropped, no reset), 5 s',
    async run(topology, partition) {
      const { master } = await currentRoles(topology);
      partition.cut([CLIENT_ADDRESS], [master]);
      await delay(5000);
      partition.heal();
    },
  },
  {
    name: 'client-sentinels-then-kill',
    description:
      'client cut from every Sentinel, then the master killed (kill -9); healed after 7 s',
    async run(topology, partition) {
      const { sentinels, masterName } = await currentRoles(topology);
      partition.cut([CLIENT_ADDRESS], sentinels);
      await delay(1000);
      await topology.kill(masterName);
      await delay(6000);
      partition.heal();
      // Back as a replica of the new master, so the survivors are checked as after the others.
      await topology.restart(masterName);
    },
  },
];

/** What one run of a fault under load left on the master that survived. */
export interface FaultRun {
  readonly verdict: StampedVerdict;
  /** The longest time without a confirmed durable write, from the fault until it healed (s). */
  readonly unavailableSeconds: number;
  /** When the fault began (seconds since the epoch). */
  readonly faultAt: number;
}

/**
 * Runs `fault` under the server-stamped write load, then reads what the
 * master that survived holds (the test and the bench judge it their way).
 */
export async function runFaultUnderLoad(
  clients: RedisClients,
  topology: RedisTopology,
  partition: NetworkPartition,
  fault: PartitionFault,
  prefix: string,
): Promise<FaultRun> {
  const load = startStampedLoad(clients, prefix, {
    ...(fault.replicas !== undefined ? { replicas: fault.replicas } : {}),
  });
  await waitUntil('durable writes confirmed', () => load.confirmedAt.length > 30);
  const faultAt = Date.now() / 1000;
  await fault.run(topology, partition);
  const healedAt = Date.now() / 1000;
  const before = load.confirmedAt.length;
  await waitUntil('durable writes again', () => load.confirmedAt.length > before + 30, 60_000);
  const writes = await load.stop();
  const master = await settledMaster(topology);
  try {
    return {
      verdict: await verifyStampedWrites(master, writes),
      unavailableSeconds: longestGap(load.confirmedAt, faultAt, healedAt),
      faultAt,
    };
  } finally {
    master.disconnect();
  }
}
