import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../stack/ports.js';
import { writeStackState } from '../../stack/stack-state.js';
import { RedisTopology, type TopologyDescription } from '../../stack/topology.js';
import { nodeNameOf, waitFor, waitForReplicas } from '../ha/support/load.js';
import { fakeUpPid } from './support/fake-up.js';
import { runCli } from './support/run-cli.js';

let topology: RedisTopology;
let description: TopologyDescription;
let dir: string;
let passwordFile: string;

const run = (...args: string[]) => runCli(['failover', ...args]);

/** Everything a drill against the topology needs, as flags (no stack.json). */
function flags(): string[] {
  const tls = description.tls;
  if (!tls) throw new Error('the topology runs without TLS');
  const sentinels = description.nodes
    .filter((n) => n.role === 'sentinel')
    .map((n) => `${n.host}:${n.port}`);
  return [
    '--sentinels',
    sentinels.join(','),
    '--master-name',
    description.masterName,
    '--tls-ca',
    tls.caFile,
    '--tls-cert',
    tls.certFile,
    '--tls-key',
    tls.keyFile,
    '--state-dir',
    join(dir, 'no-stack'),
  ];
}

/**
 * The current master has a replica in sync, and every Sentinel counts a
 * replica it could promote (flags exactly `slave`: up and connected). Not its
 * link status: Sentinel reads a replica's INFO every 10 s, and accepts one
 * whose link went down seconds ago. A demoted master takes Sentinel ~10 s to
 * count as a replica again: the topology has a spare so no drill waits for it.
 */
async function settled(): Promise<void> {
  await waitForReplicas(topology, 1);
  await waitFor('every Sentinel to see a replica in sync', async () => {
    for (const port of topology.names('sentinel').map((n) => topology.port(n))) {
      const client = topology.connect(port);
      try {
        const rows = (await client.call(
          'SENTINEL',
          'REPLICAS',
          description.masterName,
        )) as string[][];
        const good = rows
          .map((row) =>
            Object.fromEntries(row.flatMap((v, i) => (i % 2 === 0 ? [[v, row[i + 1]]] : []))),
          )
          .filter((r) => r.flags === 'slave');
        if (good.length === 0) return false;
      } finally {
        client.disconnect();
      }
    }
    return true;
  });
}

/** `flags` of the master group as each Sentinel sees it (`failover_in_progress` during one). */
async function sentinelFlags(): Promise<string[]> {
  return Promise.all(
    topology.names('sentinel').map(async (name) => {
      const client = topology.connect(topology.port(name));
      try {
        const fields = (await client.call(
          'SENTINEL',
          'MASTER',
          description.masterName,
        )) as string[];
        return fields[fields.indexOf('flags') + 1] ?? '';
      } finally {
        client.disconnect();
      }
    }),
  );
}

/** A stack.json as `redscope up` writes it, naming the topology, in a new state dir under `dir`. */
function stackState(name: string, adminPasswordFile: string): string {
  const tls = description.tls;
  if (!tls) throw new Error('the topology runs without TLS');
  const stateDir = join(dir, name);
  mkdirSync(stateDir);
  const none = 'http://127.0.0.1:9';
  writeStackState(stateDir, {
    // This process: alive, as `redscope up` would be.
    pid: fakeUpPid(),
    startedAt: new Date().toISOString(),
    mode: 'sentinel',
    urls: {
      prometheus: none,
      alertmanager: none,
      exporter: none,
      demo: none,
      receivers: none,
      traces: none,
    },
    sentinels: description.nodes
      .filter((n) => n.role === 'sentinel')
      .map((n) => `${n.host}:${n.port}`),
    masterName: description.masterName,
    tls,
    admin: { username: description.auth?.username ?? '', passwordFile: adminPasswordFile },
    logDir: stateDir,
  });
  return stateDir;
}

const FAILOVER_LINE =
  /^failover of redscope: 127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:(\d+) in (\d+\.\d) s$/m;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-failover-'));
  topology = await RedisTopology.start({
    tls: true,
    // Three drills, each needing a replica in sync; the crash takes one for good.
    replicas: 3,
    // Three failovers in one file: Sentinel waits 2 x failover-timeout before it fails
    // the same master group over again on its own (the crash), 10 s with the shipped 5 s.
    sentinelOverrides: { 'sentinel failover-timeout': 'redscope 2000' },
  });
  description = topology.describe();
  const auth = description.auth;
  if (!auth) throw new Error('the topology runs without ACL users');
  passwordFile = join(dir, 'admin.password');
  writeFileSync(passwordFile, `${auth.password}\n`, { mode: 0o600 });
});

afterEach(() => {
  process.exitCode = undefined;
});

afterAll(async () => {
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('redscope failover against a real Sentinel topology (TLS)', () => {
  describe('happy', () => {
    it('--crash kills the master process (kill -9) and waits for the Sentinels to elect another', async () => {
      await settled();
      const before = await topology.currentMasterPort();
      const victim = nodeNameOf(topology, before);
      const pid = topology.pid(victim);
      const killedAfter = Date.now();
      const { code, out, err } = await run(
        ...flags(),
        '--crash',
        '--username',
        description.auth?.username ?? '',
        '--password-file',
        passwordFile,
      );
      expect(code, err).toBe(0);
      const killed = new RegExp(
        `^killed redscope master 127\\.0\\.0\\.1:${before} \\(pid ${pid}\\) at (\\S+)$`,
        'm',
      ).exec(out);
      expect(killed, out).not.toBeNull();
      const at = Date.parse(killed?.[1] ?? '');
      expect(at).toBeGreaterThanOrEqual(killedAfter);
      expect(at).toBeLessThanOrEqual(Date.now());
      // The kill line comes first, the new master after.
      const [, from, to] = FAILOVER_LINE.exec(out) ?? [];
      expect(out.indexOf('killed')).toBeLessThan(out.indexOf('failover of'));
      expect(Number(from)).toBe(before);
      expect(Number(to)).not.toBe(before);
      expect(await topology.currentMasterPort()).toBe(Number(to));
      // It returned once the failover was over: a next drill is not refused with INPROG.
      for (const flags of await sentinelFlags()) expect(flags).not.toContain('failover');
      // SIGKILL, not a shutdown: the supervisor saw it die of the signal.
      await waitFor('the killed master to be gone', () => topology.pid(victim) === undefined, 5000);
      expect(() => process.kill(pid as number, 0)).toThrow();
    });

    it('fails over on request with explicit flags and prints old -> new and the time it took', async () => {
      await settled();
      const before = await topology.currentMasterPort();
      const { code, out, err } = await run(...flags());
      expect(code, err).toBe(0);
      const [, from, to, seconds] = FAILOVER_LINE.exec(out) ?? [];
      expect(Number(from)).toBe(before);
      expect(Number(to)).not.toBe(before);
      expect(Number(seconds)).toBeGreaterThan(0);
      expect(Number(seconds)).toBeLessThan(30);
      expect(await topology.currentMasterPort()).toBe(Number(to));
      expect(err).toContain(`Sentinel 127.0.0.1:`);
    });

    it('takes Sentinels, master name and TLS files from a running stack.json', async () => {
      await settled();
      const before = await topology.currentMasterPort();
      const stateDir = stackState('state', passwordFile);
      const { code, out, err } = await run('--state-dir', stateDir, '--timeout', '20');
      expect(code, err).toBe(0);
      const [, from, to] = FAILOVER_LINE.exec(out) ?? [];
      expect(Number(from)).toBe(before);
      expect(await topology.currentMasterPort()).toBe(Number(to));
    });
  });

  describe('unhappy', () => {
    it('exits 1 when no Sentinel monitors the master name given', async () => {
      const args = flags();
      args[args.indexOf('--master-name') + 1] = 'nope';
      const { code, err, out } = await run(...args);
      expect(out).toBe('');
      expect(code).toBe(1);
      expect(err).toMatch(
        /^redscope failover: no Sentinel of 127\.0\.0\.1:\d+, .* monitors a master named "nope"/,
      );
      expect(err).toContain('check --master-name');
    });

    it('exits 1 naming every Sentinel when none can be reached', async () => {
      const ports = await freePorts(2);
      const args = flags();
      args[args.indexOf('--sentinels') + 1] = ports.map((p) => `127.0.0.1:${p}`).join(',');
      const started = Date.now();
      const { code, err } = await run(...args);
      expect(code).toBe(1);
      expect(err).toMatch(/^redscope failover: cannot reach any Sentinel: /);
      for (const port of ports) expect(err).toContain(`127.0.0.1:${port}: connect ECONNREFUSED`);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('--crash without data-node credentials refuses before killing anything', async () => {
      const before = await topology.currentMasterPort();
      const pid = topology.pid(nodeNameOf(topology, before));
      const { code, err, out } = await run(...flags(), '--crash');
      expect(out).toBe('');
      expect(code).toBe(1);
      expect(err).toContain(`cannot read INFO server on the master 127.0.0.1:${before}: NOAUTH`);
      expect(err).toContain('give --username and --password-file');
      expect(topology.pid(nodeNameOf(topology, before))).toBe(pid);
    });
    it('--crash with the stack.json credentials sends them: a wrong password is refused, nothing killed', async () => {
      const wrong = join(dir, 'wrong.password');
      writeFileSync(wrong, 'not-the-password\n');
      const stateDir = stackState('wrong-password', wrong);
      const before = await topology.currentMasterPort();
      const pid = topology.pid(nodeNameOf(topology, before));
      const { code, err, out } = await run('--state-dir', stateDir, '--crash');
      expect(out).toBe('');
      expect(code).toBe(1);
      expect(err).toContain(`cannot read INFO server on the master 127.0.0.1:${before}: WRONGPASS`);
      expect(err).not.toContain('not-the-password');
      expect(topology.pid(nodeNameOf(topology, before))).toBe(pid);
    });
    // Last: it leaves a failover running.
    it('--no-wait returns once requested; a second request meanwhile is refused with INPROG in words', async () => {
      await settled();
      const before = await topology.currentMasterPort();
      const first = await run(...flags(), '--no-wait');
      expect(first.code, first.err).toBe(0);
      expect(first.out).toBe(
        `failover of redscope requested: master was 127.0.0.1:${before} (--no-wait: not waiting)\n`,
      );
      const second = await run(...flags());
      expect(second.code).toBe(1);
      expect(second.err).toMatch(
        /^redscope failover: Sentinel 127\.0\.0\.1:\d+ refused the failover of "redscope": a failover is already in progress \(INPROG\)/,
      );
    });
  });
});
