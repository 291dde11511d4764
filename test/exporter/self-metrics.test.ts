import { describe, expect, it } from 'vitest';
import { MetricSink } from '../../exporter/exposition.js';
import { ExporterTelemetry } from '../../exporter/self-metrics.js';
import { parseExposition, sampleValue } from './support/parse-exposition.js';

const TARGET = 'redis://10.0.0.1:6379';

function rendered(telemetry: ExporterTelemetry) {
  const sink = new MetricSink();
  telemetry.render(sink, TARGET);
  telemetry.renderCompat(sink, TARGET, 0.002, 0, undefined);
  return parseExposition(sink.render());
}

describe('the exporter telemetry', () => {
  describe('happy', () => {
    it('renders scrape durations as a cumulative histogram and redis_exporter summary', () => {
      const telemetry = new ExporterTelemetry();
      for (const seconds of [0.0004, 0.001, 0.003, 0.2, 12]) {
        telemetry.record(TARGET, seconds, undefined);
      }
      const metrics = rendered(telemetry);
      const bucket = (le: string) =>
        sampleValue(metrics, 'redscope_exporter_scrape_duration_seconds_bucket', {
          target: TARGET,
          le,
        });
      expect(bucket('0.0005')).toBe(1);
      expect(bucket('0.001')).toBe(2); // a duration on a bound counts in that bucket
      expect(bucket('0.005')).toBe(3);
      expect(bucket('0.25')).toBe(4);
      expect(bucket('10')).toBe(4);
      expect(bucket('+Inf')).toBe(5);
      const labels = { target: TARGET };
      expect(sampleValue(metrics, 'redscope_exporter_scrape_duration_seconds_count', labels)).toBe(
        5,
      );
      expect(
        sampleValue(metrics, 'redscope_exporter_scrape_duration_seconds_sum', labels),
      ).toBeCloseTo(12.2044, 10);
      expect(sampleValue(metrics, 'redis_exporter_scrapes_total')).toBe(5);
      expect(sampleValue(metrics, 'redis_exporter_scrape_duration_seconds_count')).toBe(5);
    });
  });

  describe('unhappy', () => {
    it('counts failed collections per reason, every reason present from the first', () => {
      const telemetry = new ExporterTelemetry();
      telemetry.record(TARGET, 0.01, 'auth');
      telemetry.record(TARGET, 0.01, 'auth');
      telemetry.record(TARGET, 2, 'timeout');
      const metrics = rendered(telemetry);
      const errors = (reason: string) =>
        sampleValue(metrics, 'redscope_exporter_scrape_errors_total', { target: TARGET, reason });
      expect([errors('auth'), errors('timeout'), errors('tls'), errors('refused')]).toEqual([
        2, 1, 0, 0,
      ]);
    });
  });
});
