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
 * The pid of a live process that stands for a running `redscope up` in a
 * stack.json or an up.pid the test writes (not this test process: a lock held
 * by this very process counts as its own). It exits by itself after 2 minutes,
 * and when this process exits.
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
