import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HttpService, startHttpService } from '../../stack/http-service.js';
import { waitUntil } from '../../stack/partition-faults.js';
import { freePort } from '../../stack/ports.js';
import { packageRoot } from '../../stack/repo-paths.js';
import { RedisTopology } from '../../stack/topology.js';
import { portOf, sharedTopology } from '../support/shared-topology.js';

/**
 * `redscope demo --rate` as `redscope up` runs it (bin/redscope.js, so dist/
 * must be built), against the shared topology's TLS Sentinels as the app user.
 * Without a hot-key secret: no hot-key report lands in the shared Redis.
 */

const dir = mkdtempSync(join(tmpdir(), 'redscope-demo-cli-'));
let service: HttpService | undefined;
let plain: RedisTopology | undefined;

afterAll(async () => {
  await service?.stop();
  await plain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `redscope demo <args>` on a free port, ready when /healthz answers; its output in `<dir>/<name>/demo.out`. */
async function startCli(name: string, args: readonly string[]) {
  const port = await freePort();
  service = await startHttpService({
    name: 'demo',
    command: process.execPath,
    args: [
      join(packageRoot(), 'bin', 'redscope.js'),
      'demo',
      ...args,
      '--listen',
      `127.0.0.1:${port}`,
    ],
    dir: join(dir, name),
    url: `http://127.0.0.1:${port}`,
    readyPath: '/healthz',
  });
  const output = () => readFileSync(join(dir, name, 'demo.out'), 'utf8');
  await waitUntil(
    'the start line',
    async () => output().includes('redscope demo: listening'),
    10_000,
  );
  return {
    port,
    output,
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    /** SIGTERM, and its exit code. */
    async stop(): Promise<number | null> {
      const running = service;
      service = undefined;
      const exited = running?.process.waitForExit();
      await running?.stop();
      return (await exited) ?? null;
    },
  };
}

function metric(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.split(' ').at(-1));
}

describe('redscope demo --rate', () => {
  describe('happy', () => {
    it('starts as after a restart, warms its returning sessions, runs its load, and says so from start to stop', async () => {
      const shared = sharedTopology();
      const { users, tls, masterName } = shared;
      if (!users || !tls) throw new Error('the shared topology runs with ACL and TLS');
      const passwordFile = join(dir, 'app.password');
      writeFileSync(passwordFile, `${users.app.password}\n`, { mode: 0o600 });
      const database = join(dir, 'database');
      const demo = await startCli('tls', [
        '--sentinels',
        `127.0.0.1:${portOf(shared, 'sentinel')}`,
        '--master-name',
        masterName,
        '--username',
        users.app.username,
        '--password-file',
        passwordFile,
        '--tls-ca',
        tls.caFile,
        '--tls-cert',
        tls.certFile,
        '--tls-key',
        tls.keyFile,
        '--rate',
        '30',
        '--hot-key-rate',
        '300',
        '--returning-sessions',
        '20',
        '--database-dir',
        database,
      ]);
      const { port, output, metrics } = demo;
      expect(output()).toContain(
        `redscope demo: listening on http://127.0.0.1:${port}, load 30 requests/s (hot key 300/min, 20 returning sessions)`,
      );
      const namespace = 'demo:session:';
      await waitUntil(
        'the start-up run to finish',
        async () =>
          metric(
            await metrics(),
            `redscope_client_warming_runs_total{namespace="${namespace}",outcome="done"}`,
          ) === 1,
        10_000,
      );
      const text = await metrics();
      expect(
        metric(text, `redscope_client_warming_planned_keys{namespace="${namespace}"}`),
      ).toBeGreaterThanOrEqual(20);
      expect(
        metric(
          text,
          `redscope_client_warming_keys_total{namespace="${namespace}",result="warmed"}`,
        ),
      ).toBeGreaterThan(0);
      // The returning sessions are rows of its database folder, with the sessions of its logins.
      expect(
        readdirSync(database).filter((f) => f.endsWith('.json')).length,
      ).toBeGreaterThanOrEqual(20);
      // The load validates sessions: the cache counts them, at about the rate.
      await waitUntil(
        'session validations',
        async () => (metric(await metrics(), 'redscope_session_cache_hits_total') ?? 0) >= 40,
        10_000,
      );

      expect(await demo.stop()).toBe(0);
      expect(output()).toMatch(
        /redscope demo: the load sent [1-9]\d* requests, 0 answered unexpectedly, 0 dropped\n/,
      );
    });

    it('runs over plain TCP with --no-tls, as `redscope up --no-tls` starts it', async () => {
      plain = await RedisTopology.start({ tls: false, acl: false, replicas: 1, sentinels: 1 });
      const { nodes, masterName } = plain.describe();
      const sentinel = nodes.find((n) => n.role === 'sentinel');
      const demo = await startCli('plain', [
        '--sentinels',
        `127.0.0.1:${sentinel?.port}`,
        '--master-name',
        masterName,
        '--no-tls',
        '--rate',
        '20',
        '--returning-sessions',
        '0',
      ]);
      // The hot key defaults to a quarter of the rate.
      expect(demo.output()).toContain(`, load 20 requests/s (hot key 300/min)\n`);
      await waitUntil(
        'session validations',
        async () => (metric(await demo.metrics(), 'redscope_session_cache_hits_total') ?? 0) >= 20,
        10_000,
      );
      expect(await demo.stop()).toBe(0);
      expect(demo.output()).toMatch(/the load sent [1-9]\d* requests, 0 answered unexpectedly/);
    });
  });
});
