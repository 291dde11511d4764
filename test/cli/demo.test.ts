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
