import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, normalize } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../stack/repo-paths.js';

const clientDir = join(packageRoot(), 'client');
const manifest = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

interface PackedFile {
  readonly path: string;
}

let packed: PackedFile[];

beforeAll(() => {
  // The tarball packs what the build wrote: build it from the current sources first.
  execFileSync(process.execPath, [
    join(packageRoot(), 'node_modules/typescript/bin/tsc'),
    '-p',
    join(clientDir, 'tsconfig.json'),
  ]);
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: clientDir,
    encoding: 'utf8',
  });
  packed = (JSON.parse(out) as { files: PackedFile[] }[])[0]?.files ?? [];
}, 60_000);

/** Every module specifier a compiled file imports or re-exports (statements, not strings). */
function specifiers(text: string): string[] {
  const statements = /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm;
  const dynamic = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...text.matchAll(statements), ...text.matchAll(dynamic)].map((m) => m[1] as string);
}

describe('what an app installs with @redscope/client', () => {
  it('is the compiled client and nothing else', () => {
    const paths = packed.map((file) => file.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/otel.d.ts');
    const unexpected = paths.filter(
      (path) =>
        !['package.json', 'README.md'].includes(path) && !/^dist\/.+\.(js|d\.ts)$/.test(path),
    );
    expect(unexpected).toEqual([]);
    expect(
      paths.filter((path) => /(^|\/)(exporter|cli|bench|stack|demo|grafana)(\/|$)/.test(path)),
    ).toEqual([]);
  });

  it('depends on ioredis, pino, prom-client and the OpenTelemetry API only', () => {
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      '@opentelemetry/api',
      'ioredis',
      'pino',
      'prom-client',
    ]);
  });

  it('imports only its dependencies, optional peers, Node built-ins and its own files', () => {
    const allowed = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    const problems: string[] = [];
    for (const { path } of packed.filter((file) => /\.(js|d\.ts)$/.test(file.path))) {
      const text = readFileSync(join(clientDir, path), 'utf8');
      for (const specifier of specifiers(text)) {
        if (specifier.startsWith('.')) {
          const target = normalize(join(path, '..', specifier));
          if (!target.startsWith('dist/'))
            problems.push(`${path} leaves the package: ${specifier}`);
          continue;
        }
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : (specifier.split('/')[0] as string);
        const builtin = specifier.startsWith('node:') || builtinModules.includes(name);
        if (!builtin && !allowed.has(name)) problems.push(`${path} imports ${specifier}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
