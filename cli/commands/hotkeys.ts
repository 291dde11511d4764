import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { HOTKEY_TOP_CAP } from '../../client/common/hotkey-report.js';
import { DEFAULTS, type ExporterConfig } from '../../exporter/config.js';
import type { FleetHotKeys } from '../../exporter/hotkey-reports.js';
import type { TargetAccess } from '../../exporter/target-credentials.js';
import {
  CONNECTION_FLAGS,
  connectionConfig,
  describeConnection,
  wholeNumber,
} from '../connection-flags.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import type { CliIo } from '../program.js';
import { printable } from '../terminal-text.js';
import { addExporterFlags, flagValues } from './exporter.js';

const DEFAULT_INTERVAL_SECONDS = 2;
/** One read gives up after this: an on-call engineer should not wait longer on a hung Redis. */
const READ_BUDGET_MS = 5000;
/** Clients publish at most every second; refreshing faster shows nothing new. */
const MIN_INTERVAL_SECONDS = 0.5;
const KEY_COLUMN_MAX = 80;

export interface HotKeysView {
  /** The master read, `scheme://host:port`. */
  readonly target: string;
  /** When the read finished, ms since epoch. */
  readonly at: number;
  readonly fleet: FleetHotKeys;
}

export interface ShowHotKeysOptions {
  readonly config: ExporterConfig;
  readonly top: number;
  readonly intervalSeconds: number;
  /** Refresh until `signal` aborts (on a terminal), or print once. */
  readonly refresh: boolean;
  readonly json: boolean;
  readonly io: CliIo;
  readonly signal: AbortSignal;
}

/** `redscope hotkeys`: the fleet-wide top list the exporter exports, read from Redis. */
export function registerHotKeysCommand(program: Command, io: CliIo): void {
  const command = program
    .command('hotkeys')
    .description(
      'show the fleet-wide hot keys the app processes report (refreshes on a terminal like top)',
    );
  addExporterFlags(command, CONNECTION_FLAGS, {
    'redis-url': [
      'URL',
      'the master holding the reports (on a Redis Cluster any node: MOVED is followed): redis://host:port or rediss://host:port',
    ],
    'password-file': ['FILE', 'file holding the password of --username (or env REDSCOPE_PASSWORD)'],
  });
  command
    .option(
      '--top <N>',
      `keys shown (default ${DEFAULTS.hotKeysTop}, as the exporter; at most ${HOTKEY_TOP_CAP})`,
    )
    .option(
      '--interval <SECONDS>',
      `refresh period on a terminal (default ${DEFAULT_INTERVAL_SECONDS})`,
    )
    .option('--once', 'print once and exit (what happens when stdout is not a terminal)')
    .option('--json', 'print JSON for scripts: one object per read');
  command.action(async (options: Record<string, string | boolean>) => {
    const { top, interval, once, json, ...connection } = options;
    const parsed = {
      top: wholeNumber('--top', String(top ?? DEFAULTS.hotKeysTop), 1, HOTKEY_TOP_CAP),
      intervalSeconds: seconds('--interval', String(interval ?? DEFAULT_INTERVAL_SECONDS)),
    };
    const config = connectionConfig(flagValues(connection));
    if (config.tls.insecureSkipVerify) {
      io.err('redscope hotkeys: TLS certificate verification of Redis is OFF\n');
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      process.exitCode = await showHotKeys({
        config,
        ...parsed,
        refresh: once !== true && io.isTerminal?.() === true,
        json: json === true,
        io,
        signal: controller.signal,
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

function seconds(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < MIN_INTERVAL_SECONDS) {
    throw new UsageError(
      `${flag} ${JSON.stringify(value)}: expected seconds, at least ${MIN_INTERVAL_SECONDS}`,
    );
  }
  return n;
}

/**
 * Reads and prints the top list: once, or every interval until the signal
 * aborts. The first read failing ends it with ExitCode.failure and one line on
 * stderr; a later one shows on screen and the next refresh tries again.
 */
export async function showHotKeys(options: ShowHotKeysOptions): Promise<ExitCode> {
  const { io, refresh } = options;
  const source = await openSource(options.config);
  try {
    let shown = false;
    for (;;) {
      let screen: string;
      try {
        const view = await source.read(options.top);
        screen = options.json ? `${JSON.stringify(toJson(view))}\n` : renderText(view, options);
        shown = true;
      } catch (error) {
        const message = source.describeFailure(error);
        if (!shown || !refresh) {
          io.err(`redscope hotkeys: ${message}\n`);
          return ExitCode.failure;
        }
        screen = options.json
          ? `${JSON.stringify({ error: message, at: new Date().toISOString() })}\n`
          : `redscope hotkeys: ${message}; trying again in ${options.intervalSeconds} s\n`;
      }
      // Like top: the screen is redrawn in place; JSON lines just follow each other.
      io.out(refresh && !options.json ? `\x1b[H\x1b[2J${screen}` : screen);
      if (!refresh) return ExitCode.ok;
      try {
        await sleep(options.intervalSeconds * 1000, undefined, { signal: options.signal });
      } catch {
        // Aborted: Ctrl-C ends the watch, not an error.
        return ExitCode.ok;
      }
    }
  } finally {
    source.close();
  }
}

interface HotKeysSource {
  read(top: number): Promise<HotKeysView>;
  /** One line for an operator: where, and what went wrong, without secrets. */
  describeFailure(error: unknown): string;
  close(): void;
}

/**
 * The master, reached the way the exporter reaches it (the same pool, TLS,
 * Sentinel lookup and credentials), and read with the exporter's own code.
 *
 * On a Redis Cluster the reports live on the master serving `{hotkeys}`, which
 * failovers and resharding move: a node that answers MOVED names it, and that
 * master is read from then on (one redirect per read), until it fails or moves
 * the slot again. It gets the credentials given for --redis-url: the cluster
 * named it, and a cluster's nodes share their ACL users.
 */
async function openSource(config: ExporterConfig): Promise<HotKeysSource> {
  // ioredis, pino and the pool load only when the command runs.
  const { createExporterLogger } = await import('../../exporter/logger.js');
  const { TargetPool, pipelineRoundTrip } = await import('../../exporter/target-pool.js');
  const { TargetCredentials } = await import('../../exporter/target-credentials.js');
  const { HOTKEY_INDEX_READ, readFleetHotKeys } = await import('../../exporter/hotkey-reports.js');
  const { settledValue } = await import('../../exporter/indexed-records.js');
  const { describeScrapeError } = await import('../../exporter/scrape-errors.js');
  const { parseTarget } = await import('../../exporter/target.js');
  const pool = new TargetPool(config.tls, createExporterLogger('silent'));
  const credentials = new TargetCredentials(config, pool);
  const where = describeConnection(config);
  /** The cluster master a MOVED named, read directly from then on. */
  let owner: TargetAccess | undefined;
  /** The master the last read was redirected to, for its failure message. */
  let redirectedTo: string | undefined;

  const readOn = async (access: TargetAccess, deadline: number, top: number) => {
    redirectedTo = access === owner ? access.target.key : undefined;
    const client = await pool.get(access).ready(deadline, READ_BUDGET_MS);
    const roundTrip = (commands: readonly (readonly string[])[]) =>
      pipelineRoundTrip(client, commands, deadline, READ_BUDGET_MS);
    const [index] = await roundTrip([HOTKEY_INDEX_READ]);
    const indexReply = settledValue(index);
    if (indexReply instanceof Error) throw indexReply;
    return readFleetHotKeys(indexReply, roundTrip, { top });
  };

  /** The master a `MOVED <slot> <host>:<port>` error names, with `from`'s scheme and credentials. */
  const movedFrom = (error: unknown, from: TargetAccess): TargetAccess | undefined => {
    const moved = error instanceof Error ? /^MOVED \d+ (.*):(\d+)$/.exec(error.message) : null;
    if (!moved) return undefined;
    // An empty host means "the address you reached me at" (a node that does not know its IP).
    const host = moved[1] || from.target.host;
    const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    return {
      target: parseTarget(`${from.target.scheme}://${bracketed}:${moved[2]}`),
      auth: from.auth,
    };
  };

  return {
    async read(top) {
      const deadline = Date.now() + READ_BUDGET_MS;
      const configured = await credentials.forMetrics(deadline, READ_BUDGET_MS);
      if (!configured) throw new Error('no Redis to read from');
      let access = owner ?? configured;
      for (let redirects = 0; ; redirects++) {
        try {
          const fleet = await readOn(access, deadline, top);
          return { target: access.target.key, at: Date.now(), fleet };
        } catch (error) {
          // Anything but a redirect: the next read starts again from --redis-url.
          owner = movedFrom(error, access);
          if (!owner || redirects > 0) throw error;
          access = owner;
        }
      }
    },
    describeFailure(error) {
      const message = describeScrapeError(error);
      const node = redirectedTo
        ? `${redirectedTo} (the master serving {hotkeys}, as ${where} named it)`
        : where;
      if (/^NOPERM/.test(message)) {
        return `Redis at ${node} refused to read the reports (${message}); the user needs %R~redscope:{hotkeys}* +zrevrange +strlen +mget (docs/metrics.md)`;
      }
      return `cannot read the hot keys from ${node}: ${message}`;
    },
    close: () => pool.closeAll(),
  };
}

function toJson(view: HotKeysView) {
  const { merged, invalid, expired } = view.fleet;
  return {
    target: view.target,
    at: new Date(view.at).toISOString(),
    reports: merged.reports,
    expired,
    invalid,
    thresholdPerMinute: merged.thresholdPerMinute ?? null,
    keysOverThreshold: merged.keysOverThreshold,
    oldestReportAgeSeconds:
      merged.oldestReportMs === undefined
        ? null
        : Math.max(0, (view.at - merged.oldestReportMs) / 1000),
    keys: merged.keys,
  };
}

function renderText(view: HotKeysView, options: ShowHotKeysOptions): string {
  const { merged, invalid, expired } = view.fleet;
  const lines: string[] = [
    `redscope hotkeys  ${view.target}  ${new Date(view.at).toISOString()}` +
      (options.refresh ? `  (every ${options.intervalSeconds} s, Ctrl-C quits)` : ''),
  ];
  const age =
    merged.oldestReportMs === undefined
      ? ''
      : `, oldest ${Math.max(0, (view.at - merged.oldestReportMs) / 1000).toFixed(1)} s old`;
  const threshold =
    merged.thresholdPerMinute === undefined ? '' : `, threshold ${merged.thresholdPerMinute}/min`;
  lines.push(
    `reports: ${merged.reports}${age}${threshold}, keys over threshold: ${merged.keysOverThreshold}`,
  );
  const skipped = Object.entries(invalid).filter(([, n]) => n > 0);
  if (skipped.length > 0 || expired > 0) {
    const parts = skipped.map(([reason, n]) => `${n} ${reason}`);
    if (expired > 0) parts.push(`${expired} expired`);
    lines.push(`skipped reports: ${parts.join(', ')}`);
  }
  lines.push('');
  if (merged.keys.length === 0) {
    lines.push(
      merged.reports === 0
        ? 'no hot-key reports: no app process publishes them (hotKeys in redscope/client), or they all expired'
        : 'the reports list no keys',
    );
    return `${lines.join('\n')}\n`;
  }
  const keys = merged.keys.map((k) => {
    const name = printable(k.key);
    return name.length > KEY_COLUMN_MAX ? `${name.slice(0, KEY_COLUMN_MAX - 1)}…` : name;
  });
  const width = Math.max(3, ...keys.map((k) => k.length));
  lines.push(
    `${'KEY'.padEnd(width)}  ${'RATE/MIN'.padStart(10)}  ${'REDIS/MIN'.padStart(10)}  ${'PROCESSES'.padStart(9)}  HOT`,
  );
  merged.keys.forEach((k, i) => {
    lines.push(
      `${(keys[i] ?? '').padEnd(width)}  ${k.rate.toFixed(1).padStart(10)}  ${k.redisRate.toFixed(1).padStart(10)}  ${String(k.processes).padStart(9)}  ${k.overThreshold ? 'yes' : 'no'}`,
    );
  });
  return `${lines.join('\n')}\n`;
}
