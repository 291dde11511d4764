import { readFileSync } from 'node:fs';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { RECORDED } from '../../bundle/series.js';
import { WARMING_STATES } from '../../client/common/warming-status.js';
import {
  buildDashboards,
  renderDashboard,
  updateVersionLock,
  type VersionLock,
  VersionNotBumpedError,
} from '../../grafana/src/dashboards.js';
import { type LintContext, lintDashboard } from '../../grafana/src/lint.js';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import { shapeOf, subexpressionShapes } from '../../grafana/src/promql-shape.js';
import {
  committedAlertRules,
  committedRecordingRules,
  knownSeriesNames,
  readYaml,
  repoPath,
  thresholds,
} from './support/bundle.js';
import { committedDashboards, dashboardExpressions } from './support/dashboards.js';

const schema = JSON.parse(readFileSync(repoPath('grafana', 'dashboard.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const lock = (): VersionLock =>
  JSON.parse(readFileSync(repoPath('grafana', 'versions.lock.json'), 'utf8'));

// biome-ignore lint/suspicious/noExplicitAny: tests mutate arbitrary JSON paths of a dashboard
type Mutable = any;
// Through JSON: the SDK's built objects carry functions that structuredClone refuses.
const copy = (d: Dashboard): Mutable => JSON.parse(renderDashboard(d));
const lintContext = (): LintContext => ({
  jobs: thresholds().jobs,
  recordingRules: committedRecordingRules(),
});

describe('grafana dashboards (happy path)', () => {
  const t = thresholds();
  const generated = buildDashboards(t);
  const committed = committedDashboards();

  it('the committed JSON is exactly what the TypeScript generates (run npm run generate)', () => {
    expect(Object.keys(committed).sort()).toEqual(Object.keys(generated).sort());
    for (const [file, dashboard] of Object.entries(generated)) {
      expect(readFileSync(repoPath('grafana', 'dashboards', file), 'utf8'), file).toBe(
        renderDashboard(dashboard),
      );
    }
  });

  it('every dashboard version is recorded in the version lock with its content', () => {
    const current = lock();
    expect(updateVersionLock(current, Object.values(generated))).toEqual(current);
  });

  it('matches the dashboard JSON Schema', () => {
    for (const [file, dashboard] of Object.entries(committed)) {
      expect(validate(dashboard), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('passes every lint rule', () => {
    for (const dashboard of Object.values(committed)) {
      expect(lintDashboard(dashboard, lintContext())).toEqual([]);
    }
  });

  it('has stable uids, 5 s refresh, the three variables and an alert list', () => {
    const byUid = new Map(Object.values(committed).map((d) => [d.uid, d]));
    for (const { uid } of Object.values(DASHBOARDS)) {
      const dashboard = byUid.get(uid);
      expect(dashboard, uid).toBeDefined();
      expect(dashboard?.refresh).toBe('5s');
      expect(dashboard?.editable).toBe(false);
      expect(dashboard?.templating?.list?.map((v) => v.name)).toEqual([
        'datasource',
        'environment',
        'instance',
      ]);
      expect(
        dashboard?.panels?.some((p) => p.type === 'alertlist'),
        uid,
      ).toBe(true);
    }
    const environment = byUid.get(DASHBOARDS.overview.uid)?.templating?.list?.[1];
    expect(environment?.query).toBe('dev,staging,prod');
  });

  it('the overview covers what the on-call needs', () => {
    const titles = (byUidTitle(committed, DASHBOARDS.overview.uid) ?? []).join('\n').toLowerCase();
    for (const topic of [
      'hit rate',
      'operations per second',
      'client-side latency p50 / p95 / p99',
      'server-side latency p50 / p95 / p99',
      'error rate',
      'connections',
      'memory',
      'replication lag',
      'sentinel',
      'failovers',
      'alerts',
      'hot keys',
      'near-cache hit ratio',
      'cache warming',
      'warming progress',
      'hit rate during warming',
      'redis cluster',
      'cluster state',
      'slot coverage',
      'operations per second by shard',
      'memory used by shard',
      'replicas per shard',
      'shard map',
    ]) {
      expect(titles).toContain(topic);
    }
  });

  it('panel thresholds come from thresholds.yaml, like the alerts', () => {
    const overview = Object.values(committed).find(
      (d) => d.uid === DASHBOARDS.overview.uid,
    ) as Mutable;
    const memory = overview.panels.find((p: Mutable) => p.title === 'Memory used / maxmemory');
    expect(memory.fieldConfig.defaults.thresholds.steps[1].value).toBe(
      t.alerts.RedisMemoryNearMax.ratio,
    );
  });

  it('no panel query contains the expression of a recording rule: panels read the recorded series', () => {
    const rules = committedRecordingRules();
    const single = rules.filter((r) => rules.filter((o) => o.record === r.record).length === 1);
    const definitions = new Map(single.map((r) => [r.record, r.expr]));
    for (const dashboard of Object.values(committed)) {
      for (const { panel, expr } of dashboardExpressions(dashboard)) {
        const shapes = subexpressionShapes(expr);
        for (const rule of rules) {
          expect(
            shapes.has(shapeOf(rule.expr, definitions)),
            `${dashboard.uid} "${panel}" recomputes ${rule.record}: ${expr}`,
          ).toBe(false);
        }
      }
    }
  });

  it('the overview hit-rate panel reads the series the RedisHitRateLow alert reads', () => {
    const alert = committedAlertRules().find((r) => r.alert === 'RedisHitRateLow');
    expect(alert?.expr).toContain(RECORDED.clusterHitRatio);
    const overview = Object.values(committed).find((d) => d.uid === DASHBOARDS.overview.uid);
    const panel = dashboardExpressions(overview as Dashboard).find(
      (e) => e.panel === 'Cache hit rate',
    );
    expect(findSelectors(panel?.expr ?? '').map((s) => s.metric)).toEqual([
      RECORDED.clusterHitRatio,
    ]);
  });

  it('the hot-keys row shows the top list as an instant table and draws the threshold the alerts compare with', () => {
    const overview = Object.values(committed).find(
      (d) => d.uid === DASHBOARDS.overview.uid,
    ) as Mutable;
    const table = overview.panels.find((p: Mutable) => p.title === 'Top 10 hot keys');
    expect(table.type).toBe('table');
    for (const target of table.targets) {
      expect(target).toMatchObject({ instant: true, format: 'table' });
      expect(target.expr).toContain(
        'topk(10, max by (cluster, key) (redscope_hotkey_rate_per_minute{',
      );
    }
    expect(table.targets.map((t: Mutable) => findSelectors(t.expr)[0]?.metric)).toEqual([
      'redscope_hotkey_rate_per_minute',
      'redscope_hotkey_redis_rate_per_minute',
      'redscope_hotkey_processes',
      'redscope_hotkey_over_threshold',
    ]);
    const organize = table.transformations.find((t: Mutable) => t.id === 'organize');
    expect(Object.values(organize.options.renameByName)).toEqual([
      'Cluster',
      'Key',
      'Accesses/min',
      'Reaching Redis/min',
      'Processes',
      'Over threshold',
    ]);
    const alertMetrics = committedAlertRules()
      .filter((r) => r.alert.startsWith('RedisHotKey'))
      .flatMap((r) => findSelectors(r.expr).map((s) => s.metric));
    for (const title of ['Hot key access rate', 'Hot key accesses reaching Redis']) {
      const metrics = dashboardExpressions(overview)
        .filter((e) => e.panel === title)
        .flatMap((e) => findSelectors(e.expr).map((s) => s.metric));
      expect(metrics, title).toContain('redscope_hotkey_threshold_per_minute');
      for (const metric of metrics) expect(alertMetrics, title).toContain(metric);
    }
  });

  it('the warming row names every state the exporter exports, colours a failed run red and reads what the warming alerts read', () => {
    const overview = Object.values(committed).find(
      (d) => d.uid === DASHBOARDS.overview.uid,
    ) as Mutable;
    const byTitle = (title: string) => overview.panels.find((p: Mutable) => p.title === title);
    const timeline = byTitle('Warming runs over time');
    expect(timeline.type).toBe('state-timeline');
    const [mapping] = timeline.fieldConfig.defaults.mappings;
    const texts = Object.values(mapping.options) as { text: string; color: string }[];
    expect(texts.map((m) => m.text.toLowerCase()).sort()).toEqual([...WARMING_STATES].sort());
    expect(texts.find((m) => m.text === 'Failed')?.color).toBe('red');
    // Each state's code is what the mapping names it.
    const [code] = timeline.targets.map((t: Mutable) => t.expr as string);
    for (const [value, m] of Object.entries(mapping.options) as [string, { text: string }][]) {
      expect(code).toContain(`state="${m.text.toLowerCase()}"} * ${value}`);
    }

    const table = byTitle('Warming runs');
    expect(table.type).toBe('table');
    for (const target of table.targets) {
      expect(target).toMatchObject({ instant: true, format: 'table' });
      // One row per run: every column keeps exactly its labels.
      expect(target.expr).toMatch(/^max by \(cluster, instance_id, namespace\) \(/);
    }
    expect(table.targets[0].expr).toBe(code);
    const organize = table.transformations.find((t: Mutable) => t.id === 'organize');
    expect(Object.values(organize.options.renameByName)).toEqual([
      'Cluster',
      'App instance',
      'Namespace',
      'State',
      'Progress',
      'Warmed',
      'Planned',
      'Errors',
      'Duration',
      'Record age',
    ]);
    const state = table.fieldConfig.overrides.find((o: Mutable) => o.matcher.options === 'State');
    expect(state.properties.find((p: Mutable) => p.id === 'mappings').value).toEqual(
      timeline.fieldConfig.defaults.mappings,
    );

    const metricsOf = (title: string) =>
      dashboardExpressions(overview)
        .filter((e) => e.panel === title)
        .flatMap((e) => findSelectors(e.expr).map((s) => s.metric));
    const alertMetrics = committedAlertRules()
      .filter((r) => r.alert.startsWith('RedisCacheWarming'))
      .flatMap((r) => findSelectors(r.expr).map((s) => s.metric));
    for (const title of ['Warming runs over time', 'Warming progress']) {
      for (const metric of metricsOf(title)) expect(alertMetrics, title).toContain(metric);
    }
    // The session cache's own ratio, and the keyspace ratio RedisHitRateLow reads.
    expect(metricsOf('Hit rate during warming')).toEqual([
      'redscope_session_cache_hits_total',
      'redscope_session_cache_hits_total',
      'redscope_session_cache_misses_total',
      RECORDED.clusterHitRatio,
    ]);
    expect(metricsOf('Warming throughput and rate limit')).toEqual([
      'redscope_client_warming_keys_total',
      'redscope_client_warming_rate_limit',
      'redscope_client_warming_running',
    ]);
  });

  it('queries select only metrics of the naming contract or of redis_exporter 1.45', () => {
    const known = knownSeriesNames();
    for (const dashboard of Object.values(committed)) {
      for (const { panel, expr } of dashboardExpressions(dashboard)) {
        for (const s of findSelectors(expr)) {
          expect(known.has(s.metric), `${dashboard.uid} "${panel}": ${s.metric}`).toBe(true);
        }
      }
    }
  });

  it('provisioning loads the dashboards read-only from one folder and the Prometheus datasource', () => {
    const provider = readYaml<{
      providers: { type: string; allowUiUpdates: boolean; options: { path: string } }[];
    }>('grafana', 'provisioning', 'dashboards', 'redscope.yaml').providers[0];
    expect(provider).toMatchObject({ type: 'file', allowUiUpdates: false });
    const datasources = readYaml<{
      datasources: { type: string; url: string; jsonData?: { timeInterval?: string } }[];
    }>('grafana', 'provisioning', 'datasources', 'redscope.yaml').datasources;
    const prometheus = datasources.find((d) => d.type === 'prometheus');
    expect(prometheus?.jsonData?.timeInterval).toBe('5s');
  });
});

function byUidTitle(dashboards: Record<string, Dashboard>, uid: string): string[] | undefined {
  return Object.values(dashboards)
    .find((d) => d.uid === uid)
    ?.panels?.map((p) => p.title ?? '');
}

describe('grafana dashboards (unhappy path)', () => {
  const t = thresholds();
  const overview = buildDashboards(t)[`${DASHBOARDS.overview.uid}.json`] as Dashboard;
  const rules = (d: Mutable) => lintDashboard(d, lintContext()).map((p) => p.rule);
  const panel = (d: Mutable, title: string) => d.panels.find((p: Mutable) => p.title === title);

  it('a changed dashboard without a version bump is refused', () => {
    const changed = copy(overview);
    changed.panels[1].title = 'Renamed';
    expect(() => updateVersionLock(lock(), [changed])).toThrow(VersionNotBumpedError);
    changed.version += 1;
    expect(updateVersionLock(lock(), [changed])[DASHBOARDS.overview.uid]).toHaveProperty(
      String(changed.version),
    );
  });

  it('the schema rejects an editable dashboard, a slow refresh and a panel wider than the grid', () => {
    const bad = copy(overview);
    bad.editable = true;
    bad.refresh = '1m';
    bad.panels[1].gridPos.w = 30;
    expect(validate(bad)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    expect(paths).toEqual(expect.arrayContaining(['/editable', '/refresh', '/panels/1/gridPos/w']));
  });

  it('lint catches a hard-coded datasource, a missing unit, title or description, and a duplicate id', () => {
    const bad = copy(overview);
    bad.panels[1].datasource = { type: 'prometheus', uid: 'prometheus' };
    delete bad.panels[2].fieldConfig.defaults.unit;
    bad.panels[3].description = '';
    bad.panels[4].title = '';
    bad.panels[5].id = bad.panels[6].id;
    expect(rules(bad)).toEqual(
      expect.arrayContaining([
        'panel-datasource-rule',
        'panel-units-rule',
        'panel-title-description-rule',
        'panel-id-rule',
      ]),
    );
  });

  it('lint catches a query without the environment or instance filter and a fixed rate window', () => {
    const bad = copy(overview);
    const target = bad.panels.find((p: Mutable) => p.title === 'Operations per second').targets[0];
    target.expr = 'sum by (instance) (rate(redis_commands_processed_total{job="redis"}[5m]))';
    const client = bad.panels.find((p: Mutable) => p.title === 'Client errors by type').targets[0];
    client.expr =
      'sum(rate(redscope_client_command_errors_total{environment=~"$environment"}[$__rate_interval]))';
    expect(rules(bad)).toEqual(
      expect.arrayContaining([
        'target-environment-rule',
        'target-instance-rule',
        'target-rate-interval-rule',
        'target-job-rule',
      ]),
    );
  });

  it('lint catches a panel that recomputes a recording rule, whatever its selectors, window and grouping', () => {
    const bad = copy(overview);
    // What the hit-rate panel used to query while the alert read the recorded series.
    panel(bad, 'Cache hit rate').targets[0].expr =
      'sum(rate(redis_keyspace_hits_total{job="redis", environment=~"$environment", instance=~"$instance"}[$__rate_interval])) / (sum(rate(redis_keyspace_hits_total{job="redis", environment=~"$environment", instance=~"$instance"}[$__rate_interval])) + sum(rate(redis_keyspace_misses_total{job="redis", environment=~"$environment", instance=~"$instance"}[$__rate_interval])))';
    panel(bad, 'Connected clients / maxclients').targets[0].expr =
      'sum by (instance) (redis_connected_clients{job="redis", environment=~"$environment", instance=~"$instance"}) / sum by (instance) (redis_config_maxclients{job="redis", environment=~"$environment", instance=~"$instance"})';
    const problems = lintDashboard(bad, lintContext()).filter(
      (p) => p.rule === 'target-recording-rule',
    );
    expect(problems.map((p) => p.panel)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('"Cache hit rate"'),
        expect.stringContaining('"Connected clients / maxclients"'),
      ]),
    );
    expect(problems.map((p) => p.message).join('\n')).toContain(RECORDED.clusterHitRatio);
  });

  it('lint catches a recorded series filtered on a label aggregation dropped', () => {
    const bad = copy(overview);
    panel(bad, 'Cache hit rate').targets[0].expr =
      `${RECORDED.clusterHitRatio}{environment=~"$environment", instance=~"$instance"}`;
    panel(bad, 'Memory used / maxmemory').targets[0].expr =
      `${RECORDED.memoryRatio}{job="redis", environment=~"$environment", instance=~"$instance"}`;
    const problems = lintDashboard(bad, lintContext());
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          rule: 'target-instance-rule',
          panel: expect.stringContaining('"Cache hit rate"'),
        }),
        expect.objectContaining({
          rule: 'target-job-rule',
          panel: expect.stringContaining('"Memory used / maxmemory"'),
        }),
      ]),
    );
  });

  it('lint reports a query that is not PromQL', () => {
    const bad = copy(overview);
    panel(bad, 'Operations per second').targets[0].expr = 'sum(rate(redis_up[$__rate_interval])';
    expect(rules(bad)).toContain('target-promql-rule');
  });

  it('lint catches a dashboard without the datasource, environment or instance variable', () => {
    const bad = copy(overview);
    bad.templating.list = [];
    expect(rules(bad)).toEqual(
      expect.arrayContaining([
        'template-datasource-rule',
        'template-environment-rule',
        'template-instance-rule',
      ]),
    );
  });
});
