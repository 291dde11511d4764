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
  /** Process id of `redscope up` (or of whatever runs the stack in-process, a bench). */
  readonly pid: number;
  /** Its start time in clock ticks since boot (Linux), so a reused pid is not taken for it. */
  readonly pidStartTime?: string;
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
  return isSameProcess(state.pid, state.pidStartTime) ? state : undefined;
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
 * The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat),
 * or undefined where /proc cannot tell (not Linux, the process is gone).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` still is the process that wrote a lock or a stack.json: alive,
 * and started when it said. After a crash or a reboot the pid may belong to
 * another program, which the lock and the drills must not take for the stack.
 */
function isSameProcess(pid: number, startTime: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = processStartTime(pid);
  return startTime === undefined || now === undefined || now === startTime;
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
  writeFileSync(mine, `${pid} ${processStartTime(pid) ?? ''}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, file);
        return () => rmSync(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let content: string;
      try {
        content = readFileSync(file, 'utf8');
      } catch {
        continue; // released meanwhile: try again
      }
      const [holderText, holderStart] = content.trim().split(' ');
      const holder = Number(holderText);
      if (holder !== pid && isSameProcess(holder, holderStart || undefined)) {
        throw new StackRunningError(dir, holder);
      }
      // Stale: moved aside (atomic), so two processes taking it over cannot remove each other's.
      const stale = join(dir, `.up.pid.stale.${pid}`);
      try {
        renameSync(file, stale);
        // What was moved must be the dead holder's lock; a fresh one taken meanwhile goes back.
        if (readFileSync(stale, 'utf8') !== content) linkSync(stale, file);
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
