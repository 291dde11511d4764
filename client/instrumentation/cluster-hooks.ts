import type { Cluster, Command, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HotKeys } from '../hotkeys/hot-keys.js';
import { type ClusterRetry, recordRetries } from '../telemetry/command-spans.js';
import type { UsageRecord } from '../warming/usage-record.js';
import { type ClusterStats, clusterRetryOf } from './cluster-stats.js';
import { HookedConnection, replaceSendCommand } from './hooked-connection.js';
import {
  type HookedCommand,
  type InFlightCommand,
  LAST,
  type PipelineAttempt,
  SEEN,
  WAITING,
} from './in-flight-command.js';
import { watchLifecycle } from './lifecycle.js';
import type { ConnectionRole } from './metrics.js';

/** What ClusterHooks uses of the instrumentation that owns it (flights, spans and metrics are its). */
export interface CommandPath {
  logger(): Logger;
  usage(): UsageRecord | undefined;
  hot(): HotKeys | undefined;
  /** Runs a near-cache step; one that throws counts as not taken. */
  nearCache(step: () => boolean): boolean;
  /** A flight for a command about to be sent (its span or batch too); the caller hooks its reply. */
  begin(
    command: HookedCommand,
    stream: unknown,
    connection: HookedConnection,
  ): InFlightCommand | undefined;
  /** begin() plus the usual reply hooks: for commands nothing will send again. */
  track(
    command: HookedCommand,
    stream: unknown,
    connection: HookedConnection,
  ): InFlightCommand | undefined;
  /** The SDK span of a routed command, once its node is known. */
  startSpan(flight: InFlightCommand): void;
  settle(flight: InFlightCommand, error: Error | undefined): void;
  internalError(error: unknown): void;
}

/** What ioredis sends a node connection on its own (never through the Cluster's sendCommand). */
const OWN_NODE_COMMANDS = new Set(['asking', 'readonly', 'readwrite']);

type Forward = (command: Command, stream?: unknown, node?: unknown) => unknown;
type SendCommand = Redis['sendCommand'];

/** One node connection's hook and lifecycle watch. */
interface NodeHook {
  readonly connection: HookedConnection;
  detach(): void;
}

/**
 * The hooks on an ioredis Cluster. A command is followed from the call that
 * gave it to the Cluster (so time in the Cluster's offline queue counts, and a
 * command it rejects before picking a node is still counted) to its final
 * reply, through every node it is sent to: ioredis sends it again on MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN and a lost connection, and each node connection
 * it makes (`+node`) gets a hook that tells the flight where it went. One
 * command, one span and one count, with the redirects on the span and in
 * `redscope_client_cluster_*`.
 *
 * Pipelines and MULTI are followed on the node instead: ioredis sends all of
 * a pipeline's commands to one node, picked inside its sendCommand, and after
 * a redirect sends the whole pipeline again (new promises for every command).
 * Nothing per command is allocated beyond what a single connection costs;
 * the redirect paths allocate.
 */
export class ClusterHooks {
  /** Stands for the Cluster until ioredis routes a command to a node. */
  readonly connection: HookedConnection;
  private readonly nodes = new Map<Redis, NodeHook>();
  private readonly detachers: (() => void)[] = [];
  // Set before the targets are hooked, and fixed after: read once, not per command.
  private readonly usage: UsageRecord | undefined;
  private readonly hot: HotKeys | undefined;

  constructor(
    private readonly cluster: Cluster,
    readonly role: ConnectionRole,
    private readonly path: CommandPath,
    private readonly stats: ClusterStats,
  ) {
    this.connection = new HookedConnection(cluster, role, 'cluster');
    this.usage = path.usage();
    this.hot = path.hot();
    this.hookCluster();
    const stopWatching = watchLifecycle(cluster, role, path.logger(), {
      onReconnect: () => this.connection.reconnected(),
      refresh: () => undefined,
      endpoint: () => undefined,
    });
    // ioredis makes node connections as it learns the slot map and drops them when a node
    // leaves it; each gets its hook when made, before any command is sent on it.
    const added = (redis: Redis) => this.guarded(() => this.attachNode(redis));
    const removed = (redis: Redis) => this.guarded(() => this.detachNode(redis));
    cluster.on('+node', added);
    cluster.on('-node', removed);
    for (const redis of cluster.nodes('all')) added(redis);
    this.detachers.push(() => {
      cluster.off('+node', added);
      cluster.off('-node', removed);
      stopWatching();
      for (const redis of [...this.nodes.keys()]) this.detachNode(redis);
    });
  }

  /** The Cluster as one connection for the `connection_up`, reconnect and offline-queue gauges. */
  state() {
    let offlineQueue = queueLength(this.cluster);
    for (const redis of this.nodes.keys()) offlineQueue += queueLength(redis);
    return {
      role: this.role,
      up: this.cluster.status === 'ready',
      reconnects: this.connection.reconnects,
      offlineQueue,
    };
  }

  /** Removes every hook and listener, on the Cluster and on each node connection. */
  detach(): void {
    for (const detach of this.detachers.splice(0)) detach();
  }

  private guarded(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.path.internalError(error);
    }
  }

  private hookCluster(): void {
    const cluster = this.cluster;
    const { connection, path, usage, hot } = this;
    const original: SendCommand = cluster.sendCommand as SendCommand;
    const forward = original as Forward;
    const hooks = this;
    const hooked = function (
      this: Cluster,
      command: HookedCommand,
      stream?: unknown,
      node?: unknown,
    ) {
      // Pipelines are followed on the node (see the class comment).
      if (stream !== undefined || command[SEEN] !== undefined || command.isSettled === true) {
        return forward.call(this, command, stream, node);
      }
      if (this.status === 'connect') {
        // The Cluster's ready check (CLUSTER INFO), sent straight to a node: not app traffic. An
        // app's command sent now waits in the offline queue and comes back through here at `ready`.
        if (command.name === 'cluster') command[SEEN] = true;
        return forward.call(this, command, stream, node);
      }
      usage?.observe(command);
      let cacheable = false;
      if (hot !== undefined) {
        command[SEEN] = true;
        hot.observe(command);
        connection.noteCommand(command.name);
        cacheable = connection.nearCacheable;
        if (cacheable && path.nearCache(() => hot.serve(command))) return command.promise;
      }
      const flight = path.begin(command, undefined, connection);
      // One write: the node hooks find the flight here.
      command[SEEN] = flight ?? true;
      if (hot !== undefined && cacheable && path.nearCache(() => hot.route(command))) {
        if (flight !== undefined) hooks.follow(flight);
        return command.promise;
      }
      const result = forward.call(this, command, stream, node);
      // After the Cluster put its own reject hook in place: ours sees every reply first.
      if (flight !== undefined) hooks.follow(flight);
      return result;
    };
    this.detachers.push(replaceSendCommand(cluster, hooked as Cluster['sendCommand']));
  }

  /**
   * Hooks the reply of a command the Cluster routes. The Cluster wraps the
   * command's reject to follow redirects, and gives up by calling the reject
   * it wrapped, which ours (outside it) never sees; so ours hands every error
   * to the Cluster first and settles when the command is settled after that:
   * at once when the Cluster gave up, else on the reply of the resend.
   */
  private follow(flight: InFlightCommand): void {
    const { path } = this;
    const command = flight.command;
    try {
      if (command.isSettled === true) {
        // Rejected before it was kept (the Cluster has ended, or no node and no offline queue).
        command.promise.then(
          () => path.settle(flight, undefined),
          (error: Error) => path.settle(flight, error),
        );
        return;
      }
      path.startSpan(flight);
      const { resolve, reject } = command;
      command.resolve = (result: unknown) => {
        path.settle(flight, undefined);
        resolve(result);
      };
      command.reject = (error: Error) => {
        const retry = clusterRetryOf(error);
        if (retry !== undefined) this.noteRetry(flight, retry);
        // The Cluster's hook: it sends the command again (now, or after a delay), or gives up.
        reject(error);
        if (command.isSettled === true) path.settle(flight, error);
      };
    } catch (error) {
      path.internalError(error);
    }
  }

  private noteRetry(flight: InFlightCommand, retry: ClusterRetry): void {
    try {
      this.stats.count(retry);
      if (flight.retries === undefined) flight.retries = [retry];
      else flight.retries.push(retry);
    } catch (error) {
      this.path.internalError(error);
    }
  }

  private attachNode(redis: Redis): void {
    if (this.nodes.has(redis)) return;
    const { options } = redis;
    const connection = new HookedConnection(
      redis,
      this.role,
      'node',
      this.stats.node(options.host ?? 'localhost', options.port ?? 6379),
    );
    const state: NodeState = {
      hooks: this,
      connection,
      forward: redis.sendCommand as Forward,
      active: true,
    };
    (redis as NodeRedis)[NODE] = state;
    const restore = replaceSendCommand(redis, sendOnNode as SendCommand);
    const stopWatching = watchLifecycle(redis, this.role, this.path.logger(), {
      onReconnect: () => {
        connection.reconnected();
        this.connection.reconnected();
      },
      refresh: () => connection.refresh(),
      endpoint: () => connection.endpoint,
      clusterNode: true,
    });
    this.nodes.set(redis, {
      connection,
      detach: () => {
        restore();
        // Kept (inactive): a wrapper put on the node after ours still forwards through it.
        state.active = false;
        stopWatching();
      },
    });
  }

  private detachNode(redis: Redis): void {
    const hook = this.nodes.get(redis);
    if (hook === undefined) return;
    this.nodes.delete(redis);
    hook.detach();
    const { nodeStats } = hook.connection;
    if (nodeStats !== undefined) this.stats.release(nodeStats);
  }

  /**
   * A command first seen on a node (called by sendOnNode): part of a pipeline,
   * or sent to the node directly by the app (`cluster.nodes()`).
   */
  firstOnNode(command: HookedCommand, stream: unknown, connection: HookedConnection): void {
    const { path } = this;
    command[SEEN] = true;
    if (stream === undefined || (stream as { isPipeline?: boolean }).isPipeline !== true) {
      path.track(command, stream, connection);
      return;
    }
    try {
      this.usage?.observe(command);
      const hot = this.hot;
      if (hot !== undefined) {
        hot.observe(command);
        connection.noteCommand(command.name);
      }
      const attempt = stream as PipelineAttempt;
      attempt[LAST] = command;
      const flight = path.begin(command, stream, connection);
      if (flight === undefined) return;
      command[SEEN] = flight;
      flight.attempt = attempt;
      this.hookPipelineReply(flight);
    } catch (error) {
      path.internalError(error);
    }
  }

  /** A pipeline command seen before, sent again (called by sendOnNode): leaving a queue, or its pipeline sent again. */
  againOnNode(
    flight: InFlightCommand,
    stream: unknown,
    connection: HookedConnection,
    redis: Redis,
  ): void {
    try {
      if (flight.connection !== connection) {
        if (flight.attempt !== undefined && !flight.done) this.movedBatch(flight, connection);
        flight.connection = connection;
      }
      flight.sentOn = redis.status === 'ready' ? redis.stream : undefined;
      if (stream === undefined) return;
      const attempt = stream as PipelineAttempt;
      const command = flight.command;
      attempt[LAST] = command;
      flight.attempt = attempt;
      // The same send leaving a queue (our hooks are still on it), or a resend: the Pipeline
      // gave every command a new promise, with new resolve and reject.
      if (command.reject === flight.ownReject) return;
      flight.waiting = undefined;
      if (flight.done) this.hookReplyOnly(flight);
      else this.hookPipelineReply(flight);
    } catch (error) {
      this.path.internalError(error);
    }
  }

  /** The pipeline span names the node that answered last (the batch is sent again elsewhere). */
  private movedBatch(flight: InFlightCommand, connection: HookedConnection): void {
    const span = flight.batch?.span;
    const endpoint = connection.endpoint;
    if (span === undefined || endpoint === undefined) return;
    span.setAttribute('server.address', endpoint.address);
    if (endpoint.port !== undefined) span.setAttribute('server.port', endpoint.port);
  }

  /**
   * A pipeline command's reply. An error ioredis may answer by sending the
   * pipeline again waits until every reply of this send is in and ioredis has
   * decided (see decide); anything else settles at once.
   */
  private hookPipelineReply(flight: InFlightCommand): void {
    const { path } = this;
    const command = flight.command;
    const { resolve, reject } = command;
    command.resolve = (result: unknown) => {
      path.settle(flight, undefined);
      resolve(result);
      this.replied(flight);
    };
    command.reject = (error: Error) => {
      const retry = clusterRetryOf(error);
      if (retry !== undefined || mayResendPipeline(error, command)) this.wait(flight, error, retry);
      else path.settle(flight, error);
      reject(error);
      this.replied(flight);
    };
    flight.ownReject = command.reject;
  }

  /** A command already counted, sent again with its pipeline: only its place in the send matters. */
  private hookReplyOnly(flight: InFlightCommand): void {
    const command = flight.command;
    const { resolve, reject } = command;
    command.resolve = (result: unknown) => {
      resolve(result);
      this.replied(flight);
    };
    command.reject = (error: Error) => {
      reject(error);
      this.replied(flight);
    };
    flight.ownReject = command.reject;
  }

  private wait(flight: InFlightCommand, error: Error, retry: ClusterRetry | undefined): void {
    try {
      flight.waiting = error;
      const attempt = flight.attempt as PipelineAttempt;
      const waiting = attempt[WAITING];
      if (waiting !== undefined) {
        waiting.push(flight);
        return;
      }
      attempt[WAITING] = [flight];
      // Once per send of the pipeline: ioredis follows a redirect once for all its commands.
      if (retry !== undefined) {
        this.stats.count(retry);
        const span = flight.batch?.span;
        if (span !== undefined) recordRetries(span, [retry]);
      }
    } catch (failure) {
      this.path.internalError(failure);
    }
  }

  /**
   * After the last reply of a send (a node answers in order), the Pipeline
   * decides in a promise callback whether to send it again; by the next
   * macrotask it has.
   */
  private replied(flight: InFlightCommand): void {
    const attempt = flight.attempt;
    if (attempt === undefined || attempt[LAST] !== flight.command) return;
    const waiting = attempt[WAITING];
    if (waiting === undefined) return;
    attempt[WAITING] = undefined;
    setImmediate(() => this.guarded(() => this.decide(attempt, waiting)));
  }

  private decide(attempt: PipelineAttempt, waiting: readonly InFlightCommand[]): void {
    const { path } = this;
    for (const flight of waiting) {
      // Sent again already: that send decides.
      if (flight.done || flight.attempt !== attempt) continue;
      const command = flight.command;
      if (command.isSettled !== false) {
        // Not sent again: the caller got this error.
        path.settle(flight, flight.waiting);
        continue;
      }
      // The Pipeline made it a new promise for a resend not yet out (after a delay, or once the
      // Cluster reconnects). The resend comes back through the node hook; if it never gets
      // that far (the Cluster ended), the new promise still settles.
      const unsent = (error: Error | undefined) => {
        if (!flight.done && flight.attempt === attempt) path.settle(flight, error);
      };
      command.promise.then(
        () => unsent(undefined),
        (error: Error) => unsent(error),
      );
    }
  }
}

const NODE = Symbol('redscope.clusterNode');
/** What the node hook needs, kept on the node connection itself. */
interface NodeState {
  readonly hooks: ClusterHooks;
  readonly connection: HookedConnection;
  /** The sendCommand that was in place (ioredis' own, unless something else hooked it first). */
  readonly forward: Forward;
  active: boolean;
}
type NodeRedis = Redis & { [NODE]?: NodeState };

/**
 * The one sendCommand hook of every node connection, of every Cluster: ioredis
 * calls `redis.sendCommand` for all nodes from one place, which stays a
 * single-target call (inlined) only if every node has the same function there;
 * a closure per node made it polymorphic. The node's own state is on the node.
 */
function sendOnNode(this: NodeRedis, command: HookedCommand, stream?: unknown, node?: unknown) {
  const state = this[NODE] as NodeState;
  const seen = command[SEEN];
  if (!state.active) {
    // detached
  } else if (seen === undefined) {
    // As on a single connection, the handshake is not app traffic; nor are the commands
    // ioredis sends a node itself: ASKING before a command an ASK redirected, READONLY and
    // READWRITE when a node changes role.
    if (
      !(stream === undefined && this.status === 'connect') &&
      command.isSettled !== true &&
      !OWN_NODE_COMMANDS.has(command.name)
    ) {
      state.hooks.firstOnNode(command, stream, state.connection);
    }
  } else if (seen !== true) {
    if (seen.attempt === undefined) {
      // A routed command reaching its node (first, or again after a redirect): the common case.
      seen.connection = state.connection;
      seen.sentOn = this.status === 'ready' ? this.stream : undefined;
    } else {
      state.hooks.againOnNode(seen, stream, state.connection, this);
    }
  }
  return state.forward.call(this, command, stream, node);
}

/**
 * Besides redirects and retries, errors on which ioredis' Pipeline may send a
 * Cluster pipeline again (when all of its errors agree): a lost connection,
 * and the EXECABORT that a redirect inside MULTI causes.
 */
function mayResendPipeline(error: Error, command: Command): boolean {
  const { message } = error;
  return (
    message === 'Connection is closed.' ||
    (command.name === 'exec' && message.startsWith('EXECABORT'))
  );
}

/** ioredis keeps the offline queue private; its length is the "waiting for a connection" figure. */
function queueLength(redis: Redis | Cluster): number {
  return (redis as unknown as { offlineQueue?: { length: number } }).offlineQueue?.length ?? 0;
}
