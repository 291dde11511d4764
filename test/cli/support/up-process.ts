import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortsBase } from '../../../stack/port-plan.js';
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
  /** Its --state-dir (removed by stop()). */
  readonly stateDir: string;
  readonly portsBase: number;
  out(): string;
  /** What it printed on stderr: progress, status lines, notifications. */
  err(): string;
  /** The URL printed on the line starting with `name`. */
  url(name: string): string;
  /** Every loopback port it printed. */
  ports(): number[];
  /** Ctrl-C, a second Ctrl-C after 20 s, SIGKILL as the last resort (afterAll: a failed test still stops it). */
  stop(): Promise<void>;
}

/**
 * Starts `redscope up` with `args` on its own state folder and a free range of
 * ports (so tests never meet each other's stacks), and waits until it says it is up.
 */
export async function startUp(args: readonly string[]): Promise<UpProcess> {
  if (!existsSync(join(packageRoot(), 'dist', 'cli', 'main.js'))) {
    throw new Error('run `npm run build` first');
  }
  const stateDir = mkdtempSync(join(tmpdir(), 'redscope-up-test-'));
  const portsBase = await freePortsBase();
  const child = spawn(
    process.execPath,
    [bin, 'up', '--state-dir', stateDir, '--ports-base', String(portsBase), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
    stateDir,
    portsBase,
    out: () => out,
    err: () => err,
    url: (name) => {
      const line = out.split('\n').find((l) => l.trim().startsWith(name));
      const found = line?.match(/(https?|rediss):\/\/127\.0\.0\.1:\d+\S*/)?.[0];
      if (!found) throw new Error(`no ${name} URL in:\n${out}`);
      return found;
    },
    ports: () => [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await Promise.race([exited, delay(20_000)]);
        // A second Ctrl-C makes up kill every server group at once (its exit hook); SIGKILL
        // of up itself would leave its detached servers running.
        if (child.exitCode === null) child.kill('SIGINT');
        await Promise.race([exited, delay(5000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(stateDir, { recursive: true, force: true });
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
