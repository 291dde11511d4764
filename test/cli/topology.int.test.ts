import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../stack/repo-paths.js';

/** Processes whose working directory is inside `dir` (the launcher runs every node there). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(join('/proc', entry, 'cwd')).startsWith(dir)) pids.push(Number(entry));
    } catch {
      // gone, a zombie, or not ours to read
    }
  }
  return pids;
}

describe('redscope topology', () => {
  it('leaves no server behind when Ctrl-C arrives while it is still starting', async () => {
    const child = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'redscope.js'), 'topology', '--plain'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    const dir = await new Promise<string>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        const found = /starting \d+ nodes in (\S+)/.exec(err)?.[1];
        if (found) resolve(found);
      });
      child.once('exit', () => reject(new Error(`exited before starting:\n${err}`)));
    });
    // The nodes are spawned right after that line, before the topology is ready.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processesIn(dir)).toEqual([]);
  });
});
