import { describe, expect, it } from 'vitest';
import { ConfigError, loadExporterConfig } from '../../../exporter/config.js';

const files = (map: Record<string, string>) => (path: string) => {
  const text = map[path];
  if (text === undefined) throw new Error(`ENOENT: no such file ${path}`);
  return text;
};

const SECRET = 'a-deployment-secret-of-32-chars!';

function load(yaml: string, env: Record<string, string> = {}, flags = {}) {
  return loadExporterConfig({
    flags: { config: '/c.yaml', ...flags },
    env,
    readFile: files({ '/c.yaml': yaml, '/secret': `${SECRET}\n`, '/short': 'short\n' }),
  });
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('no ConfigError');
}

describe('the exporter hotkeys settings', () => {
  describe('happy', () => {
    it('exports the top 10 and leaves the LFU sampler off by default, needing no secret', () => {
      const config = loadExporterConfig({ flags: {}, env: {} });
      expect(config.hotKeys).toEqual({ top: 10 });
    });

    it('reads the YAML, with the secret from its file and the LFU defaults', () => {
      const config = load(
        'hotkeys:\n  top: 20\n  secret_file: /secret\n  lfu:\n    enabled: true\n',
      );
      expect(config.hotKeys).toEqual({
        top: 20,
        lfu: { sampleKeys: 1000, scanCount: 100, top: 10, budgetMs: 1000, secret: SECRET },
      });
    });

    it('takes flags over the YAML and the secret from REDSCOPE_HOTKEYS_SECRET', () => {
      const config = load(
        'hotkeys:\n  top: 20\n  redaction_patterns: ["tenant:*:token"]\n  lfu:\n    sample_keys: 50\n',
        { REDSCOPE_HOTKEYS_SECRET: SECRET, REDSCOPE_HOTKEYS_LFU_TOP: '3' },
        {
          'hotkeys-top': '5',
          'hotkeys-lfu': true,
          'hotkeys-lfu-scan-count': '7',
          'hotkeys-lfu-budget': '0.25',
        },
      );
      expect(config.hotKeys).toEqual({
        top: 5,
        lfu: {
          sampleKeys: 50,
          scanCount: 7,
          top: 3,
          budgetMs: 250,
          secret: SECRET,
          patterns: ['tenant:*:token'],
        },
      });
    });
  });

  describe('unhappy', () => {
    it.each([
      ['0', /--hotkeys-top: value 0 is not allowed; expected must be >= 1/],
      ['-3', /--hotkeys-top: value -3 is not allowed; expected must be >= 1/],
      ['101', /--hotkeys-top: value 101 is not allowed; expected must be <= 100/],
      ['2.5', /--hotkeys-top: value 2.5 is not allowed; expected must be integer/],
      ['ten', /--hotkeys-top: value "ten" is not allowed; expected must be integer/],
    ])('refuses --hotkeys-top %s, naming the flag and what is allowed', (value, message) => {
      expect(
        errorOf(() => loadExporterConfig({ flags: { 'hotkeys-top': value }, env: {} })),
      ).toMatch(message);
    });

    it('names the nested YAML key of a bad value and of an unknown key', () => {
      expect(errorOf(() => load('hotkeys:\n  lfu:\n    sample_keys: 0\n'))).toMatch(
        /^hotkeys\.lfu\.sample_keys in \/c\.yaml: value 0 is not allowed; expected must be >= 1$/,
      );
      expect(errorOf(() => load('hotkeys:\n  lfu:\n    budget_seconds: 0\n'))).toMatch(
        /^hotkeys\.lfu\.budget_seconds in \/c\.yaml: value 0 is not allowed; expected must be > 0$/,
      );
      expect(errorOf(() => load('hotkeys:\n  lfu:\n    sample: 10\n'))).toBe(
        'hotkeys.lfu.sample in /c.yaml: unknown key; allowed keys under hotkeys.lfu: enabled, sample_keys, scan_count, top, budget_seconds',
      );
      // The secret itself has no key: only a file or the environment may hold it.
      expect(errorOf(() => load(`hotkeys:\n  secret: ${SECRET}\n`))).toMatch(
        /^hotkeys\.secret in \/c\.yaml: unknown key; allowed keys under hotkeys: top, secret_file, redaction_patterns, lfu$/,
      );
    });

    it('needs the redaction secret when the LFU sampler is on, and says where to put it', () => {
      expect(errorOf(() => loadExporterConfig({ flags: { 'hotkeys-lfu': true }, env: {} }))).toBe(
        "--hotkeys-lfu: the LFU sampler redacts key names with the clients' secret; give --hotkeys-secret-file FILE or env REDSCOPE_HOTKEYS_SECRET",
      );
    });

    it('refuses a short secret without showing it, and names the file it cannot read', () => {
      const short = errorOf(() =>
        load('hotkeys:\n  secret_file: /short\n  lfu:\n    enabled: true\n'),
      );
      expect(short).toMatch(/^hotkeys\.secret_file in \/c\.yaml: .*at least 16 characters/);
      expect(short).not.toContain('short\n');
      const fromEnv = errorOf(() =>
        load('hotkeys:\n  lfu:\n    enabled: true\n', { REDSCOPE_HOTKEYS_SECRET: 'tiny-secret' }),
      );
      expect(fromEnv).toMatch(/^REDSCOPE_HOTKEYS_SECRET: /);
      expect(fromEnv).not.toContain('tiny-secret');
      expect(
        errorOf(() =>
          loadExporterConfig({
            flags: { 'hotkeys-lfu': true, 'hotkeys-secret-file': '/missing' },
            env: {},
            readFile: files({}),
          }),
        ),
      ).toMatch(/^--hotkeys-secret-file: cannot read \/missing/);
    });

    it('names a redaction pattern that does not compile', () => {
      expect(
        errorOf(() =>
          load('hotkeys:\n  redaction_patterns: ["/(unclosed/"]\n  lfu:\n    enabled: true\n', {
            REDSCOPE_HOTKEYS_SECRET: SECRET,
          }),
        ),
      ).toMatch(
        /^hotkeys\.redaction_patterns in \/c\.yaml: pattern 0 \(\/\(unclosed\/\) is not a valid/,
      );
    });
  });
});
