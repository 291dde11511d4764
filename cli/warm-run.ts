import type { Level } from 'pino';
import { redactUrlCredentials } from '../client/common/redaction.js';
import { warmingUsageKey } from '../client/common/warming-status.js';
import type { RedisClients } from '../client/connection/create-redis-clients.js';
import type { WarmingResult, WarmSource } from '../client/warming/types.js';
import { readUsagePlan } from '../client/warming/usage-record.js';
import { WARMING_DEFAULTS } from '../client/warming/warming-options.js';
import type { ExporterConfig } from '../exporter/config.js';
import { clientsConfigOf, describeConnection } from './connection-flags.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo } from './program.js';
import { printable } from './terminal-text.js';
import {
  importLoader,
  readKeysFile,
  type SourceFlags,
  sourceClientsConfig,
} from './warm-inputs.js';
import { handled, type ProgressView, plainProgress, terminalProgress } from './warm-progress.js';

/**
 * One `redscope warm` run, once its flags are checked (commands/warm.ts):
 * connect, plan, then warm through the client's warmer with the progress
 * shown, until done or Ctrl-C.
 */

/**
 * Connecting gives up after this: an on-call engineer should not wait longer
 * on a Redis that is down (a refused password or TLS fails at once).
 */
const READY_BUDGET_MS = 3000;
/** The warmer's measurement period under a bar: its keys/s and ETA move every second. */
const TERMINAL_PROGRESS_MS = 1000;
/** Keys the dry run lists. */
const SHOWN_KEYS = 10;
const KEY_COLUMN_MAX = 100;

export interface WarmRequest {
  /** The Redis to warm, from the connection flags. */
  readonly target: ExporterConfig;
  readonly namespace: string;
  readonly top: number;
  /** The plan from a file instead of the usage record. */
  readonly keysFile?: string;
  /** Where the values come from. */
  readonly values:
    | { readonly kind: 'loader'; readonly module: string }
    | { readonly kind: 'redis'; readonly from: SourceFlags };
  readonly ratePerSecond: number;
  readonly dryRun: boolean;
  readonly progressEveryMs: number;
  /** The client's own JSON logs, on stderr (or above the bar). */
  readonly logLevel: Level | 'silent';
  readonly io: CliIo;
}

/** A Redis that could not be reached or refused: one line for stderr, and exit 1. */
class WarmFailure extends Error {
  override readonly name = 'WarmFailure';
}

/**
 * Runs `redscope warm`: checks the inputs, connects, plans, then warms
 * through the client's warmer (`clients.warm()`) with the progress shown,
 * until done or Ctrl-C. Resolves with the exit code; throws UsageError for
 * bad input (exit 2).
 */
export async function warm(request: WarmRequest): Promise<ExitCode> {
  const { io } = request;
  // Before connecting: a bad module or file is the caller's to fix, whatever Redis says.
  const loader =
    request.values.kind === 'loader' ? await importLoader(request.values.module) : undefined;
  const fileKeys =
    request.keysFile !== undefined
      ? readKeysFile(request.keysFile, request.namespace, request.top)
      : undefined;
  const client = await import('../client/index.js');
  let view: ProgressView | undefined;
  const logger = client.createLogger({
    level: request.logLevel,
    name: 'redscope-warm',
    // Only while the run is on: before it, a failure ends the command with one line of its own,
    // and the reconnect attempts behind it would bury that line.
    destination: { write: (line: string) => view?.log(line) },
  });
  const open = (config: Parameters<typeof client.createRedisClients>[0], flag: string) => {
    try {
      return client.createRedisClients(config, { logger, tracing: { enabled: false } });
    } catch (error) {
      if (error instanceof client.ConfigError) {
        throw new UsageError(`${flag}: ${error.message.replace(/^redscope client config: /, '')}`);
      }
      throw error;
    }
  };
  const where = describeConnection(request.target);
  const opened: RedisClients[] = [];
  try {
    const target = open(clientsConfigOf(request.target), 'the target connection');
    opened.push(target);
    await ready(target, `Redis at ${where}`);
    let source: { clients: RedisClients; where: string } | undefined;
    if (request.values.kind === 'redis') {
      const from = request.values.from;
      const clients = open(sourceClientsConfig(from, request.target), '--from-redis');
      opened.push(clients);
      source = { clients, where: redactUrlCredentials(from.url) };
      await ready(clients, `the warm Redis at ${source.where}`);
    }
    const plan = await makePlan(request, target, source, fileKeys);
    const valueSource: WarmSource = loader ?? {
      kind: 'redis',
      from: (source as { clients: RedisClients }).clients.writer,
    };
    const valuesText =
      request.values.kind === 'loader'
        ? `loaded by ${request.values.module} (TTL ${loader?.ttlSeconds} s), written only where the key is missing`
        : `copied from ${source?.where} (DUMP, RESTORE without REPLACE, TTLs kept)`;
    if (request.dryRun) {
      io.out(renderPlan(request, where, plan, valuesText));
      return ExitCode.ok;
    }
    io.out(
      `redscope warm: ${plan.keys.length} keys of ${printable(request.namespace)} into ${where}, ${plan.origin}; values ${valuesText}; at most ${request.ratePerSecond} keys/s (about ${estimate(plan.keys.length, request.ratePerSecond)}). Ctrl-C stops.\n`,
    );
    const terminal = io.isTerminal?.() === true;
    view = terminal ? terminalProgress(io) : plainProgress(io, request.progressEveryMs);
    const result = await runWithProgress(target, view, {
      namespace: request.namespace,
      source: valueSource,
      // The warmer reads the target's record itself (its status then says `usage`); any other plan is handed over.
      ...(plan.targetRecord ? { limit: request.top } : { keys: plan.keys }),
      ratePerSecond: request.ratePerSecond,
      // Its keys/s and ETA are measured over this period: the lines' own, or a second under the bar.
      progressEveryMs: terminal ? TERMINAL_PROGRESS_MS : request.progressEveryMs,
    });
    return report(io, result);
  } catch (error) {
    if (error instanceof WarmFailure) {
      io.err(`redscope warm: ${error.message}\n`);
      return ExitCode.failure;
    }
    throw error;
  } finally {
    view = undefined;
    await Promise.all(opened.map((clients) => clients.close()));
  }
}

async function ready(clients: RedisClients, what: string): Promise<void> {
  try {
    await clients.ready(READY_BUDGET_MS);
  } catch (error) {
    throw new WarmFailure(`cannot reach ${what}: ${(error as Error).message}`);
  }
}

interface Plan {
  readonly keys: readonly string[];
  /** Where the keys come from, for the plan and the first line. */
  readonly origin: string;
  /** The plan is the top of the target's own usage record. */
  readonly targetRecord: boolean;
}

/**
 * The keys, most valuable first: the keys file, else the usage record of the
 * Redis to warm, else the warm Redis's own (a flush took the target's record
 * too). No record anywhere means a namespace nobody records: a typo, most likely.
 */
async function makePlan(
  request: WarmRequest,
  target: RedisClients,
  source: { clients: RedisClients; where: string } | undefined,
  fileKeys: readonly string[] | undefined,
): Promise<Plan> {
  if (fileKeys) return { keys: fileKeys, origin: `from ${request.keysFile}`, targetRecord: false };
  const record = warmingUsageKey(request.namespace);
  const where = describeConnection(request.target);
  const read = async (clients: RedisClients, at: string) => {
    try {
      return await readUsagePlan(clients.writer, request.namespace, request.top);
    } catch (error) {
      throw new WarmFailure(
        `cannot read the usage record ${record} on ${at}: ${(error as Error).message}`,
      );
    }
  };
  const own = await read(target, where);
  if (own.length > 0) {
    return {
      keys: own,
      origin: `the top of the usage record ${record} on ${where}`,
      targetRecord: true,
    };
  }
  if (source) {
    const theirs = await read(source.clients, source.where);
    if (theirs.length > 0) {
      return {
        keys: theirs,
        origin: `the top of the usage record ${record} on ${source.where} (${where} has none)`,
        targetRecord: false,
      };
    }
  }
  throw new UsageError(
    `--namespace ${JSON.stringify(request.namespace)}: no usage record ${record} on ${where}${source ? ` nor on ${source.where}` : ''}, so nothing to warm; check the prefix (apps record the namespaces of their usage option), or give --keys-file FILE`,
  );
}

function estimate(keys: number, rate: number): string {
  const seconds = keys / rate;
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

function renderPlan(request: WarmRequest, where: string, plan: Plan, values: string): string {
  const { keys } = plan;
  const lines = [
    'redscope warm --dry-run: the plan; nothing is written',
    `target:     ${where}`,
    `namespace:  ${printable(request.namespace)}`,
    `keys:       ${keys.length}, ${plan.origin}`,
    `values:     ${values}`,
    `rate:       at most ${request.ratePerSecond} keys/s, in pipelines of ${WARMING_DEFAULTS.batchSize}, ${WARMING_DEFAULTS.concurrency} in flight`,
    `estimate:   ${estimate(keys.length, request.ratePerSecond)} at that rate (longer if the source is slower or live traffic makes it back off)`,
    'first keys, most valuable first:',
  ];
  keys.slice(0, SHOWN_KEYS).forEach((key, i) => {
    const name = printable(key);
    const shown = name.length > KEY_COLUMN_MAX ? `${name.slice(0, KEY_COLUMN_MAX - 1)}…` : name;
    lines.push(`${String(i + 1).padStart(6)}  ${shown}`);
  });
  if (keys.length > SHOWN_KEYS) lines.push(`        ... and ${keys.length - SHOWN_KEYS} more`);
  return `${lines.join('\n')}\n`;
}

/**
 * Starts the run and shows it until it ends. The first Ctrl-C (or SIGTERM)
 * cancels it: the warmer stops taking batches, the ones in flight answer, and
 * `done` resolves as cancelled; a second one quits at once.
 */
async function runWithProgress(
  target: RedisClients,
  view: ProgressView,
  options: Parameters<RedisClients['warm']>[0],
): Promise<WarmingResult & { interrupted: boolean }> {
  const run = target.warm(options);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(ExitCode.interrupted);
    interrupted = true;
    view.log('redscope warm: stopping after the batches in flight (Ctrl-C again quits at once)');
    run.cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  view.start(run.progress());
  const timer = setInterval(() => view.update(run.progress()), 100);
  try {
    const result = await run.done;
    view.stop(result);
    return { ...result, interrupted };
  } finally {
    clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The last line: how far it got, and the exit code that says how it ended. */
function report(io: CliIo, result: WarmingResult & { interrupted: boolean }): ExitCode {
  const seconds = (result.elapsedMs / 1000).toFixed(1);
  const counts = `warmed ${result.warmed}, skipped ${result.skipped} (already filled or gone from the source), failed ${result.failed}, errors ${result.errors}`;
  const share = result.planned > 0 ? Math.floor((100 * handled(result)) / result.planned) : 100;
  switch (result.outcome) {
    case 'done':
    case 'target_reached':
      io.out(`done in ${seconds} s: ${counts}\n`);
      return ExitCode.ok;
    case 'cancelled':
      io.out(
        `cancelled after ${handled(result)} of ${result.planned} keys (${share}%) in ${seconds} s: ${counts}; the other ${Math.max(0, result.planned - handled(result))} keys were not warmed\n`,
      );
      return result.interrupted ? ExitCode.interrupted : ExitCode.failure;
    case 'failed':
      io.err(
        `redscope warm: failed after ${handled(result)} of ${result.planned} keys in ${seconds} s: ${result.reason ?? 'no reason given'} (${counts})\n`,
      );
      return ExitCode.failure;
  }
}
