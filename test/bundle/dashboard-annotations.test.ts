import { readFileSync } from 'node:fs';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../bundle/dashboard-uids.js';
import { redscopeAnnotations } from '../../grafana/src/annotations.js';
import { renderDashboard } from '../../grafana/src/dashboards.js';
import { MissingDocSectionError, renderDashboardsDoc } from '../../grafana/src/dashboards-doc.js';
import { emptyWhenHealthy } from '../../grafana/src/empty-when-healthy.js';
import { DATASOURCE_VARIABLE, lintDashboard } from '../../grafana/src/lint.js';
import { findSelectors } from '../../grafana/src/promql-selectors.js';
import {
  committedRecordingRules,
  knownSeriesNames,
  readYaml,
  repoPath,
  thresholds,
} from './support/bundle.js';
import {
  committedDashboards,
  dashboardAnnotations,
  dashboardQueries,
} from './support/dashboards.js';

// biome-ignore lint/suspicious/noExplicitAny: tests mutate arbitrary JSON paths of a dashboard
type Mutable = any;

const byUid = (uid: string): Dashboard => {
  const dashboard = Object.values(committedDashboards()).find((d) => d.uid === uid);
  if (!dashboard) throw new Error(`no committed dashboard ${uid}`);
  return dashboard;
};
const lint = (d: unknown) =>
  lintDashboard(d, { jobs: thresholds().jobs, recordingRules: committedRecordingRules() });

/** Labels a legend format names: `{{master_name}}` -> master_name. */
const namedLabels = (format: string) =>
  [...format.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);

interface ScrapeJob {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
}

describe('dashboard annotations (happy path)', () => {
  const t = thresholds();

  it('both dashboards mark failovers, maintenance silences and warming runs on every panel', () => {
    for (const { uid } of Object.values(DASHBOARDS)) {
      const annotations = dashboardAnnotations(byUid(uid));
      expect(annotations.map((a) => a.name)).toEqual([
        'Failovers (Sentinel)',
        'Failovers (Redis Cluster)',
        'Maintenance silences',
        'Cache warming',
      ]);
      for (const a of annotations) {
        expect(a, `${uid} ${a.name}`).toMatchObject({
          enable: true,
          step: '5s',
          datasource: { type: 'prometheus', uid: DATASOURCE_VARIABLE },
        });
        // A panel filter would limit the annotation to some panels.
        expect((a as Mutable).filter, `${uid} ${a.name}`).toBeUndefined();
      }
    }
  });

  it('every label a title, text or tag names is one the query keeps', () => {
    for (const a of redscopeAnnotations(t)) {
      const kept = new Set(
        [...a.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) =>
          (m[1] ?? '').split(',').map((l) => l.trim()),
        ),
      );
      const named = [...namedLabels(a.titleFormat), ...namedLabels(a.textFormat), ...a.tagKeys];
      expect(named.length, a.name).toBeGreaterThan(0);
      for (const label of named) expect(kept, `${a.name}: ${label}`).toContain(label);
    }
  });

  it('the queries follow the environment variable and select known metrics only', () => {
    const known = new Set([...knownSeriesNames(), 'alertmanager_silences']);
    for (const a of redscopeAnnotations(t)) {
      for (const s of findSelectors(a.expr)) {
        expect(known.has(s.metric), `${a.name}: ${s.metric}`).toBe(true);
        expect(s.matchers, `${a.name}: ${s.metric}`).toContainEqual({
          name: 'environment',
          op: '=~',
          value: '$environment',
        });
      }
    }
  });

  it.each(['prometheus.yml', 'prometheus-cluster.yml'])(
    '%s scrapes Alertmanager as the maintenance annotation selects it, labelled like the apps',
    (file) => {
      const jobs = readYaml<{ scrape_configs: ScrapeJob[] }>('prometheus', file).scrape_configs;
      const am = jobs.find((j) => j.job_name === thresholds().jobs.alertmanager);
      const apps = jobs.find((j) => j.job_name === t.jobs.apps);
      expect(am?.static_configs?.[0]?.targets).toEqual(['alertmanager:9093']);
      expect(am?.static_configs?.[0]?.labels).toEqual(apps?.static_configs?.[0]?.labels);
      const maintenance = redscopeAnnotations(t).find((a) => a.name === 'Maintenance silences');
      expect(maintenance?.expr).toContain(`job="${thresholds().jobs.alertmanager}"`);
    },
  );

  it('docs/dashboards.md carries the current annotations and empty-panel list (run npm run generate)', () => {
    const doc = readFileSync(repoPath('docs', 'dashboards.md'), 'utf8');
    expect(renderDashboardsDoc(doc, t)).toBe(doc);
    for (const e of emptyWhenHealthy(t)) expect(doc).toContain(e.reason);
    for (const a of redscopeAnnotations(t)) expect(doc).toContain(a.description);
  });
});

describe('the list of panels empty on a healthy stack', () => {
  const t = thresholds();

  it('names only panels, and queries, that the dashboards have', () => {
    for (const e of emptyWhenHealthy(t)) {
      const queries = dashboardQueries(byUid(e.dashboard));
      for (const panel of e.panels) {
        const ofPanel = queries.filter((q) => q.panel === panel);
        expect(ofPanel.length, `${e.dashboard} "${panel}"`).toBeGreaterThan(0);
        for (const legend of e.legends ?? []) {
          expect(
            ofPanel.map((q) => q.legend),
            `${panel}`,
          ).toContain(legend);
        }
      }
    }
  });

  it('covers the whole Redis Cluster row on a Sentinel stack, and nothing outside it', () => {
    const overview = byUid(DASHBOARDS.overview.uid).panels as Mutable[];
    const rowAt = overview.findIndex((p) => p.type === 'row' && p.title === 'Redis Cluster');
    expect(rowAt).toBeGreaterThan(0);
    const rowPanels = overview.slice(rowAt + 1).map((p) => p.title as string);
    const onSentinel = emptyWhenHealthy(t).filter((e) => e.topology === 'sentinel');
    expect(onSentinel.flatMap((e) => e.panels).sort()).toEqual(rowPanels.sort());
  });

  it('gives every entry a reason', () => {
    for (const e of emptyWhenHealthy(t)) expect(e.reason.length, e.panels[0]).toBeGreaterThan(20);
  });
});

describe('dashboard annotations (unhappy path)', () => {
  const overview = byUid(DASHBOARDS.overview.uid);
  const copy = (): Mutable => JSON.parse(renderDashboard(overview));

  it('lint catches an annotation with a fixed datasource, one without the environment filter and one that is not PromQL', () => {
    const bad = copy();
    const [sentinel, cluster, silences] = bad.annotations.list;
    sentinel.datasource = { type: 'prometheus', uid: 'prometheus' };
    silences.expr = 'alertmanager_silences{job="alertmanager", state="active"} > 0';
    cluster.expr = 'max by (shard) (redscope_cluster_node_info{role="master"}';
    const problems = lint(bad);
    expect(problems.map((p) => p.rule)).toEqual(
      expect.arrayContaining([
        'annotation-datasource-rule',
        'annotation-environment-rule',
        'annotation-promql-rule',
      ]),
    );
    expect(problems.find((p) => p.rule === 'annotation-environment-rule')?.message).toContain(
      'Maintenance silences',
    );
  });

  it('a doc without the markers of a generated section is refused, naming the section', () => {
    expect(() => renderDashboardsDoc('# Dashboards\n', thresholds())).toThrow(
      MissingDocSectionError,
    );
    expect(() => renderDashboardsDoc('# Dashboards\n', thresholds())).toThrow(/"annotations"/);
  });
});
