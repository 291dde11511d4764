import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  parseWarmingStatus,
  WARMING_STATUS_INDEX,
  type WarmingStatus,
  warmingUsageKey,
} from '../../client/common/warming-status.js';
import { RedisTopology } from '../../stack/topology.js';
import { clientFor, portOf, sharedTopology } from '../support/shared-topology.js';
import { runCli } from './support/run-cli.js';

const LOADER = join(import.meta.dirname, 'fixtures', 'warm-loader.mjs');
const ENTRY = join(import.meta.dirname, '..', 'exporter', 'support', 'cli-entry.ts');
const NAMESPACE = 'demo:session:';
const USAGE = warmingUsageKey(NAMESPACE);

// The cold Redis to warm and a warm one to copy from, each our own: the tests flush them.
let cold: RedisTopology;
let warmTopology: RedisTopology;
let target: Redis;
let source: Redis;
let coldUrl: string;
let warmUrl: string;
let dir: string;

const run = (args: readonly string[], terminal = false) => runCli(['warm', ...args], terminal);

/** A usage record as the clients keep it: key names scored by use, the first the most used. */
async function recordUsage(redis: Redis, keys: readonly string[]): Promise<void> {
  await redis.zadd(USAGE, ...keys.flatMap((key, i) => [String(keys.length - i), key]));
}

const sessions = (n: number, prefix = NAMESPACE) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

/** The status records of the runs, by namespace. */
async function statuses(redis: Redis): Promise<WarmingStatus[]> {
  const members = await redis.zrange(WARMING_STATUS_INDEX, '0', '-1');
  const found: WarmingStatus[] = [];
  for (const member of members) {
    const raw = await redis.get(`redscope:{warming}:status:${member}`);
    const parsed = raw === null ? undefined : parseWarmingStatus(raw);
    if (parsed?.ok) found.push(parsed.status);
  }
  return found;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-warm-'));
  const options = {
    tls: false,
    acl: false,
    replicas: 0,
    sentinels: 0,
    redisOverrides: { 'min-replicas-to-write': '0' },
  } as const;
  [cold, warmTopology] = await Promise.all([
    RedisTopology.start(options),
    RedisTopology.start(options),
  ]);
  target = cold.connect(cold.port('redis-0'));
  source = warmTopology.connect(warmTopology.port('redis-0'));
  coldUrl = `redis://127.0.0.1:${cold.port('redis-0')}`;
  warmUrl = `redis://127.0.0.1:${warmTopology.port('redis-0')}`;
}, 60_000);

afterEach(async () => {
  process.exitCode = undefined;
  await Promise.all([target.flushall(), source.flushall()]);
});

afterAll(async () => {
  target?.disconnect();
  source?.disconnect();
  await Promise.all([cold?.stop(), warmTopology?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('redscope warm against a real Redis', () => {
  describe('happy', () => {
    it('prints the plan with --dry-run, most used keys first, and writes nothing', async () => {
      const keys = sessions(25);
      await recordUsage(target, keys);
      const before = await target.dbsize();
      const { code, out, err } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        NAMESPACE,
        '--loader',
        LOADER,
        '--rate',
        '10',
        '--dry-run',
      ]);
      expect(err).toBe('');
      expect(code).toBe(0);
      const lines = out.split('\n');
      expect(lines.slice(0, 8)).toEqual([
        'redscope warm --dry-run: the plan; nothing is written',
        `target:     ${coldUrl}`,
        `namespace:  ${NAMESPACE}`,
        `keys:       25, the top of the usage record ${USAGE} on ${coldUrl}`,
        `values:     loaded by ${LOADER} (TTL 300 s), written only where the key is missing`,
        'rate:       at most 10 keys/s, in pipelines of 100, 2 in flight',
        'estimate:   2.5 s at that rate (longer if the source is slower or live traffic makes it back off)',
        'first keys, most valuable first:',
      ]);
      expect(lines.slice(8, 11).map((l) => l.trim())).toEqual([
        `1  ${keys[0]}`,
        `2  ${keys[1]}`,
        `3  ${keys[2]}`,
      ]);
      expect(out).toContain(`10  ${keys[9]}\n        ... and 15 more\n`);
      expect(await target.dbsize()).toBe(before);
      expect(await target.exists(WARMING_STATUS_INDEX)).toBe(0);
    });

    it('takes the plan from the warm Redis when the cold one lost its usage record too', async () => {
      await recordUsage(source, sessions(3));
      const { code, out } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        NAMESPACE,
        '--from-redis',
        warmUrl,
        '--top',
        '2',
        '--dry-run',
      ]);
      expect(code).toBe(0);
      expect(out).toContain(
        `keys:       2, the top of the usage record ${USAGE} on ${warmUrl} (${coldUrl} has none)`,
      );
      expect(out).toContain(
        `values:     copied from ${warmUrl} (DUMP, RESTORE without REPLACE, TTLs kept)`,
      );
    });

    it('warms the usage record from a loader module: values and TTL written, live values kept, the run recorded as done', async () => {
      const keys = [...sessions(150), `${NAMESPACE}gone:missing`];
      await recordUsage(target, keys);
      // Live traffic filled this one first: warming must not overwrite it.
      await target.set(keys[3] as string, 'written-by-the-app');
      const { code, out, err } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        NAMESPACE,
        '--loader',
        LOADER,
        '--rate',
        '500',
      ]);
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(out.split('\n')[0]).toBe(
        `redscope warm: 151 keys of ${NAMESPACE} into ${coldUrl}, the top of the usage record ${USAGE} on ${coldUrl}; values loaded by ${LOADER} (TTL 300 s), written only where the key is missing; at most 500 keys/s (about 0.3 s). Ctrl-C stops.`,
      );
      expect(out).toMatch(
        /\ndone in \d+\.\d s: warmed 149, skipped 2 \(already filled or gone from the source\), failed 0, errors 0\n$/,
      );
      expect(await target.get(keys[0] as string)).toBe(`value-of:${keys[0]}`);
      expect(await target.get(keys[3] as string)).toBe('written-by-the-app');
      expect(await target.exists(`${NAMESPACE}gone:missing`)).toBe(0);
      const ttl = await target.ttl(keys[149] as string);
      expect(ttl).toBeGreaterThan(290);
      expect(ttl).toBeLessThanOrEqual(300);
      const [status] = await statuses(target);
      expect(status).toMatchObject({
        namespace: NAMESPACE,
        state: 'done',
        source: 'usage',
        planned: 151,
        warmed: 149,
        skipped: 2,
      });
    });

    it('copies from a warm Redis with the TTLs it has there, never over a value already in the cold one', async () => {
      const keys = sessions(40);
      for (const key of keys) await source.set(key, `warm:${key}`, 'PX', 100_000);
      await source.set(`${NAMESPACE}forever`, 'no ttl');
      await target.set(keys[0] as string, 'newer');
      const file = join(dir, 'copy.txt');
      writeFileSync(
        file,
        `${[...keys, `${NAMESPACE}forever`, `${NAMESPACE}nowhere`].join('\n')}\n`,
      );
      const { code, out, err } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        NAMESPACE,
        '--from-redis',
        warmUrl,
        '--keys-file',
        file,
      ]);
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(out).toContain(`42 keys of ${NAMESPACE} into ${coldUrl}, from ${file}; values copied`);
      // The key already there and the one the warm Redis lacks are skipped.
      expect(out).toMatch(/done in \d+\.\d s: warmed 40, skipped 2 /);
      expect(await target.get(keys[0] as string)).toBe('newer');
      expect(await target.get(keys[39] as string)).toBe(`warm:${keys[39]}`);
      const pttl = await target.pttl(keys[39] as string);
      expect(pttl).toBeGreaterThan(80_000);
      expect(pttl).toBeLessThanOrEqual(100_000);
      expect(await target.ttl(`${NAMESPACE}forever`)).toBe(-1);
      expect((await statuses(target))[0]).toMatchObject({ state: 'done', source: 'redis' });
    });

    it('shows plain progress lines, counts going up, when stdout is not a terminal', async () => {
      await recordUsage(target, sessions(300));
      const { code, out } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        NAMESPACE,
        '--loader',
        LOADER,
        '--rate',
        '250',
        '--progress-interval',
        '0.2',
      ]);
      expect(code).toBe(0);
      expect(out).not.toContain('\x1b[');
      const counts = [...out.matchAll(/: (\d+)\/300 keys \(\d+%\), warmed (\d+)/g)].map((m) =>
        Number(m[1]),
      );
      expect(counts.length).toBeGreaterThanOrEqual(3);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(counts.at(-1)).toBe(300);
      expect(out).toMatch(/keys\/s \(limit 250\), ETA \d+ s\n/);
    });

    it('draws a progress bar in place on a terminal', async () => {
      await recordUsage(target, sessions(200));
      const { code, out } = await run(
        ['--redis-url', coldUrl, '--namespace', NAMESPACE, '--loader', LOADER, '--rate', '400'],
        true,
      );
      expect(code).toBe(0);
      // shades_classic: the bar's full and empty cells, redrawn from the line start.
      expect(out).toContain('\u2588');
      expect(out).toContain('\x1b[1G');
      expect(out).toContain('\x1b[?25l'); // the cursor hidden while the bar is drawn
      expect(out).toContain(`${NAMESPACE} [`);
      expect(out).toMatch(/\| 200\/200 keys \| warmed 200 skipped 0 failed 0 \|/);
      expect(out).toMatch(/\ndone in \d+\.\d s: warmed 200/);
      expect(out).not.toMatch(/^warming /m);
    });

    it('says how far it got and exits 130 when Ctrl-C stops it midway; the status says cancelled', async () => {
      const keys = sessions(3000);
      await recordUsage(target, keys);
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          ENTRY,
          'warm',
          '--redis-url',
          coldUrl,
          '--namespace',
          NAMESPACE,
          '--loader',
          LOADER,
          '--rate',
          '300',
          '--progress-interval',
          '0.2',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => {
        err += String(d);
      });
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += String(d);
          // Midway: some keys warmed, most not.
          if (/warmed [1-9]\d{2}/.test(out)) resolve();
        });
        child.once('exit', () => reject(new Error(`exited before warming: ${out}${err}`)));
      });
      child.kill('SIGINT');
      expect(await exit).toBe(130);
      expect(err).toContain('redscope warm: stopping after the batches in flight');
      const last = out.trimEnd().split('\n').at(-1) ?? '';
      const match =
        /^cancelled after (\d+) of 3000 keys \((\d+)%\) in \d+\.\d s: warmed (\d+), skipped 0 .*; the other (\d+) keys were not warmed$/.exec(
          last,
        );
      expect(match, last).not.toBeNull();
      const warmed = Number(match?.[3]);
      expect(warmed).toBeGreaterThanOrEqual(100);
      expect(warmed).toBeLessThan(3000);
      expect(Number(match?.[4])).toBe(3000 - warmed);
      // Nothing left in flight: what Redis holds is what the command said it wrote.
      // + the usage record, the status and its index.
      expect(await target.dbsize()).toBe(warmed + 3);
      const [status] = await statuses(target);
      expect(status).toMatchObject({ state: 'cancelled', warmed, planned: 3000 });
    }, 30_000);

    it('warms through the TLS Sentinels of the shared topology as the app user', async () => {
      const shared = sharedTopology();
      const { users, tls, masterName } = shared;
      if (!users || !tls) throw new Error('the shared topology runs with ACL and TLS');
      const namespace = `warm-cli:${randomBytes(4).toString('hex')}:`;
      const keys = sessions(20, namespace);
      const file = join(dir, 'shared.txt');
      writeFileSync(file, keys.join('\n'));
      const passwordFile = join(dir, 'app.password');
      writeFileSync(passwordFile, `${users.app.password}\n`, { mode: 0o600 });
      const admin = clientFor(shared, portOf(shared, 'master'));
      try {
        const { code, out, err } = await run([
          '--sentinels',
          `rediss://127.0.0.1:${portOf(shared, 'sentinel')}`,
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
          '--namespace',
          namespace,
          '--keys-file',
          file,
          '--loader',
          LOADER,
        ]);
        expect(err).toBe('');
        expect(code).toBe(0);
        expect(out).toContain(`into the master "${masterName}" of rediss://127.0.0.1:`);
        expect(out).toMatch(/done in \d+\.\d s: warmed 20, skipped 0 /);
        expect(await admin.get(keys[7] as string)).toBe(`value-of:${keys[7]}`);
      } finally {
        await admin.del(...keys);
        admin.disconnect();
      }
    });
  });

  describe('unhappy', () => {
    it('exits 2 for a namespace with no usage record anywhere, naming where it looked', async () => {
      await recordUsage(target, sessions(3));
      const { code, out, err } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        'demo:sesion:',
        '--from-redis',
        warmUrl,
      ]);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toBe(
        `redscope: --namespace "demo:sesion:": no usage record ${warmingUsageKey('demo:sesion:')} on ${coldUrl} nor on ${warmUrl}, so nothing to warm; check the prefix (apps record the namespaces of their usage option), or give --keys-file FILE\n`,
      );
      expect(await target.exists(WARMING_STATUS_INDEX)).toBe(0);
    });

    it('exits 1 naming the warm Redis when it cannot be reached', async () => {
      await recordUsage(target, sessions(3));
      const gone = 'redis://127.0.0.1:1';
      const { code, err } = await run([
        '--redis-url',
        coldUrl,
        '--namespace',
        NAMESPACE,
        '--from-redis',
        gone,
      ]);
      expect(code).toBe(1);
      expect(err).toMatch(
        /^redscope warm: cannot reach the warm Redis at redis:\/\/127\.0\.0\.1:1: /,
      );
    }, 10_000);

    it('exits 1 with the refusal when the user may read but not write, and writes nothing', async () => {
      await recordUsage(target, sessions(5));
      await target.call('ACL', 'SETUSER', 'reader', 'on', '>pw-reader', '+@read', '+@connection');
      await target.call('ACL', 'SETUSER', 'reader', '+info', '+multi', '+exec', '~*');
      const passwordFile = join(dir, 'reader.password');
      writeFileSync(passwordFile, 'pw-reader\n');
      try {
        const { code, out, err } = await run([
          '--redis-url',
          coldUrl,
          '--username',
          'reader',
          '--password-file',
          passwordFile,
          '--namespace',
          NAMESPACE,
          '--loader',
          LOADER,
        ]);
        expect(code).toBe(1);
        expect(out).not.toContain('done in');
        expect(err).toMatch(
          /\nredscope warm: failed after 0 of 5 keys in \d+\.\d s: Redis refused: NOPERM .*'set'/,
        );
        expect(await target.exists(`${NAMESPACE}00000`)).toBe(0);
      } finally {
        await target.call('ACL', 'DELUSER', 'reader');
      }
    });

    it('exits 1 when the user may not read the usage record, naming the refusal', async () => {
      await recordUsage(target, sessions(3));
      await target.call('ACL', 'SETUSER', 'no-usage', 'on', '>pw-no-usage', '+@all', '~demo:*');
      const passwordFile = join(dir, 'no-usage.password');
      writeFileSync(passwordFile, 'pw-no-usage\n');
      try {
        const { code, err } = await run([
          '--redis-url',
          coldUrl,
          '--username',
          'no-usage',
          '--password-file',
          passwordFile,
          '--namespace',
          NAMESPACE,
          '--loader',
          LOADER,
        ]);
        expect(code).toBe(1);
        expect(err).toMatch(
          new RegExp(
            `^redscope warm: cannot read the usage record redscope:\\{warming\\}:usage:demo:session: on ${coldUrl}: NOPERM`,
          ),
        );
        expect(err).not.toContain('pw-no-usage');
      } finally {
        await target.call('ACL', 'DELUSER', 'no-usage');
      }
    });
  });
});

// A fixture path the tests rely on.
if (!existsSync(LOADER)) throw new Error(`missing fixture ${LOADER}`);
