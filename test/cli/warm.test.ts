import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { plainProgress, progressLine } from '../../cli/warm-progress.js';
import type { WarmingProgress } from '../../client/warming/types.js';
import { freePort } from '../../stack/ports.js';
import { runCli } from './support/run-cli.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const LOADER = join(FIXTURES, 'warm-loader.mjs');
let dir: string;
let url: string;

const run = (...args: string[]) => runCli(['warm', ...args]);

const progress = (fields: Partial<WarmingProgress>): WarmingProgress => ({
  namespace: 'demo:session:',
  state: 'running',
  planned: 1000,
  warmed: 0,
  skipped: 0,
  failed: 0,
  errors: 0,
  rateLimit: 2000,
  keysPerSecond: 0,
  etaSeconds: undefined,
  elapsedMs: 0,
  ...fields,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redscope-cli-warm-'));
  // Nothing listens there: the checks below must all fail before any connection.
  url = `redis://127.0.0.1:${await freePort()}`;
});

// main() reports process.exitCode: one run's code must not leak into the next test.
afterEach(() => {
  process.exitCode = undefined;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('redscope warm on the command line', () => {
  describe('happy', () => {
    it('lists what to warm, from where, the rate and the connection flags in --help', async () => {
      const { code, out } = await run('--help');
      expect(code).toBe(0);
      for (const flag of [
        '--namespace',
        '--top',
        '--keys-file',
        '--from <PLAN>',
        '--loader',
        '--from-redis',
        '--from-username',
        '--from-password-file',
        '--from-tls-ca',
        '--rate',
        '--dry-run',
        '--progress-interval',
        '--redis-url',
        '--sentinels',
        '--master-name',
        '--username',
        '--password-file',
        '--tls-ca',
      ]) {
        expect(out).toContain(flag);
      }
      expect(out).not.toContain('--listen');
    });

    it('writes one plain line per progress, saying how far, how fast and how long is left', () => {
      expect(
        progressLine(
          progress({ warmed: 400, skipped: 90, failed: 10, errors: 3, keysPerSecond: 1990.4 }),
        ),
      ).toBe(
        'warming "demo:session:": 500/1000 keys (50%), warmed 400, skipped 90, failed 10, errors 3; 1990 keys/s (limit 2000), ETA ?',
      );
      expect(progressLine(progress({ planned: 0 }))).toBe('warming "demo:session:": starting');
      expect(progressLine(progress({ state: 'cancelled', warmed: 10 }))).toBe(
        'warming "demo:session:": 10/1000 keys (1%), warmed 10, skipped 0, failed 0, errors 0',
      );
    });

    it('repeats an unchanged line only after 10 s, and always draws the last one', () => {
      const lines: string[] = [];
      const view = plainProgress({ out: (t) => lines.push(t), err: () => undefined }, 0);
      view.start(progress({ planned: 0 }));
      view.update(progress({ planned: 0 }));
      view.update(progress({ warmed: 100 }));
      view.update(progress({ warmed: 100 }));
      view.stop(progress({ state: 'done', warmed: 1000 }));
      expect(lines).toEqual([
        'warming "demo:session:": starting\n',
        'warming "demo:session:": 100/1000 keys (10%), warmed 100, skipped 0, failed 0, errors 0; 0 keys/s (limit 2000), ETA ?\n',
        'warming "demo:session:": 1000/1000 keys (100%), warmed 1000, skipped 0, failed 0, errors 0\n',
      ]);
    });
  });

  describe('unhappy', () => {
    it.each<[string[], string]>([
      [['--loader', LOADER], '--namespace: give the key prefix to warm'],
      [
        ['--namespace', 'demo:session:'],
        'give --loader MODULE (values from the source of truth) or --from-redis URL (a copy from a warm Redis)',
      ],
      [
        ['--namespace', 'demo:session:', '--loader', LOADER, '--from-redis', 'redis://127.0.0.1:1'],
        '--loader: give either --loader or --from-redis, not both',
      ],
      [
        ['--namespace', 'demo:session:', '--loader', LOADER, '--from', 'replica'],
        '--from "replica": expected "usage" (the usage record); a list of keys is --keys-file FILE',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--from', 'usage', '--keys-file', 'k.txt'],
        '--keys-file: give either --keys-file or --from usage, not both',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--from-username', 'warm'],
        '--from-username: only applies with --from-redis',
      ],
      [
        ['--namespace', 'n:', '--from-redis', 'http://warm:6379'],
        '--from-redis "http://warm:6379": expected redis://host:port or rediss://host:port',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--rate', '0'],
        '--rate "0": expected keys per second, more than 0 and at most 1000000',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--rate', 'fast'],
        '--rate "fast": expected keys per second',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--top', '0'],
        '--top "0": expected a whole number from 1 to 1000000',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--progress-interval', '0'],
        '--progress-interval "0": expected seconds, at least 0.1',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER, '--log-level', 'loud'],
        '--log-level "loud": expected one of trace, debug, info, warn, error, fatal, silent',
      ],
      [
        ['--namespace', 'n:', '--loader', LOADER],
        'give --redis-url, or --sentinels with --master-name',
      ],
    ])('exits 2 with a clear message for %j', async (args, message) => {
      const { code, err, out } = await run(...args);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toContain(`redscope: ${message}`);
    });

    it('exits 2 naming a loader module that does not exist', async () => {
      const { code, err } = await run(
        '--redis-url',
        url,
        '--namespace',
        'demo:session:',
        '--loader',
        join(dir, 'no-such-loader.mjs'),
      );
      expect(code).toBe(2);
      expect(err).toBe(
        `redscope: --loader ${join(dir, 'no-such-loader.mjs')}: no such file (${join(dir, 'no-such-loader.mjs')})\n`,
      );
    });

    it('exits 2 with the error of a loader module that throws on import', async () => {
      const loader = join(FIXTURES, 'warm-loader-throws.mjs');
      const { code, err } = await run('--redis-url', url, '--namespace', 'n:', '--loader', loader);
      expect(code).toBe(2);
      expect(err).toBe(
        `redscope: --loader ${loader}: the module threw on import: Error: cannot connect to the sessions database\n`,
      );
    });

    it('exits 2 when the loader module exports no load function or no usable ttlSeconds', async () => {
      const noLoad = await run(
        '--redis-url',
        url,
        '--namespace',
        'n:',
        '--loader',
        join(FIXTURES, 'warm-loader-no-load.mjs'),
      );
      expect(noLoad.code).toBe(2);
      expect(noLoad.err).toContain(
        'exports no load function; it needs `export async function load(keys)`',
      );
      const noTtl = await run(
        '--redis-url',
        url,
        '--namespace',
        'n:',
        '--loader',
        join(FIXTURES, 'warm-loader-no-ttl.mjs'),
      );
      expect(noTtl.code).toBe(2);
      expect(noTtl.err).toContain(
        'ttlSeconds must be exported as a positive number of seconds (the TTL of the keys written), got "an hour"',
      );
    });

    it('exits 2 naming the line of a keys file that holds a key of another namespace', async () => {
      const file = join(dir, 'keys.txt');
      writeFileSync(file, 'demo:session:a\n\ndemo:session:b\r\ndemo:org:1\n');
      const { code, err } = await run(
        '--redis-url',
        url,
        '--namespace',
        'demo:session:',
        '--loader',
        LOADER,
        '--keys-file',
        file,
      );
      expect(code).toBe(2);
      expect(err).toBe(
        `redscope: --keys-file ${file}, line 4: "demo:org:1" is not a key of the namespace "demo:session:"\n`,
      );
    });

    it('exits 2 for a keys file that cannot be read or holds no key', async () => {
      const missing = join(dir, 'missing.txt');
      const empty = join(dir, 'empty.txt');
      writeFileSync(empty, '\n\n');
      const args = ['--redis-url', url, '--namespace', 'n:', '--loader', LOADER, '--keys-file'];
      expect((await run(...args, missing)).err).toBe(
        `redscope: --keys-file ${missing}: cannot read it (ENOENT)\n`,
      );
      const none = await run(...args, empty);
      expect(none.code).toBe(2);
      expect(none.err).toBe(`redscope: --keys-file ${empty}: holds no key\n`);
    });

    it('exits 1 with one line naming the address when Redis cannot be reached', async () => {
      const started = Date.now();
      const { code, out, err } = await run(
        '--redis-url',
        url,
        '--namespace',
        'demo:session:',
        '--loader',
        LOADER,
        '--dry-run',
      );
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(
        new RegExp(`^redscope warm: cannot reach Redis at ${url}: .*ECONNREFUSED.*\\n$`),
      );
      expect(Date.now() - started).toBeLessThan(5000);
    }, 10_000);
  });
});
