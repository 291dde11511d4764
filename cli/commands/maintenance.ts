import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { redactUrlCredentials } from '../../client/common/redaction.js';
import { defaultStateDir } from '../../stack/stack-state.js';
import {
  AlertmanagerError,
  AlertmanagerSilences,
  AlertmanagerUrlError,
  isSilenceId,
  type Silence,
} from '../drills/alertmanager-silences.js';
import {
  formatDuration,
  formatMatcher,
  parseMatchers,
  parseSilenceDuration,
  SilenceInputError,
} from '../drills/silence-input.js';
import { StackDefaults } from '../drills/stack-defaults.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';
import { printable } from '../terminal-text.js';

/** What `stop --all` recognises as ours, and what `start` writes before the user and host. */
export const CREATED_BY_PREFIX = 'redscope maintenance';
const DEFAULT_COMMENT = 'maintenance window';

interface Common {
  alertmanagerUrl?: string;
  stateDir?: string;
}

/**
 * `redscope maintenance start|list|stop`: Alertmanager silences for a planned
 * window. A silence ends by itself at its end time (Alertmanager expires it):
 * forgetting `stop` does not mute the pager for good.
 */
export function registerMaintenanceCommand(program: Command, io: CliIo): void {
  const maintenance = program
    .command('maintenance')
    .description(
      'silence alerts for a maintenance window through Alertmanager (start, list, stop); silences expire by themselves',
    );

  const start = common(
    maintenance
      .command('start')
      .description(
        'create a silence that Alertmanager expires by itself after --for (no stop needed)',
      )
      .option('--for <DURATION>', 'how long the silence holds: 90s, 30m, 1h, 1h30m (at most 7d)')
      .option(
        '--matcher <MATCHER>',
        'alerts to mute, amtool syntax: name=value, name!=value, name=~regex, name!~regex (repeatable; all must match)',
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option('--comment <TEXT>', `why (default "${DEFAULT_COMMENT}")`),
  );
  start.action(async (options: Common & { for?: string; matcher?: string[]; comment?: string }) => {
    const { forMs, matchers } = parseStartFlags(options);
    const api = alertmanager(options);
    await reported('start', io, async () => {
      const now = Date.now();
      const endsAt = new Date(now + forMs).toISOString();
      const id = await api.create({
        matchers,
        startsAt: new Date(now).toISOString(),
        endsAt,
        createdBy: `${CREATED_BY_PREFIX} (${whoAmI()})`,
        comment: options.comment ?? DEFAULT_COMMENT,
      });
      io.out(
        `silence ${id} until ${endsAt} (${formatDuration(forMs)}): ${matchers.map(formatMatcher).join(', ')}\n` +
          `Alertmanager ${api.url} expires it by itself; end it early with: redscope maintenance stop ${id}\n`,
      );
      return ExitCode.ok;
    });
  });

  const list = common(
    maintenance
      .command('list')
      .description('show the active and pending silences')
      .option('--json', 'print JSON for scripts'),
  );
  list.action(async (options: Common & { json?: boolean }) => {
    const api = alertmanager(options);
    await reported('list', io, async () => {
      const now = Date.now();
      const silences = (await api.list())
        .filter((s) => s.status.state !== 'expired')
        .sort((a, b) => Date.parse(a.endsAt) - Date.parse(b.endsAt));
      io.out(
        options.json
          ? `${JSON.stringify(silences.map((s) => toJson(s, now)))}\n`
          : table(silences, now),
      );
      return ExitCode.ok;
    });
  });

  const stop = common(
    maintenance
      .command('stop')
      .description(
        `expire a silence now; --all: every active one created by "${CREATED_BY_PREFIX}"`,
      )
      .argument('[ID]', 'the silence id (maintenance list shows it)')
      .option(
        '--all',
        `every active or pending silence whose creator starts "${CREATED_BY_PREFIX}"`,
      ),
  );
  stop.action(async (id: string | undefined, options: Common & { all?: boolean }) => {
    if ((id === undefined) === (options.all !== true)) {
      throw new UsageError(
        id === undefined
          ? 'maintenance stop: give a silence ID (maintenance list shows them) or --all'
          : 'maintenance stop: give either an ID or --all, not both',
      );
    }
    if (id !== undefined && !isSilenceId(id)) {
      throw new UsageError(
        `maintenance stop ${JSON.stringify(printable(id).slice(0, 80))}: not a silence id; ids look like 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 (maintenance list shows them)`,
      );
    }
    const api = alertmanager(options);
    await reported('stop', io, () => (id ? stopOne(api, id, io) : stopAll(api, io)));
  });

  // Without this, commander prints the help and exits 0: a script typo must fail.
  maintenance.argument('[command]').action((command: string | undefined) => {
    throw new UsageError(
      command === undefined
        ? 'maintenance: give a command: start, list or stop (redscope maintenance --help)'
        : `maintenance: unknown command ${JSON.stringify(printable(command))}; expected start, list or stop`,
    );
  });
}

/**
 * Runs a subcommand's work against Alertmanager: its exit code, or when
 * Alertmanager cannot be reached or refuses, one line and ExitCode.failure.
 */
async function reported(
  subcommand: string,
  io: CliIo,
  work: () => Promise<ExitCode>,
): Promise<void> {
  try {
    process.exitCode = await work();
  } catch (error) {
    if (!(error instanceof AlertmanagerError)) throw error;
    io.err(`redscope maintenance ${subcommand}: ${error.message}\n`);
    process.exitCode = ExitCode.failure;
  }
}

/** --alertmanager-url and --state-dir, on each subcommand: they are typed after it. */
function common(command: Command): Command {
  return command
    .option(
      '--alertmanager-url <URL>',
      "Alertmanager's base URL, e.g. http://alertmanager:9093 (default: the running redscope up's)",
    )
    .option(
      '--state-dir <DIR>',
      `where redscope up keeps stack.json, read for defaults (default ${defaultStateDir()})`,
    );
}

function parseStartFlags(options: { for?: string; matcher?: string[] }) {
  if (options.for === undefined) {
    throw new UsageError('maintenance start: give --for DURATION, e.g. --for 1h');
  }
  try {
    return {
      forMs: parseSilenceDuration(options.for),
      matchers: parseMatchers(options.matcher ?? []),
    };
  } catch (error) {
    if (error instanceof SilenceInputError) throw new UsageError(error.message);
    throw error;
  }
}

function alertmanager(options: Common): AlertmanagerSilences {
  const defaults = new StackDefaults(options.stateDir ?? defaultStateDir());
  const url = defaults.value(
    '--alertmanager-url',
    options.alertmanagerUrl,
    (s) => s.urls.alertmanager,
  );
  try {
    return new AlertmanagerSilences(url);
  } catch (error) {
    if (error instanceof AlertmanagerUrlError) {
      throw new UsageError(
        `--alertmanager-url ${JSON.stringify(printable(redactUrlCredentials(url)))}: ${error.message}`,
      );
    }
    throw error;
  }
}

/** `user@host` for createdBy: who to ask about a silence found in the morning. */
function whoAmI(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container run with an arbitrary uid).
    user = process.env.USER || `uid${process.getuid?.() ?? ''}`;
  }
  return `${user}@${hostname()}`;
}

async function stopOne(api: AlertmanagerSilences, id: string, io: CliIo): Promise<ExitCode> {
  const silence = await api.get(id);
  if (!silence) {
    throw new AlertmanagerError(`Alertmanager at ${api.url} has no silence ${id}`);
  }
  if (silence.status.state === 'expired') {
    io.out(`silence ${id} had already expired at ${silence.endsAt}\n`);
    return ExitCode.ok;
  }
  await api.expire(id);
  io.out(
    `expired silence ${id}: ${silence.matchers.map(formatMatcher).map(printable).join(', ')}\n`,
  );
  return ExitCode.ok;
}

async function stopAll(api: AlertmanagerSilences, io: CliIo): Promise<ExitCode> {
  const live = (await api.list()).filter((s) => s.status.state !== 'expired');
  const ours = live.filter((s) => s.createdBy.startsWith(CREATED_BY_PREFIX));
  for (const silence of ours) {
    await api.expire(silence.id);
    io.out(
      `expired silence ${silence.id}: ${silence.matchers.map(formatMatcher).map(printable).join(', ')}\n`,
    );
  }
  if (ours.length === 0) io.out(`no active silences created by ${CREATED_BY_PREFIX}\n`);
  const others = live.length - ours.length;
  if (others > 0) {
    io.out(
      `left ${others} other silence${others === 1 ? '' : 's'} (not created by ${CREATED_BY_PREFIX})\n`,
    );
  }
  return ExitCode.ok;
}

function toJson(silence: Silence, now: number) {
  return {
    id: silence.id,
    state: silence.status.state,
    matchers: silence.matchers.map(formatMatcher),
    startsAt: silence.startsAt,
    endsAt: silence.endsAt,
    remainingSeconds: Math.max(0, Math.round((Date.parse(silence.endsAt) - now) / 1000)),
    createdBy: silence.createdBy,
    comment: silence.comment,
  };
}

function table(silences: readonly Silence[], now: number): string {
  if (silences.length === 0) return 'no active silences\n';
  const rows = silences.map((s) => [
    s.id,
    s.status.state,
    s.matchers.map(formatMatcher).join(','),
    `${s.endsAt} (in ${formatDuration(Date.parse(s.endsAt) - now)})`,
    s.createdBy,
    s.comment,
  ]);
  const header = ['ID', 'STATE', 'MATCHERS', 'ENDS', 'CREATED BY', 'COMMENT'];
  const cells = [header, ...rows].map((row) => row.map((cell) => printable(cell)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .map((line) => `${line}\n`)
    .join('');
}
