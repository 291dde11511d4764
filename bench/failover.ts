/**
 * `npm run bench -- failover`: 20 consecutive failovers of a real TLS Sentinel
 * topology under a steady writer and reader using redscope's client, kill -9
 * and SIGSTOP alternating. Reports write unavailability per failover (longest
 * silence between two acknowledged durable writes), read errors seen by the
 * caller, and acknowledged writes missing from the final master (must be 0).
 * Then the network partitions of bench/failover-partitions.ts.
 */
import { createRedisClients, type RedisClients } from '../client/index.js';
import { RedisTopology } from '../stack/topology.js';
import { clientsConfigFor } from '../stack/topology-clients.js';
import { partitionBench } from './failover-partitions.js';

const FAILOVERS = 20;
/** Sentinel will not start another failover of the same master within 2 x failover-timeout. */
const MIN_SPACING_MS = 5000;
const PAUSE_BETWEEN_OPS_MS = 5;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // keep polling
    }
    await delay(50);
  }
  throw new Error(`failover bench: timed out waiting for ${what}`);
}

interface Load {
  readonly acknowledged: string[];
  readonly ackTimes: number[];
  writeErrors: number;
  reads: number;
  readErrors: number;
  stop(): Promise<void>;
}

function startLoad(clients: RedisClients): Load {
  let running = true;
  let sequence = 0;
  const load: Load = {
    acknowledged: [],
    ackTimes: [],
    writeErrors: 0,
    reads: 0,
    readErrors: 0,
    stop: async () => {
      running = false;
      await Promise.all([writer, reader]);
    },
  };
  const writer = (async () => {
    while (running) {
      const key = `bench:failover:${sequence++}`;
      try {
        await clients.writeDurably((tx) => tx.set(key, '1'), { timeoutMs: 500 });
        load.acknowledged.push(key);
        load.ackTimes.push(Date.now());
      } catch {
        load.writeErrors++;
      }
      await delay(PAUSE_BETWEEN_OPS_MS);
    }
  })();
  const reader = (async () => {
    while (running) {
      try {
        await clients.reader.get('bench:failover:read-me');
        load.reads++;
      } catch {
        load.readErrors++;
      }
      await delay(PAUSE_BETWEEN_OPS_MS);
    }
  })();
  return load;
}

/** Longest silence between consecutive acks from 1 s before the fault on (ms). */
function unavailability(ackTimes: readonly number[], faultAt: number): number {
  let longest = 0;
  for (let i = 1; i < ackTimes.length; i++) {
    const t = ackTimes[i] as number;
    if (t < faultAt - 1000) continue;
    longest = Math.max(longest, t - (ackTimes[i - 1] as number));
  }
  return longest;
}

function nodeOn(topology: RedisTopology, port: number): string {
  const name = [...topology.names('master'), ...topology.names('replica')].find(
    (n) => topology.port(n) === port,
  );
  if (!name) throw new Error(`no data node on port ${port}`);
  return name;
}

async function onlineReplicas(topology: RedisTopology): Promise<number> {
  const master = topology.connect(await topology.currentMasterPort());
  try {
    const info = await master.info('replication');
    if (!info.includes('role:master')) return 0;
    return (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
  } finally {
    master.disconnect();
  }
}

async function missingOnMaster(topology: RedisTopology, keys: readonly string[]): Promise<number> {
  const master = topology.connect(await topology.currentMasterPort());
  try {
    let missing = 0;
    for (let i = 0; i < keys.length; i += 1000) {
      const values = await master.mget(...keys.slice(i, i + 1000));
      missing += values.filter((v) => v === null).length;
    }
    return missing;
  } finally {
    master.disconnect();
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export default async function failoverBench(): Promise<string> {
  const topology = await RedisTopology.start({
    tls: true,
    // A third replica lets the next fault come while the last victim is still
    // rejoining (Sentinel turns a returning old master into a replica only after
    // ~10 s), so 20 failovers fit in about two minutes.
    replicas: 3,
    sentinelOverrides: { 'sentinel failover-timeout': 'redscope 2000' },
  });
  const description = topology.describe();
  const clients = createRedisClients(clientsConfigFor(topology));
  const sentinel = topology.connect(topology.port('sentinel-0'));
  const fields = (await sentinel.call('SENTINEL', 'MASTER', description.masterName)) as string[];
  sentinel.disconnect();
  const downAfter = fields[fields.indexOf('down-after-milliseconds') + 1];
  const rows: { fault: string; ms: number; sentinelMs: number }[] = [];
  const started = Date.now();
  let load: Load | undefined;
  try {
    await clients.ready();
    await clients.writer.set('bench:failover:read-me', '1');
    load = startLoad(clients);
    const running = load;
    let lastFault = 0;
    for (let i = 0; i < FAILOVERS; i++) {
      await waitFor('two replicas online', async () => (await onlineReplicas(topology)) >= 2);
      await delay(Math.max(0, lastFault + MIN_SPACING_MS - Date.now()));
      const acked = running.acknowledged.length;
      await waitFor('writes flowing', () => running.acknowledged.length > acked + 20);
      const oldPort = await topology.currentMasterPort();
      const victim = nodeOn(topology, oldPort);
      const fault = i % 2 === 0 ? 'kill -9' : 'SIGSTOP';
      lastFault = Date.now();
      if (fault === 'kill -9') await topology.kill(victim);
      else topology.pause(victim);
      await waitFor('a new master', async () => (await topology.currentMasterPort()) !== oldPort);
      const switchedAt = Date.now();
      await waitFor(
        'a write acknowledged by the new master',
        () => (running.ackTimes.at(-1) ?? 0) > switchedAt,
      );
      rows.push({
        fault,
        ms: unavailability(running.ackTimes, lastFault),
        sentinelMs: switchedAt - lastFault,
      });
      // The victim comes back and rejoins as a replica while the next rounds run.
      if (fault === 'kill -9') await topology.restart(victim);
      else topology.resume(victim);
    }
    await delay(1000);
    await running.stop();
  } finally {
    await load?.stop();
    await clients.close();
  }
  let lost: number;
  try {
    await waitFor('replication to settle', async () => (await onlineReplicas(topology)) >= 2);
    lost = await missingOnMaster(topology, load?.acknowledged ?? []);
  } finally {
    await topology.stop();
  }
  const gaps = rows.map((r) => r.ms);
  const table = rows
    .map((r, i) => `| ${i + 1} | ${r.fault} | ${r.ms} | ${r.sentinelMs} |`)
    .join('\n');
  const within3s = gaps.filter((g) => g <= 3000).length;
  return [
    '### Failover under load',
    '',
    `${rows.length} consecutive failovers of a TLS topology (1 master, 3 replicas, 3 Sentinels, quorum 2, ` +
      `\`down-after-milliseconds ${downAfter}\`, \`failover-timeout 2000\`, \`min-replicas-to-write 1\`), kill -9 and SIGSTOP ` +
      'of the master alternating, under a steady writer (durable writes: SET + WAIT 1 500) and reader ' +
      `(GET through the replica reader), each one op every ${PAUSE_BETWEEN_OPS_MS} ms, through \`createRedisClients\`. ` +
      `Wall time ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    '| what | value |',
    '|---|---|',
    `| write unavailability, median | ${median(gaps)} ms |`,
    `| write unavailability, max | ${Math.max(...gaps)} ms |`,
    `| failovers within the 3 s goal | ${within3s} of ${gaps.length} |`,
    `| read errors seen by the caller | ${load?.readErrors ?? 'n/a'} of ${(load?.reads ?? 0) + (load?.readErrors ?? 0)} reads |`,
    `| failed write attempts (retried by the load) | ${load?.writeErrors ?? 'n/a'} |`,
    `| acknowledged writes | ${load?.acknowledged.length ?? 0} |`,
    `| **acknowledged writes lost** | **${lost}** |`,
    '',
    'Write unavailability is the longest silence between two acknowledged writes from 1 s before the fault ' +
      'until the new master acknowledged one; "Sentinel" is the fault-to-new-master time as the test saw it ' +
      '(polling `SENTINEL GET-MASTER-ADDR-BY-NAME`).',
    '',
    '<details><summary>per failover</summary>',
    '',
    '| # | fault | write unavailability (ms) | Sentinel named the new master after (ms) |',
    '|---|---|---|---|',
    table,
    '',
    '</details>',
    '',
    await partitionBench(partitionRuns()),
  ].join('\n');
}

/** Runs per partition fault: 20 (the goal), or `--runs N` after the bench name. */
function partitionRuns(): number {
  const at = process.argv.indexOf('--runs');
  const runs = at === -1 ? 20 : Number(process.argv[at + 1]);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error('failover bench: --runs needs a whole number >= 1');
  return runs;
}
