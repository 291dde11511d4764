import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';
import type { NodeRole, TopologyDescription } from '../../stack/topology.js';

/** The shared TLS topology started by the global setup. Do not kill or pause its nodes. */
export function sharedTopology(): TopologyDescription {
  return inject('sharedTopology');
}

/** ioredis TLS options for a topology description. */
export function tlsOptionsOf(description: TopologyDescription): RedisOptions['tls'] {
  if (!description.tls) return undefined;
  return {
    ca: readFileSync(description.tls.caFile),
    cert: readFileSync(description.tls.certFile),
    key: readFileSync(description.tls.keyFile),
  };
}

/** Port of the first node with `role` (at start: roles in the shared topology never change). */
export function portOf(description: TopologyDescription, role: NodeRole, index = 0): number {
  const node = description.nodes.filter((n) => n.role === role)[index];
  if (!node) throw new Error(`the topology has no ${role} #${index}`);
  return node.port;
}

/** A client for one node of the topology; the caller quits it. */
export function clientFor(
  description: TopologyDescription,
  port: number,
  extra: RedisOptions = {},
): Redis {
  const tls = tlsOptionsOf(description);
  // Data nodes need the ACL credentials; Sentinels have no users and would refuse them.
  const isSentinel = description.nodes.some((n) => n.role === 'sentinel' && n.port === port);
  return new Redis({
    host: description.host,
    port,
    ...(tls ? { tls } : {}),
    ...(description.auth && !isSentinel ? description.auth : {}),
    maxRetriesPerRequest: 1,
    ...extra,
  });
}
