import { ExitCode, UsageError } from './exit-codes.js';
import { buildProgram, type CliIo, exitCodeOf, processIo } from './program.js';

/** Runs the CLI with `argv` (as in process.argv) and resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = await buildProgram(io, argv);
  if (argv.length <= 2) {
    program.outputHelp();
    return ExitCode.usage;
  }
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    const code = exitCodeOf(error);
    if (code !== undefined) return code;
    if (error instanceof UsageError) {
      io.err(`redscope: ${error.message}\n`);
      return ExitCode.usage;
    }
    io.err(`redscope: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.failure;
  }
}
