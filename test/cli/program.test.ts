import { describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';

const run = (...args: string[]) => runCli([...args]);

describe('redscope CLI', () => {
  describe('happy', () => {
    it('lists the subcommands in --help and exits 0', async () => {
      const { code, out } = await run('--help');
      expect(code).toBe(0);
      expect(out).toMatch(/Usage: redscope/);
      expect(out).toMatch(/\btopology\b/);
      expect(out).toMatch(/\bup\b/);
      expect(out).toMatch(/\bfailover\b/);
      expect(out).toMatch(/\bmaintenance\b/);
    });

    it('prints the package version for --version', async () => {
      const { code, out } = await run('--version');
      expect(code).toBe(0);
      expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    });
  });

  describe('unhappy', () => {
    it('exits 2 with a one-line error and the usage for an unknown command', async () => {
      const { code, err } = await run('frobnicate');
      expect(code).toBe(2);
      expect(err).toMatch(/^error: unknown command 'frobnicate'\nUsage: redscope/);
    });

    it('exits 2 naming the flag for an unknown option', async () => {
      const { code, err } = await run('--no-such-flag');
      expect(code).toBe(2);
      expect(err).toContain("unknown option '--no-such-flag'");
    });

    it('exits 2 with the subcommand usage for an unknown option of a subcommand', async () => {
      const { code, err } = await run('topology', '--bogus');
      expect(code).toBe(2);
      expect(err).toContain('Usage: redscope topology [options]');
    });

    it('exits 2 and shows help when no command is given', async () => {
      const { code, out } = await run();
      expect(code).toBe(2);
      expect(out).toMatch(/Commands:/);
    });
  });
});
