import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../stack/binaries.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { repoPath, runbookFiles } from './support/bundle.js';
import { codeBlocks, readRunbook } from './support/runbooks.js';

/** The rcli()/ccli() definitions exactly as runbooks/README.md gives them to the on-call. */
function helperFunctions(): string {
  const readme = readFileSync(repoPath('runbooks', 'README.md'), 'utf8');
  const lines = codeBlocks(readme, 'sh')
    .flatMap((b) => b.split('\n'))
    .filter((l) => /^(rcli|ccli)\(\) \{/.test(l));
  expect(lines).toHaveLength(2);
  return lines.join('\n');
}

/** The `ccli ...` lines of a runbook's Diagnosis section: the cluster commands this test runs. */
function clusterCommands(file: string): string[] {
  const diagnosis = readRunbook(file).sections.get('Diagnosis') ?? '';
  return codeBlocks(diagnosis, 'sh')
    .flatMap((block) => block.split('\n'))
    .map((line) => line.trim())
    .filter((line) => line.startsWith('ccli '));
}

interface Outcome {
  readonly code: number;
  readonly output: string;
}

function bash(script: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['--norc', '--noprofile', '-c', `set -o pipefail\n${script}`],
      { env, timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

// Error replies redis-cli prints for a command that does not work as written, and the
// [ERR] lines of --cluster check on a cluster that is healthy here.
const BROKEN =
  /^(\(error\) )?(ERR|NOPERM|WRONGTYPE|NOAUTH|WRONGPASS|CLUSTERDOWN|MOVED)\b|\[ERR\]|Could not connect|AUTH failed|Unrecognized option|unknown subcommand|Unknown --cluster/m;

/** The `ccli ...` lines of every sh block of docs/cluster.md. */
function docCommands(): string[] {
  return codeBlocks(readFileSync(repoPath('docs', 'cluster.md'), 'utf8'), 'sh')
    .flatMap((block) => block.split('\n'))
    .map((line) => line.trim())
    .filter((line) => line.startsWith('ccli '));
}

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
const functions = helperFunctions();

beforeAll(async () => {
  requireBinary('redis-cli');
  cluster = await ClusterTopology.start();
  const { tls, auth } = cluster.describe();
  if (!tls || !auth) throw new Error('the cluster must run TLS with ACL users');
  // The README's layout: $TLS_DIR/ca.crt, client.crt, client.key.
  tlsDir = mkdtempSync(join(tmpdir(), 'redscope-runbook-cluster-tls-'));
  symlinkSync(tls.caFile, join(tlsDir, 'ca.crt'));
  symlinkSync(tls.certFile, join(tlsDir, 'client.crt'));
  symlinkSync(tls.keyFile, join(tlsDir, 'client.key'));
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
    expect((await bash(`${functions}\nccli ACL WHOAMI`, env)).output.trim()).toBe('admin');
    // A key of another shard than the seed's: rcli (no -c) gets MOVED, ccli follows it.
    expect((await bash(`${functions}\nrcli SET {runbook}:probe 1`, env)).output).toMatch(/MOVED/);
    const set = await bash(
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
    const outcome = await bash(`${functions}\n${command}`, env);
    expect(outcome.output, command).not.toMatch(BROKEN);
    expect(outcome.code, `${command}\n${outcome.output}`).toBe(0);
  });

  it('a misspelt command or a Sentinel command would fail this test', async () => {
    expect((await bash(`${functions}\nccli CLUSTER NODEZ`, env)).output).toMatch(BROKEN);
    expect((await bash(`${functions}\nccli SENTINEL MASTERS`, env)).output).toMatch(BROKEN);
  });
});

describe('the failing-node command of RedisClusterShardMasterDown on a cluster with a dead master', () => {
  it('names the killed master and only it', async () => {
    const failingNodes = clusterCommands('RedisClusterShardMasterDown.md').find((c) =>
      c.includes('fail'),
    );
    expect(failingNodes).toBeDefined();
    const healthy = await bash(`${functions}\n${failingNodes}`, env);
    expect(healthy).toEqual({ code: 0, output: '' });

    const victim = cluster.names('master').find((n) => n !== 'redis-0') as string;
    const port = cluster.port(victim);
    await cluster.kill(victim);
    // The cluster flags it fail? after cluster-node-timeout, fail once a majority agrees.
    const lines = await pollUntil(async () => {
      const outcome = await bash(`${functions}\n${failingNodes}`, env);
      return / master,fail /.test(outcome.output) ? outcome.output : undefined;
    }, 20_000);
    const rows = lines.trim().split('\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(`:${port}@`);
    expect(rows[0]).toMatch(/ master,fail /);
  });
});

async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for a node flagged fail`);
}
