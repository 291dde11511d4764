import type { Command } from 'commander';
import { UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';
import { runUntilSignal } from '../until-signal.js';

/**
 * `redscope up` (what `npm start` runs): the whole stack on this machine until
 * Ctrl-C, then every process it started is stopped.
 */
export function registerUpCommand(program: Command, io: CliIo): void {
  program
    .command('up')
    .description(
      'run the whole local stack: Redis HA (TLS), exporter, Prometheus, Alertmanager, demo app',
    )
    .option('--demo-users <N>', 'virtual users driving the demo app', '20')
    .option(
      '--cluster',
      'run a Redis Cluster (3 masters, 3 replicas) instead of the Sentinel topology',
    )
    .action(async (options: { demoUsers: string; cluster?: boolean }) => {
      const demoUsers = Number(options.demoUsers);
      if (!Number.isInteger(demoUsers) || demoUsers < 0) {
        throw new UsageError(
          `--demo-users ${JSON.stringify(options.demoUsers)}: expected a whole number`,
        );
      }
      const { shellLine, startLocalStack } = await import('../../stack/local-stack.js');
      const log = (line: string) => io.err(`[up] ${line}\n`);
      await runUntilSignal(
        () => startLocalStack({ log, demoUsers, cluster: options.cluster ?? false }),
        (stack) => {
          const width = Math.max(...stack.endpoints.map((e) => e.name.length));
          io.out('\nredscope is up:\n');
          for (const endpoint of stack.endpoints)
            io.out(`  ${endpoint.name.padEnd(width)}  ${endpoint.url}\n`);
          for (const command of stack.commands) {
            io.out(`\nTo ${command.what}:\n  ${shellLine(command)}\n`);
          }
          io.out(
            '\nGrafana is not part of the native stack (no Debian package): import\n' +
              'grafana/dashboards/*.json into yours, or run compose.yaml with Docker.\n' +
              'Pages and chat messages Alertmanager sends are printed here. Ctrl-C stops everything.\n',
          );
        },
        log,
      );
    });
}
