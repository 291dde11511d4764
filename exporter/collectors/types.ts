import type { FamilySpec, MetricSink } from '../exposition.js';
import type { ParsedInfo } from '../info-parser.js';

/**
 * What kind of server a target is, learnt from `INFO server` (`redis_mode`)
 * when the connection opens. A cluster node is a Redis data node too: it runs
 * the `redis` collectors and the `cluster` ones (runsOn).
 */
export type TargetMode = 'redis' | 'cluster' | 'sentinel';

/** A Redis command as its words, e.g. `['INFO', 'ALL']`. */
export type RedisCommand = readonly string[];

/** A command that names a key: the key may be bytes that are not UTF-8 (a Buffer, sent as it is). */
export type KeyCommand = readonly (string | Buffer)[];

/** How one `roundTripOn` may end early or answer. */
export interface RoundTripOptions {
  /**
   * Gives up at this time (ms since epoch) instead of the scrape's deadline,
   * whichever comes first, rejecting with a ScrapeTimeoutError. A connection
   * to another database that timed out is closed (its replies can no longer be
   * trusted); database 0's stays, as the scrape's own.
   */
  readonly until?: number;
  /** Bulk replies as Buffers (SCAN's key names, GETRANGE's bytes) instead of UTF-8 strings. */
  readonly buffers?: boolean;
}

/** Facts about the connection that no command returns (TLS peer certificate). */
export interface ConnectionFacts {
  readonly tlsPeer?: { readonly cn: string; readonly notAfterSeconds: number };
}

/** What a collector may read during one scrape. */
export interface CollectContext {
  /**
   * The reply to a command this collector declared in `commands`; throws the
   * command's error (NOPERM, unknown command) when Redis refused it.
   */
  reply(command: RedisCommand): unknown;
  /** `INFO ALL`, parsed once per scrape and shared by the collectors that read it. */
  info(): ParsedInfo;
  /** Another round trip, for commands that depend on the first one's answer (Sentinel). */
  roundTrip(commands: readonly RedisCommand[]): Promise<PromiseSettledResult<unknown>[]>;
  /**
   * Like `roundTrip`, on logical database `db` of the same target: database 0
   * is the scrape's own connection, another opens one more connection to the
   * target (kept between scrapes) instead of a SELECT that would move the
   * scrape's connection away from db 0.
   */
  roundTripOn(
    db: number,
    commands: readonly KeyCommand[],
    options?: RoundTripOptions,
  ): Promise<PromiseSettledResult<unknown>[]>;
  readonly connection: ConnectionFacts;
  /** What the target is (runsOn): a collector of `redis` targets also runs on a cluster node. */
  readonly mode: TargetMode;
  /** The target's `scheme://host:port`, for logs. */
  readonly target: string;
  /**
   * The target and the credentials the scrape reads it with (the connection
   * pool's key: an HMAC of the credentials, never a password). Whatever a
   * collector remembers between scrapes is kept per scope: /metrics and /scrape
   * may read one address as two users at the same time, and what one user may
   * read is never served to the other.
   */
  readonly scope: string;
  /** When the scrape's budget runs out (ms since epoch): a collector with several round trips stops short of it. */
  readonly deadline: number;
  readonly options: CollectorOptions;
  /** Wall clock of the scrape, seconds since epoch (for `start_time_seconds`). */
  readonly nowSeconds: number;
}

export interface CollectorOptions {
  /** Distinct client names reported before the rest fold into one `client_name`. */
  readonly clientNameCap: number;
}

/**
 * One source of metrics: the commands it needs in the scrape's pipeline and the
 * families it fills from their replies. Commands that several collectors declare
 * (INFO ALL) are sent once.
 */
export interface Collector {
  readonly name: string;
  readonly modes: readonly TargetMode[];
  readonly commands: readonly RedisCommand[];
  /**
   * Sent instead of `commands` on a cluster node, when they differ: a read of a
   * hash-tagged key cannot ride in the first pipeline there, as only the master
   * serving its slot answers it (see readOnOwnSlot).
   */
  readonly clusterCommands?: readonly RedisCommand[];
  readonly families: readonly FamilySpec[];
  /** What docs/metrics.md says about the collector beyond its families (when it runs, what a missing series means). */
  readonly description?: string;
  collect(context: CollectContext, sink: MetricSink): void | Promise<void>;
}

export const INFO_ALL: RedisCommand = ['INFO', 'ALL'];

/** The commands `collector` puts in the first pipeline of a scrape of a `mode` target. */
export function commandsOn(collector: Collector, mode: TargetMode): readonly RedisCommand[] {
  return mode === 'cluster'
    ? (collector.clusterCommands ?? collector.commands)
    : collector.commands;
}

/** Whether `collector` runs on a target of `mode`: a cluster node also gets every `redis` collector. */
export function runsOn(collector: Collector, mode: TargetMode): boolean {
  return (
    collector.modes.includes(mode) || (mode === 'cluster' && collector.modes.includes('redis'))
  );
}
