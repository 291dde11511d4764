import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type WarmingStatus,
  warmingStatusKey,
  warmingUsageKey,
} from '../../../client/common/warming-status.js';
import { DATA_NODE_KEY_PATTERNS } from '../../../exporter/acl.js';
import { createCollectors } from '../../../exporter/collectors/index.js';
import { SentinelEventTracker } from '../../../exporter/collectors/sentinel-events.js';
import type { CollectContext, RedisCommand } from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import { packageRoot } from '../../../exporter/package-root.js';
import { progressRatio, WARMING_INDEX_READ } from '../../../exporter/warming-statuses.js';
import { parseExposition, sampleValue } from '../support/parse-exposition.js';

/** Canned first-pipeline replies; any further round trip is refused (these tests need none). */
function context(replies: Record<string, unknown>): CollectContext {
  const reply = (command: RedisCommand) => {
    const value = replies[command.join(' ')];
    if (value instanceof Error) throw value;
    return value;
  };
  return {
    reply,
    info: () => parseInfo(String(reply(['INFO', 'ALL']))),
    roundTrip: async () => {
      throw new Error('no round trip expected');
    },
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

const warming = () => {
  const found = createCollectors({ sentinelEvents: new SentinelEventTracker() }).find(
    (c) => c.name === 'warming',
  );
  if (!found) throw new Error('no warming collector');
  return found;
};

const status = (fields: Partial<WarmingStatus>): WarmingStatus => ({
  v: 1,
  instance: 'demo@web-1:101',
  service: 'demo',
  namespace: 'demo:session:',
  state: 'running',
  source: 'usage',
  planned: 100,
  warmed: 0,
  skipped: 0,
  errors: 0,
  startedAt: 0,
  updatedAt: 0,
  ...fields,
});

/** An ACL key pattern (`%R~glob`, only `*` used) as a RegExp. */
const patternOf = (rule: string) =>
  new RegExp(
    `^${rule
      .replace(/^%R~/, '')
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')}$`,
  );

describe('the warming collector', () => {
  describe('happy', () => {
    it('exports nothing on a replica, without reading the index', async () => {
      const sink = new MetricSink();
      await warming().collect(
        context({
          'INFO ALL': '# Replication\r\nrole:slave\r\n',
          [WARMING_INDEX_READ.join(' ')]: new Error('NOPERM not even asked'),
        }),
        sink,
      );
      expect(sink.familyCount).toBe(0);
    });

    it('reports zero records and every skip reason at 0, and no per-run series, on a master with an empty index', async () => {
      const sink = new MetricSink();
      await warming().collect(
        context({
          'INFO ALL': '# Replication\r\nrole:master\r\n',
          [WARMING_INDEX_READ.join(' ')]: [],
        }),
        sink,
      );
      const parsed = parseExposition(sink.render());
      expect(sampleValue(parsed, 'redscope_warming_records')).toBe(0);
      for (const reason of ['too-large', 'not-json', 'invalid', 'version']) {
        expect(sampleValue(parsed, 'redscope_warming_records_invalid', { reason })).toBe(0);
      }
      expect(parsed.has('redscope_warming_state')).toBe(false);
    });

    it('counts a skipped key as dealt with in the progress ratio, and a finished run with nothing planned as complete', () => {
      expect(progressRatio(status({ planned: 200, warmed: 50, skipped: 50 }))).toBe(0.5);
      expect(progressRatio(status({ planned: 10, warmed: 12 }))).toBe(1);
      expect(progressRatio(status({ planned: 0 }))).toBe(0);
      expect(progressRatio(status({ planned: 0, state: 'done' }))).toBe(1);
    });

    it('lets the exporter user read the status records and their index, never the usage records', () => {
      const readable = (key: string) => DATA_NODE_KEY_PATTERNS.some((p) => patternOf(p).test(key));
      expect(readable(warmingStatusKey('demo@web-1:101', 'demo:session:'))).toBe(true);
      expect(readable(WARMING_INDEX_READ[1] ?? '')).toBe(true);
      // The usage record holds real key names (session ids): never the exporter's to read.
      expect(readable(warmingUsageKey('demo:session:'))).toBe(false);
      const template = readFileSync(join(packageRoot(), 'sentinel', 'users.acl.template'), 'utf8');
      const line = template.split('\n').find((l) => l.startsWith('user redscope-exporter '));
      expect(line?.split(' ')).toContain('%R~redscope:{warming}:status*');
    });
  });

  describe('unhappy', () => {
    it('fails (and only itself) when the index is not a list', async () => {
      await expect(
        warming().collect(
          context({
            'INFO ALL': '# Replication\r\nrole:master\r\n',
            [WARMING_INDEX_READ.join(' ')]: 'garbage',
          }),
          new MetricSink(),
        ),
      ).rejects.toThrow(/did not answer with a list/);
    });
  });
});
