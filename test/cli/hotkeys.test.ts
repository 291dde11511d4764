import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../stack/ports.js';
import { runCli } from './support/run-cli.js';

const run = (...args: string[]) => runCli(['hotkeys', ...args]);

// main() reports process.exitCode: one run's code must not leak into the next test.
afterEach(() => {
  process.exitCode = undefined;
});

describe('redscope hotkeys on the command line', () => {
  describe('happy', () => {
    it('lists the connection flags it shares with the exporter and its own in --help', async () => {
      const { code, out } = await run('--help');
      expect(code).toBe(0);
      for (const flag of [
        '--redis-url',
        '--sentinels',
        '--master-name',
        '--username',
        '--password-file',
        '--tls-ca',
        '--top',
        '--interval',
        '--once',
        '--json',
      ]) {
        expect(out).toContain(flag);
      }
      expect(out).not.toContain('--listen');
    });
  });

  describe('unhappy', () => {
    it.each<[string[], string]>([
      [['--top', '0'], '--top "0": expected a whole number from 1 to 100'],
      [['--top', '101'], '--top "101": expected a whole number from 1 to 100'],
      [['--top', 'many'], '--top "many": expected a whole number from 1 to 100'],
      [['--interval', '0'], '--interval "0": expected seconds, at least 0.5'],
      [['--interval', 'soon'], '--interval "soon": expected seconds, at least 0.5'],
      [[], 'give --redis-url, or --sentinels with --master-name'],
      [['--sentinels', '127.0.0.1:26379'], '--sentinels: needs --master-name'],
      [['--redis-url', 'http://x:1'], '--redis-url: value "http://x:1" is not allowed'],
    ])('exits 2 with a clear message for %j', async (args, message) => {
      const { code, err } = await run(...args);
      expect(code).toBe(2);
      expect(err).toContain(`redscope: ${message}`);
    });

    it('exits 2 naming an unknown option', async () => {
      const { code, err } = await run('--redis-url', 'redis://127.0.0.1:1', '--bogus');
      expect(code).toBe(2);
      expect(err).toContain("unknown option '--bogus'");
    });

    it('exits 1 with one line naming the address when Redis cannot be reached', async () => {
      const port = await freePort();
      const started = Date.now();
      const { code, err, out } = await run('--redis-url', `redis://127.0.0.1:${port}`, '--once');
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toBe(
        `redscope hotkeys: cannot read the hot keys from redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    });
  });
});
