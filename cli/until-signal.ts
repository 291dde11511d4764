import { ExitCode } from './exit-codes.js';

/**
 * Starts something that owns child processes, runs `started` once it is up,
 * and stops it in order on Ctrl-C or SIGTERM. The handlers are in place before
 * starting: a signal while servers are still starting (or a second Ctrl-C
 * during the stop) kills every child at once instead of orphaning them.
 */
export async function runUntilSignal<T extends { stop(): Promise<void> }>(
  start: () => Promise<T>,
  started: (running: T) => void,
  log: (line: string) => void,
): Promise<void> {
  let running: T | undefined;
  let stopping = false;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const onSignal = () => {
    if (!running || stopping) {
      // No orderly stop: process.exit runs the exit hook that SIGKILLs every child.
      process.exit(ExitCode.interrupted);
    }
    stopping = true;
    log('stopping every process... (Ctrl-C again to kill them at once)');
    running.stop().then(finished, finished);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    running = await start();
    started(running);
    await done;
    log('stopped');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
