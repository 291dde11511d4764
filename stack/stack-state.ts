/**
 * What a running `redscope up` leaves in its state directory for the other
 * commands of this machine: `stack.json` (where each part listens, how to reach
 * the Redis side) and `up.pid` (the lock that keeps a second `up` from starting
 * on the same directory). `redscope failover` and `redscope maintenance` read
 * stack.json for their defaults, so a drill on the local stack needs no flags.
 */
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface StackState {
  /** Process id of `redscope up`. */
  readonly pid: number;
  readonly startedAt: string;
  readonly mode: 'sentinel' | 'cluster';
  /** Base URLs (no trailing slash). */
  readonly urls: {
    readonly prometheus: string;
    readonly alertmanager: string;
    readonly exporter: string;
    readonly demo: string;
    /** The local PagerDuty/Slack stand-in. */
    readonly receivers: string;
    /** The local OTLP/HTTP trace receiver. */
    readonly traces: string;
  };
  /** `host:port` of each Sentinel (Sentinel mode). */
  readonly sentinels?: readonly string[];
  readonly masterName?: string;
  /** `host:port` of each node (cluster mode). */
  readonly clusterNodes?: readonly string[];
  /** Absent with `--no-tls`. */
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** The `admin` ACL user of the data nodes: its password file (Sentinels take no password). */
  readonly admin: { readonly username: string; readonly passwordFile: string };
  /** Folder with every component's log. */
  readonly logDir: string;
}

/** `$REDSCOPE_STATE_DIR`, else `$XDG_STATE_HOME/redscope`, else `~/.local/state/redscope`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REDSCOPE_STATE_DIR) return env.REDSCOPE_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'redscope');
}

const stateFile = (dir: string) => join(dir, 'stack.json');
const lockFile = (dir: string) => join(dir, 'up.pid');
/** Marks a folder `redscope up` made its own: only such a folder gets its `run/` and `logs/` replaced. */
const markerFile = (dir: string) => join(dir, '.redscope-state');

/** The state folder is someone else's: `up` would replace its `run/` and `logs/`. */
export class ForeignStateDirError extends Error {
  override readonly name = 'ForeignStateDirError';
  constructor(readonly dir: string) {
    super(
      `--state-dir ${dir}: not empty and not made by redscope up (no .redscope-state in it); ` +
        'give an empty or new folder: up replaces the run/ and logs/ folders inside it',
    );
  }
}

/**
 * Makes `dir` a state folder, or checks that it is one: a new or empty folder
 * is marked as ours; a non-empty folder without the mark is refused, so
 * `--state-dir ~` cannot cost anyone their `~/logs`.
 */
export function claimStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(markerFile(dir))) return;
  if (readdirSync(dir).length > 0) throw new ForeignStateDirError(dir);
  writeFileSync(markerFile(dir), 'redscope up keeps its lock, stack.json, run/ and logs/ here\n');
}

export function writeStackState(dir: string, state: StackState): void {
  const file = stateFile(dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The state of the `redscope up` running on `dir`, or undefined when none runs there. */
export function readStackState(dir: string): StackState | undefined {
  let state: StackState;
  try {
    state = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
  return isUpProcess(state.pid) ? state : undefined;
}

export function removeStackState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` is a live `redscope up`: after a crash or a reboot its pid may
 * belong to another program, which a lock or a stack.json must not point at.
 * Where /proc cannot tell (not Linux, another user's process), alive is enough.
 */
function isUpProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return true;
  }
  return args.some((a) => a.includes('redscope')) && args.includes('up');
}

/** Another `redscope up` holds the state directory. */
export class StackRunningError extends Error {
  override readonly name = 'StackRunningError';
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      `redscope up is already running on ${dir} (pid ${pid}). Stop it with Ctrl-C in its terminal ` +
        `or \`kill ${pid}\`, or start another stack with --state-dir DIR --ports-base PORT`,
    );
  }
}

/**
 * Takes the state directory for this process: fails fast when a live `up`
 * holds it; a lock left by a process that died (kill -9, a crash) is taken
 * over. The lock file appears with its content at once (written aside, then
 * hard-linked into place), so another `up` never reads it half-written.
 * Returns the release function.
 */
export function lockStateDir(dir: string, pid = process.pid): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = lockFile(dir);
  const mine = join(dir, `.up.pid.${pid}`);
  writeFileSync(mine, `${pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, file);
        return () => rmSync(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let holder: number;
      try {
        holder = Number(readFileSync(file, 'utf8').trim());
      } catch {
        continue; // released meanwhile: try again
      }
      if (holder !== pid && isUpProcess(holder)) throw new StackRunningError(dir, holder);
      // Stale: moved aside (atomic), so two processes taking it over cannot remove each other's.
      const stale = join(dir, `.up.pid.stale.${pid}`);
      try {
        renameSync(file, stale);
        // What was moved must be the dead holder's lock; a fresh one taken meanwhile goes back.
        if (Number(readFileSync(stale, 'utf8').trim()) !== holder) linkSync(stale, file);
        rmSync(stale, { force: true });
      } catch {
        // another process moved it first; the next link attempt decides
      }
    }
    throw new Error(`could not lock ${dir}: ${file} keeps coming back`);
  } finally {
    rmSync(mine, { force: true });
  }
}
