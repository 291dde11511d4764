import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../exporter/package-root.js';

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

type Register = (program: Command, io: CliIo) => void;

/**
 * Every command, in the order `--help` lists them, with the module that declares
 * it. Modules load only when needed: `redscope exporter` is a long-running process
 * that should not carry the other commands' code (the warmer, the topology
 * tooling, progress bars) in its memory.
 */
const COMMANDS: readonly (readonly [name: string, load: () => Promise<Register>])[] = [
  ['exporter', async () => (await import('./commands/exporter.js')).registerExporterCommand],
  ['demo', async () => (await import('./commands/demo.js')).registerDemoCommand],
  [
    'rotate-certs',
    async () => (await import('./commands/rotate-certs.js')).registerRotateCertsCommand,
  ],
  ['topology', async () => (await import('./commands/topology.js')).registerTopologyCommand],
  ['up', async () => (await import('./commands/up.js')).registerUpCommand],
  ['hotkeys', async () => (await import('./commands/hotkeys.js')).registerHotKeysCommand],
  ['warm', async () => (await import('./commands/warm.js')).registerWarmCommand],
  ['failover', async () => (await import('./commands/failover.js')).registerFailoverCommand],
  [
    'maintenance',
    async () => (await import('./commands/maintenance.js')).registerMaintenanceCommand,
  ],
];

/**
 * The `redscope` command tree. Commander parses; every command's errors end
 * in one line naming the problem, the command's usage, and exit code 2.
 * Given the `argv` to parse, and when it names a command, only that command
 * is declared; otherwise (help, a typo to suggest a fix for) all of them are.
 */
export async function buildProgram(
  io: CliIo = processIo,
  argv?: readonly string[],
): Promise<Command> {
  const program = new Command('redscope')
    .description('See, alert on and keep alive a Redis deployment behind a Node.js product.')
    .version(version(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);

  const named = COMMANDS.find(([name]) => name === argv?.[2]);
  const registers = await Promise.all((named ? [named] : COMMANDS).map(([, load]) => load()));
  for (const register of registers) register(program, io);

  // Every command, subcommands of subcommands too (`maintenance start`).
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  for (const command of all(program)) {
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
