import { describe, expect, it } from 'vitest';
import { clientConfigFromEnv } from '../../client/env-config.js';
import { ConfigError } from '../../client/errors.js';

describe('client config, happy path', () => {
  it('uses the defaults for an empty environment', () => {
    const config = clientConfigFromEnv({});
    expect(config.logLevel).toBe('info');
    expect(config.logFile).toBeUndefined();
    expect(config.slowCommandMs).toBe(100);
    expect(config.telemetry).toEqual({
      enabled: true,
      exporter: 'otlp',
      endpoint: undefined,
      sampleRatio: 1,
      serviceName: 'redscope-app',
    });
  });

  it('reads every setting from its variable', () => {
    const config = clientConfigFromEnv({
      REDSCOPE_LOG_LEVEL: 'DEBUG',
      REDSCOPE_LOG_FILE: '/var/log/app/app.log',
      REDSCOPE_LOG_FILE_SIZE: '50m',
      REDSCOPE_LOG_FILE_FREQUENCY: 'hourly',
      REDSCOPE_LOG_FILE_KEEP: '3',
      REDSCOPE_SLOW_COMMAND_MS: '25',
      REDSCOPE_TRACING: 'off',
      REDSCOPE_TRACING_SAMPLE_RATIO: '0.1',
      REDSCOPE_TRACES_EXPORTER: 'zipkin',
      REDSCOPE_TRACES_ENDPOINT: 'http://zipkin:9411/api/v2/spans',
      REDSCOPE_SERVICE_NAME: 'checkout',
    });
    expect(config).toEqual({
      logLevel: 'debug',
      logFile: { file: '/var/log/app/app.log', size: '50m', frequency: 'hourly', keep: 3 },
      slowCommandMs: 25,
      telemetry: {
        enabled: false,
        exporter: 'zipkin',
        endpoint: 'http://zipkin:9411/api/v2/spans',
        sampleRatio: 0.1,
        serviceName: 'checkout',
      },
    });
  });
});

describe('client config, unhappy path', () => {
  it.each([
    ['REDSCOPE_LOG_LEVEL', 'loud', /one of trace, debug/],
    ['REDSCOPE_TRACING_SAMPLE_RATIO', '1.5', /from 0 to 1/],
    ['REDSCOPE_TRACES_EXPORTER', 'jaeger', /one of otlp, zipkin, console/],
    ['REDSCOPE_TRACES_ENDPOINT', 'collector:4318', /http\(s\) URL/],
    ['REDSCOPE_LOG_FILE_SIZE', 'big', /like 500k/],
    ['REDSCOPE_TRACING', 'maybe', /one of on, off/],
  ])('names %s when its value %s is invalid', (name, value, problem) => {
    const attempt = () => clientConfigFromEnv({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`${name}: .*`));
    expect(attempt).toThrow(problem);
  });
});
