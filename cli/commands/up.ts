import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../program.js';

/**
 * `redscope up`: the whole local stack. Not built yet: it needs the exporter,
 * the demo app and the config bundle. Until then it says so and fails rather
 * than pretending to start something.
 */
export function registerUpCommand(program: Command, io: CliIo): void {
  program
    .command('up')
    .description('start the whole local stack (not built yet: see `redscope topology`)')
    .action(() => {
      io.err(
        'redscope up: not built yet. The Redis HA topology alone runs with `redscope topology`;\n' +
          'the exporter, Prometheus, Alertmanager and the demo app join `up` as they land.\n',
      );
      process.exitCode = ExitCode.failure;
    });
}
