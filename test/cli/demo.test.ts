import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';

const run = (...args: string[]) => runCli(['demo', ...args]);

describe('redscope demo', () => {
  describe('unhappy', () => {
    it('exits 2 naming --otlp-endpoint when it is not a URL, before connecting anywhere', async () => {
      const { code, err } = await run(
        '--redis-url',
        'redis://127.0.0.1:1',
        '--otlp-endpoint',
        'nope',
      );
      expect(code).toBe(2);
      expect(err).toContain('--otlp-endpoint "nope": expected a URL');
    });

    it('exits 2 when none of --redis-url, --sentinels or --cluster-nodes is given', async () => {
      const { code, err } = await run();
      expect(code).toBe(2);
      expect(err).toContain(
        'give one of --redis-url, --sentinels with --master-name, or --cluster-nodes',
      );
    });

    it('exits 2 when both --redis-url and --cluster-nodes are given', async () => {
      const { code, err } = await run(
        '--redis-url',
        'redis://127.0.0.1:1',
        '--cluster-nodes',
        '127.0.0.1:2',
      );
      expect(code).toBe(2);
      expect(err).toContain('give one of --redis-url');
    });

    it('exits 2 naming a malformed --cluster-nodes address', async () => {
      const { code, err } = await run('--cluster-nodes', '127.0.0.1:2,nowhere');
      expect(code).toBe(2);
      expect(err).toContain('--cluster-nodes "nowhere": expected HOST:PORT');
    });

    it('exits 2 naming a malformed --listen address', async () => {
      const { code, err } = await run('--redis-url', 'redis://127.0.0.1:1', '--listen', 'nowhere');
      expect(code).toBe(2);
      expect(err).toContain('--listen "nowhere": expected HOST:PORT');
    });

    it.each([
      ['--rate', 'abc', '--rate "abc": expected a whole number from 0 to 2000'],
      ['--rate', '2001', '--rate "2001": expected a whole number from 0 to 2000'],
      ['--rate', '', '--rate "": expected a whole number from 0 to 2000'],
      ['--hot-key-rate', '0.5', '--hot-key-rate "0.5": expected a whole number from 0 to 120000'],
      [
        '--hot-key-threshold',
        '0',
        '--hot-key-threshold "0": expected a whole number from 1 to 10000000',
      ],
      [
        '--returning-sessions',
        '1.5',
        '--returning-sessions "1.5": expected a whole number from 0 to 100000',
      ],
    ])('exits 2 naming %s %j, before connecting anywhere', async (flag, value, message) => {
      const { code, err } = await run('--redis-url', 'redis://127.0.0.1:1', flag, value);
      expect(code).toBe(2);
      expect(err).toContain(message);
    });

    it('exits 2 when the hot-key reads would not fit in --rate, of which they are a part', async () => {
      const over = await run(
        '--redis-url',
        'redis://127.0.0.1:1',
        '--rate',
        '40',
        '--hot-key-rate',
        '2401',
      );
      expect(over.code).toBe(2);
      expect(over.err).toContain(
        '--hot-key-rate 2401: the hot-key reads are part of --rate, at most 2400 a minute at --rate 40',
      );
      const alone = await run('--redis-url', 'redis://127.0.0.1:1', '--hot-key-rate', '600');
      expect(alone.code).toBe(2);
      expect(alone.err).toContain(
        '--hot-key-rate 600: the hot-key reads are part of the load; give --rate too',
      );
    });

    it('exits 2 when --no-tls contradicts the TLS flags or a rediss:// URL', async () => {
      const files = await run('--sentinels', '127.0.0.1:1', '--no-tls', '--tls-ca', '/ca.crt');
      expect(files.code).toBe(2);
      expect(files.err).toContain(
        '--no-tls with --tls-ca, --tls-cert or --tls-key: give one or the other',
      );
      const url = await run('--redis-url', 'rediss://127.0.0.1:1', '--no-tls');
      expect(url.code).toBe(2);
      expect(url.err).toContain('--no-tls with a rediss:// --redis-url: use a redis:// URL');
    });

    it('exits 2 on --load, which --rate replaced', async () => {
      const { code, err } = await run('--redis-url', 'redis://127.0.0.1:1', '--load', '20');
      expect(code).toBe(2);
      expect(err).toContain("unknown option '--load'");
    });

    it('exits 2 naming --database-dir when it is a file, before connecting anywhere', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'redscope-demo-db-'));
      try {
        const file = join(dir, 'not-a-folder');
        writeFileSync(file, 'x');
        const { code, err } = await run(
          '--redis-url',
          'redis://127.0.0.1:1',
          '--database-dir',
          file,
        );
        expect(code).toBe(2);
        expect(err).toContain(`--database-dir ${file}: cannot keep sessions there (EEXIST)`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
