import { describe, expect, it } from 'vitest';
import { family, MetricSink } from '../../exporter/exposition.js';
import { parseExposition } from './support/parse-exposition.js';

const gauge = family({
  name: 'x_gauge',
  type: 'gauge',
  help: 'a gauge',
  labels: ['a'],
  source: 'test',
});
const histogram = family({
  name: 'x_seconds',
  type: 'histogram',
  help: 'h',
  labels: ['cmd'],
  source: 'test',
});

describe('the exposition writer', () => {
  describe('happy', () => {
    it('groups samples under one HELP and TYPE per family, in insertion order', () => {
      const sink = new MetricSink();
      sink.add(gauge, 1, 'one');
      sink.add(gauge, 2.5, 'two');
      expect(sink.render()).toBe(
        '# HELP x_gauge a gauge\n# TYPE x_gauge gauge\nx_gauge{a="one"} 1\nx_gauge{a="two"} 2.5\n',
      );
    });

    it('writes histograms with cumulative buckets, +Inf, sum and count', () => {
      const sink = new MetricSink();
      sink.histogram(
        histogram,
        ['get'],
        [
          [0.001, 3],
          [0.01, 5],
        ],
        0.02,
        6,
      );
      const parsed = parseExposition(sink.render());
      const samples = parsed.get('x_seconds')?.samples ?? [];
      expect(samples.map((s) => [s.name, s.labels.le, s.value])).toEqual([
        ['x_seconds_bucket', '0.001', 3],
        ['x_seconds_bucket', '0.01', 5],
        ['x_seconds_bucket', '+Inf', 6],
        ['x_seconds_sum', undefined, 0.02],
        ['x_seconds_count', undefined, 6],
      ]);
    });

    it('merges a collector sink into the response without repeating a family header', () => {
      const a = new MetricSink();
      const b = new MetricSink();
      a.add(gauge, 1, 'a');
      b.add(gauge, 2, 'b');
      a.merge(b);
      expect(a.render().match(/# TYPE/g)).toHaveLength(1);
    });
  });

  describe('unhappy', () => {
    it('escapes quotes, backslashes and newlines in label values', () => {
      const sink = new MetricSink();
      sink.add(gauge, 1, 'he said "hi"\\\n');
      const parsed = parseExposition(sink.render());
      expect(parsed.get('x_gauge')?.samples[0]?.labels.a).toBe('he said "hi"\\\n');
    });

    it('writes NaN and infinities the way Prometheus reads them', () => {
      const sink = new MetricSink();
      sink.add(gauge, Number.NaN, 'nan');
      sink.add(gauge, Number.POSITIVE_INFINITY, 'inf');
      expect(sink.render()).toContain('x_gauge{a="nan"} NaN\nx_gauge{a="inf"} +Inf');
    });
  });
});
