import type { ClusterRetry } from '../telemetry/command-spans.js';

export type RedirectKind = 'moved' | 'ask';
export type ClusterErrorKind = 'clusterdown' | 'tryagain';

/** Commands one Cluster node answered, kept as plain numbers and read at scrape time. */
export class NodeStats {
  commands = 0;
  errors = 0;
  /** Node connections (the writer's, the reader's) counting here now. */
  holders = 0;
  /** When the last holder let go (performance.now()). */
  releasedAt = 0;
  /** Where counts go once this node was folded into `other` (a command that settles late). */
  foldedInto: NodeStats | undefined;

  /** One command settled on this node. */
  settled(failed: boolean): void {
    const stats = this.foldedInto ?? this;
    stats.commands += 1;
    if (failed) stats.errors += 1;
  }
}

/** The `node` label of the counts of the nodes folded away. */
export const OTHER_NODE = 'other';

/** Per-node series kept for nodes no connection uses any more, at most. */
const MAX_GONE_NODES = 32;
/** A node no connection has used for this long is folded into `other` (10 min). */
const GONE_FOR_MS = 600_000;

/**
 * What the client counts about a Redis Cluster beyond its commands: the
 * redirect and retry replies ioredis followed, and the commands each node
 * answered (by `host:port` as the client dials it). Counts outlive the node
 * connections (ioredis drops and recreates them as the slot map changes), but
 * not for ever: pods rescheduled on new addresses would grow the `node` label
 * without bound. A node no connection has used for GONE_FOR_MS, or beyond the
 * MAX_GONE_NODES most recently gone, is folded into `node="other"`, whose
 * counts only grow: the sum over the label stays a counter.
 */
export class ClusterStats {
  readonly redirects: Record<RedirectKind, number> = { moved: 0, ask: 0 };
  readonly errors: Record<ClusterErrorKind, number> = { clusterdown: 0, tryagain: 0 };
  private readonly nodes = new Map<string, NodeStats>();
  private readonly other = new NodeStats();
  private folded = false;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The counts of the node at `address:port` for a connection that starts using them; release() when it stops. */
  node(address: string, port: number): NodeStats {
    this.fold();
    const name = `${address}:${port}`;
    let stats = this.nodes.get(name);
    if (stats === undefined) {
      stats = new NodeStats();
      this.nodes.set(name, stats);
    }
    stats.holders += 1;
    return stats;
  }

  /** A connection stopped using `stats` (its node left the Cluster's pool). */
  release(stats: NodeStats): void {
    stats.holders = Math.max(0, stats.holders - 1);
    if (stats.holders === 0) {
      stats.releasedAt = this.now();
      this.fold();
    }
  }

  /** The series to expose: every node in use or gone lately, then `other` once something was folded. */
  series(): [string, NodeStats][] {
    this.fold();
    const series = [...this.nodes];
    if (this.folded) series.push([OTHER_NODE, this.other]);
    return series;
  }

  count(retry: ClusterRetry): void {
    if (retry.kind === 'moved' || retry.kind === 'ask') this.redirects[retry.kind] += 1;
    else this.errors[retry.kind] += 1;
  }

  private fold(): void {
    const now = this.now();
    const gone = [...this.nodes].filter(([, stats]) => stats.holders === 0);
    // Longest gone first.
    gone.sort(([, a], [, b]) => a.releasedAt - b.releasedAt);
    let over = gone.length - MAX_GONE_NODES;
    for (const [name, stats] of gone) {
      if (over <= 0 && now - stats.releasedAt < GONE_FOR_MS) break;
      over -= 1;
      this.nodes.delete(name);
      this.other.commands += stats.commands;
      this.other.errors += stats.errors;
      stats.foldedInto = this.other;
      this.folded = true;
    }
  }
}

/**
 * The redirect or retry a node's error reply asks for, or undefined for any
 * other error. Redis writes them as `MOVED 3999 10.0.0.2:6381`,
 * `ASK 3999 10.0.0.2:6381` (an empty host means the node that answered;
 * IPv6 hosts come unbracketed), `TRYAGAIN ...` and `CLUSTERDOWN ...`.
 */
export function clusterRetryOf(error: unknown): ClusterRetry | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  const { message } = error;
  const at = performance.now();
  if (message.startsWith('MOVED ') || message.startsWith('ASK ')) {
    const [word, slotText, target = ''] = message.split(' ');
    const slot = Number(slotText);
    const colon = target.lastIndexOf(':');
    const port = colon < 0 ? Number.NaN : Number(target.slice(colon + 1));
    const address = colon > 0 ? target.slice(0, colon) : undefined;
    return {
      kind: word === 'MOVED' ? 'moved' : 'ask',
      slot: Number.isInteger(slot) && slot >= 0 && slot < 16384 ? slot : undefined,
      address,
      port: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined,
      at,
    };
  }
  if (message.startsWith('TRYAGAIN')) {
    return { kind: 'tryagain', slot: undefined, address: undefined, port: undefined, at };
  }
  if (message.startsWith('CLUSTERDOWN')) {
    return { kind: 'clusterdown', slot: undefined, address: undefined, port: undefined, at };
  }
  return undefined;
}
