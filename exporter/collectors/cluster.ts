import {
  type ClusterNode,
  clusterShards,
  parseClusterNodes,
  shardOf,
} from '../../client/common/cluster-nodes.js';
import { hashSlot } from '../../client/common/cluster-routing.js';
import { compatFamily, type FamilySpec, family } from '../exposition.js';
import { settledValue } from '../indexed-records.js';
import { numeric, parseInfo } from '../info-parser.js';
import type { CollectContext, Collector, RedisCommand } from './types.js';

export const CLUSTER_INFO: RedisCommand = ['CLUSTER', 'INFO'];
export const CLUSTER_NODES: RedisCommand = ['CLUSTER', 'NODES'];

const clusterGauge = (field: string, metric: string, help: string): [string, FamilySpec] => [
  field,
  compatFamily({
    name: `redis_${metric}`,
    // redis_exporter 1.45 exports every CLUSTER INFO field as a gauge, the `_total` ones too.
    type: 'gauge',
    help,
    labels: [],
    source: `CLUSTER INFO: ${field}`,
  }),
];

/**
 * Cluster bus message types of Redis 7 (`clusterGetMessageTypeString`): CLUSTER
 * INFO has `cluster_stats_messages_<type>_sent` and `_received` for each type
 * seen at least once. redis_exporter names them after the field with `-` as `_`.
 */
const MESSAGE_TYPES = [
  'ping',
  'pong',
  'meet',
  'fail',
  'publish',
  'publishshard',
  'auth-req',
  'auth-ack',
  'update',
  'mfstart',
  'module',
] as const;

/** CLUSTER INFO fields by name, as redis_exporter 1.45 names them. */
const INFO_FIELDS = new Map<string, FamilySpec>([
  clusterGauge('cluster_state', 'cluster_state', 'Whether the cluster is ok (1) or failing (0)'),
  clusterGauge('cluster_slots_assigned', 'cluster_slots_assigned', 'Slots assigned to a node'),
  clusterGauge('cluster_slots_ok', 'cluster_slots_ok', 'Slots whose node is not failing'),
  clusterGauge(
    'cluster_slots_pfail',
    'cluster_slots_pfail',
    'Slots whose node this node suspects to be failing (PFAIL)',
  ),
  clusterGauge(
    'cluster_slots_fail',
    'cluster_slots_fail',
    'Slots whose node the cluster agreed is failing (FAIL)',
  ),
  clusterGauge(
    'cluster_known_nodes',
    'cluster_known_nodes',
    'Nodes known to this node, itself included',
  ),
  clusterGauge('cluster_size', 'cluster_size', 'Masters serving at least one slot'),
  clusterGauge('cluster_current_epoch', 'cluster_current_epoch', "The cluster's current epoch"),
  clusterGauge(
    'cluster_my_epoch',
    'cluster_my_epoch',
    "The config epoch of this node (of its master's on a replica)",
  ),
  clusterGauge(
    'cluster_stats_messages_sent',
    'cluster_messages_sent_total',
    'Messages this node sent on the cluster bus',
  ),
  clusterGauge(
    'cluster_stats_messages_received',
    'cluster_messages_received_total',
    'Messages this node received on the cluster bus',
  ),
  ...MESSAGE_TYPES.flatMap((type) =>
    (['sent', 'received'] as const).map((direction) => {
      const field = `cluster_stats_messages_${type}_${direction}`;
      return clusterGauge(
        field,
        field.replace(/-/g, '_'),
        `Cluster bus ${type} messages ${direction} by this node`,
      );
    }),
  ),
]);

/** `cluster_state` is `ok` or `fail`; every other field is a number. */
function clusterValue(field: string, value: string): number | undefined {
  if (field === 'cluster_state') return value === 'ok' ? 1 : 0;
  return numeric(value);
}

const nodeInfo = family({
  name: 'redscope_cluster_node_info',
  type: 'gauge',
  help: "The scraped node's cluster id, role and shard (always 1); shard is empty for a master without slots",
  labels: ['node_id', 'role', 'shard'],
  source: "CLUSTER NODES: the myself line (a replica is in its master's shard)",
});
const shardSlots = family({
  name: 'redscope_cluster_shard_slots',
  type: 'gauge',
  help: "Hash slots the shard's master serves, as this node sees it",
  labels: ['shard'],
  source: 'CLUSTER NODES: slots of each master that serves any',
});
const shardReplicas = family({
  name: 'redscope_cluster_shard_replicas',
  type: 'gauge',
  help: "Replicas of the shard's master that this node sees connected and not flagged fail or fail?",
  labels: ['shard'],
  source: 'CLUSTER NODES: replicas by master id, link-state and flags',
});
const shardMasterFailing = family({
  name: 'redscope_cluster_shard_master_failing',
  type: 'gauge',
  help: "Whether this node flags the shard's master fail? or fail (1) or not (0)",
  labels: ['shard'],
  source: 'CLUSTER NODES: flags of each master that serves slots',
});

const SHARD_DESCRIPTION =
  'Cluster nodes only (INFO `redis_mode:cluster`, learnt when the connection opens). ' +
  'A shard is named by the lowest hash slot its master serves (`0`, `5461`, `10923`): the replica promoted in a failover takes the same slots, so the name survives failovers and changes only when resharding moves that very slot. Every node reports every shard as it sees it; aggregate with `max by (shard)` or `min by (shard)`. Only `redscope_cluster_node_info` carries a node id, one series per scraped node.';

/** Whether `node` serves hash slot `slot` (a slot it is migrating away is still its own). */
function serves(node: ClusterNode, slot: number): boolean {
  return node.slots.some(([first, last]) => slot >= first && slot <= last);
}

/**
 * The reply to `command`, a read of hash-tagged keys in `key`'s slot, or
 * undefined when this cluster master does not serve that slot: the master that
 * does reports them. A standalone master answered it in the first pipeline
 * (the collector's `commands`). A cluster node reads it in a round trip of its
 * own, only when CLUSTER NODES (in its first pipeline, `clusterCommands`) shows
 * it serves the slot: sent to any other master the read would be a MOVED error
 * reply, counted in that master's errorstats at every scrape. Throws any error
 * of the read but MOVED or ASK (the slot moved between the two round trips).
 */
export async function readOnOwnSlot(
  context: CollectContext,
  command: RedisCommand,
  key: string,
): Promise<unknown> {
  if (context.mode !== 'cluster') return context.reply(command);
  const myself = parseClusterNodes(String(context.reply(CLUSTER_NODES))).find((n) => n.myself);
  if (!myself || !serves(myself, hashSlot(key))) return undefined;
  const [settled] = await context.roundTrip([command]);
  const reply = settledValue(settled);
  if (!(reply instanceof Error)) return reply;
  if (/^(MOVED|ASK) /.test(reply.message)) return undefined;
  throw reply;
}

/** redis_exporter's CLUSTER INFO families, on cluster nodes only. */
export const clusterInfoCollector: Collector = {
  name: 'cluster',
  modes: ['cluster'],
  commands: [CLUSTER_INFO],
  families: [...INFO_FIELDS.values()],
  description:
    'Cluster nodes only (INFO `redis_mode:cluster`). Message counters exist per bus message type once the node sent or received one, as in redis_exporter; they are gauges there, so here too.',
  collect(context, sink) {
    // CLUSTER INFO is INFO's format without sections.
    for (const [field, value] of parseInfo(String(context.reply(CLUSTER_INFO))).fields) {
      const spec = INFO_FIELDS.get(field);
      if (!spec) continue;
      const n = clusterValue(field, value);
      if (n !== undefined) sink.add(spec, n);
    }
  },
};

/** The scraped node's own view of the shards, from CLUSTER NODES. */
export const clusterNodesCollector: Collector = {
  name: 'cluster_nodes',
  modes: ['cluster'],
  commands: [CLUSTER_NODES],
  families: [nodeInfo, shardSlots, shardReplicas, shardMasterFailing],
  description: SHARD_DESCRIPTION,
  collect(context, sink) {
    const nodes = parseClusterNodes(String(context.reply(CLUSTER_NODES)));
    const myself = nodes.find((node) => node.myself);
    if (myself) sink.add(nodeInfo, 1, myself.id, myself.role, shardOf(myself, nodes) ?? '');
    for (const { shard, master, replicas, slotCount } of clusterShards(nodes)) {
      sink.add(shardSlots, slotCount, shard);
      const healthy = replicas.filter((replica) => replica.connected && !replica.failing);
      sink.add(shardReplicas, healthy.length, shard);
      sink.add(shardMasterFailing, master.failing ? 1 : 0, shard);
    }
  },
};
