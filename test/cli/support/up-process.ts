import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../../stack/repo-paths.js';

const bin = join(packageRoot(), 'bin', 'redscope.js');

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value, or fails naming `what` and the last error. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await delay(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A running `redscope up` with what it has printed so far. */
export interface UpProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  out(): string;
  /** The URL printed on the line starting with `name`. */
  url(name: string): string;
  /** Every loopback port it printed. */
  ports(): number[];
  /** Ctrl-C, then SIGKILL if it has not stopped in 20 s (for afterAll: a failed test still stops it). */
  stop(): Promise<void>;
}

/** Starts `redscope up` with `args` and waits until it says it is up. */
export async function startUp(args: readonly string[]): Promise<UpProcess> {
  if (!existsSync(join(packageRoot(), 'dist', 'cli', 'main.js'))) {
    throw new Error('run `npm run build` first');
  }
  const child = spawn(process.execPath, [bin, 'up', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const up: UpProcess = {
    child,
    exited,
    out: () => out,
    url: (name) => {
      const line = out.split('\n').find((l) => l.trim().startsWith(name));
      const found = line?.match(/(https?|rediss):\/\/127\.0\.0\.1:\d+\S*/)?.[0];
      if (!found) throw new Error(`no ${name} URL in:\n${out}`);
      return found;
    },
    ports: () => [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      await Promise.race([exited, delay(20_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  try {
    await until('"redscope is up"', 90_000, async () => {
      if (child.exitCode !== null) throw new Error(`up exited early:\n${err}`);
      return out.includes('redscope is up') && out.includes('Ctrl-C') ? true : undefined;
    });
  } catch (error) {
    await up.stop();
    throw error;
  }
  return up;
}
