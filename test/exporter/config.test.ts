import { describe, expect, it } from 'vitest';
import { ConfigError, loadExporterConfig } from '../../exporter/config.js';

const files = (map: Record<string, string>) => (path: string) => {
  const text = map[path];
  if (text === undefined) throw new Error(`ENOENT: no such file ${path}`);
  return text;
};

describe('loading the exporter configuration', () => {
  describe('happy', () => {
    it('uses the defaults when nothing is given', () => {
      const config = loadExporterConfig({ flags: {}, env: {} });
      expect(config.listen).toEqual({ host: '0.0.0.0', port: 9121 });
      expect(config.scrapeTimeoutSeconds).toBe(10);
      expect(config.allowTargets).toEqual([]);
    });

    it('takes flags over env vars over the YAML file', () => {
      const config = loadExporterConfig({
        flags: { config: '/c.yaml', listen: '127.0.0.1:1' },
        env: { REDSCOPE_LISTEN: '127.0.0.1:2', REDSCOPE_ALLOW_TARGET: 'redis://a:1,redis://b:2' },
        readFile: files({
          '/c.yaml':
            'listen: 127.0.0.1:3\nallow_targets: [redis://c:3]\nscrape_timeout_seconds: 4\n',
        }),
      });
      expect(config.listen.port).toBe(1);
      expect(config.allowTargets).toEqual(['redis://a:1', 'redis://b:2']);
      expect(config.scrapeTimeoutSeconds).toBe(4);
    });

    it('reads the password from the file or env and binds it to --redis-url only', () => {
      const config = loadExporterConfig({
        flags: { 'redis-url': 'redis://a:1', 'password-file': '/pw' },
        env: {},
        readFile: files({ '/pw': 's3cret\n' }),
      });
      expect(config.credentials.for(config.redisTarget as never)).toEqual({ password: 's3cret' });
      expect(
        config.credentials.for({ scheme: 'redis', host: 'b', port: 1, key: 'redis://b:1' }),
      ).toEqual({});
      const fromEnv = loadExporterConfig({
        flags: { 'redis-url': 'redis://a:1' },
        env: { REDSCOPE_PASSWORD: 'e' },
      });
      expect(fromEnv.redisAuth.password).toBe('e');
    });

    it('takes Sentinels and --redis-url by DNS name, IPv4 or bracketed IPv6, resolving nothing', () => {
      const config = loadExporterConfig({
        flags: {
          sentinels:
            'rediss://sentinel-0.railway.internal:26379,rediss://[fd12::5]:26379,[::1]:26380,10.0.0.3:26379',
          'master-name': 'redscope',
        },
        env: {},
      });
      expect(config.sentinels.map((s) => [s.host, s.port, s.key])).toEqual([
        ['sentinel-0.railway.internal', 26379, 'rediss://sentinel-0.railway.internal:26379'],
        ['fd12::5', 26379, 'rediss://[fd12::5]:26379'],
        ['::1', 26380, 'redis://[::1]:26380'],
        ['10.0.0.3', 26379, 'redis://10.0.0.3:26379'],
      ]);
      // A name that resolves nowhere loads: it is looked up (and reported) when scraped.
      const nope = loadExporterConfig({
        flags: { 'redis-url': 'rediss://redis-nope.invalid', 'allow-target': ['rediss://[::1]:*'] },
        env: {},
      });
      expect(nope.redisTarget?.key).toBe('rediss://redis-nope.invalid:6379');
      expect(nope.allowTargets).toEqual(['rediss://[::1]:*']);
      expect(loadExporterConfig({ flags: { listen: '[::1]:9121' }, env: {} }).listen).toEqual({
        host: '::1',
        port: 9121,
      });
    });

    it('maps credentials file patterns to users and passwords, first match wins', () => {
      const config = loadExporterConfig({
        flags: { 'credentials-file': '/creds.yaml' },
        env: {},
        readFile: files({
          '/creds.yaml':
            'targets:\n  - match: "redis://10.0.0.*:6379"\n    username: u1\n    password_file: /p1\n  - match: "redis://**"\n    password: p2\n',
          '/p1': 'one',
        }),
      });
      const t = (key: string) => ({ scheme: 'redis' as const, host: '', port: 0, key });
      expect(config.credentials.for(t('redis://10.0.0.1:6379'))).toEqual({
        username: 'u1',
        password: 'one',
      });
      expect(config.credentials.for(t('redis://other:6379'))).toEqual({ password: 'p2' });
      expect(config.credentials.for(t('rediss://other:6379'))).toEqual({});
    });
  });

  describe('unhappy', () => {
    const fails = (sources: Parameters<typeof loadExporterConfig>[0]) => {
      try {
        loadExporterConfig(sources);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };

    it('names the key, the value and what is allowed for a wrong value', () => {
      const message = fails({
        flags: { config: '/c.yaml' },
        env: {},
        readFile: files({ '/c.yaml': 'log_level: loud\n' }),
      });
      expect(message).toMatch(/log_level in \/c.yaml/);
      expect(message).toMatch(/"loud"/);
      expect(message).toMatch(/one of fatal, error, warn, info, debug, trace, silent/);
    });

    it('names an unknown YAML key and lists the allowed ones', () => {
      const message = fails({
        flags: { config: '/c.yaml' },
        env: {},
        readFile: files({ '/c.yaml': 'redis_ulr: x\n' }),
      });
      expect(message).toMatch(/redis_ulr in \/c.yaml: unknown key; allowed keys: redis_url/);
    });

    it('names the flag and the item for a bad entry of a list flag', () => {
      expect(fails({ flags: { 'allow-target': ['redis://a:1', ''] }, env: {} })).toMatch(
        /^--allow-target \(item 2\): value "" is not allowed/,
      );
      expect(fails({ flags: {}, env: { REDSCOPE_SENTINELS: 'nohost' } })).toMatch(
        /^REDSCOPE_SENTINELS \(item 1\): value "nohost" is not allowed; expected \[rediss:\/\/\]HOST:PORT, HOST a DNS name/,
      );
    });

    it('explains how to write a Sentinel address it refuses (an IPv6 address without brackets, no port)', () => {
      for (const sentinel of ['::1:26379', 'fd12::5', 'sentinel-0.internal']) {
        expect(fails({ flags: { sentinels: sentinel, 'master-name': 'm' }, env: {} })).toMatch(
          /^--sentinels \(item 1\): value ".*" is not allowed; expected \[rediss:\/\/\]HOST:PORT, HOST a DNS name, an IPv4 address or an IPv6 address in brackets/,
        );
      }
      expect(fails({ flags: { 'redis-url': 'rediss://::1:6379' }, env: {} })).toMatch(
        /--redis-url: .*IPv6 address in brackets: rediss:\/\/\[::1\]:6379/,
      );
    });

    it('names the env var when the value came from the environment', () => {
      expect(fails({ flags: {}, env: { REDSCOPE_SCRAPE_TIMEOUT: 'soon' } })).toMatch(
        /REDSCOPE_SCRAPE_TIMEOUT: value "soon" is not allowed; expected must be number/,
      );
    });

    it('reports broken YAML with its line', () => {
      expect(
        fails({
          flags: { config: '/c.yaml' },
          env: {},
          readFile: files({ '/c.yaml': 'listen: [\n' }),
        }),
      ).toMatch(/--config: \/c.yaml is not valid YAML at line \d+/);
    });

    it('refuses a malformed --redis-url and Sentinels without a master name', () => {
      expect(fails({ flags: { 'redis-url': 'http://x:1' }, env: {} })).toMatch(
        /--redis-url: .*scheme "http"/,
      );
      expect(fails({ flags: { sentinels: 'a:1' }, env: {} })).toMatch(/needs --master-name/);
    });

    it('never prints the password, only the path of a file it cannot read', () => {
      const message = fails({
        flags: { 'password-file': '/missing' },
        env: {},
        readFile: files({}),
      });
      expect(message).toMatch(/--password-file: cannot read \/missing/);
    });

    it('hides the credentials of a refused URL, from a flag or the environment', () => {
      const fromFlag = fails({ flags: { 'redis-url': 'redis://:flag-secret@h:1' }, env: {} });
      expect(fromFlag).toMatch(/--redis-url: value "redis:\/\/:\[REDACTED\]@h:1" is not allowed/);
      expect(fromFlag).not.toContain('flag-secret');
      const fromEnv = fails({ flags: {}, env: { REDSCOPE_REDIS_URL: 'rediss://u:env-secret@h' } });
      expect(fromEnv).toMatch(/REDSCOPE_REDIS_URL/);
      expect(fromEnv).not.toContain('env-secret');
      // A `/` in the password breaks the URL apart; the reason quotes it, redacted too.
      const broken = fails({ flags: { 'redis-url': 'redis://u:half/secret@h:1' }, env: {} });
      expect(broken).toMatch(/is not a URL/);
      expect(broken).not.toMatch(/half|secret/);
    });

    it('names a credentials file password of the wrong type without echoing it', () => {
      const message = fails({
        flags: { 'credentials-file': '/creds.yaml' },
        env: {},
        readFile: files({
          '/creds.yaml': 'targets:\n  - match: "redis://a:1"\n    password: 987654321\n',
        }),
      });
      expect(message).toMatch(/password/);
      expect(message).not.toContain('987654321');
    });
  });
});
