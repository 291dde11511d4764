import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyRedactor } from '../../../client/common/key-redaction.js';
import {
  DATA_NODE_COMMANDS,
  DATA_NODE_KEY_PATTERNS,
  dataNodeAclRules,
  LFU_SAMPLER_SELECTOR,
} from '../../../exporter/acl.js';
import { createCollectors } from '../../../exporter/collectors/index.js';
import { SentinelEventTracker } from '../../../exporter/collectors/sentinel-events.js';
import type {
  CollectContext,
  Collector,
  RedisCommand,
} from '../../../exporter/collectors/types.js';
import { MetricSink } from '../../../exporter/exposition.js';
import { HOTKEY_INDEX_READ } from '../../../exporter/hotkey-reports.js';
import { parseInfo } from '../../../exporter/info-parser.js';
import { packageRoot } from '../../../exporter/package-root.js';
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

const catalog = (lfu: boolean) =>
  createCollectors({
    sentinelEvents: new SentinelEventTracker(),
    hotKeys: {
      top: 10,
      ...(lfu
        ? {
            lfu: {
              redactor: new KeyRedactor({ secret: 'unit-test-secret-123' }),
              sampleKeys: 100,
              scanCount: 10,
              top: 5,
              budgetMs: 100,
            },
          }
        : {}),
    },
  });

const named = (collectors: readonly Collector[], name: string) => {
  const found = collectors.find((c) => c.name === name);
  if (!found) throw new Error(`no collector ${name}`);
  return found;
};

describe('the hot-key collectors', () => {
  describe('happy', () => {
    it('registers the LFU sampler only when it is configured, after every other collector', () => {
      expect(catalog(false).map((c) => c.name)).not.toContain('hotkeys_lfu');
      const withLfu = catalog(true).map((c) => c.name);
      expect(withLfu.at(-1)).toBe('hotkeys_lfu');
      expect(withLfu).toContain('hotkeys');
    });

    it('exports nothing on a replica, without reading the index', async () => {
      const sink = new MetricSink();
      await named(catalog(false), 'hotkeys').collect(
        context({
          'INFO ALL': '# Replication\r\nrole:slave\r\n',
          [HOTKEY_INDEX_READ.join(' ')]: new Error('NOPERM not even asked'),
        }),
        sink,
      );
      expect(sink.familyCount).toBe(0);
    });

    it('reports zero reports and every skip reason at 0 on a master with an empty index', async () => {
      const sink = new MetricSink();
      await named(catalog(false), 'hotkeys').collect(
        context({
          'INFO ALL': '# Replication\r\nrole:master\r\n',
          [HOTKEY_INDEX_READ.join(' ')]: [],
        }),
        sink,
      );
      const parsed = parseExposition(sink.render());
      expect(sampleValue(parsed, 'redscope_hotkey_reports')).toBe(0);
      for (const reason of ['too-large', 'not-json', 'invalid', 'version']) {
        expect(sampleValue(parsed, 'redscope_hotkey_reports_invalid', { reason })).toBe(0);
      }
      expect(parsed.has('redscope_hotkey_rate_per_minute')).toBe(false);
    });

    it('says in HELP that the LFU families are the lower-fidelity source', () => {
      for (const spec of named(catalog(true), 'hotkeys_lfu').families) {
        if (spec.name !== 'redscope_hotkey_lfu_keys_sampled') {
          expect(spec.help).toMatch(/lower fidelity/);
        }
      }
    });

    it('grants in sentinel/users.acl.template exactly what exporter/acl.ts documents', () => {
      const template = readFileSync(join(packageRoot(), 'sentinel', 'users.acl.template'), 'utf8');
      const line = template.split('\n').find((l) => l.startsWith('user redscope-exporter '));
      const words = new Set(line?.split(' '));
      for (const command of DATA_NODE_COMMANDS) expect(words).toContain(`+${command}`);
      for (const pattern of DATA_NODE_KEY_PATTERNS) expect(words).toContain(pattern);
      // The sampler's selector widens key access: never in the default users.
      expect(template).not.toContain(LFU_SAMPLER_SELECTOR);
      expect(dataNodeAclRules('p')).not.toContain(LFU_SAMPLER_SELECTOR);
      expect(dataNodeAclRules('p', { lfu: true })).toContain(LFU_SAMPLER_SELECTOR);
    });
  });

  describe('unhappy', () => {
    it('fails (and only itself) when the index is not a list', async () => {
      await expect(
        named(catalog(false), 'hotkeys').collect(
          context({
            'INFO ALL': '# Replication\r\nrole:master\r\n',
            [HOTKEY_INDEX_READ.join(' ')]: 'garbage',
          }),
          new MetricSink(),
        ),
      ).rejects.toThrow(/did not answer with a list/);
    });

    it('says the LFU sampler is unavailable on a non-LFU policy without any round trip', async () => {
      const sink = new MetricSink();
      await named(catalog(true), 'hotkeys_lfu').collect(
        context({ 'INFO ALL': '# Memory\r\nmaxmemory_policy:allkeys-lru\r\n' }),
        sink,
      );
      const parsed = parseExposition(sink.render());
      expect(
        sampleValue(parsed, 'redscope_hotkey_lfu_available', { reason: 'not-lfu-policy' }),
      ).toBe(0);
      expect(parsed.has('redscope_hotkey_lfu_frequency')).toBe(false);
    });
  });
});
