import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/bundle.js';

/**
 * The config bundle's generators are layered: prometheus/ and grafana/ share thresholds,
 * recorded series and dashboard uids through bundle/, never through each other, and none
 * of them reaches into the local launcher (stack/).
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  bundle: ['bundle'],
  prometheus: ['prometheus', 'bundle'],
  grafana: ['grafana', 'bundle'],
};

interface SourceFile {
  /** Relative to the repository root, with `/` separators. */
  readonly path: string;
  readonly text: string;
}

interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly reaches: string;
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

/** The top-level folder a relative specifier reaches; undefined for packages and `node:`. */
function reachedFolder(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
  return target.split(sep)[0];
}

function violations(files: readonly SourceFile[]): Violation[] {
  return files.flatMap((file) => {
    const allowed = MAY_IMPORT[file.path.split('/')[0] ?? ''] ?? [];
    return specifiers(file.text).flatMap((specifier) => {
      const reaches = reachedFolder(file.path, specifier);
      return reaches === undefined || allowed.includes(reaches)
        ? []
        : [{ file: file.path, specifier, reaches }];
    });
  });
}

describe('layering of the config bundle (happy path)', () => {
  const files = Object.keys(MAY_IMPORT).flatMap(sourceFiles);

  it('reads the imports of every generator source', () => {
    const paths = files.map((f) => f.path);
    for (const expected of [
      'bundle/thresholds.ts',
      'prometheus/generate.ts',
      'prometheus/src/alerts.ts',
      'grafana/generate.ts',
      'grafana/src/overview.ts',
    ]) {
      expect(paths).toContain(expected);
    }
    const overview = files.find((f) => f.path === 'grafana/src/overview.ts');
    expect(specifiers(overview?.text ?? '')).toContain('./panels.js');
  });

  it('grafana/ and prometheus/ import only themselves and bundle/, never each other or stack/', () => {
    expect(violations(files)).toEqual([]);
  });
});

describe('layering of the config bundle (unhappy path)', () => {
  it('catches grafana importing prometheus/src, prometheus importing grafana, and either importing stack/', () => {
    const found = violations([
      {
        path: 'grafana/src/panels.ts',
        text: "import type { Thresholds } from '../../prometheus/src/thresholds.js';",
      },
      {
        path: 'prometheus/src/alerts.ts',
        text: "import {\n  DASHBOARDS,\n} from '../../grafana/src/uids.js';",
      },
      { path: 'prometheus/generate.ts', text: "export * from '../stack/repo-paths.js';" },
      {
        path: 'grafana/generate.ts',
        text: "const { packageRoot } = await import('../stack/repo-paths.js');",
      },
      {
        path: 'bundle/series.ts',
        text: "import { RECORDED } from '../prometheus/src/recording.js';",
      },
    ]);
    expect(found.map((v) => `${v.file} -> ${v.reaches}`)).toEqual([
      'grafana/src/panels.ts -> prometheus',
      'prometheus/src/alerts.ts -> grafana',
      'prometheus/generate.ts -> stack',
      'grafana/generate.ts -> stack',
      'bundle/series.ts -> prometheus',
    ]);
  });

  it('lets packages, node: modules and the folder itself through', () => {
    expect(
      violations([
        {
          path: 'grafana/src/lint.ts',
          text: "import { parser } from '@prometheus-io/lezer-promql';\nimport { join } from 'node:path';\nimport { x } from './promql-tree.js';\nimport { y } from '../../bundle/series.js';",
        },
      ]),
    ).toEqual([]);
  });
});
