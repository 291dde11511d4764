import { execFileSync, spawn } from 'node:child_process';
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
  it('prints each node as host:port with its pid, and the client settings of the app user', async () => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'redscope.js'), 'topology'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('Ctrl-C stops')) resolve();
        });
        child.once('exit', () => reject(new Error(`exited early:\n${out}`)));
      });
      const nodes = [
        ...out.matchAll(/^(\S+)\s+(master|replica|sentinel)\s+127\.0\.0\.1:(\d+)\s+pid (\d+)$/gm),
      ];
      expect(nodes.map((m) => m[2]).sort()).toEqual([
        'master',
        'replica',
        'replica',
        'sentinel',
        'sentinel',
        'sentinel',
      ]);
      // Every pid printed is a live process.
      for (const node of nodes) expect(() => process.kill(Number(node[4]), 0)).not.toThrow();
      const sentinelAddresses = nodes
        .filter((m) => m[2] === 'sentinel')
        .map((m) => `'127.0.0.1:${m[3]}'`);
      expect(out).toContain(`sentinels: [${sentinelAddresses.join(', ')}]`);
      expect(out).toMatch(/username: 'app', password: <\S+\/secrets\/app\.password>/);
      expect(out).not.toMatch(/rediss?:\/\//);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  });

  it('--cluster prints 3 masters and 3 replicas, seeds for the client, and a redis-cli line that works', async () => {
    const child = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'redscope.js'), 'topology', '--cluster'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('Ctrl-C stops')) resolve();
        });
        child.once('exit', () => reject(new Error(`exited early:\n${out}`)));
      });
      const nodes = [
        ...out.matchAll(/^(\S+)\s+(master|replica)\s+127\.0\.0\.1:(\d+)\s+pid \d+$/gm),
      ];
      expect(nodes.map((m) => m[2])).toEqual([
        'master',
        'master',
        'master',
        'replica',
        'replica',
        'replica',
      ]);
      const seeds = nodes.slice(0, 3).map((m) => `'127.0.0.1:${m[3]}'`);
      expect(out).toContain(`createRedisClients({ cluster: { nodes: [${seeds.join(', ')}] }`);
      // The printed line, as a user would paste it into a shell.
      const line = /^try:\s+(.*)$/m.exec(out)?.[1] ?? '';
      expect(line).toContain('-c -p');
      const info = execFileSync('sh', ['-c', line], { encoding: 'utf8' });
      expect(info).toMatch(/^cluster_state:ok/m);
      expect(info).toMatch(/^cluster_size:3/m);
    } finally {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

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
