import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../stack/repo-paths.js';

const clientDir = join(packageRoot(), 'client');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'dist' ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}

/** event -> levels, from every `logger.<level>({ event: '...' ...` call in client/. */
function eventsInCode(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const call = /logger\??\.(trace|debug|info|warn|error|fatal)\(\s*\{\s*event: '([a-z_.]+)'/g;
  for (const text of sources(clientDir)) {
    for (const [, level, event] of text.matchAll(call)) {
      const levels = found.get(event as string) ?? new Set<string>();
      levels.add(level as string);
      found.set(event as string, levels);
    }
  }
  return found;
}

/** event -> level, from the table of docs/logging.md's "Log contract". */
function eventsInDocs(): Map<string, string> {
  const text = readFileSync(join(packageRoot(), 'docs', 'logging.md'), 'utf8');
  const section = text.slice(
    text.indexOf('## Log contract'),
    text.indexOf('\n## ', text.indexOf('## Log contract') + 1),
  );
  const documented = new Map<string, string>();
  for (const [, events, level] of section.matchAll(/^\| (`[^|]+`) \| (\w+) \|/gm)) {
    for (const [, event] of (events as string).matchAll(/`([a-z_.]+)`/g)) {
      documented.set(event as string, level as string);
    }
  }
  return documented;
}

describe('the log contract in docs/logging.md', () => {
  it('lists every event the client can write, at the level it is written', () => {
    const code = eventsInCode();
    const docs = eventsInDocs();
    expect(code.size).toBeGreaterThan(10);
    expect([...docs.keys()].sort()).toEqual([...code.keys()].sort());
    for (const [event, levels] of code) {
      expect([...levels], event).toEqual([docs.get(event)]);
    }
  });
});
