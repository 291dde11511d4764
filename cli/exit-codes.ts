/** Exit codes of the redscope CLI. */
export const ExitCode = {
  ok: 0,
  /** The process ran and failed (a server would not start, Redis refused). */
  failure: 1,
  /** The command line or a config file is wrong; nothing was started. */
  usage: 2,
  /** Stopped by Ctrl-C (128 + SIGINT, what a shell reports). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands for bad input; main() prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
