import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { showHotKeys } from '../../cli/commands/hotkeys.js';
import { HOTKEY_REPORT_INDEX } from '../../client/common/hotkey-report.js';
import { loadExporterConfig } from '../../exporter/config.js';
import { ClusterTopology } from '../../stack/cluster-topology.js';
import { publishHotKeyReport, reportEntry } from '../exporter/support/hotkey-report-writer.js';
import { runCli } from './support/run-cli.js';

// One TLS + ACL cluster (3 masters, 3 replicas): the last test fails a master over.
let cluster: ClusterTopology;
let dir: string;
/** The master serving `{hotkeys}` at start, and its replica. */
let owner: string;
let ownerReplica: string;
let flags: string[];

const urlOf = (name: string) => `rediss://127.0.0.1:${cluster.port(name)}`;

const run = (args: readonly string[]) => runCli(['hotkeys', ...args]);

beforeAll(async () => {
  cluster = await ClusterTopology.start();
  owner = await cluster.masterNameOf(HOTKEY_REPORT_INDEX);
  // redis-(3+i) replicates redis-i at start.
  ownerReplica = `redis-${3 + Number(owner.slice('redis-'.length))}`;
  const admin = cluster.connect(cluster.port(owner));
  try {
    await publishHotKeyReport(admin, 'demo@web-1:101', [reportEntry('demo:org:7', 4200)], 60_000);
    // Replicated before the failover below promotes the replica.
    await admin.call('WAIT', '1', '2000');
  } finally {
    admin.disconnect();
  }
  const { users, tls } = cluster.describe();
  if (!users || !tls) throw new Error('the cluster runs with ACL users and TLS');
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-hotkeys-cluster-'));
  const passwordFile = join(dir, 'exporter.password');
  writeFileSync(passwordFile, `${users.exporter.password}\n`, { mode: 0o600 });
  flags = [
    '--username',
    users.exporter.username,
    '--password-file',
    passwordFile,
    '--tls-ca',
    tls.caFile,
    '--tls-cert',
    tls.certFile,
    '--tls-key',
    tls.keyFile,
  ];
}, 60_000);

afterEach(() => {
  process.exitCode = undefined;
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('redscope hotkeys on a TLS Redis Cluster', () => {
  describe('happy', () => {
    it('reads the reports from the master serving {hotkeys}, given any other master or a replica', async () => {
      const others = ['redis-0', 'redis-1', 'redis-2', 'redis-3', 'redis-4', 'redis-5'].filter(
        (name) => name !== owner && name !== ownerReplica,
      );
      for (const seed of [others[0], others.at(-1)] as string[]) {
        const { code, out, err } = await run(['--redis-url', urlOf(seed), ...flags, '--json']);
        expect(err, seed).toBe('');
        expect(code, seed).toBe(0);
        const view = JSON.parse(out);
        expect(view.target, seed).toBe(urlOf(owner));
        expect(view.reports).toBe(1);
        expect(view.keys[0]).toMatchObject({ key: 'demo:org:7', rate: 4200 });
      }
    });

    it('follows the reports to the promoted replica when their master fails over while it refreshes', async () => {
      const seed = ['redis-0', 'redis-1', 'redis-2'].find((name) => name !== owner) as string;
      const { users, tls } = cluster.describe();
      const config = loadExporterConfig({
        flags: {
          'redis-url': urlOf(seed),
          username: users?.exporter.username,
          'tls-ca': tls?.caFile,
          'tls-cert': tls?.certFile,
          'tls-key': tls?.keyFile,
        },
        env: { REDSCOPE_PASSWORD: users?.exporter.password },
      });
      const targets: string[] = [];
      const controller = new AbortController();
      let failedOver: Promise<unknown> | undefined;
      const done = showHotKeys({
        config,
        top: 10,
        intervalSeconds: 0.5,
        refresh: true,
        json: true,
        io: {
          out: (line) => {
            const view = JSON.parse(line) as { target?: string; reports?: number };
            if (view.target) targets.push(view.target);
            if (targets.length === 1 && !failedOver) {
              // A coordinated failover: the replica takes the slots, the master steps down.
              const replica = cluster.connect(cluster.port(ownerReplica));
              failedOver = replica.call('CLUSTER', 'FAILOVER').finally(() => replica.disconnect());
            }
            if (view.target === urlOf(ownerReplica) && view.reports === 1) controller.abort();
          },
          err: () => undefined,
        },
        signal: controller.signal,
      });
      const timer = setTimeout(() => controller.abort(), 20_000);
      try {
        expect(await done).toBe(0);
      } finally {
        clearTimeout(timer);
      }
      await failedOver;
      expect(targets[0]).toBe(urlOf(owner));
      expect(targets.at(-1)).toBe(urlOf(ownerReplica));
    }, 30_000);
  });

  describe('unhappy', () => {
    it('names the master it was redirected to when that master refuses the read', async () => {
      const seed = ['redis-0', 'redis-1', 'redis-2'].find(
        (name) => name !== owner && name !== ownerReplica,
      ) as string;
      // Reads allowed on the seed, not on the master serving the reports.
      const serving = await cluster.masterNameOf(HOTKEY_REPORT_INDEX);
      for (const [name, rules] of [
        [seed, ['+zrevrange']],
        [serving, ['-zrevrange']],
      ] as const) {
        const admin = cluster.connect(cluster.port(name));
        try {
          await admin.call(
            'ACL',
            'SETUSER',
            'half-reader',
            'on',
            '>pw-half-reader',
            '~*',
            '-@all',
            '+info',
            ...rules,
          );
        } finally {
          admin.disconnect();
        }
      }
      const passwordFile = join(dir, 'half-reader.password');
      writeFileSync(passwordFile, 'pw-half-reader\n', { mode: 0o600 });
      const { tls } = cluster.describe();
      const { code, out, err } = await run([
        '--redis-url',
        urlOf(seed),
        '--username',
        'half-reader',
        '--password-file',
        passwordFile,
        '--tls-ca',
        String(tls?.caFile),
        '--tls-cert',
        String(tls?.certFile),
        '--tls-key',
        String(tls?.keyFile),
        '--once',
      ]);
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(
        new RegExp(
          `^redscope hotkeys: Redis at ${urlOf(serving)} \\(the master serving \\{hotkeys\\}, as ${urlOf(seed)} named it\\) refused to read the reports \\(NOPERM`,
        ),
      );
      expect(err).not.toContain('pw-half-reader');
    });
  });
});
