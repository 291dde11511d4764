import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCollectors } from '../../exporter/collectors/index.js';
import { SentinelEventTracker } from '../../exporter/collectors/sentinel-events.js';
import { METRICS_DOC_PATH, renderMetricsDoc } from '../../exporter/metrics-doc.js';

const collectors = createCollectors({ sentinelEvents: new SentinelEventTracker() });

describe('docs/metrics.md', () => {
  describe('happy', () => {
    it('lists every family the collectors declare', () => {
      const doc = renderMetricsDoc();
      for (const spec of collectors.flatMap((c) => c.families))
        expect(doc).toContain(`\`${spec.name}\``);
    });
  });

  describe('unhappy', () => {
    it('is not stale (regenerate with `npx tsx exporter/metrics-doc.ts`)', () => {
      expect(readFileSync(METRICS_DOC_PATH(), 'utf8')).toBe(renderMetricsDoc());
    });
  });
});
