import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { repoPath, runbookFiles } from './support/bundle.js';
import { readmeFunctions, readmeTlsDir, runBash } from './support/runbook-shell.js';
import { diagnosisCommands, helperCommands, readRunbook } from './support/runbooks.js';
import { waitFor } from './support/wait-for.js';

/** The `ccli ...` lines of a runbook's Diagnosis section: the cluster commands this test runs. */
const clusterCommands = (file: string) => diagnosisCommands(readRunbook(file), ['ccli']);

// Error replies redis-cli prints for a command that does not work as written, and the
// [ERR] lines of --cluster check on a cluster that is healthy here.
const BROKEN =
  /^(\(error\) )?(ERR|NOPERM|WRONGTYPE|NOAUTH|WRONGPASS|CLUSTERDOWN|MOVED)\b|\[ERR\]|Could not connect|AUTH failed|Unrecognized option|unknown subcommand|Unknown --cluster/m;

/** The `ccli ...` lines of every sh block of docs/cluster.md. */
const docCommands = () =>
  helperCommands(readFileSync(repoPath('docs', 'cluster.md'), 'utf8'), ['ccli']);

const CLUSTER_RUNBOOKS = runbookFiles().filter((f) => f.startsWith('RedisCluster'));
const commands = [
  ...runbookFiles().flatMap((file) =>
    clusterCommands(file).map((command) => [file, command] as const),
  ),
  ...docCommands().map((command) => ['docs/cluster.md', command] as const),
];

// One TLS + ACL cluster for the file (3 masters, 3 replicas), as the runbooks assume.
let cluster: ClusterTopology;
let tlsDir: string;
let env: NodeJS.ProcessEnv;
const functions = readmeFunctions(['rcli', 'ccli']);

beforeAll(async () => {
  requireBinary('redis-cli');
  cluster = await ClusterTopology.start();
  const { tls, auth } = cluster.describe();
  if (!tls || !auth) throw new Error('the cluster must run TLS with ACL users');
  tlsDir = readmeTlsDir(tls, 'redscope-runbook-cluster-tls-');
  const seed = 'redis-0';
  env = {
    PATH: process.env.PATH,
    TLS_DIR: tlsDir,
    REDISCLI_AUTH: auth.password,
    HOST: cluster.host(seed),
    PORT: String(cluster.port(seed)),
  };
});

afterAll(async () => {
  await cluster?.stop();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

describe('cluster runbook Diagnosis commands and docs/cluster.md commands against a real TLS Redis Cluster', () => {
  it('the README helper reaches a cluster node as admin and follows redirects', async () => {
    expect((await runBash(`${functions}\nccli ACL WHOAMI`, env)).output.trim()).toBe('admin');
    // A key of another shard than the seed's: rcli (no -c) gets MOVED, ccli follows it.
    expect((await runBash(`${functions}\nrcli SET {runbook}:probe 1`, env)).output).toMatch(
      /MOVED/,
    );
    const set = await runBash(
      `${functions}\nccli SET {runbook}:probe 1 && ccli GET {runbook}:probe`,
      env,
    );
    expect(set.output).not.toMatch(BROKEN);
    expect(set.output.trim().split('\n')).toEqual(['OK', '1']);
  });

  it('every cluster runbook and docs/cluster.md give ccli commands to run', () => {
    expect(docCommands().length).toBeGreaterThan(0);
    expect(CLUSTER_RUNBOOKS.length).toBeGreaterThanOrEqual(6);
    for (const file of CLUSTER_RUNBOOKS) {
      expect(clusterCommands(file).length, file).toBeGreaterThan(0);
    }
  });

  // Concurrent: each command is a TLS handshake plus a process start (~0.2 s).
  it.concurrent.each(commands)('%s: %s', async (_file, command) => {
    const outcome = await runBash(`${functions}\n${command}`, env);
    expect(outcome.output, command).not.toMatch(BROKEN);
    expect(outcome.code, `${command}\n${outcome.output}`).toBe(0);
  });

  it('a misspelt command or a Sentinel command would fail this test', async () => {
    expect((await runBash(`${functions}\nccli CLUSTER NODEZ`, env)).output).toMatch(BROKEN);
    expect((await runBash(`${functions}\nccli SENTINEL MASTERS`, env)).output).toMatch(BROKEN);
  });
});

describe('the failing-node commands of the cluster runbooks on a cluster with a dead master', () => {
  it('name the killed master and only it, not a replica flagged nofailover', async () => {
    const listsFailing = (c: string) => / awk .*fail/.test(c);
    for (const file of [
      'RedisClusterShardMasterDown.md',
      'RedisClusterSlotsFailing.md',
      'RedisClusterSlotsPFail.md',
    ]) {
      expect(clusterCommands(file).filter(listsFailing), file).not.toEqual([]);
    }
    // Each distinct command once: the runbooks may share one.
    const failingNodes = [
      ...new Set(CLUSTER_RUNBOOKS.flatMap(clusterCommands).filter(listsFailing)),
    ];
    // Multi-DC layouts keep some replicas from failing over: their flags read slave,nofailover.
    const keptBack = cluster.names('replica')[0] as string;
    const admin = cluster.connect(cluster.port(keptBack));
    try {
      await admin.call('CONFIG', 'SET', 'cluster-replica-no-failover', 'yes');
      await waitFor(
        `${keptBack} flagged nofailover in the seed's CLUSTER NODES`,
        async () => {
          const nodes = await runBash(`${functions}\nccli CLUSTER NODES`, env);
          return nodes.output.includes(',nofailover ') ? true : undefined;
        },
        10_000,
        200,
      );
      for (const command of failingNodes) {
        expect(await runBash(`${functions}\n${command}`, env), command).toEqual({
          code: 0,
          output: '',
        });
      }

      const victim = cluster.names('master').find((n) => n !== 'redis-0') as string;
      const port = cluster.port(victim);
      await cluster.kill(victim);
      // The cluster flags it fail? after cluster-node-timeout, fail once a majority agrees.
      for (const command of failingNodes) {
        const lines = await waitFor(
          `${command} to list a node flagged fail`,
          async () => {
            const outcome = await runBash(`${functions}\n${command}`, env);
            return / master,fail /.test(outcome.output) ? outcome.output : undefined;
          },
          20_000,
          200,
        );
        const rows = lines.trim().split('\n');
        expect(rows, command).toHaveLength(1);
        expect(rows[0]).toContain(`:${port}@`);
        expect(rows[0]).toMatch(/ master,fail /);
      }
    } finally {
      await admin.call('CONFIG', 'SET', 'cluster-replica-no-failover', 'no').catch(() => undefined);
      admin.disconnect();
    }
  });
});
