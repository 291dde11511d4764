import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { showHotKeys } from '../../cli/commands/hotkeys.js';
import { HOTKEY_REPORT_INDEX, hotKeyReportKey } from '../../client/common/hotkey-report.js';
import { KeyRedactor } from '../../client/common/key-redaction.js';
import { loadExporterConfig } from '../../exporter/config.js';
import { RedisTopology } from '../../stack/topology.js';
import { publishHotKeyReport, reportEntry } from '../exporter/support/hotkey-report-writer.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';
import { runCli } from './support/run-cli.js';

const redactor = new KeyRedactor({ secret: 'cli-hotkeys-int-secret' });
const sessionLabel = redactor.redact(`demo:session:${randomBytes(32).toString('hex')}`);

let topology: RedisTopology;
let master: Redis;
let url: string;
let dir: string;

const run = (args: readonly string[], terminal = false) => runCli(['hotkeys', ...args], terminal);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-hotkeys-'));
  topology = await RedisTopology.start({
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  });
  master = topology.connect(topology.port('redis-0'));
  url = `redis://127.0.0.1:${topology.port('redis-0')}`;
  await publishHotKeyReport(master, 'demo@web-1:101', [
    reportEntry(sessionLabel, 3000, 300),
    reportEntry('demo:org:42', 200),
  ]);
  await publishHotKeyReport(master, 'demo@web-2:202', [reportEntry(sessionLabel, 2500, 250)]);
  await master.set(hotKeyReportKey('garbage'), 'not json at all', 'PX', 15_000);
  await master.zadd(HOTKEY_REPORT_INDEX, Date.now() + 15_000, 'garbage');
}, 60_000);

afterEach(() => {
  process.exitCode = undefined;
});

afterAll(async () => {
  master?.disconnect();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('redscope hotkeys against a real Redis', () => {
  describe('happy', () => {
    it('prints the merged top list once with --once', async () => {
      const { code, out, err } = await run(['--redis-url', url, '--once']);
      expect(err).toBe('');
      expect(code).toBe(0);
      const lines = out.split('\n');
      expect(lines[0]).toMatch(new RegExp(`^redscope hotkeys  ${url}  \\d{4}-`));
      expect(out).toMatch(
        /reports: 2, oldest \d+\.\d s old, threshold 1000\/min, keys over threshold: 1/,
      );
      expect(out).toContain('skipped reports: 1 not-json');
      const row = lines.find((l) => l.startsWith(sessionLabel));
      expect(row?.split(/\s+/)).toEqual([sessionLabel, '5500.0', '550.0', '2', 'yes']);
      expect(out).not.toContain('\x1b[');
    });

    it('prints once when stdout is not a terminal, even without --once', async () => {
      const { code, out } = await run(['--redis-url', url, '--top', '1']);
      expect(code).toBe(0);
      expect(out.match(/^redscope hotkeys /gm)).toHaveLength(1);
      expect(out).not.toContain('demo:org:42');
    });

    it('prints one JSON object with --json', async () => {
      const { code, out } = await run(['--redis-url', url, '--json']);
      expect(code).toBe(0);
      const view = JSON.parse(out);
      expect(view).toMatchObject({
        target: url,
        reports: 2,
        expired: 0,
        invalid: { 'too-large': 0, 'not-json': 1, invalid: 0, version: 0 },
        thresholdPerMinute: 1000,
        keysOverThreshold: 1,
      });
      expect(view.keys[0]).toEqual({
        key: sessionLabel,
        rate: 5500,
        redisRate: 550,
        processes: 2,
        overThreshold: true,
      });
      expect(view.keys[1]).toMatchObject({ key: 'demo:org:42', processes: 1 });
    });

    it('redraws the screen in place every interval on a terminal until stopped', async () => {
      let out = '';
      const controller = new AbortController();
      const done = showHotKeys({
        config: loadExporterConfig({ flags: { 'redis-url': url }, env: {} }),
        top: 10,
        intervalSeconds: 0.5,
        refresh: true,
        json: false,
        io: {
          out: (text) => {
            out += text;
            if (out.split('\x1b[H\x1b[2J').length > 3) controller.abort();
          },
          err: () => undefined,
        },
        signal: controller.signal,
      });
      expect(await done).toBe(0);
      const screens = out.split('\x1b[H\x1b[2J').slice(1);
      expect(screens).toHaveLength(3);
      for (const screen of screens) {
        expect(screen).toContain('(every 0.5 s, Ctrl-C quits)');
        expect(screen).toContain(sessionLabel);
      }
    });

    it('reaches the master through TLS Sentinels as the least-privilege exporter user', async () => {
      const shared = sharedTopology();
      const { users, tls, masterName } = shared;
      if (!users || !tls) throw new Error('the shared topology runs with ACL and TLS');
      // The app user publishes, as the client does: its ACL must allow the report commands.
      const app = clientFor(shared, portOf(shared, 'master'), users.app);
      const instance = `cli-test@${process.pid}:${randomBytes(4).toString('hex')}`;
      // Short segments: a token-like one would be refused as unredacted.
      const mine = `demo:cli:${process.pid}:${instance.slice(-8)}`;
      try {
        await publishHotKeyReport(app, instance, [reportEntry(mine, 4242)]);
        const passwordFile = join(dir, 'exporter.password');
        writeFileSync(passwordFile, `${users.exporter.password}\n`, { mode: 0o600 });
        const sentinel = portOf(shared, 'sentinel');
        const { code, out, err } = await run([
          '--sentinels',
          `rediss://127.0.0.1:${sentinel}`,
          '--master-name',
          masterName,
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
          '--top',
          '100',
          '--json',
        ]);
        expect(err).toBe('');
        expect(code).toBe(0);
        const view = JSON.parse(out);
        expect(view.target).toBe(`rediss://127.0.0.1:${portOf(shared, 'master')}`);
        expect(view.keys).toContainEqual({
          key: mine,
          rate: 4242,
          redisRate: 4242,
          processes: 1,
          overThreshold: true,
        });
      } finally {
        await app.del(hotKeyReportKey(instance));
        await app.zrem(HOTKEY_REPORT_INDEX, instance);
        app.disconnect();
      }
    });
  });

  describe('unhappy', () => {
    it('exits 1 naming the refusal when the user may not read the reports', async () => {
      await master.call('ACL', 'SETUSER', 'no-reports', 'on', '>pw-no-reports', '-@all', '+info');
      const passwordFile = join(dir, 'no-reports.password');
      writeFileSync(passwordFile, 'pw-no-reports\n');
      const { code, out, err } = await run([
        '--redis-url',
        url,
        '--username',
        'no-reports',
        '--password-file',
        passwordFile,
      ]);
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(
        new RegExp(`^redscope hotkeys: Redis at ${url} refused to read the reports \\(NOPERM`),
      );
      expect(err).toContain('%R~redscope:{hotkeys}* +zrevrange +strlen +mget');
      expect(err).not.toContain('pw-no-reports');
    });
  });
});
