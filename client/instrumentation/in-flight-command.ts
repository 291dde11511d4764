import type { Context, Span } from '@opentelemetry/api';
import type { Command } from 'ioredis';
import { currentRequestContext, type RequestContext } from '../logging/request-context.js';
import type { ClusterRetry, StagedCommand } from '../telemetry/command-spans.js';
import type { BatchState } from '../telemetry/command-tracing.js';
import type { CommandEntry } from './command-stats.js';
import type { HookedConnection } from './hooked-connection.js';
import { commandQueryText } from './query-text.js';

/**
 * Marks a command the hooks have seen: `true`, or its flight when a
 * later send of the same command must find it (a Cluster sends a command again
 * after a redirect, on another node connection).
 */
export const SEEN = Symbol('redscope.seen');
export type HookedCommand = Command & {
  [SEEN]?: true | InFlightCommand;
  isSettled?: boolean;
};

export const LAST = Symbol('redscope.last');
export const WAITING = Symbol('redscope.waiting');

/**
 * The object ioredis passes with every command of one pipeline send (its
 * `stream` argument), marked by the Cluster hooks: the last command sent (the
 * node answers in order), and the commands whose error reply may make ioredis
 * send the pipeline again.
 */
export interface PipelineAttempt {
  readonly isPipeline: true;
  [LAST]?: Command;
  [WAITING]?: InFlightCommand[] | undefined;
}

/** A command between send and reply, with what its span and metrics need. */
export class InFlightCommand implements StagedCommand {
  span: Span | undefined;
  batch: BatchState | undefined;
  /** Set when the span is made after the reply (span pipeline): the context it was sent in. */
  parent: Context | undefined;
  durationMs = 0;
  errorType: string | undefined;
  statusCode: string | undefined;
  readonly startedAt = performance.now();
  /** The socket the command was written to (undefined when it waited in the offline queue). */
  sentOn: unknown;
  /** The request the command was sent for: its slow-command line is that request's, not the reply callback's. */
  readonly request: RequestContext | undefined = currentRequestContext();
  /** Settled: counted, its span ended or staged. A Cluster can hand back a command twice. */
  done = false;
  // Cluster only, and only on the paths that need them: declared, not initialised, so a
  // single connection's flight (and a Cluster's common case) has none of them to set up
  // per command; until assigned they read as undefined.
  /** MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies ioredis followed, oldest first. */
  declare retries: ClusterRetry[] | undefined;
  /** The connection an SDK span was started with (the Cluster may answer elsewhere). */
  declare spanOn: HookedConnection | undefined;
  /** The send of a pipeline to a node this command was part of last (ioredis sends a whole pipeline again after a redirect). */
  declare attempt: PipelineAttempt | undefined;
  /** The error reply of the last attempt, while it is not known whether ioredis sends the pipeline again. */
  declare waiting: Error | undefined;
  /** The reject hook in place, to tell a retry (ioredis made the command a new promise) from a queued command going out. */
  declare ownReject: unknown;

  constructor(
    readonly command: HookedCommand,
    /** Where the command was sent; a Cluster node connection once the Cluster routed it there. */
    public connection: HookedConnection,
    readonly entry: CommandEntry,
    readonly onError: (error: unknown) => void,
  ) {}

  get operation(): string {
    return this.entry.operation;
  }

  get attributes() {
    return this.connection.attributesFor(this.entry);
  }

  queryText(): string {
    return commandQueryText(this.command);
  }
}
