import { describe, expect, it } from 'vitest';
import {
  CLUSTER_NODE_COMMANDS,
  DATA_NODE_COMMANDS,
  SENTINEL_COMMANDS,
} from '../../exporter/acl.js';
import { createCollectors } from '../../exporter/collectors/index.js';
import { infoCollector } from '../../exporter/collectors/info.js';
import { commandLatency, latencyHistogramCollector } from '../../exporter/collectors/latency.js';
import { SentinelEventTracker } from '../../exporter/collectors/sentinel-events.js';
import type { CollectContext, RedisCommand } from '../../exporter/collectors/types.js';
import { MetricSink } from '../../exporter/exposition.js';
import { parseInfo } from '../../exporter/info-parser.js';
import { selfFamilies } from '../../exporter/self-metrics.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

function context(replies: Record<string, unknown>): CollectContext {
  const reply = (command: RedisCommand) => {
    const value = replies[command.join(' ')];
    if (value instanceof Error) throw value;
    return value;
  };
  return {
    reply,
    info: () => parseInfo(String(reply(['INFO', 'ALL']))),
    roundTrip: async () => [],
    roundTripOn: async () => {
      throw new Error('no round trip on another database expected');
    },
    connection: {},
    mode: 'redis',
    target: 'redis://127.0.0.1:6379',
    scope: 'redis://127.0.0.1:6379 test',
    deadline: Date.now() + 10_000,
    options: { clientNameCap: 2 },
    nowSeconds: 1000,
  };
}

const collectors = createCollectors({ sentinelEvents: new SentinelEventTracker() });

describe('the collectors', () => {
  describe('happy', () => {
    it('declare every family once, with a unique name, across all collectors and self-metrics', () => {
      const names = [...collectors.flatMap((c) => c.families), ...selfFamilies].map((f) => f.name);
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) expect(name).toMatch(/^(redis|redscope)_[a-z0-9_]+$/);
    });

    it('are built per exporter: each catalog reads the failover counts it was built with', async () => {
      const seen = new SentinelEventTracker();
      const unseen = new SentinelEventTracker();
      const detach = [seen.attach(), unseen.attach()];
      seen.handle('+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 6379', 0);
      const failovers = async (tracker: SentinelEventTracker) => {
        const events = createCollectors({ sentinelEvents: tracker }).find(
          (c) => c.name === 'sentinel_events',
        );
        const sink = new MetricSink();
        const info = '# Sentinel\r\nmaster0:name=redscope,status=ok,address=10.0.0.2:6379\r\n';
        await events?.collect(context({ 'INFO ALL': info }), sink);
        return sampleValue(parseExposition(sink.render()), 'redscope_sentinel_failovers_total', {
          master_name: 'redscope',
        });
      };
      expect(await failovers(seen)).toBe(1);
      expect(await failovers(unseen)).toBe(0);
      for (const off of detach) off();
    });

    it('send only commands the least-privilege ACL allows', () => {
      const dataAllowed = new Set<string>([...DATA_NODE_COMMANDS, ...SENTINEL_COMMANDS]);
      const clusterAllowed = new Set<string>([...dataAllowed, ...CLUSTER_NODE_COMMANDS]);
      for (const collector of collectors) {
        // Commands of cluster-only collectors are granted on cluster nodes only.
        const allowed = collector.modes.includes('cluster') ? clusterAllowed : dataAllowed;
        const onCluster = (collector.clusterCommands ?? []).map(
          (c) => [c, clusterAllowed] as const,
        );
        for (const [command, granted] of [
          ...collector.commands.map((c) => [c, allowed] as const),
          ...onCluster,
        ]) {
          const [name, sub] = command.map((w) => w.toLowerCase());
          expect(
            granted.has(String(name)) || granted.has(`${name}|${sub}`),
            command.join(' '),
          ).toBe(true);
        }
      }
    });

    it('turns LATENCY HISTOGRAM into conventional le buckets that never overstate', () => {
      const sink = new MetricSink();
      latencyHistogramCollector.collect(
        context({
          'LATENCY HISTOGRAM': ['get', ['calls', 10, 'histogram_usec', [8, 4, 16, 6, 1057, 10]]],
          'INFO ALL': '# Commandstats\r\ncmdstat_get:calls=10,usec=500,usec_per_call=50.00\r\n',
        }),
        sink,
      );
      const parsed = parseExposition(sink.render());
      const bucket = (le: string) =>
        sampleValue(parsed, `${commandLatency.name}_bucket`, { cmd: 'get', le });
      expect(bucket('0.00001')).toBe(4); // 8 µs edge counted, 16 µs not yet
      expect(bucket('0.00005')).toBe(6);
      expect(bucket('0.001')).toBe(6); // the 1057 µs edge is past 1 ms
      expect(bucket('0.005')).toBe(10);
      expect(bucket('+Inf')).toBe(10);
      expect(sampleValue(parsed, `${commandLatency.name}_sum`, { cmd: 'get' })).toBe(0.0005);
    });
  });

  describe('unhappy', () => {
    it('reads what it knows from a fork INFO with unknown fields and sections', () => {
      const sink = new MetricSink();
      const info = [
        '# Server',
        'valkey_version:8.0.1',
        'redis_version:7.2.4',
        'server_mode:standalone',
        'uptime_in_seconds:100',
        'some_new_field:banana',
        '# Weird Section',
        'x:y',
        '# Memory',
        'used_memory:1024',
        'used_memory_rss:not-a-number',
        'rdb_last_bgsave_status:err',
      ].join('\r\n');
      infoCollector.collect(context({ 'INFO ALL': info }), sink);
      const parsed = parseExposition(sink.render());
      expect(sampleValue(parsed, 'redis_memory_used_bytes')).toBe(1024);
      expect(parsed.has('redis_memory_used_rss_bytes')).toBe(false);
      expect(sampleValue(parsed, 'redis_rdb_last_bgsave_status')).toBe(0);
      expect(sampleValue(parsed, 'redis_start_time_seconds')).toBe(900);
      expect(sampleValue(parsed, 'redis_instance_info', { redis_mode: 'standalone' })).toBe(1);
    });

    it('throws the command error so the scrape marks just that collector failed', () => {
      const noperm = new Error(
        "NOPERM this user has no permissions to run the 'latency|histogram' command",
      );
      expect(() =>
        latencyHistogramCollector.collect(
          context({ 'LATENCY HISTOGRAM': noperm, 'INFO ALL': '' }),
          new MetricSink(),
        ),
      ).toThrow(/NOPERM/);
    });
  });
});
