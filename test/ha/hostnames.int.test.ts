import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NameNamespace } from '../../stack/name-namespace.js';
import { packageRoot } from '../../stack/repo-paths.js';
import {
  RESULT_PREFIX,
  scenarioHostnames,
  UNCERTIFIED_NAME,
  UNRESOLVABLE_NAME,
} from './support/hostname-names.js';

const SCENARIO = join(import.meta.dirname, 'support', 'hostname-scenario.ts');
/** The scenario's own budget; the test's is a little longer, so a hang ends here with its log. */
const SCENARIO_TIMEOUT_MS = 55_000;

interface Node {
  name: string;
  role: string;
  host: string;
  port: number;
}

/**
 * The Sentinel topology with every node addressed by a DNS name over IPv6:
 * the names resolve to `::1` only inside a network namespace this test
 * creates (its own hosts file, no change to the machine's resolver), and the
 * scenario process runs there (a vitest worker cannot enter a namespace).
 * The scenario (support/hostname-scenario.ts) prints what it observed; the
 * assertions are here.
 */
describe('a hostname topology on IPv6 loopback', () => {
  let namespace: NameNamespace | undefined;
  let child: ChildProcess | undefined;
  let observed: Record<string, unknown> = {};
  let stderr = '';
  let elapsedMs = 0;

  beforeAll(async () => {
    namespace = NameNamespace.create(scenarioHostnames(), '::1');
    const { command, args } = namespace.wrap(process.execPath, ['--import', 'tsx', SCENARIO]);
    const started = performance.now();
    const scenario = spawn(command, args, {
      cwd: packageRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = scenario;
    let stdout = '';
    scenario.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    scenario.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => scenario.kill('SIGKILL'), SCENARIO_TIMEOUT_MS);
      scenario.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    elapsedMs = performance.now() - started;
    const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
    if (code !== 0 || line === undefined) {
      throw new Error(`the scenario failed (exit ${code}):\n${stderr.slice(-6000)}`);
    }
    observed = JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, unknown>;
    console.info(
      `[hostnames] scenario ${Math.round(elapsedMs)} ms (topology up in ${observed.startMs} ms): ${JSON.stringify(observed)}`,
    );
  }, 60_000);

  afterAll(() => {
    // Kills whatever still runs inside (the scenario, its servers), then removes the namespace.
    if (child?.exitCode === null) child.kill('SIGKILL');
    namespace?.close();
  });

  const nodes = () => observed.nodes as Node[];
  const nodeNamed = (name: string) => nodes().find((n) => n.name === name) as Node;

  it('cleans up: the namespace and its hosts file are gone after close()', () => {
    // Checked on a second namespace, so the scenario's own stays until afterAll.
    const probe = NameNamespace.create(['probe.redscope.test']);
    const name = probe.name;
    expect(netnsList()).toContain(name);
    expect(existsSync(`/etc/netns/${name}/hosts`)).toBe(true);
    probe.close();
    expect(netnsList()).not.toContain(name);
    expect(existsSync(`/etc/netns/${name}`)).toBe(false);
  });

  it('sweeps what a killed run left (old, nothing running inside), never a namespace in use', async () => {
    // A run killed with SIGKILL gets no exit hook: its namespace and /etc/netns folder stay.
    const stale = `redscope-${randomBytes(4).toString('hex')}`;
    const busy = `redscope-${randomBytes(4).toString('hex')}`;
    const open = NameNamespace.create(['open.redscope.test']);
    let sleeper: ChildProcess | undefined;
    try {
      for (const name of [stale, busy]) {
        expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
        mkdirSync(`/etc/netns/${name}`, { recursive: true });
        writeFileSync(`/etc/netns/${name}/hosts`, '::1 left.redscope.test\n');
      }
      // Something still runs in `busy` (a run that is alive, or a server left behind).
      sleeper = spawn('ip', ['netns', 'exec', busy, 'sleep', '60'], { stdio: 'ignore' });
      await new Promise<void>((resolve) => sleeper?.once('spawn', () => resolve()));
      await waitUntil(
        () => spawnSync('ip', ['netns', 'pids', busy], { encoding: 'utf8' }).stdout.trim() !== '',
      );
      const only = [stale, busy, open.name];
      // Young namespaces may belong to a run that is still setting up: none goes.
      expect(NameNamespace.sweepStale({ only })).toEqual([]);
      // Eleven minutes on: the stale one goes with its folder; the busy and the open one stay.
      expect(NameNamespace.sweepStale({ only, now: Date.now() + 11 * 60_000 })).toEqual([stale]);
      expect(netnsList()).not.toContain(stale);
      expect(existsSync(`/etc/netns/${stale}`)).toBe(false);
      expect(netnsList()).toContain(busy);
      expect(netnsList()).toContain(open.name);
      expect(existsSync(`/etc/netns/${open.name}/hosts`)).toBe(true);
    } finally {
      if (sleeper?.pid !== undefined && sleeper.exitCode === null) sleeper.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const name of [stale, busy]) {
        spawnSync('ip', ['netns', 'delete', name]);
        rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
      }
      open.close();
    }
  });

  it('addresses every node by its name', () => {
    expect(nodes().map((n) => n.host)).toEqual(scenarioHostnames().slice(0, 6));
  });

  it('replicates by name: each replica follows the master by its name, link up', () => {
    const master = nodeNamed('redis-0');
    expect(observed.replicas).toEqual([
      { name: 'redis-1', masterHost: master.host, masterPort: master.port, link: 'up' },
      { name: 'redis-2', masterHost: master.host, masterPort: master.port, link: 'up' },
    ]);
    // The replicas announce their names, so the master lists them by name.
    expect([...(observed.masterSeesReplicas as string[])].sort()).toEqual([
      'redis-1.redscope.test',
      'redis-2.redscope.test',
    ]);
  });

  it('discovers by name: Sentinel gives the master, the replicas and its peers as names', () => {
    const sentinels = observed.sentinels as {
      master: string[];
      replicas: string[];
      peers: string[];
    };
    const master = nodeNamed('redis-0');
    expect(sentinels.master).toEqual([master.host, String(master.port)]);
    expect([...sentinels.replicas].sort()).toEqual(
      ['redis-1', 'redis-2'].map((n) => `${nodeNamed(n).host}:${nodeNamed(n).port}`),
    );
    expect([...sentinels.peers].sort()).toEqual([
      'sentinel-1.redscope.test',
      'sentinel-2.redscope.test',
    ]);
  });

  it('verifies TLS against the name dialled: the IP and an uncertified name are refused', () => {
    expect(observed.tls).toEqual({
      byName: 'ok',
      byIp: 'ERR_TLS_CERT_ALTNAME_INVALID',
      byUncertifiedName: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    expect(UNCERTIFIED_NAME).not.toMatch(/^(redis|sentinel)-/);
  });

  it('connects the client through Sentinels given by name, over IPv6, verified', () => {
    const master = nodeNamed('redis-0');
    expect(observed.clientSentinels).toEqual(
      ['sentinel-0', 'sentinel-1', 'sentinel-2'].map(
        (n) => `${nodeNamed(n).host}:${nodeNamed(n).port}`,
      ),
    );
    expect(observed.writerBefore).toEqual({
      dialed: master.host,
      remoteAddress: '::1',
      remoteFamily: 'IPv6',
      authorized: true,
    });
    expect(observed.firstWriteOnMaster).toBe('by-name');
    expect(observed.writerAddrOnMaster).toEqual([expect.stringMatching(/^\[?::1\]?:\d+$/)]);
  });

  it('the exporter scrapes the master through Sentinels by name, and /scrape by name', () => {
    const before = observed.exporterBefore as {
      metrics: { up: number; runId: string; masterRunId: string; replicas: string[] };
      sentinel: { up: number; masterAddress: string; failovers: number };
    };
    expect(observed.exporterUrl).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect(before.metrics.up).toBe(1);
    expect(before.metrics.runId).toBe(before.metrics.masterRunId);
    expect([...before.metrics.replicas].sort()).toEqual([
      'redis-1.redscope.test',
      'redis-2.redscope.test',
    ]);
    const master = nodeNamed('redis-0');
    expect(before.sentinel).toEqual({
      up: 1,
      masterAddress: `${master.host}:${master.port}`,
      failovers: 0,
    });
    // The allow-list names hosts, not addresses: the same node by IP is not allowed.
    expect(observed.scrapeByIpStatus).toBe(403);
  });

  it('a name that does not resolve is named in the error within seconds, by the client and the exporter', () => {
    const client = observed.unresolvableClient as { reason: string; message: string; ms: number };
    expect(client.reason).toBe('dns');
    expect(client.message).toContain(`getaddrinfo ENOTFOUND ${UNRESOLVABLE_NAME}`);
    expect(client.ms).toBeLessThan(3000);
    const exporter = observed.unresolvableExporter as {
      status: number;
      up: number;
      lastError: string;
      ms: number;
      logged: string[];
    };
    expect(exporter.status).toBe(200);
    expect(exporter.up).toBe(0);
    expect(exporter.lastError).toContain(UNRESOLVABLE_NAME);
    expect(exporter.ms).toBeLessThan(3000);
    expect(exporter.logged.some((err) => err.includes(UNRESOLVABLE_NAME))).toBe(true);
  });

  it('fails over on kill -9 of the master: the client writes again, on the new master by its name, over IPv6', () => {
    const failover = observed.failover as {
      switchMs: number;
      writeGapMs: number;
      newMaster: { host: string; port: number };
    };
    const candidates = ['redis-1', 'redis-2'].map((n) => nodeNamed(n));
    expect(candidates).toContainEqual(expect.objectContaining(failover.newMaster));
    expect(failover.newMaster.host).toMatch(/^redis-[12]\.redscope\.test$/);
    expect(failover.switchMs).toBeLessThan(10_000);
    expect(observed.writerAfter).toEqual({
      dialed: failover.newMaster.host,
      remoteAddress: '::1',
      remotePort: failover.newMaster.port,
      remoteFamily: 'IPv6',
      authorized: true,
    });
    expect(observed.writerAddrOnNewMaster).toEqual([expect.stringMatching(/^\[?::1\]?:\d+$/)]);
    const last = observed.lastAckOnNewMaster as { value: string | null; role: string };
    expect(last.role).toBe('master');
    expect(last.value).not.toBeNull();
    // Durable writes need the fence open: the writer is on the master the Sentinels named.
    expect(observed.durableAfter).toMatchObject({ ok: true });
    const switches = observed.switchLogged as { from: string; to: string }[];
    const master = nodeNamed('redis-0');
    expect(switches).toContainEqual({
      from: `${master.host}:${master.port}`,
      to: `${failover.newMaster.host}:${failover.newMaster.port}`,
    });
    expect((observed.load as { readErrors: number }).readErrors).toBe(0);
  });

  it('the exporter follows the failover: /metrics on the new master, the Sentinel families show the switch', () => {
    const failover = observed.failover as { newMaster: { host: string; port: number } };
    const after = observed.exporterAfter as {
      metrics: { up: number; runId: string; masterRunId: string };
      sentinel: { up: number; masterAddress: string; failovers: number };
    };
    expect(after.metrics.up).toBe(1);
    expect(after.metrics.runId).toBe(after.metrics.masterRunId);
    expect(after.sentinel).toEqual({
      up: 1,
      masterAddress: `${failover.newMaster.host}:${failover.newMaster.port}`,
      failovers: 1,
    });
  });

  it('has the killed master, restarted, replicate from the new master by its name', () => {
    const failover = observed.failover as { newMaster: { host: string; port: number } };
    expect(observed.oldMasterRejoined).toMatchObject({
      role: 'slave',
      masterHost: failover.newMaster.host,
      masterPort: failover.newMaster.port,
      link: 'up',
    });
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The namespaces `ip netns list` shows now. */
function netnsList(): string {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
}
