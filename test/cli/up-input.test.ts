import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePortsBase } from '../../stack/port-plan.js';
import { lockStateDir, StackRunningError } from '../../stack/stack-state.js';
import { fakeUpPid } from './support/fake-up.js';
import { runCli } from './support/run-cli.js';

// `redscope up` refuses what it cannot run before it starts anything: these never
// start a server, so they are quick and need no Redis.
describe('redscope up: what it refuses before starting', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'redscope-up-input-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  /** A state folder a previous `up` made (it carries the mark). */
  const usedStateDir = () => {
    const dir = stateDir();
    writeFileSync(join(dir, '.redscope-state'), '');
    return dir;
  };

  it.each([
    [['--rate', '-1'], /--rate "-1": expected a whole number from 0 to 2000/],
    [['--rate', 'lots'], /--rate "lots"/],
    [['--ports-base', '80'], /--ports-base "80": expected a whole number from 1024/],
    [['--ports-base', '65530'], /--ports-base "65530"/],
    [['--status-interval', '0'], /--status-interval "0"/],
    [['--state-dir', ''], /--state-dir: expected a folder/],
    [['--bogus'], /unknown option '--bogus'/],
  ])('exits 2 naming the flag for %j', async (args, message) => {
    const dir = stateDir();
    const { code, err } = await runCli(['up', '--state-dir', dir, ...args]);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    // Refused before the state folder was touched: no lock, no logs.
    expect(existsSync(join(dir, 'up.pid'))).toBe(false);
    expect(existsSync(join(dir, 'logs'))).toBe(false);
  });

  it('a second `up` on the same state folder fails at once, naming the running one', async () => {
    const dir = usedStateDir();
    const holder = { pid: fakeUpPid() };
    writeFileSync(join(dir, 'up.pid'), `${holder.pid}\n`);
    const started = performance.now();
    const { code, err } = await runCli(['up', '--state-dir', dir]);
    expect(code).toBe(1);
    expect(err).toContain(`redscope up is already running on ${dir} (pid ${holder.pid})`);
    expect(err).toContain('--state-dir DIR --ports-base PORT');
    expect(performance.now() - started).toBeLessThan(5000);
    // The running one keeps its lock.
    expect(readFileSync(join(dir, 'up.pid'), 'utf8').trim()).toBe(String(holder.pid));
    expect(existsSync(join(dir, 'logs'))).toBe(false);
  });

  it('takes over a lock left by a process that died or by a pid now reused, and releases it', async () => {
    const dir = stateDir();
    // A pid that cannot be alive: above the kernel's pid_max.
    writeFileSync(join(dir, 'up.pid'), '4194305\n');
    const release = lockStateDir(dir);
    expect(readFileSync(join(dir, 'up.pid'), 'utf8').split(' ')[0]).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, 'up.pid'))).toBe(false);
    // A live process that started later than the one that wrote the lock (its pid was reused
    // after a crash): stale too.
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => sleeper.kill('SIGKILL'));
    writeFileSync(join(dir, 'up.pid'), `${sleeper.pid} 1\n`);
    lockStateDir(dir)();
    // A live `redscope up` keeps it.
    const holder = { pid: fakeUpPid() };
    const releaseHolder = lockStateDir(dir, holder.pid);
    expect(() => lockStateDir(dir)).toThrow(StackRunningError);
    releaseHolder();
    // No helper file is left behind.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a non-empty folder that up did not make, and leaves it as it was', async () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'logs', 'precious.log'), 'mine\n');
    const { code, err } = await runCli(['up', '--state-dir', dir]);
    expect(code).toBe(2);
    expect(err).toContain(`--state-dir ${dir}: not empty and not made by redscope up`);
    expect(readdirSync(dir)).toEqual(['logs']);
    expect(readFileSync(join(dir, 'logs', 'precious.log'), 'utf8')).toBe('mine\n');
  });

  it('a busy port fails before anything starts, naming the port, what it is for and --ports-base', async () => {
    const dir = usedStateDir();
    const base = await freePortsBase();
    // Something else on the demo app's port (base + 3).
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(base + 3, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));
    const { code, err } = await runCli(['up', '--state-dir', dir, '--ports-base', String(base)]);
    expect(code).toBe(1);
    expect(err).toContain(`port ${base + 3} (demo app) is in use`);
    expect(err).toContain('--ports-base PORT');
    // Nothing was started and the lock is released for the next try.
    expect(existsSync(join(dir, 'logs'))).toBe(false);
    expect(existsSync(join(dir, 'up.pid'))).toBe(false);
  });
});
