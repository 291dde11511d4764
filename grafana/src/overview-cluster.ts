import { CLUSTER_SLOTS, RECORDED } from '../../bundle/series.js';
import type { Thresholds } from '../../bundle/thresholds.js';
import { singleStat, timeSeries, valueTable } from './panels.js';
import type { Selectors } from './selectors.js';

/** One shard of one cluster: named by the lowest hash slot its master serves. */
const BY_SHARD = 'cluster, shard';
const SHARD_LEGEND = '{{cluster}} shard {{shard}}';
/** One row of the shard map: a node, with the shard it serves and its role now. */
const BY_NODE = 'cluster, shard, role, instance, node_id';
/** How a node's series meet redscope_cluster_node_info: the scrape target's labels. */
const ON_TARGET = 'on (environment, cluster, instance)';

/**
 * The "Redis Cluster" row of the overview. Every node reports CLUSTER INFO and its own
 * view of every shard (redscope_cluster_*); panels aggregate the views as the cluster
 * alerts do, so a panel turns red when its alert's condition holds. Per-shard traffic
 * and memory join a node's series with redscope_cluster_node_info on the scrape target,
 * which names the node's shard and role now (it follows failovers). Empty on a
 * Sentinel deployment: its nodes export no cluster families.
 */
export function clusterPanels(t: Thresholds, s: Selectors) {
  const a = t.alerts;
  const failing = `redscope_cluster_shard_master_failing${s.redis()}`;
  const masterInfo = `redscope_cluster_node_info${s.redis('role="master"')}`;
  const perShard = (series: string) =>
    `sum by (${BY_SHARD}) (${series} * ${ON_TARGET} group_left (shard) ${masterInfo})`;
  const perNode = (series: string) =>
    `max by (${BY_NODE}) (${series} * ${ON_TARGET} group_left (shard, role, node_id) redscope_cluster_node_info${s.redis()})`;
  const slotsFailing = `max by (cluster) (redis_cluster_slots_fail${s.redis()})
+
(${CLUSTER_SLOTS} - min by (cluster) (redis_cluster_slots_assigned${s.redis()}))`;
  const mastersPerShard = (range: string) =>
    `count by (${BY_SHARD}) (
  max by (${BY_SHARD}, node_id) (max_over_time(redscope_cluster_node_info${s.redis('role="master", shard!=""')}[${range}]))
)`;

  return {
    state: singleStat({
      title: 'Cluster state',
      description: `cluster_state of each cluster, on its worst node: ok, or fail (that node answers CLUSTERDOWN to every command). Fail for ${a.RedisClusterStateNotOk.for}: RedisClusterStateNotOk.`,
      unit: 'none',
      redBelow: 1,
      texts: [
        { value: 1, text: 'ok', color: 'green' },
        { value: 0, text: 'fail', color: 'red' },
      ],
      queries: [
        { expr: `min by (cluster) (redis_cluster_state${s.redis()})`, legend: '{{cluster}}' },
      ],
    }),
    slotsFailing: singleStat({
      title: 'Slots without a working master',
      description: `Hash slots whose master the cluster voted FAIL plus slots no master serves (of ${CLUSTER_SLOTS}), per cluster: what RedisClusterSlotsFailing counts. Above 0 for ${a.RedisClusterSlotsFailing.for} it pages; those keys cannot be read or written, and with full coverage required no key can.`,
      unit: 'none',
      redAbove: 1,
      queries: [{ expr: slotsFailing, legend: '{{cluster}}' }],
    }),
    mastersDown: singleStat({
      title: 'Shard masters down',
      description: `Shards whose master more than half of the reporting nodes flag as failing (fail? or fail): what RedisClusterShardMasterDown compares. It clears when a replica takes over (seconds); still above 0 after ${a.RedisClusterShardMasterDown.for}, it pages.`,
      unit: 'none',
      redAbove: 1,
      queries: [
        {
          expr: `sum by (cluster) (
  sum by (${BY_SHARD}) (${failing})
  > bool
  (count by (${BY_SHARD}) (${failing}) / 2)
)`,
          legend: '{{cluster}}',
        },
      ],
    }),
    withoutReplica: singleStat({
      title: 'Shards without a replica',
      description: `Shards with no connected, healthy replica in some node's view: they cannot fail over. Above 0 for ${a.RedisClusterShardWithoutReplica.for}: RedisClusterShardWithoutReplica. Normal for a moment after a failover, until the old master rejoins as a replica.`,
      unit: 'none',
      redAbove: 1,
      queries: [
        {
          expr: `sum by (cluster) (min by (${BY_SHARD}) (redscope_cluster_shard_replicas${s.redis()}) < bool 1)`,
          legend: '{{cluster}}',
        },
      ],
    }),
    failovers: singleStat({
      title: 'Shards failed over in range',
      description:
        "Shards served by more than one master node in the selected time range: each was a failover (automatic or CLUSTER FAILOVER) and cost that shard a few seconds of writes. RedisClusterFailover reports each within minutes. A resharding that moves a shard's lowest slot counts too.",
      unit: 'none',
      redAbove: 1,
      queries: [
        {
          expr: `sum by (cluster) (${mastersPerShard('$__range')} > bool 1)`,
          legend: '{{cluster}}',
        },
      ],
    }),
    size: singleStat({
      title: 'Shards and nodes',
      description:
        'Masters that serve slots (cluster_size) and nodes every node knows (cluster_known_nodes), per cluster. Known nodes include failed ones until they are forgotten.',
      unit: 'none',
      queries: [
        { expr: `max by (cluster) (redis_cluster_size${s.redis()})`, legend: '{{cluster}} shards' },
        {
          expr: `max by (cluster) (redis_cluster_known_nodes${s.redis()})`,
          legend: '{{cluster}} nodes',
        },
      ],
    }),
    slots: timeSeries({
      title: 'Slot coverage',
      description: `Hash slots per state, per cluster, on the worst node's view: ok (all ${CLUSTER_SLOTS} when healthy), pfail (some node suspects their master; RedisClusterSlotsPFail after ${a.RedisClusterSlotsPFail.for}), fail (the cluster voted their master down) and unassigned (no master serves them). Fail or unassigned for ${a.RedisClusterSlotsFailing.for}: RedisClusterSlotsFailing.`,
      unit: 'none',
      min: 0,
      queries: [
        {
          expr: `min by (cluster) (redis_cluster_slots_ok${s.redis()})`,
          legend: '{{cluster}} ok',
        },
        {
          expr: `max by (cluster) (redis_cluster_slots_pfail${s.redis()})`,
          legend: '{{cluster}} pfail',
        },
        {
          expr: `max by (cluster) (redis_cluster_slots_fail${s.redis()})`,
          legend: '{{cluster}} fail',
        },
        {
          expr: `${CLUSTER_SLOTS} - min by (cluster) (redis_cluster_slots_assigned${s.redis()})`,
          legend: '{{cluster}} unassigned',
        },
      ],
    }),
    opsPerShard: timeSeries({
      title: 'Operations per second by shard',
      description:
        "Commands processed per second by each shard's master (INFO stats, the recorded per-instance rate), following the master role across failovers. One shard far above the others: a hot key or a hash tag that puts too many keys in one slot.",
      unit: 'ops',
      queries: [
        { expr: perShard(`${RECORDED.instanceOpsRate}${s.recorded()}`), legend: SHARD_LEGEND },
      ],
    }),
    memoryPerShard: timeSeries({
      title: 'Memory used by shard',
      description:
        "used_memory of each shard's master, bytes. Shards fill unevenly when keys or hash tags do: rebalance slots (redis-cli --cluster rebalance) before one master reaches maxmemory (RedisMemoryNearMax fires per node).",
      unit: 'bytes',
      queries: [{ expr: perShard(`redis_memory_used_bytes${s.redis()}`), legend: SHARD_LEGEND }],
    }),
    replicas: timeSeries({
      title: 'Replicas per shard',
      description: `Connected, healthy replicas of each shard in the view of the node that sees the fewest, the number RedisClusterShardWithoutReplica compares: below 1 for ${a.RedisClusterShardWithoutReplica.for}, it fires.`,
      unit: 'none',
      min: 0,
      redBelow: 1,
      queries: [
        {
          expr: `min by (${BY_SHARD}) (redscope_cluster_shard_replicas${s.redis()})`,
          legend: SHARD_LEGEND,
        },
      ],
    }),
    masterFailing: timeSeries({
      title: 'Nodes flagging a shard master as failing',
      description: `Per shard, how many nodes flag its master fail? or fail, against half of the nodes that report: above that line for ${a.RedisClusterShardMasterDown.for}, RedisClusterShardMasterDown pages. A short spike that drops to 0 is a failover that worked; one node alone is a partial partition (RedisClusterSlotsPFail).`,
      unit: 'none',
      min: 0,
      queries: [
        { expr: `sum by (${BY_SHARD}) (${failing})`, legend: `${SHARD_LEGEND} flagging` },
        {
          expr: `count by (${BY_SHARD}) (${failing}) / 2`,
          legend: `${SHARD_LEGEND} half of the reporting nodes`,
        },
      ],
    }),
    masters: timeSeries({
      title: 'Master nodes per shard',
      description:
        'Distinct master nodes that served each shard within the last rate interval: 1 normally, 2 while a failover is under way or just done (RedisClusterFailover compares the same count over its own window).',
      unit: 'none',
      min: 0,
      queries: [{ expr: mastersPerShard('$__rate_interval'), legend: SHARD_LEGEND }],
    }),
    shardMap: valueTable({
      title: 'Shard map',
      description:
        "Every node the exporter reaches now: the shard it serves (named by the lowest hash slot of its master), its role, address and node id, the slots of its shard, and its ops/s and memory. A node that is down is missing here (see Redis nodes up and RedisDown); `ccli CLUSTER NODES` (runbooks/README.md) shows the cluster's own table.",
      unit: 'none',
      width: 24,
      height: 9,
      labels: [
        { label: 'cluster', header: 'Cluster' },
        { label: 'shard', header: 'Shard' },
        { label: 'role', header: 'Role' },
        { label: 'instance', header: 'Instance' },
        { label: 'node_id', header: 'Node id' },
      ],
      columns: [
        {
          header: 'Shard slots',
          expr: `max by (${BY_NODE}) (
  max by (environment, cluster, shard) (redscope_cluster_shard_slots${s.redis()})
  * on (environment, cluster, shard) group_right
  redscope_cluster_node_info${s.redis()}
)`,
        },
        {
          header: 'Ops/s',
          expr: perNode(`${RECORDED.instanceOpsRate}${s.recorded()}`),
          unit: 'ops',
        },
        {
          header: 'Memory used',
          expr: perNode(`redis_memory_used_bytes${s.redis()}`),
          unit: 'bytes',
        },
      ],
      sortBy: 'Ops/s',
    }),
  };
}
