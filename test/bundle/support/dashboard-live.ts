import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  type EmptyWhenHealthy,
  emptyWhenHealthy,
  type Topology,
} from '../../../grafana/src/empty-when-healthy.js';
import { committedRecordingRules, thresholds } from './bundle.js';
import {
  committedDashboards,
  type DashboardQuery,
  dashboardQueries,
  type GrafanaVariables,
  substitute,
} from './dashboards.js';

/**
 * The committed dashboards and recording rules checked against a live Prometheus (the
 * one `redscope up` runs): every query must return data, but for the panels
 * grafana/src/empty-when-healthy.ts documents as empty on a healthy stack.
 */

/** What the dashboards' variables are set to for the check. */
export interface LiveVariables {
  /** Value of $environment (the `environment` target label of prometheus.yml). */
  readonly environment: string;
  readonly topology: Topology;
  /**
   * Data nodes a single-instance dashboard is checked with (default: every `job="redis"`
   * target Prometheus knows). A query has data when it has data for one of them: the
   * drill-down serves masters and replicas, and some panels are only for one role.
   */
  readonly instances?: readonly string[];
  /**
   * $__rate_interval. Grafana's depends on the time range and the panel's width (20 s,
   * 4 scrape intervals, on the default hour); the default is the recording rules' 1m.
   */
  readonly rateInterval: string;
  /** $__range: the time range the dashboards open with is 1 h; a young stack has less. */
  readonly range: string;
  /** A range query (a time-series panel) has data when some point of the last `window` has. */
  readonly window: string;
}

/** The local stack of `redscope up` (prometheus/prometheus.yml labels, Sentinel topology). */
export const LOCAL_STACK: LiveVariables = {
  environment: 'dev',
  topology: 'sentinel',
  rateInterval: '1m',
  range: '5m',
  window: '1m',
};

export interface QueryWithoutData {
  /** Dashboard uid. */
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  /** The query as sent to Prometheus, variables substituted. */
  readonly expr: string;
  /** Why it may be empty on a healthy stack (grafana/src/empty-when-healthy.ts); undefined: nothing explains it. */
  readonly expected?: string;
}

interface PromSeries {
  readonly metric: Record<string, string>;
}

const SCRAPE_SECONDS = 5;
const DEFAULT_TIMEOUT_MS = 10_000;

function seconds(duration: string): number {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
  const match = /^(\d+)([smhd])$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration} (expected e.g. 30s, 5m, 1h)`);
  return Number(match[1]) * (units[match[2] as string] ?? 1);
}

/** One query to Prometheus' HTTP API; throws with the URL and Prometheus' error on anything but success. */
async function promQuery(
  prometheusUrl: string,
  expr: string,
  range?: { readonly start: number; readonly end: number },
): Promise<PromSeries[]> {
  const path = range ? '/api/v1/query_range' : '/api/v1/query';
  const body = new URLSearchParams({ query: expr });
  if (range) {
    body.set('start', String(range.start));
    body.set('end', String(range.end));
    body.set('step', `${SCRAPE_SECONDS}s`);
  }
  const url = `${prometheusUrl}${path}`;
  const response = await fetch(url, {
    method: 'POST',
    body,
    signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status} to ${expr}: ${text}`);
  const parsed = JSON.parse(text) as { status: string; data?: { result: PromSeries[] } };
  if (parsed.status !== 'success' || !parsed.data) {
    throw new Error(`${url} answered ${text} to ${expr}`);
  }
  return parsed.data.result;
}

/** Data nodes of the environment: the `instance` of every `job="redis"` target. */
async function dataNodes(prometheusUrl: string, environment: string): Promise<string[]> {
  const { jobs } = thresholds();
  const series = await promQuery(
    prometheusUrl,
    `redis_up{job="${jobs.redis}", environment="${environment}"}`,
  );
  return [...new Set(series.map((s) => s.metric.instance ?? ''))].filter(Boolean).sort();
}

/** Runs `work` over `items`, `limit` at a time: the machine is shared, Prometheus too. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function expectedReason(
  list: readonly EmptyWhenHealthy[],
  topology: Topology,
  dashboard: string,
  query: DashboardQuery,
): string | undefined {
  return list.find(
    (e) =>
      e.dashboard === dashboard &&
      e.panels.includes(query.panel) &&
      (e.legends === undefined || e.legends.includes(query.legend)) &&
      (e.topology === 'any' || e.topology === topology),
  )?.reason;
}

/**
 * Every query of every committed dashboard that returns no data from `prometheusUrl`,
 * each marked with the reason grafana/src/empty-when-healthy.ts gives when it may be empty
 * on a healthy stack. An instant query (a table) must return a series now; a range query
 * some point within the last `window`. A dashboard with one instance at a time is checked
 * with each data node, and a query is empty when it is empty for all of them.
 */
export async function queriesWithoutData(
  prometheusUrl: string,
  variables: Partial<LiveVariables> = {},
  dashboards: Record<string, Dashboard> = committedDashboards(),
): Promise<QueryWithoutData[]> {
  const vars = { ...LOCAL_STACK, ...variables };
  const nodes = vars.instances ?? (await dataNodes(prometheusUrl, vars.environment));
  if (nodes.length === 0) {
    throw new Error(
      `${prometheusUrl} knows no data node (redis_up{environment="${vars.environment}"}): is the stack up and scraped?`,
    );
  }
  const end = Math.floor(Date.now() / 1000);
  const range = { start: end - seconds(vars.window), end };
  const jobs: { dashboard: string; query: DashboardQuery; exprs: string[] }[] = [];
  for (const dashboard of Object.values(dashboards)) {
    const instance = dashboard.templating?.list?.find((v) => v.name === 'instance');
    const instances = instance?.includeAll ? [instance.allValue ?? '.*'] : nodes.map(escapeRegex);
    for (const query of dashboardQueries(dashboard)) {
      const exprs = instances.map((i) =>
        substitute(query.expr, {
          environment: escapeRegex(vars.environment),
          instance: i,
          rateInterval: vars.rateInterval,
          range: vars.range,
        } satisfies GrafanaVariables),
      );
      jobs.push({ dashboard: dashboard.uid ?? '', query, exprs });
    }
  }
  const list = emptyWhenHealthy(thresholds());
  const empty = await mapLimited(jobs, 4, async ({ dashboard, query, exprs }) => {
    for (const expr of exprs) {
      const result = await promQuery(prometheusUrl, expr, query.instant ? undefined : range);
      if (result.length > 0) return undefined;
    }
    const expected = expectedReason(list, vars.topology, dashboard, query);
    return {
      dashboard,
      panel: query.panel,
      refId: query.refId,
      expr: exprs[0] ?? query.expr,
      ...(expected === undefined ? {} : { expected }),
    } satisfies QueryWithoutData;
  });
  return empty.filter((e): e is QueryWithoutData => e !== undefined);
}

export interface RecordingRuleWithoutData {
  readonly record: string;
  /** The rule's own labels (`quantile` of the quantile rules), part of the query. */
  readonly labels: Readonly<Record<string, string>>;
  readonly expr: string;
}

/**
 * Every recording rule of prometheus/rules whose series Prometheus does not have now in
 * `environment`: a rule that records nothing (a metric nobody exports, a label that does
 * not match) leaves the alerts and panels that read it blind.
 */
export async function recordingRulesWithoutData(
  prometheusUrl: string,
  environment = LOCAL_STACK.environment,
): Promise<RecordingRuleWithoutData[]> {
  const rules = committedRecordingRules();
  const empty = await mapLimited(rules, 4, async (rule) => {
    const labels = rule.labels ?? {};
    const matchers = [
      `environment="${environment}"`,
      ...Object.entries(labels).map(([k, v]) => `${k}="${v}"`),
    ];
    const series = await promQuery(prometheusUrl, `${rule.record}{${matchers.join(', ')}}`);
    return series.length > 0 ? undefined : { record: rule.record, labels, expr: rule.expr };
  });
  return empty.filter((e): e is RecordingRuleWithoutData => e !== undefined);
}

/** A value as Grafana puts a single variable value into a regex matcher: special characters escaped. */
function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/]/g, '\\\\$&');
}
