import { spawn } from 'node:child_process';

const spawned = new Set<number>();
process.once('exit', () => {
  for (const pid of spawned) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * The pid of a live process whose command line reads like `redscope up`: what a
 * stack.json or an up.pid must name to count as a running stack (a pid that is
 * alive but some other program counts as stale). It exits by itself after 2
 * minutes, and when this process exits.
 */
export function fakeUpPid(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120_000)', 'redscope', 'up'], {
    stdio: 'ignore',
  });
  child.unref();
  if (child.pid === undefined) throw new Error('could not spawn a stand-in for redscope up');
  spawned.add(child.pid);
  return child.pid;
}
