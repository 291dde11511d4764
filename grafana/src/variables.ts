import {
  CustomVariableBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE } from './panels.js';

/** The three variables every redscope dashboard has, so one dashboard serves every environment. */
export function datasourceVariable() {
  return new DatasourceVariableBuilder('datasource')
    .label('Data source')
    .type('prometheus')
    .description('The Prometheus that scrapes the redscope exporter.');
}

export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

export function environmentVariable() {
  return new CustomVariableBuilder('environment')
    .label('Environment')
    .description('The `environment` target label set in prometheus.yml.')
    .values(ENVIRONMENTS.join(','))
    .current({ text: 'dev', value: 'dev', selected: true });
}

/**
 * Redis and Sentinel addresses (the `instance` label of the redis and redis-sentinel jobs).
 * The overview takes several (All by default); the drill-down exactly one.
 */
export function instanceVariable(jobs: { redis: string; sentinel: string }, multi: boolean) {
  const query = `label_values(redis_up{job=~"${jobs.redis}|${jobs.sentinel}", environment=~"$environment"}, instance)`;
  const variable = new QueryVariableBuilder('instance')
    .label('Instance')
    .description('Redis or Sentinel address, from the `instance` label.')
    .datasource(DATASOURCE)
    .query({ query, refId: 'instance' })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi);
  if (multi) variable.allValue('.*');
  return variable;
}
