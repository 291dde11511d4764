import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../exporter/package-root.js';

/**
 * What ships runs anywhere: the exporter and the client never reach into the
 * local launcher (stack/), which needs redis-server, openssl and a checkout.
 */
const SHIPPED = ['exporter', 'client'];
const ROOT = packageRoot();

interface SourceFile {
  /** Relative to the repository root, with `/` separators. */
  readonly path: string;
  readonly text: string;
}

function sourceFiles(folder: string): SourceFile[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => {
      const path = `${folder}/${f.split(sep).join('/')}`;
      return { path, text: readFileSync(join(ROOT, path), 'utf8') };
    });
}

/** Module specifiers of static imports, `export ... from` and dynamic `import()`. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** `file -> specifier` for every import that resolves into stack/. */
function stackImports(files: readonly SourceFile[]): string[] {
  return files.flatMap((file) =>
    specifiers(file.text)
      .filter((specifier) => {
        if (!specifier.startsWith('.')) return false;
        const target = relative(ROOT, resolve(ROOT, dirname(file.path), specifier));
        return target.split(sep)[0] === 'stack';
      })
      .map((specifier) => `${file.path} -> ${specifier}`),
  );
}

describe('shipped code and the local launcher', () => {
  describe('happy', () => {
    const files = SHIPPED.flatMap(sourceFiles);

    it('reads the imports of every exporter and client source', () => {
      const paths = files.map((f) => f.path);
      for (const expected of ['exporter/server.ts', 'exporter/config.ts']) {
        expect(paths).toContain(expected);
      }
      expect(paths.filter((p) => p.startsWith('client/')).length).toBeGreaterThan(5);
      const server = files.find((f) => f.path === 'exporter/server.ts');
      expect(specifiers(server?.text ?? '')).toContain('./scraper.js');
    });

    it('has no file in exporter/ or client/ that imports from stack/', () => {
      expect(stackImports(files)).toEqual([]);
    });
  });

  describe('unhappy', () => {
    it('catches static, type-only, re-exported, side-effect and dynamic imports of stack/', () => {
      const found = stackImports([
        {
          path: 'exporter/metrics-doc.ts',
          text: "import { packageRoot } from '../stack/repo-paths.js';",
        },
        {
          path: 'client/connection/config.ts',
          text: "import type {\n  TopologyDescription,\n} from '../../stack/topology.js';",
        },
        { path: 'exporter/index.ts', text: "export * from '../stack/ports.js';" },
        { path: 'client/index.ts', text: "import '../stack/processes.js';" },
        {
          path: 'exporter/server.ts',
          text: "const { freePort } = await import('../stack/ports.js');",
        },
      ]);
      expect(found).toEqual([
        'exporter/metrics-doc.ts -> ../stack/repo-paths.js',
        'client/connection/config.ts -> ../../stack/topology.js',
        'exporter/index.ts -> ../stack/ports.js',
        'client/index.ts -> ../stack/processes.js',
        'exporter/server.ts -> ../stack/ports.js',
      ]);
    });

    it('lets packages, node: modules, siblings and a folder merely named like stack through', () => {
      const found = stackImports([
        {
          path: 'exporter/server.ts',
          text: [
            "import { Redis } from 'ioredis';",
            "import { join } from 'node:path';",
            "import { parseTarget } from './target.js';",
            "import { REDACTED } from '../client/common/redaction.js';",
            "import { frames } from './stack/frames.js';",
          ].join('\n'),
        },
      ]);
      expect(found).toEqual([]);
    });
  });
});
