import { resolve } from 'node:path';
import type { Command } from 'commander';
import { wholeNumber } from '../connection-flags.js';
import { UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';
import { runUntilSignal } from '../until-signal.js';

interface UpFlags {
  rate: string;
  tls: boolean;
  stateDir?: string;
  portsBase?: string;
  cluster?: boolean;
  statusInterval: string;
}

/**
 * `redscope up` (what `npm start` runs): the whole stack on this machine until
 * Ctrl-C, then every process it started is stopped, newest first.
 */
export function registerUpCommand(program: Command, io: CliIo): void {
  program
    .command('up')
    .description(
      'run the whole local stack: Redis HA, exporter, Prometheus, Alertmanager, alert and trace receivers, demo app',
    )
    .option(
      '--rate <REQ_PER_S>',
      "requests per second from the demo's load generator (0: none)",
      '40',
    )
    .option('--no-tls', 'plain TCP between the parts and Redis (default: TLS with verification)')
    .option(
      '--state-dir <DIR>',
      'where the stack keeps its lock, stack.json, runtime files and every log (default: $REDSCOPE_STATE_DIR, else $XDG_STATE_HOME/redscope, else ~/.local/state/redscope; a new or empty folder, or one up made)',
    )
    .option(
      '--ports-base <PORT>',
      'put every port at PORT+offset (Prometheus at PORT; PORT..PORT+29), to run beside another stack',
    )
    .option(
      '--cluster',
      'run a Redis Cluster (3 masters, 3 replicas) instead of the Sentinel topology',
    )
    .option(
      '--status-interval <SECONDS>',
      'how often the status line is refreshed (printed as a new line when stderr is not a terminal)',
      '5',
    )
    .action(async (flags: UpFlags) => {
      const rate = wholeNumber('--rate', flags.rate, 0, 2000);
      const statusSeconds = wholeNumber('--status-interval', flags.statusInterval, 1, 3600);
      const { PORTS_SPAN } = await import('../../stack/port-plan.js');
      const portsBase =
        flags.portsBase === undefined
          ? undefined
          : wholeNumber('--ports-base', flags.portsBase, 1024, 65535 - PORTS_SPAN);
      const { claimStateDir, defaultStateDir, ForeignStateDirError, lockStateDir } = await import(
        '../../stack/stack-state.js'
      );
      if (flags.stateDir === '') throw new UsageError('--state-dir: expected a folder');
      const stateDir = resolve(flags.stateDir ?? defaultStateDir());
      try {
        claimStateDir(stateDir);
      } catch (error) {
        if (error instanceof ForeignStateDirError) throw new UsageError(error.message);
        throw error;
      }
      // Before anything starts: a second `up` on the same folder fails here, in a second.
      const unlock = lockStateDir(stateDir);
      try {
        const { shellLine, startLocalStack } = await import('../../stack/local-stack.js');
        const { formatStackStatus, readStackStatus } = await import('../../stack/stack-status.js');
        const { DEMO_DEFAULTS } = await import('../../demo/defaults.js');
        // On a terminal the status line is redrawn in place: every other line clears it
        // first and redraws it after, so a page never lands glued to it.
        const tty = process.stderr.isTTY === true;
        let status = '';
        let stopping = false;
        const redraw = () => {
          if (tty && status !== '' && !stopping) {
            io.err(`\r\x1b[K${status.slice(0, (process.stderr.columns ?? 120) - 1)}`);
          }
        };
        const log = (line: string) => {
          if (tty && status !== '') io.err('\r\x1b[K');
          io.err(`[up] ${line}\n`);
          redraw();
        };
        log(`state and logs in ${stateDir}`);
        const counterPerMinute = rate * 60 * DEMO_DEFAULTS.counterReadsPerValidation;
        if (counterPerMinute >= DEMO_DEFAULTS.hotKeyThresholdPerMinute) {
          log(
            `warning: at --rate ${rate} the session cache reads its revocation counter ~${counterPerMinute}/min, ` +
              `over the demo's hot-key threshold (${DEMO_DEFAULTS.hotKeyThresholdPerMinute}/min): RedisHotKey will fire`,
          );
        }
        await runUntilSignal(
          async () => {
            const stack = await startLocalStack({
              log,
              rate,
              tls: flags.tls,
              stateDir,
              ...(portsBase === undefined ? {} : { portsBase }),
              cluster: flags.cluster ?? false,
            });
            // The status line runs as long as the stack; stopping ends it first.
            const refresh = async () => {
              let text: string;
              try {
                text = formatStackStatus(
                  await readStackStatus(
                    stack.state.urls.prometheus,
                    stack.nodeNames,
                    flags.cluster ?? false,
                  ),
                );
              } catch (error) {
                text = `status unavailable: ${(error as Error).message}`;
              }
              if (stopping) return;
              status = text;
              if (tty) redraw();
              else io.err(`[status] ${status}\n`);
            };
            const timer = setInterval(() => void refresh(), statusSeconds * 1000);
            timer.unref();
            return {
              ...stack,
              stop: async () => {
                stopping = true;
                clearInterval(timer);
                await stack.stop();
              },
            };
          },
          (stack) => {
            const width = Math.max(...stack.endpoints.map((e) => e.name.length));
            io.out('\nredscope is up:\n');
            for (const endpoint of stack.endpoints)
              io.out(`  ${endpoint.name.padEnd(width)}  ${endpoint.url}\n`);
            for (const command of stack.commands) {
              io.out(`\nTo ${command.what}:\n  ${shellLine(command)}\n`);
            }
            io.out(
              `\nOpen first: ${stack.state.urls.prometheus}/alerts (empty while the stack is healthy),\n` +
                `then try a drill: redscope failover, redscope maintenance start (docs/game-day.md).\n` +
                'Grafana is not part of the native stack (no Debian package): import\n' +
                'grafana/dashboards/*.json into yours, or run compose.yaml with Docker.\n' +
                'Pages and chat messages Alertmanager sends are printed here. Ctrl-C stops everything.\n',
            );
          },
          log,
        );
      } finally {
        unlock();
      }
    });
}
