import { describe, expect, it } from 'vitest';
import {
  createSentinelEventsCollector,
  SentinelEventTracker,
} from '../../../exporter/collectors/sentinel-events.js';
import type { CollectContext } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { parseInfo } from '../../../exporter/info-parser.js';

const OLD = '10.0.0.1 6379';
const NEW = '10.0.0.2 6379';

/** What three Sentinels publish for one kill -9 of the master, with arrival times in ms. */
function failover(tracker: SentinelEventTracker, start: number, from = OLD, to = NEW): void {
  tracker.handle('+sdown', `master redscope ${from}`, start);
  tracker.handle('+sdown', `master redscope ${from}`, start + 20);
  tracker.handle('+odown', `master redscope ${from} #quorum 2/2`, start + 30);
  tracker.handle('+try-failover', `master redscope ${from}`, start + 40);
  tracker.handle('+elected-leader', `master redscope ${from}`, start + 200);
  tracker.handle('+failover-state-select-slave', `master redscope ${from}`, start + 210);
  tracker.handle('+selected-slave', `slave ${to} @ redscope ${from}`, start + 220);
  tracker.handle('+switch-master', `redscope ${from} ${to}`, start + 1300);
  tracker.handle('+switch-master', `redscope ${from} ${to}`, start + 1310);
  tracker.handle('+odown', `master redscope ${from} #quorum 2/2`, start + 1320);
  tracker.handle('+switch-master', `redscope ${from} ${to}`, start + 1330);
  tracker.handle('+failover-end', `master redscope ${from}`, start + 2000);
}

function contextWith(masters: string[]): CollectContext {
  const lines = masters.map(
    (name, i) => `master${i}:name=${name},status=ok,address=10.0.0.2:6379,slaves=2,sentinels=3`,
  );
  const info = parseInfo(
    `# Sentinel\r\nsentinel_masters:${masters.length}\r\n${lines.join('\r\n')}\r\n`,
  );
  return { info: () => info } as unknown as CollectContext;
}

async function render(
  tracker: SentinelEventTracker,
  masters: string[],
  watched = true,
): Promise<string> {
  // What a SentinelEventWatch does when it starts; the events themselves are fed by hand.
  const detach = watched ? tracker.attach() : () => undefined;
  try {
    const sink = new MetricSink();
    await createSentinelEventsCollector(tracker).collect(contextWith(masters), sink);
    return sink.render();
  } finally {
    detach();
  }
}

describe('the Sentinel events tracker', () => {
  describe('happy', () => {
    it('counts a failover announced by three Sentinels once and times it from the first +sdown', () => {
      const tracker = new SentinelEventTracker();
      failover(tracker, 1_000);
      const state = tracker.get('redscope');
      expect(state?.failovers).toBe(1);
      expect(state?.lastDurationSeconds).toBeCloseTo(1.3, 5);
      expect(state?.master).toBe('10.0.0.2:6379');
      expect(state?.failoverInProgress).toBe(false);
    });

    it('counts failovers in a row and keeps the duration of the last one', () => {
      const tracker = new SentinelEventTracker();
      failover(tracker, 1_000, OLD, NEW);
      failover(tracker, 10_000, NEW, OLD);
      tracker.handle('+sdown', `master redscope ${OLD}`, 20_000);
      tracker.handle('+switch-master', `redscope ${OLD} ${NEW}`, 22_500);
      expect(tracker.get('redscope')?.failovers).toBe(3);
      expect(tracker.get('redscope')?.lastDurationSeconds).toBeCloseTo(2.5, 5);
    });

    it('counts a failover between IPv6 addresses', () => {
      const tracker = new SentinelEventTracker();
      tracker.handle('+sdown', 'master redscope 2001:db8::1 6379', 0);
      tracker.handle('+switch-master', 'redscope 2001:db8::1 6379 2001:db8::2 6379', 900);
      expect(tracker.get('redscope')).toMatchObject({ failovers: 1, master: '2001:db8::2:6379' });
      expect(tracker.get('redscope')?.lastDurationSeconds).toBeCloseTo(0.9, 5);
    });

    it('exports the count and the last duration for every master the Sentinel monitors', async () => {
      const tracker = new SentinelEventTracker();
      failover(tracker, 0);
      const text = await render(tracker, ['redscope', 'other']);
      expect(text).toContain('# TYPE redscope_sentinel_failovers_total counter');
      expect(text).toContain('redscope_sentinel_failovers_total{master_name="redscope"} 1');
      expect(text).toContain('redscope_sentinel_failovers_total{master_name="other"} 0');
      expect(text).toContain(
        'redscope_sentinel_last_failover_duration_seconds{master_name="redscope"} 1.3',
      );
      expect(text).not.toContain('master_name="other"} 1.3');
    });
  });

  describe('unhappy', () => {
    it('does not time a blip: +sdown then -sdown without a failover leaves no start behind', () => {
      const tracker = new SentinelEventTracker();
      tracker.handle('+sdown', `master redscope ${OLD}`, 0);
      tracker.handle('-sdown', `master redscope ${OLD}`, 500);
      tracker.handle('+sdown', `master redscope ${OLD}`, 60_000);
      tracker.handle('+switch-master', `redscope ${OLD} ${NEW}`, 61_000);
      expect(tracker.get('redscope')?.lastDurationSeconds).toBeCloseTo(1, 5);
    });

    it('ignores a late +odown about the previous master after the switch', () => {
      const tracker = new SentinelEventTracker();
      failover(tracker, 0);
      tracker.handle('+odown', `master redscope ${OLD} #quorum 2/2`, 3_000);
      tracker.handle('+sdown', `master redscope ${NEW}`, 50_000);
      tracker.handle('+switch-master', `redscope ${NEW} ${OLD}`, 52_000);
      expect(tracker.get('redscope')?.lastDurationSeconds).toBeCloseTo(2, 5);
    });

    it('exports nothing while no watch feeds the tracker', async () => {
      const tracker = new SentinelEventTracker();
      failover(tracker, 0);
      expect(await render(tracker, ['redscope'], false)).toBe('');
    });

    it('reports no duration before any failover and ignores malformed messages', async () => {
      const tracker = new SentinelEventTracker();
      tracker.handle('+switch-master', 'redscope', 0);
      tracker.handle('+switch-master', `redscope ${OLD} ${NEW} extra`, 0);
      tracker.handle('+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 port', 0);
      tracker.handle('+sdown', '', 0);
      tracker.handle('+sdown', 'slave 10.0.0.3 6379', 0);
      const text = await render(tracker, ['redscope']);
      expect(text).toContain('redscope_sentinel_failovers_total{master_name="redscope"} 0');
      expect(text).not.toContain('redscope_sentinel_last_failover_duration_seconds{');
    });
  });
});
