/**
 * `CLUSTER NODES` read into data: the one parser the client, the exporter and
 * the local launcher share. The format is Redis' own text table (one node per
 * line), stable since Redis 3 with the `,hostname` suffix added in 7.0.
 */

/** Hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

export interface ClusterNode {
  /** 40 hex digits, fixed for the node's life (it survives restarts through nodes.conf). */
  readonly id: string;
  /** What clients dial: the announced hostname when there is one, else the IP. */
  readonly host: string;
  readonly ip: string;
  /** The client port: the TLS port on a TLS cluster. */
  readonly port: number;
  readonly busPort: number;
  readonly flags: readonly string[];
  readonly role: 'master' | 'replica';
  /** The master a replica follows. */
  readonly masterId: string | undefined;
  /** The node that answered CLUSTER NODES. */
  readonly myself: boolean;
  /** Flagged `fail?` (this node's suspicion) or `fail` (the cluster's verdict). */
  readonly failing: boolean;
  /** The cluster bus link from the answering node is up. */
  readonly connected: boolean;
  readonly configEpoch: number;
  /** Slot ranges served, inclusive; slots being imported or migrated are not listed. */
  readonly slots: readonly (readonly [number, number])[];
  readonly slotCount: number;
}

/** A master with slots and its replicas. */
export interface ClusterShard {
  /** See shardOf(). */
  readonly shard: string;
  readonly master: ClusterNode;
  readonly replicas: readonly ClusterNode[];
  readonly slotCount: number;
}

/** A CLUSTER NODES reply that is not one: names the line. */
export class ClusterNodesParseError extends Error {
  override readonly name = 'ClusterNodesParseError';
}

const NODE_ID = /^[0-9a-f]{40}$/;

/** Parses a CLUSTER NODES reply; throws ClusterNodesParseError naming the first bad line. */
export function parseClusterNodes(text: string): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const node = parseLine(line);
    if (typeof node === 'string') {
      throw new ClusterNodesParseError(`CLUSTER NODES line ${index + 1}: ${node}: ${line}`);
    }
    nodes.push(node);
  }
  return nodes;
}

function parseLine(line: string): ClusterNode | string {
  const fields = line.split(' ');
  if (fields.length < 8) return 'expected at least 8 fields';
  const [id, address, flagText, master, , , epoch, link] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!NODE_ID.test(id)) return 'the node id is not 40 hex digits';
  const endpoint = parseEndpoint(address);
  if (endpoint === undefined) return 'the address is not ip:port@busport[,hostname]';
  const flags = flagText.split(',');
  const slots: [number, number][] = [];
  for (const slot of fields.slice(8)) {
    // `[slot->-id]` (migrating) and `[slot-<-id]` (importing) are transitions, not ownership.
    if (slot.startsWith('[')) continue;
    const range = /^(\d+)(?:-(\d+))?$/.exec(slot);
    if (!range) return `"${slot}" is not a slot or slot range`;
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first || last >= CLUSTER_SLOTS) return `"${slot}" is outside 0-${CLUSTER_SLOTS - 1}`;
    slots.push([first, last]);
  }
  slots.sort((a, b) => a[0] - b[0]);
  const replica = flags.includes('slave');
  return {
    id,
    ...endpoint,
    flags,
    role: replica ? 'replica' : 'master',
    masterId: replica && NODE_ID.test(master) ? master : undefined,
    myself: flags.includes('myself'),
    failing: flags.includes('fail') || flags.includes('fail?'),
    connected: link === 'connected',
    configEpoch: Number(epoch) || 0,
    slots,
    slotCount: slots.reduce((sum, [first, last]) => sum + last - first + 1, 0),
  };
}

/** `ip:port@bus[,hostname]`; the IP may be IPv6 (colons) or empty (a node without address yet). */
function parseEndpoint(
  address: string,
): { host: string; ip: string; port: number; busPort: number } | undefined {
  const comma = address.indexOf(',');
  const hostname = comma === -1 ? '' : address.slice(comma + 1);
  const hostPart = comma === -1 ? address : address.slice(0, comma);
  const match = /^(.*):(\d+)@(\d+)$/.exec(hostPart);
  if (!match) return undefined;
  const ip = match[1] as string;
  return { host: hostname || ip, ip, port: Number(match[2]), busPort: Number(match[3]) };
}

/**
 * The shard a node belongs to, named by the lowest hash slot its master
 * serves ("0", "5461", "10923"): the promoted replica takes the same slots, so
 * the name survives failovers; it changes only when resharding moves that
 * very slot. A master without slots is in no shard.
 */
export function shardOf(node: ClusterNode, nodes: readonly ClusterNode[]): string | undefined {
  const master =
    node.role === 'master' ? node : nodes.find((candidate) => candidate.id === node.masterId);
  const first = master?.slots[0];
  return first === undefined ? undefined : String(first[0]);
}

/** The shards of a cluster view, lowest slot first; masters without slots are left out. */
export function clusterShards(nodes: readonly ClusterNode[]): ClusterShard[] {
  const shards: ClusterShard[] = [];
  for (const master of nodes) {
    if (master.role !== 'master') continue;
    const shard = shardOf(master, nodes);
    if (shard === undefined) continue;
    const replicas = nodes.filter((n) => n.role === 'replica' && n.masterId === master.id);
    shards.push({ shard, master, replicas, slotCount: master.slotCount });
  }
  return shards.sort((a, b) => Number(a.shard) - Number(b.shard));
}
