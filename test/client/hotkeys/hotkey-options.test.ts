import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../client/errors.js';
import { resolveHotKeyOptions } from '../../../client/hotkeys/hotkey-options.js';

const secret = 'deployment-secret-0123';

describe('hot-key options', () => {
  it('fills the documented defaults', () => {
    const resolved = resolveHotKeyOptions({ redaction: { secret } }, {});
    expect(resolved).toMatchObject({
      thresholdPerMinute: 1000,
      trackedKeys: 128,
      windowMs: 60_000,
      memoryBytes: 65536,
      patterns: ['session:*'],
      report: { enabled: true, intervalMs: 5000, top: 20, service: 'app' },
      metricsTop: 10,
      nearCache: undefined,
    });
    expect(resolved.report.instance).toMatch(/^app@.+:\d+$/);
  });

  it('takes the secret and the service name from the environment', () => {
    const resolved = resolveHotKeyOptions(
      { nearCache: { enabled: true } },
      { REDSCOPE_HOTKEYS_SECRET: secret, OTEL_SERVICE_NAME: 'checkout' },
    );
    expect(resolved.secret).toBe(secret);
    expect(resolved.report.service).toBe('checkout');
    expect(resolved.nearCache).toEqual({ ttlMs: 2000, maxEntries: 1000, maxBytes: 4194304 });
  });
});

describe('hot-key options, bad input', () => {
  const cases: [string, Parameters<typeof resolveHotKeyOptions>[0], RegExp][] = [
    ['a threshold of 0', { thresholdPerMinute: 0 }, /hotKeys\.thresholdPerMinute: must be/],
    ['a negative threshold', { thresholdPerMinute: -5 }, /hotKeys\.thresholdPerMinute/],
    ['a threshold that is not a number', { thresholdPerMinute: Number.NaN }, /got NaN/],
    ['a fractional k', { trackedKeys: 2.5 }, /hotKeys\.trackedKeys: must be an integer/],
    ['a budget too small for k', { memoryBytes: 2048 }, /allow at least \d+ or track fewer/],
    ['a report every 100 ms', { report: { intervalMs: 100 } }, /hotKeys\.report\.intervalMs/],
    ['a report top over the cap', { report: { top: 500 } }, /hotKeys\.report\.top/],
    ['a near-cache TTL of 10 s', { nearCache: { enabled: true, ttlMs: 10_000 } }, /1000\.\.5000/],
    [
      'a pattern that does not compile',
      { redaction: { patterns: ['/(unclosed/'] } },
      /hotKeys\.redaction\.patterns: pattern 0/,
    ],
    ['a service name with spaces', { report: { service: 'my app' } }, /hotKeys\.report\.service/],
  ];
  for (const [what, options, message] of cases) {
    it(`refuses ${what}`, () => {
      const attempt = () =>
        resolveHotKeyOptions({ ...options, redaction: { secret, ...options.redaction } }, {});
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(message);
    });
  }

  it('refuses to start without a redaction secret, naming the option and the variable', () => {
    expect(() => resolveHotKeyOptions({}, {})).toThrow(
      /hotKeys\.redaction\.secret: is not set.*REDSCOPE_HOTKEYS_SECRET/,
    );
    expect(() => resolveHotKeyOptions({ redaction: { secret: 'short' } }, {})).toThrow(/too short/);
  });
});
