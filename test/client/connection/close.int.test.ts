import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../stack/repo-paths.js';

/** Runs `body` (an ES module using `createRedisClients`) in a fresh Node process; its wall time in ms. */
function exitTime(body: string): { ms: number; stderr: string; status: number | null } {
  const client = join(packageRoot(), 'client', 'index.ts');
  const script = `import { createRedisClients } from ${JSON.stringify(client)};\n${body}`;
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: packageRoot(),
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  return { ms: performance.now() - started, stderr: result.stderr, status: result.status };
}

describe('close()', () => {
  it('lets the process exit at once when no connection ever became ready', () => {
    // Nothing listens on port 1: the client keeps retrying until close().
    const measured = exitTime(`
      const clients = createRedisClients({ url: 'rediss://127.0.0.1:1' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const closedAt = performance.now();
      await clients.close();
      process.on('exit', () => console.error('after close: ' + Math.round(performance.now() - closedAt)));
    `);
    expect(measured.status).toBe(0);
    const afterClose = Number(/after close: (\d+)/.exec(measured.stderr)?.[1]);
    // ioredis waits 2 s by default for a socket that closed long ago; the client waits 0.1 s.
    expect(afterClose).toBeLessThan(1000);
  });
});
