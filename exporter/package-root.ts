import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository (or installed package) root: the nearest folder above this
 * module whose package.json is redscope's. Works from the TypeScript sources and
 * from the compiled `dist/` alike, which sit at different depths. It lives with
 * the exporter, which ships, so the exporter's doc generator and the CLI need
 * nothing from the local launcher in `stack/`.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'redscope') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the redscope package root above this module');
    dir = parent;
  }
}
