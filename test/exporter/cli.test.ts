import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'redscope-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(['node', 'redscope', 'exporter', ...args], {
    out: () => undefined,
    err: (text) => {
      err += text;
    },
  });
  return { code, err };
}

describe('redscope exporter on the command line', () => {
  describe('happy', () => {
    it('lists every flag with its env var in --help', async () => {
      let out = '';
      const code = await main(['node', 'redscope', 'exporter', '--help'], {
        out: (t) => {
          out += t;
        },
        err: () => undefined,
      });
      expect(code).toBe(0);
      for (const flag of [
        '--redis-url',
        '--sentinels',
        '--master-name',
        '--listen',
        '--allow-target',
        '--tls-insecure-skip-verify',
        '--password-file',
        '--web-config-file',
      ]) {
        expect(out).toContain(flag);
      }
      expect(out).toContain('REDSCOPE_REDIS_URL');
    });
  });

  describe('unhappy', () => {
    it('exits 2 on an unknown flag', async () => {
      const { code, err } = await run(['--no-such-flag']);
      expect(code).toBe(2);
      expect(err).toMatch(/unknown option '--no-such-flag'/);
    });

    it('exits 2 on a config value of the wrong type, naming the key, the value and what is allowed', async () => {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'listen: 127.0.0.1:9121\nscrape_timeout_seconds: forever\n');
      const { code, err } = await run(['--config', file]);
      expect(code).toBe(2);
      expect(err).toContain(
        `scrape_timeout_seconds in ${file}: value "forever" is not allowed; expected must be number`,
      );
    });

    it('exits 2 on YAML that does not parse, naming the file and line', async () => {
      const file = join(dir, 'broken.yaml');
      writeFileSync(file, 'allow_targets: [redis://a:1\n');
      const { code, err } = await run(['--config', file]);
      expect(code).toBe(2);
      expect(err).toMatch(new RegExp(`--config: ${file} is not valid YAML at line \\d+`));
    });

    it('exits 2 on a --script file that does not exist, naming the flag item and the path', async () => {
      const missing = join(dir, 'no-such-script.lua');
      const { code, err } = await run(['--script', missing]);
      expect(code).toBe(2);
      expect(err).toContain(`--script (item 1): cannot read ${missing}: ENOENT`);
    });

    it('exits 2 on an unknown key in the web config file', async () => {
      const file = join(dir, 'web.yaml');
      writeFileSync(file, 'basic_auth_user:\n  alice: x\n');
      const { code, err } = await run(['--web-config-file', file]);
      expect(code).toBe(2);
      expect(err).toMatch(
        /basic_auth_user in .*web.yaml: unknown key; allowed keys: tls_server_config, basic_auth_users/,
      );
    });
  });
});
