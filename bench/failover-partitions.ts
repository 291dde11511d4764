/**
 * The partition half of `npm run bench -- failover`: each fault of
 * stack/partition-faults.ts, `runs` times on one topology with an address per
 * node, under durable and plain writes stamped by the server. Per fault:
 * acknowledged durable writes lost (goal 0), plain writes lost, writes run
 * after their caller was told they failed (goal 0), and durable-write
 * unavailability. Then the fence's cost on durable-write latency without faults.
 */

import { writeDurably } from '../client/connection/durable-write.js';
import { createRedisClients } from '../client/index.js';
import { NetworkPartition } from '../stack/network-partition.js';
import { PARTITION_FAULTS, runFaultUnderLoad, settledMaster } from '../stack/partition-faults.js';
import { RedisTopology } from '../stack/topology.js';
import { clientsConfigFor } from '../stack/topology-clients.js';

const quantile = (values: readonly number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

interface FaultResult {
  runs: number;
  lostDurable: number;
  lostPlain: number;
  late: number;
  confirmed: number;
  readonly gaps: number[];
  /** Per run: seconds from the fault to the last plain write a cut-off master took (and lost). */
  readonly acceptedAfterCut: number[];
}

export async function partitionBench(runs: number): Promise<string> {
  const topology = await RedisTopology.start({
    tls: true,
    addresses: 'per-node',
    sentinelOverrides: { 'sentinel failover-timeout': 'redscope 2000' },
  });
  const partition = NetworkPartition.create();
  const clients = createRedisClients(clientsConfigFor(topology), { tracing: { enabled: false } });
  const results = new Map<string, FaultResult>();
  const started = Date.now();
  let cost = '';
  try {
    await clients.ready();
    for (const fault of PARTITION_FAULTS) {
      const result: FaultResult = {
        runs: 0,
        lostDurable: 0,
        lostPlain: 0,
        late: 0,
        confirmed: 0,
        gaps: [],
        acceptedAfterCut: [],
      };
      for (let run = 0; run < runs; run++) {
        (await settledMaster(topology)).disconnect();
        const { verdict, unavailableSeconds, faultAt } = await runFaultUnderLoad(
          clients,
          topology,
          partition,
          fault,
          `bench:partition:${fault.name}:${run}`,
        );
        result.runs += 1;
        result.lostDurable += verdict.lostDurable.length;
        result.lostPlain += verdict.lostPlain;
        result.late += verdict.ranAfterFailure.length;
        result.confirmed += verdict.confirmedDurable;
        result.gaps.push(unavailableSeconds);
        if (verdict.lastLostPlainAt !== undefined) {
          result.acceptedAfterCut.push(verdict.lastLostPlainAt - faultAt);
        }
        process.stderr.write(`bench: partitions: ${fault.name} run ${run + 1}/${runs}\n`);
      }
      results.set(fault.name, result);
    }
    cost = await fenceCost(clients);
  } finally {
    partition.close();
    await clients.close();
    await topology.stop();
  }
  const rows = PARTITION_FAULTS.map((fault) => {
    const r = results.get(fault.name);
    if (!r) return `| ${fault.description} | not run | | | | |`;
    return `| ${fault.description} | ${r.runs} | **${r.lostDurable}** of ${r.confirmed} | ${r.lostPlain} | ${r.late} | ${quantile(r.gaps, 0.5).toFixed(2)} s / ${Math.max(...r.gaps).toFixed(2)} s |`;
  });
  return [
    '### Network partitions',
    '',
    `nftables rules drop every packet between the nodes' own loopback addresses (a TLS topology: 1 master, 2 replicas, 3 Sentinels, quorum 2, \`down-after-milliseconds 1200\`, \`failover-timeout 2000\`, \`min-replicas-to-write 1\`, \`min-replicas-max-lag 2\`), ${runs} runs per fault on one topology, under 4 callers writing new keys through \`createRedisClients\`, alternating durable writes (\`writeDurably\`, WAIT 1 500 ms) and plain writes, each stamped with the server's clock when it ran. Wall time ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    '| fault | runs | acknowledged durable writes lost | plain writes lost (acknowledged) | writes run after their caller was told they failed | durable-write unavailability, median / max |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'Unavailability: the longest silence between two confirmed durable writes from the fault until it healed.',
    '',
    ...windowLines(results),
    '',
    cost,
  ].join('\n');
}

/** Durable-write latency without faults, fenced (the client's default) against unfenced, interleaved. */
async function fenceCost(clients: Awaited<ReturnType<typeof createRedisClients>>): Promise<string> {
  const fenced: number[] = [];
  const unfenced: number[] = [];
  for (let round = 0; round < 20; round++) {
    for (const [samples, fence] of [
      [fenced, true],
      [unfenced, false],
    ] as const) {
      for (let i = 0; i < 200; i++) {
        const key = `bench:fence:${round}:${i}`;
        const t0 = performance.now();
        if (fence) await clients.writeDurably((tx) => tx.set(key, '1'), { timeoutMs: 500 });
        else await writeDurably(clients.writer, (tx) => tx.set(key, '1'), { timeoutMs: 500 });
        samples.push(performance.now() - t0);
      }
    }
  }
  const row = (name: string, samples: number[]) =>
    `| ${name} | ${quantile(samples, 0.5).toFixed(3)} ms | ${quantile(samples, 0.99).toFixed(3)} ms |`;
  return [
    'Cost of the fence on durable-write latency without faults (one caller, SET + WAIT 1, 20 interleaved rounds of 200 writes each way):',
    '',
    '| durable write | p50 | p99 |',
    '|---|---:|---:|',
    row('fenced (`clients.writeDurably`)', fenced),
    row('unfenced (WAIT alone, as before)', unfenced),
  ].join('\n');
}

/**
 * How long a master cut off from its replicas and Sentinels kept acknowledging plain
 * writes (all lost): bounded by min-replicas-max-lag, which Redis tracks in whole seconds.
 */
function windowLines(results: ReadonlyMap<string, FaultResult>): string[] {
  const isolated = results.get('isolated-master')?.acceptedAfterCut ?? [];
  if (isolated.length === 0) return [];
  return [
    `An isolated master (cut from replicas and Sentinels, the client still reaching it) kept acknowledging plain writes for ${quantile(isolated, 0.5).toFixed(2)} s (median) and at most ${Math.max(...isolated).toFixed(2)} s after the cut, over ${isolated.length} runs, until \`min-replicas-max-lag 2\` made it answer NOREPLICAS or the client moved to the new master, whichever came first; the client had stopped confirming durable writes earlier, when the Sentinels reported the master down.`,
  ];
}
