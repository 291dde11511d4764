import { describe, expect, it } from 'vitest';
import { HOTKEY_REPORT_INDEX } from '../../../client/common/hotkey-report.js';
import {
  clusterInfoCollector,
  clusterNodesCollector,
  readOnOwnSlot,
} from '../../../exporter/collectors/cluster.js';
import { createCollectors } from '../../../exporter/collectors/index.js';
import { SentinelEventTracker } from '../../../exporter/collectors/sentinel-events.js';
import type { CollectContext, RedisCommand } from '../../../exporter/collectors/types.js';
import { commandsOn, runsOn } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { HOTKEY_INDEX_READ } from '../../../exporter/hotkey-reports.js';
import { WARMING_INDEX_READ } from '../../../exporter/warming-statuses.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';

function context(replies: Record<string, unknown>): CollectContext {
  const reply = (command: RedisCommand) => {
    const value = replies[command.join(' ')];
    if (value instanceof Error) throw value;
    return value;
  };
  return { reply } as unknown as CollectContext;
}

const id = (c: string) => c.repeat(40);

const INDEX = HOTKEY_REPORT_INDEX;
const INDEX_READ = HOTKEY_INDEX_READ;
// CLUSTER KEYSLOT redscope:{hotkeys}-index is 9551: the first master serves it, the second not.
const owner = [
  `${id('a')} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 9551-16383`,
  `${id('b')} 10.0.0.2:6379@16379 master - 0 0 2 connected 0-9550`,
  '',
].join('\n');
const notOwner = owner
  .replace('myself,master', 'master')
  .replace(' master - 0 0 2', ' myself,master - 0 0 2');

/**
 * A cluster master's scrape context: CLUSTER NODES (`nodes`) and a hash-tagged
 * read (answered from the first pipeline, were it sent there) in its first
 * pipeline; each further round trip is recorded and answered from `later`.
 */
function clusterContext(nodes: string, later: unknown[]) {
  const trips: (readonly RedisCommand[])[] = [];
  const first: Record<string, unknown> = {
    'CLUSTER NODES': nodes,
    [INDEX_READ.join(' ')]: ['from the pipeline'],
  };
  const context = {
    mode: 'cluster',
    reply: (command: RedisCommand) => first[command.join(' ')],
    roundTrip: async (commands: readonly RedisCommand[]) => {
      trips.push(commands);
      const value = later.shift();
      return [
        value instanceof Error
          ? { status: 'rejected', reason: value }
          : { status: 'fulfilled', value },
      ];
    },
  } as unknown as CollectContext;
  return { context, trips };
}

/** A 3-shard view from a replica (b's): a's master suspected, c's replica disconnected. */
const NODES = [
  `${id('a')} 10.0.0.1:6379@16379 master,fail? - 0 0 1 connected 0-5460`,
  `${id('b')} 10.0.0.2:6379@16379 myself,slave ${id('a')} 0 0 1 connected`,
  `${id('c')} 10.0.0.3:6379@16379 master - 0 0 2 connected 5461-10922`,
  `${id('d')} 10.0.0.4:6379@16379 slave ${id('c')} 0 0 2 disconnected`,
  `${id('e')} 10.0.0.5:6379@16379 master - 0 0 3 connected 10923-16383 [10924->-${id('c')}]`,
  `${id('f')} 10.0.0.6:6379@16379 slave ${id('e')} 0 0 3 connected`,
  `${id('9')} 10.0.0.7:6379@16379 slave,fail ${id('e')} 0 0 3 disconnected`,
  `${id('8')} 10.0.0.8:6379@16379 master - 0 0 0 connected`,
  '',
].join('\n');

function collect(collector: typeof clusterInfoCollector, replies: Record<string, unknown>) {
  const sink = new MetricSink();
  collector.collect(context(replies), sink);
  return parseExposition(sink.render());
}

describe('the cluster collectors', () => {
  describe('happy', () => {
    it("name CLUSTER INFO fields as redis_exporter 1.45 does, message types' dashes as underscores", () => {
      const info = [
        'cluster_state:ok',
        'cluster_slots_assigned:16384',
        'cluster_slots_pfail:5461',
        'cluster_stats_messages_sent:90',
        'cluster_stats_messages_auth-req_sent:2',
        'cluster_stats_messages_publishshard_received:1',
        'total_cluster_links_buffer_limit_exceeded:0',
        'cluster_some_future_field:1',
        '',
      ].join('\r\n');
      const parsed = collect(clusterInfoCollector, { 'CLUSTER INFO': info });
      expect(sampleValue(parsed, 'redis_cluster_state')).toBe(1);
      expect(sampleValue(parsed, 'redis_cluster_slots_assigned')).toBe(16384);
      expect(sampleValue(parsed, 'redis_cluster_slots_pfail')).toBe(5461);
      expect(sampleValue(parsed, 'redis_cluster_messages_sent_total')).toBe(90);
      expect(parsed.get('redis_cluster_messages_sent_total')?.type).toBe('gauge');
      expect(sampleValue(parsed, 'redis_cluster_stats_messages_auth_req_sent')).toBe(2);
      expect(sampleValue(parsed, 'redis_cluster_stats_messages_publishshard_received')).toBe(1);
      // Fields redis_exporter 1.45 does not export stay out (no family is made up at scrape time).
      expect([...parsed.keys()].sort()).toEqual([
        'redis_cluster_messages_sent_total',
        'redis_cluster_slots_assigned',
        'redis_cluster_slots_pfail',
        'redis_cluster_state',
        'redis_cluster_stats_messages_auth_req_sent',
        'redis_cluster_stats_messages_publishshard_received',
      ]);
      const failing = collect(clusterInfoCollector, { 'CLUSTER INFO': 'cluster_state:fail\r\n' });
      expect(sampleValue(failing, 'redis_cluster_state')).toBe(0);
    });

    it('report the node, and each shard by its lowest slot, as the scraped node sees them', () => {
      const parsed = collect(clusterNodesCollector, { 'CLUSTER NODES': NODES });
      expect(parsed.get('redscope_cluster_node_info')?.samples).toEqual([
        {
          name: 'redscope_cluster_node_info',
          labels: { node_id: id('b'), role: 'replica', shard: '0' },
          value: 1,
        },
      ]);
      const by = (name: string, shard: string) => sampleValue(parsed, name, { shard });
      expect(by('redscope_cluster_shard_slots', '0')).toBe(5461);
      expect(by('redscope_cluster_shard_slots', '5461')).toBe(5462);
      // The slot being migrated out is still served: only the ownership ranges count.
      expect(by('redscope_cluster_shard_slots', '10923')).toBe(5461);
      expect(parsed.get('redscope_cluster_shard_slots')?.samples).toHaveLength(3);
      // b itself counts for shard 0; d is disconnected; 9 is flagged fail.
      expect(by('redscope_cluster_shard_replicas', '0')).toBe(1);
      expect(by('redscope_cluster_shard_replicas', '5461')).toBe(0);
      expect(by('redscope_cluster_shard_replicas', '10923')).toBe(1);
      expect(by('redscope_cluster_shard_master_failing', '0')).toBe(1);
      expect(by('redscope_cluster_shard_master_failing', '5461')).toBe(0);
    });

    it('give a master without slots an empty shard', () => {
      const nodes = `${id('8')} 10.0.0.8:6379@16379 myself,master - 0 0 0 connected\n`;
      const parsed = collect(clusterNodesCollector, { 'CLUSTER NODES': nodes });
      expect(sampleValue(parsed, 'redscope_cluster_node_info', { role: 'master', shard: '' })).toBe(
        1,
      );
      expect(parsed.has('redscope_cluster_shard_slots')).toBe(false);
    });

    it('run on cluster nodes only, where every redis collector runs too', () => {
      expect(runsOn(clusterInfoCollector, 'cluster')).toBe(true);
      expect(runsOn(clusterInfoCollector, 'redis')).toBe(false);
      expect(runsOn(clusterNodesCollector, 'sentinel')).toBe(false);
      expect(runsOn({ ...clusterInfoCollector, modes: ['redis'] }, 'cluster')).toBe(true);
      expect(runsOn({ ...clusterInfoCollector, modes: ['sentinel'] }, 'cluster')).toBe(false);
    });

    it('rides in the first pipeline of a standalone master, with no round trip of its own', async () => {
      const { context, trips } = clusterContext(owner, []);
      const standalone = { ...context, mode: 'redis' as const };
      expect(await readOnOwnSlot(standalone, INDEX_READ, INDEX)).toEqual(['from the pipeline']);
      expect(trips).toEqual([]);
    });

    it('is sent on a cluster master only when CLUSTER NODES shows it serves the slot, so no other master answers MOVED', async () => {
      const served = clusterContext(owner, [['a', 'b']]);
      expect(await readOnOwnSlot(served.context, INDEX_READ, INDEX)).toEqual(['a', 'b']);
      expect(served.trips).toEqual([[INDEX_READ]]);
      const other = clusterContext(notOwner, [['never read']]);
      expect(await readOnOwnSlot(other.context, INDEX_READ, INDEX)).toBeUndefined();
      expect(other.trips).toEqual([]);
      // A slot the node is migrating away is still its own until the move completes.
      const migrating = clusterContext(owner.replace('9551-16383', '9551-16383 [9551->-x]'), [
        ['a'],
      ]);
      expect(await readOnOwnSlot(migrating.context, INDEX_READ, INDEX)).toEqual(['a']);
    });

    it('is left out of the first pipeline of a cluster node by the hot-key and warming collectors', () => {
      const collectors = createCollectors({
        sentinelEvents: new SentinelEventTracker(),
        hotKeys: { top: 10 },
      });
      for (const [name, read] of [
        ['hotkeys', HOTKEY_INDEX_READ],
        ['warming', WARMING_INDEX_READ],
      ] as const) {
        const collector = collectors.find((c) => c.name === name);
        if (!collector) throw new Error(`no collector ${name}`);
        expect(commandsOn(collector, 'redis'), name).toContainEqual(read);
        expect(commandsOn(collector, 'cluster'), name).not.toContainEqual(read);
        expect(commandsOn(collector, 'cluster'), name).toContainEqual(['CLUSTER', 'NODES']);
      }
    });
  });

  describe('unhappy', () => {
    it('fail, naming the line, on a CLUSTER NODES reply that is not a node table', () => {
      expect(() =>
        collect(clusterNodesCollector, { 'CLUSTER NODES': `${NODES}garbage line\n` }),
      ).toThrow(/CLUSTER NODES line 9: expected at least 8 fields/);
    });

    it('fail with the error Redis gave (NOPERM), leaving the other collector unaffected', () => {
      const noperm = new Error(
        "NOPERM this user has no permissions to run the 'cluster|nodes' command",
      );
      expect(() => collect(clusterNodesCollector, { 'CLUSTER NODES': noperm })).toThrow(/NOPERM/);
      const parsed = collect(clusterInfoCollector, {
        'CLUSTER INFO': 'cluster_state:ok\r\n',
        'CLUSTER NODES': noperm,
      });
      expect(sampleValue(parsed, 'redis_cluster_state')).toBe(1);
    });

    it('treat MOVED and ASK of a slot that moved between the two round trips as "another master holds it", and rethrow anything else', async () => {
      for (const moved of ['MOVED 9551 10.0.0.3:6379', 'ASK 9551 10.0.0.3:6379']) {
        const { context, trips } = clusterContext(owner, [new Error(moved)]);
        expect(await readOnOwnSlot(context, INDEX_READ, INDEX)).toBeUndefined();
        expect(trips).toEqual([[INDEX_READ]]);
      }
      for (const refused of ['NOPERM no rights', 'CLUSTERDOWN The cluster is down']) {
        const { context } = clusterContext(owner, [new Error(refused)]);
        await expect(readOnOwnSlot(context, INDEX_READ, INDEX)).rejects.toThrow(refused);
      }
    });
  });
});
