import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../exporter/package-root.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerExporterCommand } from './commands/exporter.js';
import { registerHotKeysCommand } from './commands/hotkeys.js';
import { registerRotateCertsCommand } from './commands/rotate-certs.js';
import { registerTopologyCommand } from './commands/topology.js';
import { registerUpCommand } from './commands/up.js';
import { registerWarmCommand } from './commands/warm.js';

/** Where commands write: injectable so tests read the output instead of the console. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Whether `out` is a terminal (commands that refresh like `top` do so only there). */
  readonly isTerminal?: () => boolean;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTerminal: () => process.stdout.isTTY === true,
};

function version(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/**
 * The `redscope` command tree. Commander parses; every command's errors end
 * in one line naming the problem, the command's usage, and exit code 2.
 */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('redscope')
    .description('See, alert on and keep alive a Redis deployment behind a Node.js product.')
    .version(version(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);

  registerExporterCommand(program, io);
  registerDemoCommand(program, io);
  registerRotateCertsCommand(program, io);
  registerTopologyCommand(program, io);
  registerUpCommand(program, io);
  registerHotKeysCommand(program, io);
  registerWarmCommand(program, io);

  for (const command of [program, ...program.commands]) {
    command
      .configureOutput({ writeOut: io.out, writeErr: io.err })
      .showHelpAfterError(`Usage: ${fullName(command)} ${command.usage()}`)
      .exitOverride();
  }
  return program;
}

function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Maps commander's own exits (help, version, parse errors) to our exit codes. */
export function exitCodeOf(error: unknown): number | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  if (
    error.code === 'commander.helpDisplayed' ||
    error.code === 'commander.version' ||
    error.code === 'commander.help'
  ) {
    return 0;
  }
  return 2;
}
