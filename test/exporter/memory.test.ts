import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORTER_V8_FLAGS, exporterV8Flags, V8_DEFAULT_FLAGS } from '../../exporter/node-flags.js';
import { freePort } from '../../stack/ports.js';
import { type FakeRedis, startFakeRedis } from './support/fake-redis.js';

// The exporter's memory, guarded by what it loads and how it configures V8 rather
// than by timing or RSS, which a shared machine makes noisy (BENCHMARKS.md and
// docs/exporter-memory.md have the measured numbers).

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'redscope.js');
const DEFAULTS = EXPORTER_V8_FLAGS.map(({ flag }) => flag);

describe('the exporter V8 flags', () => {
  describe('happy', () => {
    it('bounds the heap and leaves the optimizing compilers out by default', () => {
      expect(exporterV8Flags({}, [])).toEqual(DEFAULTS);
      expect(DEFAULTS).toEqual(
        expect.arrayContaining(['--semi-space-growth-factor=1', '--no-opt', '--no-sparkplug']),
      );
    });

    it('appends REDSCOPE_V8_FLAGS, so the same flag given there wins', () => {
      expect(exporterV8Flags({ REDSCOPE_V8_FLAGS: ' --opt  --sparkplug ' }, [])).toEqual([
        ...DEFAULTS,
        '--opt',
        '--sparkplug',
      ]);
    });
  });

  describe('unhappy', () => {
    it("sets none of its heap flags when the user's NODE_OPTIONS sizes the heap", () => {
      const flags = exporterV8Flags({ NODE_OPTIONS: '--max-old-space-size=256' }, []);
      expect(flags).toEqual(['--no-opt', '--no-sparkplug']);
    });

    it('leaves the compilers alone when node was given a compiler flag, in any spelling', () => {
      for (const given of ['--opt', '--no_sparkplug', '--max-opt=2', '--jitless']) {
        expect(exporterV8Flags({}, ['--import', 'x.js', given])).not.toContain('--no-opt');
      }
      expect(exporterV8Flags({}, [...V8_DEFAULT_FLAGS])).toEqual([]);
    });
  });
});

/**
 * A node preload for the exporter process: every module URL it imports (from
 * the loader's hooks) and, when it exits, every CommonJS file it required go
 * to one file.
 */
function writePreload(dir: string): { preload: string; loaded: string } {
  const loaded = join(dir, 'loaded.txt');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(loaded)}, url + '\\n');
  return next(url, context);
}
`,
  );
  const preload = join(dir, 'preload.mjs');
  writeFileSync(
    preload,
    `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const require = createRequire(import.meta.url);
process.on('exit', () => {
  appendFileSync(${JSON.stringify(loaded)}, Object.keys(require.cache).join('\\n') + '\\n');
});
`,
  );
  return { preload, loaded };
}

describe('redscope exporter, the built process', () => {
  let dir: string;
  let redis: FakeRedis;
  let child: ChildProcess | undefined;
  let loaded: string[] = [];
  let logs: { msg: string; v8Flags?: string[] }[] = [];

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
      throw new Error('dist/ is missing: run `npm run build` before this test');
    }
    dir = mkdtempSync(join(tmpdir(), 'redscope-memory-'));
    redis = await startFakeRedis();
    const files = writePreload(dir);
    const port = await freePort();
    const run = spawn(
      process.execPath,
      [
        '--import',
        files.preload,
        BIN,
        'exporter',
        '--redis-url',
        `redis://127.0.0.1:${redis.port}`,
        '--listen',
        `127.0.0.1:${port}`,
        '--log-level',
        'info',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '', REDSCOPE_V8_FLAGS: '' },
      },
    );
    child = run;
    let stderr = '';
    run.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    const exit = new Promise<number | null>((resolve) => run.once('exit', resolve));
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        // A scrape, so the collectors' code is loaded too.
        if ((await fetch(`http://127.0.0.1:${port}/metrics`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`exporter did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    run.kill('SIGTERM');
    expect(await exit).toBe(0);
    child = undefined;
    loaded = readFileSync(files.loaded, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (l.startsWith('file:') ? new URL(l).pathname : l));
    logs = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; v8Flags?: string[] });
  }, 60_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await redis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const packages = () =>
    new Set(
      loaded
        .map((path) => /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(path)?.[1])
        .filter((name) => name !== undefined),
    );
  const ours = () =>
    loaded.filter((path) => path.startsWith(join(ROOT, 'dist'))).map((p) => p.slice(ROOT.length));

  describe('happy', () => {
    it('loads the exporter command, its server and its collectors', () => {
      expect(ours()).toEqual(
        expect.arrayContaining([
          '/dist/cli/commands/exporter.js',
          '/dist/exporter/server.js',
          '/dist/exporter/collectors/index.js',
        ]),
      );
      expect([...packages()]).toEqual(expect.arrayContaining(['ioredis', 'pino']));
    });

    it('sets its V8 flags for a small heap on itself, and says so', () => {
      const line = logs.find((l) => l.msg === 'V8 flags set for a small heap');
      expect(line?.v8Flags).toEqual(DEFAULTS);
    });
  });

  describe('unhappy', () => {
    it("does not load the other commands' modules", () => {
      const others = ours().filter(
        (path) =>
          /^\/dist\/cli\/(commands\/(?!exporter\.js)|warm-|terminal-text|connection-flags)/.test(
            path,
          ) || /^\/dist\/(stack|demo|bundle|grafana|prometheus|bench)\//.test(path),
      );
      expect(others).toEqual([]);
    });

    it('does not load the packages only other commands and the client library use', () => {
      // The server is node:http: express is the demo app's and the client library's.
      const heavy = [
        'cli-progress',
        '@opentelemetry/api',
        'prom-client',
        'vega',
        'vega-lite',
        'express',
      ];
      expect(heavy.filter((name) => packages().has(name))).toEqual([]);
    });
  });
});
