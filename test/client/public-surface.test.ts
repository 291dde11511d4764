import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../stack/repo-paths.js';

/** Every name a module exports, values and types alike, as the compiler sees them. */
function exportedNames(file: string): string[] {
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    target: ts.ScriptTarget.ES2023,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`${file} is not in the program`);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`${file} has no module symbol`);
  return checker
    .getExportsOfModule(module)
    .map((symbol) => symbol.getName())
    .sort();
}

// Changing either list is a change of the published API: do it on purpose, with the docs.
const CLIENT = [
  'ClientOptions',
  'ClusterClientsConfig',
  'ClusterConfig',
  'ConfigError',
  'DurableWriteError',
  'DurableWriteOptions',
  'HotKeyOptions',
  'HotKeySnapshot',
  'Logger',
  'ReadClient',
  'RedisConnectError',
  'RedisClients',
  'RedisClientsConfig',
  'RedisInstrumentation',
  'SessionCache',
  'SessionCacheOptions',
  'SessionRecord',
  'SessionValidation',
  'Telemetry',
  'TelemetryOptions',
  'TelemetryUnavailableError',
  'TlsConfig',
  'UsageOptions',
  'WarmOptions',
  'WarmingResult',
  'WarmingRun',
  'clientConfigFromEnv',
  'createLogger',
  'createRedisClients',
  'createRollingFileDestination',
  'createSessionCache',
  'instrumentRedis',
  'requestContextMiddleware',
  'runWithRequestContext',
  'setRequestIdentity',
  'startTelemetry',
].sort();

const OTEL = [
  'ExportableSpan',
  'PooledIdGenerator',
  'SpanEvent',
  'SpanPipeline',
  'TraceIdRatioSampler',
  'registerSpanPipeline',
  'tracerSettings',
].sort();

describe('the public surface of redscope/client', () => {
  it('exports exactly the names an app needs', () => {
    expect(exportedNames(join(packageRoot(), 'client', 'index.ts'))).toEqual(CLIENT);
  });

  it('keeps the OpenTelemetry plumbing under redscope/client/otel', () => {
    expect(exportedNames(join(packageRoot(), 'client', 'otel.ts'))).toEqual(OTEL);
  });

  it('exports at runtime only the values of that list', async () => {
    const values = Object.keys(await import('../../client/index.js')).sort();
    expect(values.every((name) => CLIENT.includes(name))).toBe(true);
    expect(values).toContain('createRedisClients');
  });
});
