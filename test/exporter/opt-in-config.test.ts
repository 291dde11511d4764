import { describe, expect, it } from 'vitest';
import { ConfigError, loadExporterConfig } from '../../exporter/config.js';
import {
  DEFAULT_CONFIG_PARAMETERS,
  OPT_IN_DEFAULTS,
  SECRET_CONFIG_PARAMETERS,
} from '../../exporter/opt-in-config.js';

const files = (map: Record<string, string>) => (path: string) => {
  const text = map[path];
  if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return text;
};

/** The ConfigError `load` throws (fails the test when it throws nothing or something else). */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('the scripts, client list and config values settings', () => {
  describe('happy', () => {
    it('are all off by default', () => {
      const { optIn } = loadExporterConfig({ flags: {}, env: {} });
      expect(optIn.scripts).toEqual({ scripts: [], functions: [], allowWrites: false });
      expect(optIn.clientList).toEqual({
        enabled: false,
        includePort: false,
        maxSeries: OPT_IN_DEFAULTS.clientListMaxSeries,
      });
      expect(optIn.configMetrics).toEqual({
        enabled: false,
        parameters: DEFAULT_CONFIG_PARAMETERS,
      });
    });

    it('reads the script files at start, named by their base name', () => {
      const { optIn } = loadExporterConfig({
        flags: {
          script: ['/etc/redscope/queue.lua', '/opt/other.lua'],
          function: ['depth'],
          'script-allow-writes': true,
        },
        env: {},
        readFile: files({
          '/etc/redscope/queue.lua': "return {'a', '1'}",
          '/opt/other.lua': "return {'b', '2'}",
        }),
      });
      expect(optIn.scripts.scripts).toEqual([
        { name: 'queue.lua', path: '/etc/redscope/queue.lua', text: "return {'a', '1'}" },
        { name: 'other.lua', path: '/opt/other.lua', text: "return {'b', '2'}" },
      ]);
      expect(optIn.scripts.functions).toEqual(['depth']);
      expect(optIn.scripts.allowWrites).toBe(true);
    });

    it('takes the client list and config values settings from flags and YAML', () => {
      const { optIn } = loadExporterConfig({
        flags: {
          config: '/c.yaml',
          'export-client-list': true,
          'client-list-max-series': '50',
          'include-config-metrics': true,
          'config-metrics': ['maxmemory', 'save'],
        },
        env: {},
        readFile: files({ '/c.yaml': 'client_list:\n  include_port: true\n' }),
      });
      expect(optIn.clientList).toEqual({ enabled: true, includePort: true, maxSeries: 50 });
      expect(optIn.configMetrics).toEqual({ enabled: true, parameters: ['maxmemory', 'save'] });
    });

    it('lists no secret among the default config parameters', () => {
      for (const secret of SECRET_CONFIG_PARAMETERS)
        expect(DEFAULT_CONFIG_PARAMETERS).not.toContain(secret);
    });
  });

  describe('unhappy', () => {
    it('refuses a script file that does not exist, naming the flag item and the path', () => {
      const error = configError(() =>
        loadExporterConfig({
          flags: { script: ['/etc/ok.lua', '/etc/missing.lua'] },
          env: {},
          readFile: files({ '/etc/ok.lua': "return {'a', '1'}" }),
        }),
      );
      expect(error.message).toMatch(
        /^--script \(item 2\): cannot read \/etc\/missing\.lua: ENOENT/,
      );
    });

    it('refuses an empty script file', () => {
      const error = configError(() =>
        loadExporterConfig({
          flags: { script: ['/etc/empty.lua'] },
          env: {},
          readFile: files({ '/etc/empty.lua': '  \n' }),
        }),
      );
      expect(error.message).toBe('--script (item 1): /etc/empty.lua is empty');
    });

    it('refuses two scripts with the same file name: the filename label could not tell them apart', () => {
      const error = configError(() =>
        loadExporterConfig({
          flags: { script: ['/a/q.lua', '/b/q.lua'] },
          env: {},
          readFile: files({ '/a/q.lua': 'return {}', '/b/q.lua': 'return {}' }),
        }),
      );
      expect(error.message).toMatch(/^--script \(item 2\): a second script named q\.lua/);
    });

    it('refuses a secret config parameter, from a flag or from YAML', () => {
      const fromFlag = configError(() =>
        loadExporterConfig({
          flags: { 'include-config-metrics': true, 'config-metrics': ['maxmemory', 'requirepass'] },
          env: {},
        }),
      );
      expect(fromFlag.message).toBe(
        '--config-metrics (item 2): requirepass holds a secret and is never exported',
      );
      const fromYaml = configError(() =>
        loadExporterConfig({
          flags: { config: '/c.yaml' },
          env: {},
          readFile: files({
            '/c.yaml': 'config_metrics:\n  enabled: true\n  parameters: [masterauth]\n',
          }),
        }),
      );
      expect(fromYaml.message).toBe(
        'config_metrics.parameters in /c.yaml (item 1): masterauth holds a secret and is never exported',
      );
    });

    it('refuses a function name that is not a plain identifier', () => {
      const error = configError(() =>
        loadExporterConfig({ flags: { function: ['depth; FLUSHALL'] }, env: {} }),
      );
      expect(error.message).toMatch(
        /^--function \(item 1\): value "depth; FLUSHALL" is not allowed/,
      );
    });
  });
});
