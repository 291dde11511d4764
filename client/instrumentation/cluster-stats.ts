import type { ClusterRetry } from '../telemetry/command-spans.js';

export type RedirectKind = 'moved' | 'ask';
export type ClusterErrorKind = 'clusterdown' | 'tryagain';

/** Commands one Cluster node answered, kept as plain numbers and read at scrape time. */
export class NodeStats {
  commands = 0;
  errors = 0;
}

/**
 * What the client counts about a Redis Cluster beyond its commands: the
 * redirect and retry replies ioredis followed, and the commands each node
 * answered (by `host:port` as the client dials it). Counts outlive the node
 * connections: ioredis drops and recreates them as the slot map changes.
 */
export class ClusterStats {
  readonly redirects: Record<RedirectKind, number> = { moved: 0, ask: 0 };
  readonly errors: Record<ClusterErrorKind, number> = { clusterdown: 0, tryagain: 0 };
  readonly nodes = new Map<string, NodeStats>();

  /** The counts of the node at `address:port`, made on first use. */
  node(address: string, port: number): NodeStats {
    const name = `${address}:${port}`;
    let stats = this.nodes.get(name);
    if (stats === undefined) {
      stats = new NodeStats();
      this.nodes.set(name, stats);
    }
    return stats;
  }

  count(retry: ClusterRetry): void {
    if (retry.kind === 'moved' || retry.kind === 'ask') this.redirects[retry.kind] += 1;
    else this.errors[retry.kind] += 1;
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
