import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

/** What to run and where its output goes. */
export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr of the process are appended here. */
  readonly outputFile: string;
  /** Files whose tails are shown when the process fails (its own log file, say). */
  readonly logFiles?: readonly string[];
  readonly cwd?: string;
}

/** Last `lines` lines of the given files, labelled, for error messages. */
export function tailOf(files: readonly string[], lines = 20): string {
  const parts: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8').trimEnd();
    if (text === '') continue;
    parts.push(text.split('\n').slice(-lines).join('\n'));
  }
  return parts.length > 0 ? parts.join('\n') : '(no output)';
}

/** Every supervised process still running in this Node process. */
const running = new Set<SupervisedProcess>();

/**
 * SIGKILL to every supervised process group, synchronously: for a Ctrl-C that
 * arrives while a stack is still starting, before anything could stop it in order.
 */
function killAllSupervisedNow(): void {
  for (const child of running) child.killNow();
}

// Last resort: a process that exits without stopping its children (a test runner,
// process.exit) still leaves no servers behind.
process.once('exit', killAllSupervisedNow);

/**
 * A child process in its own process group, so stopping it also stops anything
 * it forked (Redis forks for BGSAVE and AOF rewrites).
 */
export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<number | null> = Promise.resolve(null);
  private exited = true;
  private paused = false;

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.exited ? undefined : this.child?.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** True once start() has spawned the process, whether or not it still runs. */
  get hasStarted(): boolean {
    return this.child !== undefined;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Starts the process; rejects if it cannot be spawned (missing binary, bad cwd). */
  start(): Promise<void> {
    if (!this.exited) return Promise.reject(new Error(`${this.spec.name} is already running`));
    const out = openSync(this.spec.outputFile, 'a');
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      detached: true,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.child = child;
    this.exited = false;
    this.paused = false;
    running.add(this);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        running.delete(this);
        resolve(code ?? (signal ? -1 : null));
      });
    });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) => {
        this.exited = true;
        running.delete(this);
        reject(error);
      });
    });
  }

  /** Resolves with the exit code when the process ends. */
  waitForExit(): Promise<number | null> {
    return this.exitPromise;
  }

  signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGKILL, the way a crashed host looks to its peers. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exitPromise;
  }

  /** SIGSTOP: the process keeps its sockets open but answers nothing (a hung node). */
  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    if (this.paused) this.resume();
    this.signal('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => {
      setTimeout(() => resolve('timeout'), graceMs).unref();
    });
    if ((await Promise.race([this.exitPromise, timer])) === 'timeout') {
      this.signal('SIGKILL');
      await this.exitPromise;
    }
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    this.signal('SIGKILL');
  }
}
