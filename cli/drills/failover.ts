/**
 * Failover drills on a Sentinel deployment: a planned one (`SENTINEL
 * FAILOVER`) and a crash (kill -9 of a master on this machine), each followed
 * until the Sentinels agree on the new master. The CLI's `redscope failover`
 * prints what these return; a bench calls them directly.
 */
import type { RedisAuth, RedisTls } from '../../exporter/config.js';
import { parseInfo } from '../../exporter/info-parser.js';
import { createExporterLogger } from '../../exporter/logger.js';
import { describeScrapeError, ScrapeTimeoutError } from '../../exporter/scrape-errors.js';
import { parseTarget, type Target } from '../../exporter/target.js';
import type { TargetAccess } from '../../exporter/target-credentials.js';
import { TargetPool, withDeadline } from '../../exporter/target-pool.js';
import {
  assertLoopbackHost,
  assertRedisServerProcess,
  type Lookup,
} from './local-redis-process.js';

export interface SentinelDrillOptions {
  /** Asked in order; the scheme decides TLS, for the Sentinels and the data nodes they name. */
  readonly sentinels: readonly Target[];
  readonly masterName: string;
  readonly tls: RedisTls;
  /** What the Sentinels take (often nothing). */
  readonly sentinelAuth?: RedisAuth;
  /** What the data nodes take: `--crash` reads INFO on the master. */
  readonly dataAuth?: RedisAuth;
  /** How long to wait for the new master, from the request or the kill (default 30 s). */
  readonly timeoutMs?: number;
  /** Return once the failover is requested or the master killed, without waiting (default true: wait). */
  readonly wait?: boolean;
  /** Told each step as it happens (the kill time first of all). */
  readonly onEvent?: (event: DrillEvent) => void;
  /** Name resolution for the loopback check of `--crash` (tests). */
  readonly lookup?: Lookup;
}

export type DrillEvent =
  | {
      readonly kind: 'requested';
      readonly masterName: string;
      readonly sentinel: string;
      readonly master: string;
    }
  | {
      readonly kind: 'killed';
      readonly masterName: string;
      readonly master: string;
      readonly pid: number;
      readonly at: Date;
    };

export interface FailoverResult {
  readonly masterName: string;
  /** `host:port` of the master before. */
  readonly from: string;
  /** `host:port` of the new master; absent when not waited for. */
  readonly to?: string;
  /** When the failover was requested, or the master killed. */
  readonly startedAt: Date;
  /** Seconds from then until every answering Sentinel named the new master. */
  readonly seconds?: number;
}

export interface CrashResult extends FailoverResult {
  readonly pid: number;
}

/** The drill could not run or did not finish; the message says what to do. */
export class FailoverError extends Error {
  override readonly name = 'FailoverError';
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** One round of questions to the Sentinels: a hung one must not hold up the poll. */
const ROUND_BUDGET_MS = 2000;
/** Sentinels switch within milliseconds of each other's hello; 100 ms keeps the measured time honest. */
const POLL_MS = 100;

/** `SENTINEL FAILOVER` through the first Sentinel that knows the master, then (by default) the new master. */
export async function plannedFailover(options: SentinelDrillOptions): Promise<FailoverResult> {
  const sentinels = new SentinelSession(options);
  try {
    const { sentinel, master } = await sentinels.currentMaster();
    const startedAt = new Date();
    const started = performance.now();
    await sentinels.requestFailover(sentinel);
    options.onEvent?.({
      kind: 'requested',
      masterName: options.masterName,
      sentinel: addressOf(sentinel.target),
      master: addressOf(master),
    });
    const base = { masterName: options.masterName, from: addressOf(master), startedAt };
    if (options.wait === false) return base;
    const to = await sentinels.newMaster(master, started, 'requested the failover');
    const seconds = (performance.now() - started) / 1000;
    await sentinels.failoverEnded(started);
    return { ...base, to: addressOf(to), seconds };
  } finally {
    sentinels.close();
  }
}

/**
 * kill -9 of the master the Sentinels name, when it runs on this machine
 * (loopback address, a redis-server pid of ours holding its port), then (by
 * default) the new master they elect.
 */
export async function crashMaster(options: SentinelDrillOptions): Promise<CrashResult> {
  const sentinels = new SentinelSession(options);
  try {
    const { master } = await sentinels.currentMaster();
    await assertLoopbackHost(master.host, options.lookup);
    const pid = await sentinels.processIdOf(master);
    await assertRedisServerProcess(pid, master.port);
    // The connection to the master goes first: its error events are noise after the kill.
    sentinels.forget(master);
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      throw new FailoverError(
        `could not kill pid ${pid} (${(error as NodeJS.ErrnoException).code}) of the master ${addressOf(master)}`,
      );
    }
    const started = performance.now();
    const startedAt = new Date();
    options.onEvent?.({
      kind: 'killed',
      masterName: options.masterName,
      master: addressOf(master),
      pid,
      at: startedAt,
    });
    const base = { masterName: options.masterName, from: addressOf(master), startedAt, pid };
    if (options.wait === false) return base;
    const to = await sentinels.newMaster(master, started, `killed the master (pid ${pid})`);
    const seconds = (performance.now() - started) / 1000;
    await sentinels.failoverEnded(started);
    return { ...base, to: addressOf(to), seconds };
  } finally {
    sentinels.close();
  }
}

/** Sentinel's refusals of `SENTINEL FAILOVER` in words: what happened and what to do. */
export function failoverRefusal(sentinel: string, masterName: string, reply: string): string {
  if (/^NOGOODSLAVE/.test(reply)) {
    return `${sentinel} refused the failover of "${masterName}": no replica can be promoted (NOGOODSLAVE: none is connected and in sync, or every one has replica-priority 0)`;
  }
  if (/^INPROG/.test(reply)) {
    return `${sentinel} refused the failover of "${masterName}": a failover is already in progress (INPROG); wait for it to end and try again`;
  }
  return `${sentinel} refused SENTINEL FAILOVER ${masterName}: ${reply}`;
}

/** `host:port`, an IPv6 host in brackets. */
export function addressOf(target: Target): string {
  return target.key.replace(/^rediss?:\/\//, '');
}

type Answer =
  | { readonly sentinel: TargetAccess; readonly master: Target }
  | { readonly sentinel: TargetAccess; readonly unknown: true }
  | { readonly sentinel: TargetAccess; readonly error: unknown };

/** Connections to the Sentinels (and the master, for --crash), one per address, closed together. */
class SentinelSession {
  private readonly pool: TargetPool;
  private readonly sentinels: readonly TargetAccess[];
  private readonly timeoutMs: number;

  constructor(private readonly options: SentinelDrillOptions) {
    if (options.sentinels.length === 0) throw new FailoverError('no Sentinels to ask');
    // The pool logs connection errors at debug; the drill reports them itself.
    this.pool = new TargetPool(options.tls, createExporterLogger('silent'));
    this.sentinels = options.sentinels.map((target) => ({
      target,
      auth: options.sentinelAuth ?? {},
    }));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** One command to one Sentinel within `deadline`. */
  private async call(sentinel: TargetAccess, deadline: number, args: string[]): Promise<unknown> {
    const connection = this.pool.get(sentinel);
    try {
      const client = await connection.ready(deadline, ROUND_BUDGET_MS);
      const [command, ...rest] = args as [string, ...string[]];
      return await withDeadline(client.call(command, ...rest), deadline, ROUND_BUDGET_MS);
    } catch (error) {
      // A late reply must not answer the next question.
      if (error instanceof ScrapeTimeoutError) connection.discard();
      throw error;
    }
  }

  /** Every Sentinel's answer to GET-MASTER-ADDR-BY-NAME, asked at once. */
  private async ask(): Promise<Answer[]> {
    const deadline = Date.now() + ROUND_BUDGET_MS;
    return Promise.all(
      this.sentinels.map(async (sentinel): Promise<Answer> => {
        try {
          const reply = (await this.call(sentinel, deadline, [
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            this.options.masterName,
          ])) as [string, string] | null;
          if (!reply) return { sentinel, unknown: true };
          const host = reply[0].includes(':') ? `[${reply[0]}]` : reply[0];
          return {
            sentinel,
            master: parseTarget(`${sentinel.target.scheme}://${host}:${reply[1]}`),
          };
        } catch (error) {
          return { sentinel, error };
        }
      }),
    );
  }

  /**
   * Waits (within the drill's timeout from `started`) until no answering
   * Sentinel still runs the failover: Sentinels name the new master while
   * the leader still reconfigures the other replicas, and until it is done a
   * next drill would be refused with INPROG. Not counted in the time reported.
   */
  async failoverEnded(started: number): Promise<void> {
    while (performance.now() - started < this.timeoutMs) {
      const deadline = Date.now() + ROUND_BUDGET_MS;
      const running = await Promise.all(
        this.sentinels.map(async (sentinel) => {
          try {
            const fields = (await this.call(sentinel, deadline, [
              'SENTINEL',
              'MASTER',
              this.options.masterName,
            ])) as string[];
            const flags = fields[fields.indexOf('flags') + 1] ?? '';
            return flags.split(',').includes('failover_in_progress');
          } catch {
            return false; // Not answering: nothing to wait for there.
          }
        }),
      );
      if (!running.includes(true)) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** The master as the first Sentinel (in the order given) that knows it names it. */
  async currentMaster(): Promise<{ sentinel: TargetAccess; master: Target }> {
    const answers = await this.ask();
    for (const answer of answers) {
      if ('master' in answer) return answer;
    }
    const { masterName } = this.options;
    const list = this.sentinels.map((s) => addressOf(s.target)).join(', ');
    if (answers.some((a) => 'unknown' in a)) {
      throw new FailoverError(
        `no Sentinel of ${list} monitors a master named "${masterName}" (${describeAnswers(answers)}); check --master-name against "sentinel monitor <name> ..."`,
      );
    }
    throw new FailoverError(`cannot reach any Sentinel: ${describeAnswers(answers)}`);
  }

  /** `SENTINEL FAILOVER`, its refusals in words. */
  async requestFailover(sentinel: TargetAccess): Promise<void> {
    const { masterName } = this.options;
    const where = `Sentinel ${addressOf(sentinel.target)}`;
    try {
      await this.call(sentinel, Date.now() + ROUND_BUDGET_MS, ['SENTINEL', 'FAILOVER', masterName]);
    } catch (error) {
      throw new FailoverError(failoverRefusal(where, masterName, describe(error)));
    }
  }

  /** `process_id` from INFO server on the master, with the data nodes' credentials. */
  async processIdOf(master: Target): Promise<number> {
    const access = { target: master, auth: this.options.dataAuth ?? {} };
    const deadline = Date.now() + ROUND_BUDGET_MS * 2;
    let info: string;
    try {
      const client = await this.pool.get(access).ready(deadline, ROUND_BUDGET_MS * 2);
      info = String(
        await withDeadline(client.call('INFO', 'server'), deadline, ROUND_BUDGET_MS * 2),
      );
    } catch (error) {
      const message = describe(error);
      const hint = /^(WRONGPASS|NOAUTH|NOPERM)/.test(message)
        ? ' (give --username and --password-file of a data-node user allowed INFO)'
        : '';
      throw new FailoverError(
        `cannot read INFO server on the master ${addressOf(master)}: ${message}${hint}`,
      );
    }
    const pid = Number(parseInfo(info).fields.get('process_id'));
    if (!Number.isInteger(pid)) {
      throw new FailoverError(
        `the master ${addressOf(master)} reported no process_id in INFO server`,
      );
    }
    return pid;
  }

  /** Closes the connection to `target` (every set of credentials). */
  forget(target: Target): void {
    this.pool.get({ target, auth: this.options.dataAuth ?? {} }).close();
  }

  /**
   * Polls until every answering Sentinel names one master other than `old`;
   * `started` (performance.now()) is when the clock began, `what` what was
   * done then, for the timeout's message.
   */
  async newMaster(old: Target, started: number, what: string): Promise<Target> {
    let answers: Answer[] = [];
    while (performance.now() - started < this.timeoutMs) {
      answers = await this.ask();
      const named = answers.flatMap((a) => ('master' in a ? [a.master.key] : []));
      const first = named[0];
      if (first !== undefined && first !== old.key && named.every((key) => key === first)) {
        return parseTarget(first);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    throw new FailoverError(
      `${what}, but the Sentinels did not agree on a new master of "${this.options.masterName}" within ${this.timeoutMs / 1000} s (${describeAnswers(answers)}); check the Sentinels' logs, and replicas that are in sync`,
    );
  }

  close(): void {
    this.pool.closeAll();
  }
}

function describe(error: unknown): string {
  if (error instanceof ScrapeTimeoutError) return `no answer within ${ROUND_BUDGET_MS / 1000} s`;
  return describeScrapeError(error);
}

function describeAnswers(answers: readonly Answer[]): string {
  return answers
    .map((a) => {
      const who = addressOf(a.sentinel.target);
      if ('master' in a) return `${who} names ${addressOf(a.master)}`;
      if ('unknown' in a) return `${who} knows no such master`;
      return `${who}: ${describe(a.error)}`;
    })
    .join('; ');
}
