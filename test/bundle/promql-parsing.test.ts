import { describe, expect, it } from 'vitest';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import { shapeOf, subexpressionShapes } from '../../grafana/src/promql-shape.js';
import { PromqlSyntaxError } from '../../grafana/src/promql-tree.js';

describe('PromQL selectors and shapes (happy path)', () => {
  it('reads the metric, matchers, range and enclosing function of every selector, in order', () => {
    expect(
      findSelectors(
        'topk(10, sum by (cmd) (rate(redis_commands_total{job="redis", environment=~"$environment"}[5m]))) / on (instance) group_left up{instance!~"a|b"}',
      ),
    ).toEqual([
      {
        metric: 'redis_commands_total',
        matchers: [
          { name: 'job', op: '=', value: 'redis' },
          { name: 'environment', op: '=~', value: '$environment' },
        ],
        range: '5m',
        enclosingFunction: 'rate',
      },
      { metric: 'up', matchers: [{ name: 'instance', op: '!~', value: 'a|b' }] },
    ]);
  });

  it('reads Grafana variables where PromQL wants a duration, as written', () => {
    const [rate, changes] = findSelectors(
      'rate(redis_up[$__rate_interval]) + max(changes(redscope_sentinel_config_epoch{instance=~"$instance"}[$__range]))',
    );
    expect(rate).toMatchObject({ range: '$__rate_interval', enclosingFunction: 'rate' });
    expect(changes).toMatchObject({
      metric: 'redscope_sentinel_config_epoch',
      matchers: [{ name: 'instance', op: '=~', value: '$instance' }],
      range: '$__range',
      enclosingFunction: 'changes',
    });
  });

  it('reads quoted metric and label names, escapes and raw strings', () => {
    expect(findSelectors('{"redis.up", "service.name"="a\\"b", c=~`\\d+`}')).toEqual([
      {
        metric: 'redis.up',
        matchers: [
          { name: 'service.name', op: '=', value: 'a"b' },
          { name: 'c', op: '=~', value: '\\d+' },
        ],
      },
    ]);
  });

  it('does not take keywords, functions or label lists for selectors', () => {
    const metrics = findSelectors(
      'sum without (cmd) (x) and on (environment) count by (le) (y offset 5m) or vector(0) - time() > bool inf',
    ).map((s) => s.metric);
    expect(metrics).toEqual(['x', 'y']);
  });

  it('gives a rule and a dashboard query the same shape when only selectors, window, location grouping and a zero guard differ', () => {
    const rule =
      'sum by (environment, cluster, instance) (rate(redis_memory_used_bytes{job="redis"}[1m])) / (sum by (environment, cluster, instance) (rate(redis_memory_max_bytes{job="redis"}[1m])) > 0)';
    const panel =
      'sum by (instance) (rate(redis_memory_used_bytes{environment=~"$environment", instance=~"$instance"}[$__rate_interval])) / sum by (instance) (rate(redis_memory_max_bytes{environment=~"$environment", instance=~"$instance"}[$__rate_interval]))';
    expect(shapeOf(panel)).toBe(shapeOf(rule));
  });

  it('reads a recorded series in a rule as the expression that defines it', () => {
    const definitions = new Map([
      ['cluster:lookups:rate1m', 'sum(rate(hits[1m])) + sum(rate(misses[1m]))'],
    ]);
    expect(shapeOf('sum(rate(hits[1m])) / (cluster:lookups:rate1m > 0)', definitions)).toBe(
      shapeOf('sum(rate(hits[5m])) / (sum(rate(hits[5m])) + sum(rate(misses[5m])))'),
    );
  });

  it('collects the shape of every subexpression, so a query that wraps a rule still contains it', () => {
    const shapes = subexpressionShapes(
      'topk(10, sum by (cmd) (rate(redis_commands_total{instance=~"$instance"}[$__rate_interval])))',
    );
    expect(
      shapes.has(
        shapeOf(
          'sum by (environment, cluster, instance, cmd) (rate(redis_commands_total{job="redis"}[1m]))',
        ),
      ),
    ).toBe(true);
  });
});

describe('PromQL selectors and shapes (unhappy path)', () => {
  it('rejects text that is not PromQL, naming the offset', () => {
    expect(() => findSelectors('sum(rate(redis_up[1m])')).toThrow(PromqlSyntaxError);
    expect(() => findSelectors('redis_up redis_down')).toThrow(/offset 9 of: redis_up redis_down/);
  });

  it('keeps the grouping and matchers that change what a query computes', () => {
    const rule = 'max by (environment, cluster, instance) (redis_connected_slave_lag_seconds)';
    expect(
      shapeOf('max by (instance, slave_ip, slave_port) (redis_connected_slave_lag_seconds)'),
    ).not.toBe(shapeOf(rule));
    expect(shapeOf('count(redis_instance_info{role="master"})')).not.toBe(
      shapeOf('count(redis_instance_info{role="replica"})'),
    );
    expect(shapeOf('histogram_quantile(0.99, x)')).not.toBe(shapeOf('histogram_quantile(0.95, x)'));
  });

  it('drops a > 0 filter only where it guards a divisor', () => {
    expect(shapeOf('a / (b > 0)')).toBe(shapeOf('a / b'));
    expect(shapeOf('a / (b > 1)')).not.toBe(shapeOf('a / b'));
    expect(shapeOf('a / (b > bool 0)')).not.toBe(shapeOf('a / b'));
    expect(shapeOf('(a > 0) / b')).not.toBe(shapeOf('a / b'));
  });
});
