import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../stack/ports.js';
import { type FakeRedis, minimalRedis, startFakeRedis } from './support/fake-redis.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

const ENTRY = join(import.meta.dirname, 'support', 'cli-entry.ts');

interface Run {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  stderr(): string;
}

function runCli(args: readonly string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'exporter', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  child.stdout?.resume();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => stderr };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('redscope exporter, the process', () => {
  describe('happy', () => {
    it('drains the scrape in flight on SIGTERM and exits 0', async () => {
      const slow: FakeRedis = await startFakeRedis((command, socket) => {
        const answer = minimalRedis(command, socket);
        if (command[0]?.toUpperCase() === 'INFO' && command[1] === 'ALL') {
          setTimeout(() => socket.write(answer ?? ''), 700);
          return undefined;
        }
        return answer;
      });
      cleanups.push(() => slow.close());
      const port = await freePort();
      const run = runCli(
        ['--redis-url', `redis://127.0.0.1:${slow.port}`, '--listen', `127.0.0.1:${port}`],
        { REDSCOPE_LOG_LEVEL: 'info' },
      );
      cleanups.push(() => run.child.kill('SIGKILL'));
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`exporter did not start: ${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const inFlight = fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => ({
        status: r.status,
        text: await r.text(),
      }));
      // Once the collection has reached the target, stop the process.
      while (!slow.commands.some((c) => c[1] === 'ALL'))
        await new Promise((r) => setTimeout(r, 20));
      run.child.kill('SIGTERM');
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(sampleValue(parseExposition(response.text), 'redis_up')).toBe(1);
      expect(await run.exit).toBe(0);
      const logs = run
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string });
      expect(logs.map((l) => l.msg)).toEqual(
        expect.arrayContaining(['exporter listening', 'draining and stopping', 'stopped']),
      );
    });
  });
});
